#!/usr/bin/env python
"""What a training step of chapter 6's models costs on this machine: the laptop B-MLP, the small CNN of equal
multiply-adds and the CIFAR ResNet-18, at 32 px and batch 256 (forward, backward, LION), from made-up data.

The models alternate repeat by repeat in one process, so a slow moment of a shared machine hits all of them; per
model: the median over repeats of the mean step time, images per second, and the ratio to the B-MLP within a repeat
(the figure to plan with: absolute times vary by ~10% between runs on shared machines).

  python benchmarks/inductive_bias_cost.py                 # CPU: about a minute
  python benchmarks/inductive_bias_cost.py --tiny          # seconds
"""
from __future__ import annotations
import argparse, statistics, time

import torch
from torch import nn

from scaling_mlps.cnn import small_cnn_matching
from scaling_mlps.compute import forward_flops
from scaling_mlps.lion import Lion
from scaling_mlps.models import get_model


def time_steps(archs: list[str], resolution: int, batch: int, steps: int, repeats: int, threads: int) -> dict:
    torch.set_num_threads(threads); torch.manual_seed(0)
    x, y = torch.randn(batch, 3, resolution, resolution), torch.randint(0, 10, (batch,))
    models = {a: get_model(a, resolution, 10).train() for a in archs}
    opts = {a: Lion(m.parameters(), lr=1e-4) for a, m in models.items()}
    loss_fn, times = nn.CrossEntropyLoss(label_smoothing=0.3), {a: [] for a in archs}
    for _ in range(repeats + 1):  # the first repeat warms up and is dropped
        for a, model in models.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                opts[a].zero_grad(set_to_none=True); loss_fn(model(x), y).backward(); opts[a].step()
            times[a].append((time.perf_counter() - t0) / steps)
    base = archs[0]
    return {a: dict(ms=1e3 * statistics.median(t[1:]), img_per_s=batch / statistics.median(t[1:]),
                    ratio=statistics.median([s / b for s, b in zip(t[1:], times[base][1:])]),
                    gflop=forward_flops(models[a], resolution, flops_per_mac=1) / 1e9) for a, t in times.items()}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mlp", default="B_6-Wi_64"); p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--batch", type=int, default=256); p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5); p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--tiny", action="store_true", help="tiny sizes: seconds")
    a = p.parse_args()
    if a.tiny: a.batch, a.steps, a.repeats = 16, 1, 1
    cnn = small_cnn_matching(forward_flops(get_model(a.mlp, a.resolution, 10), flops_per_mac=1), a.resolution, 10)
    result = time_steps([a.mlp, cnn, "ResNet18"], a.resolution, a.batch, a.steps, a.repeats, a.threads)
    print(f"{a.resolution} px, batch {a.batch}, {a.threads} threads, LION, median of {a.repeats} repeats of {a.steps} steps")
    print(f"{'model':>10} {'GMAC/img':>9} {'ms/step':>9} {'img/s':>9} {'x ' + a.mlp:>14}")
    for arch, r in result.items():
        print(f"{arch:>10} {r['gflop']:>9.4f} {r['ms']:>9.1f} {r['img_per_s']:>9,.0f} {r['ratio']:>14.1f}")
