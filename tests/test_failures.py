"""Failure modes through the console script: each is one line naming the file or value and what to do, exit status 2
(never a traceback); a damaged dataset cache is named and rebuilt; a `reproduce` that ran no row does not exit 0;
Ctrl-C says what is kept (status 130); a folder another process holds, or a full disk, is named in one line.

Downloads are made to fail offline and at once: every subprocess gets http(s)_proxy pointing at a closed port of
127.0.0.1, so urllib (and torchvision's download, which uses it) is refused there instead of reaching the internet.
"""
import errno, json, os, re, shutil, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from scaling_mlps.cli import build_parser, main
from scaling_mlps.core import folder_lock
from scaling_mlps.data import _cache_key, load_dataset
from scaling_mlps.evaluate import evaluate
from scaling_mlps.models import get_model
from scaling_mlps.train import TrainConfig, load_checkpoint
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


# ---- 4. a new user's first hour (issue 23): Ctrl-C, two processes, a full disk, logs, help -------------------------

def _slow_train(tmp_path: Path, out: str, *extra) -> list[str]:
    "`scaling-mlps train` on the tiny folder dataset for long enough to be interrupted: a checkpoint every epoch."
    return [*CONSOLE, "train", "--dataset", f"folder:{tmp_path / 'images'}", "--data-dir", str(tmp_path / "data"),
            "--data-resolution", "8", "--arch", "B_2-Wi_64", "--epochs", "500", "--batch-size", "16", "--device", "cpu",
            "--out", str(tmp_path / out), *extra]


def _wait_for_checkpoint(proc: subprocess.Popen, ckpt: Path, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not ckpt.exists(): time.sleep(0.05)
    assert proc.poll() is None and ckpt.exists(), "the run ended (or wrote no checkpoint) before it could be interrupted"


def _interrupt(proc: subprocess.Popen) -> tuple[int, str]:
    "Ctrl-C (SIGINT) to `proc`: its exit status and stderr."
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def test_ctrl_c_in_train_says_what_is_kept(tmp_path):
    make_folder(tmp_path / "images")
    proc = subprocess.Popen(_slow_train(tmp_path, "run", "--no-progress"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
    _wait_for_checkpoint(proc, tmp_path / "run" / "checkpoint.pt")
    code, err = _interrupt(proc)
    assert code == 130 and "Traceback" not in err, err[-3000:]
    line = err.strip().splitlines()[-1]
    saved = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["epoch"]
    assert re.fullmatch(rf"scaling-mlps train: train interrupted in epoch \d+ of 500; {tmp_path / 'run' / 'checkpoint.pt'} "
                        rf"\(after epoch {saved}\) is kept; to continue, run the same command with --resume", line), line
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_ctrl_c_in_reproduce_says_a_new_reproduce_reuses_runs(tmp_path, real_data_dir):
    proc = subprocess.Popen([*CONSOLE, "reproduce", "table1", "--scale", "ci", "--data-dir", str(real_data_dir), "--out",
                             str(tmp_path / "out"), "--device", "cpu", "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not list((tmp_path / "out").glob("runs/**/checkpoint.pt")):
        time.sleep(0.1)
    assert proc.poll() is None, "reproduce ended before its first checkpoint"
    code, err = _interrupt(proc)
    assert code == 130 and "Traceback" not in err, err[-3000:]
    line = err.strip().splitlines()[-1]
    assert line.startswith("scaling-mlps reproduce: reproduce table1 interrupted") and line.endswith(
        f"finished runs in {tmp_path / 'out'} are kept: run `scaling-mlps reproduce table1` again to reuse them (and continue this one)"), line


def test_second_train_into_a_running_folder_fails_at_once(tmp_path):
    make_folder(tmp_path / "images")
    first = subprocess.Popen(_slow_train(tmp_path, "run", "--no-progress"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=os.environ | {"OMP_NUM_THREADS": "1"})
    try:
        _wait_for_checkpoint(first, tmp_path / "run" / "checkpoint.pt")
        second = subprocess.run(_slow_train(tmp_path, "run", "--no-progress", "--resume"), capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2
        assert error_line(second) == (f"scaling-mlps train: error: {tmp_path / 'run'} is in use by process {first.pid} "
                                      f"(a training run); wait for it to end, or use another folder (this process wanted "
                                      f"it for a training run)")
        assert first.poll() is None  # the first one runs on
    finally: first.kill(); first.wait()


def test_second_reproduce_into_a_results_folder_fails_at_once(tmp_path):
    with folder_lock(tmp_path / "results", "scaling-mlps reproduce table1"):
        run = console("reproduce", "table2", "--scale", "ci", "--data-dir", tmp_path / "data", "--out", tmp_path / "results")
    assert run.returncode == 2
    assert error_line(run).startswith(f"scaling-mlps reproduce: error: {tmp_path / 'results'} is in use by process "
                                      f"{os.getpid()} (scaling-mlps reproduce table1)")


def test_second_cache_build_of_one_dataset_fails_at_once(tmp_path):
    data = make_folder(tmp_path / "images")
    key = _cache_key(data, "train", 8, "squash")
    with folder_lock(tmp_path / "data" / "cache", f"building the cache {key}", lock_file=f"{key}.lock"):
        run = console("train", "--dataset", data, "--data-dir", tmp_path / "data", "--data-resolution", "8", "--epochs", "1")
    assert run.returncode == 2
    assert error_line(run).startswith(f"scaling-mlps train: error: {tmp_path / 'data' / 'cache'} is in use by process "
                                      f"{os.getpid()} (building the cache {key})")
    assert not [p for p in (tmp_path / "data" / "cache").iterdir() if p.suffix != ".lock"]  # it built nothing


def _exit(argv: list[str], capsys) -> tuple[int, str]:
    "Run the console script's `main` in this process: (exit status, last stderr line)."
    with pytest.raises(SystemExit) as stop: main([str(a) for a in argv])
    return stop.value.code, capsys.readouterr().err.strip().splitlines()[-1]


def test_full_disk_while_building_the_cache(tmp_path, monkeypatch, capsys):
    data = make_folder(tmp_path / "images")
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1000))
    code, line = _exit(["train", "--dataset", data, "--data-dir", tmp_path / "data", "--data-resolution", "8",
                        "--device", "cpu", "--no-progress"], capsys)
    key = _cache_key(data, "train", 8, "squash")  # 192 images of 3 x 8 x 8 bytes and an 8-byte label each: 38.4 KB
    assert code == 2 and line == (f"scaling-mlps train: error: no space left on the device for {tmp_path / 'data' / 'cache' / key}.npy: "
                                  f"it needs 38.4 KB and 1.0 KB is free there; free some space or write elsewhere"), line
    assert not [p for p in (tmp_path / "data" / "cache").iterdir() if p.suffix != ".lock"]  # nothing partial


def test_full_disk_while_writing_a_checkpoint(tmp_path, monkeypatch, capsys):
    data = make_folder(tmp_path / "images")
    def no_space(obj, f, *a, **kw):
        f.write(b"half a checkpoint"); raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(torch, "save", no_space)
    code, line = _exit(["train", "--dataset", data, "--data-dir", tmp_path / "data", "--data-resolution", "8", "--arch",
                        "B_2-Wi_32", "--epochs", "2", "--batch-size", "32", "--device", "cpu", "--out", tmp_path / "run",
                        "--no-progress"], capsys)
    assert code == 2 and re.fullmatch(rf"scaling-mlps train: error: no space left on the device for {tmp_path / 'run' / 'checkpoint.pt'}: "
                                      r"it needs [\d.]+ KB and [\d.]+ [KMGT]?B is free there; free some space or write elsewhere", line), line
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".lock", "log.jsonl"]  # no checkpoint.pt.tmp left


def test_full_disk_met_by_any_other_write(tmp_path, monkeypatch, capsys):
    "A report (or any file) whose write meets a full disk still ends in one line naming it."
    def no_space(*a, **kw): raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "results" / "x.json"))
    monkeypatch.setattr("scaling_mlps.cli._command", lambda args, sub: no_space())
    code, line = _exit(["reproduce", "table1", "--out", tmp_path / "results"], capsys)
    assert code == 2 and line.startswith(f"scaling-mlps reproduce: error: no space left on the device for {tmp_path / 'results' / 'x.json'}: "
                                         "it needs more and "), line


def test_data_dir_that_is_a_file_and_resolution_zero(tmp_path):
    (tmp_path / "file").write_text("")
    run = console("train", "--data-dir", tmp_path / "file", "--epochs", "1")
    assert run.returncode == 2 and error_line(run).endswith(
        f"error: the data directory {tmp_path / 'file'} is a file, not a directory; point --data-dir or $SCALING_MLPS_DATA at a folder")
    for flag in ("--resolution", "--data-resolution"):
        run = console("train", flag, "0", "--data-dir", tmp_path / "data")
        assert run.returncode == 2 and f"{flag[2:].replace('-', '_')}=0; expected a positive integer" in error_line(run)
    run = console("eval", "--checkpoint", tmp_path / "none.pt", "--dataset", "cifar10", "--data-resolution", "0", "--data-dir", tmp_path)
    assert run.returncode == 2 and "error: " in error_line(run)


def test_logs_get_one_line_per_epoch(tmp_path):
    "With stderr going to a file (not a terminal), progress is one line per epoch, no bar redraws."
    data = make_folder(tmp_path / "images")
    run = console("train", "--dataset", data, "--data-dir", tmp_path / "data", "--data-resolution", "8", "--arch", "B_2-Wi_32",
                  "--epochs", "3", "--batch-size", "32", "--device", "cpu", "--tta", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stderr.splitlines()
    assert "\r" not in run.stderr and len(lines) == 3, run.stderr
    for epoch, line in enumerate(lines, 1):
        assert re.fullmatch(rf"epochs {epoch}/3, loss [\d.]+, train [\d.]+%, test [\d.]+% \(\d+ s\)", line), line


def test_help_says_what_each_flag_does_and_where_its_default_comes_from():
    run = console("train", "--help")
    assert run.returncode == 0
    assert re.search(r"--lr X\s+the base learning rate \(default: 5e-05, from the\s+paper, §4.2\)", run.stdout), run.stdout
    for sub in ("train", "finetune"):
        for action in build_parser().subcommands[sub]._actions:
            flag = action.option_strings[-1] if action.option_strings else None
            if flag is None or flag == "--help": continue
            words = flag.lstrip("-").replace("-", " ")
            assert action.help and action.help.split(" (default")[0].strip().lower() != words, (sub, flag, action.help)


def test_build_site_keeps_a_folder_it_did_not_make(tmp_path):
    "tools/build_site.py --out DIR empties DIR first: only a folder it made (or an empty one), any other with --force."
    (tmp_path / "course").mkdir(); (tmp_path / "course" / "notes.md").write_text("mine")
    run = subprocess.run([sys.executable, "tools/build_site.py", "--out", tmp_path / "course"], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert run.returncode == 2 and (tmp_path / "course" / "notes.md").read_text() == "mine"
    assert run.stderr.strip().splitlines()[-1] == (
        f"build_site.py: error: --out {tmp_path / 'course'} holds files this builder did not write; it would delete them: "
        f"choose a new or empty folder, or pass --force to delete everything in it")
    import importlib.util
    spec = importlib.util.spec_from_file_location("build_site", Path(__file__).resolve().parents[1] / "tools" / "build_site.py")
    site = importlib.util.module_from_spec(spec); spec.loader.exec_module(site)
    site.prepare_out(tmp_path / "course", force=True)  # --force: emptied, and marked as the builder's
    assert [p.name for p in (tmp_path / "course").iterdir()] == [site.SITE_MARK]
    (tmp_path / "course" / "index.html").write_text("an old page")
    site.prepare_out(tmp_path / "course")  # a folder it made: emptied without --force
    assert [p.name for p in (tmp_path / "course").iterdir()] == [site.SITE_MARK]
