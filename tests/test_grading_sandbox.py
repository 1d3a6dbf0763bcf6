"""The sandbox of a graded kernel (course_tools/grading/sandbox.py, course_tools/grading/kernel.py): IPC instead of TCP, a private
working directory and HOME, resource limits, and - where this machine lets ``unshare`` make namespaces - no network,
a read-only file system outside the private folder, and no process that outlives the kernel."""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest

from course_tools.grading.kernel import Kernel
from course_tools.grading.sandbox import Limits, describe, isolation

pytestmark = pytest.mark.slow  # starts kernels (about 15 s in all)
ROOT = Path(__file__).resolve().parent.parent
MARK = "987.654321"  # the argument of a `sleep` the kernel detaches: found in /proc while it lives


def _sleeping() -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if MARK.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    limits = Limits(memory_mb=4096, cpu_s=3, file_mb=1, open_files=256, disk_mb=8)
    k = Kernel(tmp_path_factory.mktemp("sandbox"), limits)
    k.start()
    yield k
    k.close()


def run_ok(kernel, source: str) -> str:
    run = kernel.run(source, 30)
    assert run.state == "ok", (run.ename, run.evalue, run.stdout)
    return run.stdout


def test_ipc_transport_and_private_folders(kernel):
    info = json.loads((kernel.exchange / "c.json").read_text())
    assert info["transport"] == "ipc"
    out = run_ok(kernel, "import os, tempfile\nprint(os.getcwd())\nprint(os.environ['HOME'])\n"
                         "print(tempfile.gettempdir())")
    cwd, home, tmp = out.split()
    box = kernel.exchange / "box"
    assert Path(cwd) == box / "run" and Path(home) == box / "home" and Path(tmp) == box / "tmp"
    assert run_ok(kernel, "open('answer.txt', 'w').write('ok'); print(open('answer.txt').read())").strip() == "ok"


def test_torch_compile_caches_go_to_the_kernels_own_folder(tmp_path, monkeypatch):
    # torch writes this into the grader's own environment once it has compiled something: a folder in the grader's
    # temporary folder, which the kernel sees read-only
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", os.path.join(tempfile.gettempdir(), "torchinductor_grader"))
    k = Kernel(tmp_path, Limits(memory_mb=4096, cpu_s=60, disk_mb=8))
    k.start()
    try:
        out = run_ok(k, "from torch._inductor.runtime.cache_dir_utils import cache_dir\nprint(cache_dir())")
        assert Path(out.strip()).parent == k.exchange / "box" / "tmp", out
    finally:
        k.close()


def test_resource_limits(kernel):
    out = run_ok(kernel, "import resource\nfor n in ('AS', 'CPU', 'FSIZE', 'NOFILE', 'NPROC'):\n"
                         "    print(n, resource.getrlimit(getattr(resource, 'RLIMIT_' + n)))")
    limits = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert limits["AS"] == f"({4096 * 2**20}, {4096 * 2**20})" and limits["CPU"] == "(3, 8)"
    assert limits["FSIZE"] == f"({2**20}, {2**20})" and limits["NOFILE"] == "(256, 256)"
    run = kernel.run("open('big.bin', 'wb').write(b'x' * 2**21)", 30)  # 2 MiB > the 1 MiB file limit
    assert run.state == "error" and run.ename == "OSError" and "File too large" in run.evalue


@pytest.mark.skipif("--net" not in isolation(), reason="unshare cannot make a network namespace here")
def test_no_network(kernel):
    out = run_ok(kernel, "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=2)\n"
                         "except OSError as e:\n    print(e.errno)")
    assert out.strip() == "101"  # ENETUNREACH: not even loopback is up
    assert describe(Limits()).startswith("network: cut")


@pytest.mark.skipif("--mount" not in isolation(), reason="unshare cannot make a mount namespace here")
def test_the_course_checkout_and_the_rest_are_read_only(kernel):
    probe = ROOT / "grader-sandbox-probe.txt"
    paths = f"[{str(probe)!r}, '/tmp/grader-sandbox-probe.txt', os.environ['HOME'] + '/x']"
    out = run_ok(kernel, f"import os\nfor p in {paths}:\n"
                         "    try:\n        open(p, 'w').write('x'); print('wrote')\n"
                         "    except OSError as e:\n        print(e.errno)")
    assert out.split() == ["30", "30", "wrote"]  # EROFS, EROFS, the private HOME is writable
    assert not probe.exists()
    run = kernel.run("import subprocess\nprint(subprocess.run(['mount', '-o', 'remount,rw', '/'], "
                     "capture_output=True).returncode)", 30)
    assert run.stdout.strip() not in ("", "0")  # no capability left to undo it


@pytest.mark.skipif("--mount" not in isolation(), reason="unshare cannot make a mount namespace here")
def test_other_jupyter_servers_and_other_peoples_files_are_out_of_sight(kernel):
    """A Jupyter server on the same machine keeps its kernels' connection files and IPC sockets in /tmp or under
    HOME: a graded kernel that could open them could stop those kernels (a test's JupyterLab, a teacher's own)."""
    from jupyter_core.paths import jupyter_runtime_dir

    lab = Path(tempfile.mkdtemp(prefix="lab-", dir="/tmp"))
    (lab / "kernel-1.json").write_text("{}")
    runtime = Path(jupyter_runtime_dir())
    try:
        out = run_ok(kernel, "import os, sys\n"
                             f"print(os.path.exists({str(lab)!r}), os.path.exists({str(runtime)!r}))\n"
                             f"print(os.path.isdir({str(ROOT)!r}), os.path.isdir(sys.base_prefix))")
    finally:
        (lab / "kernel-1.json").unlink()
        lab.rmdir()
    assert out.split() == ["False", "False", "True", "True"], out


@pytest.mark.skipif("--mount" not in isolation(), reason="unshare cannot make a mount namespace here")
def test_the_course_data_cache_is_copy_on_write(kernel):
    """data/cache (word vectors notebook 05 trains, 07 reuses) is readable as it is, writable, and what the kernel
    writes there stays in its private layer."""
    cache = ROOT / "data" / "cache"
    before = sorted(p.name for p in cache.iterdir())
    out = run_ok(kernel, f"import os\nprint(sorted(os.listdir({str(cache)!r})))\n"
                         f"open({str(cache / 'grader-probe.txt')!r}, 'w').write('x')\nprint('wrote')")
    assert out.splitlines() == [repr(before), "wrote"]
    assert not (cache / "grader-probe.txt").exists()


@pytest.mark.skipif("--mount" not in isolation(), reason="unshare cannot make a mount namespace here")
def test_the_disk_cannot_be_filled(kernel):
    """The kernel's folders and /dev/shm are private tmpfs of disk_mb (8 MiB here): ENOSPC, not a full disk."""
    for folder in ("'.'", "os.environ['HOME']", "'/dev/shm'"):
        out = run_ok(kernel, f"import os\nn = 0\ntry:\n    for n in range(20):\n"
                             f"        open(os.path.join({folder}, f'f{{n}}'), 'wb').write(b'x' * 2**20)\n"
                             "except OSError as e:\n    print(e.errno, n)")
        errno, written = out.split()
        assert errno == "28" and int(written) <= 8, (folder, out)  # ENOSPC
    assert not Path("/dev/shm/f0").exists()  # the machine's /dev/shm was not touched


@pytest.mark.skipif("--pid" not in isolation(), reason="unshare cannot make a PID namespace here")
def test_a_detached_process_dies_with_the_kernel(kernel):
    out = run_ok(kernel, f"import subprocess\np = subprocess.Popen(['sleep', '{MARK}'], start_new_session=True)\n"
                         "print(p.poll())")
    deadline = time.monotonic() + 10  # on a loaded machine the process can take a moment to show in /proc
    while not _sleeping() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _sleeping(), f"the detached sleep never showed up in /proc (poll() right after start: {out.strip()})"
    kernel.close()
    deadline = time.monotonic() + 10
    while _sleeping() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _sleeping()
    kernel.start()


def test_cpu_limit_kills_the_kernel(kernel):
    run = kernel.run("while True:\n    pass", 30)
    assert run.state == "died" and run.exit == "signal SIGXCPU", (run.state, run.exit)
    kernel.restart()
    assert run_ok(kernel, "print(1 + 1)").strip() == "2"
