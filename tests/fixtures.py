"""Test fixtures: a local HTTP server and a toy checkpoint registry, for the offline tests of the download and paper-scale paths.

Imported by tests/test_transfer.py and by the transfer_paper notebook (`sys.path.insert(0, "../tests")`)."""
from __future__ import annotations
import functools, hashlib, http.server, os, threading
from pathlib import Path

import torch

from scaling_mlps.hub import CHECKPOINTS, HubCheckpoint
from scaling_mlps.models import get_model


def serve_folder(folder: str | os.PathLike):
    "A thread-served HTTP server on 127.0.0.1 for the files in `folder` (tests of the download path): call `.shutdown()` when done."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv

def toy_registry(folder: str | os.PathLike, url: str, width: int = 16, depth: int = 2) -> dict:
    "A hub registry under the names of the paper's B-6/Wi-1024 checkpoints, holding small B-MLPs written to `folder` in the authors' format; the B-12 names point at missing files."
    folder = Path(folder); folder.mkdir(parents=True, exist_ok=True)
    registry = {}
    for name, entry in CHECKPOINTS.items():
        if not name.startswith("B_6-Wi_1024") and not name.startswith("B_12-Wi_1024"): continue
        classes = 50 if entry.num_classes == 11230 else entry.num_classes  # a small stand-in for the 11,230-class head
        fields = dict(name=name, file=entry.file, arch=f"B_{depth}-Wi_{width}", resolution=64, num_classes=classes,
                      dataset=entry.dataset, epochs=entry.epochs, url=f"{url}/{name}.pt")
        if name.startswith("B_6-Wi_1024"):
            torch.manual_seed(len(registry))
            torch.save(get_model(fields["arch"], 64, classes).state_dict(), folder / f"{name}.pt")  # the authors' format
            blob = (folder / f"{name}.pt").read_bytes()
            fields |= dict(sha256=hashlib.sha256(blob).hexdigest(), size=len(blob))
        registry[name] = HubCheckpoint(**fields)
    return registry