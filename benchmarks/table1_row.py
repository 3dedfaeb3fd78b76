#!/usr/bin/env python
"""Time one Table 1 row at the paper's settings on this machine and project the whole row.

Default row: "B-MLP + DA @1000E" on CIFAR-10 (B_6-Wi_1024, 32 px, batch 4096, LION lr 5e-5, label smoothing 0.3,
MixUp 0.8, random resized crops and flips; `scales.row_config(row, "paper")`), with `torch.compile` and bf16
on a GPU. It trains until the row's epochs are done or `--max-seconds` have passed (then it stops after that
epoch, through `train`'s callback), and reports seconds per epoch (median of the epochs after the first, which
includes compilation), images/s, achieved TFLOP/s (2 FLOPs per multiply-add), the projected training time of 1000
and 5000 epochs, and what evaluation and checkpoints add on top (each timed once here).

  python benchmarks/table1_row.py --max-seconds 75 --json results/row.json --save-model /tmp/row.pt
  python benchmarks/table1_row.py --dry-run          # CPU, seconds: a tiny model on random 8 px images
"""
from __future__ import annotations
import argparse, dataclasses, json, statistics, sys, tempfile, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cifar_data import cifar10  # noqa: E402
from scaling_mlps.compute import forward_flops  # noqa: E402
from scaling_mlps.evaluate import evaluate  # noqa: E402
from scaling_mlps.scales import find_row, row_config  # noqa: E402
from scaling_mlps.train import atomic_save, train  # noqa: E402


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--row", default="cifar10/B-MLP-DA-1000E", help="a Table 1 key of scaling_mlps.paper.TABLE1")
    p.add_argument("--epochs", type=int, default=None, help="default: the row's")
    p.add_argument("--max-seconds", type=float, default=75.0, help="stop after the epoch that passes this much training")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--compile", default=None, choices=["none", "default", "reduce-overhead", "max-autotune-no-cudagraphs"],
                   help="torch.compile mode of the model (default: 'default' with CUDA, 'none' without)")
    p.add_argument("--data-dir", default=None); p.add_argument("--device", default=None)
    p.add_argument("--save-model", default=None, help="write the trained weights here (for benchmarks/tta_speed.py)")
    p.add_argument("--json", default=None); p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(argv)
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    row = find_row(a.row)
    train_data, test_data, source = cifar10(a.data_dir, dry_run=a.dry_run)
    mode = a.compile or ("default" if device.type == "cuda" else "none")
    compile = {"none": False, "default": True}.get(mode, mode)
    cfg = row_config(row, "paper", device=str(device), compile=compile, eval_every=a.eval_every, out=None,
                     epochs=a.epochs or row["epochs"])
    if a.dry_run: cfg = dataclasses.replace(cfg, arch="B_2-Wi_64", resolution=8, batch_size=64, epochs=a.epochs or 3, eval_every=2)
    print(f"{a.row} on {source}: {cfg.arch}, {cfg.resolution} px, batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr}, "
          f"{cfg.epochs} epochs, compile={cfg.compile}, {device}; stops after {a.max_seconds:g} s of training", flush=True)

    model, t_start = None, time.perf_counter()
    def stop_in_time(event, info):
        nonlocal model
        if event != "epoch": return False
        model = info["model"]
        return time.perf_counter() - t_start > a.max_seconds
    result = train(cfg, progress=False, data=(train_data, test_data), callback=stop_in_time)
    hist = [h for h in result["history"] if not h.get("partial")]
    epoch_s = [h["epoch_time_s"] for h in hist]
    steady = statistics.median(epoch_s[1:]) if len(epoch_s) > 1 else epoch_s[0]
    n_train = len(train_data.labels)
    train_flops_per_image = 3 * forward_flops(model, cfg.resolution, flops_per_mac=2)

    def timed(fn):
        if device.type == "cuda": torch.cuda.synchronize(device)
        t0 = time.perf_counter(); out = fn()
        if device.type == "cuda": torch.cuda.synchronize(device)
        return time.perf_counter() - t0, out
    eval_s, acc = timed(lambda: evaluate(model, test_data.images, test_data.labels, mean=test_data.mean, std=test_data.std,
                                         resolution=cfg.resolution, batch_size=cfg.eval_batch_size, device=device))
    with tempfile.TemporaryDirectory() as tmp:  # a checkpoint's size: the weights and one LION momentum per weight
        state = model.state_dict()
        ckpt_s, _ = timed(lambda: atomic_save({"model": state, "optimizer": {k: v.clone() for k, v in state.items()}},
                                              Path(tmp) / "checkpoint.pt"))
    if a.save_model: atomic_save(model.state_dict(), a.save_model)
    report = {"row": a.row, "data": source, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "config": {k: getattr(cfg, k) for k in ("arch", "resolution", "batch_size", "optimizer", "lr", "epochs",
                                                      "augment", "mixup", "label_smoothing", "compile")},
              "epochs_done": len(hist), "first_epoch_s": epoch_s[0], "s_per_epoch": steady,
              "img_per_s": n_train / steady, "train_tflops": n_train * train_flops_per_image / steady / 1e12,
              "train_pflop_1000_epochs": n_train * train_flops_per_image * 1000 / 1e15,
              "projected_train_s": {str(e): e * steady for e in (1000, 5000)},
              "eval_s": eval_s, "checkpoint_s": ckpt_s,
              "projected_s_eval_and_checkpoint_every_50": {str(e): e * steady + e / 50 * (eval_s + ckpt_s) for e in (1000, 5000)},
              "test_acc": acc if source == "CIFAR-10" else None, "paper_test_acc": row["paper"],
              "history": [{k: h[k] for k in ("epoch", "epoch_time_s", "train_loss", "test_acc")} for h in hist]}
    print(f"{len(hist)} epochs: first {epoch_s[0]:.2f} s (with compilation), then {steady:.3f} s per epoch = "
          f"{report['img_per_s']:,.0f} img/s = {report['train_tflops']:.1f} TFLOP/s")
    print(f"projected training time: 1000 epochs {1000 * steady / 60:.1f} min, 5000 epochs {5000 * steady / 60:.1f} min; "
          f"one evaluation {eval_s:.2f} s, one checkpoint {ckpt_s:.2f} s")
    if report["test_acc"] is not None:
        print(f"test accuracy after {len(hist)} epochs: {100 * acc:.1f}% (the paper's row after {row['epochs']}: {row['paper']}%)")
    if a.json: Path(a.json).parent.mkdir(parents=True, exist_ok=True); Path(a.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__": main()
