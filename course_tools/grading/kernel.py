"""One graded kernel: started in its sandbox (:mod:`course_tools.grading.sandbox`), talked to over IPC sockets, run one cell
at a time with a timeout, interrupted or restarted when a cell goes wrong.

:meth:`Kernel.run` never raises for what the learner's code does; it returns a :class:`CellRun` saying how the cell
ended: ``"ok"``, ``"error"`` (an exception), ``"timeout"`` (then :meth:`Kernel.recover` interrupts the kernel, or
restarts it when the interrupt does not bring it back), or ``"died"`` (with the exit code or signal). Output is kept
up to a bound (the head and the tail of the stream text), so a cell printing gigabytes costs the grader nothing but
the reading.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from course_tools.grading.cgroups import cgroup_support, remove_cgroup
from course_tools.grading.sandbox import Limits, isolation, kernel_argv

ROOT = Path(__file__).resolve().parents[2]
HEAD_CHARS = 100_000  # stream text kept from the start of a cell's output ...
TAIL_CHARS = 20_000   # ... and from its end (a check's pass line is printed last)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
START_TIMEOUT = 60.0
IPC_PATH_MAX = 103  # a Unix socket's path: 108 bytes on Linux, 104 on macOS, with the terminating NUL
INTERRUPT_GRACE = 5.0  # seconds an interrupted cell gets to stop before the kernel is restarted


@dataclass
class CellRun:
    """How one cell ended, and what it printed (bounded)."""
    state: str = "ok"           # "ok", "error", "timeout", "died"
    stdout: str = ""            # stream text (stdout and stderr), head + tail when cut
    cut: int = 0                # characters of stream text dropped from the middle
    ename: str = ""
    evalue: str = ""
    reply: str = ""             # status of the execute_reply ("ok", "error", "aborted"; "" when none came)
    exit: str = ""              # "died": "exit code 1" / "signal SIGKILL"
    seconds: float = 0.0
    _tail: list[str] = field(default_factory=list, repr=False)

    def add_text(self, text: str) -> None:
        room = HEAD_CHARS - len(self.stdout)
        if room > 0:
            self.stdout += text[:room]
            text = text[room:]
        if text:
            self._tail.append(text)
            tail = "".join(self._tail)
            if len(tail) > TAIL_CHARS:
                self.cut += len(tail) - TAIL_CHARS
                tail = tail[-TAIL_CHARS:]
            self._tail = [tail]

    def finish(self) -> None:
        tail = "".join(self._tail)
        if self.cut:
            self.stdout += f"\n[... {self.cut} characters cut by the grader ...]\n"
        self.stdout += tail
        self._tail = []


# what the grader's environment may hold that the kernel must not inherit: Jupyter's own settings, and torch's
# compile caches (torch writes TORCHINDUCTOR_CACHE_DIR into its process's environment the first time it needs it,
# a folder in the grader's temporary folder, which the kernel sees read-only)
_NOT_INHERITED = ("JPY_", "JUPYTER_", "TORCHINDUCTOR_", "TRITON_")


def kernel_env(environ, home: Path, tmp: Path) -> dict[str, str]:
    """The kernel's environment: the grader's without :data:`_NOT_INHERITED`; HOME and the temporary folder its own.

    >>> env = kernel_env({"PATH": "/bin", "JPY_X": "1", "TORCHINDUCTOR_CACHE_DIR": "/tmp/c"}, Path("/h"), Path("/t"))
    >>> env["PATH"], env["TMPDIR"], "JPY_X" in env, "TORCHINDUCTOR_CACHE_DIR" in env
    ('/bin', '/t', False, False)
    """
    env = {k: v for k, v in environ.items() if not k.startswith(_NOT_INHERITED)}
    env.update(HOME=str(home), TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp), MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")])),
               PYDEVD_DISABLE_FILE_VALIDATION="1", PYTHONNOUSERSITE="1")
    return env


class KernelStartError(RuntimeError):
    pass


def _field(d: dict, key: str, kind: type):
    """``d[key]`` when it is a ``kind``, else an empty ``kind`` (a message field of the wrong type is ignored)."""
    value = d.get(key)
    return value if isinstance(value, kind) else kind()


def _write_new(path: Path, text: str) -> None:
    """Write a file that must not exist yet, never through a link (``O_EXCL | O_NOFOLLOW``)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


class Kernel:
    """A python3 kernel in the sandbox. ``workdir`` is the grader's own folder: the kernel never writes to it. Each
    start makes a fresh folder in it (:attr:`exchange`, a random name, made by the grader before the kernel exists)
    that holds the kernel's connection file, its IPC sockets and the probes' files, and ``exchange/box`` the folders
    the kernel may write to: ``run`` (its cwd), ``home`` (HOME), ``tmp`` (TMPDIR). Nothing the grader writes is ever
    at a path a kernel could have prepared: a kernel that plants a link for the next start finds a new folder.
    ``hide``: folders the kernel must not read (the solutions, an instructor's private checks)."""

    def __init__(self, workdir: Path, limits: Limits, *, transport: str | None = None, hide=()):
        self.workdir = Path(workdir)
        self.limits = limits
        self.transport = transport or ("ipc" if os.name == "posix" else "tcp")
        self.hide = [str(h) for h in hide if h]
        self.km = None
        self.kc = None
        self.starts = 0
        self.exchange: Path | None = None
        self.cgroup = ""
        self.start_timeout = START_TIMEOUT

    # ------------------------------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Start a kernel; waiting for it is bounded by :attr:`start_timeout` (:data:`START_TIMEOUT`, or less where
        the grader has less time left)."""
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        logging.getLogger("traitlets").setLevel(logging.ERROR)
        self.starts += 1
        exchange = Path(tempfile.mkdtemp(prefix="k", dir=self.workdir))  # new, random, made here: nothing planted
        box = exchange / "box"
        run_dir, home, tmp = (box / n for n in ("run", "home", "tmp"))
        for d in (run_dir, home, tmp):
            d.mkdir(parents=True)
        specs = Path(tempfile.mkdtemp(prefix="s", dir=self.workdir))  # the kernel never sees this one writable
        spec_dir = specs / "course-grader"
        spec_dir.mkdir()
        self.cgroup = f"k{os.getpid()}-{secrets.token_hex(4)}" if cgroup_support() else ""
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        _write_new(spec_dir / "kernel.json", json.dumps({
            "argv": kernel_argv(self.limits, kernel, str(exchange), str(box), hide=self.hide, cgroup=self.cgroup),
            "display_name": "graded", "language": "python", "interrupt_mode": "signal"}))
        self.exchange = exchange
        conn = exchange / "c.json"  # short: IPC socket paths must fit in ~100 characters
        if self.transport == "ipc" and len(str(conn)) + 12 > IPC_PATH_MAX:  # + "-ipc-NNNNNN"
            raise KernelStartError(f"the temporary folder's path is too long for the kernel's IPC sockets "
                                   f"({len(str(conn)) + 12} characters, at most {IPC_PATH_MAX}): set TMPDIR to a "
                                   f"shorter folder")
        self.km = KernelManager(kernel_name="course-grader", transport=self.transport, connection_file=str(conn),
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]))
        env = kernel_env(os.environ, home, tmp)
        try:
            # the kernel's stdout and stderr go nowhere: inherited, they would be the grader's own output, where
            # batch mode reads results (ipykernel keeps a copy of the original descriptors)
            self.km.start_kernel(env=env, cwd=str(run_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.kc = self.km.client()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=self.start_timeout)
        except Exception as exc:  # no kernel, a crash at start, a timeout
            self.close()
            text = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise KernelStartError(f"could not start a kernel: {type(exc).__name__}: {text}".rstrip(": ")) from None

    def close(self) -> None:
        """Stop the kernel and everything it started (its process group; its PID namespace when it has one)."""
        pid = self._pid()
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:
                pass
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:
                pass
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, OSError):
                pass
        if self.cgroup:
            remove_cgroup(self.cgroup)
            self.cgroup = ""
        self.km = self.kc = None

    def restart(self) -> None:
        self.close()
        self.start()

    def _process(self):
        return getattr(getattr(self.km, "provisioner", None), "process", None)

    def _pid(self) -> int | None:
        process = self._process()
        return getattr(process, "pid", None)

    def alive(self) -> bool:
        process = self._process()
        return process is not None and process.poll() is None

    def exit_description(self) -> str:
        """``"exit code 1"``, ``"signal SIGKILL"`` for a kernel that died (the sandbox reports a signal as 128+N)."""
        process = self._process()
        code = None if process is None else process.poll()
        if code is None:
            return "unknown exit"
        number = -code if code < 0 else code - 128 if code > 128 and self._init_in_between() else None
        if number:
            try:
                return f"signal {signal.Signals(number).name}"
            except ValueError:
                return f"signal {number}"
        return f"exit code {code}"

    def _init_in_between(self) -> bool:
        """True when the sandbox's init process reports the kernel's exit (a signal N as 128 + N)."""
        return "--pid" in isolation(self.limits.network)

    # ------------------------------------------------------------------------------------------ running cells
    def run(self, source: str, timeout: float) -> CellRun:
        """Run one cell; wait at most ``timeout`` seconds for it to finish."""
        result = CellRun()
        start = time.monotonic()
        try:
            msg_id = self.kc.execute(source, store_history=False, allow_stdin=False, stop_on_error=False)
        except Exception as exc:
            result.state, result.exit = "died", f"the kernel did not take the cell ({type(exc).__name__})"
            return result
        self._pending = msg_id
        result.state = self._collect(msg_id, result, start + timeout)
        result.seconds = time.monotonic() - start
        if result.state == "died":
            result.exit = self.exit_description()
        result.finish()
        return result

    def _collect(self, msg_id: str, result: CellRun, deadline: float) -> str:
        """Read the cell's output until the kernel is idle again; "ok"/"error", or "timeout"/"died"."""
        idle = False
        while not idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            try:
                msg = self.kc.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.alive():
                    return "died"
                continue
            except Exception:
                return "died" if not self.alive() else "timeout"
            # every message is the kernel's to forge (it holds the session key): read only well-formed fields
            if not isinstance(msg, dict) or _field(msg, "parent_header", dict).get("msg_id") != msg_id:
                continue
            kind, content = msg.get("msg_type"), _field(msg, "content", dict)
            if kind == "stream":
                result.add_text(_field(content, "text", str))
            elif kind in ("execute_result", "display_data"):
                result.add_text(_field(_field(content, "data", dict), "text/plain", str)[:HEAD_CHARS] + "\n")
            elif kind == "error":
                result.ename = _field(content, "ename", str)[:200]
                result.evalue = ANSI.sub("", _field(content, "evalue", str)[:20000]).strip()[:2000]
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
        result.reply = self._reply(msg_id, deadline)
        if result.ename or result.reply == "error":
            return "error"
        return "ok"

    def _reply(self, msg_id: str, deadline: float) -> str:
        """The status of the shell channel's execute_reply (sent just before the idle status)."""
        while True:
            try:
                msg = self.kc.get_shell_msg(timeout=max(0.1, min(5.0, deadline - time.monotonic())))
            except Exception:
                return ""
            if isinstance(msg, dict) and _field(msg, "parent_header", dict).get("msg_id") == msg_id:
                status = _field(msg, "content", dict).get("status")
                return status if status in ("ok", "error", "aborted") else ""

    def recover(self) -> str:
        """After a timeout: interrupt the cell; restart the kernel when that does not bring it back.
        Returns "interrupted" or "restarted"."""
        msg_id = getattr(self, "_pending", None)
        if self.alive():
            try:
                self.km.interrupt_kernel()
                if msg_id and self._collect(msg_id, CellRun(), time.monotonic() + INTERRUPT_GRACE) in ("ok", "error"):
                    return "interrupted"
            except Exception:
                pass
        self.restart()
        return "restarted"
