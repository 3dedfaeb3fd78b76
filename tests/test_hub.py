"""The authors' checkpoint registry, and download -> verify -> load against a local HTTP server."""
import functools, hashlib, http.server, os, threading
from pathlib import Path

import pytest
import torch

from scaling_mlps.core import DownloadError
from scaling_mlps.hub import CHECKPOINTS, HubCheckpoint, download_checkpoint, hub_path, load_hub_checkpoint
from scaling_mlps.hub import load_pretrained
from scaling_mlps.models import get_model


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        cut = self.path.startswith("/cut/")
        p = Path(self.directory) / self.path.removeprefix("/cut/").lstrip("/")
        if not p.exists(): return self.send_error(404)
        data = p.read_bytes()
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if "Range" in self.headers else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start)); self.end_headers()
        self.wfile.write(data[start:len(data) // 2] if cut else data[start:])


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "srv"; root.mkdir()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def test_registry_matches_published_names():
    assert {"B_12-Wi_1024_res_64_in21k", "B_12-Wi_1024_res_64_in21k_cifar10", "B_6-Wi_512_res_64_in21k_imagenet"} <= set(CHECKPOINTS)
    assert all(c.url.startswith("https://drive.google.com/") and c.resolution == 64 for c in CHECKPOINTS.values())
    assert CHECKPOINTS["B_12-Wi_1024_res_64_in21k"].num_classes == 11230


def test_download_verify_load(tmp_path, server):
    root, base = server
    torch.manual_seed(0); model = get_model("B_2-Wi_32", 8, 7)
    torch.save(model.state_dict(), root / "w"); blob = (root / "w").read_bytes()
    kw = dict(file="w", arch="B_2-Wi_32", resolution=8, num_classes=7, dataset="toy", epochs=1)
    reg = {"toy": HubCheckpoint(name="toy", url=f"{base}/w", sha256=hashlib.sha256(blob).hexdigest(), size=len(blob), **kw),
           "cut": HubCheckpoint(name="cut", url=f"{base}/cut/w", size=len(blob), **kw),
           "bad": HubCheckpoint(name="bad", url=f"{base}/w", sha256="0" * 64, **kw),
           "wrong": HubCheckpoint(name="wrong", url=f"{base}/w", **(kw | {"num_classes": 1000}))}
    data = tmp_path / "data"
    with pytest.raises(DownloadError, match="expected"):
        download_checkpoint("cut", data, progress=False, registry=reg)
    assert not hub_path("cut", data).exists()                      # never a partial file under the final name
    with pytest.raises(DownloadError, match="does not match"):
        download_checkpoint("bad", data, progress=False, registry=reg)
    assert not hub_path("bad", data).exists()
    path = download_checkpoint("toy", data, progress=False, registry=reg)
    assert path == data / "checkpoints" / "toy.pt" and path.read_bytes() == blob
    state = load_hub_checkpoint("toy", data, registry=reg)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    loaded, info = load_pretrained(path)
    x = torch.randn(3, 3, 8, 8)
    assert torch.equal(loaded(x), model(x)) and info["arch"] == "B_2-Wi_32"
    with pytest.raises(ValueError, match="should be"):
        load_hub_checkpoint("wrong", data, registry=reg)


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self): return (os.system, ("echo pwned",))
    torch.save({"linear_in.weight": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=r"evil\.pt contains pickled code or objects \(posix\.system\)"):
        load_pretrained(tmp_path / "evil.pt")
