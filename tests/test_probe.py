"Tests of scaling_mlps.probe: the two linear probes on cached features."
import dataclasses
import pytest, torch
from scaling_mlps.probe import linear_probe_lbfgs, linear_probe_epochs
from scaling_mlps.data import ImageData
from scaling_mlps.models import get_model
from scaling_mlps.scales import transfer_config
from scaling_mlps.train import train


def test_linear_probe_lbfgs_separates_blobs():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (600,), generator=g)
    x = torch.randn(600, 6, generator=g) + 3 * torch.nn.functional.one_hot(y, 6).float()
    res = linear_probe_lbfgs(x[:400], y[:400], x[400:], y[400:])
    assert res["test_error"] < 0.05 and res["iterations"] <= 50


def _blobs(n, seed, classes=4, size=8):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 100, (n, 3, size, size), generator=g, dtype=torch.uint8)
    labels = torch.arange(n) % classes
    for c in range(classes): images[labels == c, :, 2 * (c // 2):2 * (c // 2) + 4, 2 * (c % 2):2 * (c % 2) + 4] += 120
    return ImageData(images, labels, [str(c) for c in range(classes)], (0.4,) * 3, (0.25,) * 3, "blobs", "x")


def test_linear_probe_epochs_is_train_with_a_frozen_body(tmp_path):
    torch.manual_seed(0); torch.save(get_model("B_2-Wi_16", 8, 6).state_dict(), tmp_path / "pre.pt")
    data = (_blobs(192, 0), _blobs(64, 1))
    cfg = transfer_config(tmp_path / "pre.pt", "blobs", "linear", "laptop", epochs=3, batch_size=32, lr=3e-3, device="cpu")
    a = linear_probe_epochs(cfg, data=data)
    b = train(cfg, progress=False, data=data)
    for x, y in zip(a["history"], b["history"]):
        assert x["train_loss"] == pytest.approx(y["train_loss"], abs=1e-4) and x["test_acc"] == y["test_acc"]
    with pytest.raises(ValueError, match="augment=False"):
        linear_probe_epochs(dataclasses.replace(cfg, augment=True), data=data)
