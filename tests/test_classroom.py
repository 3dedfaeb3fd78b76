"""Student and teacher copies (`scaling-mlps classroom`), and the course as package data of an installed wheel."""
import json, os, subprocess, sys, textwrap
from pathlib import Path

import pytest

from scaling_mlps.classroom import (GUIDE, cell_source, count_exercises, course_notebooks, is_solution, read_notebook,
                                    write_classroom)
from scaling_mlps.cli import run

ROOT = Path(__file__).resolve().parents[1]


def test_cli_writes_student_copies_without_answers(tmp_path):
    written = run(["classroom", "--out", str(tmp_path)])
    course = course_notebooks()
    assert sorted(written) == ["student", "teacher"]
    assert len(written["teacher"]) == len(course) and len(written["student"]) == len(course) - (GUIDE in course)
    exercises = 0
    for path in written["student"]:
        name = path.relative_to(tmp_path / "student").as_posix()
        teacher, student = read_notebook(course[name]), read_notebook(path)
        assert count_exercises(student) == 0, f"{name}: a student copy keeps a #| solution cell"
        assert len(student["cells"]) == len(teacher["cells"])
        for t, s in zip(teacher["cells"], student["cells"]):
            if is_solution(t):
                exercises += 1
                assert "exercise" in s["metadata"]["tags"] and "raise NotImplementedError" in cell_source(s)
                assert not s["outputs"]
            else:
                assert cell_source(s) == cell_source(t)  # questions and checks kept as they are
    assert exercises >= 3  # chapter 1 alone has three
    for path in written["teacher"]:
        assert path.read_bytes() == course[path.relative_to(tmp_path / "teacher").as_posix()].read_bytes()
    with pytest.raises(SystemExit) as e:  # a second run would overwrite the students' work
        run(["classroom", "--out", str(tmp_path)])
    assert e.value.code == 2
    assert run(["classroom", "--out", str(tmp_path), "--teacher", "--force"]).keys() == {"teacher"}


def test_student_copy_of_a_made_up_course(tmp_path):
    nb = {"cells": [{"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 3,
                     "outputs": [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}],
                     "source": ["#| solution\n", "# answer = ...\n", "answer = 6 * 7"]},
                    {"cell_type": "code", "id": "b", "metadata": {}, "execution_count": 4,
                     "outputs": [{"output_type": "stream", "name": "stdout", "text": ["Right\n"]}],
                     "source": ["assert answer == 42; print('Right')"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "nbs" / "chapters").mkdir(parents=True)
    (tmp_path / "nbs" / "chapters" / "01_x.ipynb").write_text(json.dumps(nb))
    written = write_classroom(tmp_path / "out", ("student",), folder=tmp_path / "nbs")
    student = read_notebook(written["student"][0])
    assert "6 * 7" not in json.dumps(student) and "42\\n" not in json.dumps(student)
    assert student["cells"][1]["outputs"] == [] and cell_source(student["cells"][1]) == cell_source(nb["cells"][1])
    assert cell_source(student["cells"][0]).splitlines()[1] == "# answer = ..."
    with pytest.raises(NotImplementedError, match="exercise 1"):
        exec(cell_source(student["cells"][0]), {})


RUN_CHAPTER = textwrap.dedent('''
    import json, sys
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    path, cwd = sys.argv[1], sys.argv[2]
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import scaling_mlps; print(scaling_mlps.__file__)"))
    error = None
    try: NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": cwd}}).execute()
    except CellExecutionError as e: error = e.ename
    failed = [i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    stubs = [i for i, c in enumerate(nb.cells) if "exercise" in c.metadata.get("tags", [])]
    print(json.dumps({"package": nb.cells[0].outputs[0]["text"].strip(), "error": error, "failed": failed,
                      "first_stub": stubs[0] if stubs else None,
                      "ran": sum(c.cell_type == "code" and c.get("execution_count") is not None for c in nb.cells)}))
''')


@pytest.mark.slow
def _offline_build() -> list[str]:
    """pip's `--no-build-isolation` where this interpreter's setuptools meets pyproject's build-system (then the wheel
    builds offline); none where it does not (a fresh virtualenv's setuptools 65 cannot read PEP 639's license field):
    pip then fetches a setuptools that can, as `pip install -e .` does."""
    import tomllib
    from importlib.metadata import PackageNotFoundError, version
    from packaging.requirements import Requirement
    wanted = next(Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
                  if Requirement(r).name == "setuptools")
    try: return ["--no-build-isolation"] if wanted.specifier.contains(version("setuptools")) else []
    except PackageNotFoundError: return []


def test_wheel_carries_the_course(tmp_path, real_data_dir):
    """Build the wheel, install it (not editable) in a fresh venv, write the classroom from the installed package in an
    empty folder, and run a student's chapter 1 there at the ci scale: it runs up to its first exercise's stub."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCALING_MLPS_RESULTS")}
    sh = lambda *cmd, **kw: subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, env=env, **kw)
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", *_offline_build(), "-q", "-w", tmp_path / "wheel", ROOT)
    wheel, = (tmp_path / "wheel").glob("scaling_mlps-*.whl")
    venv = tmp_path / "venv"  # torch and the rest come from this interpreter's site-packages, named in a .pth file:
    sh(sys.executable, "-m", "venv", "--without-pip", venv)  # --system-site-packages from a virtualenv would give the base's
    site_dir, = (venv / "lib").glob("python*/site-packages")
    (site_dir / "this_interpreter.pth").write_text("".join(p + "\n" for p in sys.path if p.endswith(("site-packages", "dist-packages"))))
    python = venv / "bin" / "python"
    sh(python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel)
    elsewhere = tmp_path / "elsewhere"; elsewhere.mkdir()

    found = json.loads(sh(python, "-c", "import json, scaling_mlps, scaling_mlps.results as e; print(json.dumps("
                          "[scaling_mlps.__file__, str(e.results_dir()), e.load_report('table1', 'laptop') is not None]))",
                          cwd=elsewhere).stdout)
    site = str(venv / "lib")
    assert found[0].startswith(site) and found[1].startswith(site), f"not the installed package: {found}"
    assert found[2], "the committed Table 1 report is not in the installed package's results"

    out = sh(venv / "bin" / "scaling-mlps", "classroom", "--out", "class", cwd=elsewhere).stdout
    assert "student's copy" in out and (elsewhere / "class/student/chapters/01_from_scratch.ipynb").exists(), out
    assert (elsewhere / "class/teacher" / GUIDE).exists() and not (elsewhere / "class/student" / GUIDE).exists(), out

    env.update(SCALING_MLPS_DATA=str(real_data_dir), SCALING_MLPS_SCALE="ci", OMP_NUM_THREADS="1")
    (tmp_path / "run_chapter.py").write_text(RUN_CHAPTER)
    result = json.loads(sh(python, tmp_path / "run_chapter.py", elsewhere / "class/student/chapters/01_from_scratch.ipynb",
                           elsewhere, cwd=elsewhere).stdout.strip().splitlines()[-1])
    assert result["package"].startswith(site), result
    assert result["error"] == "NotImplementedError", f"the chapter stopped before its first exercise: {result}"
    assert result["failed"] == [result["first_stub"]], result
