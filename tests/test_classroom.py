"""The classroom server (deploy/jupyterhub/), for real: a room's JupyterHub, two learners in Chromium, the grader.

The hub is started with ``classroom.py start`` exactly as an instructor would (as root: it makes the learners'
accounts). Two learners log in with the workshop password; each gets an unprivileged account, a private home and
``my-work/`` filled by the course's workspace rules, and their JupyterLab runs as that account inside a control
group with the room's limits. Each runs notebook 00 in JupyterLab (the first learner answers exercise 0.2 first)
and saves it; ``classroom.py grade --chapter 00`` then grades both with the course's batch grader.

Skips only where it cannot run: not root on Linux, no Chromium (a failure under COURSE_REQUIRE_BROWSER=1, as in
CI), or the proxy from npm missing (`npm ci` in deploy/jupyterhub/; .ci/run installs it; a failure under CI).
"""
from __future__ import annotations

import csv
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from browser_helpers import artifact, chromium_or_skip, launch
from test_browser import _WAIT_KERNEL_JS, _run_all_in_lab

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "deploy" / "jupyterhub"
PROXY = HUB / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD, ADMIN_PASSWORD = "workshop-" + secrets.token_hex(4), secrets.token_urlsafe(33)
MEMORY_MB, PROCESSES = 3072, 300
ANSWER_02 = 'distance = abs(ord("H") - ord("W"))'


def _requirements_or_skip() -> None:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("the classroom server runs as root on Linux (it makes one account per learner)")
    if not PROXY.exists():
        problem = f"the proxy is not installed: run `npm ci` in {HUB} (needs Node.js and npm)"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {problem}; .ci/run installs it", pytrace=False)
        pytest.skip(problem)


def _three_free_ports() -> int:
    """A port P with P+1 and P+2 free too (the hub's API and the proxy's API take those)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            for offset in (1, 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            continue
    raise RuntimeError("no three consecutive free ports")


def _wait_ok(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the hub exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def room():
    """A running room: (base URL, room folder, learner names); stops the hub and removes the accounts after."""
    _requirements_or_skip()
    # not under pytest's tmp (mode 700) or a private $TMPDIR: the learners' accounts must reach their homes in it
    folder = Path(tempfile.mkdtemp(prefix="course-room-", dir="/tmp" if Path("/tmp").is_dir() else None))
    names = [f"l{secrets.token_hex(3)}a", f"l{secrets.token_hex(3)}b"]
    port = _three_free_ports()
    log = artifact("classroom_hub.log")
    env = {**os.environ, "COURSE_HUB_PASSWORD": PASSWORD, "COURSE_HUB_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, str(HUB / "classroom.py"), "start", "--room", str(folder),
                                 "--port", str(port), "--memory-mb", str(MEMORY_MB), "--processes", str(PROCESSES),
                                 "--grant-access"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ok(f"http://127.0.0.1:{port}/hub/login", proc, log)
        yield f"http://127.0.0.1:{port}", folder, names
    finally:
        proc.send_signal(signal.SIGTERM)  # the hub stops the learners' servers (cleanup_servers) and its proxy
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        for name in names:
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            subprocess.run(["userdel", "--remove", name], capture_output=True)
            for group in [Path("/sys/fs/cgroup", kind, "course-room", name) for kind in ("memory", "pids", "cpu", "")]:
                try:
                    group.rmdir()  # a control group's folder goes with rmdir once its processes are gone
                except OSError:
                    pass
        shutil.rmtree(folder, ignore_errors=True)
        for line in log.read_text(errors="replace").splitlines():  # undo --grant-access: this test's, not the room's
            if line.startswith("granted the group course-learners passage"):
                subprocess.run(["setfacl", "-x", "g:course-learners", line.rsplit(" through ", 1)[1]],
                               capture_output=True)


def _log_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/hub/login", wait_until="domcontentloaded")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{name}/lab**", timeout=180_000)  # the spawn: account, workspace, JupyterLab


def _answer(page, base: str, name: str) -> None:
    """Type the answer of exercise 0.2 into its cell, as a learner would (through JupyterLab's model)."""
    page.goto(f"{base}/user/{name}/lab/tree/00_welcome.ipynb?reset", wait_until="domcontentloaded")
    page.wait_for_function(_WAIT_KERNEL_JS, timeout=120_000, polling=250)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.context.isReady", timeout=60_000)
    changed = page.evaluate("""(answer) => {
      const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
      for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.sharedModel.getSource().startsWith('distance = ...')) { cell.sharedModel.setSource(answer); return i; }
      }
      return -1;
    }""", ANSWER_02)
    assert changed >= 0, "exercise 0.2's cell was not found in the learner's notebook"


def _save(page) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)


def _server_processes(name: str) -> list[int]:
    uid = pwd.getpwnam(name).pw_uid
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if os.stat(proc).st_uid == uid and b"jupyterhub-singleuser" in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_two_learners_run_notebook_00_in_their_own_lab_and_are_graded(room):
    base, folder, names = room
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p, executable)
        try:
            for number, name in enumerate(names):
                context = browser.new_context()  # its own cookies: a second person at another laptop
                page = context.new_page()
                _log_in(page, base, name)
                if number == 0:
                    _answer(page, base, name)
                    _save(page)
                state, seconds = _run_all_in_lab(page, f"{base}/user/{name}", "00_welcome.ipynb", f"hub_{name}")
                assert all(c["count"] for c in state["cells"]), name
                _save(page)
                page.screenshot(path=str(artifact(f"classroom_{number}.png")))
                context.close()
        finally:
            browser.close()

    learners_gid = grp.getgrnam("course-learners").gr_gid
    for name in names:
        account = pwd.getpwnam(name)
        home = Path(account.pw_dir)
        assert account.pw_uid != 0 and account.pw_gid == learners_gid and home == folder / "learners" / name
        assert home.stat().st_mode & 0o777 == 0o700 and home.stat().st_uid == account.pw_uid  # private
        mine = home / "my-work" / "00_welcome.ipynb"
        assert mine.stat().st_uid == account.pw_uid
        assert (home / "my-work" / "01_scalars_to_tensors.ipynb").exists()  # the workspace made all of them
        # JupyterLab runs as the learner, in the learner's control group with the room's limits
        pids = _server_processes(name)
        assert pids, f"no jupyterhub-singleuser process of {name}"
        cgroups = Path(f"/proc/{pids[0]}/cgroup").read_text()
        assert f"course-room/{name}" in cgroups, cgroups
        memory = next(p for p in (Path("/sys/fs/cgroup/memory/course-room") / name / "memory.limit_in_bytes",
                                  Path("/sys/fs/cgroup/course-room") / name / "memory.max") if p.exists())
        assert int(memory.read_text()) == MEMORY_MB * 2**20
        pids_max = next(p for p in (Path("/sys/fs/cgroup/pids/course-room") / name / "pids.max",
                                    Path("/sys/fs/cgroup/course-room") / name / "pids.max") if p.exists())
        assert int(pids_max.read_text()) == PROCESSES

    # the instructor grades the room with the course's batch grader
    report = folder / "report.csv"
    graded = subprocess.run([sys.executable, str(HUB / "classroom.py"), "grade", "--room", str(folder),
                             "--chapter", "00", "--out", str(report), "--workers", "2", "--timeout", "120"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    rows = list(csv.DictReader(report.open())) if report.exists() else []
    assert rows, graded.stdout + graded.stderr
    status = {(row["submission"].split("/")[0], row["exercise"]): row["status"] for row in rows}
    assert {learner for learner, _ in status} == set(names), status
    assert status[(names[0], "0.2")] == "passed", status
    assert status[(names[1], "0.2")] == "not attempted", status
    assert status[(names[0], "0.1")] == status[(names[1], "0.1")] == "not attempted", status
