"""pytest set-up for every run in this repository, nbval's included (``pytest --nbval solutions``).

nbval starts its kernels over TCP on 127.0.0.1, unencrypted (ipykernel 7 warns about it at every start). Where the
platform has Unix sockets, its kernels here talk over IPC instead: socket files in a private temporary folder, as the
grader's kernels do (course_tools/grading/kernel.py). Nothing else about nbval changes.
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


def pytest_configure(config):
    if os.name != "posix":
        return
    try:
        import nbval.kernel as nbval_kernel
    except ImportError:  # the course's own environment (make lab) has no nbval
        return
    nbval_kernel.start_new_kernel = _ipc_kernel_starter(nbval_kernel)
