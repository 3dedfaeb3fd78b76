import functools, hashlib, http.server, io, pickle, tarfile, threading, time
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd
from PIL import Image

from scaling_mlps.data import (CIFAR_MEAN, CIFAR_STD, IMAGENET_MEAN, IMAGENET_STD, balanced_subset, decode_image,
                               load_dataset)


def make_image_folder(root: Path, classes=("cat", "dog", "emu"), per_class=(4, 3, 5), size=(24, 20), seed=0):
    rng = np.random.default_rng(seed)
    for cls, n in zip(classes, per_class):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(root / cls / f"{i:03d}.jpg")


# ---- real data -----------------------------------------------------------------------------------------------

def test_cifar10_imagefolder_and_cache(real_data_dir):
    train = load_dataset("cifar10", "train", data_dir=real_data_dir, progress=False)
    t = time.perf_counter()
    again = load_dataset("cifar10", "train", data_dir=real_data_dir)
    assert time.perf_counter() - t < 1.0
    assert train.images.shape == (50000, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64 and torch.bincount(train.labels).tolist() == [5000] * 10
    assert train.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert (train.mean, train.std, train.num_classes) == (CIFAR_MEAN, CIFAR_STD, 10)
    assert torch.equal(again.images[::997], train.images[::997])
    mean = train.images[::7].float().mean((0, 2, 3)) / 255
    assert torch.allclose(mean, torch.tensor(CIFAR_MEAN), atol=0.01)  # the archive is real CIFAR-10
    first = real_data_dir / "cifar10" / "train" / train.files[0]
    assert np.array_equal(train.images[0].permute(1, 2, 0).numpy(), decode_image(first, 32))
    test = load_dataset("cifar10", "val", data_dir=real_data_dir, progress=False)
    assert len(test) == 10000 and test.split == "test"


def test_cifar10_subset_is_balanced_and_seeded(real_data_dir):
    a = load_dataset("cifar10", "train", data_dir=real_data_dir, n_train=1000, seed=5, progress=False)
    b = load_dataset("cifar10", "train", data_dir=real_data_dir, n_train=1000, seed=5, progress=False)
    c = load_dataset("cifar10", "train", data_dir=real_data_dir, n_train=1000, seed=6, progress=False)
    assert torch.bincount(a.labels).tolist() == [100] * 10
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    with pytest.raises(ValueError, match="n_train=10"):
        load_dataset("cifar10", "test", data_dir=real_data_dir, n_train=10)


def test_tinyimagenet_original_layout(real_data_dir):
    val = load_dataset("tinyimagenet", "val", data_dir=real_data_dir, progress=False)
    assert val.images.shape == (10000, 3, 64, 64) and val.num_classes == 200
    assert torch.bincount(val.labels).tolist() == [50] * 200
    assert (val.mean, val.std) == (IMAGENET_MEAN, IMAGENET_STD)
    # labels come from val_annotations.txt
    root = real_data_dir / "tiny-imagenet-200"
    name, wnid = (root / "val" / "val_annotations.txt").read_text().splitlines()[0].split("\t")[:2]
    assert val.files[0] == f"images/{name}" and val.classes[val.labels[0]] == wnid


# ---- ImageFolder datasets on data the test makes ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["imagenet", "imagenet21k", "folder"])
def test_imagefolder_datasets(tmp_path, name):
    root = tmp_path / ("mine" if name == "folder" else name)
    make_image_folder(root / "train", size=(40, 30)); make_image_folder(root / "val", per_class=(1, 1, 2), size=(30, 40))
    name = f"folder:{root}" if name == "folder" else name
    train = load_dataset(name, "train", data_dir=tmp_path, progress=False, resolution=16)
    test = load_dataset(name, "test", data_dir=tmp_path, progress=False, resolution=16)
    assert train.images.shape == (12, 3, 16, 16) and test.images.shape == (4, 3, 16, 16)
    assert test.labels.tolist() == [0, 1, 2, 2] and train.classes == ["cat", "dog", "emu"]
    assert load_dataset(name, "train", data_dir=tmp_path).images.shape == (12, 3, 64, 64)  # default 64 px
    assert len(list((tmp_path / "cache").glob("*.json"))) == 3


def test_errors_name_the_value(tmp_path):
    with pytest.raises(ValueError, match=r"'imagenet1k'.*known: cifar10, cifar100, stl10, tinyimagenet, imagenet, imagenet21k"):
        load_dataset("imagenet1k", "train", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}/imagenet.*val/<wnid>/ILSVRC2012_val_\*\.JPEG"):
        load_dataset("imagenet", "test", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"train/<wnid>/images"):
        load_dataset("tinyimagenet", "train", data_dir=tmp_path)
    with pytest.raises(ValueError, match="'dev'"):
        load_dataset("cifar10", "dev", data_dir=tmp_path)
    make_image_folder(tmp_path / "x" / "train")
    (tmp_path / "x" / "train" / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    with pytest.raises(ValueError, match=r"dog/broken\.jpg"):
        load_dataset(f"folder:{tmp_path / 'x'}", "train", data_dir=tmp_path, progress=False)
    left = [p.name for p in (tmp_path / "cache").glob("*") if p.suffix != ".lock"]  # lock files stay; their locks end with their process
    assert not left, left  # nothing half-written is left behind


# ---- torchvision downloads, against a local server -------------------------------------------------------------

def _serve(directory: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _tar(members: dict, dest: Path) -> str:
    with tarfile.open(dest, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
    return hashlib.md5(dest.read_bytes()).hexdigest()


def test_cifar100_download(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    def batch(n):
        return pickle.dumps({"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "fine_labels": list(range(n))})
    members = {"cifar-100-python/train": batch(8), "cifar-100-python/test": batch(4),
               "cifar-100-python/meta": pickle.dumps({"fine_label_names": [f"c{i}" for i in range(8)]})}
    (tmp_path / "srv").mkdir()
    md5 = _tar(members, tmp_path / "srv" / "cifar-100-python.tar.gz")
    digest = {k.split("/")[1]: hashlib.md5(v).hexdigest() for k, v in members.items()}
    srv = _serve(tmp_path / "srv")
    monkeypatch.setattr(tvd.CIFAR100, "url", f"http://127.0.0.1:{srv.server_port}/cifar-100-python.tar.gz")
    monkeypatch.setattr(tvd.CIFAR100, "tgz_md5", md5)
    monkeypatch.setattr(tvd.CIFAR100, "train_list", [["train", digest["train"]]])
    monkeypatch.setattr(tvd.CIFAR100, "test_list", [["test", digest["test"]]])
    monkeypatch.setattr(tvd.CIFAR100, "meta", {"filename": "meta", "key": "fine_label_names", "md5": digest["meta"]})
    try:
        train = load_dataset("cifar100", "train", data_dir=tmp_path / "data", progress=False)
        up = load_dataset("cifar100", "test", data_dir=tmp_path / "data", resolution=64, progress=False)
    finally:
        srv.shutdown()
    assert (tmp_path / "data" / "cifar100" / "cifar-100-python.tar.gz").exists()
    assert train.images.shape == (8, 3, 32, 32) and train.labels.tolist() == list(range(8))
    assert train.classes[:2] == ["c0", "c1"] and (train.mean, train.std) == (CIFAR_MEAN, CIFAR_STD)
    first = pickle.loads(members["cifar-100-python/train"])["data"][0].reshape(3, 32, 32)
    assert np.array_equal(train.images[0].numpy(), first)  # CHW, as stored
    assert up.images.shape == (4, 3, 64, 64)


def test_stl10_download(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    x = {s: rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8) for s, n in (("train", 6), ("test", 3), ("unlabeled", 1))}
    members = {f"stl10_binary/{s}_X.bin": v.tobytes() for s, v in x.items()}
    members["stl10_binary/train_y.bin"] = bytes([1, 2, 3, 4, 5, 6]); members["stl10_binary/test_y.bin"] = bytes([10, 1, 2])
    members["stl10_binary/class_names.txt"] = "\n".join(f"k{i}" for i in range(10)).encode()
    (tmp_path / "srv").mkdir()
    md5 = _tar(members, tmp_path / "srv" / "stl10_binary.tar.gz")
    digest = {k.split("/")[1]: hashlib.md5(v).hexdigest() for k, v in members.items()}
    srv = _serve(tmp_path / "srv")
    monkeypatch.setattr(tvd.STL10, "url", f"http://127.0.0.1:{srv.server_port}/stl10_binary.tar.gz")
    monkeypatch.setattr(tvd.STL10, "tgz_md5", md5)
    monkeypatch.setattr(tvd.STL10, "train_list", [[n, digest[n]] for n in ("train_X.bin", "train_y.bin", "unlabeled_X.bin")])
    monkeypatch.setattr(tvd.STL10, "test_list", [[n, digest[n]] for n in ("test_X.bin", "test_y.bin")])
    try:
        train = load_dataset("stl10", "train", data_dir=tmp_path / "data", progress=False)
        test = load_dataset("stl10", "test", data_dir=tmp_path / "data", resolution=64, progress=False)
    finally:
        srv.shutdown()
    assert train.images.shape == (6, 3, 96, 96) and train.labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert test.images.shape == (3, 3, 64, 64) and test.labels.tolist() == [9, 0, 1]
    assert (train.mean, train.std) == (CIFAR_MEAN, CIFAR_STD)


def test_failed_download_says_where_to_put_the_data(tmp_path, monkeypatch):
    monkeypatch.setattr(tvd.CIFAR10, "url", "http://127.0.0.1:9/cifar-10-python.tar.gz")  # nothing listens there
    with pytest.raises(RuntimeError, match=rf"cifar10: could not download into {tmp_path}/cifar10 .*without network, put the data "
                                           rf"into the data directory as an ImageFolder {tmp_path}/cifar10/{{train,test}}/<class>/<image>"):
        load_dataset("cifar10", "train", data_dir=tmp_path)
    monkeypatch.setattr(tvd.CIFAR100, "url", "http://127.0.0.1:9/cifar-100-python.tar.gz")
    with pytest.raises(RuntimeError, match=r"cifar-100-python/"):
        load_dataset("cifar100", "test", data_dir=tmp_path)


def test_balanced_subset_proportional():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    idx = balanced_subset(labels, 10, seed=0)
    assert torch.bincount(labels[idx]).tolist() == [5, 3, 2]
    assert torch.equal(idx, idx.sort().values) and len(idx.unique()) == 10


def test_decode_images_pool_and_serial_agree(tmp_path, monkeypatch):
    "Forked workers (single-threaded caller) and in-process decoding (threaded caller) write the same array."
    from scaling_mlps import data
    rng = np.random.default_rng(0)
    files = []
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        files.append(tmp_path / f"{i}.png")
    files = files * 20  # 800 files: several 256-image jobs
    pooled = np.array(data.decode_images(files, 16, tmp_path / "pool.npy", num_workers=2, progress=False))
    monkeypatch.setattr(data, "_can_fork", lambda: False)  # as under Jupyter or nbdev-test
    serial = np.array(data.decode_images(files, 16, tmp_path / "serial.npy", num_workers=2, progress=False))
    assert pooled.shape == (800, 3, 16, 16) and np.array_equal(pooled, serial)
    assert (pooled[0] == decode_image(files[0], 16).transpose(2, 0, 1)).all()


# ---- non-square images keep their borders (issue 9.2) ------------------------------------------------------------

def test_non_square_borders_survive(tmp_path):
    "A 4:3 photo with a red left and a blue right band (4 px of 64): squash and pad keep both, crop loses them."
    from scaling_mlps.data import FITS, PAD_FILL
    photo = np.zeros((48, 64, 3), np.uint8); photo[..., 1] = 255
    photo[:, :4] = (255, 0, 0); photo[:, -4:] = (0, 0, 255)
    (tmp_path / "photos" / "train" / "a").mkdir(parents=True)
    Image.fromarray(photo).save(tmp_path / "photos" / "train" / "a" / "photo.png")
    name = f"folder:{tmp_path / 'photos'}"
    views = {fit: load_dataset(name, "train", data_dir=tmp_path / "data", resolution=16, fit=fit, progress=False).images[0]
             for fit in FITS}
    red = lambda px: bool((px[0].int() > 2 * px[1].int()).all())  # px: (3, n)
    blue = lambda px: bool((px[2].int() > 2 * px[1].int()).all())
    assert red(views["squash"][:, :, 0]) and blue(views["squash"][:, :, -1])
    assert red(views["pad"][:, 2:14, 0]) and blue(views["pad"][:, 2:14, -1])
    assert views["pad"][:, :2].reshape(3, -1).T.tolist() == [list(PAD_FILL)] * 32
    assert not red(views["crop"][:, :, 0]) and not blue(views["crop"][:, :, -1])
    names = sorted(p.name for p in (tmp_path / "data" / "cache").glob("*.npy") if ".labels" not in p.name)
    assert [n.rsplit("-", 1)[1] for n in names] == ["crop.npy", "pad.npy", "squash.npy"]  # one cache per fit
    with pytest.raises(ValueError, match="fit='letterbox'"):
        load_dataset(name, "train", data_dir=tmp_path / "data", fit="letterbox")


# ---- a damaged cache is found, named and rebuilt (issue 10.2) ----------------------------------------------------

def _cached_folder(tmp_path):
    make_image_folder(tmp_path / "pets" / "train", size=(24, 20))
    load = lambda **kw: load_dataset(f"folder:{tmp_path / 'pets'}", "train", data_dir=tmp_path / "data", resolution=16,
                                     progress=False, **kw)
    good = load().images.clone()
    return load, good, next((tmp_path / "data" / "cache").glob("*px-squash.npy"))


def test_truncated_cache_is_named_and_rebuilt(tmp_path):
    load, good, npy = _cached_folder(tmp_path)
    npy.write_bytes(npy.read_bytes()[:1000])  # as a full disk leaves it
    with pytest.warns(UserWarning, match=rf"{npy} is 1,000 bytes.*cut short.*rebuilding"):
        assert torch.equal(load().images, good)
    npy.write_bytes(npy.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="cut short"):  # the size is checked even without the checksum
        assert torch.equal(load(verify=False).images, good)


def test_corrupted_cache_is_named_and_rebuilt(tmp_path, monkeypatch):
    load, good, npy = _cached_folder(tmp_path)
    def flip():
        data = bytearray(npy.read_bytes()); data[len(data) // 2] ^= 0x55; npy.write_bytes(data)
    flip()
    with pytest.warns(UserWarning, match=rf"{npy} has CRC32 [0-9a-f]{{8}}, but .* records [0-9a-f]{{8}} \(corrupted bytes\)"):
        assert torch.equal(load().images, good)
    flip()
    monkeypatch.setenv("SCALING_MLPS_VERIFY_CACHE", "0")  # the opt-out: the flipped byte is used
    assert not torch.equal(load().images, good)
    monkeypatch.delenv("SCALING_MLPS_VERIFY_CACHE")
    with pytest.warns(UserWarning, match="CRC32"):
        assert torch.equal(load().images, good)


def test_cache_of_older_version_is_rebuilt(tmp_path):
    "Caches written before checksums (no 'format' in the json) are rebuilt; without the source that is an error naming both."
    import json, shutil
    load, good, npy = _cached_folder(tmp_path)
    meta_file = npy.with_suffix(".json")
    meta = json.loads(meta_file.read_text())
    old = {"classes": meta["classes"], "n": meta["n"], "files": meta["files"]}  # what the previous version wrote
    meta_file.write_text(json.dumps(old))
    with pytest.warns(UserWarning, match="older version.*rebuilding"):
        assert torch.equal(load().images, good)
    meta_file.write_text(json.dumps(old)); shutil.rmtree(tmp_path / "pets")
    with pytest.raises(FileNotFoundError, match=rf"{meta_file}.*older version.*cannot be rebuilt: .*no train folder"), \
         pytest.warns(UserWarning, match="older version"):
        load()
