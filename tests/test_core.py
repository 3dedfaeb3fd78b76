import os
from pathlib import Path
from scaling_mlps.core import get_data_dir

def test_data_dir_argument_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_MLPS_DATA", str(tmp_path / "env"))
    assert get_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_dir() == tmp_path / "env"
    monkeypatch.delenv("SCALING_MLPS_DATA")
    monkeypatch.chdir(tmp_path)
    assert get_data_dir() == Path("data") and (tmp_path / "data").is_dir()
