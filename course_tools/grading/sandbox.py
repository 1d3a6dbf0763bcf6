"""The sandbox a graded kernel runs in: resource limits, a private folder and HOME, no network where the OS allows.

The grader starts each kernel through this module (``python -m course_tools.grading.sandbox LIMITS_JSON -- KERNEL_ARGV...``),
which, before it becomes the kernel:

- joins a control group of its own where the grader runs as root (:mod:`course_tools.grading.cgroups`): memory and processes of
  the kernel and everything it starts, together;
- sets resource limits that the kernel and everything it starts inherit (:class:`Limits`): address space
  (``RLIMIT_AS``), CPU seconds per process (``RLIMIT_CPU``), size of one written file (``RLIMIT_FSIZE``), open files
  (``RLIMIT_NOFILE``) and processes of the user (``RLIMIT_NPROC``, set to what the user already runs plus a margin,
  so torch's threads still start; Linux does not enforce it for root);
- on Linux with ``unshare`` (util-linux) allowed (as root, or where unprivileged user namespaces are on), moves the
  kernel into new namespaces: a network namespace with no interface up (no network at all, not even loopback: the
  grader talks to the kernel over IPC sockets, which are files; ``--allow-network`` drops only this one); a PID
  namespace with its own /proc, whose processes all die with the kernel; and a mount namespace (:func:`_mount`) in
  which every file system is read-only, /dev holds only harmless devices, the kernel's working directory, HOME,
  TMPDIR and /dev/shm are private tmpfs of ``disk_mb``, and the solutions, private checks, submissions, the
  temporary folders and homes (:data:`COVER`: other gradings, other Jupyter servers' kernels, other users' files)
  are covered, with only the course, Python and the kernel's own folder bound back. The folders the course writes to itself (:data:`OVERLAYS`: ``data/cache``)
  get a private copy-on-write layer. The kernel then runs without any capability (not even as root), so it cannot
  undo that. :func:`isolation` says which of these this machine allows, most isolating first; where none is, the
  kernel runs with the network and the file system.

Why one long module: the sandbox is set up by one process (PID 1 of the new namespaces) in one order - limits, control
group, mounts, devices, the covered folders, dropped capabilities - and each step depends on the ones before it;
reading it top to bottom is how to check that nothing a kernel could use is left open.

The grader itself (:mod:`course_tools.grading.grader_process`) runs, as root, in a
mount namespace of its own with its folders on a private tmpfs, with a bounded address space, and non-dumpable. The
threat model, setting by setting, is in docs/instructors.md ("What the grader guarantees, and where").

>>> Limits(memory_mb=512).resource_limits()["RLIMIT_AS"]
536870912
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from course_tools.grading.cgroups import cgroup_support, join_cgroup

ROOT = Path(__file__).resolve().parents[2]
# Folders the course itself writes to while a notebook runs (the word vectors notebook 05 trains and 07 reuses):
# the kernel sees them with what they hold, and its own writes go to a private copy-on-write layer in its tmpfs
OVERLAYS = [Path(os.environ.get("COURSE_CACHE_DIR") or ROOT / "data" / "cache")]
# Folders where other people's and other programs' files live (temporary files, homes, other Jupyter servers'
# connection files and IPC sockets, other learners' work on a classroom server): the kernel sees them empty, with
# only what it needs bound back (the course, Python, its own folder)
COVER = ("/tmp", "/var/tmp", "/home", "/root", "/run/user")
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
    """One line for reports: ``"network: cut (unshare --net --pid ...); control groups: cgroup v1; ..."``."""
    options = " ".join(isolation(limits.network))
    if limits.network:
        line = "network: left on (--allow-network)" + (f"; unshare {options}" if options else "")
    else:
        line = f"network: cut (unshare {options})" if options else "network: NOT cut (unshare not available)"
    line += f"; control groups: {cgroup_support() or 'none (per-process limits only)'}"
    private = sys.platform.startswith("linux") and os.geteuid() == 0 and "--mount" in isolation()
    line += "; a private tmpfs per grading" if private else "; no private tmpfs per grading"
    if not options:
        line += " - NOT a sandbox: a submission can change files you can change (see docs/instructors.md)"
    return line


def hideable(folder) -> bool:
    """True when ``folder`` can be covered in the kernel's view without hiding the course, its Python or the
    grader's own folders (a learner's notebook in the course checkout: its folder stays visible, read-only)."""
    if not folder or not os.path.isdir(folder):
        return False
    folder = os.path.realpath(folder)
    needed = [str(ROOT), sys.prefix, sys.base_prefix, os.path.dirname(sys.executable), tempfile.gettempdir()]
    return not any(os.path.realpath(p) == folder or os.path.realpath(p).startswith(folder.rstrip("/") + "/")
                   for p in needed)


def kernel_argv(limits: Limits, kernel: list[str], workdir: str = "", box: str = "", hide=(),
                cgroup: str = "") -> list[str]:
    """The command that starts ``kernel`` (an argv list) inside the sandbox. With a mount namespace only
    ``workdir`` (where the IPC sockets are) and /dev stay writable, /proc is the PID namespace's own, ``box`` (the
    kernel's cwd, HOME and TMPDIR: its ``run``, ``home``, ``tmp``) and /dev/shm become small private tmpfs of
    ``limits.disk_mb``, and each folder of ``hide`` (the solutions, an instructor's private checks) is covered by an
    empty one. ``cgroup``: the name of the control group that limits the kernel's memory and processes together."""
    settings = {"limits": asdict(limits), "unshare": isolation(limits.network), "cgroup": cgroup,
                "mounts": {"workdir": workdir, "box": box, "disk_mb": limits.disk_mb or 0,
                           "overlays": [str(d) for d in OVERLAYS], "hide": [str(h) for h in hide if hideable(h)],
                           "cover": sorted({*COVER, tempfile.gettempdir(), _jupyter_runtime_dir()} - {""}),
                           "keep": sorted({str(ROOT), sys.prefix, sys.base_prefix, os.path.dirname(sys.executable),
                                           *map(str, OVERLAYS)})}}
    return [sys.executable, "-m", "course_tools.grading.sandbox", json.dumps(settings), "--", *kernel]


def _jupyter_runtime_dir() -> str:
    """Where Jupyter servers of this user keep their kernels' connection files (and IPC sockets)."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir
        return jupyter_runtime_dir()
    except Exception:
        return ""


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
    /proc, /dev; a /dev with only null, zero, full, random, urandom and tty; then a private tmpfs of ``disk_mb`` on
    ``box`` (with its run, home and tmp folders) and on /dev/shm, so the kernel cannot fill a real disk; the PID
    namespace's own /proc; empty folders over ``hide`` and over the grader's temporary folder ``tmp`` (all but
    ``workdir``: other gradings' folders are out of sight). Returns what was done, for the grader's report."""
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
    small_dev = _minimal_dev(libc)
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
    covered = _cover(libc, mounts.get("cover", []), [workdir, *mounts.get("keep", [])])
    return {"read_only": done, "failed": failed, "tmpfs": scratch, "overlay": layered, "proc": fresh_proc,
            "hidden": hidden, "dev": small_dev, "covered": covered}


_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def _bind_fd(libc, fd: int, target: str) -> bool:
    """Bind-mount what ``fd`` (an ``O_PATH`` descriptor opened before its folder was covered) refers to on
    ``target``, with what is mounted under it."""
    return libc.mount(f"/proc/self/fd/{fd}".encode(), target.encode(), None, _MS_BIND | _MS_REC, None) == 0


def _minimal_dev(libc) -> bool:
    """A tmpfs on /dev holding only the harmless devices (bound from the real ones), /dev/fd and the std links, and
    empty shm and pts folders: as uid 0, the kernel could otherwise open disks and other devices root owns. Left as it
    was (False) where a device cannot be bound (some user namespaces)."""
    fds = {}
    for name in _DEVICES:
        with contextlib.suppress(OSError):
            fds[name] = os.open(f"/dev/{name}", os.O_PATH)
    ok = libc.mount(b"tmpfs", b"/dev", b"tmpfs", _MS_NOSUID | _MS_NOEXEC, b"size=64k,mode=0755") == 0
    try:
        if ok:
            for name, fd in fds.items():
                open(f"/dev/{name}", "w").close()
                ok = ok and _bind_fd(libc, fd, f"/dev/{name}")
            for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                                 ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
                os.symlink(target, f"/dev/{link}")
            os.mkdir("/dev/shm")
            os.mkdir("/dev/pts")
            with open("/dev/null", "w") as f:  # a device that works: else this /dev is no good
                f.write("")
    except OSError:
        ok = False
    finally:
        for fd in fds.values():
            os.close(fd)
    if not ok:
        libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        libc.umount2(b"/dev", 2)  # MNT_DETACH: back to the real /dev
    return ok


def _cover(libc, folders, keep) -> list[str]:
    """Cover each of ``folders`` with an empty read-only tmpfs, then bind back (with what is mounted under them) the
    paths of ``keep`` that lie inside it: the kernel's own folder, the course, Python. Returns the folders covered.
    A folder inside a kept path is left as it is (covering it would hide part of what is kept).

    >>> _nested("/tmp/a/b", ["/tmp/a"]), _nested("/tmp/ab", ["/tmp/a"])
    (True, False)
    """
    keep = sorted({os.path.realpath(k) for k in keep if k and os.path.exists(k)}, key=len)
    keep = [k for i, k in enumerate(keep) if not _nested(k, keep[:i])]  # a path inside another kept one comes along
    folders = sorted({os.path.realpath(f) for f in folders if f and os.path.isdir(f)}, key=len)
    folders = [f for i, f in enumerate(folders) if not _nested(f, folders[:i]) and not _nested(f, keep)
               and f not in keep]
    fds = {k: os.open(k, os.O_PATH) for k in keep if any(_nested(k, [f]) for f in folders)}
    covered = []
    try:
        for folder in folders:
            if libc.mount(b"tmpfs", folder.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=64k,mode=0755") != 0:
                continue
            for path, fd in fds.items():
                if _nested(path, [folder]):
                    os.makedirs(path, exist_ok=True)
                    _bind_fd(libc, fd, path)
            libc.mount(None, folder.encode(), None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None)
            covered.append(folder)
    finally:
        for fd in fds.values():
            os.close(fd)
    return covered


def _nested(path: str, parents) -> bool:
    """True when ``path`` lies strictly inside one of ``parents``."""
    return any(path.startswith(p.rstrip("/") + "/") for p in parents)


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
        join_cgroup(settings["cgroup"], limits.memory_mb, limits.disk_mb, limits.extra_processes)
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
