"Tests of scaling_mlps.scales: resolving a scale, a row's config at each scale, what a scale changes."
import pytest, torch
from scaling_mlps import scales
from scaling_mlps.paper import TABLE1


def test_resolve_scale(monkeypatch):
    monkeypatch.delenv("SCALING_MLPS_SCALE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("IN_TEST", raising=False)
    assert scales.resolve_scale("auto") == ("paper" if torch.cuda.is_available() else "laptop")
    monkeypatch.setenv("CI", "true")
    assert scales.resolve_scale("auto") == "ci"
    monkeypatch.setenv("SCALING_MLPS_SCALE", "laptop")
    assert scales.resolve_scale("auto") == "laptop"
    assert scales.resolve_scale("paper") == "paper"
    with pytest.raises(ValueError, match="unknown scale 'big'"):
        scales.resolve_scale("big")


def test_row_config_paper_scale_is_the_paper():
    for row in TABLE1:
        c = scales.row_config(row, "paper")
        assert (c.batch_size, c.optimizer, c.lr, c.label_smoothing, c.scheduler, c.weight_decay) == (4096, "lion", 5e-5, 0.3, "none", 0.0)
        assert c.arch == row["arch"] and c.epochs == row["epochs"] and c.augment == row["augment"]
        assert c.mixup == (0.8 if row["augment"] else 0.0) and c.crop_scale == (0.08, 1.0)
        assert c.resolution == (32 if row["dataset"].startswith("cifar") else 64)
        assert scales.config_changes(row, "paper") == {}


def test_laptop_and_ci_changes():
    c = scales.row_config("tinyimagenet/B-MLP-DA-1000E", "laptop")
    assert (c.arch, c.resolution, c.n_train, c.epochs) == ("B_6-Wi_64", 32, None, 20)  # full training set
    ch = scales.config_changes("cifar10/S-MLP-100E", "ci")
    assert ch["arch"] == ("S_6-Wi_1024", "S_6-Wi_32") and ch["n_train"] == (None, 320)
    assert "S-MLP + DA @5000E | cifar10 | arch S_6-Wi_1024 → S_6-Wi_64, epochs 5000 → 200" in scales.changes_table("laptop")
