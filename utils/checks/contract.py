"""The contract between a check and whatever reads its result (the grader, ``python -m course_tools.progress``, the tests):
what a check shows under its cell, and how that is read back from a notebook's saved outputs. Both sides use this
module, so the format is written once.

A check either prints one pass line (to stdout), or raises one of two exceptions whose value is ``[id] message``;
IPython shows only the line their ``_render_traceback_`` gives, never a traceback:

    ✅ [1.2] Build tensors of given shapes: passed
    ❌ ExerciseFailed: [1.2] b should have shape (2, 3), got (3, 2) - rows and columns swapped?
    ⏳ ExerciseNotAttempted: [1.2] replace the `...` in the exercise cell with your answer, run it, then run this check

A pass line may end with `` - detail`` (a quiz prints its explanation there). Exercise ids are ``chapter.number``
without zero padding (``"2.3"``). Produced and read back:

>>> pass_line("1.2", "Build tensors", "shapes right")
'✅ [1.2] Build tensors: passed - shapes right'
>>> str(ExerciseFailed("1.3", "wrong sign"))
'[1.3] wrong sign'
>>> read_outputs([{"output_type": "stream", "name": "stdout", "text": [pass_line("1.2", "Build tensors"), "\\n"]},
...               {"output_type": "error", "ename": "ExerciseFailed", "evalue": "[1.3] wrong sign", "traceback": []}])
[('1.2', 'passed', ''), ('1.3', 'failed', 'wrong sign')]

The grader itself never reads printed lines: it runs each check in its own process and takes the exception
(:mod:`course_tools.grading.judge`). The statuses here are the grader's (:mod:`course_tools.grading.results`).
"""
from __future__ import annotations

import re

PASS_MARK = "✅"
FAIL_MARK = "❌"
TODO_MARK = "⏳"

#: what a check reports (the grader adds "not run": see course_tools.grading.results, whose values these are)
PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"

#: an exercise id: chapter and number, "2.3"
EXERCISE_ID = r"\d+\.\d+"


def chapter_of_id(ex_id: str) -> str:
    """The chapter of an exercise id, two digits: ``"1.2"`` -> ``"01"``."""
    return ex_id.split(".")[0].zfill(2)


# ------------------------------------------------------------------------------------------------ produce
def pass_line(ex_id: str, title: str, detail=None) -> str:
    """The line a check prints when the answer is right (``detail``, when truthy, is appended after " - ")."""
    line = f"{PASS_MARK} [{ex_id}] {title}: {PASSED}"
    return line + (f" - {detail}" if detail else "")


def error_value(ex_id: str, message: str) -> str:
    """The value of a check's exception (``str(exc)``, IPython's ``evalue``): ``[1.2] message``."""
    return f"[{ex_id}] {message}"


class _OneLineError(Exception):
    """An exception IPython shows as its message only (no traceback), via ``_render_traceback_``."""

    mark = ""

    def __init__(self, ex_id: str, message: str):
        self.ex_id = ex_id
        self.message = message
        super().__init__(error_value(ex_id, message))

    def _render_traceback_(self):  # IPython hook: these lines replace the traceback
        return [f"{self.mark} {type(self).__name__}: {error_value(self.ex_id, self.message)}"]


class ExerciseFailed(_OneLineError):
    """The answer is wrong (or the learner's code raised): the message names the likely mistake."""
    mark = FAIL_MARK


class ExerciseNotAttempted(_OneLineError):
    """The exercise cell still holds its stub (``...`` or ``raise NotImplementedError``)."""
    mark = TODO_MARK


#: exception name (IPython's ``ename``) -> status
STATUS_OF_ERROR = {ExerciseFailed.__name__: FAILED, ExerciseNotAttempted.__name__: NOT_ATTEMPTED}


# ------------------------------------------------------------------------------------------------ parse
PASS_LINE = re.compile(rf"{PASS_MARK} \[(?P<id>{EXERCISE_ID})\] .*?: {PASSED}")
ERROR_VALUE = re.compile(rf"^\[(?P<id>{EXERCISE_ID})\] (?P<message>.*)$", re.S)


def passed_ids(text: str) -> list[str]:
    """The exercise ids of the pass lines in ``text``, in order.

    >>> passed_ids("✅ [2.1] Norms: passed\\nsomething else\\n✅ [2.3] Quiz: passed - because")
    ['2.1', '2.3']
    """
    return [m.group("id") for m in PASS_LINE.finditer(text)]


def read_error(ename: str, evalue: str) -> tuple[str, str, str] | None:
    """(exercise id, status, message) of a check's exception, from its name and value; None for any other error.

    >>> read_error("ExerciseNotAttempted", "[4.1] replace the `...`"), read_error("ValueError", "[4.1] x")
    (('4.1', 'not attempted', 'replace the `...`'), None)
    """
    if ename not in STATUS_OF_ERROR:
        return None
    match = ERROR_VALUE.match(str(evalue))
    return (match.group("id"), STATUS_OF_ERROR[ename], match.group("message").strip()) if match else None


def read_outputs(outputs) -> list[tuple[str, str, str]]:
    """(exercise id, status, message) for every check result in a code cell's saved outputs (dicts as nbformat or
    ``json`` gives them), in order: pass lines in stream outputs, check exceptions in error outputs."""
    found = []
    for out in outputs or []:
        if not isinstance(out, dict):
            continue
        if out.get("output_type") == "stream":
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            found += [(ex_id, PASSED, "") for ex_id in passed_ids(text)]
        elif out.get("output_type") == "error":
            hit = read_error(out.get("ename"), out.get("evalue", ""))
            if hit:
                found.append(hit)
    return found
