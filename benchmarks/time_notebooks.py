"""How long each notebook takes to run top to bottom: ``python benchmarks/time_notebooks.py [--threads 2]``.

Executes every solution notebook (and, with ``--learner``, every learner notebook) in a temporary copy with nbclient,
one after the other, and prints a table of wall-clock seconds next to the course's budget of 60 s per notebook.
The kernel start (about a second) is included, as a learner pressing "Run All" would wait for it too.
``--threads 2`` limits torch/BLAS to two threads, as on the 2-core machines the budget is set for.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 60.0


def run_notebook(path: Path, timeout: int = 600) -> float:
    """Seconds to execute ``path`` (a copy, in a temporary folder); raises if a cell fails unexpectedly."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(path, Path(tmp) / path.name)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": tmp}})
        start = time.perf_counter()
        client.execute()
        return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learner", action="store_true", help="also time the learner notebooks in notebooks/")
    parser.add_argument("--threads", type=int, default=None, help="limit torch/BLAS threads (e.g. 2)")
    args = parser.parse_args(argv)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    paths = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if args.learner:
        paths += sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'notebook':48s} {'seconds':>8s} {'budget':>7s}")
    worst = 0.0
    for path in paths:
        seconds = run_notebook(path)
        worst = max(worst, seconds)
        flag = "ok" if seconds <= BUDGET_S else "OVER"
        print(f"{path.parent.name + '/' + path.name:48s} {seconds:8.1f} {flag:>7s}", flush=True)
    print(f"slowest: {worst:.1f} s (budget {BUDGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
