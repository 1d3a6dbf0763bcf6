"""The sandbox a graded kernel runs in: resource limits, a private folder and HOME, no network where the OS allows.

The grader starts each kernel through this module (``python -m course_tools.grading.sandbox LIMITS_JSON -- KERNEL_ARGV...``),
which, before it becomes the kernel:

- sets resource limits that the kernel and everything it starts inherit (:class:`Limits`): address space
  (``RLIMIT_AS``), CPU seconds per process (``RLIMIT_CPU``), size of one written file (``RLIMIT_FSIZE``), open files
  (``RLIMIT_NOFILE``) and processes of the user (``RLIMIT_NPROC``, set to what the user already runs plus a margin,
  so torch's threads still start; Linux does not enforce it for root);
- on Linux with ``unshare`` (util-linux) allowed (as root, or where unprivileged user namespaces are on), moves the
  kernel into new namespaces: a network namespace with no interface up (no network at all, not even loopback: the
  grader talks to the kernel over IPC sockets, which are files); a PID namespace whose processes all die with the
  kernel (a process the learner forks and detaches cannot outlive the grading); and a mount namespace in which
  every file system is read-only (not /proc, /sys, /dev) and the kernel's working directory, HOME, TMPDIR and
  /dev/shm are private tmpfs of ``disk_mb``, so a submission can neither change the course checkout, the checks,
  the virtual environment or other submissions, nor fill a disk. The folders the course writes to itself
  (:data:`OVERLAYS`: ``data/cache``) get a private copy-on-write layer: read as they are, written privately. The kernel then runs without any capability (not
  even as root), so it cannot undo that. :func:`isolation` says which of these this machine allows, most
  isolating first; where none is, the kernel runs with the network and the file system.

The folders themselves (a private temporary folder per notebook) are made and set by the caller
(:mod:`course_tools.grading.kernel`). What this is not: a container. The kernel runs as your user, so it can read what
you can read; what it writes to its tmpfs uses memory that ``RLIMIT_AS`` does not count; Linux does not enforce
the process limit for root; and without namespaces the kernel can write where you can write and use the network.
Grade untrusted submissions as an unprivileged user, in a container or a throw-away account.

>>> Limits(memory_mb=512).resource_limits()["RLIMIT_AS"]
536870912
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

# Folders the course itself writes to while a notebook runs (the word vectors notebook 05 trains and 07 reuses):
# the kernel sees them with what they hold, and its own writes go to a private copy-on-write layer in its tmpfs
OVERLAYS = [Path(__file__).resolve().parents[2] / "data" / "cache"]
DEFAULT_MEMORY_MB = 4096  # torch alone maps ~1 GiB of address space; 4 GiB leaves room for every course notebook
# unshare options, most isolating first; the first one this machine accepts is used
_UNSHARE_OPTIONS = [
    ["--mount", "--net", "--pid", "--fork", "--kill-child"],           # root, or a kernel allowing it
    ["--user", "--map-root-user", "--mount", "--net", "--pid", "--fork", "--kill-child"],  # user namespaces
    ["--net", "--pid", "--fork", "--kill-child"],
    ["--net"],
    ["--user", "--map-root-user", "--net"],
]


@dataclass
class Limits:
    """Resource limits of one graded kernel (0 or None = no limit)."""
    memory_mb: int | None = DEFAULT_MEMORY_MB  # address space, MiB
    cpu_s: int | None = None                   # CPU seconds of each process (SIGXCPU kills it past that)
    file_mb: int | None = 512                  # largest file the kernel may write, MiB
    open_files: int | None = 1024
    extra_processes: int | None = 512          # processes/threads on top of what the user already runs
    disk_mb: int | None = 512                  # with a mount namespace: size of the kernel's private tmpfs
    network: bool = False                      # True: leave the network alone

    def resource_limits(self) -> dict[str, int]:
        """The ``resource.RLIMIT_*`` values to set (soft = hard), by name."""
        limits = {}
        if self.memory_mb:
            limits["RLIMIT_AS"] = self.memory_mb * 2**20
        if self.cpu_s:
            limits["RLIMIT_CPU"] = int(self.cpu_s)
        if self.file_mb:
            limits["RLIMIT_FSIZE"] = self.file_mb * 2**20
        if self.open_files:
            limits["RLIMIT_NOFILE"] = int(self.open_files)
        if self.extra_processes:
            limits["RLIMIT_NPROC"] = _user_tasks() + int(self.extra_processes)
        return limits


# ---------------------------------------------------------------------------------------------- the grader's own /tmp
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
    if folder and os.path.isdir(folder) and not os.listdir(folder) and os.path.basename(folder).startswith("course-grader-"):
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
    folder = tempfile.mkdtemp(prefix="course-grader-")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stop is for the grader below: wait for it, then clean up
    try:
        code = subprocess.call([*prefix, sys.executable, *python_args], env=dict(os.environ, **{_PRIVATE_FLAG: folder}),
                               pass_fds=tuple(keep_fds), preexec_fn=lambda: signal.signal(signal.SIGTERM,
                                                                                          signal.SIG_DFL))
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    sys.exit(code)


# ---------------------------------------------------------------------------------------------- control groups
# RLIMIT_AS and RLIMIT_NPROC hold per process (and NPROC not at all for root); a control group holds for the kernel
# and everything it starts, together. cgroup v2 where its memory and pids controllers are on, else v1's hierarchies.
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


def join_cgroup(name: str, limits: Limits) -> bool:
    """Make control group ``name`` with the kernel's memory (address space + its tmpfs) and process limits, and move
    this process into it (everything it starts stays there). False where that cannot be done."""
    if not cgroup_support():
        return False
    values = {"memory": str(((limits.memory_mb or 0) + 2 * (limits.disk_mb or 0)) * 2**20) if limits.memory_mb else "",
              "pids": str(limits.extra_processes) if limits.extra_processes else ""}
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
                    import time
                    time.sleep(0.1)
        except OSError:
            continue


def _user_tasks() -> int:
    """Threads the current user runs now (RLIMIT_NPROC counts them all, not just the kernel's)."""
    uid, count = os.getuid(), 0
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 4096
    for pid in pids:
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return count


def isolation(network: bool = False) -> list[str]:
    """The ``unshare`` options this machine accepts (tried once with ``true``), or [] when none works.
    ``network=True`` (``--allow-network``) leaves out only the network namespace: every other one is kept."""
    options = _isolation()
    return [o for o in options if o != "--net"] if network else options


@functools.lru_cache(maxsize=1)
def _isolation() -> list[str]:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return []
    for options in _UNSHARE_OPTIONS:
        try:
            if subprocess.run(["unshare", *options, "true"], capture_output=True, timeout=10).returncode == 0:
                return options
        except (OSError, subprocess.SubprocessError):
            continue
    return []


def describe(limits: Limits) -> str:
    """One line for reports: ``"network: cut (unshare --net --pid ...)"``."""
    options = " ".join(isolation(limits.network))
    if limits.network:
        return "network: left on (--allow-network)" + (f"; unshare {options}" if options else "")
    return f"network: cut (unshare {options})" if options else "network: NOT cut (unshare not available)"


def kernel_argv(limits: Limits, kernel: list[str], workdir: str = "", box: str = "", hide=(),
                cgroup: str = "") -> list[str]:
    """The command that starts ``kernel`` (an argv list) inside the sandbox. With a mount namespace only
    ``workdir`` (where the IPC sockets are) and /dev stay writable, /proc is the PID namespace's own, ``box`` (the
    kernel's cwd, HOME and TMPDIR: its ``run``, ``home``, ``tmp``) and /dev/shm become small private tmpfs of
    ``limits.disk_mb``, and each folder of ``hide`` (the solutions, an instructor's private checks) is covered by an
    empty one. ``cgroup``: the name of the control group that limits the kernel's memory and processes together."""
    settings = {"limits": asdict(limits), "unshare": isolation(limits.network), "cgroup": cgroup,
                "mounts": {"workdir": workdir, "box": box, "disk_mb": limits.disk_mb or 0,
                           "overlays": [str(d) for d in OVERLAYS], "hide": [str(h) for h in hide]}}
    return [sys.executable, "-m", "course_tools.grading.sandbox", json.dumps(settings), "--", *kernel]


def _apply_limits(limits: Limits) -> None:
    import resource

    for name, value in limits.resource_limits().items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        # CPU: SIGXCPU at the soft limit (reported as such), SIGKILL at the hard one if the learner ignores it
        hard_value = value + 5 if name == "RLIMIT_CPU" else value
        if hard != resource.RLIM_INFINITY:
            hard_value = min(hard_value, hard)
        try:
            resource.setrlimit(which, (value, hard_value))
        except (ValueError, OSError):  # e.g. a hard limit already lower: keep it
            pass


def _init(mounts: dict, argv: list[str]) -> int:
    """PID 1 of the new namespaces: set up the file system (:func:`_mount`, when we have a mount namespace), start
    the kernel without any capability, reap orphans, and exit with the kernel's status (a signal N as 128 + N). The
    kernel is not PID 1 itself, as PID 1 ignores signals it has no handler for (SIGTERM, a learner's
    ``os.kill(os.getpid(), 9)``). When the grader that started us is gone, the kernel goes too: the grader is
    watched through a pidfd opened before the namespaces were made (this namespace's /proc does not show it)."""
    import select
    import time

    signal.signal(signal.SIGINT, lambda *_: None)  # interrupts are for the kernel (same process group), not for us
    grader = mounts.pop("grader_fd", None)
    if mounts.get("workdir"):
        report = _mount(mounts)
        with open(os.path.join(mounts["workdir"], ".sandbox.json"), "w") as f:
            json.dump(report, f)
        os.chdir(os.getcwd())  # the working directory was resolved before the mounts: through them now
    # ipykernel polls its parent and quits when that is PID 1 (it thinks it was orphaned): here PID 1 is us
    child = subprocess.Popen(argv, env=dict(os.environ, JPY_PARENT_PID="1"), preexec_fn=_drop_capabilities)
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 1
        if pid == child.pid:
            return os.waitstatus_to_exitcode(status) if status & 0x7F == 0 else 128 + (status & 0x7F)
        if pid == 0:
            if grader is not None and select.select([grader], [], [], 0)[0]:  # readable: the grader exited
                child.kill()
                grader = None
            time.sleep(0.2)


def _mount(mounts: dict) -> dict:
    """In our own mount namespace: every mount point read-only except ``workdir`` (bound onto itself first) and
    /proc, /sys, /dev; then a private tmpfs of ``disk_mb`` on ``box`` (with its run, home and tmp folders) and on
    /dev/shm, so the kernel cannot fill a real disk. Returns what was done, for the grader's report."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    workdir = os.path.realpath(mounts["workdir"])
    libc.mount(workdir.encode(), workdir.encode(), None, _MS_BIND | _MS_REC, None)
    overlays = []
    for folder in mounts.get("overlays", []):
        try:
            os.makedirs(folder, exist_ok=True)  # on the real disk, before it turns read-only: an empty cache folder
            overlays.append(os.path.realpath(folder))
        except OSError:
            pass
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            points.append(line.split()[4].encode().decode("unicode_escape"))  # spaces are written as \040
    done, failed = 0, []
    for point in sorted(set(points), key=len):
        inside = lambda root: point == root or point.startswith(root.rstrip("/") + "/")  # noqa: E731
        if any(inside(root) for root in (*_LEAVE, workdir)):
            continue
        try:
            flags = os.statvfs(point).f_flag & _KEEP_FLAGS
        except OSError:
            continue
        if libc.mount(None, point.encode(), None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | flags, None) == 0:
            done += 1
        else:
            failed.append(point)
    scratch = []
    size = f"size={int(mounts.get('disk_mb') or 512)}m,mode=0755".encode()
    for target in filter(None, [mounts.get("box"), "/dev/shm"]):
        if os.path.isdir(target) and libc.mount(b"tmpfs", target.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                                                size) == 0:
            scratch.append(target)
    if mounts.get("box"):
        for name in ("run", "home", "tmp"):
            os.makedirs(os.path.join(mounts["box"], name), exist_ok=True)
    # this PID namespace's own /proc: the kernel sees its own processes only, not the grader's (whose open files
    # under /proc/PID/fd would be its output channel) nor other submissions' kernels
    fresh_proc = libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None) == 0
    hidden = []
    for folder in mounts.get("hide", []):
        if os.path.isdir(folder) and libc.mount(b"tmpfs", folder.encode(), b"tmpfs",
                                                _MS_NOSUID | _MS_NODEV | _MS_RDONLY, b"size=16k,mode=0555") == 0:
            hidden.append(folder)
    layered = []
    for k, folder in enumerate(overlays if mounts.get("box") in scratch else []):
        upper, work = (os.path.join(mounts["box"], ".overlay", f"{k}-{n}") for n in ("upper", "work"))
        os.makedirs(upper, exist_ok=True)
        os.makedirs(work, exist_ok=True)
        for extra in ("", ",userxattr"):  # userxattr: what a user namespace needs
            options = f"lowerdir={folder},upperdir={upper},workdir={work}{extra}".encode()
            if libc.mount(b"overlay", folder.encode(), b"overlay", 0, options) == 0:
                layered.append(folder)
                break
    return {"read_only": done, "failed": failed, "tmpfs": scratch, "overlay": layered, "proc": fresh_proc,
            "hidden": hidden}


_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT, _MS_BIND, _MS_REC = 1, 2, 4, 8, 32, 4096, 16384
_KEEP_FLAGS = 2 | 4 | 8 | 1024 | 2048 | 4096  # nosuid, nodev, noexec, noatime, nodiratime, relatime (statvfs = MS_)
_LEAVE = ("/proc", "/dev")  # /sys is made read-only like the rest


def _drop_capabilities() -> None:
    """In the kernel's process, before it starts: no capability can come back (even as root), no setuid gain."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, pr_cap_ambient, pr_cap_ambient_clear_all, pr_set_no_new_privs = 24, 47, 4, 38
    try:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):
        libc.prctl(pr_capbset_drop, cap, 0, 0, 0)
    libc.prctl(pr_cap_ambient, pr_cap_ambient_clear_all, 0, 0, 0)
    libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--init"]:
        return _init(json.loads(argv[1]), argv[3:])  # ["--init", MOUNTS, "--", kernel...]
    settings = json.loads(argv[0])
    kernel = argv[2:]
    limits = Limits(**settings["limits"])
    if settings.get("cgroup"):
        join_cgroup(settings["cgroup"], limits)
    _apply_limits(limits)
    options = settings["unshare"]
    if "--pid" in options:
        mounts = settings.get("mounts", {}) if "--mount" in options else {}
        try:  # our parent is the grader: its pidfd tells the namespace's init when it is gone
            grader = os.pidfd_open(os.getppid())
            os.set_inheritable(grader, True)
            mounts = dict(mounts, grader_fd=grader)
        except (AttributeError, OSError):
            pass
        command = ["unshare", *options, sys.executable, "-m", "course_tools.grading.sandbox", "--init",
                   json.dumps(mounts), "--", *kernel]
    elif options:
        command = ["unshare", *options, *kernel]
    else:
        command = kernel
    os.execvp(command[0], command)  # the grader's pidfd stays open across exec: unshare and init inherit it
    return 127  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main())
