"""Every link in every notebook resolves where a reader opens it: in JupyterLab's file layout (the repository's
`nbs/`, links relative to the notebook; the index's relative to the repository root, as README.md is), and in the
classroom copies (a course notebook links only to course notebooks, so its links work in both copies). On the site,
tests/test_site.py checks the built pages' links and images."""
import re
from pathlib import Path

import pytest

from scaling_mlps.classroom import cell_source, course_notebooks, read_notebook, write_classroom

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "nbs").rglob("*.ipynb"))
LINK = re.compile(r"!?\[[^\]]*\]\(([^()\s]+)\)")  # markdown links and images: [text](target), ![alt](target)


def local_links(nb: dict) -> list[str]:
    "The targets of the markdown links and images of `nb` that point into the file system (no URL, no bare anchor), anchors cut."
    targets = [m for c in nb["cells"] if c["cell_type"] == "markdown" for m in LINK.findall(cell_source(c))]
    return [t.split("#", 1)[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_local_links():
    nb = {"cells": [{"cell_type": "markdown", "source": "[a](../b.ipynb#x), ![f](r/f.png), [w](https://x.org), [s](#y)"},
                    {"cell_type": "code", "source": "[c](d.ipynb)"}]}
    assert local_links(nb) == ["../b.ipynb", "r/f.png"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT / "nbs").as_posix())
def test_links_resolve_in_jupyterlab(notebook):
    base = ROOT if notebook == ROOT / "nbs" / "index.ipynb" else notebook.parent
    dead = [t for t in local_links(read_notebook(notebook)) if not (base / t).exists()]
    assert not dead, f"{notebook.relative_to(ROOT)}: links to nothing: {dead} (link a notebook as NAME.ipynb, relative to it)"


def test_links_resolve_in_the_classroom_copies(tmp_path):
    written = write_classroom(tmp_path)
    assert len(written["teacher"]) == len(course_notebooks())
    dead = [f"{p.relative_to(tmp_path)} -> {t}" for ps in written.values() for p in ps
            for t in local_links(read_notebook(p)) if not (p.parent / t).exists()]
    assert not dead, f"links that leave the course (a course notebook links only to course notebooks): {dead}"
