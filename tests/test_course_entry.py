"""course.py, the one implementation of `make lab` / `make test` (and of `py course.py lab|test` on Windows): the
platform logic on simulated platforms, and the steps it plans from the state of .venv. No venv is created here."""
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("course_entry", ROOT / "course.py")
course = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(course)

TEST_RECIPE = [  # the commands of `make test`, in order (after the set-up)
    ".venv/bin/python -m course_tools.generate --check",
    ".venv/bin/python -m pytest -n 2 --dist loadfile tests",
    ".venv/bin/python -m pytest -n 2 --dist loadfile -p no:cacheprovider --nbval --nbval-current-env "
    "--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 solutions",
    ".venv/bin/python tests/portability.py --rotate -- -n 2 --dist loadfile solutions notebooks",
]


def fake_os(name="posix", euid=None):
    """An ``os`` as course.py sees it on another platform (only course.py's view changes)."""
    attrs = {"name": name, "environ": os.environ}
    if euid is not None:
        attrs["geteuid"] = lambda: euid
    return SimpleNamespace(**attrs)


def simulate(monkeypatch, platform):
    if platform == "windows":
        monkeypatch.setattr(course, "os", fake_os("nt"))  # Windows has no os.geteuid
        monkeypatch.setattr(course, "sys", SimpleNamespace(platform="win32", executable=sys.executable))
    elif platform == "macos":
        monkeypatch.setattr(course, "os", fake_os("posix", euid=501))
        monkeypatch.setattr(course, "sys", SimpleNamespace(platform="darwin", executable=sys.executable))
    elif platform == "linux-root":
        monkeypatch.setattr(course, "os", fake_os("posix", euid=0))
        monkeypatch.setattr(course, "sys", SimpleNamespace(platform="linux", executable=sys.executable))
        monkeypatch.setattr(course.shutil, "which", lambda name: f"/usr/sbin/{name}")
    else:
        raise ValueError(platform)


_real_which = course.shutil.which


@pytest.fixture(autouse=True)
def tesseract_installed(monkeypatch):
    """The planned steps must not depend on this machine: tesseract counts as installed unless a test says not."""
    monkeypatch.setattr(course.shutil, "which",
                        lambda name, *a, **k: f"/usr/bin/{name}" if name == "tesseract" else _real_which(name, *a, **k))


def without_tesseract(monkeypatch):
    monkeypatch.setattr(course.shutil, "which",
                        lambda name, *a, **k: None if name == "tesseract" else _real_which(name, *a, **k))


@pytest.fixture
def course_dir(tmp_path, monkeypatch):
    """A folder with the course's requirement files and no venv; course.py's relative paths point into it."""
    for name in ("requirements.txt", "requirements-dev.txt", "pyproject.toml"):
        (tmp_path / name).write_text("# test\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_venv(folder, windows=False):
    """Pretend a venv was made and installed: its interpreter file and both stamps, newer than the requirements."""
    python = folder / course.venv_python(windows=windows)
    python.parent.mkdir(parents=True)
    python.write_text("")
    later = time.time() + 5
    for stamp in (course.STAMP, course.STAMP_DEV):
        (folder / stamp).touch()
        os.utime(folder / stamp, (later, later))


def texts(steps):
    return [s.text for s in steps]


# ------------------------------------------------------------------------------------------------ platform logic
def test_venv_interpreter_is_scripts_python_exe_on_windows_and_bin_python_elsewhere(monkeypatch):
    assert course.venv_python(Path(".venv"), windows=True).parts == (".venv", "Scripts", "python.exe")
    assert course.venv_python(Path(".venv"), windows=False).parts == (".venv", "bin", "python")
    simulate(monkeypatch, "windows")
    assert course.venv_python().parts[-2:] == ("Scripts", "python.exe")
    simulate(monkeypatch, "macos")
    assert course.venv_python().parts[-2:] == ("bin", "python")


@pytest.mark.parametrize("platform, flag", [("windows", []), ("macos", []), ("linux-root", ["--allow-root"])])
def test_allow_root_only_for_uid_0(monkeypatch, platform, flag):
    simulate(monkeypatch, platform)
    assert course.root_flag() == flag


@pytest.mark.parametrize("platform, has", [("windows", False), ("macos", False), ("linux-root", True)])
def test_loopback_step_only_on_linux(monkeypatch, platform, has):
    simulate(monkeypatch, platform)
    assert course.has_loopback_tool() is has
    steps = course.Planner(port=8888, workers=2).plan("loopback")
    assert bool(steps) is has


def test_linux_without_ip_tool_has_no_loopback_step(monkeypatch):
    simulate(monkeypatch, "linux-root")
    monkeypatch.setattr(course.shutil, "which", lambda name: None)
    assert course.Planner().plan("loopback") == []


def test_command_lines_are_quoted_for_the_platform_shell(monkeypatch):
    simulate(monkeypatch, "macos")
    assert course.show(["python", "a b", "c"]) == "python 'a b' c"
    simulate(monkeypatch, "windows")
    assert course.show(["python", "a b", "c"]) == 'python "a b" c'


# ------------------------------------------------------------------------------------------------ planned steps
def test_fresh_machine_lab_creates_venv_installs_pins_syncs_and_starts_local_lab(course_dir, monkeypatch):
    simulate(monkeypatch, "macos")
    steps = texts(course.Planner(python="python3", port=8888).plan("lab"))
    assert steps == [
        "python3 -m venv .venv",
        ".venv/bin/python -m pip --disable-pip-version-check -q install -r requirements.txt",
        ".venv/bin/python -m pip --disable-pip-version-check -q install --no-deps --no-build-isolation -e .",
        "touch .venv/.installed",
        ".venv/bin/python -m course_tools.workspace",
        ".venv/bin/python -m jupyter lab --ip=127.0.0.1 --port=8888 --notebook-dir=my-work",
    ]
    assert not any("token" in s.lower() for s in steps)  # the default (a random token) stays on


def test_windows_lab_uses_scripts_python_and_no_root_flag(course_dir, monkeypatch):
    simulate(monkeypatch, "windows")
    steps = course.Planner(python="C:/Python311/python.exe", port=9999).plan("lab")
    assert steps[0].argv == ["C:/Python311/python.exe", "-m", "venv", ".venv"]
    venv_py = str(Path(".venv") / "Scripts" / "python.exe")
    assert all(s.argv[0] == venv_py for s in steps[1:] if s.argv)
    assert steps[-1].argv[1:] == ["-m", "jupyter", "lab", "--ip=127.0.0.1", "--port=9999", "--notebook-dir=my-work"]


def test_linux_root_lab_adds_allow_root(course_dir, monkeypatch):
    simulate(monkeypatch, "linux-root")
    assert course.Planner().plan("lab")[-1].argv[-1] == "--allow-root"


def test_nothing_is_reinstalled_when_up_to_date(course_dir, monkeypatch):
    simulate(monkeypatch, "macos")
    make_venv(course_dir)
    assert texts(course.Planner().plan("lab")) == [
        ".venv/bin/python -m course_tools.workspace",
        ".venv/bin/python -m jupyter lab --ip=127.0.0.1 --port=8888 --notebook-dir=my-work"]
    assert not any("pip" in s for s in texts(course.Planner().plan("test")))


def test_changed_requirements_reinstall_like_make(course_dir, monkeypatch):
    simulate(monkeypatch, "macos")
    make_venv(course_dir)
    later = time.time() + 60
    os.utime(course_dir / "requirements.txt", (later, later))
    steps = texts(course.Planner().plan("test"))
    pip = [s for s in steps if " pip " in s]
    assert [p.split(" -q ")[1] for p in pip] == ["install -r requirements.txt",
                                                  "install --no-deps --no-build-isolation -e .",
                                                  "install -r requirements-dev.txt"]  # dev follows the course pins
    os.utime(course_dir / course.STAMP, (later + 1, later + 1))
    os.utime(course_dir / course.STAMP_DEV, (later + 1, later + 1))
    os.utime(course_dir / "requirements-dev.txt", (later + 2, later + 2))
    pip = [s for s in texts(course.Planner().plan("test")) if " pip " in s]
    assert [p.split(" -q ")[1] for p in pip] == ["install -r requirements-dev.txt"]
    assert any(" pip " in s for s in texts(course.Planner(reinstall=True).plan("lab")))


def test_test_runs_the_old_make_test_recipe_in_order(course_dir, monkeypatch):
    simulate(monkeypatch, "macos")
    make_venv(course_dir)
    assert texts(course.Planner(workers=2).plan("test")) == TEST_RECIPE
    simulate(monkeypatch, "linux-root")
    steps = texts(course.Planner(workers=2).plan("test"))
    assert "loopback" in steps[0] and steps[1:] == TEST_RECIPE  # the network-cut fix comes first, as before
    assert texts(course.Planner(workers=4).plan("test"))[2].startswith(".venv/bin/python -m pytest -n 4 ")


def test_progress_passes_its_arguments_on(course_dir, monkeypatch):
    simulate(monkeypatch, "macos")
    make_venv(course_dir)
    assert texts(course.Planner(extra=["--grade"]).plan("progress")) == [".venv/bin/python -m course_tools.progress --grade"]


# ------------------------------------------------------------------------------------------------ running
def test_run_stops_at_the_first_failing_command_and_returns_its_code(capsys):
    py = sys.executable
    steps = [course.command(py, "-c", "print('one')"), course.command(py, "-c", "raise SystemExit(3)"),
             course.command(py, "-c", "print('never')")]
    assert course.run(steps) == 3
    out = capsys.readouterr()
    assert "never" not in out.out.replace(steps[2].text, "")
    assert "failed (exit code 3)" in out.err


def test_dry_run_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "ran"
    steps = [course.Step("touch it", action=marker.touch), course.command(sys.executable, "-c", "raise SystemExit(1)")]
    assert course.run(steps, dry_run=True) == 0
    assert not marker.exists()
    assert capsys.readouterr().out.splitlines() == ["touch it", steps[1].text]


def test_too_old_python_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setattr(course, "MIN_PYTHON", (99, 0))
    assert course.main(["lab"]) == 1
    assert "needs Python 99.0 or newer" in capsys.readouterr().err


def test_bad_option_values_are_one_line_errors():
    for args in (["--port", "x", "lab"], ["--workers", "0", "test"], ["bogus"]):
        done = subprocess.run([sys.executable, str(ROOT / "course.py"), *args], capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith("course.py: error:"), args


def test_script_uses_only_the_standard_library():
    import ast
    tree = ast.parse((ROOT / "course.py").read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_dry_run_from_another_folder_plans_in_the_course_folder(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "course.py"), "--dry-run", "check-notebooks"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith("-m course_tools.generate --check")


def test_clean_venv_removes_only_the_venv_and_dry_run_keeps_it(course_dir, capsys):
    make_venv(course_dir)
    steps = course.Planner().plan("clean-venv")
    assert texts(steps) == ["remove .venv"]
    assert course.run(steps, dry_run=True) == 0 and (course_dir / ".venv").exists()
    assert course.run(steps) == 0 and not (course_dir / ".venv").exists()
    assert (course_dir / "requirements.txt").exists()


def test_run_prints_the_time_of_each_command_when_it_ran_several(capsys):
    """`make test`'s log ends with the seconds of each phase (the CI budget is watched from it)."""
    py = sys.executable
    steps = [course.command(py, "-c", "import time; time.sleep(1.1)"), course.command(py, "-c", "pass")]
    assert course.run(steps) == 0
    tail = capsys.readouterr().out.split("course.py: time per command\n")[1].splitlines()
    assert [line.split(" s  ")[1] for line in tail] == [steps[0].text, steps[1].text, "in all"]
    assert int(tail[0].split()[0]) >= 1
    assert course.run(steps[1:]) == 0 and "time per command" not in capsys.readouterr().out  # one command: no table


# ------------------------------------------------------------------------------------------------ the OCR engine
@pytest.mark.parametrize("platform, install", [
    ("linux", "sudo apt-get install tesseract-ocr"),
    ("darwin", "brew install tesseract"),
    ("win32", "winget install UB-Mannheim.TesseractOCR"),
])
def test_missing_tesseract_gives_one_platform_hint_and_lab_still_runs(course_dir, monkeypatch, capsys, platform,
                                                                      install):
    """Notebook 12's OCR engine is a program pip cannot install: `lab` says how to get it and goes on."""
    make_venv(course_dir, windows=platform == "win32")
    simulate(monkeypatch, {"linux": "linux-root", "darwin": "macos", "win32": "windows"}[platform])
    without_tesseract(monkeypatch)
    hint = course.tesseract_hint()
    assert install in hint and "notebook 12's OCR section is skipped" in hint and "runs without it" in hint
    others = {"sudo apt-get install tesseract-ocr", "brew install tesseract",
              "winget install UB-Mannheim.TesseractOCR"} - {install}
    assert not any(other in hint for other in others)          # this platform's hint only
    assert ("PATH" in hint.split("To install it:")[1]) is (platform == "win32")   # the installer does not add it
    steps = course.Planner().plan("lab")
    notes = [s for s in steps if s.text == hint]
    assert len(notes) == 1 and steps[-1].argv[1:3] == ["-m", "jupyter"]   # before JupyterLab starts, not instead
    assert course.run(notes) == 0                               # a note never fails the command
    assert install in capsys.readouterr().out


def test_installed_tesseract_adds_nothing(course_dir, monkeypatch):
    simulate(monkeypatch, "macos")
    assert course.tesseract_hint() is None
    assert not any("tesseract" in s for s in texts(course.Planner().plan("lab")))
