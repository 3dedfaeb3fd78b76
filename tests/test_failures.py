"""Failure modes through the console script: each is one line naming the file or value and what to do, exit status 2
(never a traceback); a damaged dataset cache is named and rebuilt; a `reproduce` that ran no row does not exit 0.

Downloads are made to fail offline and at once: every subprocess gets http(s)_proxy pointing at a closed port of
127.0.0.1, so urllib (and torchvision's download, which uses it) is refused there instead of reaching the internet.
"""
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch

from scaling_mlps.data import load_dataset
from scaling_mlps.evaluate import evaluate
from scaling_mlps.models import get_model
from scaling_mlps.train import TrainConfig
from test_train import make_folder

CONSOLE = [sys.executable, "-c", "import sys; from scaling_mlps.cli import main; sys.exit(main(sys.argv[1:]))"]
OFFLINE = {k: "http://127.0.0.1:9" for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")} | {"no_proxy": "", "NO_PROXY": ""}


def console(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    "Run `scaling-mlps *args` as the console script does, offline; returns the finished process (text output)."
    return subprocess.run([*CONSOLE, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=os.environ | OFFLINE)


def error_line(run: subprocess.CompletedProcess) -> str:
    "The one error line of a failed command: no traceback, the last stderr line says 'error: ...'."
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    last = run.stderr.strip().splitlines()[-1]
    assert ": error: " in last, run.stderr[-3000:]
    return last


# ---- 1. a reproduction that ran no row is a failure --------------------------------------------------------------

def test_reproduce_without_data_fails_and_says_where(tmp_path):
    run = console("reproduce", "table1", "--scale", "ci", "--data-dir", tmp_path / "empty", "--out", tmp_path / "out",
                  "--no-progress")
    assert run.returncode != 0
    line = error_line(run)
    assert "table1 ran no row" in line and f"Put the data into {tmp_path / 'empty'}" in line
    for name in ("cifar10", "cifar100", "tinyimagenet"):
        assert f"{name}: not in the data directory" in line
    assert f"{tmp_path / 'empty'}/cifar10/train/" in line  # where to put it, as a path on this machine
    assert (tmp_path / "out" / "table1_ci.md").exists()  # the report with the per-row reasons is still written


# ---- 2. a damaged cache is found, named and rebuilt ----------------------------------------------------------------

def _eval_setup(tmp_path):
    "A folder dataset cached at 8 px, a random B_2-Wi_32 checkpoint for it, and the accuracy the intact cache gives."
    data = make_folder(tmp_path / "images")
    test = load_dataset(data, "test", data_dir=tmp_path / "data", resolution=8, progress=False)
    torch.manual_seed(0); model = get_model("B_2-Wi_32", 8, 4)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    acc = evaluate(model.eval(), test.images, test.labels, mean=test.mean, std=test.std, device="cpu")
    npy = next(p for p in (tmp_path / "data" / "cache").glob("*-test-8px*.npy") if ".labels." not in p.name)
    return data, acc, npy


def _eval(tmp_path, data):
    return console("eval", "--checkpoint", tmp_path / "model.pt", "--dataset", data, "--data-resolution", 8,
                   "--data-dir", tmp_path / "data", "--device", "cpu", "--no-progress", "--json")


def test_truncated_cache_is_named_and_rebuilt(tmp_path):
    data, acc, npy = _eval_setup(tmp_path)
    npy.write_bytes(npy.read_bytes()[:2000])  # as a full disk leaves it
    run = _eval(tmp_path, data)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"{npy} is 2,000 bytes" in run.stderr and "cut short" in run.stderr and "rebuilding" in run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["test_acc"] == pytest.approx(acc)


def test_corrupted_cache_is_named_and_rebuilt(tmp_path):
    data, acc, npy = _eval_setup(tmp_path)
    raw = bytearray(npy.read_bytes())
    raw[1000:] = bytes(255 - b for b in raw[1000:])  # the same size, other pixels
    npy.write_bytes(raw)
    run = _eval(tmp_path, data)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"{npy} has CRC32" in run.stderr and "corrupted bytes" in run.stderr and "rebuilding" in run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["test_acc"] == pytest.approx(acc)


# ---- 3. user errors: one line naming the file or value, exit status 2 ----------------------------------------------

def test_unreachable_cifar10_download(tmp_path):
    run = console("train", "--dataset", "cifar10", "--data-dir", tmp_path, "--arch", "B_2-Wi_32", "--epochs", "1",
                  "--device", "cpu", "--no-progress")
    assert run.returncode == 2
    line = error_line(run)
    assert f"cifar10: could not download into {tmp_path}/cifar10" in line
    assert f"an ImageFolder {tmp_path}/cifar10/{{train,test}}/<class>/<image>" in line  # what to do without network


def test_unreachable_checkpoint_download(tmp_path):
    run = console("download", "B_6-Wi_512_res_64_in21k", "--data-dir", tmp_path, "--no-progress")
    assert run.returncode == 2
    line = error_line(run)
    dest = tmp_path / "checkpoints" / "B_6-Wi_512_res_64_in21k.pt"
    assert "could not download https://drive.google.com/" in line and f"put the file at {dest} yourself" in line


def test_file_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.pt").write_bytes(bytes(range(174, 256)) * 4)  # torch: "Unsupported operand 174"
    run = console("eval", "--checkpoint", tmp_path / "notes.pt", "--dataset", "cifar10", "--data-dir", tmp_path)
    assert run.returncode == 2
    line = error_line(run)
    assert f"{tmp_path / 'notes.pt'} is not a PyTorch checkpoint we can read" in line and "torch.save" in line


class Payload:
    "What a malicious checkpoint carries: a call to run while unpickling."
    def __reduce__(self): return (os.system, ("echo this must not run",))


def test_checkpoint_with_code(tmp_path):
    torch.save({"linear_in.weight": torch.zeros(2, 3), "x": Payload()}, tmp_path / "code.pt")
    data = make_folder(tmp_path / "images")
    run = console("finetune", "--init-from", tmp_path / "code.pt", "--dataset", data, "--data-resolution", 8,
                  "--data-dir", tmp_path / "data", "--device", "cpu", "--no-progress")
    assert run.returncode == 2 and "this must not run" not in run.stdout
    line = error_line(run)
    assert f"{tmp_path / 'code.pt'} contains pickled code or objects (posix.system)" in line and "weights_only" in line


@pytest.mark.parametrize("flag, value, expected", [
    ("--lr", ["nan"], "lr=nan; expected a finite number >= 0"),
    ("--label-smoothing", ["1"], "label_smoothing=1.0; expected a number in [0, 1)"),
    ("--crop-scale", ["1", "0.08"], "crop_scale=(1.0, 0.08); expected (low, high) with 0 < low <= high <= 1"),
])
def test_bad_training_values(tmp_path, flag, value, expected):
    data = make_folder(tmp_path / "images")
    run = console("train", "--dataset", data, "--data-dir", tmp_path / "data", "--arch", "B_2-Wi_32", "--epochs", "1",
                  "--batch-size", "32", "--device", "cpu", "--no-progress", flag, *value)
    assert run.returncode == 2
    assert expected in error_line(run)


def test_train_config_rejects_bad_numbers():
    for kw, expected in [(dict(lr=float("inf")), "lr=inf"), (dict(lr=-1e-4), "lr=-0.0001"),
                         (dict(weight_decay=float("nan")), "weight_decay=nan"), (dict(label_smoothing=-0.1), "label_smoothing=-0.1"),
                         (dict(mixup=-0.8), "mixup=-0.8"), (dict(crop_ratio=(4 / 3, 3 / 4)), "crop_ratio=(1.3333333333333333, 0.75)"),
                         (dict(crop_scale=(0.08, 1.5)), "crop_scale=(0.08, 1.5)"), (dict(clip_grad=0.0), "clip_grad=0.0")]:
        with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
            TrainConfig(**kw)
    TrainConfig(lr=0.0, weight_decay=0.0, label_smoothing=0.0, mixup=0.0, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0))
