"""Write the learner notebooks in ``notebooks/`` from the single source in ``solutions/``.

    python -m course_tools.generate            # (re)write notebooks/ from solutions/
    python -m course_tools.generate --check    # exit 1 if notebooks/ is out of sync (used by the tests)

What changes on the way:
- code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a stub: inside a function body
  ``raise NotImplementedError(...)``; at top level ``name = ...`` for every name the solution assigns
  (so the check cell receives ``...`` and reports "not attempted" instead of a NameError);
- outputs and execution counts are cleared, cell metadata is trimmed to its tags;
- check cells get the ``raises-exception`` tag so "Run All" goes on past unfinished exercises;
- cell ids stay those of the solution, so the grader can match cells across versions.

It also writes the course manifest ``notebooks/course.json`` (:mod:`course_tools.manifest`): the chapters, their
exercises, checks and cell ids, which every other tool reads instead of the notebooks.

The format itself (tags, markers, chapter numbers, exercise/check pairs) is :mod:`course_tools.course_format`.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import sys
from pathlib import Path

import nbformat

from course_tools import manifest
from course_tools.course_format import (METADATA_KEY, RAISES_EXCEPTION, SourceError, assigned_names, chapter_of,
                                        exercise_check_pairs, has_solution, is_begin, is_check, is_code, is_end,
                                        is_exercise, tags)

STUB_MESSAGE = "Exercise not attempted yet: replace this line with your code"
ROOT = Path(__file__).resolve().parent.parent


def stub_source(source: str) -> str:
    """Replace every solution region of a cell's source by its stub.

    >>> print(stub_source("def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n    ### END SOLUTION\\n"))
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError("Exercise not attempted yet: replace this line with your code")
    <BLANKLINE>
    """
    out: list[str] = []
    region: list[str] | None = None
    indent = ""
    for line in source.splitlines(keepends=True):
        if is_begin(line):
            if region is not None:
                raise SourceError("nested '### BEGIN SOLUTION'")
            region, indent = [], line[: len(line) - len(line.lstrip())]
        elif is_end(line):
            if region is None:
                raise SourceError("'### END SOLUTION' without BEGIN")
            out.extend(_stub_for(region, indent))
            region = None
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise SourceError("'### BEGIN SOLUTION' without END")
    return "".join(out)


def _stub_for(region: list[str], indent: str) -> list[str]:
    if indent == "":
        try:
            names = assigned_names(ast.parse("".join(region)).body)
        except SyntaxError as exc:
            raise SourceError(f"solution region does not parse: {exc}") from None
        if names:
            return [f"{name} = ...  # YOUR CODE HERE\n" for name in names]
    return [f"{indent}# YOUR CODE HERE\n", f'{indent}raise NotImplementedError("{STUB_MESSAGE}")\n']


def course_metadata(name: str) -> dict[str, str]:
    """What the generator records in a learner notebook's ``metadata.course`` for the solution file ``name``.

    >>> course_metadata("02_norms.ipynb")
    {'chapter': '02', 'source': 'solutions/02_norms.ipynb'}
    """
    return {"chapter": chapter_of(name, required=True), "source": f"solutions/{name}"}


def validate(nb, name: str) -> None:
    """Rules every solution notebook keeps: markers only in exercise cells, each exercise followed by its check."""
    check_of = dict(exercise_check_pairs(nb.cells))
    for i, cell in enumerate(nb.cells):
        has_marker = has_solution(cell.source)
        if has_marker and not is_exercise(cell):
            raise SourceError(f"{name}: cell {i} has solution markers but no 'exercise' tag")
        if is_exercise(cell):
            if not has_marker:
                raise SourceError(f"{name}: exercise cell {i} has no '### BEGIN SOLUTION' region")
            if check_of[i] is None:
                raise SourceError(f"{name}: exercise cell {i} is not followed by a code cell tagged 'check'")


def learner_version(solution, name: str) -> nbformat.NotebookNode:
    """The learner notebook for one solution notebook (a new object; the input is not modified).

    ``name`` is the file name; its number (``01_...``) is recorded as ``metadata.course.chapter`` so the grader
    knows which exercises to expect even if the learner renames the file.
    """
    nb = copy.deepcopy(solution)
    for cell in nb.cells:
        cell_tags = tags(cell)
        if is_code(cell):
            if is_exercise(cell):
                cell.source = stub_source(cell.source)
            if is_check(cell) and RAISES_EXCEPTION not in cell_tags:
                cell_tags.append(RAISES_EXCEPTION)
            cell.outputs = []
            cell.execution_count = None
        cell.metadata = nbformat.NotebookNode({"tags": cell_tags} if cell_tags else {})
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
    keep = {k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata}
    keep[METADATA_KEY] = course_metadata(name)
    if "language_info" in keep:
        keep["language_info"] = {"name": keep["language_info"].get("name", "python")}
    nb.metadata = nbformat.NotebookNode(keep)
    return nb


def render(nb) -> str:
    """Deterministic JSON text of a notebook (what we write and what --check compares)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def build_all(solutions_dir: Path, notebooks_dir: Path) -> dict[Path, str]:
    """Map each learner notebook path, and the course manifest's, to the text it should have."""
    wanted: dict[Path, str] = {}
    solutions, learners = {}, {}
    for path in sorted(solutions_dir.glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        validate(solution, path.name)
        learner = learner_version(solution, path.name)
        solutions[path.name], learners[path.name] = solution, learner
        wanted[notebooks_dir / path.name] = render(learner)
    wanted[notebooks_dir / manifest.NAME] = manifest.render(manifest.build(solutions, learners))
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether notebooks/ is in sync")
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    args = parser.parse_args(argv)
    try:
        wanted = build_all(args.solutions, args.notebooks)
    except (SourceError, nbformat.reader.NotJSONError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    existing = set(args.notebooks.glob("*.ipynb"))
    stale = sorted(p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text)
    orphans = sorted(existing - set(wanted))
    if args.check:
        for p in stale:
            print(f"out of sync: {p.relative_to(args.notebooks.parent)} (run `python -m course_tools.generate`)")
        for p in orphans:
            print(f"no solution for: {p.relative_to(args.notebooks.parent)}")
        return 1 if stale or orphans else 0
    args.notebooks.mkdir(parents=True, exist_ok=True)
    for p in stale:
        p.write_text(wanted[p], encoding="utf-8")
        print(f"wrote {p.relative_to(args.notebooks.parent)}")
    for p in orphans:
        p.unlink()
        print(f"removed {p.relative_to(args.notebooks.parent)} (its solution is gone)")
    if not stale and not orphans:
        print("notebooks/ already in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main())
