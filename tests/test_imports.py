"""The package's modules import one way: no module imports (at any depth, lazily or not) one that imports it back."""
import ast, graphlib
from pathlib import Path

import scaling_mlps

PACKAGE = Path(scaling_mlps.__file__).parent


def import_graph() -> dict[str, set[str]]:
    "module -> the package modules it imports, from every `import` statement in its source (top level or in functions)."
    modules = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    graph = {}
    for m in modules:
        deps = set()
        for node in ast.walk(ast.parse((PACKAGE / f"{m}.py").read_text())):
            if isinstance(node, ast.ImportFrom):
                name = node.module or ""
                if node.level == 1: deps.add(name.split(".")[0])
                elif name.startswith("scaling_mlps."): deps.add(name.split(".")[1])
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("scaling_mlps.")}
        graph[m] = deps & modules - {m}
    return graph


def test_no_import_cycles():
    order = list(graphlib.TopologicalSorter(import_graph()).static_order())  # raises CycleError on a cycle
    assert order.index("models") < order.index("hub") < order.index("train") < order.index("finetune") < order.index("cli")


def test_a_cycle_is_detected():
    import pytest
    with pytest.raises(graphlib.CycleError):
        list(graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())
