"""Embedding lookup: indexing vs one-hot matmul, against torch's own embedding op (notebook 04, section 3).

For a 30,522 x 384 table (MiniLM's size) and batches of n token ids, time
  - ``utils.embedding.lookup``            (ours, indexing ``E[ids]``)
  - ``utils.embedding.lookup_via_one_hot`` (ours, ``one_hot(ids) @ E``)
  - ``torch.nn.functional.embedding``    (the reference library: what nn.Embedding calls)
and report the extra memory each needs (the one-hot matrix is n x V floats). Same input, same run.

    .venv/bin/python benchmarks/bench_embedding.py [--sizes 64 512 2048] [--device cpu|cuda]

Timings are the best of several repeats of the mean over many back-to-back calls. Offline; about 15-60 s on 2 cores (longer when the machine is busy).
"""
from __future__ import annotations

import argparse
import platform
import time

import torch

from utils import embedding as emb_ref

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table

V, D = 30_522, 384


def best_time(fn, device: str, budget_s: float = 0.5, repeats: int = 5) -> float:
    """Best mean seconds per call: calls are batched so one measurement lasts about budget_s / repeats."""
    fn()                                                   # warm-up (allocations, thread pools, kernels)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, min(10_000, int(budget_s / repeats / one)))
    best = float("inf")
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024], help="token ids per batch")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(describe(args.threads or None))
    E = torch.randn(V, D, device=args.device)                 # (V, D)
    print(f"table {V:,} x {D} fp32 on {args.device}; torch {torch.__version__}; {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads")
    header = (f"{'n ids':>6} | {'index (ours)':>13} | {'F.embedding (torch)':>19} | {'one-hot matmul (ours)':>21} | "
              f"{'matmul / index':>14} | {'one-hot extra memory':>20}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        ids = torch.randint(0, V, (n,), device=args.device)   # (n,)
        assert torch.equal(emb_ref.lookup(E, ids), torch.nn.functional.embedding(ids, E))
        assert torch.allclose(emb_ref.lookup_via_one_hot(E, ids), emb_ref.lookup(E, ids))
        t_idx = best_time(lambda: emb_ref.lookup(E, ids), args.device)
        t_ref = best_time(lambda: torch.nn.functional.embedding(ids, E), args.device)
        t_mm = best_time(lambda: emb_ref.lookup_via_one_hot(E, ids), args.device, budget_s=1.0, repeats=3)
        extra_mb = n * V * 4 / 1e6                              # the (n, V) fp32 one-hot matrix
        print(f"{n:6d} | {t_idx * 1e6:10.1f} µs | {t_ref * 1e6:16.1f} µs | {t_mm * 1e3:18.2f} ms | "
              f"{t_mm / t_idx:13,.0f}x | {extra_mb:17.1f} MB")
    print("index and F.embedding return identical tensors; the one-hot matmul matches them (allclose) but multiplies "
          f"{V:,} times more numbers than it keeps.")


if __name__ == "__main__":
    main()
