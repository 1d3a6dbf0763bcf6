"""The two README commands: set-up happens once, re-running does not reinstall, Lab is local and token-protected."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(*args):
    return subprocess.run(["make", *args], cwd=ROOT, capture_output=True, text=True)


def test_installed_venv_is_up_to_date_so_nothing_is_reinstalled():
    if not (ROOT / ".venv" / ".installed-dev").exists():
        pytest.skip("the venv was not made by `make test`")
    assert _make("-q", "venv", "dev").returncode == 0, "make would reinstall although nothing changed"
    dry = _make("-n", "lab").stdout
    assert "pip" not in dry, dry


def test_lab_starts_the_workspace_on_localhost_with_a_token():
    dry = _make("-n", "-W", "requirements.txt", "lab").stdout  # -W: pretend requirements changed
    assert "pip --disable-pip-version-check -q install -r requirements.txt" in dry
    assert "-m utils.workspace" in dry
    lab = next(line for line in dry.splitlines() if "jupyter lab" in line)
    assert "--ip=127.0.0.1" in lab and "--notebook-dir=my-work" in lab
    assert "token" not in lab.lower()  # the default (a random token) stays on


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
