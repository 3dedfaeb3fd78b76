"Tests of scaling_mlps.paper: the paper's numbers, as the chapters read them; no torch."
import subprocess, sys
from scaling_mlps import paper as P


def test_table1_numbers_and_rows():
    assert len(P.TABLE1) == 24 and len({r["key"] for r in P.TABLE1}) == 24
    paper = {(r["dataset"], r["name"]): r["paper"] for r in P.TABLE1}
    assert paper[("cifar10", "B-MLP + DA @5000E")] == 75.4
    assert paper[("tinyimagenet", "S-MLP @100E")] == 8.5
    assert paper[("imagenet", "B-MLP @100E")] == 8.7
    assert P.RESNET18_DA == {"cifar10": 93.2, "cifar100": 75.6, "tinyimagenet": 68.9, "imagenet": 69.7}
    t2 = {(r["name"], r["dataset"]): (r["paper"], r["std"]) for r in P.TABLE2}
    assert t2[("B-12/Wi-1024 + DA + TTA", "imagenet")] == (51.5, 0.1)
    ck = {(r["name"], r["dataset"]): r["paper"] for r in P.CHECKPOINT_TABLE}
    assert ck[("B_6-Wi_512", "cifar10")] == 88.5 and ck[("B_12-Wi_1024 + TTA", "imagenet_real")] == 57.9


def test_paper_imports_no_torch():
    code = "import sys, scaling_mlps.paper; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_paper_number_tables():
    assert P.paper_number("B-6/Wi-1024 + DA", "cifar10") == 91.5
    assert P.paper_number("B-MLP + DA @5000E", "cifar10", "table1") == 75.4
