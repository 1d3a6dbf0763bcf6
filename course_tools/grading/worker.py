"""One grading process per submission, as batch mode runs it (:mod:`course_tools.grading.batch`): started with a pipe
of its own for the result (``--result-fd``; the kernel's output never reaches it), both of its pipes read up to a
bound, stopped past its time limit, and believed only when it exits with status 0 after writing its result.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from course_tools.grading.results import NotebookResult

ROOT = Path(__file__).resolve().parents[2]

MAX_RESULT_BYTES = 16 * 2**20  # a grading process's JSON result (a few KB in practice)
MAX_STDERR_BYTES = 4096        # the tail of its stderr kept for the report


def grade_in_process(path: Path, name: str, options: list[str], limit: float) -> NotebookResult:
    """Grade one submission in its own ``python -m course_tools.grade`` process; never raises: a grader that fails or
    overruns ``limit`` seconds becomes that submission's problem.

    The result comes back on a pipe of its own (``--result-fd``), not on stdout: the kernel's output never reaches
    it, and only a grading process that exits with status 0 after writing it is believed. Both pipes are read up to
    a bound, so a flood costs the batch nothing but the reading."""
    start = time.monotonic()
    read_end, write_end = os.pipe()
    cmd = [sys.executable, "-m", "course_tools.grade", str(path), "--result-fd", str(write_end), *options]
    try:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, start_new_session=True, pass_fds=(write_end,))
    finally:
        os.close(write_end)
    result_box: dict = {}
    readers = [threading.Thread(target=_read_bounded, args=(os.fdopen(read_end, "rb"), MAX_RESULT_BYTES, result_box,
                                                            "out"), daemon=True),
               threading.Thread(target=_read_bounded, args=(proc.stderr, MAX_STDERR_BYTES, result_box, "err", True),
                                daemon=True)]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        _stop(proc)
        result = NotebookResult(name, problem=f"timed out: its grading ran longer than {limit:g} s")
    else:
        for reader in readers:
            reader.join(timeout=10)
        result = _parse_result(name, proc.returncode, result_box)
    result.path = name
    result.seconds = round(time.monotonic() - start, 2)
    return result


def _read_bounded(stream, limit: int, box: dict, key: str, tail: bool = False) -> None:
    """Read ``stream`` to its end, keeping at most ``limit`` bytes (the first ones, or with ``tail`` the last ones);
    ``box[key + "_over"]`` says whether more came."""
    kept, over = b"", False
    with stream:
        while True:
            chunk = stream.read(65536)
            if not chunk:
                break
            kept += chunk
            if len(kept) > limit:
                over = True
                kept = kept[-limit:] if tail else kept[:limit]
    box[key], box[key + "_over"] = kept, over


def _parse_result(name: str, returncode: int, box: dict) -> NotebookResult:
    """The grading process's result, or a problem that says why there is none (its exit code never is one)."""
    err = box.get("err", b"").decode("utf-8", "replace").strip().splitlines()[-1:]
    why = f"grader error (exit code {returncode}){': ' + err[0][:200] if err else ''}"
    if returncode != 0 or box.get("out_over"):
        return NotebookResult(name, problem=why if returncode != 0 else "grader error: its result was too large")
    try:
        [data] = json.loads(box.get("out", b"").decode("utf-8"))
        return NotebookResult.from_dict(data)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        return NotebookResult(name, problem=why)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM first (the grader then shuts its kernel down), SIGKILL after a few seconds."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except (ProcessLookupError, PermissionError):
            return
        except subprocess.TimeoutExpired:
            continue
