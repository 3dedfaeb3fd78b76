"The README's measured tables are the committed reports' numbers (tools/readme_tables.py writes them)."
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_tables_match_the_committed_reports():
    done = subprocess.run([sys.executable, "tools/readme_tables.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_readme_tables_notices_a_changed_number(tmp_path, monkeypatch):
    "The check fails when a number in a generated block differs from its report."
    sys.path.insert(0, str(ROOT / "tools"))
    import readme_tables as rt
    index = tmp_path / "index.ipynb"
    body = rt.block("table1_laptop")
    changed = body.replace("|", "| 99.9 |", 1) if "|" in body else body + " changed"
    index.write_text('{"cells": [{"cell_type": "markdown", "metadata": {}, "source": %s}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
                     % __import__("json").dumps(changed))
    monkeypatch.setattr(rt, "INDEX", index)
    monkeypatch.setattr(rt, "ROOT", tmp_path)
    assert rt.main(["--check"]) == 1
    assert rt.main([]) == 0 and rt.main(["--check"]) == 0


def test_readme_verify_claim_is_the_committed_verify_output():
    "The README's count of agreeing cells is the last line of the committed `--verify` output, and every cell agreed."
    import re
    last = (ROOT / "results" / "table1_laptop.verify.md").read_text().strip().splitlines()[-1]
    agree, total = (int(n.replace(",", "")) for n in re.fullmatch(r"([\d,]+) of ([\d,]+) cells agree\.", last).groups())
    assert agree == total, last
    assert f"all {total:,} cells in agreement" in (ROOT / "README.md").read_text().replace("\n", " ")
