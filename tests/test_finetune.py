"""Fine-tuning and linear probing from our checkpoints and from a file in the authors' format."""
import pytest
import torch

from scaling_mlps.finetune import finetune
from scaling_mlps.models import infer_arch, load_state_dict_file
from scaling_mlps.models import get_model
from scaling_mlps.train import TrainConfig, train
from test_train import make_folder

torch.set_num_threads(2)


@pytest.fixture
def folder(tmp_path):
    return make_folder(tmp_path / "images")


def test_finetune_from_our_run(tmp_path, folder):
    kw = dict(data_dir=str(tmp_path / "data"), data_resolution=8, device="cpu", progress=False)
    pre = TrainConfig(dataset=folder, arch="B_2-Wi_32", epochs=3, batch_size=32, optimizer="adamw", lr=3e-3, augment=False,
                      out=str(tmp_path / "pre"), data_dir=kw["data_dir"], data_resolution=8, device="cpu")
    train(pre, progress=False)
    body = load_state_dict_file(tmp_path / "pre")
    lin = finetune(tmp_path / "pre", folder, mode="linear", epochs=2, batch_size=32, lr=1e-3, out=str(tmp_path / "lin"), **kw)
    after = load_state_dict_file(tmp_path / "lin")
    assert torch.equal(after["linear_in.weight"], body["linear_in.weight"])  # linear probe: body frozen
    assert lin["config"]["arch"] == "B_2-Wi_32" and lin["config"]["resolution"] == 8
    ft = finetune(tmp_path / "pre" / "checkpoint.pt", folder, epochs=4, batch_size=32, lr=0.1, flip=False,
                  out=str(tmp_path / "ft"), **kw)  # a flip would swap the classes of this data
    after = load_state_dict_file(tmp_path / "ft")
    assert not torch.equal(after["linear_in.weight"], body["linear_in.weight"])
    assert ft["test_acc"] > 0.5


def test_finetune_authors_format_upsamples(tmp_path, folder):
    "A bare B-MLP state dict at 16 px (like the authors' 64 px files): resolution inferred, 8 px data up-sampled."
    torch.manual_seed(0)
    torch.save(get_model("B_2-Wi_32", 16, 11).state_dict(), tmp_path / "authors_weights")
    info = infer_arch(load_state_dict_file(tmp_path / "authors_weights"))
    assert (info["arch"], info["resolution"], info["num_classes"]) == ("B_2-Wi_32", 16, 11)
    r = finetune(tmp_path / "authors_weights", folder, epochs=1, batch_size=32, data_dir=str(tmp_path / "data"),
                 data_resolution=8, device="cpu", progress=False)
    assert r["config"]["resolution"] == 16 and r["config"]["optimizer"] == "sgd" and r["config"]["crop_ratio"] == [1.0, 1.0]
    with pytest.raises(ValueError, match="takes 16 px"):
        finetune(tmp_path / "authors_weights", folder, resolution=8, epochs=1, batch_size=32, data_dir=str(tmp_path / "data"),
                 data_resolution=8, device="cpu", progress=False)
