"""Pairwise cosine similarity: a Python double loop vs the vectorised reference (notebook 02, section 6).

    .venv/bin/python benchmarks/bench_vectors.py              # 2,000 x 384, MiniLM's width (~1 min on 2 cores)
    .venv/bin/python benchmarks/bench_vectors.py --n 500      # quicker

All rows use the same random input in the same run. Every result is compared with scikit-learn's
``cosine_similarity`` (the reference library), so the table shows both speed and agreement. Not a test: timings
depend on the machine and on its load.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from utils import vectors as vec

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table


def pairwise_cosine_loop(X: np.ndarray) -> np.ndarray:
    """One cosine at a time with two nested Python loops (norms precomputed, so only the loop is slow)."""
    n = len(X)
    norms = [float(np.sqrt(row @ row)) for row in X]
    out = np.empty((n, n))
    for i in range(n):
        xi, ni = X[i], norms[i]
        for j in range(n):
            out[i, j] = xi @ X[j] / (ni * norms[j])
    return out


def pairwise_cosine_torch(X: torch.Tensor) -> torch.Tensor:
    X_n = X / X.norm(dim=1, keepdim=True)
    return X_n @ X_n.T


def best_time(fn, repeats: int) -> tuple[float, object]:
    """Fastest of ``repeats`` runs (the minimum is the least disturbed by other processes)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of vectors (default 2000)")
    parser.add_argument("--dim", type=int, default=384, help="vector length (default 384, as MiniLM)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the fast versions (best is kept)")
    args = parser.parse_args()

    from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

    print(describe(), flush=True)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, args.dim))                       # (n, dim) float64
    X_t = torch.from_numpy(X)

    t_ref, ref = best_time(lambda: sk_cosine(X), args.repeats)
    rows = [("scikit-learn cosine_similarity (reference)", t_ref, ref)]
    t, S = best_time(lambda: vec.pairwise_cosine(X), args.repeats)
    rows.append(("utils.vectors.pairwise_cosine (numpy)", t, S))
    t, S = best_time(lambda: pairwise_cosine_torch(X_t).numpy(), args.repeats)
    rows.append(("torch: normalise rows, one matmul", t, S))
    print(f"Python double loop over {args.n * args.n:,} pairs: running once ...", flush=True)
    t_loop, S_loop = best_time(lambda: pairwise_cosine_loop(X), 1)
    rows.append(("Python double loop (numpy dot per pair)", t_loop, S_loop))

    t_vec = rows[1][1]
    print(f"\nPairwise cosine of {args.n:,} x {args.dim} float64 vectors -> {args.n:,} x {args.n:,} matrix "
          f"(torch threads: {torch.get_num_threads()})")
    print(f"{'implementation':45s} {'time':>11s} {'vs loop':>9s} {'max |diff| vs sklearn':>22s}")
    for name, seconds, S in rows:
        shown = f"{seconds:8.3f} s " if seconds >= 1 else f"{seconds * 1000:8.2f} ms"
        print(f"{name:45s} {shown:>11s} {t_loop / seconds:8.0f}x {float(np.max(np.abs(S - ref))):22.1e}")
    print(f"\nthe vectorised reference is {t_loop / t_vec:,.0f} times faster than the loop in this run")


if __name__ == "__main__":
    main()
