"""The committed reports travel: no string in results/*.json is a path of the machine that wrote it."""
import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[1] / "results"


def strings(obj, where=""):
    "(where, value) for every string in a JSON value."
    if isinstance(obj, dict):
        for k, v in obj.items(): yield from strings(v, f"{where}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj): yield from strings(v, f"{where}[{i}]")
    elif isinstance(obj, str): yield where, obj


@pytest.mark.parametrize("report", sorted(RESULTS.glob("*.json")), ids=lambda p: p.name)
def test_committed_report_has_no_absolute_paths(report):
    absolute = [(w, s) for w, s in strings(json.loads(report.read_text())) if s.startswith("/") or s[1:3] == ":\\"]
    assert not absolute, f"{report.name}: machine paths {absolute[:3]}; store them relative to results/ or the data dir"


def test_the_check_catches_a_machine_path():
    assert [w for w, s in strings({"rows": [{"config": {"init_from": "/home/me/runs/x"}}]}) if s.startswith("/")] \
        == ["/rows[0]/config/init_from"]
