"Chapter 5's experiment: the ci grid runs, is read, fitted and written, then reused."
import json


def test_reproduce_ci_runs_then_reuses(real_data_dir, tmp_path):
    from scaling_mlps.scaling import reproduce
    kw = dict(data_dir=real_data_dir, out=tmp_path, runs_dir=tmp_path / "runs", progress=False, verbose=False, n_boot=20)
    report = reproduce("ci", **kw)
    rows = [r for r in report["rows"] if r["status"] != "skipped"]
    assert len(rows) == 12 and not report["skipped"]
    assert all(0 < r["downstream_error"] < 1 and 0 < r["upstream_error"] < 1 for r in rows)
    assert any(r["frontier"] for r in rows) and len(report["first_layer"]) == 4
    for name in ("scaling_ci.json", "scaling_ci.md", "scaling_ci.png", "scaling_ci_first_layer.npz"):
        assert (tmp_path / name).exists(), name
    again = reproduce("ci", **kw)
    assert {(r["status"], r["probe"]) for r in again["rows"]} == {("reused", "reused")}
    assert [r["downstream_error"] for r in again["rows"]] == [r["downstream_error"] for r in rows]
    json.loads((tmp_path / "scaling_ci.json").read_text())
