"""Test-time augmentation throughput: views/s of TTA against images/s of a plain forward pass of the same model.

TTA with k views costs k forward passes per image. `evaluate.predict(tta=k)` cuts the k views of a batch from the
stored uint8 images, resizes them to the model's resolution and sends all of them through the model in one forward
pass. If that is done well, a view costs what an image costs without TTA, and views/s with TTA is close to images/s
of the bare model. This measures, on the CPU, for B-6/Wi-{256,1024} at 32 px (CIFAR-10's shape, 10 classes):

  forward  - the model alone on a normalized float batch already in memory (img/s): the ceiling
  plain    - evaluate.predict(tta=0) on uint8 images: normalize + forward (img/s)
  tta k    - evaluate.predict(tta=k) on uint8 images (views/s): k views per image, one forward per batch, averaged
  tta k, eager views - the same with the views cut by eager ops (augment.TTA_COMPILE_MIN_VIEWS = None), as before
             the compiled path existed

and prints the ratio tta / forward (target >= 0.9), then where the TTA time goes: the same batches as predict's,
with the loader (normalize), the views (crop + resize) and the forward timed separately.

Measurements alternate within one process (forward, plain, tta k, ...), each over the same number of views, and
a cell is the median over repeats; ratios are taken within a repeat, which is what makes them stable on a machine
other processes share. Use 2 threads and nothing else running for the project's figures:

    flock /tmp/scaling_mlps_cpu.lock nice -n 10 python benchmarks/tta_throughput.py --threads 2
    python benchmarks/tta_throughput.py --widths 256 --views 10 100 --repeats 5 --batches 16
"""
from __future__ import annotations
import argparse, json, statistics, time

import torch

DEFAULT_MIN_VIEWS = 256  # augment.TTA_COMPILE_MIN_VIEWS as the library sets it (read in main)


def forward_rate(model, x: torch.Tensor, batches: int) -> float:
    "img/s of the model on the batch `x`, `batches` times."
    t = time.perf_counter()
    with torch.no_grad():
        for _ in range(batches): model(x)
    return batches * len(x) / (time.perf_counter() - t)


def eager_views(eager: bool) -> None:
    "Cut TTA views with eager ops (True) or, from augment's threshold on, with the compiled kernel (False)."
    from scaling_mlps import augment
    augment.TTA_COMPILE_MIN_VIEWS = None if eager else DEFAULT_MIN_VIEWS


def predict_rate(model, images: torch.Tensor, k: int, batch: int, eager: bool = False) -> float:
    "Views/s (img/s for k = 0) of evaluate.predict with k TTA views."
    from scaling_mlps.evaluate import predict
    eager_views(eager)
    t = time.perf_counter()
    predict(model, images, mean=(0.5,) * 3, std=(0.25,) * 3, batch_size=batch, device="cpu", tta=k)
    rate = len(images) * max(k, 1) / (time.perf_counter() - t)
    eager_views(False)
    return rate


def breakdown(model, images: torch.Tensor, k: int, batch: int, eager: bool = False) -> dict[str, float]:
    "Microseconds per view in each stage of predict's TTA path (the same calls, timed one by one)."
    import einops
    from scaling_mlps.augment import tta_views
    from scaling_mlps.loader import DeviceLoader
    loader = DeviceLoader(images, torch.zeros(len(images), dtype=torch.long), max(1, batch // k), train=False,
                          mean=(0.5,) * 3, std=(0.25,) * 3, device="cpu")
    g = torch.Generator().manual_seed(0)
    eager_views(eager)
    times = dict(normalize=0.0, views=0.0, forward=0.0, average=0.0)
    it = iter(loader)
    with torch.no_grad():
        while True:
            t0 = time.perf_counter()
            try: x, _ = next(it)
            except StopIteration: break
            t1 = time.perf_counter(); v = tta_views(x, k, 32, generator=g)
            t2 = time.perf_counter(); logits = model(v)
            t3 = time.perf_counter(); einops.reduce(logits, "(k b) n -> b n", "mean", k=k)
            t4 = time.perf_counter()
            for name, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)): times[name] += dt
    eager_views(False)
    views = len(images) * k
    return {name: 1e6 * s / views for name, s in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", type=int, nargs="+", default=[256, 1024])
    p.add_argument("--views", type=int, nargs="+", default=[10, 100], help="TTA views k")
    p.add_argument("--batch", type=int, default=1024, help="images (views) per forward pass, as predict's batch_size")
    p.add_argument("--batches", type=int, default=8, help="forward passes per measurement")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    global DEFAULT_MIN_VIEWS
    from scaling_mlps import augment
    from scaling_mlps.models import get_model
    DEFAULT_MIN_VIEWS = augment.TTA_COMPILE_MIN_VIEWS
    results = {}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, {args.batches} forward passes "
          f"per measurement, median of {args.repeats} repeats")
    for width in args.widths:
        torch.manual_seed(0)
        model = get_model(f"B_6-Wi_{width}", 32, 10).eval()
        g = torch.Generator().manual_seed(0)
        x = torch.randn(args.batch, 3, 32, 32, generator=g)
        n_views = args.batch * args.batches
        images = {k: torch.randint(0, 256, (max(1, n_views // max(k, 1)), 3, 32, 32), dtype=torch.uint8, generator=g)
                  for k in (0, *args.views)}
        forward_rate(model, x, 2); predict_rate(model, images[0][:args.batch], 0, args.batch)  # warm-up
        for k in args.views: predict_rate(model, images[k], k, args.batch)  # compiles the views' kernel for these shapes
        runs = []
        for _ in range(args.repeats):
            r = {"forward": forward_rate(model, x, args.batches), "plain": predict_rate(model, images[0], 0, args.batch)}
            for k in args.views:
                r[f"tta {k}"] = predict_rate(model, images[k], k, args.batch)
                r[f"tta {k}, eager views"] = predict_rate(model, images[k], k, args.batch, eager=True)
            runs.append(r)
        med = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
        ratios = {name: [r[name] / r["forward"] for r in runs] for name in runs[0] if name != "forward"}
        where = {f"{k}{', eager views' if eager else ''}": breakdown(model, images[k], k, args.batch, eager)
                 for k in args.views for eager in (False, True)}
        results[width] = dict(rates=med, ratio_to_forward={n: statistics.median(v) for n, v in ratios.items()},
                              ratio_range={n: (min(v), max(v)) for n, v in ratios.items()}, us_per_view=where)
        print(f"\nB_6-Wi_{width}, 32 px")
        print(f"  {'':22s} {'img or views/s':>15s} {'/ forward':>10s} {'(range)':>16s}")
        for name, rate in med.items():
            if name == "forward": print(f"  {name:22s} {rate:15,.0f} {'1.000':>10s}"); continue
            lo, hi = results[width]["ratio_range"][name]
            print(f"  {name:22s} {rate:15,.0f} {results[width]['ratio_to_forward'][name]:10.3f} {f'({lo:.3f}-{hi:.3f})':>16s}")
        for k, w in where.items():
            total = sum(w.values())
            print(f"  where TTA {k}'s time goes (µs per view): " +
                  ", ".join(f"{n} {v:.2f} ({100 * v / total:.0f}%)" for n, v in w.items()))
    if args.json: print(json.dumps(results))


if __name__ == "__main__":
    main()
