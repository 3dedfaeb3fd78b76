#!/usr/bin/env python
"""Time one LION step over a model's parameters: per parameter (the reference loop) vs all at once (`torch._foreach_*`).

Both variants run in one process, alternating repeat by repeat on the same parameters and gradients, so that
a slow moment of a shared machine hits both. Per variant: the median over repeats of the mean step time in a
repeat; the ratio is the median over repeats of per-parameter / foreach within a repeat.

  python benchmarks/lion_step.py --archs B_6-Wi_256 B_6-Wi_1024            # CPU (or CUDA when present)
  python benchmarks/lion_step.py --device cuda --json results/lion.json
  python benchmarks/lion_step.py --tiny                                     # seconds, for CI
"""
from __future__ import annotations
import argparse, json, statistics, time
from pathlib import Path

import torch

from scaling_mlps.lion import lion_step_foreach, lion_step_per_parameter
from scaling_mlps.models import get_model

STEPS = {"per_parameter": lion_step_per_parameter, "foreach": lion_step_foreach}


def time_lion_steps(arch: str, resolution: int = 32, num_classes: int = 10, device: str | torch.device = "cpu",
                    steps: int = 10, repeats: int = 5, weight_decay: float = 0.0) -> dict:
    "Per-step milliseconds of both LION step implementations on the parameters of `arch`, with random gradients."
    device = torch.device(device)
    torch.manual_seed(0)
    params = [p.detach().to(device) for p in get_model(arch, resolution, num_classes).parameters()]
    grads = [torch.randn_like(p) for p in params]
    states = {name: [torch.zeros_like(p) for p in params] for name in STEPS}
    copies = {name: [p.clone() for p in params] for name in STEPS}
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    times = {name: [] for name in STEPS}
    for _ in range(repeats + 1):  # the first repeat warms up (allocator, caches) and is dropped
        for name, step in STEPS.items():
            sync(); t0 = time.perf_counter()
            for _ in range(steps): step(copies[name], grads, states[name], 5e-5, weight_decay, 0.9, 0.99)
            sync(); times[name].append((time.perf_counter() - t0) / steps * 1e3)
    times = {name: t[1:] for name, t in times.items()}
    ratios = [a / b for a, b in zip(times["per_parameter"], times["foreach"])]
    same = all(torch.equal(a, b) for a, b in zip(copies["per_parameter"], copies["foreach"]))
    max_diff = max((a - b).abs().max().item() for a, b in zip(copies["per_parameter"], copies["foreach"]))
    return {"arch": arch, "device": str(device), "tensors": len(params), "parameters": sum(p.numel() for p in params),
            "steps": steps, "repeats": repeats, "ms_per_parameter": statistics.median(times["per_parameter"]),
            "ms_foreach": statistics.median(times["foreach"]), "speedup": statistics.median(ratios),
            "speedup_range": [min(ratios), max(ratios)], "identical": same, "max_abs_diff": max_diff}


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--archs", nargs="+", default=["B_6-Wi_256", "B_6-Wi_1024"])
    p.add_argument("--resolution", type=int, default=32); p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--device", default=None); p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5); p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--tiny", action="store_true", help="B_2-Wi_64 at 8 px, 2 steps, 2 repeats")
    p.add_argument("--json", default=None, help="write the rows to this file")
    a = p.parse_args(argv)
    if a.tiny: a.archs, a.resolution, a.steps, a.repeats = ["B_2-Wi_64"], 8, 2, 2
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    rows = []
    for arch in a.archs:
        r = time_lion_steps(arch, a.resolution, a.num_classes, device, a.steps, a.repeats, a.weight_decay)
        rows.append(r)
        print(f"{arch:12s} {r['tensors']:3d} tensors {r['parameters'] / 1e6:6.1f} M params on {r['device']}: "
              f"per parameter {r['ms_per_parameter']:8.3f} ms, foreach {r['ms_foreach']:8.3f} ms, "
              f"speed-up {r['speedup']:.2f}x (repeats {r['speedup_range'][0]:.2f}-{r['speedup_range'][1]:.2f}), "
              + ("identical" if r["identical"] else f"max |diff| {r['max_abs_diff']:.2e}"))
    if a.json: Path(a.json).parent.mkdir(parents=True, exist_ok=True); Path(a.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__": main()
