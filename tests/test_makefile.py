"""The two README commands: set-up happens once, re-running does not reinstall, Lab is local and token-protected;
every make target runs course.py, the same entry Windows uses (tests/test_course_entry.py tests it on simulated
platforms)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_course_entry import TEST_RECIPE  # the recipe, written once

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


# `make test` runs these tests: its MAKEFLAGS / MAKELEVEL would make the inner make print "Entering directory" lines
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}


def _make(*args):
    return subprocess.run(["make", *args], cwd=ROOT, capture_output=True, text=True, env=CLEAN_ENV)


def test_installed_venv_is_up_to_date_so_nothing_is_reinstalled():
    if not (ROOT / ".venv" / ".installed-dev").exists():
        pytest.skip("the venv was not made by `make test`")
    for target in ("venv", "dev", "lab", "test"):
        dry = _make("-n", target)
        assert dry.returncode == 0 and "pip" not in dry.stdout, dry.stdout + dry.stderr  # would reinstall


def test_lab_starts_the_workspace_on_localhost_with_a_token():
    dry = _make("-n", "lab").stdout  # make -n: course.py --dry-run prints the commands it would run
    assert "-m course_tools.workspace" in dry
    lab = next(line for line in dry.splitlines() if "jupyter lab" in line)
    assert "--ip=127.0.0.1" in lab and "--notebook-dir=my-work" in lab
    assert "token" not in lab.lower()  # the default (a random token) stays on


TARGETS = ["venv", "dev", "lab", "test", "test-portable", "loopback", "notebooks", "check-notebooks", "site",
           "progress", "classroom"]  # not clean-venv: should make ever run it for real, it would delete the venv under test


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_runs_course_py_the_windows_entry_too(target):
    """One implementation: each make target is `course.py TARGET`, and `make -n` prints what course.py would do."""
    dry = _make("-n", target)
    assert dry.returncode == 0, dry.stderr
    first, *rest = dry.stdout.splitlines()
    assert "course.py --dry-run" in first and first.split()[-1] == target, first
    same = subprocess.run([sys.executable, "course.py", "--dry-run", target], cwd=ROOT, capture_output=True, text=True)
    assert rest == same.stdout.splitlines()


def test_make_test_is_still_the_old_recipe():
    steps = [line for line in _make("-n", "test").stdout.splitlines() if line.startswith(".venv/bin/python")
             and " pip " not in line]
    assert steps == TEST_RECIPE


def test_make_variables_reach_course_py():
    dry = _make("-n", "lab", "LAB_PORT=9123").stdout
    assert "--port=9123" in next(line for line in dry.splitlines() if "jupyter lab" in line)
    assert "-m pytest -n 3 " in _make("-n", "test", "PYTEST_WORKERS=3").stdout
    assert "-m course_tools.progress --grade" in _make("-n", "progress", "ARGS=--grade").stdout


def test_environment_yml_installs_the_same_requirements():
    import yaml
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-r requirements.txt" in pip_section
    assert "python=3.11" in env["dependencies"]


def test_torch_is_pinned_to_the_cpu_wheel_version():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    assert "torch==2.13.0" in pins
    assert all("==" in line for line in pins), [line for line in pins if "==" not in line]
