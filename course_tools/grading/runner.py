"""The run of one notebook's plan in one kernel, each fault contained to its exercise (how:
:mod:`course_tools.grading.notebook`): :meth:`Runner.events` runs the steps and yields what it finds - a
:class:`Record` per verdict, then :class:`Stopped` with the notebook's problem - and :func:`record_events` writes them
into the exercises' results.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

from course_tools.grading.judge import Judge, Verdict
from course_tools.grading.kernel import START_TIMEOUT, CellRun, Kernel, KernelStartError
from course_tools.grading.planning import STARTUP
from course_tools.grading.results import FAILED, NOT_RUN, PASSED, ExerciseResult
from course_tools.grading.settings import Settings

MAX_RESTARTS = 10


def grader_error(exc: BaseException) -> str:
    """The one line that says the grader itself failed (what an instructor needs to look into)."""
    text = str(exc).splitlines()[0][:150] if str(exc).strip() else ""
    return f"grader error ({type(exc).__name__}{': ' + text if text else ''}): not graded, tell your instructor"


def record(results, ex_id, status, message):
    """Give the result ``ex_id`` of ``results`` its status and message (at most 300 characters)."""
    result = results.setdefault(ex_id, ExerciseResult(ex_id, "(unknown exercise)"))
    result.status, result.message = status, message[:300]


@dataclass(frozen=True)
class Record:
    """What the runner found for one exercise (or private check): its status and message."""
    result_id: str
    status: str
    message: str


@dataclass(frozen=True)
class Stopped:
    """The runner's last event: the notebook's problem (None when every step ran)."""
    problem: str | None


def record_events(events, results: dict[str, ExerciseResult]) -> str | None:
    """Record in ``results`` each verdict a runner yields; the notebook's problem, from its last event."""
    problem = None
    for event in events:
        if isinstance(event, Record):
            record(results, event.result_id, event.status, event.message)
        else:
            problem = event.problem
    return problem


class Runner:
    """Runs a plan's steps in one kernel, containing each fault (see the module docstring); :meth:`events` yields
    what it finds."""

    def __init__(self, kernel: Kernel, judge: Judge, checks, settings: Settings, private: dict | None = None,
                 messages: dict[str, str] | None = None):
        self.kernel, self.judge, self.checks, self.private = kernel, judge, checks, private or {}
        self.settings, self.timeout = settings, settings.timeout
        self.deadline = time.monotonic() + settings.notebook_timeout
        self.messages = dict(messages or {})  # result id -> its message so far (a private check may repeat it)
        self.finished: list[str] = []  # learner cells that ran to their end: what a restart runs again
        self.restarts = 0

    def _time_left(self) -> float:
        return self.deadline - time.monotonic()

    def _over(self) -> str:
        return f"timed out: the notebook ran longer than {self.settings.notebook_timeout:g} s in all"

    def _record(self, result_id: str, status: str, message: str) -> Record:
        self.messages[result_id] = message[:300]
        return Record(result_id, status, message)

    def events(self, the_plan) -> Iterator[Record | Stopped]:
        """Run every step, yielding a Record per verdict, then Stopped with the notebook's problem."""
        notes: list[str] = []
        answers: dict[str, CellRun] = {}
        problem = self._startup()
        if problem:
            yield Stopped(problem)
            return
        for step in the_plan.steps:
            try:
                stop = yield from self._step(step, the_plan, answers, notes)
            except Exception as exc:  # the grader failed on this step: that exercise is an error, not a result
                if step.exercise:
                    yield self._record(step.exercise, NOT_RUN, grader_error(exc))
                else:
                    notes.append(f"cell {step.cell}: {grader_error(exc)}")
                continue
            if stop is not None:
                yield Stopped(stop)
                return
        yield Stopped("; ".join(notes) or None)

    def _step(self, step, the_plan, answers, notes):
        """Run one step, yielding its Records; return the problem that stops the notebook, or None to go on."""
        answer = answers.get(step.exercise) if step.kind == "check" else None
        if answer is not None and answer.state in ("timeout", "died"):
            for result_id, _ in self.private.get(step.exercise, []):  # its exercise cell failed (kernel recovered)
                yield self._record(result_id, FAILED, self.messages[step.exercise])
            return None
        left = self._time_left()
        if left <= 0:
            return "; ".join([*notes, self._over()])
        if step.kind == "check":
            run = yield from self._check(step, the_plan, answer)
        else:
            run = yield from self._cell(step, min(self.timeout, left), answers, notes)
        if run is None:
            return "; ".join([*notes, self._over()])
        if run.state in ("timeout", "died"):
            problem = self._recover(run)
            if problem:
                return "; ".join([*notes, problem])
        elif step.kind == "cell":
            self.finished.append(step.source)
        return None

    def _check(self, step, the_plan, answer):
        """The course's check of an exercise, then its private ones, yielding a Record each; the last check's
        fault (a CellRun), or None when the notebook's time ran out."""
        run = CellRun()
        for result_id, check in [(step.exercise, None), *self.private.get(step.exercise, [])]:
            if run.state in ("timeout", "died"):  # the check before broke the kernel: same verdict
                yield self._record(result_id, FAILED, self.messages[step.exercise])
                continue
            cell_timeout = min(self.timeout, self._time_left())
            verdict = self.judge.check(self.checks, step.source, cell_timeout, step.answer, check=check)
            run = verdict.fault or CellRun()
            if run.state == "timeout" and cell_timeout < self.timeout:
                return None
            status, message = verdict_status(verdict, answer, self.settings.memory_mb, cell_timeout)
            if status == PASSED and step.exercise in the_plan.rules:
                status, message = FAILED, the_plan.rules[step.exercise]
            elif status == PASSED and step.exercise in the_plan.references:
                status = FAILED
                message = ("uses the course's reference implementation ("
                           + ", ".join(the_plan.references[step.exercise]) + ") instead of your own code")
            yield self._record(result_id, status, message)
        return run

    def _cell(self, step, cell_timeout: float, answers, notes):
        """A learner's or the course's cell, yielding the Record of its exercise when it broke the kernel; its run,
        or None when the notebook's time ran out."""
        run = self.kernel.run(step.source, cell_timeout)
        if run.state == "timeout" and cell_timeout < self.timeout:
            return None
        if step.exercise:
            answers[step.exercise] = run
            if run.state in ("timeout", "died"):
                yield self._record(step.exercise, FAILED,
                                   _fault(run, cell_timeout, self.settings.memory_mb, "the exercise cell"))
        elif run.state in ("timeout", "died"):
            where = f"cell {step.cell} (not an exercise)"
            notes.append(_fault(run, cell_timeout, self.settings.memory_mb, where) + ", graded the rest")
        return run

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
