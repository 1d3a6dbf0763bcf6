"""The grading process's own protection from the notebook it grades (the kernel's is :mod:`course_tools.grading.sandbox`):
its folders on a private tmpfs in a mount namespace of its own (as root), a bounded address space, and a process
that others of the same user cannot open through /proc. Called by the command line (:mod:`course_tools.grading.cli`)
before it grades.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys

from course_tools.grading.sandbox import _MS_NODEV, _MS_NOSUID, isolation

PRIVATE_TMP_MB = 1024  # the grader's folders: sockets, probes (an answer is at most 256 MB) and the kernels' files
_PRIVATE_FLAG = "COURSE_GRADER_PRIVATE_TMP"


def private_tmp_prefix() -> list[str]:
    """The command prefix that runs a grader in a mount namespace of its own (root only), where it mounts a tmpfs
    for its folders (see :func:`enter_private_tmp`); [] where that cannot be done."""
    if sys.platform != "linux" or os.geteuid() != 0 or "--mount" not in isolation() or os.environ.get(_PRIVATE_FLAG):
        return []
    return ["unshare", "--mount", "--propagation", "private"]


def enter_private_tmp(python_args: list[str], keep_fds=()) -> None:
    """Give this grader a private tmpfs of :data:`PRIVATE_TMP_MB` as its temporary folder.

    The grader runs again (``python_args``: the arguments after the interpreter) in a mount namespace of its own,
    where a tmpfs is mounted on a new, empty folder of the machine's temporary folder; this process waits for it,
    exits with its status and removes the (empty) folder. There, everything the grading writes (the kernels'
    sockets, connection files and probes) is out of sight of every other grading and every other submission's
    kernel: they see an empty folder. Nothing reaches the disk, and it all goes with the namespace. Does nothing
    where namespaces are not available (and in the grader that already runs there)."""
    import ctypes
    import tempfile

    folder = os.environ.get(_PRIVATE_FLAG)
    if folder and os.path.isdir(folder) and not os.listdir(folder) and os.path.basename(folder).startswith("cg-"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        if libc.mount(b"tmpfs", folder.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                      f"size={PRIVATE_TMP_MB}m,mode=0700".encode()) == 0:
            tempfile.tempdir = folder
            os.environ["TMPDIR"] = folder
        return
    prefix = private_tmp_prefix()
    if not prefix:
        return
    folder = tempfile.mkdtemp(prefix="cg-")  # short: IPC socket paths live below it
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stop is for the grader below: wait for it, then clean up
    try:
        code = subprocess.call([*prefix, sys.executable, *python_args], env=dict(os.environ, **{_PRIVATE_FLAG: folder}),
                               pass_fds=tuple(keep_fds), preexec_fn=lambda: signal.signal(signal.SIGTERM,
                                                                                          signal.SIG_DFL))
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    sys.exit(code)


GRADER_MARGIN_MB = 4096  # the grader's own address space on top of its kernel's: torch, and answers (256 MB each)


def undumpable() -> None:
    """Make this grader process non-dumpable (Linux): a process of the same user, a kernel where no namespace could be
    made, can then no longer open its files under /proc/PID (its result pipe) nor trace it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


def cap_grader_memory(kernel_memory_mb: int | None) -> None:
    """Limit the grader's own address space to its kernel's limit plus :data:`GRADER_MARGIN_MB`, so that no answer
    can make it take the machine's memory (the kernel lowers the limit to its own when it starts). No limit when the
    kernel has none."""
    if not kernel_memory_mb or sys.platform == "win32":
        return
    import resource

    value = (kernel_memory_mb + GRADER_MARGIN_MB) * 2**20
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (value, value))
