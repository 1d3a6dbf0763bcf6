"""The offline workshop kit: `course.py wheelhouse DIR`, then set-up with COURSE_WHEELHOUSE=DIR and no network.

The real kit is several GB for four platforms, so the end-to-end test runs course.py on a tiny course of its own:
wheels made here (pure-Python ones, a "binary" package with a wheel per platform but none for macOS x86-64, a
Windows-only pin behind an environment marker, a package PyPI would have only as source) and the same course.py. It
makes the kit from those local files, checks the per-platform completeness report, then installs the tiny course
from the kit into a fresh copy with the network cut (``unshare -n``, where Linux allows it) and no other package
source configured. The full four-platform download of the real pins is run by hand (docs/instructors.md, §3).
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("course_entry_wh", ROOT / "course.py")
course = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(course)

PY = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
CP = f"cp{sys.version_info.major}{sys.version_info.minor}"
# tinybin's wheels: one per kit platform except macOS x86-64, whose kit must then report it missing
BIN_TAGS = [f"{CP}-{CP}-manylinux_2_17_x86_64.manylinux2014_x86_64", f"{CP}-{CP}-macosx_11_0_arm64",
            f"{CP}-{CP}-win_amd64"]

# A PEP 517/660 build backend in a few lines of standard library: the tiny course and its source-only package need no
# setuptools, so nothing has to come from an index.
BACKEND = r'''
import base64, hashlib, pathlib, re, zipfile

def _meta():
    text = pathlib.Path("pyproject.toml").read_text()
    return re.search(r'name = "(.+)"', text).group(1), re.search(r'version = "(.+)"', text).group(1)

def _wheel(folder, files):
    name, version = _meta()
    info = f"{name}-{version}.dist-info"
    files = {**files, f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tinybackend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    digest = lambda b: base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
    record = "".join(f"{n},sha256={digest(c.encode())},{len(c.encode())}\n" for n, c in files.items())
    out = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(folder) / out, "w") as z:
        for n, c in files.items():
            z.writestr(n, c)
        z.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    return out

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, _ = _meta()
    return _wheel(wheel_directory, {f"{name}.py": pathlib.Path(f"{name}.py").read_text()})

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    name, _ = _meta()
    return _wheel(wheel_directory, {f"_{name}_editable.pth": str(pathlib.Path.cwd()) + "\n"})
'''
PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "tinybackend"\nbackend-path = ["."]\n\n' \
            '[project]\nname = "{name}"\nversion = "{version}"\n'


def write_wheel(folder: Path, name: str, version: str, tag: str = "py3-none-any", requires=()) -> Path:
    """A minimal valid wheel: one module ``name.py`` and its dist-info."""
    info = f"{name}-{version}.dist-info"
    tags = "".join(f"Tag: {t}\n" for t in _expand(tag))
    files = {f"{name}.py": f"VERSION = {version!r}\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                 + "".join(f"Requires-Dist: {r}\n" for r in requires),
             f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n{tags}"}

    def digest(data: bytes) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record = "".join(f"{n},sha256={digest(c.encode())},{len(c.encode())}\n" for n, c in files.items())
    path = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as z:
        for n, c in files.items():
            z.writestr(n, c)
        z.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    return path


def _expand(tag: str) -> list[str]:
    py, abi, platforms = tag.split("-")
    return [f"{py}-{abi}-{p}" for p in platforms.split(".")]


def write_sdist(folder: Path, name: str, version: str) -> Path:
    src = folder / f"{name}-{version}"
    src.mkdir()
    (src / "pyproject.toml").write_text(PYPROJECT.format(name=name, version=version))
    (src / "tinybackend.py").write_text(BACKEND)
    (src / f"{name}.py").write_text(f"VERSION = {version!r}\n")
    (src / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    path = folder / f"{name}-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src, arcname=src.name)
    shutil.rmtree(src)
    return path


def tiny_course(folder: Path) -> Path:
    """A course folder with course.py, pins (one Windows-only) and a package installed editable like the real one."""
    folder.mkdir()
    shutil.copy2(ROOT / "course.py", folder / "course.py")
    (folder / "requirements.txt").write_text(
        "tinya==1.0\ntinyb==2.0\ntinybin==1.0\ntinysrc==1.0\ntinywin==1.0 ; sys_platform == \"win32\"\n")
    (folder / "requirements-dev.txt").write_text("-r requirements.txt\ntinydev==0.1\n")
    (folder / "pyproject.toml").write_text(PYPROJECT.format(name="tinycourse", version="0.1"))
    (folder / "tinybackend.py").write_text(BACKEND)
    (folder / "tinycourse.py").write_text("HELLO = 'from the tiny course'\n")
    return folder


def package_sources(folder: Path) -> Path:
    """What an index would serve for the tiny course's pins, as local files."""
    folder.mkdir()
    write_wheel(folder, "tinya", "1.0")
    write_wheel(folder, "tinyb", "2.0", requires=["tinya==1.0"])
    write_wheel(folder, "tinydev", "0.1")
    write_wheel(folder, "tinywin", "1.0")
    for tag in BIN_TAGS:
        write_wheel(folder, "tinybin", "1.0", tag=tag)
    here = _this_platform_tag()
    if here and not any(here in _expand(t) for t in BIN_TAGS):  # this machine is none of the kit's platforms
        write_wheel(folder, "tinybin", "1.0", tag=here)
    write_sdist(folder, "tinysrc", "1.0")
    return folder


def _this_platform_tag() -> str | None:
    tags = pytest.importorskip("packaging.tags")
    return next((str(t) for t in tags.sys_tags() if t.interpreter == CP and t.abi == CP), None)


def pip_env(**extra: str) -> dict[str, str]:
    """The environment without any pip configuration of this machine (its indexes, find-links, constraints)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def network_cut() -> list[str]:
    """``unshare -n`` (a new network namespace with no interface up) where Linux lets us; else nothing."""
    if sys.platform.startswith("linux") and shutil.which("unshare"):
        if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
            return ["unshare", "-n"]
    return []


def run_course(folder: Path, *args: str, env: dict, prefix=()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, str(folder / "course.py"), *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)


# ------------------------------------------------------------------------------------------------ end to end
def test_kit_is_made_per_platform_and_installs_with_the_network_cut(tmp_path):
    sources = package_sources(tmp_path / "index")
    maker = tiny_course(tmp_path / "maker")
    kit = tmp_path / "kit"

    # 1. all four platforms: macOS x86-64 has no tinybin wheel, so the kit is reported incomplete there
    made = run_course(maker, "wheelhouse", str(kit), "--python-version", PY,
                      env=pip_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(sources)))
    assert made.returncode == 1, made.stdout + made.stderr
    report = made.stdout[made.stdout.index(f"{kit}: "):]
    assert "macos-x86_64   4/5 pins; no wheel for: tinybin==1.0" in report, report
    for name, count in (("linux-x86_64", 5), ("macos-arm64", 5), ("windows-amd64", 6)):
        assert f"{name:14} {count}/{count} pins\n" in report + "\n", (name, report)
    assert "tinywin==1.0" in (kit / "pins-windows-amd64.txt").read_text()
    assert "tinywin" not in (kit / "pins-linux-x86_64.txt").read_text()  # the marker holds on Windows only
    assert (kit / "tinysrc-1.0-py3-none-any.whl").is_file()  # built once from the source-only package
    assert {p.name for p in kit.glob("tinybin-*.whl")} >= {f"tinybin-1.0-{t}.whl" for t in BIN_TAGS}

    # 2. the platforms it can serve: complete, exit code 0
    again = run_course(maker, "wheelhouse", str(kit), "--python-version", PY, "--platform", "linux-x86_64",
                       "--platform", "macos-arm64", "--platform", "windows-amd64",
                       env=pip_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(sources)))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "complete: on each platform, `COURSE_WHEELHOUSE=" in again.stdout

    # 3. a learner's machine: a fresh copy of the course, the kit, no network and no other package source
    learner = tiny_course(tmp_path / "learner")
    cut = network_cut()
    if os.environ.get("CI") and sys.platform.startswith("linux"):
        assert cut, "CI runs as root on Linux: unshare -n must be available to cut the network"
    done = run_course(learner, "dev", env=pip_env(COURSE_WHEELHOUSE=str(kit)), prefix=cut)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--no-index --find-links" in done.stdout
    python = learner / course.venv_python()
    check = subprocess.run([str(python), "-c", "import tinya, tinyb, tinybin, tinysrc, tinydev, tinycourse; "
                            "print(tinyb.VERSION, tinybin.VERSION, tinycourse.HELLO)"],
                           cwd=tmp_path, capture_output=True, text=True)
    assert check.stdout.strip() == "2.0 1.0 from the tiny course", check.stderr
    no_win = subprocess.run([str(python), "-c", "import tinywin"], capture_output=True, text=True)
    assert no_win.returncode != 0  # Windows-only pin: not installed here


def test_a_missing_wheelhouse_folder_is_one_clear_line(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "course.py"), "--dry-run", "lab"], capture_output=True,
                          text=True, env={**os.environ, "COURSE_WHEELHOUSE": str(tmp_path / "nowhere")})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"course.py: COURSE_WHEELHOUSE={tmp_path / 'nowhere'} is not a folder (make one with "
        "`py course.py wheelhouse DIR`, or unset COURSE_WHEELHOUSE)"]


def test_wheelhouse_needs_its_folder_and_other_commands_take_none():
    for args, words in ((["wheelhouse"], "wheelhouse needs a folder"), (["lab", "x"], "lab takes no folder")):
        done = subprocess.run([sys.executable, str(ROOT / "course.py"), *args], capture_output=True, text=True)
        assert done.returncode == 2 and words in done.stderr.strip().splitlines()[-1], done.stderr


# ------------------------------------------------------------------------------------------------ planning
def test_set_up_installs_only_from_the_kit_when_one_is_named(tmp_path, monkeypatch):
    for name in ("requirements.txt", "requirements-dev.txt", "pyproject.toml"):
        (tmp_path / name).write_text("# test\n")
    monkeypatch.chdir(tmp_path)
    steps = [s.text for s in course.Planner(wheelhouse="/kit").plan("test")]
    pip = [s for s in steps if " pip " in s]
    assert len(pip) == 3 and all(" install --no-index --find-links /kit " in s for s in pip), pip
    assert not any("--no-index" in s.text for s in course.Planner().plan("test"))  # without a kit: as before


def test_the_kit_downloads_each_platform_with_its_own_tags(tmp_path):
    steps = course.Planner(folder=str(tmp_path), python_version="3.11.7").plan("wheelhouse")
    texts = [s.text for s in steps]
    assert any(" wheel --no-deps --wheel-dir " in t for t in texts)
    downloads = {t.split(":")[0]: t for t in texts if " download " in t}
    assert set(downloads) == set(course.PLATFORMS)
    assert "--platform=manylinux_2_28_x86_64" in downloads["linux-x86_64"]
    assert "--platform=manylinux2014_x86_64" in downloads["linux-x86_64"]
    assert "--platform=win_amd64" in downloads["windows-amd64"]
    assert "--platform=macosx_14_0_arm64" in downloads["macos-arm64"]
    for text in downloads.values():
        assert "--no-deps --only-binary=:all:" in text and "--python-version=3.11.7" in text and "--abi=cp311" in text


# ------------------------------------------------------------------------------------------------ pins and markers
@pytest.mark.parametrize("platform, extra", [("linux-x86_64", set()), ("macos-x86_64", {"appnope"}),
                                             ("macos-arm64", {"appnope"}),
                                             ("windows-amd64", {"colorama", "pywinpty"})])
def test_the_course_pins_per_platform(platform, extra):
    env = {**course.PLATFORMS[platform][1], "python_version": "3.11", "python_full_version": "3.11.7"}
    names = {pin.split("==")[0].lower() for pin in course.pins_for(ROOT / "requirements-dev.txt", env)}
    linux = {pin.split("==")[0].lower() for pin in course.pins_for(ROOT / "requirements-dev.txt",
                                                                    {**course.PLATFORMS["linux-x86_64"][1]})}
    assert names - linux == extra and {"torch", "pytest", "jupyterlab"} <= names


def test_markers_are_evaluated_for_the_target_platform():
    win, mac = course.PLATFORMS["windows-amd64"][1], course.PLATFORMS["macos-arm64"][1]
    assert course.marker_holds('sys_platform == "win32"', win) and not course.marker_holds('sys_platform == "win32"', mac)
    assert course.marker_holds("os_name == 'nt' or sys_platform == 'darwin'", mac)
    assert not course.marker_holds("(os_name == 'nt') and platform_machine != 'AMD64'", win)
    assert course.marker_holds("python_full_version >= '3.11.5'", {"python_full_version": "3.11.7"})
    assert not course.marker_holds("python_full_version >= '3.11.5'", {"python_full_version": "3.11.4"})
    for bad in ("sys_platform == win32", "__import__('os')", "extra == 'x'", "sys_platform ==="):
        with pytest.raises(ValueError, match="unsupported environment marker"):
            course.marker_holds(bad, win)


def test_a_line_that_is_not_an_exact_pin_is_refused(tmp_path):
    (tmp_path / "r.txt").write_text("numpy>=2\n")
    with pytest.raises(ValueError, match=r"r.txt:1: not an exact pin"):
        course.read_pins(tmp_path / "r.txt")


def test_course_py_examples_hold():
    import doctest
    failed, tried = doctest.testmod(course)[:2]
    assert tried >= 2 and failed == 0


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_wheelhouse_runs_course_py_with_the_folder():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    dry = subprocess.run(["make", "-n", "wheelhouse", "WHEELHOUSE=/tmp/kit-x"], cwd=ROOT, capture_output=True,
                         text=True, env=env)
    assert dry.returncode == 0, dry.stderr
    first, *rest = dry.stdout.splitlines()
    assert "course.py --dry-run" in first and first.split()[-2:] == ["wheelhouse", "/tmp/kit-x"], first
    assert rest[0] == "mkdir /tmp/kit-x" and any(line.startswith("windows-amd64: ") for line in rest)
