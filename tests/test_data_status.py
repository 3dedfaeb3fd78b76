"Tests of scaling_mlps.data_status: which datasets are on disk or downloadable."
from scaling_mlps import data_status as ds


def test_dataset_status(tmp_path, monkeypatch):
    assert "no public download" in ds.dataset_status("tinyimagenet", tmp_path)
    (tmp_path / "tiny-imagenet-200" / "train").mkdir(parents=True)
    assert ds.dataset_status("tinyimagenet", tmp_path) is None
    monkeypatch.setitem(ds.DOWNLOAD_URLS, "cifar100", "http://127.0.0.1:9/c.tar.gz")
    why = ds.dataset_status("cifar100", tmp_path)
    assert "did not answer" in why and str(tmp_path) not in why  # a committed report names no local folder
