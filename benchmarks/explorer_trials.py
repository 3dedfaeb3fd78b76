"""The explorer's "things to try" (nbs/15_explorer.ipynb), each run as the explorer runs it, with one change from its defaults.

Prints, per trial, the settings, the test accuracy after the last epoch (best epoch in brackets), the training
accuracy, the share of high spatial frequencies in the learned part of the first layer (W - W0, the 25 units the
explorer shows; `viz.high_frequency_fraction`), the parameters and the seconds the run took. About 4 minutes on a 2-core CPU with one thread.

    python benchmarks/explorer_trials.py --threads 1
    python benchmarks/explorer_trials.py --only default "width 256"
"""
from __future__ import annotations
import argparse, dataclasses, time

import torch


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--only", nargs="+", default=None, help="run only these trials")
    args = p.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)
    from scaling_mlps.explorer import RESOLUTION, ExplorerSettings, Run, run_training
    from scaling_mlps.viz import high_frequency_fraction

    base = ExplorerSettings()
    da = dict(crops=True, flips=True, mixup=True)
    trials = {"default": base,
              "width 256": dataclasses.replace(base, width=256),
              "1,000 images": dataclasses.replace(base, n_train=1000),
              "S-MLP": dataclasses.replace(base, kind="S"),
              "augmentation": dataclasses.replace(base, **da),
              "40 epochs": dataclasses.replace(base, epochs=40),
              "augmentation, 40 epochs": dataclasses.replace(base, epochs=40, **da)}
    print(f"{torch.get_num_threads()} threads")
    print("| trial | settings | test acc (best) | best epoch | train acc | high-freq. W - W0 | parameters | seconds |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, settings in trials.items():
        if args.only and name not in args.only: continue
        t0 = time.perf_counter()
        run = run_training(Run(settings), data_dir=args.data_dir)
        best = max((h for h in run.history if h["test_acc"] is not None), key=lambda h: h["test_acc"])
        smooth = high_frequency_fraction((run.w - run.w0)[:25], RESOLUTION)  # the 25 units the explorer shows
        print(f"| {name} | {settings.label()} | {100 * run.test_acc:.1f} ({100 * best['test_acc']:.1f}) | {best['epoch']} "
              f"| {100 * run.train_acc:.1f} | {smooth:.2f} | {run.params / 1e6:.2f} M | {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
