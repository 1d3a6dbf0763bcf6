"""One name per idea, read from the notebooks and the source without running them:

- an exercise that asks for one function ``f`` (or one value ``v``) is checked by ``check.f(f)``; a quiz's check is
  ``quiz_<topic>`` and its answer ``answer`` or ``answer_<topic>``;
- when the reference library has a function of the exercise's name, the exercise's docstring names it
  (``Mirrors utils.vectors.cosine_similarity.``), and every reference a docstring names exists, so a learner finds it
  in one hop;
- notebooks import the course's modules under their own names (``from utils import positional``, not ``as pos``).
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

from tests.test_layers import layer, modules
from course_tools.course_format import called_checks, defined_names, exercise_check_pairs, is_code
from course_tools.grading.planning import plan
from course_tools.manifest import Course

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
LEARNER = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MIRRORS = re.compile(r"Mirrors\s+(.*?)(?:\.\s*$|\.\s*\n|$)", re.S)
DOTTED = re.compile(r"\butils(?:\.\w+)+")


def code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if is_code(c)]


def source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def exercises(path: Path):
    """(exercise cell source, check cell source) of every exercise of a notebook."""
    cells = code_cells(path)
    return [(source(cells[i]), source(cells[j])) for i, j in exercise_check_pairs(cells) if j is not None]


def reference_functions() -> dict[str, list[str]]:
    """Function name -> the reference modules defining it at top level (``utils.vectors``...), read from the source."""
    found: dict[str, list[str]] = {}
    for name, path in modules().items():
        if layer(name) != 0:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                found.setdefault(node.name, []).append(name)
    return found


def single_function(cell_source: str) -> ast.FunctionDef | None:
    """The function an exercise cell asks for, when the cell defines exactly that one name."""
    tree = ast.parse(re.sub(r"^[%!].*$", "", cell_source, flags=re.M))
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if len(functions) == 1 and defined_names(cell_source) == {functions[0].name}:
        return functions[0]
    return None


def mirrored(docstring: str) -> list[str]:
    """The reference functions a docstring's ``Mirrors ...`` sentence names.

    >>> mirrored("x -> y\\n\\nMirrors utils.vectors.l1_norm and utils.vectors.l2_norm.\\n")
    ['utils.vectors.l1_norm', 'utils.vectors.l2_norm']
    """
    match = MIRRORS.search(docstring or "")
    return DOTTED.findall(match.group(1)) if match else []


# ------------------------------------------------------------------------------------------------ the rules
#: checks named after what the exercise does, because the answer's name is a math symbol, not a name for an idea
DESCRIBED = {"stack_tokens": "01's answer is the matrix X (one row per token), the notebook's name for it"}


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_each_check_is_named_after_what_the_exercise_asks_for(path):
    wrong = []
    for exercise, check in exercises(path):
        names, called = defined_names(exercise), called_checks(check)
        if len(names) != 1 or not called:
            continue  # an exercise with several answers keeps a name that describes it (check.build_tensors(s, v, M, T))
        (name,), check_name = names, called[0]
        if check_name in DESCRIBED:
            ok = True
        elif check_name.startswith("quiz_"):
            ok = name in ("answer", "answer_" + check_name[len("quiz_"):])
        else:
            ok = check_name == name
        if not ok:
            wrong.append(f"check.{check_name}({name})")
    assert not wrong, f"{path.name}: the check and the answer have different names: {wrong}"


@pytest.mark.parametrize("path", LEARNER, ids=lambda p: p.name[:2])
def test_function_exercises_name_the_reference_they_mirror(path):
    """Read in the learner notebook: the docstring is outside the solution markers, so the stub shows it."""
    reference = reference_functions()
    files = modules()
    problems = []
    for exercise, _ in exercises(path):
        fn = single_function(exercise)
        if fn is None:
            continue
        named = mirrored(ast.get_docstring(fn))
        for dotted in named:
            if not resolves(dotted, files):
                problems.append(f"{fn.name}: {dotted} does not exist")
        if fn.name in reference and not any(d.rpartition(".")[2] == fn.name for d in named):
            problems.append(f"{fn.name}: the reference has {fn.name} ({', '.join(reference[fn.name])}); "
                            f"say 'Mirrors utils.<module>.{fn.name}.' in its docstring")
    assert not problems, f"{path.name}: " + "; ".join(problems)


def resolves(dotted: str, files: dict[str, Path]) -> bool:
    """Whether ``utils.x.y`` (a function) or ``utils.x.Class.method`` is defined in the reference library's source."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module, rest = ".".join(parts[:cut]), parts[cut:]
        if module in files and layer(module) == 0:
            body = ast.parse(files[module].read_text(encoding="utf-8")).body
            for name in rest:
                node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name),
                            None)
                if node is None:
                    return False
                body = getattr(node, "body", [])
            return True
    return False


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_notebooks_import_course_modules_under_their_own_names(path):
    aliased = []
    for cell in code_cells(path):
        tree = ast.parse(re.sub(r"^[%!].*$", "", source(cell), flags=re.M))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                base = node.module if isinstance(node, ast.ImportFrom) else ""
                for alias in node.names:
                    full = f"{base}.{alias.name}" if base else alias.name
                    if full.startswith("utils") and alias.asname and alias.asname != alias.name.rpartition(".")[2] \
                            and not (base == "utils.checks" and alias.asname == "check"):
                        aliased.append(f"{full} as {alias.asname}")
    assert not aliased, f"{path.name} hides module names behind aliases: {aliased}"


def test_naming_the_mirrored_reference_does_not_allow_calling_it():
    """The docstring says ``Mirrors utils.vectors.cosine_similarity.``; an answer that calls it is still reported."""
    chapter = Course().chapter("02")
    cosine = next(e for e in chapter.exercises if e.id == "2.4")
    assert "utils.vectors.cosine_similarity" not in cosine.references
    nb = nbformat.read(chapter.notebook, as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == cosine.exercise_cell)
    assert "Mirrors utils.vectors.cosine_similarity." in cell.source
    cell.source = cell.source.replace('raise NotImplementedError', 'return vectors.cosine_similarity(a, b)  #')
    assert plan(nb, chapter).references.get("2.4") == ["utils.vectors.cosine_similarity"]
