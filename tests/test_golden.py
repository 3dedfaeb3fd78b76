"""Golden results: every chapter's `ci`-scale report, re-run here and compared with the one committed in `tests/golden/`.

(Not in `results/`: there `load_report(name, "ci")` would find them, and the chapters under nbdev-test, which run at
the ci scale, would read a committed report instead of running their code.)

The ci scale runs every code path of every `reproduce` in about a minute and a half on 2 CPU cores, so a change that
moves code around (issue 20) or touches a mechanism shows up as a changed number or a changed table. What is
compared is everything a report says except what depends on the clock or the machine (`scaling_mlps.verify.VOLATILE`).

To write the golden files again after a change that is meant to change a result:
`python tests/test_golden.py` (with `$SCALING_MLPS_DATA` pointing at the data), then commit `tests/golden/`.
"""
from __future__ import annotations
import importlib, json, os, re, subprocess, sys, tempfile
from pathlib import Path

import pytest

from scaling_mlps.verify import compare_reports, verify_markdown
from scaling_mlps.cli import report_name

GOLDEN = Path(__file__).resolve().parent / "golden"
# In this order: table2 and tta read Table 1's runs from the same results folder; inductive-bias reads both reports.
EXPERIMENTS = ("table1", "table2", "tta", "real", "scaling", "inductive-bias")

# The same in the markdown: durations ('12 s', '3.4 min', '5.1 ms'), images per second, dates and thread counts.
MD_VOLATILE = [(re.compile(r"\d+(\.\d+)? (s|min|ms|ms/image)\b"), "<time>"),
               (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"), "<date>"),
               (re.compile(r"\(\d+ threads?\)"), "(<threads>)"),
               (re.compile(r"[\d,.]+ (img|images)/s"), "<rate>"),
               (re.compile(r"\d+x slower"), "<n>x slower")]  # chapter 6: ResNet-18's measured slowdown


def run_ci(name: str, out: Path, data_dir: Path) -> dict:
    "`reproduce` of experiment `name` at the ci scale into `out`, offline, quietly; the module is the CLI's."
    from scaling_mlps.cli import REPRODUCIBLE
    reproduce = importlib.import_module(REPRODUCIBLE[name][0]).reproduce
    kw = dict(scale="ci", data_dir=data_dir, out=out, device="cpu", progress=False, verbose=False)
    if name in ("table1", "table2"): kw["download"] = False  # CIFAR-100 is skipped the same way with or without a network
    if name == "scaling": kw["runs_dir"] = out / "runs" / "scaling_ci"  # its default is under the data directory
    return reproduce(**kw)


TIMED_TABLES = ("seconds per",)  # tables of measured speed (tta's cost of views): their numbers are all clock readings


def stable_md(text: str) -> str:
    "`text` with `MD_VOLATILE` masked and the numbers of the `TIMED_TABLES` removed."
    lines, timed = [], False
    for line in text.splitlines():
        if line.startswith("Made by `"): continue  # the manifest's line: commit, machine and date (its json is volatile too)
        if not line.startswith("|"): timed = False
        elif any(h in line for h in TIMED_TABLES): timed = True
        elif timed: line = re.sub(r"\| [\d.,]+ ", "| <n> ", line)
        lines.append(line)
    text = "\n".join(lines)
    for pattern, mask in MD_VOLATILE: text = pattern.sub(mask, text)
    return text


NEEDS = {"table2": ("table1",), "tta": ("table1", "table2"), "inductive-bias": ("table1", "table2")}  # the runs of these, in the same results folder


@pytest.fixture(scope="module")
def ci_reports(real_data_dir, tmp_path_factory):
    "A function that runs an experiment (after the ones it reads) at the ci scale, once per test module: its folder."
    out, done = tmp_path_factory.mktemp("golden"), set()
    def run(name: str) -> Path:
        todo = [n for n in NEEDS.get(name, ()) + (name,) if n not in done]
        if todo: run_ci_in_a_fresh_process(todo, out, real_data_dir); done.update(todo)
        return out
    return run


def run_ci_in_a_fresh_process(names: list[str], out: Path, data_dir: Path) -> None:
    """`run_ci` of each of `names`, in order, in a new Python process, as `scaling-mlps reproduce` runs: a test session
    that compiled many crop shapes before (torch.compile's cache, then eager fallback) or changed torch's threads gives
    last-digit differences in the losses, which an exact comparison would rightly see."""
    code = (f"import sys; from pathlib import Path; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"from test_golden import run_ci; [run_ci(n, Path({str(out)!r}), Path({str(data_dir)!r})) for n in {names!r}]")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_ci_report_matches_golden(ci_reports, name):
    out = ci_reports(name)
    name = report_name(name)  # the file stem: inductive-bias writes inductive_bias_ci.json
    golden = json.loads((GOLDEN / f"{name}_ci.json").read_text())
    now = json.loads((out / f"{name}_ci.json").read_text())
    differ = [c for c in compare_reports(golden, now) if not c["agrees"]]  # what `reproduce --verify` compares, exactly
    assert not differ, verify_markdown(differ)
    golden_md, now_md = (GOLDEN / f"{name}_ci.md").read_text(), (out / f"{name}_ci.md").read_text()
    assert stable_md(golden_md) == stable_md(now_md)


def test_reproduce_verify_agrees_with_itself_and_names_a_changed_cell(ci_reports, real_data_dir, tmp_path, capsys):
    "`scaling-mlps reproduce table1 --verify`: a re-run (reusing its runs) agrees with its report; one changed number fails, named."
    from scaling_mlps.cli import run
    out = ci_reports("table1")
    argv = ["reproduce", "table1", "--scale", "ci", "--out", str(out), "--data-dir", str(real_data_dir), "--no-progress"]
    report = run(argv)
    committed = tmp_path / "table1_ci.json"; committed.write_text(json.dumps(report))
    assert run(argv + ["--verify", "--against", str(committed)])["rows"] == report["rows"]
    assert "cells agree." in capsys.readouterr().out
    changed = json.loads(committed.read_text())
    row = next(r for r in changed["rows"] if r["status"] != "skipped")
    row["ours"] = round(row["ours"] + 0.1, 1); committed.write_text(json.dumps(changed))
    with pytest.raises(SystemExit) as e: run(argv + ["--verify", "--against", str(committed)])
    said = capsys.readouterr()
    assert e.value.code == 1 and f"rows[{row['key']}].ours" in said.err and "**differs**" in said.out


if __name__ == "__main__":  # write the golden files
    data = Path(os.environ["SCALING_MLPS_DATA"])
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    names = sys.argv[2:] or EXPERIMENTS  # e.g. `python tests/test_golden.py /tmp/x table1 table2 inductive-bias`
    for name in names:
        run_ci(name, out, data)
        stem = report_name(name)
        for ext in ("json", "md"): (GOLDEN / f"{stem}_ci.{ext}").write_text((out / f"{stem}_ci.{ext}").read_text())
        print(name, "written")
