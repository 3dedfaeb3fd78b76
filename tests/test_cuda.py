"""Smoke tests of the CUDA paths: train (bf16 autocast, compile), resume, fine-tune, evaluate with TTA.

Skipped without CUDA; `benchmarks/gpu_check.sh` runs them with `pytest -m cuda` (with the other CUDA-only tests:
the loader's placements, the LION multi-tensor step, the sync checks of `test_step_syncs.py`).
"""
import json

import pytest
import torch

from scaling_mlps.data import ImageData
from scaling_mlps.evaluate import evaluate, predict
from scaling_mlps.finetune import finetune
from scaling_mlps.train import TrainConfig, load_checkpoint, train

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def quadrant_data(n_per_class: int, split: str, size: int = 8, seed: int = 0) -> ImageData:
    "Four classes: uniform noise, plus +120 in quadrant c for class c (learnable in a few epochs)."
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 120, (4 * n_per_class, 3, size, size), generator=g, dtype=torch.uint8)
    labels = torch.arange(4).repeat_interleave(n_per_class)
    h = size // 2
    for c in range(4):
        y, x = divmod(c, 2)
        images[labels == c, :, y * h:(y + 1) * h, x * h:(x + 1) * h] += 120
    return ImageData(images, labels, [f"q{c}" for c in range(4)], (0.5,) * 3, (0.25,) * 3, "quadrants", split)


DATA = (quadrant_data(128, "train"), quadrant_data(32, "test", seed=1))
SMALL = dict(dataset="quadrants", arch="B_2-Wi_64", batch_size=64, optimizer="lion", lr=1e-3, device="cuda",
             augment=True, mixup=0.8, crop_scale=(0.6, 1.0), flip=False)  # a flip would swap this data's classes


@pytest.mark.parametrize("compile", [False, True])
def test_train_resume_and_tta(tmp_path, compile):
    out = tmp_path / "run"
    first = train(TrainConfig(epochs=4, out=str(out), compile=compile, **SMALL), progress=False, data=DATA)
    result = train(TrainConfig(epochs=12, out=str(out), compile=compile, resume=True, tta=8, **SMALL), progress=False, data=DATA)
    assert result["device"].startswith("cuda") and [h["epoch"] for h in result["history"]] == list(range(1, 13))
    assert result["history"][:4] == first["history"]
    assert result["test_acc"] > 0.9, result["history"]
    assert result["tta_acc"] > 0.8
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 12
    assert json.loads((out / "result.json").read_text())["test_acc"] == result["test_acc"]
    state = torch.load(out / "model.pt", weights_only=True)
    assert all(v.dtype == torch.float32 for v in state.values())  # fp32 master weights; bf16 only inside autocast


def test_finetune_from_run(tmp_path):
    train(TrainConfig(epochs=3, out=str(tmp_path / "pre"), **SMALL), progress=False, data=DATA)
    tuned = finetune(tmp_path / "pre", "quadrants", data=DATA, device="cuda", epochs=3, batch_size=64, lr=0.01,
                     out=str(tmp_path / "ft"), progress=False)
    assert tuned["config"]["mode"] == "finetune" and tuned["config"]["arch"] == "B_2-Wi_64"
    assert 0 <= tuned["test_acc"] <= 1 and len(tuned["history"]) == 3


def test_evaluate_cuda_matches_cpu_and_tta_runs():
    torch.manual_seed(0)
    from scaling_mlps.models import get_model
    model = get_model("B_2-Wi_64", 8, 4)
    test = DATA[1]
    kw = dict(mean=test.mean, std=test.std, batch_size=40)
    on_cpu = predict(model, test.images, device="cpu", **kw)
    on_gpu = predict(model.cuda(), test.images, device="cuda", **kw)  # bf16 autocast on the GPU
    torch.testing.assert_close(on_gpu, on_cpu, rtol=0.05, atol=0.05)
    views = predict(model, test.images, device="cuda", tta=16, **kw)
    assert views.shape == on_cpu.shape and views.device.type == "cpu" and torch.isfinite(views).all()
    again = predict(model, test.images, device="cuda", tta=16, **kw)
    assert torch.equal(views, again)  # seeded views
    assert 0 <= evaluate(model, test.images, test.labels, device="cuda", tta=16, **kw) <= 1
