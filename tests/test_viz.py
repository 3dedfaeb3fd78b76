"Tests of scaling_mlps.viz: weight images, smoothness measure, and that each plot writes a labelled PNG."
import matplotlib
matplotlib.use("Agg")
import pytest, torch
from scaling_mlps.viz import (first_layer_images, first_layer_mosaic, high_frequency_fraction, plot_first_layer,
                              plot_curves, plot_paper_vs_ours)


def test_first_layer_images_chw_order_and_normalization():
    w = torch.zeros(1, 3 * 2 * 2)
    w[0, 4 + 3] = 5.0  # channel 1, row 1, column 1
    imgs = first_layer_images(w, 2)
    assert imgs.shape == (1, 3, 2, 2)
    assert imgs[0, 1, 1, 1] == 1 and imgs.sum() == 1
    with pytest.raises(ValueError, match="not \\(m, 3\\*4\\*4"):
        first_layer_images(w, 4)


def test_mosaic_shape_and_max_over_colour():
    w = torch.zeros(4, 3 * 3 * 3)
    w[:, 2 * 9] = 1.0  # top-left pixel of the blue channel only
    m = first_layer_mosaic(w, 3, n=4)
    assert m.shape == (7, 7)
    assert m[0, 0] == 1 and m[0, 1] == 0 and m[0, 3] == 1  # pad column between units is white (1)


def test_high_frequency_fraction_separates_noise_from_smooth():
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(32, 3 * 32 * 32, generator=g)
    smooth = torch.nn.functional.avg_pool2d(torch.randn(32, 3, 32, 32, generator=g), 9, 1, 4).reshape(32, -1)
    assert high_frequency_fraction(noise, 32) > 0.6
    assert high_frequency_fraction(smooth, 32) < 0.1


def test_plots_write_png(tmp_path):
    w = torch.randn(25, 3 * 8 * 8)
    fig = plot_first_layer({"a": w, "b": w}, 8, out=tmp_path / "w.png")
    assert (tmp_path / "w.png").stat().st_size > 1000 and fig.axes[0].get_title().startswith("a")
    hist = [{"epoch": e, "train_loss": 1 / e, "test_acc": 0.1 * e} for e in (1, 2, 3)]
    plot_curves(hist, out=tmp_path / "c.png")
    assert (tmp_path / "c.png").exists()
    fig = plot_paper_vs_ours([{"name": "S", "dataset": "cifar10", "paper": 54.2, "ours": 40.0}], out=tmp_path / "t.png")
    assert (tmp_path / "t.png").exists() and fig.axes[0].get_ylabel() == "test accuracy (%)"
