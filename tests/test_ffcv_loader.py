"""The optional FFCV backend: an error that says how to install it when FFCV is missing; with FFCV, a .beton
written from made-up images reads back as DeviceLoader's batches (order, normalization, labels, resume)."""
import sys

import pytest
import torch

from scaling_mlps.data import ImageData
from scaling_mlps.ffcv_loader import FFCVLoader, ffcv_available, require_ffcv, write_beton
from scaling_mlps.loader import DeviceLoader

# numba's dispatcher finalizers raise a harmless KeyError at garbage collection for FFCV's compiled decoders
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
STATS = dict(mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3))


def made_up(n=45, size=8, classes=6) -> ImageData:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    labels = torch.randperm(n, generator=g) % classes  # labels not in index order, so a wrong order shows
    return ImageData(images, labels, [str(c) for c in range(classes)], STATS["mean"], STATS["std"], "made-up", "train")


def test_without_ffcv_using_it_says_how_to_install(monkeypatch, tmp_path):
    for name in [k for k in sys.modules if k == "ffcv" or k.startswith("ffcv.")]: monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ffcv", None)  # `import ffcv` now fails as if it were not installed
    assert not ffcv_available()
    with pytest.raises(ImportError, match=r'pip install "scaling_mlps\[ffcv\]".*libopencv-dev libturbojpeg0-dev'):
        require_ffcv()
    with pytest.raises(ImportError, match="scaling_mlps"): write_beton(made_up(), tmp_path / "x.beton")
    with pytest.raises(ImportError, match="scaling_mlps"): FFCVLoader(tmp_path / "x.beton", 4, train=False, **STATS)


@pytest.fixture(scope="module")
def beton(tmp_path_factory):
    pytest.importorskip("ffcv.loader")
    data = made_up()
    return write_beton(data, tmp_path_factory.mktemp("ffcv") / "made_up.beton", num_workers=1), data


def test_eval_covers_every_example_once_with_its_label(beton):
    path, data = beton
    loader = FFCVLoader(path, 8, train=False, device="cpu", num_workers=1, **STATS)
    assert len(loader) == 6
    batches = list(loader)
    assert [len(y) for _, y in batches] == [8, 8, 8, 8, 8, 5]
    x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    assert x.shape == (45, 3, 8, 8) and x.dtype == torch.float32 and x.is_contiguous() and y.dtype == torch.int64
    assert torch.equal(y, data.labels)
    mean, std = torch.tensor(STATS["mean"]).view(1, 3, 1, 1), torch.tensor(STATS["std"]).view(1, 3, 1, 1)
    torch.testing.assert_close(x, (data.images.float() / 255 - mean) / std, atol=1e-5, rtol=0)
    assert loader.state_dict() == {"epoch": 1, "step": 0}


def test_eval_at_another_resolution_resizes(beton):
    path, data = beton
    x, y = next(iter(FFCVLoader(path, 16, train=False, resolution=12, device="cpu", num_workers=1, **STATS)))
    assert x.shape == (16, 3, 12, 12) and torch.equal(y, data.labels[:16])


def test_train_order_matches_device_loader_and_resumes(beton):
    path, data = beton
    ours = FFCVLoader(path, 8, train=True, seed=5, device="cpu", num_workers=1, **STATS)
    ref = DeviceLoader(data.images, data.labels, 8, train=True, seed=5, device="cpu", **STATS)
    assert len(ours) == len(ref) == 5  # 45 // 8: the partial batch is dropped
    for epoch in range(2):
        got, want = list(ours), list(ref)
        assert len(got) == 5 and all(len(y) == 8 for _, y in got)
        for (x, y), (xr, yr) in zip(got, want):
            assert torch.equal(y, yr)
            torch.testing.assert_close(x, xr, atol=1e-5, rtol=0)
    assert torch.cat([y for _, y in got]).unique().numel() <= 6 and ours.state_dict() == {"epoch": 2, "step": 0}
    ours.load_state_dict({"epoch": 1, "step": 3})
    rest = list(ours)
    assert len(rest) == 2
    for (x, y), (xr, yr) in zip(rest, want[3:]): assert torch.equal(y, yr)
    with pytest.raises(ValueError, match="step=9"): ours.load_state_dict({"epoch": 0, "step": 9})
    assert ours.state_dict() == {"epoch": 2, "step": 0}  # a rejected position leaves the loader where it was
    batches = iter(ours); next(batches); batches.close()  # stopping early (ends FFCV's thread) keeps the position
    assert ours.state_dict() == {"epoch": 2, "step": 1}


def test_augmented_batches_have_shape_range_and_labels(beton):
    path, data = beton
    loader = FFCVLoader(path, 9, train=True, resolution=16, augment=True, crop_scale=(0.25, 1), device="cpu",
                        num_workers=1, seed=1, **STATS)
    ref = DeviceLoader(data.images, data.labels, 9, train=True, seed=1, device="cpu", **STATS)
    mean, std = torch.tensor(STATS["mean"]).view(1, 3, 1, 1), torch.tensor(STATS["std"]).view(1, 3, 1, 1)
    for (x, y), (_, yr) in zip(loader, ref):
        assert x.shape == (9, 3, 16, 16) and x.dtype == torch.float32
        assert torch.equal(y, yr)  # augmentation changes pixels, never which example a row is
        assert (x >= -mean / std - 1e-5).all() and (x <= (1 - mean) / std + 1e-5).all()
        assert x.std() > 0.1  # real pixels, not an empty buffer


def test_bad_files(beton, tmp_path):
    path, data = beton
    with pytest.raises(FileNotFoundError, match="nope.beton"): FFCVLoader(tmp_path / "nope.beton", 4, train=False, **STATS)
    bad = ImageData(data.images.float(), data.labels, data.classes, STATS["mean"], STATS["std"], "x", "train")
    with pytest.raises(ValueError, match="uint8 RGB"): write_beton(bad, tmp_path / "bad.beton")
