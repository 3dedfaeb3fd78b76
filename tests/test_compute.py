import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from scaling_mlps.compute import count_parameters, forward_flops, training_flops
from scaling_mlps.models import get_model


def _meta_model(arch, resolution=64, num_classes=11_230, **options):
    with torch.device("meta"):
        return get_model(arch, resolution, num_classes, **options)


def _counted(model, resolution, batch=2, backward=False):
    x = torch.empty(batch, 3, resolution, resolution, device="meta")
    with FlopCounterMode(display=False) as counter:
        out = model(x)
        if backward:
            out.sum().backward()
    return counter.get_total_flops() // batch


@pytest.mark.parametrize("arch,resolution,options", [
    ("B_6-Wi_256", 64, {}), ("B_12-Wi_1024", 64, {}), ("B_3-Wi_128-Exp_8", 32, {"norm": "batch", "act": "relu"}),
    ("S_6-Wi_1024", 64, {}), ("S_2-Wi_64", 16, {"norm": "none"})])
def test_forward_flops_match_flop_counter(arch, resolution, options):
    model = _meta_model(arch, resolution, 1000, **options)
    assert forward_flops(model, resolution) == _counted(model, resolution)


def test_b_mlp_formula_and_table5_numbers():
    d, m, k, L, C = 3 * 64 * 64, 1024, 4, 12, 11_230
    model = _meta_model("B_12-Wi_1024")
    assert forward_flops(model) == 2 * (d * m + 2 * k * L * m * m + m * C) == 249_491_456
    assert forward_flops(model, flops_per_mac=1) == 124_745_728
    assert count_parameters(model) == 124_843_998
    # the paper's compute: 3 x forward x N x T (ImageNet-21k, 800 epochs), one FLOP per multiply-add (fvcore)
    assert training_flops(model, 11_801_680, 800) == 3 * 124_745_728 * 11_801_680 * 800
    assert training_flops(model, 11_801_680, 800, flops_per_mac=2) == 3 * 249_491_456 * 11_801_680 * 800


def test_backward_is_twice_forward_except_input_gradient():
    model = _meta_model("B_6-Wi_512")
    measured = _counted(model, 64, backward=True)
    assert measured == 3 * forward_flops(model) - 2 * (3 * 64 * 64) * 512


def test_resolution_check_and_trainable_count():
    with pytest.raises(ValueError, match="expects 12288"):
        forward_flops(_meta_model("B_6-Wi_256"), resolution=32)
    with pytest.raises(ValueError, match="no nn.Linear"):
        forward_flops(torch.nn.ReLU())
    model = get_model("B_1-Wi_8", 4, 3)
    model.linear_out.requires_grad_(False)
    assert count_parameters(model) - count_parameters(model, trainable_only=True) == 8 * 3 + 3
