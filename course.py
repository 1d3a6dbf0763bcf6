#!/usr/bin/env python3
"""Set up and run the course on Linux, macOS and Windows: the one implementation behind `make lab` and `make test`.

    make lab  /  make test                      Linux and macOS (the Makefile calls this script)
    py course.py lab  /  py course.py test      Windows, in PowerShell or cmd (no make, no bash needed)
    python3 course.py lab                       the same, anywhere, without make

Commands (each does the set-up it needs first, and nothing that is already up to date):
    lab              create .venv, install the pinned packages, copy the notebooks into my-work/, open JupyterLab
                     on 127.0.0.1 (it prints a URL with a token)
    test             the same set-up plus the test tools, then every test (generator check, pytest, nbval on the
                     solutions and the learner notebooks, the solutions again on a simulated other machine)
    progress         your progress per notebook in my-work/ (arguments after it go to `python -m course_tools.progress`)
    venv / dev       only the set-up (dev: with the test tools)
    notebooks / check-notebooks / test-portable / site / clean-venv / loopback: as in the Makefile

Options: --dry-run (-n) prints the commands without running them; --reinstall installs the packages again;
--port N (default $LAB_PORT or 8888);
--workers N (default $PYTEST_WORKERS or 2). Uses only the Python standard library, so it runs before any install.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(".venv")
MIN_PYTHON = (3, 10)
STAMP, STAMP_DEV = VENV / ".installed", VENV / ".installed-dev"
REQUIREMENTS, REQUIREMENTS_DEV, PYPROJECT = Path("requirements.txt"), Path("requirements-dev.txt"), Path("pyproject.toml")
COMMANDS = ("lab", "test", "progress", "venv", "dev", "notebooks", "check-notebooks", "test-portable", "site",
            "clean-venv", "loopback")


# ------------------------------------------------------------------------------------------------ the platform
def is_windows() -> bool:
    return os.name == "nt"


def venv_python(venv: Path = VENV, windows: bool | None = None) -> Path:
    """The venv's interpreter: ``Scripts\\python.exe`` on Windows, ``bin/python`` elsewhere."""
    windows = is_windows() if windows is None else windows
    return venv / "Scripts" / "python.exe" if windows else venv / "bin" / "python"


def is_root() -> bool:
    """Running as root (uid 0)? Only POSIX has uids; on Windows there is no such flag to add."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def root_flag() -> list[str]:
    """JupyterLab refuses to run as root unless told; CI and containers run as root."""
    return ["--allow-root"] if is_root() else []


def has_loopback_tool() -> bool:
    """The network cut (``unshare -n``) and the ``ip`` tool to bring its loopback up exist only on Linux."""
    return sys.platform.startswith("linux") and shutil.which("ip") is not None


def show(argv: list[str]) -> str:
    """A command line as the platform's shell would read it."""
    return subprocess.list2cmdline(argv) if is_windows() else shlex.join(argv)


# ------------------------------------------------------------------------------------------------ the steps
class Step:
    """One thing to do: a command (``argv``) or a Python action (``action``), shown as ``text``."""

    def __init__(self, text: str, argv: list[str] | None = None, action=None, check: bool = True):
        self.text, self.argv, self.action, self.check = text, argv, action, check

    def __repr__(self) -> str:
        return f"Step({self.text!r})"


def command(*argv: str) -> Step:
    return Step(show(list(argv)), argv=list(argv))


def stale(target: Path, *deps: Path) -> bool:
    """Like make: ``target`` must be remade when it is missing or any dependency is newer."""
    if not target.exists():
        return True
    mtime = target.stat().st_mtime
    return any(dep.exists() and dep.stat().st_mtime > mtime for dep in deps)


def _touch(path: Path) -> Step:
    return Step(f"touch {path}", action=lambda: path.touch())


class Planner:
    """The steps of each command, in order, for this machine and the current state of ``.venv``."""

    def __init__(self, python: str = sys.executable, port: int = 8888, workers: int = 2, extra: list[str] = (),
                 reinstall: bool = False):
        self.python, self.port, self.workers, self.extra = python, port, workers, list(extra)
        self.reinstall = reinstall
        self.py = str(venv_python())
        self.steps: list[Step] = []
        self._done: set[str] = set()
        self._installed = self._installed_dev = False

    def pip(self, *args: str) -> Step:
        return command(self.py, "-m", "pip", "--disable-pip-version-check", "-q", *args)

    def plan(self, name: str) -> list[Step]:
        getattr(self, "do_" + name.replace("-", "_"))()
        return self.steps

    def _once(self, name: str) -> bool:
        if name in self._done:
            return False
        self._done.add(name)
        return True

    # set-up ------------------------------------------------------------------------------------------------
    def do_venv(self) -> None:
        if not self._once("venv"):
            return
        created = not venv_python().exists()
        if created:
            self.steps.append(command(self.python, "-m", "venv", str(VENV)))
        if created or self.reinstall or stale(STAMP, REQUIREMENTS, PYPROJECT):
            self.steps += [self.pip("install", "-r", str(REQUIREMENTS)),
                           self.pip("install", "--no-deps", "--no-build-isolation", "-e", "."),
                           _touch(STAMP)]
            self._installed = True

    def do_dev(self) -> None:
        self.do_venv()
        if not self._once("dev"):
            return
        if self._installed or stale(STAMP_DEV, REQUIREMENTS_DEV, STAMP):
            self.steps += [self.pip("install", "-r", str(REQUIREMENTS_DEV)), _touch(STAMP_DEV)]

    def do_loopback(self) -> None:
        # With the network cut (`unshare -n make test`, Linux only) the loopback interface of the new namespace starts
        # down, and Jupyter kernels and JupyterLab talk over 127.0.0.1: bring it up when we may.
        if self._once("loopback") and has_loopback_tool():
            self.steps.append(Step("bring the loopback interface up if it is down (Linux)", action=loopback_up))

    def do_clean_venv(self) -> None:
        self.steps.append(Step(f"remove {VENV}", action=lambda: shutil.rmtree(VENV, ignore_errors=True)))

    # what learners run --------------------------------------------------------------------------------------
    def do_lab(self) -> None:
        self.do_venv()
        self.steps.append(command(self.py, "-m", "course_tools.workspace"))
        self.steps.append(command(self.py, "-m", "jupyter", "lab", "--ip=127.0.0.1", f"--port={self.port}",
                                  "--notebook-dir=my-work", *root_flag()))

    def do_progress(self) -> None:
        self.do_venv()
        self.steps.append(command(self.py, "-m", "course_tools.progress", *self.extra))

    def do_notebooks(self) -> None:
        self.do_venv()
        self.steps.append(command(self.py, "-m", "course_tools.generate"))

    def do_check_notebooks(self) -> None:
        self.do_venv()
        self.steps.append(command(self.py, "-m", "course_tools.generate", "--check"))

    def do_site(self) -> None:
        self.do_venv()
        self.steps.append(command(self.py, str(Path("site") / "build.py")))

    # tests --------------------------------------------------------------------------------------------------
    def _xdist(self) -> list[str]:
        return ["-n", str(self.workers), "--dist", "loadfile"]

    def do_test(self) -> None:
        # Unit, check, grader and browser tests; then every solution under nbval strict; then learner notebooks
        # (lax); then the solutions again on one simulated other machine (tests/portability.py --rotate).
        self.do_dev()
        self.do_loopback()
        py, x = self.py, self._xdist()
        self.steps += [
            command(py, "-m", "course_tools.generate", "--check"),
            command(py, "-m", "pytest", *x, "tests"),
            command(py, "-m", "pytest", *x, "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
                    "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "--nbval-cell-timeout=600", "solutions"),
            command(py, "-m", "pytest", *x, "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
                    "--nbval-cell-timeout=600", "notebooks"),
            command(py, "tests/portability.py", "--rotate", "--", *x, "solutions"),
        ]

    def do_test_portable(self) -> None:
        # Every solution under nbval strict on 8 simulated machines (about 8 x 4 min on 2 cores).
        self.do_dev()
        self.do_loopback()
        self.steps.append(command(self.py, "tests/portability.py", "--", *self._xdist(), "solutions"))


def loopback_up() -> None:
    """``ip link set lo up`` when ``lo`` is down; quietly nothing when we may not (as the Makefile did)."""
    try:
        shown = subprocess.run(["ip", "link", "show", "lo"], capture_output=True, text=True).stdout
        if "state DOWN" in shown:
            done = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True).returncode == 0
            if done:
                print("loopback was down: brought it up")
    except OSError:
        pass


# ------------------------------------------------------------------------------------------------ running
def run(steps: list[Step], dry_run: bool = False) -> int:
    """Run the steps in order, printing each first (like make); stop at the first that fails."""
    for step in steps:
        print(step.text, flush=True)
        if dry_run:
            continue
        if step.action is not None:
            step.action()
            continue
        argv = list(step.argv)
        if argv[0] == str(venv_python()):
            argv[0] = str(ROOT / argv[0])  # Windows resolves a relative program path against other folders
        try:
            code = subprocess.run(argv, cwd=ROOT).returncode
        except KeyboardInterrupt:  # Ctrl+C ends JupyterLab: the child got it too
            return 130
        except OSError as exc:
            print(f"course.py: cannot run {step.text}: {exc}", file=sys.stderr)
            return 1
        if code != 0 and step.check:
            print(f"course.py: this command failed (exit code {code}): {step.text}", file=sys.stderr)
            return code
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course.py", description=__doc__.splitlines()[0],
                                     epilog="\n".join(__doc__.splitlines()[2:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help=", ".join(COMMANDS))
    parser.add_argument("-n", "--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--reinstall", action="store_true", help="install the packages again even if up to date")
    parser.add_argument("--port", type=_positive, default=os.environ.get("LAB_PORT") or 8888,
                        help="JupyterLab's port (default $LAB_PORT or 8888)")
    parser.add_argument("--workers", type=_positive, default=os.environ.get("PYTEST_WORKERS") or 2,
                        help="pytest-xdist workers for the tests (default $PYTEST_WORKERS or 2)")
    return parser


def main(argv: list[str] | None = None) -> int:
    if sys.version_info < MIN_PYTHON:
        print(f"course.py: the course needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is "
              f"{sys.version.split()[0]} ({sys.executable})", file=sys.stderr)
        return 1
    argv = sys.argv[1:] if argv is None else list(argv)
    extra: list[str] = []
    if "progress" in argv:  # everything after `progress` belongs to python -m course_tools.progress
        at = argv.index("progress")
        argv, extra = argv[:at + 1], argv[at + 1:]
    args = build_parser().parse_args(argv)
    port, workers = _positive(str(args.port)), _positive(str(args.workers))  # an env value is checked here too
    os.chdir(ROOT)  # paths below are relative to the course folder, wherever the script was started from
    steps = Planner(sys.executable, port, workers, extra, args.reinstall).plan(args.command)
    return run(steps, dry_run=args.dry_run)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except argparse.ArgumentTypeError as exc:
        print(f"course.py: {exc}", file=sys.stderr)
        sys.exit(2)
