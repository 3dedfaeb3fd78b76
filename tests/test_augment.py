import math

import pytest
import torch
import torch.nn.functional as F

from scaling_mlps.augment import (center_resize, mixup, normalize, random_crop_boxes, random_hflip, random_resized_crop,
                                  resized_crop, tta_views)


@pytest.mark.parametrize("scale,ratio", [((0.08, 1.0), (3 / 4, 4 / 3)), ((0.4, 1.0), (1.0, 1.0)), ((0.25, 0.5), (0.5, 2.0))])
@pytest.mark.parametrize("hw", [(32, 32), (64, 48)])
def test_crop_boxes_respect_bounds(scale, ratio, hw):
    H, W = hw
    top, left, h, w = random_crop_boxes(20000, H, W, scale, ratio, torch.Generator().manual_seed(0)).T
    frac, aspect = h * w / (H * W), w / h
    eps = 1e-5
    assert frac.min() >= scale[0] - eps and frac.max() <= scale[1] + eps
    assert aspect.min() >= ratio[0] - eps and aspect.max() <= ratio[1] + eps
    assert top.min() >= 0 and left.min() >= 0 and (top + h).max() <= H + 1e-3 and (left + w).max() <= W + 1e-3
    if H != W: return  # on a 64x48 image a square box covers at most 3/4: the checks below are for square images
    # the whole range is used (rejecting boxes that do not fit makes large areas a little rarer, as in torchvision)
    assert frac.min() < scale[0] + 0.01 and frac.max() > scale[1] - 0.01
    assert abs(frac.mean().item() - sum(scale) / 2) < 0.1 * (scale[1] - scale[0])
    if ratio[0] < ratio[1]:
        assert aspect.min() < ratio[0] * 1.01 and aspect.max() > ratio[1] * 0.99
        assert abs(aspect.log().mean().item() - (math.log(ratio[0]) + math.log(ratio[1])) / 2) < 0.05


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("size", [16, 32, 64])
def test_random_resized_crop_shapes_values_determinism(dtype, size):
    x = torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8).to(dtype)
    a = random_resized_crop(x, size, generator=torch.Generator().manual_seed(3))
    assert a.shape == (12, 3, size, size) and a.dtype == dtype
    assert a.min() >= 0 and a.max() <= 255  # bilinear weights are a convex combination
    assert torch.equal(a, random_resized_crop(x, size, generator=torch.Generator().manual_seed(3)))
    assert not torch.equal(a, random_resized_crop(x, size, generator=torch.Generator().manual_seed(4)))


def test_crop_is_a_crop():
    # a smooth image (a ramp in x): the crop of an integer box up-sampled 2x matches F.interpolate of that box inside
    ramp = torch.arange(32.).expand(1, 3, 32, 32).contiguous()
    out = resized_crop(ramp, torch.tensor([[4., 8., 16., 16.]]), 32)
    ref = F.interpolate(ramp[..., 4:20, 8:24], size=32, mode="bilinear", align_corners=False)
    assert torch.allclose(out[..., 1:-1], ref[..., 1:-1], atol=1e-4)  # equal except where the reference clamps at the box edge
    assert torch.allclose(out[0, 0, 0], torch.linspace(7.75, 23.25, 32), atol=1e-4)


def test_flip_and_center_resize_and_normalize():
    x = torch.randint(0, 256, (100, 3, 8, 8), dtype=torch.uint8)
    f = random_hflip(x, generator=torch.Generator().manual_seed(0))
    changed = (f != x).flatten(1).any(1)
    assert torch.equal(f[changed], x[changed].flip(-1)) and 30 < changed.sum() < 70
    assert center_resize(x, 8) is x
    big = torch.rand(2, 3, 64, 48) * 255
    ref = F.interpolate(big[:, :, 8:56], size=24, mode="bilinear", antialias=True)
    assert torch.allclose(center_resize(big, 24)[:, :, 1:-1], ref[:, :, 1:-1], atol=1e-3)  # the first/last rows also see the pixels just outside the box
    n = normalize(x, (0.5, 0.4, 0.3), (0.2, 0.3, 0.4))
    ref = (x.float() / 255 - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.3, 0.4]).view(1, 3, 1, 1)
    assert n.dtype == torch.float32 and torch.allclose(n, ref, atol=1e-5)


@pytest.mark.parametrize("per_sample", [False, True])
def test_mixup(per_sample):
    x = torch.randn(64, 3, 4, 4); y = torch.randint(0, 7, (64,))
    xm, t = mixup(x, y, 7, per_sample=per_sample, generator=torch.Generator().manual_seed(0))
    assert xm.shape == x.shape and t.shape == (64, 7) and t.dtype == torch.float32
    assert torch.allclose(t.sum(1), torch.ones(64))
    xm2, t2 = mixup(x, y, 7, per_sample=per_sample, generator=torch.Generator().manual_seed(0))
    assert torch.equal(xm, xm2) and torch.equal(t, t2)
    # each mixed image is a convex combination of two batch images with the weights in its target
    lam_own = t[torch.arange(64), y]
    assert (lam_own >= 0).all() and (lam_own <= 1 + 1e-6).all()
    diff = (xm - x).flatten(1).norm(dim=1)
    assert (diff > 0).any()


def test_tta_views():
    x = torch.rand(6, 3, 32, 32) * 255
    views = tta_views(x, 4, 64, generator=torch.Generator().manual_seed(0))
    assert views.shape == (24, 3, 64, 64) and views.dtype == torch.float32
    assert torch.equal(views, tta_views(x, 4, 64, generator=torch.Generator().manual_seed(0)))
    no_crop = tta_views(x, 1, 32, scale=(1, 1), flip=False)
    assert torch.allclose(no_crop, x, atol=1e-3)
    # view-major: rows j*B .. (j+1)*B are view j of the whole batch, so image i's views are rows i, B+i, ...
    whole = tta_views(x, 3, 32, scale=(1, 1), flip=False)
    assert torch.allclose(whole[6:12], x, atol=1e-3)


def test_errors():
    with pytest.raises(ValueError, match=r"\(3, 8, 8\)"):
        random_resized_crop(torch.zeros(3, 8, 8), 8)
    with pytest.raises(ValueError, match=r"ratio=\(2.0, 1.0\)"):
        random_crop_boxes(2, 8, 8, ratio=(2.0, 1.0))
    with pytest.raises(TypeError, match="uint8"):
        mixup(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.long), 3)


@pytest.mark.parametrize("size", [32, 48, 64])
def test_two_tap_path_equals_dense_weights(size):
    # up-sampling goes through gather/lerp; the dense interpolation weights (used when shrinking) must agree
    from scaling_mlps.augment import interpolation_weights
    g = torch.Generator().manual_seed(size)
    x = torch.rand(16, 3, 32, 32, generator=g) * 255
    boxes = random_crop_boxes(16, 32, 32, generator=g)
    flip = torch.rand(16, generator=g) < 0.5
    wy = interpolation_weights(boxes[:, 0], boxes[:, 2], size, 32)
    wx = interpolation_weights(boxes[:, 1], boxes[:, 3], size, 32)
    wx = torch.where(flip[:, None, None], wx.flip(1), wx)
    dense = torch.einsum("bsh,bchw,btw->bcst", wy, x, wx)
    assert torch.allclose(resized_crop(x, boxes, size, flip=flip), dense, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_batches_keep_their_dtype(dtype):
    # evaluation batches on a GPU are normalized bf16; TTA views of them must work and stay bf16
    x = torch.randn(4, 3, 32, 32).to(dtype)
    views = tta_views(x, 2, 32, generator=torch.Generator().manual_seed(0))
    assert views.dtype == dtype and views.shape == (8, 3, 32, 32)
    assert random_resized_crop(x, 16).dtype == dtype and center_resize(x, 16).dtype == dtype
    xm, t = mixup(x, torch.arange(4), 4, generator=torch.Generator().manual_seed(0))
    assert xm.dtype == dtype and t.dtype == torch.float32


def test_two_tap_crop_is_resized_crop_then_normalize():
    from scaling_mlps.augment import two_tap_crop
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 256, (32, 3, 16, 12), dtype=torch.uint8, generator=g)
    boxes = random_crop_boxes(32, 16, 12, generator=g)
    flip = torch.rand(32, generator=g) < 0.5
    scale, shift = torch.tensor([0.5, 1.0, 2.0]).view(1, 3, 1, 1), torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1)
    expected = resized_crop(x.float(), boxes, 20, flip=flip) * scale + shift
    for compiled in (False, True):
        out = two_tap_crop(x, boxes, 20, flip, scale, shift, compiled=compiled)
        assert out.dtype == torch.float32 and out.shape == (32, 3, 20, 20)
        torch.testing.assert_close(out, expected, atol=1e-3, rtol=1e-5)
    with pytest.raises(ValueError, match="size=8"):
        two_tap_crop(x, boxes, 8)


def test_compiled_kernel_keeps_compiling_past_dynamo_default_limit():
    "A long session meets more than dynamo's 8 shapes per function; `compiled` must not fall back to eager ops after them."
    from torch._dynamo.utils import counters
    from scaling_mlps.augment import RECOMPILE_LIMIT, compiled
    def add_one(x): return x + 1
    fn, before = compiled(add_one), counters["stats"]["unique_graphs"]
    shapes = range(1, 11)
    assert len(shapes) > 8 and len(shapes) <= RECOMPILE_LIMIT
    for n in shapes: assert torch.equal(fn(torch.zeros(n)), torch.ones(n))
    assert counters["stats"]["unique_graphs"] - before == len(shapes)  # one compiled graph per shape, none skipped
