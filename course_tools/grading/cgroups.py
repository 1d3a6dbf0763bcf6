"""Control groups for graded kernels: RLIMIT_AS and RLIMIT_NPROC hold per process (and NPROC not at all for root);
a control group holds for the kernel and everything it starts, together. cgroup v2 where its memory and pids
controllers are on, else cgroup v1's memory and pids hierarchies; nothing where the grader is not root.

The sandbox (:mod:`course_tools.grading.sandbox`) joins the group before it becomes the kernel; the kernel's owner
(:mod:`course_tools.grading.kernel`) removes it when the kernel is gone.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

_CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "course-grader"


def _cgroup_dirs(name: str) -> list[tuple[Path, dict[str, str]]]:
    """The folders of control group ``name`` and the file -> value limits each takes (without values yet)."""
    v2 = _CGROUP_ROOT / "cgroup.controllers"
    if v2.exists():
        return [(_CGROUP_ROOT / CGROUP_PARENT / name, {"memory": "memory.max", "pids": "pids.max"})]
    return [(_CGROUP_ROOT / "memory" / CGROUP_PARENT / name, {"memory": "memory.limit_in_bytes"}),
            (_CGROUP_ROOT / "pids" / CGROUP_PARENT / name, {"pids": "pids.max"})]


def cgroup_support() -> str:
    """``"cgroup v2"``, ``"cgroup v1"`` or ``""`` (no control group can be made here: not root, or none mounted)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return ""
    if (_CGROUP_ROOT / "cgroup.controllers").exists():
        controllers = (_CGROUP_ROOT / "cgroup.controllers").read_text().split()
        return "cgroup v2" if {"memory", "pids"} <= set(controllers) else ""
    return "cgroup v1" if all((_CGROUP_ROOT / c).is_dir() for c in ("memory", "pids")) else ""


def join_cgroup(name: str, memory_mb: int | None, disk_mb: int | None, processes: int | None) -> bool:
    """Make control group ``name`` with the kernel's memory (address space + its two tmpfs of ``disk_mb``) and process
    limits, and move this process into it (everything it starts stays there). False where that cannot be done."""
    if not cgroup_support():
        return False
    values = {"memory": str(((memory_mb or 0) + 2 * (disk_mb or 0)) * 2**20) if memory_mb else "",
              "pids": str(processes) if processes else ""}
    try:
        if (_CGROUP_ROOT / "cgroup.controllers").exists():
            parent = _CGROUP_ROOT / CGROUP_PARENT
            parent.mkdir(exist_ok=True)
            (_CGROUP_ROOT / "cgroup.subtree_control").write_text("+memory +pids")
            (parent / "cgroup.subtree_control").write_text("+memory +pids")
        for folder, files in _cgroup_dirs(name):
            folder.mkdir(parents=True, exist_ok=True)
            for controller, file in files.items():
                if values[controller]:
                    (folder / file).write_text(values[controller])
            (folder / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return False
    return True


def remove_cgroup(name: str) -> None:
    """Remove control group ``name`` once its processes are gone (a folder of a control group is removed with rmdir)."""
    for folder, _ in _cgroup_dirs(name):
        try:
            procs = (folder / "cgroup.procs").read_text().split()
            for pid in procs:
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        except OSError:
            continue
