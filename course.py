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
    classroom        a JupyterHub for a room on this Linux machine (root): installs it, then runs
                     deploy/jupyterhub/classroom.py start (arguments after it go there; see its README.md)
    wheelhouse DIR   an offline workshop kit: every pinned wheel for Linux, macOS (x86-64, arm64) and Windows in DIR;
                     then `COURSE_WHEELHOUSE=DIR make lab` (or py course.py lab) installs from DIR alone, no network
    venv / dev       only the set-up (dev: with the test tools)
    notebooks / check-notebooks / test-portable / site / clean-venv / loopback: as in the Makefile

Options: --dry-run (-n) prints the commands without running them; --reinstall installs the packages again;
--port N (default $LAB_PORT or 8888);
--workers N (default $PYTEST_WORKERS or 2); wheelhouse only: --platform NAME (repeatable; default all four),
--python-version X.Y.Z (default this Python's). Uses only the Python standard library, so it runs before any install.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(".venv")
MIN_PYTHON = (3, 10)
STAMP, STAMP_DEV, STAMP_HUB = VENV / ".installed", VENV / ".installed-dev", VENV / ".installed-hub"
HUB = Path("deploy") / "jupyterhub"  # the classroom server: its pins (also in the test tools) and its npm proxy
REQUIREMENTS, REQUIREMENTS_DEV, PYPROJECT = Path("requirements.txt"), Path("requirements-dev.txt"), Path("pyproject.toml")
COMMANDS = ("lab", "test", "progress", "venv", "dev", "notebooks", "check-notebooks", "test-portable", "site",
            "clean-venv", "loopback", "wheelhouse", "classroom")
THIS_PYTHON = ".".join(map(str, sys.version_info[:3]))  # the learners' Python a kit is for, unless told
WHEELHOUSE_ENV = "COURSE_WHEELHOUSE"  # a folder made by `course.py wheelhouse`: set-up installs from it, offline
# The platforms of a workshop kit: pip's platform tags for each (pip widens a macOS tag to the older macOS versions
# itself, not a manylinux_2_NN one, hence the list) and what environment markers see there. macOS 14 is the oldest
# macOS that torch 2.13's arm64 wheel supports.
PLATFORMS = {
    "linux-x86_64": ([f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)] + ["manylinux2014_x86_64"],
                     {"sys_platform": "linux", "os_name": "posix", "platform_system": "Linux",
                      "platform_machine": "x86_64"}),
    "macos-x86_64": (["macosx_14_0_x86_64"], {"sys_platform": "darwin", "os_name": "posix",
                                              "platform_system": "Darwin", "platform_machine": "x86_64"}),
    "macos-arm64": (["macosx_14_0_arm64"], {"sys_platform": "darwin", "os_name": "posix", "platform_system": "Darwin",
                                            "platform_machine": "arm64"}),
    "windows-amd64": (["win_amd64"], {"sys_platform": "win32", "os_name": "nt", "platform_system": "Windows",
                                      "platform_machine": "AMD64"}),
}


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


def tesseract_hint(platform: str | None = None) -> str | None:
    """None when the ``tesseract`` program is on PATH; else what to install on this platform, in a few lines.

    Notebook 12 reads scanned pages with the Tesseract OCR engine, a program pip cannot install. Without it the
    course still runs: only notebook 12's OCR cells are skipped (they say so). ``platform`` is ``sys.platform``.
    """
    if shutil.which("tesseract"):
        return None
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        how = ("winget install UB-Mannheim.TesseractOCR (or the UB Mannheim installer), then add its folder, "
               "usually C:\\Program Files\\Tesseract-OCR, to PATH and open a new terminal")
    elif platform == "darwin":
        how = "brew install tesseract"
    else:
        how = "sudo apt-get install tesseract-ocr (Debian/Ubuntu; elsewhere your package manager's tesseract)"
    return ("note: tesseract, the OCR engine of notebook 12, is not on PATH. The course runs without it; only "
            f"notebook 12's OCR section is skipped.\n      To install it: {how}")


def show(argv: list[str]) -> str:
    """A command line as the platform's shell would read it."""
    return subprocess.list2cmdline(argv) if is_windows() else shlex.join(argv)


# ------------------------------------------------------------------------------------------------ pins and markers
def marker_holds(marker: str, env: dict[str, str]) -> bool:
    """Evaluate a requirement's environment marker (PEP 508) for another platform's ``env``.

    pip evaluates markers for the machine it runs on, also when it downloads for another one (``--platform``), so
    the workshop kit evaluates them itself. Enough of PEP 508 for a lock file: ``==``, ``!=``, ``in``, ``not in``,
    ``<``, ``<=``, ``>``, ``>=`` (versions), ``and``, ``or``, parentheses.

    >>> marker_holds('sys_platform == "win32"', PLATFORMS["windows-amd64"][1])
    True
    >>> marker_holds("sys_platform == 'darwin' and python_version >= '3.11'", {"sys_platform": "darwin", "python_version": "3.11"})
    True
    """
    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in env:
            return env[node.id]
        raise ValueError(f"unsupported environment marker: {marker!r}")

    def version(text: str):
        return tuple(int(part) for part in re.findall(r"\d+", text))

    def holds(node) -> bool:
        if isinstance(node, ast.BoolOp):
            results = [holds(v) for v in node.values]
            return all(results) if isinstance(node.op, ast.And) else any(results)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right, op = value(node.left), value(node.comparators[0]), node.ops[0]
            if isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)):
                return {ast.Eq: left == right, ast.NotEq: left != right, ast.In: left in right,
                        ast.NotIn: left not in right}[type(op)]
            ordered = {ast.Lt: "__lt__", ast.LtE: "__le__", ast.Gt: "__gt__", ast.GtE: "__ge__"}.get(type(op))
            if ordered:
                return getattr(version(left), ordered)(version(right))
        raise ValueError(f"unsupported environment marker: {marker!r}")

    try:
        tree = ast.parse(marker.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"unsupported environment marker: {marker!r}") from None
    return holds(tree.body)


def read_pins(path: Path) -> list[tuple[str, str]]:
    """``[('name==version', 'marker or empty'), ...]`` of a requirements file, following ``-r other.txt``."""
    pins: list[tuple[str, str]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            pins += read_pins(path.parent / line[3:].strip())
            continue
        requirement, _, marker = line.partition(";")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+", requirement.strip()):
            raise ValueError(f"{path}:{number}: not an exact pin (name==version): {raw!r}")
        pins.append((requirement.strip(), marker.strip()))
    return pins


def included(path: Path) -> list[Path]:
    """The files a requirements file takes in with ``-r``, recursively (set-up is stale when one of them changed)."""
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        if raw.startswith("-r "):
            other = path.parent / raw[3:].split(" #")[0].strip()
            found += [other, *included(other)]
    return found


def pins_for(path: Path, env: dict[str, str]) -> list[str]:
    """The pins of ``path`` that apply on the platform whose marker values are ``env``."""
    return [pin for pin, marker in read_pins(path) if not marker or marker_holds(marker, env)]


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
                 reinstall: bool = False, wheelhouse: str | None = None, folder: str | None = None,
                 platforms: list[str] = (), python_version: str | None = None):
        self.python, self.port, self.workers, self.extra = python, port, workers, list(extra)
        self.reinstall = reinstall
        self.wheelhouse = wheelhouse  # install from this folder only (--no-index): the offline workshop kit
        self.folder, self.platforms = folder, list(platforms) or list(PLATFORMS)  # what `wheelhouse` makes
        self.python_version = python_version or THIS_PYTHON
        self.py = str(venv_python())
        self.steps: list[Step] = []
        self._done: set[str] = set()
        self._installed = self._installed_dev = False

    def pip(self, *args: str) -> Step:
        return command(self.py, "-m", "pip", "--disable-pip-version-check", "-q", *args)

    def pip_install(self, *args: str) -> Step:
        """``pip install``, from the workshop kit alone when $COURSE_WHEELHOUSE names one (nothing from the network)."""
        source = ["--no-index", "--find-links", self.wheelhouse] if self.wheelhouse else []
        return self.pip("install", *source, *args)

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
            self.steps += [self.pip_install("-r", str(REQUIREMENTS)),
                           self.pip_install("--no-deps", "--no-build-isolation", "-e", "."),
                           _touch(STAMP)]
            self._installed = True

    def do_dev(self) -> None:
        self.do_venv()
        if not self._once("dev"):
            return
        if self._installed or stale(STAMP_DEV, REQUIREMENTS_DEV, STAMP, *included(REQUIREMENTS_DEV)):
            self.steps += [self.pip_install("-r", str(REQUIREMENTS_DEV)), _touch(STAMP_DEV)]

    def do_classroom(self) -> None:
        # The hub's pins on top of the course's (the learners' servers run in this environment), the proxy from npm
        # (package-lock.json), then the room itself: deploy/jupyterhub/classroom.py start, as root.
        self.do_venv()
        pins = HUB / "requirements.txt"
        if self._installed or stale(STAMP_HUB, pins, STAMP):
            self.steps += [self.pip_install("-r", str(pins)), _touch(STAMP_HUB)]
        if not (HUB / "node_modules" / ".bin" / "configurable-http-proxy").exists():
            self.steps.append(Step(f"cd {HUB} && npm ci --no-audit --no-fund", argv=[
                shutil.which("npm") or "npm", "--prefix", str(HUB), "ci", "--no-audit", "--no-fund"]))
        self.steps.append(command(self.py, str(HUB / "classroom.py"), "start", *self.extra))

    def do_loopback(self) -> None:
        # With the network cut (`unshare -n make test`, Linux only) the loopback interface of the new namespace starts
        # down, and Jupyter kernels and JupyterLab talk over 127.0.0.1: bring it up when we may.
        if self._once("loopback") and has_loopback_tool():
            self.steps.append(Step("bring the loopback interface up if it is down (Linux)", action=loopback_up))

    def do_wheelhouse(self) -> None:
        # Only pip is needed, not the course's packages: a venv is made if there is none (it brings its own pip).
        if not venv_python().exists():
            self.steps.append(command(self.python, "-m", "venv", str(VENV)))
        folder = self.folder
        self.steps.append(Step(f"mkdir {folder}", action=lambda: Path(folder).mkdir(parents=True, exist_ok=True)))
        # This machine's wheels, and a wheel built from each pin PyPI has only as source (pure Python: every
        # platform takes it); the downloads below find them in the folder.
        self.steps.append(self.pip("wheel", "--no-deps", "--wheel-dir", folder, "-r", str(REQUIREMENTS_DEV)))
        missing: dict[str, tuple[int, list[str]]] = {}  # per platform: its number of pins, those without a wheel
        for name in self.platforms:
            self.steps.append(self._download(name, missing))
        self.steps.append(Step("check that every pin has its wheel on every platform",
                               action=lambda: report_wheelhouse(folder, self.platforms, missing)))

    def _download(self, name: str, missing: dict[str, tuple[int, list[str]]]) -> Step:
        tags, env = PLATFORMS[name]
        pins_file = Path(self.folder) / f"pins-{name}.txt"
        major, minor = self.python_version.split(".")[:2]
        argv = [self.py, "-m", "pip", "--disable-pip-version-check", "download", "--no-deps", "--only-binary=:all:",
                *[f"--platform={tag}" for tag in tags], f"--python-version={self.python_version}",
                "--implementation=cp", f"--abi=cp{major}{minor}", "--find-links", self.folder,
                "--dest", self.folder, "-r", str(pins_file)]
        env = {**env, "python_version": f"{major}.{minor}", "python_full_version": self.python_version,
               "implementation_name": "cpython", "platform_python_implementation": "CPython"}

        def action() -> int:
            pins = pins_for(REQUIREMENTS_DEV, env)
            pins_file.write_text("\n".join(pins) + "\n", encoding="utf-8")
            missing[name] = (len(pins), download_all(argv, pins_file))
            return 0
        return Step(f"{name}: {show(argv)}", action=action)

    def do_clean_venv(self) -> None:
        self.steps.append(Step(f"remove {VENV}", action=lambda: shutil.rmtree(VENV, ignore_errors=True)))

    # what learners run --------------------------------------------------------------------------------------
    def do_lab(self) -> None:
        self.do_venv()
        self.steps.append(command(self.py, "-m", "course_tools.workspace"))
        hint = tesseract_hint()
        if hint:  # a note, never a failure: only notebook 12's OCR cells need the program
            self.steps.append(Step(hint, action=lambda: 0))
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
        # Unit, check, grader and browser tests; then every solution under nbval strict; then the solutions again
        # and every learner notebook on one simulated other machine (tests/portability.py --rotate). The learner
        # notebooks carry no outputs, so nbval compares none of theirs: each cell must only run (a stub's check cell
        # is tagged raises-exception), exactly what --nbval-lax asked of them when it was a pass of its own.
        self.do_dev()
        self.do_loopback()
        py, x = self.py, self._xdist()
        self.steps += [
            command(py, "-m", "course_tools.generate", "--check"),
            command(py, "-m", "pytest", *x, "tests"),
            command(py, "-m", "pytest", *x, "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
                    "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "--nbval-cell-timeout=600", "solutions"),
            command(py, "tests/portability.py", "--rotate", "--", *x, "solutions", "notebooks"),
        ]

    def do_test_portable(self) -> None:
        # Every solution under nbval strict on 8 simulated machines (about 8 x 4 min on 2 cores).
        self.do_dev()
        self.do_loopback()
        self.steps.append(command(self.py, "tests/portability.py", "--", *self._xdist(), "solutions"))


PIP_MISSING = re.compile(r"No matching distribution found for (\S+)|Cannot install (\S+==\S+?)(?: and|,| because)")


def download_all(argv: list[str], pins_file: Path) -> list[str]:
    """Run pip's download; when a pin has no wheel for the platform, note it, drop it, download the rest.

    Returns the pins left out. pip stops at the first pin it cannot find, hence one try per missing pin.
    """
    left_out: list[str] = []
    while True:
        done = subprocess.run(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        if done.returncode == 0:
            return left_out
        found = PIP_MISSING.search(done.stderr)
        pins = pins_file.read_text(encoding="utf-8").split()
        pin = found and (found.group(1) or found.group(2))
        if pin not in pins:  # another failure (network, disk): show pip's own words
            sys.stderr.write(done.stderr)
            raise SystemExit(f"course.py: pip could not download into {argv[argv.index('--dest') + 1]} "
                             f"(exit code {done.returncode})")
        left_out.append(pin)
        pins.remove(pin)
        pins_file.write_text("\n".join(pins) + "\n", encoding="utf-8")


def report_wheelhouse(folder: str, platforms: list[str], missing: dict[str, tuple[int, list[str]]]) -> int:
    """One line per platform; exit code 1 when a pin has no wheel on some platform (the kit is incomplete there)."""
    wheels = sorted(Path(folder).glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels) / 2**20
    print(f"{folder}: {len(wheels)} wheels, {size:,.0f} MiB")
    for name in platforms:
        count, left = missing[name]
        print(f"  {name:14} {count - len(left)}/{count} pins" + (f"; no wheel for: {', '.join(left)}" if left else ""))
    if any(missing[name][1] for name in platforms):
        print("course.py: the kit is incomplete where a pin has no wheel (above)", file=sys.stderr)
        return 1
    print(f"complete: on each platform, `{WHEELHOUSE_ENV}={folder} make lab` (Windows: set {WHEELHOUSE_ENV}={folder} "
          f"then py course.py lab) installs from it without a network")
    return 0


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
    """Run the steps in order, printing each first (like make); stop at the first that fails.

    After two or more commands it prints the time each took (a CI log then shows where the time of `make test` went).
    """
    timings: list[tuple[float, str]] = []
    try:
        return _run(steps, dry_run, timings)
    finally:
        if len(timings) > 1:
            print("course.py: time per command\n" + "".join(f"  {s:7.0f} s  {text[:100]}\n" for s, text in timings)
                  + f"  {sum(s for s, _ in timings):7.0f} s  in all", flush=True)


def _run(steps: list[Step], dry_run: bool, timings: list[tuple[float, str]]) -> int:
    for step in steps:
        print(step.text, flush=True)
        if dry_run:
            continue
        if step.action is not None:
            code = step.action()
            if code:  # an action reports failure with a non-zero exit code
                return code
            continue
        argv = list(step.argv)
        if argv[0] == str(venv_python()):
            argv[0] = str(ROOT / argv[0])  # Windows resolves a relative program path against other folders
        start = time.monotonic()
        try:
            code = subprocess.run(argv, cwd=ROOT).returncode
            timings.append((time.monotonic() - start, step.text))
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
    parser.add_argument("folder", nargs="?", help="wheelhouse only: the folder to fill")
    parser.add_argument("--platform", action="append", choices=list(PLATFORMS), default=[],
                        help="wheelhouse only: a platform to download for (repeatable; default: all)")
    parser.add_argument("--python-version", type=_python_version, default=None,
                        help="wheelhouse only: the learners' Python, X.Y.Z (default: this Python's)")
    return parser


def _python_version(text: str) -> str:
    if not re.fullmatch(r"3\.\d+(\.\d+)?", text):
        raise argparse.ArgumentTypeError(f"expected a Python version like 3.11.7, got {text!r}")
    return text


def main(argv: list[str] | None = None) -> int:
    if sys.version_info < MIN_PYTHON:
        print(f"course.py: the course needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is "
              f"{sys.version.split()[0]} ({sys.executable})", file=sys.stderr)
        return 1
    argv = sys.argv[1:] if argv is None else list(argv)
    extra: list[str] = []
    for passing in ("progress", "classroom"):  # everything after these belongs to the program they run
        if passing in argv:
            at = argv.index(passing)
            argv, extra = argv[:at + 1], argv[at + 1:]
            break
    parser = build_parser()
    args = parser.parse_args(argv)
    port, workers = _positive(str(args.port)), _positive(str(args.workers))  # an env value is checked here too
    if (args.command == "wheelhouse") != (args.folder is not None):
        parser.error("wheelhouse needs a folder (py course.py wheelhouse DIR)" if args.command == "wheelhouse"
                     else f"{args.command} takes no folder ({args.folder!r})")
    folder = os.path.abspath(args.folder) if args.folder else None  # before the chdir: relative to where we are
    wheelhouse = os.environ.get(WHEELHOUSE_ENV) or None
    if wheelhouse:
        wheelhouse = os.path.abspath(wheelhouse)
        if not os.path.isdir(wheelhouse) and args.command != "wheelhouse":
            print(f"course.py: {WHEELHOUSE_ENV}={wheelhouse} is not a folder (make one with "
                  f"`py course.py wheelhouse DIR`, or unset {WHEELHOUSE_ENV})", file=sys.stderr)
            return 2
    os.chdir(ROOT)  # paths below are relative to the course folder, wherever the script was started from
    steps = Planner(sys.executable, port, workers, extra, args.reinstall, wheelhouse=wheelhouse, folder=folder,
                    platforms=args.platform, python_version=args.python_version).plan(args.command)
    return run(steps, dry_run=args.dry_run)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except argparse.ArgumentTypeError as exc:
        print(f"course.py: {exc}", file=sys.stderr)
        sys.exit(2)
