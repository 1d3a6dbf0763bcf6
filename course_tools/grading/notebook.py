"""Grade one notebook, exercise by exercise, so that whatever one cell does costs only its own exercise.

The plan (:func:`course_tools.grading.planning.plan`) is run one cell at a time in one sandboxed kernel
(:mod:`course_tools.grading.kernel`):

- a cell that runs past ``timeout`` is interrupted; when the interrupt does not stop it within a few seconds, the
  kernel is restarted. A kernel that dies (``os._exit``, a segfault, the CPU limit) is restarted too;
- after a restart the state is rebuilt by running again every earlier learner cell that had finished (exercise
  cells included: a learner's answer may call their own earlier answer; the course's check cells and the cells that
  timed out or killed the kernel are not re-run). The course guarantees that no course cell depends on a learner's
  answer, so this restores what every later exercise needs;
- the fault is reported against the exercise whose cell (or check) it happened in: "the exercise cell timed out
  after 30 s", "the kernel died while the check ran your code (exit code 1)", "used more than 4096 MB of memory";
  a fault in a cell that is no exercise becomes the notebook's ``problem`` (the exercises are still all graded);
- grading stops only at the limit for the whole notebook (``notebook_timeout``) or after
  :data:`course_tools.grading.runner.MAX_RESTARTS` restarts.

The check of an exercise runs in the grader's own process, where no learner code runs (:mod:`course_tools.grading.judge`):
it reads the learner's answers from the kernel as plain data and calls the learner's functions there, one probe at a
time, and its verdict is what the check function itself did - passed, or the one-line message of the mistake. Nothing
the learner's code prints is read, and what it does to numpy, builtins or the check modules inside the kernel cannot
reach the check. An exercise fails instead, with a message that says why, when its exercise cell answers with the
course's reference implementation (``from utils.vectors import cosine_similarity``), found by reading the cell.
"""
from __future__ import annotations

import json
import tempfile
import time
import warnings
from pathlib import Path

import nbformat

from course_tools.grading.judge import Judge, load_check_module
from course_tools.grading.kernel import Kernel, KernelStartError
from course_tools.grading.planning import plan
from course_tools.grading.private import load_private_checks
from course_tools.grading.results import FAILED, NEVER_REPORTED, NOT_ATTEMPTED, NOT_RUN, ExerciseResult, NotebookResult
from course_tools.grading.runner import Runner, grader_error, record, record_events
from course_tools.grading.sandbox import DEFAULT_MEMORY_MB
from course_tools.grading.settings import Settings
from course_tools.manifest import Course


def grade_notebook(path: Path, timeout: float = 300, *, memory_mb: int | None = DEFAULT_MEMORY_MB,
                   notebook_timeout: float | None = None, course: Course | None = None, network: bool = False,
                   private_checks: Path | None = None, hide=(), settings: Settings | None = None) -> NotebookResult:
    """Grade one notebook with the course's checks; never modifies ``path``.

    ``timeout`` limits each cell, ``notebook_timeout`` (default 2 x timeout + 60 s) the whole run, restarts
    included; ``memory_mb`` is the kernel's address-space limit (0/None: none); ``private_checks`` is an
    instructor's folder of extra checks (:mod:`course_tools.grading.private`). ``settings`` gives all of these at
    once (the command line's, :class:`course_tools.grading.settings.Settings`), in place of those keywords.
    ``course`` is the course the notebook belongs to (default: this checkout's manifest). The kernel does not see
    the solutions, the private checks, the notebook's own folder nor the folders of ``hide`` (a batch's
    submissions), where namespaces allow and the folder holds nothing the course needs."""
    settings = settings or Settings(timeout, notebook_timeout, memory_mb, network, private_checks)
    start = time.monotonic()
    path = Path(path)
    result = NotebookResult(str(path))
    try:
        _grade_into(result, path, settings, course or Course(), [*hide, path.resolve().parent])
    except Exception as exc:  # a bug of the grader's, or one a submission found: never a result
        result.problem = grader_error(exc)
        _not_run(result.exercises, result.problem)
    finally:
        result.seconds = round(time.monotonic() - start, 2)
    return result


def read_notebook(path: Path):
    """The notebook at ``path``, or a one-line reason why it cannot be graded."""
    if not path.exists():
        return None, "file not found"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat's notes on duplicate / missing cell ids
            nb = nbformat.read(path, as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
        for k, cell in enumerate(nb.cells, 1):  # nbformat joins a list source into text; anything else is invalid
            if not isinstance(cell, dict) or not isinstance(cell.get("source"), str) \
                    or not isinstance(cell.get("cell_type"), str):
                raise ValueError(f"cell {k} has no text source")
            tags = cell.get("metadata", {}).get("tags", []) if isinstance(cell.get("metadata", {}), dict) else None
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValueError(f"cell {k} has metadata or tags of the wrong kind")
    except Exception as exc:  # NotJSONError, JSONDecodeError, validation errors, unreadable bytes, a folder...
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        return None, f"not a valid notebook ({type(exc).__name__}: {text})"
    # nbformat renames a duplicated cell id; keep the ids as written, so that of two copies of an exercise cell the
    # later one (whose definitions are the ones in force after both ran) is taken as the answer
    raw = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    if len(raw) == len(nb.cells):
        for cell, written in zip(nb.cells, raw):
            if isinstance(written, dict) and isinstance(written.get("id"), str):
                cell["id"] = written["id"]
    return nb, None


def _grade_into(result: NotebookResult, path: Path, settings: Settings, course: Course, hide: list) -> None:
    """Grade the notebook at ``path`` into ``result``: read it, find its chapter and exercises, run them."""
    nb, result.problem = read_notebook(path)
    if nb is None:
        return
    result.chapter = course.identify(nb, path)
    chapter = course.chapter(result.chapter)
    if chapter is None or not chapter.exercises:
        return  # no chapter we know of: nothing to grade (format_text says so), no need to run it
    private = load_private_checks(settings.private_checks, result.chapter, [ex.id for ex in chapter.exercises])
    results = _result_table(chapter, private)
    result.exercises = list(results.values())
    the_plan = plan(nb, chapter)
    for ex_id, why in the_plan.missing.items():
        record(results, ex_id, FAILED, why)
        for result_id, _ in private.by_exercise.get(ex_id, []):
            record(results, result_id, FAILED, why)
    try:
        checks = load_check_module(course.check_module(result.chapter), result.chapter)
    except Exception as exc:  # a course bug: said as such, nothing graded
        result.problem = f"the course's checks for chapter {result.chapter} could not be loaded ({type(exc).__name__})"
        _not_run(results, result.problem)
        return
    # the kernel must not read the answers, nor an instructor's private checks
    hidden = [course.solutions, settings.private_checks, *hide]
    result.problem = _run_in_kernel(the_plan, results, checks, private.by_exercise, settings, hidden)
    if result.problem:
        _not_run(results, "not reached: " + result.problem)
    if private.problems:
        result.problem = "; ".join(filter(None, [result.problem, *private.problems]))


def _result_table(chapter, private) -> dict[str, ExerciseResult]:
    """One result per exercise, in order, each private check's right after its exercise's."""
    results = {}
    for ex in chapter.exercises:
        results[ex.id] = ExerciseResult(ex.id, ex.title)
        for result_id, _ in private.by_exercise.get(ex.id, []):
            results[result_id] = ExerciseResult(result_id, private.titles[result_id], private=True)
    return results


def _run_in_kernel(the_plan, results, checks, private: dict, settings: Settings, hidden: list) -> str | None:
    """Run the plan in a new kernel, recording each verdict in ``results``; the notebook's problem, or None."""
    tmp = tempfile.mkdtemp(prefix="g")  # short: the kernel's IPC socket paths live below it
    try:
        kernel = Kernel(Path(tmp), settings.limits(), hide=hidden)
        runner = Runner(kernel, Judge(kernel), checks, settings, private,
                         messages={k: r.message for k, r in results.items()})
        try:
            kernel.start()
        except KernelStartError as exc:
            return str(exc)
        try:
            return record_events(runner.events(the_plan), results)
        finally:
            kernel.close()
    finally:
        remove_tree(Path(tmp))


def remove_tree(path: Path) -> None:
    """Remove a folder the kernel may have filled with anything (a tree too deep for :func:`shutil.rmtree`'s
    recursion included); what cannot be removed is left, never an error."""
    import shutil
    import subprocess

    try:
        shutil.rmtree(path)
        return
    except (OSError, RecursionError):
        pass
    if shutil.which("rm"):
        subprocess.run(["rm", "-rf", "--", str(path)], capture_output=True, timeout=120, check=False)


def _not_run(results, message: str) -> None:
    for r in (results.values() if isinstance(results, dict) else results):
        if r.status == NOT_ATTEMPTED and r.message == NEVER_REPORTED:
            r.status, r.message = NOT_RUN, message
