"""ImageNet-ReaL end to end: an ImageNet-validation-shaped folder with known labels (class folders and the flat
ILSVRC2012 layout), a checkpoint whose predictions are known, `scaling-mlps eval --real`, and the label sets."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scaling_mlps.cli import run
from scaling_mlps.data import IMAGENET_VAL_IMAGES, imagenet_val_number, load_dataset
from scaling_mlps.models import get_model
from scaling_mlps import real as R

WNIDS = [f"n{i:08d}" for i in range(1000)]
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}
PREDICTED = {"red": 10, "green": 20, "blue": 30}  # what `colour_checkpoint` predicts
# file number: (colour, original label, ReaL list)
IMAGES = {1: ("red", 10, [10]), 2: ("green", 20, [20, 21]), 3: ("blue", 5, [30]), 4: ("red", 10, []),
          5: ("green", 20, [7]), 6: ("blue", 30, [30, 31])}
# original labels: all but image 3 right (5/6); ReaL: images 1, 2, 3, 6 of the 5 scored right (4/5); 4 of all 6
EXPECTED = dict(test_acc=5 / 6, real_acc=4 / 5, real_acc_all_images=4 / 6)


def colour_checkpoint(path: Path, resolution: int = 8) -> Path:
    "A B_1-Wi_4 whose blocks add nothing: logits of classes 10, 20, 30 are the mean red, green, blue input."
    model = get_model("B_1-Wi_4", resolution, 1000)
    with torch.no_grad():
        for p in model.parameters(): p.zero_()
        for c in range(3): model.linear_in.weight[c, c * resolution**2:(c + 1) * resolution**2] = 1 / resolution**2
        for c, cls in enumerate((10, 20, 30)): model.linear_out.weight[cls, c] = 1.0
        model.linear_out.bias.fill_(-100.0); model.linear_out.bias[[10, 20, 30]] = 0.0
    torch.save(model.state_dict(), path)
    return path


def write_real_files(data_dir: Path, original: bool = False) -> None:
    (data_dir / "imagenet-real").mkdir(parents=True, exist_ok=True)
    real = [IMAGES[n][2] if n in IMAGES else [] for n in range(1, IMAGENET_VAL_IMAGES + 1)]
    (data_dir / "imagenet-real" / "real.json").write_text(json.dumps(real))
    if original:
        labels = [IMAGES[n][1] if n in IMAGES else 0 for n in range(1, IMAGENET_VAL_IMAGES + 1)]
        (data_dir / "imagenet-real" / "imagenet_val_labels.txt").write_text("".join(f"{l}\n" for l in labels))


def image(colour: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), COLOURS[colour]).save(path, format="JPEG", quality=95)


@pytest.mark.parametrize("layout", ["class folders", "flat"])
def test_eval_real_on_a_made_up_validation_folder(tmp_path, layout):
    data_dir = tmp_path / "data"
    val = data_dir / "imagenet" / "val"
    for wnid in WNIDS: (val / wnid).mkdir(parents=True) if layout == "class folders" else None
    for n, (colour, label, _) in IMAGES.items():
        name = f"ILSVRC2012_val_{n:08d}.JPEG"
        image(colour, val / WNIDS[label] / name if layout == "class folders" else val / name)
    write_real_files(data_dir, original=layout == "flat")
    ckpt = colour_checkpoint(tmp_path / "colour.pt")

    data = load_dataset("imagenet", "test", data_dir=data_dir, resolution=8, progress=False)
    assert [imagenet_val_number(f) for f in data.files] == sorted(IMAGES)  # ILSVRC2012 file order, whatever the folders
    assert data.labels.tolist() == [IMAGES[n][1] for n in sorted(IMAGES)] and data.num_classes == 1000

    result = run(["eval", "--checkpoint", str(ckpt), "--dataset", "imagenet", "--real", "--tta", "3", "--data-resolution", "8",
                  "--data-dir", str(data_dir), "--device", "cpu", "--no-progress", "--json"])
    for key, value in EXPECTED.items(): assert result[key] == pytest.approx(value), (key, result)
    assert (result["images"], result["real_labelled"]) == (6, 5)
    assert result["tta_acc"] == pytest.approx(5 / 6) and result["tta_real_acc"] == pytest.approx(4 / 5)  # crops of a plain colour


def test_flat_layout_needs_the_label_file(tmp_path):
    val = tmp_path / "imagenet" / "val"
    image("red", val / "ILSVRC2012_val_00000001.JPEG")
    with pytest.raises(FileNotFoundError, match="imagenet_val_labels.txt"):
        load_dataset("imagenet", "test", data_dir=tmp_path, resolution=8, progress=False)


def test_eval_real_names_files_it_cannot_match(tmp_path):
    data_dir = tmp_path / "data"
    image("red", data_dir / "imagenet" / "val" / WNIDS[10] / "photo.jpg")
    write_real_files(data_dir)
    with pytest.raises(ValueError, match="photo.jpg"):
        R.evaluate_real(get_model("B_1-Wi_4", 8, 1000),
                        load_dataset("imagenet", "test", data_dir=data_dir, resolution=8, progress=False),
                        R.load_real_labels(data_dir=data_dir), device="cpu")


def test_label_sets_of_the_real_files(real_data_dir):
    if not (real_data_dir / "imagenet-real" / "imagenet_val_labels.txt").exists(): pytest.skip("no imagenet_val_labels.txt")
    real, original = R.load_real_labels(data_dir=real_data_dir, download=False), R.load_original_labels(data_dir=real_data_dir)
    s = R.label_set_stats(real, original)
    assert (s["images"], s["empty"], s["labelled"], s["multi"], s["original_in_real"]) == (50_000, 3_163, 46_837, 7_443, 42_164)
    assert s["original_real_accuracy"] == pytest.approx(42_164 / 46_837)
    top = R.class_disagreement(real, original, R.imagenet_class_names(), top=3)
    assert top[0]["name"] == "tape player" and top[0]["instead"][0]["name"] == "cassette player"


def test_reproduce_real_ci(real_data_dir, tmp_path):
    if not (real_data_dir / "imagenet-real" / "imagenet_val_labels.txt").exists(): pytest.skip("no imagenet_val_labels.txt")
    rep = R.reproduce("ci", data_dir=real_data_dir, out=tmp_path, verbose=False)
    assert rep["labels"]["empty"] == 3_163 and {r["status"] for r in rep["rows"]} == {"skipped"}
    md = (tmp_path / "real_ci.md").read_text()
    assert "90.0%** ReaL accuracy" in md and "tape player" in md and str(real_data_dir) not in md


def test_reproduce_real_paper_scale_on_a_made_up_folder(tmp_path):
    "The paper-scale path of `reproduce real`: a checkpoint (here a file) on the validation folder, without and with TTA."
    data_dir = tmp_path / "data"
    for n, (colour, label, _) in IMAGES.items(): image(colour, data_dir / "imagenet" / "val" / WNIDS[label] / f"ILSVRC2012_val_{n:08d}.JPEG")
    for wnid in WNIDS: (data_dir / "imagenet" / "val" / wnid).mkdir(exist_ok=True)
    write_real_files(data_dir, original=True)
    rep = R.reproduce("paper", data_dir=data_dir, out=tmp_path / "out", device="cpu", checkpoint=str(colour_checkpoint(tmp_path / "c.pt")),
                      tta=3, progress=False, verbose=False)
    assert [(r["status"], r["tta"]) for r in rep["rows"]] == [("ran", 0), ("ran", 3)] and "imagenet" not in rep["skipped"]
    for r in rep["rows"]:
        assert (r["original_acc"], r["real_acc"], r["real_acc_all_images"]) == pytest.approx(
            (EXPECTED["test_acc"], EXPECTED["real_acc"], EXPECTED["real_acc_all_images"]))
    stored = rep["first_layer"]  # chapter 4 ends with the checkpoint's first units, drawn from this file
    with np.load(tmp_path / "out" / stored["file"]) as f: w = f["W"]
    width = torch.load(tmp_path / "c.pt", weights_only=True)["linear_in.weight"].shape[0]
    assert stored["resolution"] == rep["rows"][0]["resolution"] and w.shape[0] == min(25, width) and w.dtype == np.float16
    md = (tmp_path / "out" / "real_paper.md").read_text()
    assert "| 0 | 43.3 | 48.6 | 83.3 | 80.0 | 66.7 |" in md and "| 3 | — | — | 83.3 | 80.0 | 66.7 |" in md, md


def test_cli_reproduce_real_without_imagenet_is_a_result(real_data_dir, tmp_path):
    "`scaling-mlps reproduce real` without ImageNet measures the label sets: exit status 0, model rows skipped with a reason."
    if not (real_data_dir / "imagenet-real" / "imagenet_val_labels.txt").exists(): pytest.skip("no imagenet_val_labels.txt")
    from scaling_mlps import cli
    rep = cli.run(["reproduce", "real", "--scale", "ci", "--data-dir", str(real_data_dir), "--out", str(tmp_path), "--no-progress"])
    assert rep["measured"] == ["the ReaL label sets", "against the original labels"] and (tmp_path / "real_ci.md").exists()
    assert {r["status"] for r in rep["rows"]} == {"skipped"}


def test_cli_reproduce_real_paper_scale_without_imagenet_fails_and_says_where(real_data_dir, tmp_path, capsys):
    "At the paper scale the checkpoint's rows are the result: without ImageNet's validation folder, exit status 2 and one line."
    from scaling_mlps import cli
    data_dir = tmp_path / "data"
    (data_dir / "imagenet-real").mkdir(parents=True)
    for name in ("real.json", "imagenet_val_labels.txt"):
        if (real_data_dir / "imagenet-real" / name).exists():
            (data_dir / "imagenet-real" / name).write_bytes((real_data_dir / "imagenet-real" / name).read_bytes())
    with pytest.raises(SystemExit) as stop:
        cli.run(["reproduce", "real", "--scale", "paper", "--data-dir", str(data_dir), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and "real ran no row: no dataset it needs is available" in err[-1] and "imagenet: " in err[-1], err
