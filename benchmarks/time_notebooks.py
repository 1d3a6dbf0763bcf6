"""How long each notebook takes to run top to bottom: ``python benchmarks/time_notebooks.py [--threads 2]``.

Executes every solution notebook (and, with ``--learner``, every learner notebook) in a temporary copy with nbclient,
one after the other, and prints a table of wall-clock seconds next to the course's budget of 60 s per notebook, with
each notebook's slowest cell (the course's limit for one cell is 30 s, even on a busy machine).
The kernel start (about a second) is included, as a learner pressing "Run All" would wait for it too.
``--threads 2`` limits torch/BLAS to two threads, as on the 2-core machines the budget is set for.
``--only 10 11`` times those chapters only; ``--load 4`` keeps 4 busy processes spinning for the whole run (a machine
shared with other work: the per-cell limit must hold there too).
"""
from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 60.0


def run_notebook(path: Path, timeout: int = 600) -> tuple[float, float, int]:
    """(seconds to execute ``path``, seconds of its slowest cell, that cell's index); runs a copy in a temporary folder."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(path, Path(tmp) / path.name)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True, record_timing=True,
                                resources={"metadata": {"path": tmp}})
        start = time.perf_counter()
        client.execute()
        total = time.perf_counter() - start
    cells = [(cell_seconds(c), i) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    slowest, index = max(cells, default=(0.0, -1))
    return total, slowest, index


def cell_seconds(cell) -> float:
    """Seconds from a cell's start to its reply, from the timestamps nbclient records in its metadata."""
    t = cell.get("metadata", {}).get("execution", {})
    if "iopub.execute_input" not in t or "shell.execute_reply" not in t:
        return 0.0
    parse = datetime.datetime.fromisoformat
    return (parse(t["shell.execute_reply"].replace("Z", "+00:00"))
            - parse(t["iopub.execute_input"].replace("Z", "+00:00"))).total_seconds()


def _spin() -> None:
    os.setsid()            # a session of its own, like another program: Linux's autogroup shares the CPU by session
    while True:
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learner", action="store_true", help="also time the learner notebooks in notebooks/")
    parser.add_argument("--threads", type=int, default=None, help="limit torch/BLAS threads (e.g. 2)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NN", help="chapters to time (e.g. 10 11)")
    parser.add_argument("--load", type=int, default=0, help="busy processes to run beside the notebooks")
    args = parser.parse_args(argv)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    paths = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if args.learner:
        paths += sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.name[:2] in args.only]
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.load)]
    for p in spinners:
        p.start()
    print(describe(f"{args.threads} for torch/BLAS in each notebook" if args.threads else None))
    print(f"{args.load} busy processes beside the notebooks")
    print(f"{'notebook':48s} {'seconds':>8s} {'budget':>7s} {'slowest cell':>14s}")
    worst = 0.0
    try:
        for path in paths:
            seconds, slowest, index = run_notebook(path)
            worst = max(worst, seconds)
            flag = "ok" if seconds <= BUDGET_S else "OVER"
            print(f"{path.parent.name + '/' + path.name:48s} {seconds:8.1f} {flag:>7s} {slowest:8.1f} s [{index}]",
                  flush=True)
    finally:
        for p in spinners:
            p.terminate()
    print(f"slowest: {worst:.1f} s (budget {BUDGET_S:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
