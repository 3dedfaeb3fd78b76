#!/usr/bin/env python
"""Training throughput on one GPU, bf16 autocast, with and without torch.compile, against the measured bf16 peak.

Two settings (the paper's):
  in21k    B_12-Wi_1024 at 64 px, batch 4096, 11,230 classes (ImageNet-21k pre-training)
  cifar10  B_6-Wi_1024 at 32 px, batch 4096, 10 classes (Table 1)
and for each, two feeds, as the paper's point is that MLPs are limited by data movement rather than by compute:
  model   one fixed batch already on the GPU: forward, backward, LION step (the model's own speed)
  loader  our DeviceLoader feeding it: uint8 images -> random resized crops + flips + normalize on the GPU,
          MixUp, the same step (the whole pipeline train() runs)
Each run prints images/s, ms per step, achieved TFLOP/s (3 x forward FLOPs per image at 2 FLOPs per multiply-add,
as a GPU's peak counts them) and its fraction of the bf16 peak: the peak of an 8192^3 bf16 matmul measured here
(what is reachable in practice) and the datasheet's dense bf16 peak.

  python benchmarks/gpu_throughput.py                                   # both settings, compile off and on
  python benchmarks/gpu_throughput.py --modes none default reduce-overhead --json results/x.json
  python benchmarks/gpu_throughput.py --tiny                            # CPU smoke test: tiny models, no compile

With --json PATH the report is rewritten after every run, so a run cut short keeps what it measured.
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path

import torch

from scaling_mlps.bench import measure_throughput

# Dense (no sparsity) bf16 tensor-core peaks from NVIDIA datasheets, TFLOP/s; matched against the device name in
# this order (the first key contained in the name wins).
PEAK_BF16_TFLOPS = [("H200", 989.4), ("H100 NVL", 835.5), ("H100 PCIe", 756.5), ("H100", 989.4),  # H100 SXM: "H100 80GB HBM3"
                    ("A100", 312.0), ("L40S", 362.1), ("L4", 121.0), ("A10", 125.0), ("RTX A5000", 111.1)]

# name: (arch, resolution, batch, classes); the paper's settings
SETTINGS = {"in21k": ("B_12-Wi_1024", 64, 4096, 11230), "cifar10": ("B_6-Wi_1024", 32, 4096, 10)}
TINY = {"in21k": ("B_2-Wi_64", 16, 64, 100), "cifar10": ("B_2-Wi_64", 8, 64, 10)}
MODES = ("none", "default", "reduce-overhead", "max-autotune-no-cudagraphs")


def bf16_peak(name: str) -> float | None:
    "Datasheet dense bf16 TFLOP/s of the GPU called `name`, or None when unknown."
    for key, tflops in PEAK_BF16_TFLOPS:
        if key in name: return tflops
    return None


def matmul_tflops(device: torch.device, n: int = 8192, reps: int = 20) -> float:
    "TFLOP/s of an n x n x n bf16 matmul on `device` (random data): the compute peak reachable in practice."
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16); b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3): a @ b
    torch.cuda.synchronize(device); t0 = time.perf_counter()
    for _ in range(reps): a @ b
    torch.cuda.synchronize(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def _line(r: dict) -> str:
    frac = "".join(f"  {100 * r[k]:5.1f}% of {label}" for k, label in (("fraction_of_measured_peak", "matmul"),
                                                                       ("fraction_of_datasheet_peak", "datasheet"))
                   if r.get(k) is not None)
    return (f"{r['setting']:8s} {r['source']:6s} compile={r['compile_mode']:26s} {r['img_per_s']:11.0f} img/s "
            f"{r['step_ms']:8.2f} ms/step {r['tflops']:8.2f} TFLOP/s{frac}")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--modes", nargs="+", default=["none", "default"], choices=MODES,
                   help="torch.compile modes ('none': eager); each mode runs all settings before the next mode")
    p.add_argument("--sources", nargs="+", default=["model", "loader"], choices=["model", "loader"])
    p.add_argument("--steps", type=int, default=30); p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--device", default=None)
    p.add_argument("--peak-tflops", type=float, default=None, help="datasheet bf16 peak (default: from the device name)")
    p.add_argument("--tiny", action="store_true", help="CPU smoke test: B_2-Wi_64 at 8/16 px, batch 64, 3 steps, eager")
    p.add_argument("--json", default=None, help="write the report to this file (after every run)")
    a = p.parse_args(argv)
    settings = TINY if a.tiny else SETTINGS
    if a.tiny: a.steps, a.warmup, a.modes, a.device = 3, 1, ["none"], a.device or "cpu"
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type != "cuda" and not a.tiny:
        print("no CUDA device: this benchmark is meant for a GPU; use --tiny for a CPU smoke test", file=sys.stderr)
        sys.exit(2)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    datasheet = a.peak_tflops or (bf16_peak(name) if device.type == "cuda" else None)
    measured = matmul_tflops(device) if device.type == "cuda" else None
    report = {"device": name, "torch": torch.__version__, "datasheet_bf16_tflops": datasheet,
              "matmul_bf16_tflops": measured, "flops_per_mac": 2, "runs": []}
    if measured: print(f"{name}: bf16 matmul 8192^3 {measured:.0f} TFLOP/s measured, datasheet {datasheet} TFLOP/s")

    def save():
        if a.json: Path(a.json).parent.mkdir(parents=True, exist_ok=True); Path(a.json).write_text(json.dumps(report, indent=1))
    save()
    for mode in a.modes:
        for setting in a.settings:
            arch, resolution, batch, classes = settings[setting]
            for source in a.sources:
                t0 = time.perf_counter()
                r = measure_throughput(arch, resolution, batch, steps=a.steps, warmup=a.warmup, source=source, device=device,
                                       compile=False if mode == "none" else True if mode == "default" else mode,
                                       num_classes=classes)
                r.update(setting=setting, compile_mode=mode, wall_s=time.perf_counter() - t0,
                         input_mb_per_s=r["img_per_s"] * 3 * resolution**2 / 1e6,  # uint8 pixels the loader reads
                         fraction_of_measured_peak=r["tflops"] / measured if measured else None,
                         fraction_of_datasheet_peak=r["tflops"] / datasheet if datasheet else None)
                report["runs"].append(r); save()
                print(_line(r) + f"  ({arch}, {resolution} px, batch {batch}, {r['dtype']}; {r['wall_s']:.0f} s with compile)",
                      flush=True)
    runs = {(r["setting"], r["source"], r["compile_mode"]): r for r in report["runs"]}
    for (setting, source, mode), r in runs.items():
        if source == "loader" and (setting, "model", mode) in runs:
            share = r["img_per_s"] / runs[(setting, "model", mode)]["img_per_s"]
            print(f"{setting}, compile={mode}: the pipeline runs at {100 * share:.0f}% of the model-only speed")
    return report


if __name__ == "__main__": main()
