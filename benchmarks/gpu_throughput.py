#!/usr/bin/env python
"""Training throughput on one GPU: B_12-Wi_1024 at 64 px, batch 4096, bf16 autocast + torch.compile.

Two numbers per run, as the paper's point is that MLPs are limited by data movement rather than by compute:
  model   one fixed batch already on the GPU: forward, backward, LION step (the model's own speed)
  loader  our DeviceLoader feeding it: uint8 images -> random resized crops + flips + normalize on the GPU,
          MixUp, the same step (the whole pipeline train() runs)
Each is printed as images/s, achieved TFLOP/s (3 x forward FLOPs per image, the paper's compute), and the
fraction of the GPU's dense bf16 peak (datasheet values below; a bf16 matmul measured here is printed too,
as the peak that is reachable in practice).

  python benchmarks/gpu_throughput.py                    # the H100 setting
  python benchmarks/gpu_throughput.py --tiny             # CPU smoke test: tiny model, batch 64, no compile
  python benchmarks/gpu_throughput.py --json             # one JSON line at the end

Record the printed figures, with the GPU name, in the README.
"""
from __future__ import annotations
import argparse, json, sys, time

import torch

from scaling_mlps.train import measure_throughput

# Dense (no sparsity) bf16 tensor-core peaks from NVIDIA datasheets, TFLOP/s; matched against the device name.
PEAK_BF16_TFLOPS = [("H200", 989.4), ("H100 NVL", 835.5), ("H100 PCIe", 756.5), ("H100", 989.4),  # H100 SXM: "H100 80GB HBM3"
                    ("A100", 312.0), ("L40S", 362.1), ("L4", 121.0), ("A10", 125.0), ("RTX A5000", 111.1)]


def bf16_peak(name: str) -> float | None:
    "Datasheet dense bf16 TFLOP/s of the GPU called `name`, or None when unknown."
    for key, tflops in PEAK_BF16_TFLOPS:
        if key in name: return tflops
    return None


def matmul_tflops(device: torch.device, n: int = 8192, reps: int = 20) -> float:
    "TFLOP/s of an n x n x n bf16 matmul on `device`: the compute peak reachable in practice."
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16); b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3): a @ b
    torch.cuda.synchronize(device); t0 = time.perf_counter()
    for _ in range(reps): a @ b
    torch.cuda.synchronize(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", default="B_12-Wi_1024"); p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=4096); p.add_argument("--num-classes", type=int, default=11230)
    p.add_argument("--steps", type=int, default=30); p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--device", default=None); p.add_argument("--peak-tflops", type=float, default=None,
                                                             help="bf16 peak to compare with (default: from the device name)")
    p.add_argument("--tiny", action="store_true", help="CPU smoke test: B_2-Wi_64 at 16 px, batch 64, 3 steps, no compile")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.tiny:
        a.arch, a.resolution, a.batch_size, a.num_classes, a.steps, a.warmup, a.compile = "B_2-Wi_64", 16, 64, 10, 3, 1, False
        a.device = a.device or "cpu"
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type != "cuda" and not a.tiny:
        print("no CUDA device: this benchmark is meant for a GPU; use --tiny for a CPU smoke test", file=sys.stderr)
        sys.exit(2)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = a.peak_tflops or (bf16_peak(name) if device.type == "cuda" else None)
    report = {"device": name, "torch": torch.__version__, "peak_bf16_tflops": peak,
              "matmul_bf16_tflops": matmul_tflops(device) if device.type == "cuda" else None, "runs": {}}
    for source in ("model", "loader"):
        r = measure_throughput(a.arch, a.resolution, a.batch_size, steps=a.steps, warmup=a.warmup, source=source,
                               device=device, compile=a.compile, num_classes=a.num_classes)
        r["fraction_of_peak"] = r["tflops"] / peak if peak else None
        report["runs"][source] = r
        print(f"{source:6s}  {r['img_per_s']:10.0f} img/s  {r['tflops']:8.2f} TFLOP/s"
              + (f"  {100 * r['fraction_of_peak']:5.1f}% of {peak:g} TFLOP/s bf16 peak" if peak else "")
              + f"  ({a.arch}, {a.resolution} px, batch {a.batch_size}, {r['dtype']}, compile={a.compile}, {name})")
    m, l = report["runs"]["model"], report["runs"]["loader"]
    print(f"the pipeline runs at {100 * l['img_per_s'] / m['img_per_s']:.0f}% of the model-only speed"
          + (f"; a bf16 matmul reaches {report['matmul_bf16_tflops']:.0f} TFLOP/s here" if report["matmul_bf16_tflops"] else ""))
    if a.json: print(json.dumps(report))
    return report


if __name__ == "__main__": main()
