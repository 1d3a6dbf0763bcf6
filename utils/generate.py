"""Write the learner notebooks in ``notebooks/`` from the single source in ``solutions/``.

    python -m utils.generate            # (re)write notebooks/ from solutions/
    python -m utils.generate --check    # exit 1 if notebooks/ is out of sync (used by the tests)

What changes on the way:
- code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a stub: inside a function body
  ``raise NotImplementedError(...)``; at top level ``name = ...`` for every name the solution assigns
  (so the check cell receives ``...`` and reports "not attempted" instead of a NameError);
- outputs and execution counts are cleared, cell metadata is trimmed to its tags;
- check cells get the ``raises-exception`` tag so "Run All" goes on past unfinished exercises;
- cell ids stay those of the solution, so the grader can match cells across versions.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
from pathlib import Path

import nbformat

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB_MESSAGE = "Exercise not attempted yet: replace this line with your code"
ROOT = Path(__file__).resolve().parent.parent


class SourceError(ValueError):
    """A solution notebook breaks a rule of the pipeline (unbalanced markers, a check without exercise...)."""


def assigned_names(statements) -> list[str]:
    """Names that top-level statements assign, in order (tuple targets unpacked; the grader uses it too):
    ``ast.parse("x = 1\\ny, z = 2, 3").body`` -> ``['x', 'y', 'z']``."""
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
        stripped = line.strip()
        if stripped == BEGIN:
            if region is not None:
                raise SourceError("nested '### BEGIN SOLUTION'")
            region, indent = [], line[: len(line) - len(line.lstrip())]
        elif stripped == END:
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


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def validate(nb, name: str) -> None:
    """Rules every solution notebook keeps: markers only in exercise cells, each exercise followed by its check."""
    cells = nb.cells
    for i, cell in enumerate(cells):
        tags = _tags(cell)
        has_marker = BEGIN in cell.source
        if has_marker and "exercise" not in tags:
            raise SourceError(f"{name}: cell {i} has solution markers but no 'exercise' tag")
        if "exercise" in tags:
            if not has_marker:
                raise SourceError(f"{name}: exercise cell {i} has no '### BEGIN SOLUTION' region")
            following = [c for c in cells[i + 1:] if c.cell_type == "code"]
            if not following or "check" not in _tags(following[0]):
                raise SourceError(f"{name}: exercise cell {i} is not followed by a code cell tagged 'check'")


def learner_version(solution, name: str) -> nbformat.NotebookNode:
    """The learner notebook for one solution notebook (a new object; the input is not modified).

    ``name`` is the file name; its number (``01_...``) is recorded as ``metadata.course.chapter`` so the grader
    knows which exercises to expect even if the learner renames the file.
    """
    nb = copy.deepcopy(solution)
    for cell in nb.cells:
        tags = _tags(cell)
        if cell.cell_type == "code":
            if "exercise" in tags:
                cell.source = stub_source(cell.source)
            if "check" in tags and "raises-exception" not in tags:
                tags.append("raises-exception")
            cell.outputs = []
            cell.execution_count = None
        cell.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
    keep = {k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata}
    keep["course"] = {"chapter": chapter_of(name), "source": f"solutions/{name}"}
    if "language_info" in keep:
        keep["language_info"] = {"name": keep["language_info"].get("name", "python")}
    nb.metadata = nbformat.NotebookNode(keep)
    return nb


def chapter_of(name: str) -> str:
    """``"01_scalars_to_tensors.ipynb"`` -> ``"01"``."""
    match = re.match(r"(\d+)_", Path(name).name)
    if not match:
        raise SourceError(f"{name}: notebook names start with their number, e.g. 01_tensors.ipynb")
    return match.group(1).zfill(2)


def render(nb) -> str:
    """Deterministic JSON text of a notebook (what we write and what --check compares)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def build_all(solutions_dir: Path, notebooks_dir: Path) -> dict[Path, str]:
    """Map each learner notebook path to the text it should have."""
    wanted: dict[Path, str] = {}
    for path in sorted(solutions_dir.glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        validate(solution, path.name)
        wanted[notebooks_dir / path.name] = render(learner_version(solution, path.name))
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.generate", description=__doc__.splitlines()[0])
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
            print(f"out of sync: {p.relative_to(args.notebooks.parent)} (run `python -m utils.generate`)")
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
