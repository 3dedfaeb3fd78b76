"""CIFAR-10 for the GPU benchmarks: the real data when the data directory has it, else random images of its shape.

Timings do not depend on the pixels, so a machine without the data still measures speed; accuracies are only
reported for real data. `--dry-run` uses a few hundred tiny random images, to check the scripts in seconds.
"""
from __future__ import annotations
import os
from pathlib import Path

import torch

from scaling_mlps.data import DATASETS, ImageData, load_dataset


def has_cifar10(data_dir: str | os.PathLike | None) -> bool:
    "True when `data_dir` (default `$SCALING_MLPS_DATA`) holds CIFAR-10: an ImageFolder, torchvision's batches or a decoded cache."
    root = Path(data_dir or os.environ.get("SCALING_MLPS_DATA") or "data")
    return ((root / "cifar10" / "train").is_dir() or (root / "cifar10" / "cifar-10-batches-py").is_dir()
            or (root / "cache" / "cifar10-train-32px.json").exists())


def synthetic(n_train: int, n_test: int, size: int = 32, classes: int = 10, seed: int = 0) -> tuple[ImageData, ImageData]:
    "Random uint8 images and labels of CIFAR-10's shape (timings only: there is nothing to learn)."
    g = torch.Generator().manual_seed(seed)
    mean, std, _ = DATASETS["cifar10"]
    def split(n, name):
        return ImageData(torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g),
                         torch.randint(0, classes, (n,), generator=g), [f"c{i}" for i in range(classes)], mean, std,
                         "cifar10-synthetic", name)
    return split(n_train, "train"), split(n_test, "test")


def cifar10(data_dir=None, dry_run: bool = False, progress: bool = False) -> tuple[ImageData, ImageData, str]:
    "(train, test, what they are): real CIFAR-10 if present (not in a dry run), else random images of its shape."
    if dry_run: return (*synthetic(512, 128, size=8), "synthetic (dry run: 512 random 8 px images)")
    if has_cifar10(data_dir):
        return (load_dataset("cifar10", "train", data_dir, progress=progress),
                load_dataset("cifar10", "test", data_dir, progress=progress), "CIFAR-10")
    return (*synthetic(50_000, 10_000), "synthetic (no CIFAR-10 in the data directory: random images of its shape)")


if __name__ == "__main__":  # prepare: unpack the archive of JPEGs (train/<class>/*.jpg, test/...) and decode it once
    import argparse, tarfile, time
    p = argparse.ArgumentParser(description="Unpack cifar10.tar.gz into DATA_DIR/cifar10 and decode it into DATA_DIR/cache")
    p.add_argument("--archive", required=True); p.add_argument("--data-dir", required=True)
    a = p.parse_args()
    t0 = time.perf_counter()
    with tarfile.open(a.archive) as t: t.extractall(Path(a.data_dir) / "cifar10", filter="data")
    for split in ("train", "test"):
        d = load_dataset("cifar10", split, a.data_dir, progress=False)
        print(f"CIFAR-10 {split}: {tuple(d.images.shape)} uint8, {d.num_classes} classes")
    print(f"unpacked and decoded in {time.perf_counter() - t0:.1f} s")
