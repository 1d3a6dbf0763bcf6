"""pytest set-up for every run in this repository, nbval's included (``pytest --nbval solutions``).

nbval starts its kernels over TCP on 127.0.0.1, unencrypted (ipykernel 7 warns about it at every start). Where the
platform has Unix sockets, its kernels here talk over IPC instead: socket files in a private temporary folder, as the
grader's kernels do (course_tools/grading/kernel.py). Nothing else about nbval changes.

With pytest-xdist (``-n N``) every worker, and every kernel, Lab server and grader it starts, gets its share of the
CPU's threads (cores // N, at least 1) unless the thread variables are already set (tests/portability.py sets them
for its simulated machines). Without it N workers each ask torch, faiss and OpenBLAS for every core: on CI's 2 cores
with 2 workers that is 4 busy threads on 2 cores, and the solutions' nbval pass spent about 20 % more CPU time.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile


def _ipc_kernel_starter(nbval_kernel):
    def start_new_kernel(startup_timeout=60, kernel_name="python", **kwargs):
        folder = tempfile.mkdtemp(prefix="nbval-")  # short: a socket path must fit in about 100 characters
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        km = nbval_kernel.KernelManager(kernel_name=kernel_name, transport="ipc",
                                        connection_file=os.path.join(folder, "kernel.json"),
                                        kernel_spec_manager=nbval_kernel.NbvalKernelspecManager())
        km.start_kernel(**kwargs)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=startup_timeout)
        except RuntimeError:
            kc.stop_channels()
            km.shutdown_kernel()
            raise
        return km, kc

    return start_new_kernel


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def share_of_threads(workers, environ=os.environ) -> dict[str, str]:
    """The thread variables to set for ``workers`` parallel test processes: empty when any is set already or there
    are no workers.

    >>> share_of_threads(2, {}) == dict.fromkeys(THREAD_VARIABLES, str(max(1, len(os.sched_getaffinity(0)) // 2)))
    True
    >>> share_of_threads(2, {"OMP_NUM_THREADS": "2"}), share_of_threads(None, {}), share_of_threads(0, {})
    ({}, {}, {})
    """
    if not isinstance(workers, int) or workers < 1 or any(v in environ for v in THREAD_VARIABLES):
        return {}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return dict.fromkeys(THREAD_VARIABLES, str(max(1, cores // workers)))


def pytest_configure(config):
    # before xdist starts its workers (they, and what they start, inherit the environment)
    os.environ.update(share_of_threads(config.getoption("numprocesses", None)))
    if os.name != "posix":
        return
    try:
        import nbval.kernel as nbval_kernel
    except ImportError:  # the course's own environment (make lab) has no nbval
        return
    nbval_kernel.start_new_kernel = _ipc_kernel_starter(nbval_kernel)
