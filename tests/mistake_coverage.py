"""Mistake coverage of the exercise checks: how many wrong answers the check tests try per exercise, and how
many of them get a message that names the mistake.

    .venv/bin/python tests/mistake_coverage.py            # every chapter 00-10
    .venv/bin/python tests/mistake_coverage.py 02 04      # some chapters

It runs ``tests/test_chNN_checks.py`` in-process with pytest, with ``check_helpers.assert_rejects`` replaced by a
recorder that does the same assertion and also notes (exercise id, message). Each message is then classified:
*generic* when it matches one of ``GENERIC`` (a catch-all that does not say what was wrong), *specific* otherwise.
Prints one table per notebook and a summary. A script, not a test: the numbers are for the report, not a gate.
"""
from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path[:0] = [str(TESTS), str(ROOT)]

import pytest  # noqa: E402

import check_helpers  # noqa: E402
from utils.checks import REGISTRY, ExerciseFailed  # noqa: E402

# Catch-all messages: they report THAT the answer is wrong, not WHICH mistake it is.
GENERIC = [
    r"^your code raised",                           # a crash (the learner's code or the check's), no diagnosis
    r"\bvalues differ\b",
    r"\bwrong values?\b",
    r"^(wrong (answer|values?|results?)|incorrect|not (quite )?right)\b",
    r"^the (values|results?) (is|are) not\b",       # "the values are not the cosines ...": only THAT it is wrong
    r"\bdo(es)? not match\b",                       # "... do not match the expected ..."
    # the expected-vs-got fallback: "X should be 3, got 5" / "expected [..], got [..]" with nothing after the value
    # (not the type statements "should be a number / ONE number / ints, got str", which name the mistake, nor a
    # value followed by a diagnosis: "..., got [256, 119] - apply ALL merges")
    r"\b(should be|expected)\b(?! (a|an|one|the|ints?|integers?|floats?|strings?|numbers?)\b)[^?]*\bgot\b"
    r"(?:(?! - )[^:;])*$",
]
_GENERIC = [re.compile(p, re.I) for p in GENERIC]

CHAPTER_TESTS = {f"{n:02d}": f"test_ch{n:02d}_checks.py" for n in range(2, 11)}
CHAPTER_TESTS.update({"00": "test_ch00_ch01_checks.py", "01": "test_ch00_ch01_checks.py"})

RECORDS: list[tuple[str, str, str]] = []   # (exercise id, message, test node)
_current_test = [""]


def is_generic(message: str) -> bool:
    return any(p.search(message) for p in _GENERIC)


def recording_assert_rejects(check, *args, match: str):
    """check_helpers.assert_rejects, plus a record of the exercise and the message the learner would read."""
    with pytest.raises(ExerciseFailed) as info:
        check_helpers._run(check, *args)
    message = info.value.message
    RECORDS.append((getattr(check, "ex_id", "?"), message, _current_test[0]))
    assert "\n" not in message, f"check messages are one line, got {message!r}"
    assert re.search(match, message, re.I), f"expected a message matching {match!r}, got {message!r}"


class _Recorder:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        _current_test[0] = item.nodeid
        yield


def run(chapters: list[str]) -> dict:
    import tests.check_helpers as as_package                 # test_ch09 imports it under this name
    for module in (check_helpers, as_package):               # before the test modules import it
        module.assert_rejects = recording_assert_rejects
    files = sorted({str(TESTS / CHAPTER_TESTS[c]) for c in chapters})
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-x", *files], plugins=[_Recorder()])
    by_exercise: dict[str, list[str]] = defaultdict(list)
    for ex_id, message, _ in RECORDS:
        by_exercise[ex_id].append(message)
    return {"exit": int(code), "by_exercise": by_exercise}


def report(chapters: list[str], by_exercise: dict) -> list[tuple[str, int, int, int]]:
    rows = []
    for chapter in chapters:
        ids = list(REGISTRY.get(chapter, {}))
        tried = specific = 0
        print(f"\n## Notebook {chapter}")
        print(f"{'exercise':<9}{'tried':>6}{'specific':>9}{'generic':>8}")
        generic_lines = []
        for ex_id in ids:
            messages = by_exercise.get(ex_id, [])
            gen = [m for m in messages if is_generic(m)]
            tried += len(messages)
            specific += len(messages) - len(gen)
            flag = "   < 3 tried" if len(messages) < 3 and not str(REGISTRY[chapter][ex_id]).startswith("Quiz") else ""
            print(f"{ex_id:<9}{len(messages):>6}{len(messages) - len(gen):>9}{len(gen):>8}{flag}")
            generic_lines += [f"  {ex_id}: {m}" for m in gen]
        print(f"{'total':<9}{tried:>6}{specific:>9}{tried - specific:>8}")
        if generic_lines:
            print("generic messages:")
            print("\n".join(generic_lines))
        rows.append((chapter, tried, specific, tried - specific))
    print("\n## Summary")
    print(f"{'notebook':<9}{'tried':>6}{'specific':>9}{'generic':>8}{'% specific':>11}")
    for chapter, tried, specific, generic in rows:
        share = f"{100 * specific / tried:.0f}%" if tried else "-"
        print(f"{chapter:<9}{tried:>6}{specific:>9}{generic:>8}{share:>11}")
    total, spec = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'all':<9}{total:>6}{spec:>9}{total - spec:>8}{(f'{100 * spec / total:.0f}%' if total else '-'):>11}")
    return rows


def main(argv: list[str]) -> int:
    chapters = argv or sorted(CHAPTER_TESTS)
    unknown = [c for c in chapters if c not in CHAPTER_TESTS]
    if unknown:
        print(f"unknown chapter(s) {unknown}; choose from {sorted(CHAPTER_TESTS)}", file=sys.stderr)
        return 2
    result = run(chapters)
    report(chapters, result["by_exercise"])
    if result["exit"] != 0:
        print(f"\nnote: the check tests did not all pass (pytest exit {result['exit']}); the numbers are partial")
    return result["exit"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
