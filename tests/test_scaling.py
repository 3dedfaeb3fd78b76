"Chapter 5's experiment: the ci IsoFLOP grid runs, is read, fitted and written, then reused; the P x N grid still runs."
import json


def test_reproduce_ci_runs_then_reuses(real_data_dir, tmp_path):
    from scaling_mlps.scaling import reproduce
    from scaling_mlps.scales import isoflop_plan, ISOFLOP_GRIDS
    kw = dict(data_dir=real_data_dir, out=tmp_path, runs_dir=tmp_path / "runs", progress=False, verbose=False, n_boot=20)
    report = reproduce("ci", **kw)
    rows = [r for r in report["rows"] if r["status"] != "skipped"]
    plan = isoflop_plan("ci")
    assert report["kind"] == "isoflop" and len(rows) == len(plan) * len(ISOFLOP_GRIDS["ci"]["read_epochs"]) and not report["skipped"]
    assert all(0 < r["downstream_error"] < 1 and 0 < r["upstream_error"] < 1 for r in rows)
    at_T = [r for r in rows if r["epochs"] == ISOFLOP_GRIDS["ci"]["epochs"]]
    assert all(abs(r["compute"] / r["budget"] - 1) < 0.02 for r in at_T)  # each run spends its budget at T
    fits = report["fits"]["downstream"]
    assert len(fits["isoflop"]["profiles"]) >= 3 and {"corner_to_corner", "ladder_drift"} <= set(fits["isoflop"]["nulls"])
    assert "pooled_sd" in fits["seed_noise"] and len({r["seed"] for r in rows}) == 2
    assert any(r["frontier"] for r in rows) and len(report["first_layer"]) == 4
    for name in ("scaling_ci.json", "scaling_ci.md", "scaling_ci.png", "scaling_compute_optimal_ci.png", "scaling_ci_first_layer.npz"):
        assert (tmp_path / name).exists(), name
    again = reproduce("ci", **kw)
    assert {(r["status"], r["probe"]) for r in again["rows"]} == {("reused", "reused")}
    assert [r["downstream_error"] for r in again["rows"]] == [r["downstream_error"] for r in rows]
    json.loads((tmp_path / "scaling_ci.json").read_text())


def test_reproduce_ci_pxn_grid_still_runs(real_data_dir, tmp_path):
    from scaling_mlps.scaling import reproduce
    report = reproduce("ci", data_dir=real_data_dir, out=tmp_path, runs_dir=tmp_path / "runs", progress=False, verbose=False,
                       n_boot=10, kind="pxn")
    rows = [r for r in report["rows"] if r["status"] != "skipped"]
    assert report["kind"] == "pxn" and len(rows) == 12 and "by_epochs" in report["fits"]["downstream"]
    assert "# Scaling laws at the `ci` scale\n" in (tmp_path / "scaling_ci.md").read_text()
