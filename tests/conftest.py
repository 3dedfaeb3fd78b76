"""Shared fixtures: real data from the offline archives, extracted once into a temporary folder.

`.ci/run` extracts the archives and sets `$SCALING_MLPS_DATA`; when it is not set, the fixture extracts
`../shared/data/*.tar.gz` itself (kept under the system temp dir between runs). Tests that need real data
are skipped where neither exists: the library never depends on `../shared`.
"""
import os, tarfile, tempfile
from pathlib import Path
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

def _extract(archive: Path, dest: Path) -> None:
    if not (dest / ".done").exists():
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as t: t.extractall(dest, filter="data")
        (dest / ".done").touch()

@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    "A data directory holding `cifar10/{train,test}`, `tiny-imagenet-200/` and `imagenet-real/{real.json,imagenet_val_labels.txt}`."
    env = os.environ.get("SCALING_MLPS_DATA")
    if env and (Path(env) / "cifar10" / "train").is_dir(): return Path(env)
    if not (SHARED / "cifar10.tar.gz").exists(): pytest.skip("no real data: set SCALING_MLPS_DATA or provide ../shared/data")
    root = Path(tempfile.gettempdir()) / "scaling_mlps_test_data"
    _extract(SHARED / "cifar10.tar.gz", root / "cifar10")
    _extract(SHARED / "tiny-imagenet-200.tar.gz", root)
    (root / "imagenet-real").mkdir(exist_ok=True)
    for name in ("real.json", "imagenet_val_labels.txt"):  # ReaL lists and the original labels, in file order
        dest = root / "imagenet-real" / name
        if not dest.exists() and (SHARED / "imagenet-real" / name).exists():
            dest.write_bytes((SHARED / "imagenet-real" / name).read_bytes())
    return root
