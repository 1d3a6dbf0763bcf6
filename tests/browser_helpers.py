"""Shared plumbing for the real-browser tests (tests/test_browser.py, tests/test_browser_learner.py).

- ``chromium_or_skip()``: the Debian Chromium binary, or a skip with the reason; with ``COURSE_REQUIRE_BROWSER=1``
  (set by ``.ci/run``) a missing browser is a failure instead, so CI can never pass by skipping.
- ``launch(playwright)``: headless Chromium with the flags that keep it from phoning home.
- ``lab_server(...)``: a throw-away JupyterLab on 127.0.0.1 with its own config/runtime/settings/workspace dirs.
- ``shutdown_kernels(page, base)``: stop the kernels a finished notebook test left running in that server.
- ``static_server(folder)``: a plain HTTP server on 127.0.0.1 for the built site.
- ``NetworkLog``: records every request, failed request, off-machine request, page error and console error of a page.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def browser_required() -> bool:
    """True under CI (``COURSE_REQUIRE_BROWSER=1``): a missing browser must fail the run, not skip it."""
    return os.environ.get("COURSE_REQUIRE_BROWSER", "") not in ("", "0")


def chromium_or_skip() -> str:
    """Path of the Chromium to drive; skips (or fails under COURSE_REQUIRE_BROWSER=1) when there is none."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "the Python package 'playwright' is not installed (pip install -r requirements-dev.txt)"
    override = os.environ.get("COURSE_CHROMIUM")
    if override:
        path = override if Path(override).is_file() else None
        missing = f"COURSE_CHROMIUM={override} is not a file"
    else:
        path = next((p for p in CHROMIUM_CANDIDATES if Path(p).is_file()), None) or shutil.which("chromium")
        missing = "no Chromium found (looked for " + ", ".join(CHROMIUM_CANDIDATES) + " and `chromium` on PATH)"
    if problem is None and path is None:
        problem = f"{missing}; install it with `apt-get install -y chromium` or set COURSE_CHROMIUM=/path/to/chrome"
    if problem:
        if browser_required():
            pytest.fail(f"COURSE_REQUIRE_BROWSER=1 but {problem}", pytrace=False)
        pytest.skip(f"browser test skipped: {problem}")
    return path


def launch(playwright, executable: str):
    """Headless Chromium; never the browser playwright would download (`playwright install` is not used)."""
    return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def artifact(name: str) -> Path:
    """Path under test-artifacts/browser/ (git-ignored) for a screenshot or log."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def _wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"server exited with code {proc.returncode} before answering {url}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"no answer from {url} within {timeout:.0f} s")


@contextlib.contextmanager
def lab_server(tmp: Path):
    """Run JupyterLab on 127.0.0.1 (free port) serving ``tmp/root``; yields ``(base_url, root_dir)``.

    Everything JupyterLab writes (config, runtime files, user settings, workspaces) goes under ``tmp``; the token is
    empty because only this test talks to it; news and update checks are switched off so no request leaves the host.
    """
    root = tmp / "root"
    dirs = {name: tmp / name for name in ("config", "runtime", "settings", "workspaces")}
    if os.name == "posix":  # kernels over IPC sockets (not TCP): their paths must be short, so not under tmp
        dirs["runtime"] = Path(tempfile.mkdtemp(prefix="lab-"))
    for d in [root, *dirs.values()]:
        d.mkdir(parents=True, exist_ok=True)
    notification = dirs["settings"] / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
               JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]), JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
               MPLBACKEND="module://matplotlib_inline.backend_inline", PYDEVD_DISABLE_FILE_VALIDATION="1")
    env.pop("JUPYTER_TOKEN", None)
    port = free_port()
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}", "--IdentityProvider.token=",
           "--ServerApp.password=", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
           "--ServerApp.terminals_enabled=False"]
    if os.name == "posix":  # the socket files: <runtime>/k-1, k-2... (a relative default would land in the cwd)
        cmd += ["--KernelManager.transport=ipc", f"--KernelManager.ip={dirs['runtime']}/k"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI runs as root; JupyterLab refuses that without this flag
    log = tmp / "jupyterlab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/api/status", timeout=90, proc=proc, log=log)
        yield base, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(OSError):
            shutil.copy(log, artifact("jupyterlab.log"))
        if not str(dirs["runtime"]).startswith(str(tmp)):
            shutil.rmtree(dirs["runtime"], ignore_errors=True)


def shutdown_kernels(page, base: str) -> int:
    """Shut down the kernels a finished notebook test left running (else one per notebook piles up in the server).

    Done through the page's own JupyterLab app, which holds the server's XSRF cookie (a bare REST DELETE is refused
    with 403); returns how many kernels are still running afterwards (GET needs no cookie).
    """
    with contextlib.suppress(Exception):
        page.evaluate("""async () => {
          const app = window.jupyterapp;
          if (!app) return;
          await app.serviceManager.sessions.shutdownAll();
          await app.serviceManager.kernels.shutdownAll();
        }""")
    with urllib.request.urlopen(f"{base}/api/kernels", timeout=10) as response:
        return len(json.load(response))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@contextlib.contextmanager
def static_server(folder: Path):
    """Serve ``folder`` over http://127.0.0.1:PORT/ from a background thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def is_local(url: str) -> bool:
    """Requests the site may make: files, inline data, and the test's own server on 127.0.0.1."""
    parsed = urlparse(url)
    if parsed.scheme in ("file", "data", "blob", "about", "chrome-error"):
        return True
    return parsed.scheme in ("http", "https") and parsed.hostname in ("127.0.0.1", "localhost")


class NetworkLog:
    """Attach to a playwright page; collects what must stay empty for an offline page."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.offsite: list[str] = []
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        page.on("request", self._on_request)
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        page.on("response", self._on_response)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))

    def _on_request(self, request):
        self.requests.append(request.url)
        if not is_local(request.url):
            self.offsite.append(request.url)

    def _on_response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.url} (HTTP {response.status})")
