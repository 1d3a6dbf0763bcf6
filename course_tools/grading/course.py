"""The course model of grading: which chapter a notebook is, the exercises that chapter has, the course's own check
cells, and the plan that runs a submission - its cells in order, each course check cell right after the learner's
cell that answers it.

Everything here is read from the course (``notebooks/``, ``solutions/``, ``utils/checks/``), never from the
submission, except the learner's cells themselves. Nothing here starts a kernel. The notebook format it reads (tags,
exercise/check pairs, chapter numbers, the names a cell defines) is :mod:`course_tools.course_format`.

>>> sorted(defined_names("def f(x):\\n    return x\\na, (b, c) = 1, (2, 3)"))
['a', 'b', 'c', 'f']
>>> reference_uses(["import utils.vectors as vec"], "def cos(a, b):\\n    return vec.cosine_similarity(a, b)")
['utils.vectors.cosine_similarity']
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course_tools.course_format import (called_checks, chapter_of, defined_names, exercise_check_pairs,  # noqa: F401
                                 is_check, is_exercise, parse_cell, rename_names)

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"^utils(\.|$)")
MIRRORS = re.compile(r"Mirrors (utils(?:\.\w+)+)\.")
NOT_REFERENCE = re.compile(r"^utils\.checks(\.|$)|^utils$")


@dataclass(frozen=True)
class Course:
    """Where the course's own files are (tests point these at small synthetic chapters)."""
    notebooks: Path = ROOT / "notebooks"        # canonical learner notebooks: their check cells are the checks
    solutions: Path = ROOT / "solutions"        # what a right answer uses (for the reference-implementation rule)
    checks: Path = ROOT / "utils" / "checks"    # chNN.py check modules
    # where solutions/ is not shipped (the Gradescope bundle): what each exercise's solution uses of utils.*
    references: Path = ROOT / "grading_references.json"

    def notebook(self, chapter: str | None) -> Path | None:
        found = sorted(Path(self.notebooks).glob(f"{chapter}_*.ipynb")) if chapter else []
        return found[0] if found else None

    def check_module(self, chapter: str | None) -> Path | None:
        path = Path(self.checks) / f"ch{chapter}.py"
        return path if chapter and path.exists() else None


COURSE = Course()


@dataclass
class CourseExercise:
    """One exercise as the course defines it: its exercise cell, and the check cell that follows it."""
    id: str
    title: str
    exercise_cell_id: str
    check_cell_id: str
    check_source: str
    names: set[str]
    allowed_references: set[str] = field(default_factory=set)  # utils.* names the solution's cell uses itself
    former: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a name of ``names`` -> its names before
    mirrors: tuple[str, ...] = ()  # the reference(s) the exercise asks the learner to write ("Mirrors utils.x.f.")


# ---------------------------------------------------------------------------------------------- source analysis
def _utils_bindings(tree) -> dict[str, str]:
    """Names that imports bind to the course's package: ``import utils.vectors as vec`` -> {"vec": "utils.vectors"}."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if REFERENCE.match(alias.name):
                    bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "utils"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and REFERENCE.match(node.module):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _dotted(node) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _exempt(name: str) -> bool:
    """Names an answer may use: the package itself, the check modules and their checks. What a check module itself
    imports (``check.vectors.cosine_similarity``) is the reference reached the long way round."""
    if not NOT_REFERENCE.match(name):
        return False
    parts = name.split(".")
    if len(parts) <= 3:
        return True
    try:
        module = importlib.import_module(".".join(parts[:3]))
    except Exception:
        return False
    return hasattr(getattr(module, parts[3], None), "ex_id")


def reference_uses(before: list[str], source: str) -> list[str]:
    """The ``utils.*`` names (not ``utils.checks``) that a cell uses: imported in it, or imported by the cells
    ``before`` it and used in it, or spelled in a string (``importlib.import_module("utils.vectors")``). A docstring
    is not a use: the exercises' docstrings name the reference they mirror.

    >>> reference_uses([], "def f(a, b):\\n    'Mirrors utils.vectors.cosine_similarity.'\\n    return a @ b")
    []
    """
    tree = parse_cell(source)
    if tree is None:
        return []
    bound: dict[str, str] = {}
    for earlier in before:
        earlier_tree = parse_cell(earlier)
        if earlier_tree is not None:
            bound.update(_utils_bindings(earlier_tree))
    own = _utils_bindings(tree)
    shadowed = {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    shadowed |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound = {k: v for k, v in bound.items() if k not in shadowed}
    bound.update(own)
    found = set(own.values())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)  # "Mirrors utils.x.f." names a reference, uses none
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)) and isinstance(getattr(node, "ctx", None), ast.Load):
            parts = _dotted(node)
            if parts and parts[0] in bound:
                found.add(".".join([bound[parts[0]], *parts[1:]]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.update(re.findall(r"\butils\.\w+(?:\.\w+)*", node.value))
    # a chain a.b.c is also walked as a.b and a: keep only the longest of each
    found = {f for f in found if REFERENCE.match(f) and not _exempt(f)}
    return sorted(f for f in found if not any(g != f and g.startswith(f + ".") for g in found))


# ---------------------------------------------------------------------------------------------- the course's side
_CACHE: dict[tuple, object] = {}


def _check_module(chapter: str | None, course: Course):
    path = course.check_module(chapter)
    if path is None:
        return None
    key = ("checks", str(path), path.stat().st_mtime_ns)
    if key not in _CACHE:
        spec = importlib.util.spec_from_file_location(f"_grader_checks_ch{chapter}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _CACHE[key] = module
    return _CACHE[key]


def check_functions(chapter: str | None, course: Course = COURSE) -> dict[str, tuple[str, str]]:
    """Check function name -> (exercise id, title), in the order the chapter's check module defines them."""
    module = _check_module(chapter, course)
    return {name: (fn.ex_id, fn.title) for name, fn in vars(module).items()
            if callable(fn) and hasattr(fn, "ex_id")} if module is not None else {}


def renamed(chapter: str | None, course: Course = COURSE) -> dict[str, str]:
    """Former name -> name now, for the chapter's renamed exercises (the check module's ``RENAMED``)."""
    module = _check_module(chapter, course)
    return dict(getattr(module, "RENAMED", {})) if module is not None else {}


def expected_exercises(chapter: str | None, course: Course = COURSE) -> dict[str, str]:
    """Exercise id -> title for a chapter, from its check module ``utils/checks/chNN.py``."""
    return {ex_id: title for ex_id, title in check_functions(chapter, course).values()}


def course_exercises(chapter: str | None, course: Course = COURSE) -> list[CourseExercise] | None:
    """The exercises of a chapter, in order, read from its canonical notebook; None when there is none."""
    path = course.notebook(chapter)
    if path is None:
        return None
    solution = Path(course.solutions) / path.name
    key = ("course", str(path), path.stat().st_mtime_ns, solution.exists() and solution.stat().st_mtime_ns)
    if key in _CACHE:
        return _CACHE[key]
    nb = nbformat.read(path, as_version=4)
    solution_cells = _solution_cells(solution)
    shipped = _shipped_references(course, chapter) if not solution.exists() else {}
    functions = check_functions(chapter, course)
    now_to_former: dict[str, tuple[str, ...]] = {}
    for old, now in renamed(chapter, course).items():
        now_to_former[now] = now_to_former.get(now, ()) + (old,)
    code = [c for c in nb.cells if c.cell_type == "code"]
    exercises = []
    for i, j in exercise_check_pairs(code):
        if j is None:
            continue
        cell, check = code[i], code[j]
        called = [functions[name] for name in called_checks(check.source) if name in functions]
        if not called:
            continue
        ex_id, title = called[0]
        before, answer = solution_cells.get(cell.get("id"), ([c.source for c in code[:i]], cell.source))
        allowed = set(shipped[cell.get("id")]) if cell.get("id") in shipped else set(reference_uses(before, answer))
        names = defined_names(cell.source)
        exercises.append(CourseExercise(ex_id, title, cell.get("id", ""), check.get("id", ""), check.source,
                                        names, allowed,
                                        {n: now_to_former[n] for n in names if n in now_to_former},
                                        tuple(MIRRORS.findall(cell.source))))
    _CACHE[key] = exercises
    return exercises


def _shipped_references(course: Course, chapter: str) -> dict[str, list[str]]:
    """Exercise cell id -> the utils.* names its solution uses, from :attr:`Course.references` (written by
    :func:`reference_table` where the solutions are not shipped)."""
    try:
        table = json.loads(Path(course.references).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return table.get(chapter, {}) if isinstance(table, dict) else {}


def reference_table(course: Course = COURSE) -> dict[str, dict[str, list[str]]]:
    """Chapter -> exercise cell id -> the utils.* names its solution uses: what the grader needs of the solutions
    to tell a learner's own code from the reference's, without the solutions themselves."""
    table = {}
    for canon in sorted(Path(course.notebooks).glob("[0-9]*_*.ipynb")):
        chapter = chapter_of(canon.name)
        table[chapter] = {ex.exercise_cell_id: sorted(ex.allowed_references)
                          for ex in course_exercises(chapter, course) or []}
    return table


def _solution_cells(path: Path) -> dict[str, tuple[list[str], str]]:
    """Exercise cell id -> (sources of the code cells before it, its source), from the solution notebook."""
    if not path.exists():
        return {}
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    return {c.get("id"): ([d.source for d in code[:i]], c.source) for i, c in enumerate(code)
            if is_exercise(c)}


def identify_chapter(nb, path: Path, course: Course = COURSE) -> str | None:
    """The chapter of a submission: the course notebook sharing the most cell ids with it (ids survive renaming and
    editing), else the chapter in its metadata, else the number its file name starts with."""
    ids = {c.get("id") for c in nb.get("cells", []) if c.get("id")}
    best, best_overlap = None, 0
    for canon in sorted(Path(course.notebooks).glob("[0-9]*_*.ipynb")):
        try:
            canon_ids = {c.get("id") for c in json.loads(canon.read_text(encoding="utf-8")).get("cells", [])}
        except (OSError, ValueError):
            continue
        overlap = len(ids & canon_ids)
        if overlap > best_overlap:
            best, best_overlap = chapter_of(canon.name), overlap
    if best is not None and best_overlap >= 2:
        return best
    return chapter_of(path, nb)


# ---------------------------------------------------------------------------------------------- the plan
@dataclass
class Step:
    """One cell the grader runs: a learner cell (``kind="cell"``; ``exercise`` set when it answers one) or a course
    check cell the grader inserts (``kind="check"``)."""
    kind: str
    source: str
    exercise: str | None = None
    cell: int | None = None     # position of a learner cell in the submission (1-based, all cells counted)
    answer: str = ""             # check steps: the source of the learner's cell that answers the exercise


@dataclass
class Plan:
    steps: list[Step]
    missing: dict[str, str]             # exercise id -> why it cannot be run (no exercise cell found)
    references: dict[str, list[str]]    # exercise id -> utils.* names its cell uses that the solution does not
    rules: dict[str, str] = field(default_factory=dict)  # exercise id -> how its answer breaks the writing rules


def answer_cells(nb, exercises: list[CourseExercise]) -> dict[str, int]:
    """Exercise id -> index of the learner cell that answers it: the (last) cell with the course's cell id, else the
    last cell defining the exercise's names. Check cells never count."""
    found = {}
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not is_check(c)]
    check_ids = {e.check_cell_id for e in exercises}
    code = [(i, c) for i, c in code if c.get("id") not in check_ids]
    for ex in exercises:
        by_id = [i for i, c in code if c.get("id") == ex.exercise_cell_id]
        names = ex.names.union(*ex.former.values())
        by_names = [i for i, c in code if names and names & defined_names(c.source)]
        if by_id or by_names:
            found[ex.id] = (by_id or by_names)[-1]
    return found


def plan(nb, chapter: str, exercises: list[CourseExercise], course: Course = COURSE) -> Plan:
    """The steps that grade ``nb`` (which is not modified): every learner cell except its check cells, in order, and
    the course's check cell of each exercise right after the learner's cell that answers it (run by the judge,
    :mod:`course_tools.grading.judge`, not in the kernel)."""
    where = answer_cells(nb, exercises)
    by_cell: dict[int, list[CourseExercise]] = {}
    for ex in exercises:
        if ex.id in where:
            by_cell.setdefault(where[ex.id], []).append(ex)
    check_ids = {e.check_cell_id for e in exercises}
    steps = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or is_check(cell) or cell.get("id") in check_ids:
            continue  # the learner's copy of a check cell: whatever it says now, the course's version replaces it
        answers = by_cell.get(i, [])
        steps.append(Step("cell", cell.source, answers[0].id if answers else None, i + 1))
        for ex in answers:
            steps.append(Step("check", _check_source(ex, cell.source), ex.id, answer=cell.source))
    missing = {ex.id: "no exercise cell found for it (deleted, or its names changed?)"
               for ex in exercises if ex.id not in where}
    references, rules = {}, {}
    course_cells = _course_cells(chapter, course)
    allowed = {ex.exercise_cell_id: ex.allowed_references for ex in exercises}
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for ex in exercises:
        if ex.id not in where:
            continue
        at = where[ex.id]
        cells = [c.source for i, c in code if i < at]
        used = [r for r in reference_uses(cells, nb.cells[at].source) if r not in ex.allowed_references]
        # the reference the exercise mirrors, reached from any cell the learner wrote or changed before the answer
        # (a helper in another cell that calls it, an import kept in an earlier cell)
        for i, cell in code:
            if i < at and course_cells.get(cell.get("id")) != cell.source:
                earlier = [c.source for j, c in code if j < i]
                own = allowed.get(cell.get("id"), set())  # another exercise whose solution uses it itself
                used += [r for r in reference_uses(earlier, cell.source)
                         if r in ex.mirrors and r not in used and r not in own]
        if used:
            references[ex.id] = used
        twice = sorted(n for n, k in _definitions(nb.cells[at].source).items() if k > 1 and n in ex.names)
        if twice:
            rules[ex.id] = (f"its cell defines {', '.join(twice)} more than once: keep one definition, the one you "
                            "want graded")
    return Plan(steps, missing, references, rules)


def _definitions(source: str) -> dict[str, int]:
    """How many times each name is defined at the top level of a cell (def, class, assignment)."""
    tree = parse_cell(source)
    counts: dict[str, int] = {}
    for node in getattr(tree, "body", []):
        for name in defined_names(ast.unparse(node)) if not isinstance(node, (ast.If, ast.Try)) else ():
            counts[name] = counts.get(name, 0) + 1
    return counts


def _course_cells(chapter: str | None, course: Course) -> dict[str, str]:
    """Cell id -> source of the course's learner notebook of ``chapter`` (a cell as the course wrote it)."""
    path = course.notebook(chapter)
    if path is None:
        return {}
    key = ("cells", str(path), path.stat().st_mtime_ns)
    if key not in _CACHE:
        nb = nbformat.read(path, as_version=4)
        _CACHE[key] = {c.get("id"): c.source for c in nb.cells if c.get("id")}
    return _CACHE[key]



# The first cell the grader runs in a fresh kernel, before any learner cell: it loads what every probe needs, so that
# a kernel that cannot (numpy under too small a memory limit) is reported once, as the notebook's problem.
STARTUP = "import numpy, course_tools.grading.probe\n"


def _check_source(ex: CourseExercise, answer: str) -> str:
    """The course's check cell for ``ex``, calling the learner's answer by the name their cell gives it: a notebook
    saved before an exercise was renamed defines the former name (``cosine``), and is graded as it was written."""
    defined = defined_names(answer)
    old = {now: next(f for f in formers if f in defined) for now, formers in ex.former.items()
           if now not in defined and any(f in defined for f in formers)}
    return rename_names(ex.check_source, old) if old else ex.check_source
