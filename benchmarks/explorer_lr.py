"""Learning-rate sweep behind the explorer's per-size default learning rates (nbs/15_explorer.ipynb).

Trains each architecture on a CIFAR-10 subset at a ladder of LION learning rates, with the explorer's other
settings (batch 128, label smoothing 0.3, constant lr, no warm-up, seed 0), and prints the test accuracy after
the last epoch, the best test accuracy over epochs and its epoch, and the final training loss, then the best lr
per architecture. Each run is short (seconds to a minute on a 2-core CPU).

    python benchmarks/explorer_lr.py --archs B_2-Wi_64 B_6-Wi_256 --lrs 3e-3 1e-3 3e-4 1e-4 --n-train 5000 --epochs 8
    python benchmarks/explorer_lr.py --archs B_4-Wi_128 --augment        # crops, flips and MixUp 0.8
    python benchmarks/explorer_lr.py --archs B_2-Wi_1024 --epochs 4 --n-test 2000
"""
from __future__ import annotations
import argparse, dataclasses, time

import torch


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archs", nargs="+", default=["B_2-Wi_64", "B_2-Wi_256", "B_6-Wi_256"])
    p.add_argument("--lrs", nargs="+", type=float, default=[3e-3, 1e-3, 3e-4, 1e-4, 3e-5])
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n-train", type=int, default=5000)
    p.add_argument("--n-test", type=int, default=None, help="class-balanced test subset (default: the whole test split)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--augment", action="store_true", help="crops, flips and MixUp 0.8 (default: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)

    from scaling_mlps.data import load_dataset, balanced_subset
    from scaling_mlps.train import TrainConfig, train
    resolution = 32
    train_data = load_dataset(args.dataset, "train", data_dir=args.data_dir, resolution=resolution,
                              n_train=args.n_train, seed=args.seed, progress=False)
    test_data = load_dataset(args.dataset, "test", data_dir=args.data_dir, resolution=resolution, progress=False)
    if args.n_test:  # for the widest models, where evaluating 10,000 images every epoch costs more than training
        idx = balanced_subset(test_data.labels, args.n_test, seed=args.seed)
        test_data = dataclasses.replace(test_data, images=test_data.images[idx], labels=test_data.labels[idx], files=None)
    print(f"{args.dataset}: {len(train_data)} training images, {len(test_data)} test images, {args.epochs} epochs, "
          f"batch {args.batch_size}, {'crops + flips + MixUp 0.8' if args.augment else 'no augmentation'}, "
          f"LION, smoothing 0.3, constant lr, seed {args.seed}, {torch.get_num_threads()} threads")
    print("| arch | lr | test acc (last) | best test acc (epoch) | final train loss | seconds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    best = {}
    for arch in args.archs:
        for lr in args.lrs:
            cfg = TrainConfig(dataset=args.dataset, arch=arch, resolution=resolution, data_resolution=resolution,
                              epochs=args.epochs, batch_size=args.batch_size, lr=lr, augment=args.augment,
                              flip=args.augment, mixup=0.8 if args.augment else 0.0, label_smoothing=0.3,
                              scheduler="none", warmup_epochs=0, seed=args.seed)
            t0 = time.perf_counter()
            try:
                result = train(cfg, progress=False, data=(train_data, test_data))
            except FloatingPointError as e:
                print(f"| {arch} | {lr:g} | diverged | | | {time.perf_counter() - t0:.1f} |  <!-- {e} -->")
                continue
            seconds = time.perf_counter() - t0
            hist = [h for h in result["history"] if h["test_acc"] is not None]
            top = max(hist, key=lambda h: h["test_acc"])
            print(f"| {arch} | {lr:g} | {100 * result['test_acc']:.1f} | {100 * top['test_acc']:.1f} ({top['epoch']}) "
                  f"| {result['history'][-1]['train_loss']:.3f} | {seconds:.1f} |", flush=True)
            if arch not in best or result["test_acc"] > best[arch][1]: best[arch] = (lr, result["test_acc"])
    print("\nbest lr by last-epoch test accuracy:")
    for arch, (lr, acc) in best.items(): print(f"  {arch}: lr {lr:g} ({100 * acc:.1f}%)")


if __name__ == "__main__":
    main()
