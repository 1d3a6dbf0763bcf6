"""The format of the course's notebooks, in one place: cell tags, solution markers, the chapter a notebook is, which
check cell belongs to which exercise cell, and the names a cell defines. The generator (:mod:`course_tools.generate`), the
grader (:mod:`course_tools.grading.planning`), the site builder (``site/build.py``) and the tests all read notebooks through
these functions; nothing here imports nbformat, so a cell may be a ``NotebookNode`` or a plain dict from ``json``.

The rules (CONTRIBUTING.md, "Exercise cells and check cells"):

- an exercise cell is tagged ``exercise``; its solution sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
- the next code cell is tagged ``check`` and calls one check, ``check.some_name(answer)``;
- a notebook's chapter is the number its file name starts with (``01_tensors.ipynb`` -> ``"01"``); the generator
  writes it into the learner notebook's metadata (``metadata.course.chapter``) so that it survives renaming.

A worked example, on two cells as ``json`` gives them:

>>> cells = [{"cell_type": "code", "metadata": {"tags": ["exercise"]},
...           "source": "### BEGIN SOLUTION\\nanswer = 42\\n### END SOLUTION\\n"},
...          {"cell_type": "code", "metadata": {"tags": ["check"]}, "source": "check.the_answer(answer)"}]
>>> [is_exercise(c) for c in cells], [is_check(c) for c in cells]
([True, False], [False, True])
>>> exercise_check_pairs(cells)
[(0, 1)]
>>> has_solution(cells[0]["source"]), strip_markers(cells[0]["source"])
(True, 'answer = 42\\n')
>>> defined_names(cells[0]["source"]), called_checks(cells[1]["source"])
({'answer'}, ['the_answer'])
>>> chapter_of("01_tensors.ipynb"), chapter_of("my homework.ipynb")
('01', None)
"""
from __future__ import annotations

import ast
import re
from pathlib import PurePath

# ------------------------------------------------------------------------------------------------ tags and markers
EXERCISE = "exercise"                  # the cell the learner answers in
CHECK = "check"                        # the code cell right after it, which calls the exercise's check
RAISES_EXCEPTION = "raises-exception"  # added to check cells in learner notebooks so "Run All" goes on past them

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
#: a whole marker line (leading spaces or tabs allowed, the line break included), as the site removes it
MARKER_LINE = re.compile(rf"^[ \t]*(?:{re.escape(BEGIN)}|{re.escape(END)})[ \t]*\n?", re.MULTILINE)
#: how a check cell calls a check: ``check.some_name(``
CHECK_CALL = re.compile(r"\bcheck\.(\w+)\(")
#: the key of the course's own notebook metadata (``{"chapter": "01", "source": "solutions/01_....ipynb"}``)
METADATA_KEY = "course"


class SourceError(ValueError):
    """A notebook breaks a rule of the course format (unbalanced markers, a check without exercise, a bad name...)."""


def tags(cell) -> list[str]:
    """The cell's tags, as a new list (empty when it has none).

    >>> tags({"metadata": {"tags": ["check"]}}), tags({"metadata": {}}), tags({})
    (['check'], [], [])
    """
    return list(cell.get("metadata", {}).get("tags", []))


def is_exercise(cell) -> bool:
    """True when the cell is tagged ``exercise`` (whatever its type; callers that want code cells say so)."""
    return EXERCISE in tags(cell)


def is_check(cell) -> bool:
    """True when the cell is tagged ``check``."""
    return CHECK in tags(cell)


def is_code(cell) -> bool:
    return cell.get("cell_type") == "code"


def has_solution(source: str) -> bool:
    """True when ``source`` contains a ``### BEGIN SOLUTION`` marker."""
    return BEGIN in source


def is_begin(line: str) -> bool:
    """True for a ``### BEGIN SOLUTION`` line (any indentation)."""
    return line.strip() == BEGIN


def is_end(line: str) -> bool:
    """True for a ``### END SOLUTION`` line (any indentation)."""
    return line.strip() == END


def strip_markers(source: str) -> str:
    """``source`` without its marker lines (the solution stays): what the site shows.

    >>> strip_markers("def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION\\n")
    'def f(x):\\n    return 2 * x\\n'
    """
    return MARKER_LINE.sub("", source)


def called_checks(source: str) -> list[str]:
    """The names of the checks a check cell calls, in order: ``check.norm(x)`` -> ``['norm']``."""
    return CHECK_CALL.findall(source)


# ------------------------------------------------------------------------------------------------ exercise <-> check
def next_code_cell(cells, i: int) -> int | None:
    """Index of the first code cell after position ``i``, or None."""
    return next((j for j in range(i + 1, len(cells)) if is_code(cells[j])), None)


def exercise_check_pairs(cells) -> list[tuple[int, int | None]]:
    """For every exercise cell, in order: (its index, the index of its check cell), where the check cell is the next
    code cell when that one is tagged ``check``, else None (the generator rejects such a notebook; the grader skips
    the exercise).

    >>> code = lambda *t: {"cell_type": "code", "metadata": {"tags": list(t)}, "source": ""}
    >>> exercise_check_pairs([code("exercise"), {"cell_type": "markdown", "source": ""}, code("check"),
    ...                       code("exercise"), code()])
    [(0, 2), (3, None)]
    """
    pairs = []
    for i, cell in enumerate(cells):
        if is_exercise(cell):
            j = next_code_cell(cells, i)
            pairs.append((i, j if j is not None and is_check(cells[j]) else None))
    return pairs


# ------------------------------------------------------------------------------------------------ chapters
_FILE_CHAPTER = re.compile(r"(\d+)_")
_METADATA_CHAPTER = re.compile(r"\d{1,3}")


def chapter_of(path, nb=None, *, required: bool = False) -> str | None:
    """The chapter a notebook claims, two digits: ``metadata.course.chapter`` of ``nb`` when given and valid (the
    generator writes it), else the number the file name starts with, else None - or, with ``required=True``, a
    :class:`SourceError` (the generator's rule: solution notebooks are named by their number).

    >>> chapter_of("solutions/01_scalars_to_tensors.ipynb"), chapter_of("7_x.ipynb")
    ('01', '07')
    >>> chapter_of("my homework.ipynb", {"metadata": {"course": {"chapter": "3"}}})
    '03'
    >>> chapter_of("tensors.ipynb", required=True)
    Traceback (most recent call last):
    ...
    course_tools.course_format.SourceError: tensors.ipynb: notebook names start with their number, e.g. 01_tensors.ipynb
    """
    if nb is not None:
        chapter = (nb.get("metadata", {}).get(METADATA_KEY) or {}).get("chapter")
        if chapter and _METADATA_CHAPTER.fullmatch(str(chapter)):
            return str(chapter).zfill(2)
    match = _FILE_CHAPTER.match(PurePath(path).name)
    if match:
        return match.group(1).zfill(2)
    if required:
        raise SourceError(f"{path}: notebook names start with their number, e.g. 01_tensors.ipynb")
    return None


# ------------------------------------------------------------------------------------------------ names in a cell
def assigned_names(statements) -> list[str]:
    """Names that top-level statements assign, in order (tuple targets unpacked):

    >>> assigned_names(ast.parse("x = 1\\ny, z = 2, 3\\nx += 1").body)
    ['x', 'y', 'z']
    """
    names: list[str] = []

    def add(target):
        if isinstance(target, ast.Name) and target.id not in names:
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                add(element)

    for node in statements:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                add(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            add(node.target)
    return names


def strip_magics(source: str) -> str:
    """``source`` with IPython magics and shell lines (``%...``, ``!...``) blanked, so that it parses as Python."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def parse_cell(source: str):
    """The ``ast`` of a code cell (magics blanked), or None when it does not parse."""
    try:
        return ast.parse(strip_magics(source))
    except (SyntaxError, ValueError):
        return None


def defined_names(source: str) -> set[str]:
    """Top-level names a cell defines (functions, classes, assignments); for a cell that does not parse, the names a
    plain pattern finds at the start of its lines.

    >>> sorted(defined_names("def f(x):\\n    return x\\na, (b, c) = 1, (2, 3)"))
    ['a', 'b', 'c', 'f']
    >>> sorted(defined_names("s = ...  # YOUR CODE HERE\\nthis is not python("))
    ['s']
    """
    tree = parse_cell(source)
    if tree is None:  # a learner cell that does not parse: fall back on a plain pattern
        return set(re.findall(r"^(?:def\s+)?([A-Za-z_]\w*)\s*[=(]", source, re.M))
    names = set(assigned_names(tree.body))
    names.update(node.name for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    return names
