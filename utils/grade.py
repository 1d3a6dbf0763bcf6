"""Grade notebooks by running them: ``python -m utils.grade PATH... [--json] [--timeout SECONDS]``.

Each notebook is executed in a temporary copy (the file you pass is never touched) with nbclient. Every exercise
of the notebook's chapter is then reported as

    passed          its check cell printed the pass line
    failed          the check's one-line message (or the error the check cell raised)
    not attempted   the stub is still there, or the check cell never reported

A missing file, a file that is not a notebook, a kernel that dies and a cell that runs past the timeout are
reported as such, and the other notebooks given are still graded. Exit code 0 only when every exercise of every
notebook passed.
"""
from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from utils.checks import PASS_MARK, REGISTRY

PASSED, FAILED, NOT_ATTEMPTED, NOT_RUN = "passed", "failed", "not attempted", "not run"
ICONS = {PASSED: "✅", FAILED: "❌", NOT_ATTEMPTED: "⏳", NOT_RUN: "⛔"}
PASS_LINE = re.compile(re.escape(PASS_MARK) + r" \[(?P<id>[\w.]+)\] .*: passed")
CHECK_ERRORS = {"ExerciseFailed": FAILED, "ExerciseNotAttempted": NOT_ATTEMPTED}
ID_IN_MESSAGE = re.compile(r"^\[(?P<id>[\w.]+)\] (?P<message>.*)$", re.S)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class ExerciseResult:
    id: str
    title: str
    status: str = NOT_ATTEMPTED
    message: str = "its check cell never reported (deleted, or not run?)"


@dataclass
class NotebookResult:
    path: str
    chapter: str | None = None
    problem: str | None = None  # the notebook could not be graded completely: why
    exercises: list[ExerciseResult] = field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        return self.problem is None and bool(self.exercises) and all(e.status == PASSED for e in self.exercises)


def chapter_of(nb, path: Path) -> str | None:
    """The chapter a notebook belongs to: its metadata (written by the generator), else its file name."""
    chapter = nb.get("metadata", {}).get("course", {}).get("chapter")
    if chapter:
        return str(chapter).zfill(2)
    match = re.match(r"(\d+)_", path.name)
    return match.group(1).zfill(2) if match else None


def expected_exercises(chapter: str | None) -> dict[str, str]:
    """Exercise id -> title for a chapter, from the course's own check module ``utils.checks.chNN``."""
    if chapter is None:
        return {}
    try:
        importlib.import_module(f"utils.checks.ch{chapter}")
    except ModuleNotFoundError:
        return {}
    return dict(REGISTRY.get(chapter, {}))


def _check_function_ids(chapter: str | None) -> dict[str, str]:
    """Name of each check function in ``utils.checks.chNN`` -> its exercise id."""
    if chapter is None:
        return {}
    try:
        module = importlib.import_module(f"utils.checks.ch{chapter}")
    except ModuleNotFoundError:
        return {}
    return {name: fn.ex_id for name, fn in vars(module).items() if callable(fn) and hasattr(fn, "ex_id")}


def read_results(nb, chapter: str | None, results: dict[str, ExerciseResult]) -> None:
    """Fill ``results`` from the outputs of an executed notebook."""
    functions = _check_function_ids(chapter)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        seen_here = set()
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                for match in PASS_LINE.finditer(out.get("text", "")):
                    _record(results, match["id"], PASSED, "")
                    seen_here.add(match["id"])
            elif out.get("output_type") == "error":
                ename, evalue = out.get("ename", ""), ANSI.sub("", out.get("evalue", ""))
                parsed = ID_IN_MESSAGE.match(evalue)
                if ename in CHECK_ERRORS and parsed:
                    _record(results, parsed["id"], CHECK_ERRORS[ename], parsed["message"])
                    seen_here.add(parsed["id"])
                elif "check" in cell.get("metadata", {}).get("tags", []) or re.search(r"check\.\w+\(", cell.source):
                    # the check cell itself crashed before the check could run (e.g. NameError)
                    for name, ex_id in functions.items():
                        if re.search(rf"\b{name}\(", cell.source) and ex_id not in seen_here:
                            _record(results, ex_id, FAILED, f"the check cell raised {ename}: {evalue}".strip())


def _record(results, ex_id, status, message):
    result = results.setdefault(ex_id, ExerciseResult(ex_id, "(unknown exercise)"))
    result.status, result.message = status, message


def grade_notebook(path: Path, timeout: float = 300) -> NotebookResult:
    """Execute one notebook in a temporary copy and read back each exercise's result."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    result = NotebookResult(str(path))
    if not path.exists():
        result.problem = "file not found"
        return result
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # NotJSONError, JSONDecodeError, validation errors, unreadable bytes...
        result.problem = f"not a valid notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"
        return result
    result.chapter = chapter_of(nb, path)
    results = {ex_id: ExerciseResult(ex_id, title) for ex_id, title in expected_exercises(result.chapter).items()}

    with tempfile.TemporaryDirectory(prefix="grade-") as workdir:
        copy_path = Path(workdir) / path.name
        nbformat.write(nb, copy_path)  # run a copy, in its own folder: the original is never modified
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": workdir}})
        try:
            client.execute()
        except CellTimeoutError:
            result.problem = f"timed out: a cell ran longer than {timeout:g} s (infinite loop?)"
        except DeadKernelError:
            result.problem = "the kernel died (the notebook crashed Python or ran out of memory)"
        except Exception as exc:
            result.problem = f"could not run: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    read_results(nb, result.chapter, results)
    if result.problem:
        for r in results.values():
            if r.status == NOT_ATTEMPTED and r.message.startswith("its check cell never"):
                r.status, r.message = NOT_RUN, "not reached: " + result.problem
    result.exercises = list(results.values())
    return result


def format_text(result: NotebookResult) -> str:
    head = f"{result.path}" + (f"  (chapter {result.chapter})" if result.chapter else "")
    lines = [head]
    if result.problem:
        lines.append(f"  ⚠️  {result.problem}")
    for e in result.exercises:
        tail = f" - {e.message}" if e.message and e.status != PASSED else ""
        lines.append(f"  {ICONS[e.status]} {e.id} {e.title}: {e.status}{tail}")
    if result.exercises:
        n = sum(e.status == PASSED for e in result.exercises)
        lines.append(f"  {n}/{len(result.exercises)} passed")
    elif not result.problem:
        lines.append("  no exercises found in this notebook")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.grade", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="notebook(s) to grade")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one cell may run (default 300)")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be a positive number of seconds")
    results = []
    for path in args.paths:
        result = grade_notebook(path, timeout=args.timeout)
        results.append(result)
        if not args.json:
            print(format_text(result), flush=True)
    if args.json:
        payload = [{**asdict(r), "all_passed": r.all_passed} for r in results]
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    return 0 if results and all(r.all_passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
