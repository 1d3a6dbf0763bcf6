"""What grading reports: one :class:`ExerciseResult` per exercise, one :class:`NotebookResult` per notebook, as text
or JSON.

>>> r = NotebookResult("01_a.ipynb", chapter="01", exercises=[ExerciseResult("1.1", "Shapes", PASSED, "")])
>>> print(format_text(r))
01_a.ipynb  (chapter 01)
  ✅ 1.1 Shapes: passed
  1/1 passed
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from utils.checks.contract import (FAIL_MARK, FAILED, NOT_ATTEMPTED, PASS_MARK, PASSED,  # what a check reports,
                                   TODO_MARK)                                          # defined once

NOT_RUN = "not run"  # the grader's own status: grading stopped before this exercise's check
STATUSES = (PASSED, FAILED, NOT_ATTEMPTED, NOT_RUN)
ICONS = {PASSED: PASS_MARK, FAILED: FAIL_MARK, NOT_ATTEMPTED: TODO_MARK, NOT_RUN: "⛔"}
NEVER_REPORTED = "its check cell never reported (deleted, or not run?)"


@dataclass
class ExerciseResult:
    id: str
    title: str
    status: str = NOT_ATTEMPTED
    message: str = NEVER_REPORTED
    private: bool = False  # an instructor's private check (course_tools/grading/private.py), not one of the course's


@dataclass
class NotebookResult:
    path: str
    chapter: str | None = None
    problem: str | None = None  # the notebook could not be graded completely: why
    exercises: list[ExerciseResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def all_passed(self) -> bool:
        return self.problem is None and bool(self.exercises) and all(e.status == PASSED for e in self.exercises)

    def as_dict(self) -> dict:
        return {**asdict(self), "all_passed": self.all_passed}

    @classmethod
    def from_dict(cls, data: dict) -> "NotebookResult":
        """The result :meth:`as_dict` wrote; ValueError for anything else (a field missing, of the wrong type, an
        unknown status)."""
        def text(value, optional=False):
            if (value is None and optional) or isinstance(value, str):
                return value
            raise ValueError(f"not a string: {value!r:.40}")

        if not isinstance(data, dict) or not isinstance(data.get("exercises", []), list):
            raise ValueError("not a notebook result")
        exercises = []
        for e in data.get("exercises", []):
            if not isinstance(e, dict) or e.get("status") not in STATUSES:
                raise ValueError("not an exercise result")
            exercises.append(ExerciseResult(text(e.get("id")), text(e.get("title")), e["status"],
                                            text(e.get("message", "")), bool(e.get("private", False))))
        seconds = data.get("seconds", 0.0)
        if not isinstance(seconds, (int, float)):
            raise ValueError("seconds is not a number")
        return cls(text(data.get("path")), text(data.get("chapter"), True), text(data.get("problem"), True),
                   exercises, float(seconds))


def spreadsheet_safe(value):
    """A CSV cell a spreadsheet shows as text: a learner's folder name or message starting with ``= + - @`` (or a
    tab or carriage return) would be read as a formula, so it gets a leading apostrophe. Numbers stay numbers.

    >>> spreadsheet_safe("=2+5"), spreadsheet_safe("alice"), spreadsheet_safe(3.5)
    ("'=2+5", 'alice', 3.5)
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def format_text(result: NotebookResult) -> str:
    """The human report of one notebook: a header, the notebook's problem if any, one line per exercise, a count."""
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


def format_json(results: list[NotebookResult]) -> str:
    return json.dumps([r.as_dict() for r in results], indent=2, ensure_ascii=False)
