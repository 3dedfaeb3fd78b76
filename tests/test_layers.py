"""The layers of the package, as the README draws them: every module imports only from its own line or the lines above,
the reports render without torch, and every committed laptop report renders to its committed markdown."""
import importlib, json, re, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_layers() -> dict[str, int]:
    "{module: its line in the README's layer picture (0 = the top)}."
    block = re.search(r"### Layers.*?```text\n(.*?)```", (ROOT / "README.md").read_text(), re.S)[1]
    layers = {}
    for i, line in enumerate(block.splitlines()):
        modules = re.sub(r"\([^)]*\)", "", re.split(r"\s{2,}", line.strip(), maxsplit=1)[1]).split(":")[0]
        for name in re.split(r"[,+]", modules):
            if re.fullmatch(r"\w+", name.strip()): layers[name.strip()] = i
    return layers


def test_every_module_is_in_the_picture_and_imports_one_way():
    layers = readme_layers()
    modules = [p.stem for p in (ROOT / "scaling_mlps").glob("*.py") if not p.stem.startswith("_")]
    assert sorted(set(modules) - set(layers)) == [], "modules missing from the README's layers"
    upward = [(m, dep) for m in modules
              for dep in re.findall(r"^\s*from \.(\w+) import", (ROOT / "scaling_mlps" / f"{m}.py").read_text(), re.M)
              if layers.get(dep, -1) > layers[m]]
    assert upward == [], f"imports from a lower line of the picture: {upward}"


@pytest.mark.parametrize("module", ["paper", "results", "report_table1", "report_table2", "report_tta", "report_real",
                                    "report_scaling"])
def test_reports_import_no_torch(module):
    code = f"import sys, scaling_mlps.{module}; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


REPORT_MODULES = {"inductive_bias": "report_bias"}  # a report whose module is not report_<name>


@pytest.mark.parametrize("name", ["table1", "table2", "tta", "real", "scaling", "inductive_bias"])
def test_committed_laptop_report_renders_its_markdown(name):
    report = json.loads((ROOT / "results" / f"{name}_laptop.json").read_text())
    render = importlib.import_module(f"scaling_mlps.{REPORT_MODULES.get(name, f'report_{name}')}").report_markdown
    from scaling_mlps.results import with_manifest  # the markdown as write_report writes it: the manifest's line under it
    assert with_manifest(render(report), report) == (ROOT / "results" / f"{name}_laptop.md").read_text()
