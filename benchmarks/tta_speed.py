#!/usr/bin/env python
"""Test-time augmentation with 100 views (paper §4.3) on the CIFAR-10 test set: seconds and views/s.

The model is B_6-Wi_1024 at 32 px: the weights that `benchmarks/table1_row.py --save-model` wrote, or a fresh
initialization (the speed is the same; the accuracy is then meaningless and not reported). The views are
cropped as `train(..., tta=100)` crops them for this row (its own crops and flips), from the stored uint8 images,
on the device, and go through the model 256 images (25,600 views) per forward in bf16.

  python benchmarks/tta_speed.py --model /tmp/row.pt --json results/tta.json
  python benchmarks/tta_speed.py --dry-run
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cifar_data import cifar10  # noqa: E402
from scaling_mlps.evaluate import evaluate  # noqa: E402
from scaling_mlps.models import get_model  # noqa: E402


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="a state dict of B_6-Wi_1024 (32 px, 10 classes)")
    p.add_argument("--views", type=int, default=100); p.add_argument("--images-per-forward", type=int, default=256)
    p.add_argument("--data-dir", default=None); p.add_argument("--device", default=None)
    p.add_argument("--json", default=None); p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(argv)
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    _, test, source = cifar10(a.data_dir, dry_run=a.dry_run)
    arch, resolution = ("B_2-Wi_64", 8) if a.dry_run else ("B_6-Wi_1024", 32)
    if a.dry_run: a.views, a.images_per_forward = 4, 32
    model = get_model(arch, resolution, 10)
    if a.model: model.load_state_dict(torch.load(a.model, map_location="cpu", weights_only=True))
    model.to(device)
    kw = dict(mean=test.mean, std=test.std, resolution=resolution, device=device, crop_scale=(0.08, 1.0),
              crop_ratio=(3 / 4, 4 / 3), flip=True)

    def timed(n, **extra):
        evaluate(model, test.images[:n // 10], test.labels[:n // 10], **kw, **extra)  # warm-up: kernels, allocator
        if device.type == "cuda": torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        acc = evaluate(model, test.images, test.labels, **kw, **extra)  # ends in .item(): the device is done
        return time.perf_counter() - t0, acc
    n = len(test.labels)
    plain_s, plain_acc = timed(n, batch_size=1024)
    tta_s, tta_acc = timed(n, batch_size=a.views * a.images_per_forward, tta=a.views)
    real = source == "CIFAR-10" and a.model is not None
    report = {"data": source, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "arch": arch, "images": n, "views": a.views, "views_per_forward": a.views * a.images_per_forward,
              "tta_s": tta_s, "views_per_s": n * a.views / tta_s, "plain_eval_s": plain_s,
              "test_acc": plain_acc if real else None, "tta_acc": tta_acc if real else None}
    print(f"{arch}, {n} test images ({source}) on {report['device']}: TTA with {a.views} views {tta_s:.2f} s "
          f"= {report['views_per_s']:,.0f} views/s; without TTA {plain_s:.3f} s"
          + (f"; accuracy {100 * plain_acc:.1f}% -> {100 * tta_acc:.1f}% with TTA" if real else ""))
    if a.json: Path(a.json).parent.mkdir(parents=True, exist_ok=True); Path(a.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__": main()
