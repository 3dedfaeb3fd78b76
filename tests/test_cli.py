"""The `scaling-mlps` command line: errors with choices, --json as the last stdout line, --no-augment, eval with TTA."""
import json, subprocess, sys

import pytest

from scaling_mlps.cli import main, build_parser, _config_overrides
from scaling_mlps.train import TrainConfig
from test_train import make_folder


def test_bad_values_list_choices(capsys):
    with pytest.raises(SystemExit) as e: main(["train", "--scheduler", "step"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'step'" in err and "cosine" in err and "none" in err
    with pytest.raises(SystemExit): main(["bogus"])
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    with pytest.raises(SystemExit): main(["download", "not-a-checkpoint"])
    assert "B_12-Wi_1024_res_64_in21k" in capsys.readouterr().err


def test_no_augment_turns_off_crops_flips_mixup():
    cfg = TrainConfig(**_config_overrides(build_parser().parse_args(["train", "--no-augment"])))
    assert cfg.augment is False  # the loop passes augment to the loader (crops, flips) and gates MixUp on it


def test_train_json_then_eval(tmp_path):
    data = make_folder(tmp_path / "images")
    common = ["--data-dir", str(tmp_path / "data"), "--device", "cpu", "--no-progress", "--json"]
    run = subprocess.run([sys.executable, "-m", "scaling_mlps.cli", "train", "--dataset", data, "--data-resolution", "8",
                          "--arch", "B_2-Wi_32", "--epochs", "4", "--batch-size", "32", "--optimizer", "adamw", "--lr", "3e-3",
                          "--no-augment", "--out", str(tmp_path / "run"), *common], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["test_acc"] > 0.8 and result["config"]["augment"] is False
    console = [sys.executable, "-c", "import sys; from scaling_mlps.cli import main; sys.exit(main(sys.argv[1:]))"]  # as the console script
    ev = subprocess.run([*console, "eval", "--checkpoint", str(tmp_path / "run"),
                         "--dataset", data, "--data-resolution", "8", "--tta", "3", *common], capture_output=True, text=True)
    assert ev.returncode == 0, ev.stderr[-3000:]
    evr = json.loads(ev.stdout.strip().splitlines()[-1])
    assert evr["test_acc"] == pytest.approx(result["test_acc"]) and 0 <= evr["tta_acc"] <= 1


def test_finetune_cli_from_run(tmp_path):
    data = make_folder(tmp_path / "images")
    common = ["--data-dir", str(tmp_path / "data"), "--data-resolution", "8", "--device", "cpu", "--no-progress", "--json",
              "--batch-size", "32", "--epochs", "2"]
    pre = subprocess.run([sys.executable, "-m", "scaling_mlps.cli", "train", "--dataset", data, "--arch", "B_2-Wi_32",
                          "--optimizer", "adamw", "--lr", "3e-3", "--no-augment", "--out", str(tmp_path / "pre"), *common],
                         capture_output=True, text=True)
    assert pre.returncode == 0, pre.stderr[-3000:]
    ft = subprocess.run([sys.executable, "-m", "scaling_mlps.cli", "finetune", "--init-from", str(tmp_path / "pre" / "model.pt"),
                         "--dataset", data, "--mode", "linear", "--tta", "2", "--out", str(tmp_path / "ft"), *common],
                        capture_output=True, text=True)
    assert ft.returncode == 0, ft.stderr[-3000:]
    r = json.loads(ft.stdout.strip().splitlines()[-1])
    assert r["config"]["mode"] == "linear" and r["config"]["optimizer"] == "lion" and r["config"]["arch"] == "B_2-Wi_32"
    assert r["tta_acc"] is not None and (tmp_path / "ft" / "result.json").exists()


def test_readme_first_hour():
    "The README says how long the laptop main job took (as its committed report says) and what to open first."
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    train = json.loads((root / "results" / "table1_laptop.json").read_text())["train_wall_time_s"]  # its runs, as they ran
    assert f"{train / 60:.1f} min on one shared with other jobs (2026-12-05: `train_wall_time_s`" in readme
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    assert blocks[2] == "jupyter lab nbs/chapters/01_from_scratch.ipynb"  # right after the setup and test commands
    assert (root / "nbs" / "chapters" / "01_from_scratch.ipynb").exists()
