"""Assertions for testing exercise checks: a check must pass the right answer, report the stub as not attempted,
and reject each typical wrong answer with ITS OWN message (so the learner learns what the mistake was).

With ``COURSE_CHECKS_VIA_GRADER=1`` every check these helpers call runs the way the grader runs it instead: the
answer is sent to a graded kernel and the check runs in this process against it, through the grader's judge
(course_tools/grading/judge.py). The same tests then prove that graded verdicts and messages are those of JupyterLab
(tests/test_grading_parity.py does that for every chapter).
"""
from __future__ import annotations

import atexit
import os
import re
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from utils.checks import ExerciseFailed, ExerciseNotAttempted, source_of

VIA_GRADER = os.environ.get("COURSE_CHECKS_VIA_GRADER") == "1"
_GRADER: dict = {}


def _graded(check, *args):
    """Run ``check(*args)`` as the grader does: ``args`` live in a kernel, the check runs here via the judge."""
    import cloudpickle

    from course_tools.grading.judge import Judge
    from course_tools.grading.kernel import Kernel
    from course_tools.grading.results import FAILED, NOT_ATTEMPTED
    from course_tools.grading.sandbox import Limits

    if "judge" not in _GRADER:
        tmp = tempfile.TemporaryDirectory(prefix="parity-")
        kernel = Kernel(Path(tmp.name), Limits(memory_mb=None))
        kernel.start()
        atexit.register(tmp.cleanup)
        atexit.register(kernel.close)
        atexit.register(_log)
        _GRADER.update(tmp=tmp, kernel=kernel, judge=Judge(kernel), calls=0)
    _GRADER["calls"] += 1
    kernel, judge = _GRADER["kernel"], _GRADER["judge"]
    for name in {getattr(a, "__module__", None) for a in args} | {__name__}:
        module = sys.modules.get(name or "")
        if module is not None and name.split(".")[0] not in ("utils", "numpy", "torch", "builtins"):
            cloudpickle.register_pickle_by_value(module)  # the test's own functions travel by value
    blob = Path(kernel.exchange) / "args.pkl"  # the one folder of the grader's the kernel can read
    blob.write_bytes(cloudpickle.dumps(list(args)))
    run = kernel.run(f"import pickle\n_parity_args = pickle.loads(open({str(blob)!r}, 'rb').read())\n", 60)
    assert run.state == "ok", (run.ename, run.evalue)
    call = f"check.{check.__name__}(" + ", ".join(f"_parity_args[{i}]" for i in range(len(args))) + ")"
    sources = {}  # what the submitted notebook would show of the test's functions
    for i, a in enumerate(args):
        source = source_of(a) if callable(a) else None
        if source is not None:
            sources[f"_parity_args[{i}]"] = textwrap.dedent(source)
    verdict = judge.check(sys.modules[check.__module__], call, 60, sources=sources)
    assert verdict.fault is None, verdict.fault
    if verdict.status == FAILED:
        raise ExerciseFailed(check.ex_id, verdict.message)
    if verdict.status == NOT_ATTEMPTED:
        raise ExerciseNotAttempted(check.ex_id, verdict.message)
    print(verdict.printed, end="")


def _log():
    """Say how many check calls went through the grader (tests/test_grading_parity.py reads it)."""
    path = os.environ.get("COURSE_CHECKS_PARITY_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{_GRADER['calls']} {_GRADER['judge'].probes}\n")


def _run(check, *args):
    return _graded(check, *args) if VIA_GRADER else check(*args)


def assert_passes(check, *args, capsys=None):
    _run(check, *args)  # raises on failure


def assert_not_attempted(check, *args):
    with pytest.raises(ExerciseNotAttempted):
        _run(check, *args)


def assert_rejects(check, *args, match: str):
    """The check fails, and its one-line message matches ``match`` (a regex, searched case-insensitively)."""
    with pytest.raises(ExerciseFailed) as info:
        _run(check, *args)
    message = info.value.message
    assert "\n" not in message, f"check messages are one line, got {message!r}"
    assert re.search(match, message, re.I), f"expected a message matching {match!r}, got {message!r}"


def stub_function(*_args, **_kwargs):
    """What a learner's function does before they write it."""
    raise NotImplementedError("Exercise not attempted yet: replace this line with your code")
