"""Graded verdicts are JupyterLab's verdicts: every chapter's check tests (tests/test_chNN_checks.py: the right
answer, the stub, each typical mistake with its message) run again with every check call made the way the grader
makes it - the answer in a kernel, the check in this process, through the judge (tests/check_helpers.py,
``COURSE_CHECKS_VIA_GRADER=1``). About 2-3 minutes on 2 cores.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK_TESTS = sorted(p.name for p in (ROOT / "tests").glob("test_ch*_checks.py"))


@pytest.mark.slow
@pytest.mark.parametrize("name", CHECK_TESTS)
def test_check_tests_pass_through_the_grader(name, tmp_path):
    log = tmp_path / "parity.log"
    env = {**os.environ, "COURSE_CHECKS_VIA_GRADER": "1", "COURSE_CHECKS_PARITY_LOG": str(log)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                           str(ROOT / "tests" / name)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    calls, probes = map(int, log.read_text().split())
    assert calls >= 5 and probes >= calls, (calls, probes)   # the checks really went through the grader
