"""The training loop under torchrun: 2 CPU processes with gloo give one log, one checkpoint, and the weights of one process with the same global batch."""
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch

from test_train import make_folder


def _args(tmp_path: Path, out: str) -> list[str]:
    return ["-m", "scaling_mlps.cli", "train", "--dataset", f"folder:{tmp_path / 'images'}", "--data-dir", str(tmp_path / "data"),
            "--data-resolution", "8", "--arch", "B_2-Wi_32", "--epochs", "3", "--batch-size", "32", "--optimizer", "sgd",
            "--lr", "0.05", "--no-augment", "--device", "cpu", "--out", str(tmp_path / out), "--no-progress", "--json"]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not available")
def test_two_process_gloo_matches_one_process(tmp_path):
    make_folder(tmp_path / "images")
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, *_args(tmp_path, "single")], env=env, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          *_args(tmp_path, "ddp")], env=env, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    results = [json.loads(l) for l in ddp.stdout.splitlines() if l.startswith("{")]
    assert len(results) == 1 and results[0]["world_size"] == 2           # only rank 0 reports
    log = (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()
    assert len(log) == 3                                                 # only rank 0 writes
    one = json.loads(single.stdout.splitlines()[-1])
    assert [h["step"] for h in results[0]["history"]] == [h["step"] for h in one["history"]]
    a, b = (torch.load(tmp_path / r / "model.pt", weights_only=True) for r in ("single", "ddp"))
    for k in a: torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)  # same global batches, averaged gradients
