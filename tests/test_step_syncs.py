"""The training step never waits for the host between logging points.

A GPU runs ahead of Python only while nothing reads a value back: `.item()`, `.tolist()`, `float(t)`, `if t:`,
a tensor made from Python data (a host-to-device copy), or an op whose output size depends on the data
(`nonzero`) makes the host wait for the device. `train` allows this only at its logging points
(`logging_interval`) and at the end of an epoch.

On a CPU there is no device to wait for, so the CPU test counts the operations that would wait on a GPU: a
`TorchDispatchMode` sees every ATen op (`_local_scalar_dense` is behind `.item()`, `float()`, `bool()`;
`lift_fresh` behind `torch.tensor(data)`), and `Tensor.tolist`/`numpy` are wrapped. With CUDA, the test runs
the same training under `torch.cuda.set_sync_debug_mode("warn")`, which flags every synchronizing call.
"""
import warnings

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from scaling_mlps.data import ImageData
from scaling_mlps.loader import DeviceLoader
from scaling_mlps.train import TrainConfig, logging_interval, train

HOST_READS = {"_local_scalar_dense", "lift_fresh", "lift_fresh_copy", "nonzero", "masked_select", "unique",
              "_unique", "_unique2", "unique_consecutive", "unique_dim"}


class HostReads(TorchDispatchMode):
    "Counts the ops that make a GPU wait for the host (see the module's docstring), with where they came from."
    def __init__(self):
        super().__init__(); self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        crosses = name in ("_to_copy", "copy_") and any(  # a copy between devices
            isinstance(t, torch.Tensor) and t.device != torch.device(kwargs.get("device") or args[0].device) for t in args)
        if name in HOST_READS or crosses: self.seen.append(name)
        return func(*args, **kwargs)


def _data(n: int = 448, size: int = 8):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 4
    make = lambda sl, split: ImageData(images[sl], labels[sl], list("abcd"), (0.5,) * 3, (0.25,) * 3, "noise", split, None)
    return make(slice(None), "train"), make(slice(0, 64), "test")


def _config(device: str, **kw) -> TrainConfig:
    # 56 batches per epoch: logging points after batches 20, 40 and 56; MixUp, crops, flips, clipping and a
    # warm-up + cosine schedule all run inside the step
    return TrainConfig(arch="B_2-Wi_32", epochs=2, batch_size=8, lr=1e-3, device=device, augment=True, mixup=0.8,
                       clip_grad=1.0, scheduler="cosine", warmup_epochs=0.5, **kw)


def _per_step(segments: list[tuple[str, bool, int]]) -> list[tuple[bool, int]]:
    "(logging point?, reads during the step) for each step after the first, from (event, logged, running count) per callback."
    return [(logged, b - a) for (_, _, a), (e, logged, b) in zip(segments, segments[1:]) if e == "step"]


def test_logging_interval():
    assert [logging_interval(n) for n in (1, 12, 56, 195, 3000)] == [1, 12, 20, 20, 150]


def test_no_host_reads_between_logging_points_cpu(monkeypatch):
    # the CPU's compiled crop kernels are a CPU-only path: take the eager batch path that a GPU runs
    monkeypatch.setattr(DeviceLoader, "_fused_batch", lambda self, idx, u: None)
    counter, calls = HostReads(), []
    for method in ("tolist", "numpy"):
        original = getattr(torch.Tensor, method)
        def wrapped(self, *a, _original=original, _name=method, **k):
            calls.append(_name); return _original(self, *a, **k)
        monkeypatch.setattr(torch.Tensor, method, wrapped)
    train_data, test_data = _data()
    segments = []
    reads = lambda: len(counter.seen) + len(calls)
    with counter:
        train(_config("cpu"), progress=False, data=(train_data, test_data),
              callback=lambda e, i: segments.append((e, i.get("train_loss") is not None, reads())))
    steps = _per_step(segments)
    quiet = [n for logged, n in steps if not logged]
    assert len(quiet) >= 80 and all(n == 0 for n in quiet), quiet
    assert all(n > 0 for logged, n in steps if logged)  # the counter does see the reads at logging points


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("compile", [False, True])
def test_no_syncs_between_logging_points_cuda(compile):
    train_data, test_data = _data()
    segments = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        syncs = lambda: [str(w.message) for w in caught if "synchronizing" in str(w.message)]
        torch.cuda.set_sync_debug_mode("warn")
        try:
            train(_config("cuda", compile=compile), progress=False, data=(train_data, test_data),
                  callback=lambda e, i: segments.append((e, i.get("train_loss") is not None, len(syncs()))))
        finally: torch.cuda.set_sync_debug_mode("default")
    steps = _per_step(segments)
    quiet = [n for logged, n in steps if not logged]
    assert len(quiet) >= 80 and all(n == 0 for n in quiet), (quiet, syncs()[:5])
    assert any(n > 0 for logged, n in steps if logged)  # the debug mode does flag the logging points' reads


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("on_device", [True, False])
def test_loader_batches_without_syncs_cuda(on_device):
    "Augmented batches from the GPU copy or from pinned host memory (gathered on the host, copied asynchronously)."
    train_data, _ = _data()
    loader = DeviceLoader(train_data.images, train_data.labels, 32, train=True, resolution=16, mean=(0.5,) * 3,
                          std=(0.25,) * 3, augment=True, device="cuda", on_device=on_device)
    assert loader.placement == ("device" if on_device else "pinned")
    next(iter(loader))  # the first batch allocates the staging buffers
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for epoch in range(1, 3):
                loader.set_epoch(epoch)
                for x, y in loader: pass
        finally: torch.cuda.set_sync_debug_mode("default")
    syncs = [str(w.message) for w in caught if "synchronizing" in str(w.message)]
    assert not syncs, syncs[:3]
    assert x.shape == (32, 3, 16, 16) and x.dtype == torch.bfloat16
