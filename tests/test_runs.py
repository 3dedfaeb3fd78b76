"Tests of scaling_mlps.runs: runs that share a prefix, reuse, caches keyed by settings."
import json
from scaling_mlps import runs
from scaling_mlps.paper import TABLE1
from scaling_mlps.scales import row_config


def test_plan_runs_shares_prefixes_only_with_constant_lr():
    cfgs = {r["key"]: row_config(r, "laptop") for r in TABLE1 if r["dataset"] == "tinyimagenet"}
    plan = runs.plan_runs(cfgs)
    assert plan["tinyimagenet/S-MLP-DA-1000E"] == ("tinyimagenet/S-MLP-DA-5000E", 20)
    assert len({h for h, _ in plan.values()}) == 4
    import dataclasses
    warm = {k: dataclasses.replace(c, warmup_epochs=1) for k, c in cfgs.items()}
    assert len({h for h, _ in runs.plan_runs(warm).values()}) == 6


def test_cached_recomputes_on_new_key_or_force(tmp_path):
    calls = []
    f = lambda: calls.append(1) or {"x": len(calls)}
    assert runs.cached(tmp_path / "c.json", {"k": 1}, f) == ({"x": 1}, False)
    assert runs.cached(tmp_path / "c.json", {"k": 1}, f) == ({"x": 1}, True)
    assert runs.cached(tmp_path / "c.json", {"k": 1}, f, force=True) == ({"x": 2}, False)
    assert json.loads((tmp_path / "c.json").read_text())["key"] == {"k": 1}
