"""Grade one notebook, exercise by exercise, so that whatever one cell does costs only its own exercise.

The plan (:func:`utils.grading.course.plan`) is run one cell at a time in one sandboxed kernel
(:mod:`utils.grading.kernel`):

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

An exercise passes only when the course's check cell, run by the grader, printed the check's pass line for that
exercise, then the random line the grader put at the end of that cell (so the cell ran to its end), and the kernel
reported no error. Nothing any other cell prints is read. It fails instead, with a message that says why, when its
exercise cell answers with the course's reference implementation (``from utils.vectors import cosine_similarity``)
or when a learner cell replaced a function the checks compare with (``np.allclose = ...``; then every exercise
checked after that fails so, whatever its check said): the grader records the identity of those functions before
any learner cell runs (:data:`utils.grading.course.WATCHED`) and compares at the start of every check cell. This raises the bar; it does not make cheating impossible, since the checks and the
learner's code share one Python process (see docs/instructors.md).
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
import warnings
from pathlib import Path

import nbformat

from utils.checks import PASS_MARK
from utils.grading.course import (COURSE, FINGERPRINT, Course, course_exercises, expected_exercises,
                                  identify_chapter, plan, read_fingerprint, replaced)
from utils.grading.kernel import CellRun, Kernel, KernelStartError
from utils.grading.results import (FAILED, NEVER_REPORTED, NOT_ATTEMPTED, NOT_RUN, PASSED, ExerciseResult,
                                   NotebookResult)
from utils.grading.sandbox import DEFAULT_MEMORY_MB, Limits

PASS_LINE = re.compile(re.escape(PASS_MARK) + r" \[(?P<id>[\w.]+)\] .*: passed")
CHECK_ERRORS = {"ExerciseFailed": FAILED, "ExerciseNotAttempted": NOT_ATTEMPTED}
ID_IN_MESSAGE = re.compile(r"^\[(?P<id>[\w.]+)\] (?P<message>.*)$", re.S)
MAX_RESTARTS = 10


def grade_notebook(path: Path, timeout: float = 300, *, memory_mb: int | None = DEFAULT_MEMORY_MB,
                   notebook_timeout: float | None = None, course: Course | None = None,
                   course_dir: Path | None = None, network: bool = False) -> NotebookResult:
    """Grade one notebook with the course's checks; never modifies ``path``.

    ``timeout`` limits each cell, ``notebook_timeout`` (default 2 x timeout + 60 s) the whole run, restarts
    included; ``memory_mb`` is the kernel's address-space limit (0/None: none). ``course`` (or ``course_dir``, its
    folder of learner notebooks) says where the course's own notebooks and checks are."""
    if course is None:
        course = Course(notebooks=Path(course_dir)) if course_dir else COURSE
    start = time.monotonic()
    path = Path(path)
    result = NotebookResult(str(path))
    try:
        _grade_into(result, path, timeout, memory_mb, notebook_timeout or 2 * timeout + 60, course, network)
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


def _grade_into(result, path, timeout, memory_mb, notebook_timeout, course, network) -> None:
    nb, result.problem = read_notebook(path)
    if nb is None:
        return
    result.chapter = identify_chapter(nb, path, course)
    results = {ex_id: ExerciseResult(ex_id, title)
               for ex_id, title in expected_exercises(result.chapter, course).items()}
    exercises = course_exercises(result.chapter, course)
    result.exercises = list(results.values())
    if not results and not exercises:
        return  # no chapter we know of: nothing to grade (format_text says so), no need to run it
    if not exercises:
        result.problem = f"the course has no notebook for chapter {result.chapter}: its checks cannot be placed"
        _not_run(results, result.problem)
        return
    result.checks = "course"
    for ex in exercises:
        results.setdefault(ex.id, ExerciseResult(ex.id, ex.title))
    result.exercises = list(results.values())
    the_plan = plan(nb, result.chapter, exercises, course)
    for ex_id, why in the_plan.missing.items():
        _record(results, ex_id, FAILED, why)
    limits = Limits(memory_mb=memory_mb or None, cpu_s=int(notebook_timeout * (os.cpu_count() or 1)) + 60,
                    network=network)
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        runner = _Runner(Kernel(Path(tmp), limits), timeout, time.monotonic() + notebook_timeout, notebook_timeout)
        try:
            runner.kernel.start()
        except KernelStartError as exc:
            result.problem = str(exc)
        else:
            try:
                result.problem = runner.run(the_plan, results, memory_mb)
            finally:
                runner.kernel.close()
    if result.problem:
        _not_run(results, "not reached: " + result.problem)


def _not_run(results, message: str) -> None:
    for r in results.values():
        if r.status == NOT_ATTEMPTED and r.message == NEVER_REPORTED:
            r.status, r.message = NOT_RUN, message


def _record(results, ex_id, status, message):
    result = results.setdefault(ex_id, ExerciseResult(ex_id, "(unknown exercise)"))
    result.status, result.message = status, message[:300]


class _Runner:
    """Runs a plan's steps in one kernel, containing each fault (see the module docstring)."""

    def __init__(self, kernel: Kernel, timeout: float, deadline: float, notebook_timeout: float):
        self.kernel, self.timeout, self.deadline, self.notebook_timeout = kernel, timeout, deadline, notebook_timeout
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
        problem = self._fingerprint()
        if problem:
            return problem
        for step in the_plan.steps:
            answer = answers.get(step.exercise) if step.kind == "check" else None
            if answer is not None and answer.state in ("timeout", "died"):
                continue  # its exercise cell already failed (and the kernel was recovered): nothing to check
            left = self._time_left()
            if left <= 0:
                return "; ".join([*notes, self._over()])
            cell_timeout = min(self.timeout, left)
            run = self.kernel.run(step.source, cell_timeout)
            if run.state == "timeout" and cell_timeout < self.timeout:
                return "; ".join([*notes, self._over()])
            if step.kind == "check":
                status, message = judge(step, run, answers.get(step.exercise), memory_mb, cell_timeout)
                # once a function the checks compare with is replaced, no verdict of theirs means anything
                changed = replaced(self.baseline, run.stdout) if run.state in ("ok", "error") else []
                if changed:
                    status = FAILED
                    message = (f"your code replaced {', '.join(changed[:3])}{' ...' if len(changed) > 3 else ''}, "
                               "which the checks rely on: not graded")
                if status == PASSED and step.exercise in the_plan.references:
                    status = FAILED
                    message = ("uses the course's reference implementation ("
                               + ", ".join(the_plan.references[step.exercise]) + ") instead of your own code")
                _record(results, step.exercise, status, message)
            elif step.exercise:
                answers[step.exercise] = run
                if run.state in ("timeout", "died"):
                    _record(results, step.exercise, FAILED, _fault(run, cell_timeout, memory_mb, "the exercise cell"))
            elif run.state in ("timeout", "died"):
                where = f"cell {step.cell} (not an exercise)"
                notes.append(_fault(run, cell_timeout, memory_mb, where) + ", graded the rest")
            if run.state in ("timeout", "died"):
                problem = self._recover(run)
                if problem:
                    return "; ".join([*notes, problem])
            elif step.kind == "cell":
                self.finished.append(step.source)
        return "; ".join(notes) or None

    def _recover(self, run: CellRun) -> str | None:
        """Bring the kernel back after a fault; a problem that stops the grading, or None."""
        while True:
            how = self.kernel.recover() if run.state == "timeout" else (self.kernel.restart() or "restarted")
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

    def _fingerprint(self) -> str | None:
        """Record the identity of the functions the checks rely on, before any learner cell runs (again after each
        restart); a problem when that fails (e.g. numpy or torch cannot be imported under the memory limit)."""
        run = self.kernel.run(FINGERPRINT, max(1.0, min(self.timeout, self._time_left())))
        self.baseline = read_fingerprint(run.stdout) if run.state == "ok" else None
        if self.baseline is None:
            why = run.exit or f"{run.ename}: {run.evalue}".strip(": ") or run.state
            return f"the grader's first cell failed ({why})"
        return None

    def _replay(self) -> CellRun | None:
        """Run the finished learner cells again in a fresh kernel; the failed run when one of them now fails
        (it is then dropped from the list), None when all went through."""
        if self._fingerprint():
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


def judge(step, run: CellRun, answer: CellRun | None, memory_mb, timeout: float) -> tuple[str, str]:
    """Status and message of an exercise from its check cell's run (and its exercise cell's run)."""
    ex_id = step.exercise
    cut = f" ({run.cut} characters of output cut)" if run.cut else ""
    if run.state == "timeout":
        return FAILED, f"the check timed out after {timeout:g} s: your code did not return (an endless loop?)"
    if run.state == "died":
        return FAILED, _fault(run, timeout, memory_mb, "the check of your code")
    learner_error = answer is not None and answer.state == "error" and answer.ename
    if run.state == "error":
        parsed = ID_IN_MESSAGE.match(run.evalue)
        if run.ename in CHECK_ERRORS and parsed and parsed["id"] == ex_id and not learner_error:
            return CHECK_ERRORS[run.ename], parsed["message"]
        # the exercise cell itself crashed (MemoryError, NameError...): that, not what the check saw of names
        # left over from earlier cells, is the learner's mistake
        if learner_error:
            return FAILED, "the exercise cell " + _error(answer, memory_mb)
        if run.ename:
            return FAILED, f"the check could not run: {run.ename}: {run.evalue}".strip().rstrip(":") + cut
        return FAILED, "the check did not finish (the kernel reported an error but no exception)" + cut
    passed = any(m["id"] == ex_id for m in PASS_LINE.finditer(run.stdout))
    if passed and step.nonce in run.stdout.splitlines() and run.reply == "ok":
        return PASSED, ""
    return FAILED, "the check ran but reported nothing (did your code silence its output?)" + cut


def _error(run: CellRun, memory_mb) -> str:
    if run.ename == "MemoryError":
        limit = f"more than {memory_mb} MB" if memory_mb else "too much"
        return f"used {limit} of memory (MemoryError)"
    return f"raised {run.ename}: {run.evalue}".strip().rstrip(":")
