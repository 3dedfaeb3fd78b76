"""Every exercise's check, run three ways on the student copies that `write_classroom` writes: unanswered, with a
wrong answer, and with the worked answer re-typed under other intermediate names.

- unanswered: the check stops with `NotAnsweredYet`, naming each name the exercise asks for (no bare `NameError`);
- a wrong answer (`WRONG` below, one per exercise): an `AssertionError` that says in words what is wrong;
- the worked answer with every intermediate name it assigns renamed (`prediction` stays, `steps` becomes
  `other_steps`): the check passes, so it reads only the names the exercise asks for.

Each chapter's student copy runs once in a Jupyter kernel (the chapters render from the committed results in
seconds); each exercise's stub and check are replaced by one cell that runs the check the three ways. Needs the
real data (CIFAR-10 for chapter 1's first exercise, ImageNet-ReaL's label files for chapter 4's last).
"""
from __future__ import annotations
import ast, json, re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from scaling_mlps.classroom import cell_source, course_notebooks, is_solution, read_notebook, write_classroom

CHAPTERS = sorted(name for name in course_notebooks() if name.startswith("chapters/"))

# chapter: a wrong answer to each of its exercises, in order, as a student might write it
WRONG = {
    "01_from_scratch": [
        'prediction = "lower"',
        """def mlp_parameters(arch, resolution, num_classes, channels=3):
    spec = parse_arch(arch); d, m = channels * resolution**2, spec['width']
    return d * m + m + m * num_classes + num_classes  # the blocks forgotten""",
        """class PreNormBottleneck(nn.Module):
    def __init__(self, width, expansion=4):
        super().__init__()
        self.norm, self.expand = nn.LayerNorm(width), nn.Linear(width, expansion * width)
        self.collapse = nn.Linear(expansion * width, width)
    def forward(self, z):  # no skip connection
        return self.collapse(nn.functional.gelu(self.expand(self.norm(z))))"""],
    "02_fine_tuning": ["first_ahead = 10**6", "pretrain_in_scratch_epochs = 1.0",
                       "max_move = 50 * PAPER_PROBE_LR  # one step per epoch"],
    "03_test_time_augmentation": [
        "logits_prediction, probabilities_prediction = 0, 1",
        """def paired_gain(plain, tta):  # a fraction, not points
    d = tta.astype(float) - plain.astype(float)
    return d.mean(), d.mean() - 0.01, d.mean() + 0.01""",
        "def enough_views(curve, plain, share): return max(curve)\nk_half_bmlp = 1"],
    "04_imagenet_real": [
        "original_accuracy, real_acc = 1 / 3, 1 / 3",
        "def beyer_from_all_images(acc_all, labelled, total): return acc_all * labelled / total\npaper_real_if_all_images = 48.6",
        "tape_scored, tape_rejected, tape_instead = 1, 1, 1"],
    "05_scaling_laws": [
        """def training_compute(arch, resolution, num_classes, n_examples, epochs, channels=3):  # two FLOPs per multiply-add
    with torch.device('meta'): return 2 * training_flops(get_model(arch, resolution, num_classes), n_examples, epochs)""",
        "def compute_optimal_runs(compute, error): return list(range(len(compute)))",
        "def compute_factor(alpha, shrink=2.0): return shrink ** alpha"],
    "06_inductive_bias": [
        "def restore(w, perm): return w.view(len(w), 3, -1)[..., perm].reshape(len(w), -1)  # the permutation, not its inverse",
        "def window_share_of(energy, window): return float(energy.max() / energy.sum())\nblob_share = window_share_of(blob, 5)",
        "cnn_cost_more = 5.0"],
}

# runs in the chapter's kernel: the check three ways, each outcome as (exception type, message) or None
DRIVER = '''
def _outcome(source):
    try: exec(compile(source, "<exercise>", "exec"), globals())
    except BaseException as e: return [type(e).__name__, str(e)]

def _three_ways(number, names, check, wrong, renamed):
    for n in names: globals().pop(n, None)
    unanswered = _outcome(check)
    wrong = _outcome(wrong) or _outcome(check)
    for n in names: globals().pop(n, None)
    right = _outcome(renamed) or _outcome(check)
    _outcomes.append({"number": number, "names": names, "unanswered": unanswered, "wrong": wrong, "right": right})

_outcomes = []
'''


class _AssignedNames(ast.NodeVisitor):
    "The names a cell assigns at its top level (not inside functions, classes, lambdas or comprehensions)."
    def __init__(self): self.names = set()
    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Store): self.names.add(node.id)
    def _skip(self, node): pass
    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = _skip
    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _skip


def renamed_answer(answer: str, keep: list[str]) -> tuple[str, set[str]]:
    "The worked answer with every name it assigns, but `keep`, renamed to `other_<name>`; (source, names renamed)."
    tree = ast.parse(answer)
    finder = _AssignedNames(); finder.visit(tree)
    rename = finder.names - set(keep)

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node):
            if node.id in rename: node.id = f"other_{node.id}"
            return node
    return ast.unparse(Rename().visit(tree)), rename


def asked_names(check: str) -> list[str]:
    "The names a check cell asks for: the arguments of its `check_answered(globals(), ...)` call."
    calls = [n for n in ast.walk(ast.parse(check)) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "check_answered"]
    assert len(calls) == 1, f"a check calls check_answered(globals(), ...) once; found {len(calls)}:\n{check[:300]}"
    return [a.value for a in calls[0].args[1:]]


def test_renamed_answer():
    source, renamed = renamed_answer("steps = 50 * 195\nmax_move = steps * lr\ndef f(x):\n    y = x\n    return y", ["max_move"])
    assert renamed == {"steps"} and source == "other_steps = 50 * 195\nmax_move = other_steps * lr\n\ndef f(x):\n    y = x\n    return y"


@pytest.fixture(scope="module")
def student_copies(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("classroom")
    write_classroom(out, ("student",))
    return out / "student"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_check_three_ways(chapter, student_copies, real_data_dir, monkeypatch):
    monkeypatch.setenv("SCALING_MLPS_DATA", str(real_data_dir))
    teacher, student = read_notebook(course_notebooks()[chapter]), nbformat.read(student_copies / chapter, as_version=4)
    stem, cells, exercises = Path(chapter).stem, [nbformat.v4.new_code_cell(DRIVER)], []
    skip = set()
    for i, cell in enumerate(teacher["cells"]):
        if not is_solution(cell): continue
        number = len(exercises) + 1
        check = cell_source(teacher["cells"][i + 1])
        names = asked_names(check)
        answer, renamed = renamed_answer(cell_source(cell), names)
        exercises.append((number, names, renamed))
        assert len(WRONG.get(stem, [])) >= number, f"{chapter}, exercise {number}: add a wrong answer to WRONG[{stem!r}]"
        skip |= {i, i + 1}
        args = ", ".join(map(repr, (number, names, check, WRONG[stem][number - 1], answer)))
        cells.append((i, nbformat.v4.new_code_cell(f"_three_ways({args})")))
    assert "exercise" in student.cells[next(iter(sorted(skip)))].metadata.get("tags", []), "student copy out of step with the teacher's"
    driven = [cells[0]]
    for i, cell in enumerate(student.cells):
        driven += [c for j, c in cells[1:] if j == i]
        if i not in skip: driven.append(cell)
    driven.append(nbformat.v4.new_code_cell("import json; print('OUTCOMES', json.dumps(_outcomes))"))
    student.cells = driven
    NotebookClient(student, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str((student_copies / chapter).parent)}}).execute()
    printed = "".join(o.get("text", "") for o in student.cells[-1].outputs if o.output_type == "stream")
    outcomes = json.loads(printed.split("OUTCOMES ", 1)[1])
    assert len(outcomes) == len(exercises) >= 3
    for o, (number, names, renamed) in zip(outcomes, exercises):
        where = f"{chapter}, exercise {number} (asks for {names}; the worked answer re-typed with {sorted(renamed)} renamed)"
        assert o["unanswered"] and o["unanswered"][0] == "NotAnsweredYet", f"{where}, unanswered: {o['unanswered']}"
        assert all(f"`{n}`" in o["unanswered"][1] for n in names), f"{where}, unanswered: {o['unanswered']}"
        assert o["wrong"] and o["wrong"][0] == "AssertionError", f"{where}, wrong answer: {o['wrong']}"
        assert len(re.findall(r"[A-Za-z]{3,}", o["wrong"][1])) >= 5, f"{where}: a wrong answer's message says what is wrong, in words: {o['wrong']}"
        assert o["right"] is None, f"{where}, worked answer: {o['right']}"
