"""Your progress through the course: which exercises of each notebook in ``my-work/`` passed, failed or are not
attempted yet, with an overall progress bar.

    python -m course_tools.progress            # instant: reads the check results saved in your notebooks
    python -m course_tools.progress --grade    # slower, exact: grades every notebook (runs a copy; your files stay)
    make progress                              # the same as the first line (Windows: py course.py progress)

The list of exercises of each chapter comes from the course manifest (``notebooks/course.json``), so an
exercise whose check cell you never ran is counted too ("not checked"). The saved results are what the notebook file
on disk says: save it first (Ctrl+S), and remember that a check run before you last changed your answer may be out of
date; ``--grade`` runs everything again and is always current.

Per notebook the table says one of: the exercise results; "never run" (copied, but no cell has been run yet);
"not in my-work/ yet" (``make lab`` copies it); or why the file could not be read.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from utils.checks.contract import read_outputs
from course_tools.manifest import Chapter, Course
from course_tools.grading.results import FAILED, ICONS, NOT_ATTEMPTED, NOT_RUN, PASSED, ExerciseResult

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / "my-work"

NOT_CHECKED = "not checked"          # the exercise's check cell has no saved result (not run yet, or cleared)
MISSING, NEVER_RUN, UNREADABLE, RUN, GRADED = "not copied", "never run", "unreadable", "run", "graded"
MARKS = {**ICONS, NOT_CHECKED: "·"}
ORDER = (PASSED, FAILED, NOT_ATTEMPTED, NOT_CHECKED, NOT_RUN)


@dataclass
class NotebookProgress:
    name: str                                   # the course's file name, e.g. "02_norms_distances_similarity.ipynb"
    chapter: str
    state: str                                  # MISSING, NEVER_RUN, UNREADABLE, RUN or GRADED
    exercises: list[ExerciseResult] = field(default_factory=list)
    problem: str | None = None                  # unreadable file / grading problem: one line

    def count(self, status: str) -> int:
        return sum(e.status == status for e in self.exercises)


@dataclass
class Progress:
    workspace: Path
    graded: bool
    notebooks: list[NotebookProgress]

    @property
    def total(self) -> int:
        return sum(len(nb.exercises) for nb in self.notebooks)

    def count(self, status: str) -> int:
        return sum(nb.count(status) for nb in self.notebooks)


# ------------------------------------------------------------------------------------------------ reading results
def saved_results(nb: dict) -> dict[str, tuple[str, str]]:
    """Exercise id -> (status, message) from the outputs saved in a notebook (a dict as json.load gives it).

    A check prints ``✅ [2.1] Title: passed`` or raises ``ExerciseFailed`` / ``ExerciseNotAttempted`` with the value
    ``[2.1] message`` (read by :func:`utils.checks.contract.read_outputs`). When several cells report the same
    exercise, the one run last (highest execution count) wins.
    """
    found: dict[str, tuple[int, str, str]] = {}
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        count = cell.get("execution_count") or 0
        for ex_id, status, message in read_outputs(cell.get("outputs", [])):
            if ex_id not in found or count >= found[ex_id][0]:
                found[ex_id] = (count, status, message)
    return {ex_id: (status, message) for ex_id, (_, status, message) in found.items()}


def was_run(nb: dict) -> bool:
    """True when any code cell of the notebook has been run (has an execution count or outputs)."""
    return any(isinstance(c, dict) and c.get("cell_type") == "code" and (c.get("execution_count") or c.get("outputs"))
               for c in nb.get("cells", []))


def _read(path: Path) -> tuple[dict | None, str | None]:
    import json
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"cannot read it ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, "cannot read it (not a notebook: no list of cells)"
    return nb, None


def notebook_progress(path: Path, chapter: Chapter) -> NotebookProgress:
    """The progress of the learner's copy at ``path`` of ``chapter``'s notebook, from its saved outputs."""
    expected, chapter = chapter.expected, chapter.number
    name = Path(path).name
    if not Path(path).exists():
        return NotebookProgress(name, chapter, MISSING,
                                [ExerciseResult(i, t, NOT_CHECKED, "not copied yet") for i, t in expected.items()])
    nb, problem = _read(Path(path))
    if nb is None:
        return NotebookProgress(name, chapter, UNREADABLE,
                                [ExerciseResult(i, t, NOT_CHECKED, problem) for i, t in expected.items()], problem)
    if not was_run(nb):
        return NotebookProgress(name, chapter, NEVER_RUN,
                                [ExerciseResult(i, t, NOT_CHECKED, "never run") for i, t in expected.items()])
    saved = saved_results(nb)
    exercises = [ExerciseResult(i, t, *saved.get(i, (NOT_CHECKED, "its check cell has no saved result")))
                 for i, t in expected.items()]
    return NotebookProgress(name, chapter, RUN, exercises)


def _graded_progress(path: Path, chapter: Chapter, course: Course, timeout: float) -> NotebookProgress:
    from course_tools.grading.notebook import grade_notebook  # starts kernels: only imported when asked to grade
    result = grade_notebook(path, timeout, course=course)
    return NotebookProgress(Path(path).name, chapter.number, GRADED, result.exercises, result.problem)


def collect(workspace: Path = WORKSPACE, *, grade: bool = False, timeout: float = 120,
            course: Course | None = None, on_grade=None) -> Progress:
    """The progress of every course notebook's copy in ``workspace`` (from saved outputs, or by grading)."""
    workspace, course = Path(workspace), course or Course()
    notebooks = []
    for chapter in course.chapters():
        name = chapter.notebook.name
        mine = workspace / name
        progress = notebook_progress(mine, chapter)
        if grade and progress.state not in (MISSING, UNREADABLE):
            if on_grade:
                on_grade(name)
            progress = _graded_progress(mine, chapter, course, timeout)
        notebooks.append(progress)
    return Progress(workspace, grade, notebooks)


# ------------------------------------------------------------------------------------------------ the table
def bar(done: int, total: int, width: int = 30) -> str:
    """``bar(1, 4, 8)`` -> ``'[██░░░░░░]'``: the share of ``done`` out of ``total``, rounded down."""
    filled = (done * width) // total if total else 0
    return "[" + "█" * filled + "░" * (width - filled) + "]"


def _display(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT)) + "/"
    except ValueError:
        return str(path) + "/"


def format_table(progress: Progress, *, details: bool = True) -> str:
    """The progress table: one line per notebook, what did not pass under it, the overall bar at the end."""
    where = _display(progress.workspace)
    how = "graded just now" if progress.graded else "from the check results saved in your notebooks"
    lines = [f"Progress in {where} ({how})"]
    if not Path(progress.workspace).is_dir():
        lines.append(f"  {where} does not exist yet: `make lab` (Windows: `py course.py lab`) creates it")
    width = max([len(nb.name) - len(".ipynb") for nb in progress.notebooks] + [10])
    for nb in progress.notebooks:
        name = nb.name[: -len(".ipynb")].ljust(width)
        n = len(nb.exercises)
        if nb.state == MISSING:
            if not Path(progress.workspace).is_dir():  # said once above
                lines.append(f"  {name}  not copied yet ({n} exercises)")
                continue
            hint = ": `make lab` copies it" if Path(progress.workspace) == WORKSPACE else ""
            lines.append(f"  {name}  not in {where} yet{hint} ({n} exercises)")
            continue
        if nb.state == UNREADABLE:
            lines.append(f"  {name}  ⚠️  {nb.problem}")
            continue
        if nb.state == NEVER_RUN:
            lines.append(f"  {name}  never run: open it and run its cells ({n} exercises)")
            continue
        marks = "".join(MARKS[e.status] for e in nb.exercises)
        lines.append(f"  {name}  {nb.count(PASSED)}/{n} passed  {marks}")
        if nb.problem:
            lines.append(f"      ⚠️  {nb.problem}")
        if details:
            for e in nb.exercises:
                if e.status == FAILED or (e.status == NOT_RUN and not nb.problem):
                    lines.append(f"      {MARKS[e.status]} {e.id} {e.title}: {e.message}")
            todo = [e.id for e in nb.exercises if e.status == NOT_ATTEMPTED]
            unchecked = [e.id for e in nb.exercises if e.status == NOT_CHECKED]
            if todo:
                lines.append(f"      {MARKS[NOT_ATTEMPTED]} not attempted: {', '.join(todo)}")
            if unchecked:
                lines.append(f"      {MARKS[NOT_CHECKED]} check not run yet: {', '.join(unchecked)}")
    total, passed = progress.total, progress.count(PASSED)
    share = f"{100 * passed // total}%" if total else "-"
    rest = ", ".join(f"{progress.count(s)} {s}" for s in ORDER[1:] if progress.count(s))
    lines.append(f"Overall {bar(passed, total)} {passed}/{total} exercises passed ({share})" + (f"; {rest}" if rest else ""))
    legend = "  ".join(f"{MARKS[s]} {s}" for s in ORDER if progress.count(s) or s in (PASSED, FAILED, NOT_ATTEMPTED))
    lines.append(f"        {legend}")
    return "\n".join(lines)


def show(workspace: Path | str | None = None, *, grade: bool = False, timeout: float = 120) -> Progress:
    """Print the progress table of ``workspace`` (default: the course's ``my-work/``) and return it."""
    progress = collect(Path(workspace) if workspace else WORKSPACE, grade=grade, timeout=timeout)
    print(format_table(progress))
    return progress


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.progress", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=None, help="folder of your notebooks (default: my-work/)")
    parser.add_argument("--grade", action="store_true", help="grade every notebook (slower, exact)")
    parser.add_argument("--timeout", type=float, default=120, help="with --grade: seconds per cell (default 120)")
    parser.add_argument("--brief", action="store_true", help="one line per notebook, no details")
    args = parser.parse_args(argv)
    try:  # emoji on a console whose encoding lacks them: print '?' rather than crash
        sys.stdout.reconfigure(errors="replace")
    except (AttributeError, ValueError):
        pass
    if args.workspace is not None and not args.workspace.is_dir():
        print(f"error: workspace folder {args.workspace} not found", file=sys.stderr)
        return 1
    if args.timeout <= 0:
        print("error: --timeout must be a positive number of seconds", file=sys.stderr)
        return 1
    on_grade = (lambda name: print(f"grading {name} ...", file=sys.stderr, flush=True)) if args.grade else None
    progress = collect(args.workspace or WORKSPACE, grade=args.grade, timeout=args.timeout, on_grade=on_grade)
    print(format_table(progress, details=not args.brief))
    return 0


if __name__ == "__main__":
    sys.exit(main())
