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
- grading stops only at the limit for the whole notebook (``notebook_timeout``) or after :data:`MAX_RESTARTS`.

The check of an exercise runs in the grader's own process, where no learner code runs (:mod:`course_tools.grading.judge`):
it reads the learner's answers from the kernel as plain data and calls the learner's functions there, one probe at a
time, and its verdict is what the check function itself did - passed, or the one-line message of the mistake. Nothing
the learner's code prints is read, and what it does to numpy, builtins or the check modules inside the kernel cannot
reach the check. An exercise fails instead, with a message that says why, when its exercise cell answers with the
course's reference implementation (``from utils.vectors import cosine_similarity``), found by reading the cell.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import nbformat

from course_tools.grading.planning import STARTUP, plan
from course_tools.manifest import Course
from course_tools.grading.judge import Judge, Verdict, load_check_module
from course_tools.grading.kernel import START_TIMEOUT, CellRun, Kernel, KernelStartError
from course_tools.grading.private import load_private_checks
from course_tools.grading.results import (FAILED, NEVER_REPORTED, NOT_ATTEMPTED, NOT_RUN, PASSED, ExerciseResult,
                                   NotebookResult)
from course_tools.grading.sandbox import DEFAULT_MEMORY_MB, Limits

MAX_RESTARTS = 10


def grade_notebook(path: Path, timeout: float = 300, *, memory_mb: int | None = DEFAULT_MEMORY_MB,
                   notebook_timeout: float | None = None, course: Course | None = None, network: bool = False,
                   private_checks: Path | None = None, hide=()) -> NotebookResult:
    """Grade one notebook with the course's checks; never modifies ``path``.

    ``timeout`` limits each cell, ``notebook_timeout`` (default 2 x timeout + 60 s) the whole run, restarts
    included; ``memory_mb`` is the kernel's address-space limit (0/None: none). ``course`` is the course the
    notebook belongs to (default: this checkout's manifest); ``private_checks`` is an
    instructor's folder of extra checks (:mod:`course_tools.grading.private`). The kernel does not see the solutions,
    the private checks, the notebook's own folder nor the folders of ``hide`` (a batch's submissions), where
    namespaces allow and the folder holds nothing the course needs."""
    start = time.monotonic()
    path = Path(path)
    result = NotebookResult(str(path))
    try:
        course = course or Course()
        _grade_into(result, path, timeout, memory_mb, notebook_timeout or 2 * timeout + 60, course, network,
                    private_checks, [*hide, path.resolve().parent])
    except Exception as exc:  # a bug of the grader's, or one a submission found: never a result
        result.problem = grader_error(exc)
        _not_run(result.exercises, result.problem)
    finally:
        result.seconds = round(time.monotonic() - start, 2)
    return result


def grader_error(exc: BaseException) -> str:
    """The one line that says the grader itself failed (what an instructor needs to look into)."""
    text = str(exc).splitlines()[0][:150] if str(exc).strip() else ""
    return f"grader error ({type(exc).__name__}{': ' + text if text else ''}): not graded, tell your instructor"


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


def _grade_into(result, path, timeout, memory_mb, notebook_timeout, course, network, private_folder, hide) -> None:
    nb, result.problem = read_notebook(path)
    if nb is None:
        return
    result.chapter = course.identify(nb, path)
    chapter = course.chapter(result.chapter)
    if chapter is None or not chapter.exercises:
        return  # no chapter we know of: nothing to grade (format_text says so), no need to run it
    results = {ex.id: ExerciseResult(ex.id, ex.title) for ex in chapter.exercises}
    private = load_private_checks(private_folder, result.chapter, list(results))
    if private.by_exercise:  # each private check's line right after its exercise's
        ordered = {}
        for ex_id, r in results.items():
            ordered[ex_id] = r
            for result_id, _ in private.by_exercise.get(ex_id, []):
                ordered[result_id] = ExerciseResult(result_id, private.titles[result_id], private=True)
        results.clear()
        results.update(ordered)
    result.exercises = list(results.values())
    the_plan = plan(nb, chapter)
    for ex_id, why in the_plan.missing.items():
        _record(results, ex_id, FAILED, why)
        for result_id, _ in private.by_exercise.get(ex_id, []):
            _record(results, result_id, FAILED, why)
    limits = Limits(memory_mb=memory_mb or None, cpu_s=int(notebook_timeout * (os.cpu_count() or 1)) + 60,
                    network=network)
    try:
        checks = load_check_module(course.check_module(result.chapter), result.chapter)
    except Exception as exc:  # a course bug: said as such, nothing graded
        result.problem = f"the course's checks for chapter {result.chapter} could not be loaded ({type(exc).__name__})"
        _not_run(results, result.problem)
        return
    tmp = tempfile.mkdtemp(prefix="g")  # short: the kernel's IPC socket paths live below it
    try:
        # the kernel must not read the answers, nor an instructor's private checks
        kernel = Kernel(Path(tmp), limits, hide=[course.solutions, private_folder, *hide])
        runner = _Runner(kernel, Judge(kernel), checks, timeout, time.monotonic() + notebook_timeout,
                         notebook_timeout, private.by_exercise)
        try:
            runner.kernel.start()
        except KernelStartError as exc:
            result.problem = str(exc)
        else:
            try:
                result.problem = runner.run(the_plan, results, memory_mb)
            finally:
                runner.kernel.close()
    finally:
        remove_tree(Path(tmp))
    if result.problem:
        _not_run(results, "not reached: " + result.problem)
    if private.problems:
        result.problem = "; ".join(filter(None, [result.problem, *private.problems]))


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


def _record(results, ex_id, status, message):
    result = results.setdefault(ex_id, ExerciseResult(ex_id, "(unknown exercise)"))
    result.status, result.message = status, message[:300]


class _Runner:
    """Runs a plan's steps in one kernel, containing each fault (see the module docstring)."""

    def __init__(self, kernel: Kernel, judge: Judge, checks, timeout: float, deadline: float,
                 notebook_timeout: float, private: dict | None = None):
        self.kernel, self.judge, self.checks, self.private = kernel, judge, checks, private or {}
        self.timeout, self.deadline, self.notebook_timeout = timeout, deadline, notebook_timeout
        self.finished: list[str] = []  # learner cells that ran to their end: what a restart runs again
        self.restarts = 0

    def _time_left(self) -> float:
        return self.deadline - time.monotonic()

    def _over(self) -> str:
        return f"timed out: the notebook ran longer than {self.notebook_timeout:g} s in all"

    def run(self, the_plan, results, memory_mb) -> str | None:
        """Run every step; return the notebook's problem (None when there was none)."""
        notes: list[str] = []
        answers: dict[str, CellRun] = {}
        problem = self._startup()
        if problem:
            return problem
        for step in the_plan.steps:
            try:
                stop = self._step(step, the_plan, results, answers, notes, memory_mb)
            except Exception as exc:  # the grader failed on this step: that exercise is an error, not a result
                if step.exercise:
                    _record(results, step.exercise, NOT_RUN, grader_error(exc))
                else:
                    notes.append(f"cell {step.cell}: {grader_error(exc)}")
                continue
            if stop is not None:
                return stop
        return "; ".join(notes) or None

    def _step(self, step, the_plan, results, answers, notes, memory_mb) -> str | None:
        """Run one step; the problem that stops the notebook, or None to go on."""
        answer = answers.get(step.exercise) if step.kind == "check" else None
        private = self.private.get(step.exercise, []) if step.kind == "check" else []
        if answer is not None and answer.state in ("timeout", "died"):
            for result_id, _ in private:  # its exercise cell already failed (the kernel was recovered)
                _record(results, result_id, FAILED, results[step.exercise].message)
            return None
        left = self._time_left()
        if left <= 0:
            return "; ".join([*notes, self._over()])
        cell_timeout = min(self.timeout, left)
        if step.kind == "check":
            run = CellRun()
            for result_id, check in [(step.exercise, None), *private]:  # the course's check, then private ones
                if run.state in ("timeout", "died"):  # the check before broke the kernel: same verdict
                    _record(results, result_id, FAILED, results[step.exercise].message)
                    continue
                cell_timeout = min(self.timeout, self._time_left())
                verdict = self.judge.check(self.checks, step.source, cell_timeout, step.answer, check=check)
                run = verdict.fault or CellRun()
                if run.state == "timeout" and cell_timeout < self.timeout:
                    return "; ".join([*notes, self._over()])
                status, message = verdict_status(verdict, answer, memory_mb, cell_timeout)
                if status == PASSED and step.exercise in the_plan.rules:
                    status, message = FAILED, the_plan.rules[step.exercise]
                elif status == PASSED and step.exercise in the_plan.references:
                    status = FAILED
                    message = ("uses the course's reference implementation ("
                               + ", ".join(the_plan.references[step.exercise]) + ") instead of your own code")
                _record(results, result_id, status, message)
        else:
            run = self.kernel.run(step.source, cell_timeout)
            if run.state == "timeout" and cell_timeout < self.timeout:
                return "; ".join([*notes, self._over()])
            if step.exercise:
                answers[step.exercise] = run
                if run.state in ("timeout", "died"):
                    _record(results, step.exercise, FAILED,
                            _fault(run, cell_timeout, memory_mb, "the exercise cell"))
            elif run.state in ("timeout", "died"):
                where = f"cell {step.cell} (not an exercise)"
                notes.append(_fault(run, cell_timeout, memory_mb, where) + ", graded the rest")
        if run.state in ("timeout", "died"):
            problem = self._recover(run)
            if problem:
                return "; ".join([*notes, problem])
        elif step.kind == "cell":
            self.finished.append(step.source)
        return None

    def _recover(self, run: CellRun) -> str | None:
        """Bring the kernel back after a fault; a problem that stops the grading, or None."""
        while True:
            if self._time_left() <= 0:
                return self._over()
            self.kernel.start_timeout = max(5.0, min(START_TIMEOUT, self._time_left()))  # restarts count too
            try:
                how = self.kernel.recover() if run.state == "timeout" else (self.kernel.restart() or "restarted")
            except KernelStartError as exc:
                return str(exc)
            if how == "interrupted":
                return None
            self.restarts += 1
            if self.restarts > MAX_RESTARTS:
                return f"gave up after {MAX_RESTARTS} kernel restarts"
            run = self._replay()
            if run is None:
                return None
            if self._time_left() <= 0:
                return self._over()

    def _startup(self) -> str | None:
        """Run the grader's first cell (again after each restart); a problem when it fails (e.g. numpy cannot be
        imported under the memory limit)."""
        run = self.kernel.run(STARTUP, max(1.0, min(self.timeout, self._time_left())))
        if run.state != "ok":
            why = run.exit or f"{run.ename}: {run.evalue}".strip(": ") or run.state
            return f"the grader's first cell failed ({why})"
        return None

    def _replay(self) -> CellRun | None:
        """Run the finished learner cells again in a fresh kernel; the failed run when one of them now fails
        (it is then dropped from the list), None when all went through."""
        if self._startup():
            return CellRun(state="died", exit="the grader's first cell failed")
        for source in list(self.finished):
            left = self._time_left()
            if left <= 0:
                return None
            run = self.kernel.run(source, min(self.timeout, left))
            if run.state in ("timeout", "died"):
                self.finished.remove(source)
                return run
        return None


def _fault(run: CellRun, timeout: float, memory_mb, where: str) -> str:
    """What went wrong where: "the exercise cell timed out after 30 s (an endless loop?)"."""
    if run.state == "timeout":
        return f"{where} timed out after {timeout:g} s (an endless loop?)"
    why = f"the kernel died in {where} ({run.exit})"
    if "SIGXCPU" in run.exit:
        why += ": it used up its CPU time"
    elif memory_mb and any(s in run.exit for s in ("SIGKILL", "SIGABRT", "SIGSEGV", "SIGBUS")):
        why += f": out of memory? (the limit is {memory_mb} MB)"
    return why


def verdict_status(verdict: Verdict, answer: CellRun | None, memory_mb, timeout: float) -> tuple[str, str]:
    """Status and message of an exercise from its check's verdict (and its exercise cell's run)."""
    run = verdict.fault
    if run is not None and run.state == "timeout":
        return FAILED, f"the check timed out after {timeout:g} s: your code did not return (an endless loop?)"
    if run is not None:
        return FAILED, _fault(run, timeout, memory_mb, "the check of your code")
    # the exercise cell itself crashed (MemoryError, NameError...): that, not what the check saw of names left over
    # from earlier cells, is the learner's mistake
    if verdict.status != PASSED and answer is not None and answer.state == "error" and answer.ename:
        return FAILED, "the exercise cell " + _error(answer, memory_mb)
    return verdict.status, verdict.message


def _error(run: CellRun, memory_mb) -> str:
    if run.ename == "MemoryError":
        limit = f"more than {memory_mb} MB" if memory_mb else "too much"
        return f"used {limit} of memory (MemoryError)"
    return f"raised {run.ename}: {run.evalue}".strip().rstrip(":")
