"""Chapter 3's TTA measurements: every k from one pass of views, the views as `predict` draws them, the models as
data (Table 1's runs, chapter 2's, skipped with reasons), Tiny-ImageNet's boxes, paired intervals, timing."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from scaling_mlps import tta as T
from scaling_mlps.augment import tta_views
from scaling_mlps.data import ImageData, load_dataset
from scaling_mlps.evaluate import predict
from scaling_mlps.runs import config_dict
from scaling_mlps.scales import logged_run, row_config


class Linear(nn.Module):
    "A fixed random linear classifier of 8x8 images."
    def __init__(self, classes: int = 5):
        super().__init__(); torch.manual_seed(0); self.fc = nn.Linear(3 * 8 * 8, classes)
    def forward(self, x): return self.fc(x.flatten(1))


def toy(n: int = 60, classes: int = 5) -> ImageData:
    g = torch.Generator().manual_seed(1)
    return ImageData(torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g),
                     torch.randint(0, classes, (n,), generator=g), [str(i) for i in range(classes)],
                     (0.5,) * 3, (0.25,) * 3, "toy", "test", None)


def test_every_k_from_one_pass_matches_predict():
    data, model = toy(), Linear()
    kw = dict(mean=data.mean, std=data.std, batch_size=100, device="cpu", seed=3)
    right = T.tta_correct(model, data.images, data.labels, views=(1, 2, 10), **kw)
    for average in ("logits", "softmax"):
        full = predict(model, data.images, tta=10, average=average, **kw)
        assert torch.equal(right[average][-1], full.argmax(1) == data.labels)
    first = torch.cat([l for l, _ in T.view_logits(model, data.images, data.labels, views=10, **kw)], 1)[:2].mean(0)
    assert torch.equal(right["logits"][1], first.argmax(1) == data.labels)  # k=2: the first two views of the ten


def test_the_compiled_views_are_the_eager_views():
    from scaling_mlps import augment
    x = torch.randn(30, 3, 12, 12)
    fast = tta_views(x, 10, 16, generator=torch.Generator().manual_seed(0))  # 300 views: the compiled CPU path
    saved, augment.TTA_COMPILE_MIN_VIEWS = augment.TTA_COMPILE_MIN_VIEWS, None
    try: slow = tta_views(x, 10, 16, generator=torch.Generator().manual_seed(0))
    finally: augment.TTA_COMPILE_MIN_VIEWS = saved
    assert torch.allclose(fast, slow, atol=1e-4)


def test_measure_model_curves_and_bits():
    data = toy()
    res, bits = T.measure_model(Linear(), data, resolution=8, views=(1, 5), seeds=3, device="cpu")
    curve = res["curves"]["crops + flips"]
    assert len(curve["logits"]["5"]) == 3 and len(res["curves"]["crops only"]["softmax"]["1"]) == 1
    assert bits["plain"].shape == bits["tta"].shape == (60,) and bits["tta"].mean() == pytest.approx(curve["logits"]["5"][0])
    full = ImageData(torch.nn.functional.interpolate(data.images.float(), size=16).to(torch.uint8), data.labels, data.classes,
                     data.mean, data.std, "toy", "test", None)
    res2, _ = T.measure_model(Linear(), data, resolution=8, views=(1,), seeds=1, full_data=full, device="cpu")
    assert "crops + flips, cut from 64 px" in res2["curves"] and 0 <= res2["plain, cut from 64 px"] <= 1


def test_gain_intervals():
    plain = np.array([True] * 50 + [False] * 50)
    assert T.gain_ci(plain, plain)["gain"] == 0 and T.gain_ci(plain, plain)["lo"] == 0
    tta = plain.copy(); tta[50:60] = True  # 10 fixed of 100
    r = T.gain_ci(plain, tta)
    assert r["gain"] == pytest.approx(10) and r["fixed"] == 10 and r["broken"] == 0 and 4 < r["lo"] < 10 < r["hi"]
    d = T.gain_difference_ci((plain, plain), (plain, tta))
    assert d["difference"] == pytest.approx(10) and d["lo"] > 0
    b = T.bucket_gains(plain, tta, {"x": np.arange(100.0)})
    assert [x["n"] for x in b["x"]["buckets"]] == [34, 33, 33]
    with pytest.raises(ValueError, match="no images"): T.gain_ci(plain[:0], tta[:0])


def test_time_tta_rows():
    rows = T.time_tta(Linear(), toy(), resolution=8, views=(2,), n=30, device="cpu")
    assert [r["views"] for r in rows] == [0, 2] and rows[1]["views_per_s"] > 0


def test_models_as_data_skip_with_reasons(tmp_path):
    entries = T.resolve_models("cifar10", "laptop", tmp_path, train=False)
    table1 = [e for e in entries if e["source"] == "table1"]
    assert [e["name"] for e in table1] == ["S-MLP, no DA", "S-MLP + DA", "B-MLP, no DA", "B-MLP + DA"]
    assert all(e["status"] == "skipped" and "reproduce table1 --scale laptop" in e["reason"] for e in table1)
    assert table1[2]["run_dir"].endswith("B_6-Wi_64-noDA-e10-r32")  # the no-DA row is read off its 10-epoch run
    assert table1[3]["run_dir"] == "runs/table1_laptop/cifar10/B_6-Wi_64-DA-e200-r32"
    ft = [e for e in entries if e["source"] == "table2"]
    assert len(ft) == 1 and ft[0]["status"] == "skipped" and "of cifar10 under runs/table2_laptop/" in ft[0]["reason"]
    assert not [e for e in entries if e["source"] == "hub"]  # the authors' checkpoint is measured at the paper scale only
    # a finished fine-tuning run of chapter 2 is picked up
    for dataset in ("cifar10", "cifar100"):  # chapter 2 files its runs as runs/table2_<scale>/<mode>/<dataset>/<run>
        run = tmp_path / "runs" / "table2_laptop" / "finetune" / dataset / "B_6-Wi_64-ft"
        run.mkdir(parents=True)
        torch.save({}, run / "model.pt")
        (run / "result.json").write_text(json.dumps({"config": {"dataset": dataset, "mode": "finetune", "arch": "B_6-Wi_64",
                                                                "init_from": "/x/pre/model.pt"}}))
    ft = [e for e in T.resolve_models("cifar10", "laptop", tmp_path, train=False) if e["source"] == "table2"]
    assert len(ft) == 1 and ft[0]["status"] is None and ft[0]["run_dir"] == "runs/table2_laptop/finetune/cifar10/B_6-Wi_64-ft"


def test_table1_run_of_another_configuration_is_skipped_not_retrained(tmp_path):
    "A finished run in the right folder whose run.json says another configuration (or an unfinished one) is never used or resumed."
    cfg = logged_run(row_config("cifar10/B-MLP-DA-5000E", "laptop"), "laptop")
    run = tmp_path / "runs" / "table1_laptop" / "cifar10" / "B_6-Wi_64-DA-e200-r32"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"config": config_dict(cfg) | {"lr": 1.0}}))
    (run / "result.json").write_text("{}"); torch.save({}, run / "model.pt")
    def status(): return next(e for e in T.resolve_models("cifar10", "laptop", tmp_path, train=False) if e["name"] == "B-MLP + DA")
    assert status()["status"] == "skipped"
    (run / "run.json").write_text(json.dumps({"config": config_dict(cfg)}))
    (run / "result.json").unlink()  # interrupted: a checkpoint but no result
    assert status()["status"] == "skipped"
    (run / "result.json").write_text("{}")  # finished, same configuration: reused as it is
    assert (status()["status"], status()["training"]) == (None, "reused")


def test_logged_run_is_tables_run():
    cfg = logged_run(row_config("tinyimagenet/S-MLP-100E", "laptop"), "laptop")
    assert (cfg.epochs, cfg.resolution, cfg.data_resolution, cfg.augment) == (10, 32, 32, False)
    assert config_dict(logged_run(row_config("cifar10/B-MLP-DA-5000E", "ci"), "ci"))["epochs"] == 4


def test_tiny_boxes_follow_the_file_order(real_data_dir):
    data = load_dataset("tinyimagenet", "test", data_dir=real_data_dir, resolution=32, progress=False)
    boxes = T.tiny_val_boxes(real_data_dir, data.files)
    assert boxes.shape == (10_000, 4) and boxes.min() >= 0 and boxes.max() <= 63
    lines = (real_data_dir / "tiny-imagenet-200" / "val" / "val_annotations.txt").read_text().splitlines()
    first = lines[0].split("\t")
    i = [f.split("/")[-1] for f in data.files].index(first[0])
    assert boxes[i].tolist() == [float(v) for v in first[2:6]]
    f = T.box_features(boxes)
    assert 0 <= f["centre distance"].min() and f["centre distance"].max() <= np.sqrt(2)
    assert 0 < f["box area"].min() and f["box area"].max() <= 1
    with pytest.raises(KeyError, match="no box"): T.tiny_val_boxes(real_data_dir, ["val_99999.JPEG"])


def test_cli_reproduce_tta_before_table1_says_what_to_run(real_data_dir, tmp_path, capsys):
    "`scaling-mlps reproduce tta` where Table 1's runs are not in --out: exit status 2 and one line naming the command to run."
    from scaling_mlps import cli
    with pytest.raises(SystemExit) as stop:
        cli.run(["reproduce", "tta", "--scale", "laptop", "--data-dir", str(real_data_dir), "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and err[-1].startswith("scaling-mlps reproduce: error: tta ran no row: cifar10 S-MLP, no DA: "), err
    assert "run `scaling-mlps reproduce table1 --scale laptop` first, with the same --out" in err[-1] and "Traceback" not in "".join(err)
    assert not (tmp_path / "runs" / "table1_laptop").exists()  # nothing was trained
    assert (tmp_path / "tta_laptop.md").exists()  # the report with the reasons is still written


def test_two_transfer_runs_from_one_checkpoint_get_distinct_names(tmp_path):
    "Linear probes at two learning rates start from the same checkpoint; a name keys the per-image results, so they must differ."
    for lr in ("0.0001", "1e-05"):
        run = tmp_path / "runs" / "table2_laptop" / "linear" / "cifar10" / f"B_6-Wi_64-DA-e100-r32-lr{lr}-e50"
        run.mkdir(parents=True)
        torch.save({}, run / "model.pt")
        (run / "result.json").write_text(json.dumps({"config": {"dataset": "cifar10", "mode": "linear", "arch": "B_6-Wi_64",
                                                                "lr": float(lr), "init_from": "/x/B_6-Wi_64-DA-e100-r32/model.pt"}}))
    entries = [e for e in T.resolve_models("cifar10", "laptop", tmp_path, train=False) if e["source"] == "table2"]
    names = [e["name"] for e in entries]
    assert len(names) == 2 and len(set(names)) == 2, names
    assert all(not Path(e["config"]["init_from"]).is_absolute() for e in entries)  # the report must not carry this machine's paths
    assert all(n.startswith("B_6-Wi_64 linear from model.pt (B_6-Wi_64-DA-e100-r32-lr") for n in names), names
