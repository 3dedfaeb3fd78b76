"Tests of scaling_mlps.experiments: scales, row configs, run sharing, reproduce (the paper's tables: test_paper.py; data availability: test_data_status.py)."
import json, os
from pathlib import Path
import pytest, torch
from scaling_mlps import experiments as ex


def test_resolve_scale(monkeypatch):
    monkeypatch.delenv("SCALING_MLPS_SCALE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("IN_TEST", raising=False)
    assert ex.resolve_scale("auto") == ("paper" if torch.cuda.is_available() else "laptop")
    monkeypatch.setenv("CI", "true")
    assert ex.resolve_scale("auto") == "ci"
    monkeypatch.setenv("SCALING_MLPS_SCALE", "laptop")
    assert ex.resolve_scale("auto") == "laptop"
    assert ex.resolve_scale("paper") == "paper"
    with pytest.raises(ValueError, match="unknown scale 'big'"):
        ex.resolve_scale("big")


def test_row_config_paper_scale_is_the_paper():
    for row in ex.TABLE1:
        c = ex.row_config(row, "paper")
        assert (c.batch_size, c.optimizer, c.lr, c.label_smoothing, c.scheduler, c.weight_decay) == (4096, "lion", 5e-5, 0.3, "none", 0.0)
        assert c.arch == row["arch"] and c.epochs == row["epochs"] and c.augment == row["augment"]
        assert c.mixup == (0.8 if row["augment"] else 0.0) and c.crop_scale == (0.08, 1.0)
        assert c.resolution == (32 if row["dataset"].startswith("cifar") else 64)
        assert ex.config_changes(row, "paper") == {}


def test_laptop_and_ci_changes():
    c = ex.row_config("tinyimagenet/B-MLP-DA-1000E", "laptop")
    assert (c.arch, c.resolution, c.n_train, c.epochs) == ("B_6-Wi_64", 32, None, 20)  # full training set
    ch = ex.config_changes("cifar10/S-MLP-100E", "ci")
    assert ch["arch"] == ("S_6-Wi_1024", "S_6-Wi_32") and ch["n_train"] == (None, 320)
    assert "S-MLP + DA @5000E | cifar10 | arch S_6-Wi_1024 → S_6-Wi_64, epochs 5000 → 200" in ex.changes_table("laptop")


def test_plan_runs_shares_prefixes_only_with_constant_lr():
    cfgs = {r["key"]: ex.row_config(r, "laptop") for r in ex.TABLE1 if r["dataset"] == "tinyimagenet"}
    plan = ex.plan_runs(cfgs)
    assert plan["tinyimagenet/S-MLP-DA-1000E"] == ("tinyimagenet/S-MLP-DA-5000E", 20)
    assert len({h for h, _ in plan.values()}) == 4
    import dataclasses
    warm = {k: dataclasses.replace(c, warmup_epochs=1) for k, c in cfgs.items()}
    assert len({h for h, _ in ex.plan_runs(warm).values()}) == 6


def test_reproduce_skips_missing_data_with_reason(tmp_path):
    rep = ex.reproduce(scale="ci", data_dir=tmp_path / "empty", out=tmp_path / "out", download=False,
                       progress=False, verbose=False)
    assert all(r["status"] == "skipped" and r["reason"] for r in rep["rows"])
    assert "downloads are off" in rep["skipped"]["cifar100"] and "no public download" in rep["skipped"]["tinyimagenet"]
    md = (tmp_path / "out" / "table1_ci.md").read_text()
    assert "Skipped:" in md and "- imagenet:" in md and str(tmp_path) not in md
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        ex.reproduce(scale="ci", datasets=("mnist",))


def test_reproduce_ci_on_real_cifar10(real_data_dir, tmp_path):
    rep = ex.reproduce(scale="ci", data_dir=real_data_dir, out=tmp_path, datasets=("cifar10",),
                       progress=False, verbose=False)
    rows = {r["key"]: r for r in rep["rows"]}
    assert all(r["status"] == "ran" and 0 <= r["ours"] <= 100 for r in rows.values())
    assert rows["cifar10/S-MLP-DA-1000E"]["note"] and not rows["cifar10/S-MLP-DA-5000E"]["note"]
    assert rows["cifar10/S-MLP-DA-1000E"]["train_flops"] * 2 == pytest.approx(rows["cifar10/S-MLP-DA-5000E"]["train_flops"], rel=1e-6)
    saved = json.loads((tmp_path / "table1_ci.json").read_text())
    assert saved["scale"] == "ci" and saved["rows"][0]["config"]["n_train"] == 320
    rep2 = ex.reproduce(scale="ci", data_dir=real_data_dir, out=tmp_path, datasets=("cifar10",),
                        progress=False, verbose=False)
    assert {r["status"] for r in rep2["rows"]} == {"reused"}
    rep3 = ex.reproduce(scale="ci", data_dir=real_data_dir, out=tmp_path, datasets=("cifar10",),
                        force=True, progress=False, verbose=False)
    assert {r["status"] for r in rep3["rows"]} == {"ran"}
    w, w0 = ex.first_layer_weights(tmp_path / rows["cifar10/B-MLP-100E"]["run_dir"])
    assert w.shape == w0.shape == (32, 3 * 32 * 32) and 0 < (w - w0).norm() < 0.5 * w0.norm()
