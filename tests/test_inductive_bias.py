"""Chapter 6's tools: the CNN references, a fixed pixel permutation and the locality index of first-layer units."""
import pytest
import torch

from scaling_mlps.cnn import conv_macs, get_cnn, small_cnn_matching
from scaling_mlps.compute import forward_flops
from scaling_mlps.inductive_bias import locality_index, permute_pixels, pixel_permutation, unpermute_first_layer
from scaling_mlps.models import get_model


def test_an_mlp_is_indifferent_to_a_pixel_permutation():
    "A B-MLP whose first layer is permuted along with its input computes exactly the same function: no order is special."
    torch.manual_seed(0)
    mlp, images = get_model("B_2-Wi_32", 16, 10).eval(), torch.randn(5, 3, 16, 16)
    perm = pixel_permutation(16, seed=7)
    permuted = get_model("B_2-Wi_32", 16, 10).eval()
    permuted.load_state_dict(mlp.state_dict())
    with torch.no_grad():  # the layer that reads permuted images: unpermuting it must give back the original
        permuted.linear_in.weight.copy_(mlp.linear_in.weight.view(32, 3, 256)[..., perm].reshape(32, -1))
        torch.testing.assert_close(unpermute_first_layer(permuted.linear_in.weight, perm), mlp.linear_in.weight)
        torch.testing.assert_close(permuted(permute_pixels(images, perm)), mlp(images), rtol=1e-5, atol=1e-5)


def test_a_cnn_is_not():
    "A convolution's output changes under the same permutation (its windows now hold unrelated pixels)."
    torch.manual_seed(0)
    cnn, images = get_cnn("CNN-Wi_4", 16, 10).eval(), torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(cnn(permute_pixels(images, pixel_permutation(16))), cnn(images), atol=1e-3)


def test_small_cnn_matches_the_laptop_bmlp_and_resnet_costs_more():
    bmlp = get_model("B_6-Wi_64", 32, 10)
    target = forward_flops(bmlp, flops_per_mac=1)
    name = small_cnn_matching(target, 32, 10)
    assert abs(conv_macs(get_cnn(name, 32, 10), 32) / target - 1) < 0.15
    assert forward_flops(get_cnn("ResNet18", 32, 10), 32) > 1000 * forward_flops(bmlp)


def test_locality_index_of_an_initialization_is_one():
    "The first layer of a freshly initialized MLP has no place that is special: its index is about 1 (noise)."
    torch.manual_seed(0)
    index = locality_index(get_model("B_2-Wi_64", 32, 10).linear_in.weight, 32)["index"]
    assert index.shape == (64,) and 0.8 < index.median() < 1.3


@pytest.mark.parametrize("bad", [torch.arange(15), torch.zeros(16, dtype=torch.long)])
def test_permutation_is_checked(bad):
    with pytest.raises(ValueError, match="not a permutation of 16"):
        permute_pixels(torch.zeros(1, 3, 4, 4), bad)
