"Tests of scaling_mlps.experiments: Table 1 reproduced at the ci scale, its runs shared and reused (scales: test_scales.py; runs: test_runs.py)."
import json
import pytest
from scaling_mlps import experiments as ex
from scaling_mlps.runs import first_layer_weights


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
    w, w0 = first_layer_weights(tmp_path / rows["cifar10/B-MLP-100E"]["run_dir"])
    assert w.shape == w0.shape == (32, 3 * 32 * 32) and 0 < (w - w0).norm() < 0.5 * w0.norm()
