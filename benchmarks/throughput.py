"""Training throughput of a B-MLP on CIFAR-10 with different data feeds, each feed in its own process.

MLPs are so cheap per image that the data path decides how fast they train. This trains B-6/Wi-{256,1024}
(batch 1024, LION, label smoothing 0.3) for a fixed number of steps with these feeds:

  (a) synthetic  - one batch of random tensors already in memory: the model-only ceiling, measured
  (b) ours       - scaling_mlps.loader.DeviceLoader over the cached uint8 CIFAR-10, random resized crop + flip
  (c) torchvision- ImageFolder + DataLoader(num_workers=2), RandomResizedCrop + RandomHorizontalFlip per image
  (d) FFCV       - scaling_mlps.ffcv_loader.FFCVLoader over a raw-pixel .beton of the same cached CIFAR-10
                   (written once to the temp dir), RandomResizedCrop decoder + flip in --ffcv-workers numba threads;
                   skipped, with the reason printed, where ffcv does not import (it is optional:
                   apt-get install pkg-config libopencv-dev libturbojpeg0-dev; pip install "scaling_mlps[ffcv]")

and prints img/s and the ratio to (a). Feeds alternate (the order rotates every repeat); img/s of a run is
batch / its median step time, and a cell is the median over repeats. Separate processes of the *same* feed
differ by up to ~10% on our 2-core machine (memory layout, allocator state), which is more than the effect we
measure, so the ratio column is the median over repeats of (feed / (a)) within one repeat (the runs of a repeat
are back to back), with the smallest and largest of those ratios next to it. `--paired` adds the most precise
estimate of (b)'s cost: (a) and (b) alternating step by step in one process. The data directory must hold
CIFAR-10 as `cifar10/{train,test}/<class>/*.jpg` (or torchvision's download).

    python benchmarks/throughput.py --data-dir $SCALING_MLPS_DATA --paired   # both widths, 5 repeats
    python benchmarks/throughput.py --widths 256 --steps 30 --repeats 5
    python benchmarks/throughput.py --feeds synthetic ours ffcv --widths 256
"""
from __future__ import annotations
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

FEEDS = ("synthetic", "ours", "torchvision", "ffcv")
SCALE, RATIO = (0.08, 1.0), (3 / 4, 4 / 3)


def cifar10_beton(data_dir: Path) -> Path:
    "CIFAR-10 train at 32 px as a raw-pixel .beton in the temp dir, written once (from the same uint8 cache as (b))."
    from scaling_mlps.data import load_dataset
    from scaling_mlps.ffcv_loader import write_beton
    path = Path(tempfile.gettempdir()) / "scaling_mlps_bench" / "cifar10_train_32.beton"
    if not path.exists():
        part = write_beton(load_dataset("cifar10", "train", data_dir=data_dir, progress=False), path.with_suffix(".part"))
        os.replace(part, path)  # a run killed while writing leaves no half file behind under the final name
    return path


def feed_batches(feed: str, data_dir: Path, batch_size: int, seed: int = 0, ffcv_workers: int = 2):
    "An endless iterator of training batches (x float32 (B,3,32,32) normalized, y int64) for `feed`."
    import torch
    from scaling_mlps.data import CIFAR_MEAN, CIFAR_STD, load_dataset
    if feed == "synthetic":
        g = torch.Generator().manual_seed(seed)
        x, y = torch.randn(batch_size, 3, 32, 32, generator=g), torch.randint(0, 10, (batch_size,), generator=g)
        while True: yield x, y
    if feed == "ours":
        from scaling_mlps.loader import DeviceLoader
        ds = load_dataset("cifar10", "train", data_dir=data_dir, progress=False)
        loader = DeviceLoader(ds.images, ds.labels, batch_size, train=True, resolution=32, mean=ds.mean, std=ds.std,
                              augment=True, crop_scale=SCALE, crop_ratio=RATIO, flip=True, device="cpu", seed=seed)
        while True: yield from loader
    if feed == "torchvision":
        import torchvision.transforms as T
        from torch.utils.data import DataLoader
        from torchvision.datasets import ImageFolder
        tf = T.Compose([T.RandomResizedCrop(32, scale=SCALE, ratio=RATIO), T.RandomHorizontalFlip(), T.ToTensor(),
                        T.Normalize(CIFAR_MEAN, CIFAR_STD)])
        ds = ImageFolder(str(data_dir / "cifar10" / "train"), transform=tf)
        loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True, persistent_workers=True,
                            prefetch_factor=2, generator=torch.Generator().manual_seed(seed))
        while True: yield from loader
    if feed == "ffcv":
        from scaling_mlps.data import CIFAR_MEAN, CIFAR_STD
        from scaling_mlps.ffcv_loader import FFCVLoader
        loader = FFCVLoader(cifar10_beton(data_dir), batch_size, train=True, resolution=32, mean=CIFAR_MEAN, std=CIFAR_STD,
                            augment=True, crop_scale=SCALE, crop_ratio=RATIO, flip=True, device="cpu", seed=seed,
                            num_workers=ffcv_workers)
        while True: yield from loader
    raise ValueError(f"unknown feed {feed!r}; known: {', '.join(FEEDS)}")


def worker(args) -> dict:
    "One measurement in this process: `args.steps` timed training steps (after warm-up), then the feed alone."
    import torch, torch.nn.functional as F
    from scaling_mlps.models import get_model
    try: from scaling_mlps.lion import Lion
    except ImportError: Lion = None  # lion not there yet: AdamW has the same cost profile (elementwise update)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = get_model(f"B_6-Wi_{args.width}", 32, 10)
    opt = Lion(model.parameters(), lr=1e-4) if Lion else torch.optim.AdamW(model.parameters(), lr=1e-4)
    batches = feed_batches(args.worker, Path(args.data_dir), args.batch_size, ffcv_workers=args.ffcv_workers)

    def step():
        x, y = next(batches)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.3)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        return loss

    for _ in range(args.warmup): step()
    load0 = os.getloadavg()[0]
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter(); step().item(); times.append(time.perf_counter() - t0)
    feed_times = []
    for _ in range(args.steps):
        t0 = time.perf_counter(); next(batches); feed_times.append(time.perf_counter() - t0)
    batches.close()  # lets a feed stop its threads (FFCV's prefetching thread) before the interpreter exits
    B = args.batch_size
    # the median step is robust to the bursts of other work on a shared machine; the mean is what a run would see
    return {"feed": args.worker, "width": args.width, "img_per_s": B / statistics.median(times),
            "img_per_s_mean": B * len(times) / sum(times), "feed_alone_img_per_s": B / statistics.median(feed_times),
            "steps": args.steps, "load": load0, "optimizer": type(opt).__name__, "step_s": times}


def paired_worker(args) -> dict:
    "(a) and (b) in one process, step by step alternating, so that both see the same machine at the same time."
    import torch, torch.nn.functional as F
    from scaling_mlps.models import get_model
    from scaling_mlps.lion import Lion
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = get_model(f"B_6-Wi_{args.width}", 32, 10)
    opt = Lion(model.parameters(), lr=1e-4)
    feeds = {f: feed_batches(f, Path(args.data_dir), args.batch_size) for f in ("synthetic", "ours")}

    def step(feed):
        t0 = time.perf_counter()
        x, y = next(feeds[feed])
        loss = F.cross_entropy(model(x), y, label_smoothing=0.3)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); loss.item()
        return time.perf_counter() - t0

    for _ in range(args.warmup): step("synthetic"); step("ours")
    times = {"synthetic": [], "ours": []}
    for i in range(args.steps):
        for feed in (("synthetic", "ours") if i % 2 else ("ours", "synthetic")): times[feed].append(step(feed))
    return {"width": args.width, "load": os.getloadavg()[0], "steps": args.steps,
            **{f"{f}_img_per_s": args.batch_size / statistics.median(t) for f, t in times.items()}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=os.environ.get("SCALING_MLPS_DATA", "data"))
    p.add_argument("--widths", type=int, nargs="+", default=[256, 1024])
    p.add_argument("--steps", type=int, nargs="+", default=[40, 8], help="timed steps per width (one value: all widths)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--feeds", nargs="+", default=list(FEEDS), choices=FEEDS)
    p.add_argument("--ffcv-workers", type=int, default=2, help="FFCV's decoding threads for feed (d)")
    p.add_argument("--json", help="also write all runs to this file")
    p.add_argument("--paired", action="store_true", help="also run (a) and (b) alternating step by step in one process")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--width", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        args.steps = args.steps[0]
        print(json.dumps(paired_worker(args) if args.worker == "paired" else worker(args))); return

    feeds = list(args.feeds)
    if "ffcv" in feeds:
        from scaling_mlps.ffcv_loader import ffcv_available
        if not ffcv_available():
            print("skipping feed (d) ffcv: the ffcv package does not import here (optional: apt-get install pkg-config "
                  'libopencv-dev libturbojpeg0-dev; pip install "scaling_mlps[ffcv]")')
            feeds.remove("ffcv")
        else: cifar10_beton(Path(args.data_dir))  # write the .beton now, outside every timed worker
    if not feeds: return
    steps = dict(zip(args.widths, args.steps if len(args.steps) == len(args.widths) else args.steps[:1] * len(args.widths)))
    print(f"{os.cpu_count()} CPUs, {args.threads} torch threads, batch {args.batch_size}, load average {os.getloadavg()[0]:.1f}")
    runs = []
    for r in range(args.repeats):
        order = feeds[r % len(feeds):] + feeds[:r % len(feeds)]  # rotate so that no feed always runs first
        for width in args.widths:
            for feed in order:
                cmd = [sys.executable, __file__, "--worker", feed, "--width", str(width), "--steps", str(steps[width]),
                       "--warmup", str(args.warmup), "--batch-size", str(args.batch_size), "--threads", str(args.threads),
                       "--data-dir", str(args.data_dir), "--ffcv-workers", str(args.ffcv_workers)]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode:
                    sys.exit(f"feed {feed} width {width} failed:\n{out.stderr[-3000:]}")
                run = json.loads(out.stdout.strip().splitlines()[-1]); run["repeat"] = r
                runs.append(run)
                print(f"  repeat {r} width {width:5d} {feed:12s} {run['img_per_s']:8.0f} img/s (feed alone {run['feed_alone_img_per_s']:8.0f}, "
                      f"load {run['load']:.1f})", flush=True)
    paired = []
    for r in range(args.repeats if args.paired else 0):
        for width in args.widths:
            cmd = [sys.executable, __file__, "--worker", "paired", "--width", str(width), "--steps", str(steps[width]),
                   "--warmup", str(args.warmup), "--batch-size", str(args.batch_size), "--threads", str(args.threads),
                   "--data-dir", str(args.data_dir)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode: sys.exit(f"paired run, width {width} failed:\n{out.stderr[-3000:]}")
            run = json.loads(out.stdout.strip().splitlines()[-1]); run["repeat"] = r
            paired.append(run)
            print(f"  paired repeat {r} width {width:5d}: synthetic {run['synthetic_img_per_s']:8.0f}, ours {run['ours_img_per_s']:8.0f} img/s "
                  f"(ratio {run['ours_img_per_s'] / run['synthetic_img_per_s']:.3f}, load {run['load']:.1f})", flush=True)
    if args.json: Path(args.json).write_text(json.dumps({"runs": runs, "paired": paired}, indent=1))
    med = lambda feed, width, key="img_per_s": statistics.median(r[key] for r in runs if r["feed"] == feed and r["width"] == width)
    names = {"synthetic": "(a) synthetic, in memory", "ours": "(b) ours: DeviceLoader, crop + flip",
             "torchvision": "(c) torchvision ImageFolder + DataLoader(2 workers)",
             "ffcv": f"(d) FFCV: raw .beton, crop decoder + flip ({args.ffcv_workers} threads)"}
    print(f"\nB-6 MLP, batch {args.batch_size}, {runs[0]['optimizer']}, CIFAR-10 32 px, {args.threads} threads; "
          f"img/s from the median step of each run, median of {args.repeats} runs per cell; ratios: median over repeats of feed/(a) "
          f"within a repeat; load average now {os.getloadavg()[0]:.1f}\n")
    def ratios(feed, width):
        "feed / (a) within each repeat (the two runs were back to back)."
        one = lambda f, r: next(x["img_per_s"] for x in runs if x["feed"] == f and x["width"] == width and x["repeat"] == r)
        return [one(feed, r) / one("synthetic", r) for r in range(args.repeats)]
    print("| feed | width | img/s | ratio to (a) | lowest, highest ratio | feed alone, img/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for width in args.widths:
        for feed in feeds:
            rs = ratios(feed, width) if "synthetic" in feeds else None
            ratio, spread = (f"{statistics.median(rs):.3f}", f"{min(rs):.3f}, {max(rs):.3f}") if rs else ("-", "-")
            alone = "-" if feed == "synthetic" else f"{med(feed, width, 'feed_alone_img_per_s'):.0f}"
            print(f"| {names[feed]} | {width} | {med(feed, width):.0f} | {ratio} | {spread} | {alone} |")
    if paired:
        print("\n(a) and (b) alternating step by step in one process (median step of each, median over runs):\n")
        print("| width | (a) img/s | (b) img/s | ratio (b)/(a) | lowest, highest ratio |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        for width in args.widths:
            rows = [r for r in paired if r["width"] == width]
            a = statistics.median(r["synthetic_img_per_s"] for r in rows); b = statistics.median(r["ours_img_per_s"] for r in rows)
            rs = [r["ours_img_per_s"] / r["synthetic_img_per_s"] for r in rows]
            print(f"| {width} | {a:.0f} | {b:.0f} | {statistics.median(rs):.3f} | {min(rs):.3f}, {max(rs):.3f} |")


if __name__ == "__main__":
    main()
