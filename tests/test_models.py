import pytest
import torch
from torch import nn

from scaling_mlps.models import BottleneckMLP, StandardMLP, bmlp_param_count, get_model, parse_arch

# P = (d + 1 + C) m + L (8 m^2 + 7 m) + C with d = 3*64*64 = 12,288 and C = 11,230 (derivation in nbs/01_models.ipynb)
PAPER_TABLE5 = {"B_6-Wi_512": (24_657_374, 24), "B_12-Wi_512": (37_261_790, 37),
                "B_6-Wi_1024": (74_469_342, 74), "B_12-Wi_1024": (124_843_998, 124)}


@pytest.mark.parametrize("arch", list(PAPER_TABLE5))
def test_param_counts_match_paper(arch):
    exact, millions = PAPER_TABLE5[arch]
    with torch.device("meta"):
        model = get_model(arch, resolution=64, num_classes=11_230)
    assert sum(p.numel() for p in model.parameters()) == exact
    spec = parse_arch(arch)
    assert bmlp_param_count(spec["width"], spec["depth"], 64, 11_230) == exact
    assert exact // 1_000_000 == millions  # the paper truncates to whole millions


def _authors_layout(dim_in, dim_out, width, depth, k=4):
    "Independently written B-MLP in the authors' checkpoint layout (plain containers, own forward)."
    net = nn.ModuleDict({
        "linear_in": nn.Linear(dim_in, width),
        "blocks": nn.ModuleList([nn.ModuleDict({"block": nn.Sequential(nn.Linear(width, k * width), nn.GELU(),
                                                                       nn.Linear(k * width, width))})
                                 for _ in range(depth)]),
        "layernorms": nn.ModuleList([nn.LayerNorm(width) for _ in range(depth)]),
        "linear_out": nn.Linear(width, dim_out)})

    def forward(x):
        z = net["linear_in"](x.reshape(len(x), -1))
        for blk, ln in zip(net["blocks"], net["layernorms"]):
            z = z + blk["block"](ln(z))
        return net["linear_out"](z)
    return net, forward


@pytest.mark.parametrize("arch,k", [("B_3-Wi_32", 4), ("B_2-Wi_16-Exp_8", 8)])
def test_strict_load_gives_identical_logits(arch, k):
    torch.manual_seed(0)
    spec = parse_arch(arch)
    ref, ref_forward = _authors_layout(3 * 8 * 8, 10, spec["width"], spec["depth"], k)
    with torch.no_grad():
        for ln in ref["layernorms"]:
            ln.weight.normal_(); ln.bias.normal_()
    ours = get_model(arch, resolution=8, num_classes=10)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert set(ours.state_dict()) == set(ref.state_dict())
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(ours(x), ref_forward(x))
        assert torch.equal(ours(x.flatten(1)), ref_forward(x))


def test_checkpoint_keys_with_dropout():
    keys = set(BottleneckMLP(12, 3, 8, 2, dropout=0.1).state_dict())
    assert {"blocks.1.block.0.weight", "blocks.1.block.2.bias", "layernorms.1.weight", "linear_out.bias"} <= keys
    assert not any(".block.1." in k or ".block.3." in k for k in keys)


def test_parse_arch():
    assert parse_arch("B_12-Wi_1024") == {"kind": "B", "depth": 12, "width": 1024, "expansion": 4}
    assert parse_arch("B_6-Wi_512-Exp_8") == {"kind": "B", "depth": 6, "width": 512, "expansion": 8}
    assert parse_arch("S_6-Wi_1024") == {"kind": "S", "depth": 6, "width": 1024, "expansion": None}


@pytest.mark.parametrize("bad", ["B_12-Wi1024", "B_12", "C_6-Wi_64", "B_6-Wi_64-Exp_", "B_6-Wi_64-", "S_6-Wi_64-Exp_4", ""])
def test_malformed_arch_raises(bad):
    with pytest.raises(ValueError, match="B_<depth>-Wi_<width>") as e:
        get_model(bad, 8, 10)
    assert repr(bad) in str(e.value)


def test_standard_mlp_layout_and_options():
    model = get_model("S_6-Wi_32", resolution=8, num_classes=10, act="relu", norm="batch", dropout=0.2)
    assert isinstance(model, StandardMLP) and len(model.blocks) == 5  # depth counts linear_in (authors' S_6)
    x = torch.randn(4, 3, 8, 8)
    model.eval()
    assert model(x).shape == (4, 10) and torch.equal(model(x), model(x.flatten(1)))
    with pytest.raises(ValueError, match="C\\*H\\*W = 192"):
        model(torch.randn(4, 3, 9, 9))


def test_seeded_init_is_reproducible():
    torch.manual_seed(3); a = get_model("B_2-Wi_16", 8, 10)
    torch.manual_seed(3); b = get_model("B_2-Wi_16", 8, 10)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
