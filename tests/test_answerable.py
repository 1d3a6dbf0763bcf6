"""Every exercise is answerable from the learner notebook alone.

A solution region (between ``### BEGIN SOLUTION`` and ``### END SOLUTION``) holds only the answer. Everything the
learner needs - the names the check reads, the function to write and its signature, what it returns, the keys a dict
answer must have, the literal strings a check compares against - must be visible in the LEARNER notebook (markdown,
the exercise stub, earlier code). The learner version is built in memory with ``course_tools.generate.learner_version``, and
the rules below are read from the notebooks' text and the check modules' source: no kernel is started.

Rules, per exercise (an exercise cell and the check cell after it):
1. names: every name the check call reads is defined in the learner notebook before the check cell;
2. signatures: every function the solution's exercise cell defines is in the learner stub with the same parameters;
3. contracts: each such function states what it takes and returns, in its docstring or in the markdown just before
   the exercise (a paragraph that names the function in backticks);
4. keys: every constant key of a dict literal in a solution region appears in the learner notebook;
5. checked literals: every string literal of a solution region (longer than one character) that the chapter's check
   module also contains appears in the learner notebook (e.g. ``"error"`` in 01, a prompt's fixed header in 07).
The ``test_the_rules_reject_*`` tests below prove that each rule rejects a simulated violation.
"""
from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import nbformat
import pytest

from course_tools.course_format import BEGIN, END
from course_tools.generate import learner_version

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
# Strings that spell a Python value or codec (``float("-inf")``, ``.encode("utf-8")``): how, not what, to answer.
PYTHON_SPELLINGS = {"inf", "-inf", "nan", "utf-8"}


# ------------------------------------------------------------------------------------------------ notebook reading
def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _code(source: str) -> str:
    """Cell source without IPython magics / shell lines, so that ``ast`` can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _parse(source: str) -> ast.Module:
    try:
        return ast.parse(_code(source))
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


def _outside_regions(source: str) -> str:
    """The text of a cell without its solution regions (what the learner sees of the solution's own lines)."""
    out, inside = [], False
    for line in source.splitlines(keepends=True):
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "".join(out)


def _regions(source: str) -> list[str]:
    """The solution regions of a cell, dedented so each parses on its own."""
    regions, current = [], None
    for line in source.splitlines(keepends=True):
        if line.strip() == BEGIN:
            current = []
        elif line.strip() == END:
            lines = current or []
            indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
            regions.append("".join(x[indent:] if x.strip() else x for x in lines))
            current = None
        elif current is not None:
            current.append(line)
    return regions


def _defined(tree: ast.AST) -> set[str]:
    """Names a cell binds at top level (assignments, defs, classes, imports, loop/with targets)."""
    names: set[str] = set()

    def bind(target):
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                bind(element)
        elif isinstance(target, ast.Starred):
            bind(target.value)

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                bind(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            bind(node.target)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            bind(node.optional_vars)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.NamedExpr):
            bind(node.target)
    return names


def _read_names(tree: ast.AST) -> set[str]:
    """Names an expression/cell reads, leaving out those bound by its own comprehensions and lambdas."""
    local: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension):
            local |= _defined(ast.Module(body=[ast.Assign(targets=[node.target], value=ast.Constant(0))],
                                         type_ignores=[]))
        elif isinstance(node, ast.Lambda):
            local |= {a.arg for a in node.args.args + node.args.kwonlyargs}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local


def _signature(fn: ast.FunctionDef) -> str:
    return ast.unparse(fn.args)


def _norm(text: str) -> str:
    """Text compared without whitespace and with one kind of quote, so ``("l", 'o')`` matches ``('l','o')``."""
    return re.sub(r"\s+", "", text).replace('"', "'")


def exercises(nb):
    """(exercise cell index, check cell index) pairs of a solution notebook."""
    pairs = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "exercise" in _tags(cell):
            j = next(k for k in range(i + 1, len(nb.cells)) if nb.cells[k].cell_type == "code")
            pairs.append((i, j))
    return pairs


def _check_module_strings(chapter: str) -> set[str]:
    path = ROOT / "utils" / "checks" / f"ch{chapter}.py"
    if not path.exists():
        return set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _exercise_markdown(cells, i: int) -> str:
    """The markdown a learner reads for the exercise at cell ``i``: back to the previous exercise or check cell."""
    parts = []
    for k in range(i - 1, -1, -1):
        cell = cells[k]
        if cell.cell_type == "code" and {"exercise", "check"} & set(_tags(cell)):
            break
        if cell.cell_type == "markdown":
            parts.append(cell.source)
    return "\n".join(reversed(parts))


def violations(solution, name: str) -> list[str]:
    """Every broken rule of one solution notebook, as readable lines (empty when every exercise is answerable)."""
    learner = learner_version(solution, name)
    cells, lcells = solution.cells, learner.cells
    assert [c.get("id") for c in cells] == [c.get("id") for c in lcells]
    chapter = name[:2]
    checked_strings = _check_module_strings(chapter)
    # Everything the learner can read: markdown, code outside solution regions (stubs included).
    visible = _norm("\n".join(c.source for c in lcells))
    found: list[str] = []
    for i, j in exercises(solution):
        check_src = cells[j].source
        match = re.search(r"check\.(\w+)\(", check_src)
        where = f"{name} exercise cell {i} ({match.group(1) if match else '?'})"
        # 1. names the check call reads are defined by the learner's cells before it
        bound: set[str] = set(dir(builtins))
        for cell in lcells[:j]:
            if cell.cell_type == "code":
                bound |= _defined(_parse(cell.source))
        missing = sorted(_read_names(_parse(check_src)) - bound)
        if missing:
            found.append(f"{where}: the check reads {missing}, which the learner notebook never defines")
        # 2./3. functions to write: same signature in the stub, contract stated
        solution_defs = {n.name: n for n in _parse(cells[i].source).body if isinstance(n, ast.FunctionDef)}
        learner_defs = {n.name: n for n in _parse(lcells[i].source).body if isinstance(n, ast.FunctionDef)}
        markdown = _exercise_markdown(cells, i)
        for fn_name, fn in solution_defs.items():
            if fn_name not in learner_defs:
                found.append(f"{where}: `def {fn_name}` is inside the solution region; the stub must show it")
                continue
            if _signature(learner_defs[fn_name]) != _signature(fn):
                found.append(f"{where}: the stub's `{fn_name}` parameters differ from the solution's")
            doc = ast.get_docstring(learner_defs[fn_name]) or ""
            if not doc and f"`{fn_name}" not in markdown:
                found.append(f"{where}: `{fn_name}` has no docstring and the exercise markdown does not describe "
                             f"`{fn_name}(...)`: state its inputs and what it returns")
        # 4. dict keys and 5. literals the check compares against
        for region in _regions(cells[i].source):
            tree = _parse(region)
            for node in ast.walk(tree):
                if isinstance(node, ast.Dict):
                    for key in node.keys:
                        if key is not None and _is_constant(key) and _norm(ast.unparse(key)) not in visible:
                            found.append(f"{where}: the dict key {ast.unparse(key)} appears only in the solution")
                if (isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 1
                        and node.value in checked_strings - PYTHON_SPELLINGS
                        and _literal_text(node.value) not in visible):
                    found.append(f"{where}: the check compares against {node.value!r}, which only the solution shows")
    return found


def _literal_text(value: str) -> str:
    """How a checked string must appear: one word quoted (`"error"`, not the word in a sentence), a phrase as is."""
    return _norm(value) if re.search(r"\s", value) else _norm(repr(value))


def _is_constant(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Tuple):
        return all(_is_constant(e) for e in node.elts)
    return False


def _read(path: Path):
    return nbformat.read(path, as_version=4)


# ------------------------------------------------------------------------------------------------------- the tests
def test_every_notebook_has_exercises_to_test():
    assert len(SOLUTIONS) >= 11
    assert all(exercises(_read(p)) for p in SOLUTIONS)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name[:2])
def test_every_exercise_is_answerable_from_the_learner_notebook(path):
    assert violations(_read(path), path.name) == []


# ---------------------------------------------------------------------- a test of the test: simulated violations
def _notebook_01():
    return _read(ROOT / "solutions" / "01_scalars_to_tensors.ipynb")


def _cell(nb, needle: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if needle in c.source)


def test_the_rules_reject_pairs_that_only_the_solution_lists():
    """Notebook 01 with the examples cut from the markdown of exercises 1.5 and 1.7, so that their shape pairs are
    named only inside the solution: the rules must reject it."""
    nb = _notebook_01()
    for title in ("### Exercise 1.5", "### Exercise 1.7"):
        md = nb.cells[_cell(nb, title)]
        md.source = re.sub(r"```python.*?```", "", md.source, flags=re.S)
    found = violations(nb, "01_scalars_to_tensors.ipynb")
    assert any("broadcast_answers" in f and "((2, 3), (2,))" in f for f in found), found
    assert any("matmul_answers" in f and "((8, 5, 4), (5, 4))" in f for f in found), found


def test_the_rules_reject_a_checked_literal_that_only_the_solution_shows():
    nb = _notebook_01()
    for i in (_cell(nb, "### Exercise 1.5"), _cell(nb, "### Exercise 1.7")):
        nb.cells[i].source = nb.cells[i].source.replace('"error"', "error")
    found = violations(nb, "01_scalars_to_tensors.ipynb")
    assert any("compares against 'error'" in f for f in found), found


def test_the_rules_reject_a_function_written_inside_the_solution_region():
    nb = _notebook_01()
    i = _cell(nb, "def sentence_means(batch):")
    nb.cells[i].source = ("### BEGIN SOLUTION\ndef sentence_means(batch):\n    return batch.mean(dim=1)\n"
                          "### END SOLUTION\n")
    found = violations(nb, "01_scalars_to_tensors.ipynb")
    assert any("`def sentence_means` is inside the solution region" in f for f in found), found
    assert any("reads ['sentence_means']" in f for f in found), found


def test_the_rules_reject_an_unstated_contract():
    nb = _notebook_01()
    i = _cell(nb, "def sentence_means(batch):")
    nb.cells[i].source = ("def sentence_means(batch):\n    ### BEGIN SOLUTION\n    return batch.mean(dim=1)\n"
                          "    ### END SOLUTION\n")
    for k in range(i):  # and no markdown names it
        if nb.cells[k].cell_type == "markdown":
            nb.cells[k].source = nb.cells[k].source.replace("sentence_means", "the function")
    found = violations(nb, "01_scalars_to_tensors.ipynb")
    assert any("no docstring" in f and "sentence_means" in f for f in found), found


def test_the_rules_reject_a_stub_whose_parameters_differ(monkeypatch):
    import test_answerable as me  # this module, as pytest imported it
    from course_tools import generate

    def learner_with_other_parameters(solution, name):
        out = generate.learner_version(solution, name)
        i = _cell(out, "def sentence_means(batch):")
        out.cells[i].source = out.cells[i].source.replace("(batch)", "(batch, dim)", 1)
        return out

    monkeypatch.setattr(me, "learner_version", learner_with_other_parameters)
    found = me.violations(_notebook_01(), "01_scalars_to_tensors.ipynb")
    assert any("parameters differ" in f and "sentence_means" in f for f in found), found


def test_the_rules_reject_a_check_argument_defined_only_by_the_solution():
    nb = _notebook_01()
    i = _cell(nb, "check.broadcast_answers(")
    nb.cells[i].source = "check.broadcast_answers(broadcast_answers, extra_hint)\n"
    found = violations(nb, "01_scalars_to_tensors.ipynb")
    assert any("reads ['extra_hint']" in f for f in found), found
