import functools, http.server, threading

import pytest
import torch
import torch.nn.functional as F

from scaling_mlps.metrics import load_real_labels, real_accuracy, topk_accuracy, topk_correct


def test_topk_hard_labels():
    logits = torch.tensor([[0.1, 2.0, 0.3, 0.0], [3.0, 0.0, 1.0, 2.0], [0.0, 0.1, 0.2, 0.3]])
    labels = torch.tensor([1, 3, 0])
    c = topk_correct(logits, labels)
    assert c.ndim == 0 and c.is_floating_point() and c.item() == 1.0
    assert topk_accuracy(logits, labels, k=2) == pytest.approx(2 / 3)
    assert topk_accuracy(logits, labels, k=4) == 1.0


def test_topk_mixup_targets():
    logits = torch.tensor([[0.1, 2.0, 0.3, 0.0], [3.0, 0.0, 1.0, 2.0]])  # top-1: 1, 0; top-2: {1,2}, {0,3}
    lam = 0.7
    soft = lam * F.one_hot(torch.tensor([1, 3]), 4).float() + (1 - lam) * F.one_hot(torch.tensor([2, 0]), 4).float()
    assert topk_correct(logits, soft, k=1).item() == pytest.approx(0.7 + 0.3)
    assert topk_correct(logits, soft, k=2).item() == pytest.approx(2.0)
    assert topk_accuracy(logits[1:], soft[1:]) == pytest.approx(0.3)
    labels = torch.tensor([1, 2])
    assert topk_correct(logits, F.one_hot(labels, 4).float()) == topk_correct(logits, labels)


def test_topk_bad_inputs():
    logits = torch.randn(3, 4)
    with pytest.raises(ValueError, match="k=5"):
        topk_correct(logits, torch.tensor([0, 1, 2]), k=5)
    with pytest.raises(ValueError, match="expected int labels"):
        topk_correct(logits, torch.tensor([0.0, 1.0, 2.0]))


def test_real_on_the_real_file(real_data_dir):
    real = load_real_labels(real_data_dir / "imagenet-real" / "real.json")
    assert len(real) == 50_000 and sum(not labels for labels in real) == 3_163
    assert real[:10] == [[], [970, 795], [230, 231], [809], [516, 850], [57], [334], [700], [674], [332]]
    # by hand: image 0 unlabelled; hits 795, 231, 516, 57, 700; misses 1 (809), 0 (334), 0 (674), 0 (332) -> 5/9
    assert real_accuracy([0, 795, 231, 1, 516, 57, 0, 700, 0, 0], real[:10]) == pytest.approx(5 / 9)
    # all 50,000: right on the first 10 labelled images' second choice where it exists, wrong everywhere else
    preds = torch.full((50_000,), -1)
    preds[[1, 2, 4]] = torch.tensor([795, 231, 850])  # the second label of images 1, 2, 4
    assert real_accuracy(preds, real) == pytest.approx(3 / 46_837)
    logits = torch.zeros(50_000, 1000)
    assert real_accuracy(logits, real) == pytest.approx(sum(0 in l for l in real) / 46_837)
    assert load_real_labels(data_dir=real_data_dir, download=False) == real


def test_real_download_from_local_server(real_data_dir, tmp_path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(Quiet, directory=str(real_data_dir / "imagenet-real")))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        got = load_real_labels(data_dir=tmp_path, url=f"http://127.0.0.1:{srv.server_port}/real.json")
    finally:
        srv.shutdown()
    assert (tmp_path / "imagenet-real" / "real.json").exists() and len(got) == 50_000


def test_real_missing_and_malformed(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_real_labels(data_dir=tmp_path, download=False)
    bad = tmp_path / "bad.json"; bad.write_text("[[1], [2]]")
    with pytest.raises(ValueError, match="50,000"):
        load_real_labels(bad)
    with pytest.raises(ValueError, match="for 2 label lists"):
        real_accuracy([1, 2, 3], [[1], [2]])
