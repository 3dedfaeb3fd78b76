"""How long the scaling grid of chapter 5 takes at a scale, estimated from short measurements.

The grid trains every (model, subset) for the longest T of the epoch ladder and then reads every snapshot
(upstream test error, the frozen body's features of the downstream train and test sets, and the linear probe).
This script measures, per model of the grid: training images/s (`bench.measure_throughput` with our loader,
crops, flips and MixUp, at the grid's batch size and resolution), and the time to read one snapshot of a
freshly initialized model of that size on the real data. The estimate is then

    training  = sum over runs of  n_train x T_max / (training img/s of its model)
    reading   = sum over snapshots of the read time of its model

On a machine shared with other jobs wall-clock time measures the other jobs as much as ours. `--clock cpu`
(the default) measures this process's CPU time with one thread instead, which other jobs barely change, and
turns it into 2-thread wall time by dividing by `--speedup` (how much faster 2 threads are than 1; the lead's
idle measurement of B_6-Wi_256 gives 2.19 for training, results/table1_laptop.json; small widths parallelize
worse, so the default 1.6 is deliberately low). On an idle machine `--clock wall --threads 2` measures directly.

    python benchmarks/scaling_grid_cost.py --scale laptop                  # CPU time, 1 thread, / 1.6
    python benchmarks/scaling_grid_cost.py --scale laptop --clock wall --threads 2
    python benchmarks/scaling_grid_cost.py --scale laptop --kind isoflop   # the IsoFLOP grid (issue 21): every run of its plan

For the IsoFLOP grid the training sum runs over the plan (`scales.isoflop_plan`: each run's N x T, seed replicates
included) and the reading over its runs x `read_epochs`.
"""
from __future__ import annotations
import argparse, time

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", default="laptop", choices=("ci", "laptop", "paper"))
    p.add_argument("--clock", default="cpu", choices=("cpu", "wall"))
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: 1 for --clock cpu, 2 for wall)")
    p.add_argument("--speedup", type=float, default=1.6, help="2-thread over 1-thread speed, for --clock cpu")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--kind", default="pxn", choices=("pxn", "isoflop"), help="the P x N grid (GRIDS) or the IsoFLOP grid (ISOFLOP_GRIDS)")
    args = p.parse_args()
    torch.set_num_threads(args.threads or (1 if args.clock == "cpu" else 2))
    import scaling_mlps.bench as T
    from scaling_mlps.models import get_model
    from scaling_mlps.evaluate import evaluate
    from scaling_mlps.scales import GRIDS, ISOFLOP_GRIDS, isoflop_plan
    from scaling_mlps.snapshots import probe_data
    from scaling_mlps.probe import body_features, linear_probe_lbfgs as linear_probe
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    T.time.perf_counter = clock  # measure_throughput's clock
    divide = args.speedup if args.clock == "cpu" else 1.0
    grid = (ISOFLOP_GRIDS if args.kind == "isoflop" else GRIDS)[args.scale]
    if args.kind == "isoflop":  # per model: the images its runs train on (N x T summed) and the snapshots read
        plan = isoflop_plan(args.scale)
        archs = list(dict.fromkeys(r["arch"] for r in plan))
        images = {a: sum(r["n_train"] * grid["epochs"] for r in plan if r["arch"] == a) for a in archs}
        snapshots = {a: len(grid["read_epochs"]) * sum(r["arch"] == a for r in plan) for a in archs}
    else:
        archs = list(grid["archs"])
        images = {a: sum(grid["n_train"]) * max(grid["epochs"]) for a in archs}
        snapshots = {a: len(grid["n_train"]) * len(grid["epochs"]) for a in archs}
    data = probe_data(grid, args.data_dir, progress=False)
    res, classes = grid["resolution"], len(data["up_test"].classes)
    total_train = total_read = 0.0
    print(f"scale {args.scale}, {args.kind} grid: {len(archs)} models, {sum(images.values()):,} training images, "
          f"{sum(snapshots.values())} snapshots; clock {args.clock}, "
          f"{torch.get_num_threads()} thread(s)" + (f", divided by speedup {args.speedup}" if divide != 1 else ""))
    print(f"{'model':>12} {'train img/s':>12} {'read s/snapshot':>16} {'training':>9} {'reading':>8}")
    for arch in archs:
        rate = T.measure_throughput(arch, res, grid["batch_size"], steps=args.steps, warmup=3, source="loader",
                                    num_classes=classes)["img_per_s"] * divide
        torch.manual_seed(0); model = get_model(arch, res, classes).eval()
        t0 = clock()
        up, dtr, dte = data["up_test"], data["down_train"], data["down_test"]
        evaluate(model, up.images, up.labels, mean=up.mean, std=up.std, resolution=res)
        feats = [body_features(model, d.images, mean=d.mean, std=d.std, resolution=res) for d in (dtr, dte)]
        linear_probe(feats[0], dtr.labels, feats[1], dte.labels)
        read = (clock() - t0) / divide
        train_s = images[arch] / rate
        read_s = read * snapshots[arch]
        total_train += train_s; total_read += read_s
        print(f"{arch:>12} {rate:>12,.0f} {read:>16.1f} {train_s / 60:>7.1f} m {read_s / 60:>6.1f} m", flush=True)
    print(f"estimate: training {total_train / 60:.1f} min + reading snapshots {total_read / 60:.1f} min = "
          f"{(total_train + total_read) / 60:.1f} min (2 threads)")


if __name__ == "__main__":
    main()
