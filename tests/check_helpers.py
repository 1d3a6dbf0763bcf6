"""Assertions for testing exercise checks: a check must pass the right answer, report the stub as not attempted,
and reject each typical wrong answer with ITS OWN message (so the learner learns what the mistake was)."""
from __future__ import annotations

import re

import pytest

from utils.checks import ExerciseFailed, ExerciseNotAttempted


def assert_passes(check, *args, capsys=None):
    check(*args)  # raises on failure


def assert_not_attempted(check, *args):
    with pytest.raises(ExerciseNotAttempted):
        check(*args)


def assert_rejects(check, *args, match: str):
    """The check fails, and its one-line message matches ``match`` (a regex, searched case-insensitively)."""
    with pytest.raises(ExerciseFailed) as info:
        check(*args)
    message = info.value.message
    assert "\n" not in message, f"check messages are one line, got {message!r}"
    assert re.search(match, message, re.I), f"expected a message matching {match!r}, got {message!r}"


def stub_function(*_args, **_kwargs):
    """What a learner's function does before they write it."""
    raise NotImplementedError("Exercise not attempted yet: replace this line with your code")
