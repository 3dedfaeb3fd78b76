"Tests of scaling_mlps.transfer: Table 2's plan at each scale, the cached linear probe, reproduce (ci on real data, paper offline)."
import dataclasses, json, math
from pathlib import Path
import pytest
from scaling_mlps import transfer as tr, scales, paper, report_table2
from fixtures import serve_folder, toy_registry


def test_laptop_plan_reuses_chapter_1_runs_and_counts_compute(tmp_path):
    plan = tr.transfer_plan("laptop", tmp_path)
    assert str(plan["pretrain/DA"].run_dir) == "runs/table1_laptop/tinyimagenet/B_6-Wi_64-DA-e100-r32"
    assert str(plan["scratch/DA"].run_dir) == "runs/table1_laptop/cifar10/B_6-Wi_64-DA-e200-r32"
    assert {k for k, r in plan.items() if r.shared} == {"pretrain/DA", "pretrain/noDA", "scratch/DA", "scratch/noDA"}
    assert [plan[f"pretrain/DA-{f}"].cfg.n_train for f in ("25%", "50%")] == [25_000, 50_000]
    ft = plan["finetune/DA"].cfg
    assert (ft.optimizer, ft.lr, ft.body_lr_mult, ft.epochs, ft.batch_size, ft.mode) == ("sgd", 0.01, 0.1, 10, 256, "finetune")
    e = tr.equal_compute_epoch(plan["finetune/DA"], plan)
    assert plan["scratch/DA-long"].cfg.epochs == math.ceil(e) and 210 < e < 220
    # the continued run is chapter 1's run with more epochs and nothing else changed
    assert dataclasses.replace(plan["scratch/DA-long"].cfg, epochs=200) == plan["scratch/DA"].cfg
    with pytest.raises(ValueError, match="small scales"):
        tr.transfer_plan("paper", tmp_path)


def test_estimate_from_chapter_1_image_rates(tmp_path):
    plan = tr.transfer_plan("laptop", tmp_path)
    run = lambda d, n, e, ips, wall: {"config": {"arch": "B_6-Wi_64", "resolution": 32, "dataset": d, "augment": True,
                                                 "n_train": None, "epochs": e}, "img_per_s": ips, "wall_time_s": wall}
    # 200 CIFAR-10 epochs at 5,000 img/s = 2,000 s training, + 100 s evaluation: 20,000 test images/s
    fake = {"runs": {"a": run("cifar10", 50_000, 200, 5000.0, 2100.0), "b": run("tinyimagenet", 100_000, 100, 10_000.0, 1050.0)}}
    rates = tr.measured_rates(fake)
    assert rates["B_6-Wi_64", "cifar10", True] == pytest.approx(dict(train=5000.0, eval=20_000.0))
    est = tr.estimate_seconds(plan, fake)
    assert set(est) == {k for k, r in plan.items() if not r.shared}
    # 100 epochs on 25% of Tiny-ImageNet: 250 s training + 100 x 10,000 test images at 20,000/s
    assert est["pretrain/DA-25%"] == pytest.approx(250 + 50)
    # fine-tuning with DA: 10 epochs (100 s training + 5 s evaluation) + 100 TTA views of the test set (50 s)
    assert est["finetune/DA"] == pytest.approx(10 * (10 + 0.5) + 50)
    assert est["linear/DA"] == pytest.approx(60_000 / 20_000)
    assert tr.estimate_seconds(plan, {"runs": {}})["finetune/DA"] is None  # no measured run of that width: no guess


def test_cli_reproduce_table2_is_registered(tmp_path, capsys):
    from scaling_mlps import cli
    assert cli.REPRODUCIBLE["table2"][0] == "scaling_mlps.transfer"
    with pytest.raises(SystemExit) as e:  # no data: the command says what is missing instead of an empty table
        cli.run(["reproduce", "table2", "--scale", "ci", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert e.value.code == 2 and "table2 ran no row" in capsys.readouterr().err
    assert (tmp_path / "out" / "table2_ci.md").exists()


def test_settings_table_names_sources():
    t = scales.transfer_settings_table("laptop")
    assert "| fine-tuning learning rate | head 0.01, body 0.001 | paper §4.3 | as the paper scale |" in t
    assert "| linear probe optimizer, lr | LION, 1e-5 | paper appendix A.3 | lr 0.0001 (ours:" in t
    assert scales.transfer_settings_table("paper").count("as the paper scale") == len(paper.TRANSFER_SETTINGS)


def test_reproduce_skips_missing_data_with_reason(tmp_path):
    rep = tr.reproduce(scale="ci", data_dir=tmp_path / "empty", out=tmp_path / "out", download=False, progress=False, verbose=False)
    assert rep["rows"] == [] and "no public download" in rep["skipped"]["tinyimagenet"]
    md = (tmp_path / "out" / "table2_ci.md").read_text()
    assert "Skipped:" in md and str(tmp_path) not in md


def test_paper_path_offline_end_to_end(real_data_dir, tmp_path):
    "name → download (127.0.0.1) → verify → load → fine-tune one epoch → evaluate with and without TTA; the rest skipped with reasons."
    srv = serve_folder(tmp_path / "srv")
    try:
        reg = toy_registry(tmp_path / "srv", f"http://127.0.0.1:{srv.server_port}")
        data = tmp_path / "data"; data.mkdir()
        (data / "cifar10").symlink_to(Path(real_data_dir) / "cifar10")
        kw = dict(scale="paper", data_dir=data, out=tmp_path / "out", datasets=("cifar10",), registry=reg, device="cpu",
                  finetune_overrides=dict(epochs=1, n_train=128, batch_size=64), tta_views=2, progress=False, verbose=False)
        rep = tr.reproduce(**kw)
        rows = {(r["table"], r["name"]): r for r in rep["rows"]}
        ran = rows["table2", "B-6/Wi-1024 + DA"]
        assert ran["status"] == "ran" and 0 <= ran["ours_no_tta"] <= 100 and 0 <= ran["ours_tta"] <= 100
        assert (data / "checkpoints" / "B_6-Wi_1024_res_64_in21k.pt").exists()
        run = rep["runs"][ran["run_dir"]]
        assert run["config"]["resolution"] is None and len(run["history"]) == 1  # the checkpoint's 64 px, one epoch
        assert rows["table2", "B-6/Wi-1024"]["reason"] == paper.NO_CHECKPOINT
        assert "could not download" in rows["table2", "B-12/Wi-1024 + DA + TTA"]["reason"]
        assert rows["checkpoints", "B_6-Wi_1024"]["status"] == "ran"
        text = (tmp_path / "out" / "table2_paper.md").read_text() + (tmp_path / "out" / "table2_paper.json").read_text()
        assert str(tmp_path) not in text
        assert {r["status"] for r in tr.reproduce(**kw)["rows"]} == {"reused", "skipped"}
    finally: srv.shutdown()


def test_reproduce_ci_on_real_data(real_data_dir, tmp_path):
    rep = tr.reproduce(scale="ci", data_dir=real_data_dir, out=tmp_path, progress=False, verbose=False)
    rows = {r["key"]: r for r in rep["rows"]}
    assert {"finetune/DA", "finetune/noDA", "linear/DA", "finetune/DA-25%", "scratch/same-compute"} <= set(rows)
    assert all(0 <= r["ours"] <= 100 for r in rows.values())
    saved = json.loads((tmp_path / "table2_ci.json").read_text())
    assert saved["runs"][rows["finetune/DA"]["run_dir"]]["config"]["init_from"] == "runs/table1_ci/tinyimagenet/B_6-Wi_32-DA-e4-r64"
    assert str(tmp_path) not in (tmp_path / "table2_ci.json").read_text()
    g = report_table2.transfer_gain(rep, "finetune/DA")
    assert g["gain_same_epochs"] == pytest.approx(rows["finetune/DA"]["ours"] - rows["finetune/DA"]["scratch_same_epochs"])
    assert "Claim 1" in report_table2.findings(rep)
