"""Top-10 cosine search over 100,000 x 384 vectors: exact (numpy, torch, faiss flat) vs approximate (faiss HNSW).

    .venv/bin/python benchmarks/bench_retrieval.py                    # 100,000 x 384, clustered data (~1-2 min)
    .venv/bin/python benchmarks/bench_retrieval.py --data gaussian    # the worst case for HNSW
    .venv/bin/python benchmarks/bench_retrieval.py --n 20000          # quicker

What it measures (notebook 07, section 6), for every method on the same vectors and queries in the same run:

* ms per query when queries arrive one at a time ("single") and when they come as one batch ("batched");
* build time of the index (normalising and storing the rows; for HNSW, building the graph);
* recall@10 against exact search: the share of the true 10 nearest rows that the method returns.

Data. ``clustered`` (default): points scattered around 1,000 random centres (cosine to their own centre about
0.7), a rough stand-in for real sentence embeddings, which form topical groups. ``gaussian``: independent normal
numbers, where every point is almost equally far from every other - the hardest case for a graph index like HNSW.
Queries are fresh points drawn the same way. Not a test: timings depend on the machine and on its load.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from utils.retrieval import FaissIndex, VectorIndex

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table

K = 10


def make_data(kind: str, n: int, n_queries: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) and (n_queries, dim) float32 vectors, unit length."""
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        X = rng.standard_normal((n + n_queries, dim), dtype=np.float32)
    elif kind == "clustered":
        n_centres = max(1, n // 100)
        centres = rng.standard_normal((n_centres, dim), dtype=np.float32)              # (C, dim)
        which = rng.integers(0, n_centres, size=n + n_queries)                           # (n + q,)
        X = centres[which] + rng.standard_normal((n + n_queries, dim), dtype=np.float32)  # noise as large as the centre
    else:
        raise ValueError(f"unknown data kind {kind!r}")
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return np.ascontiguousarray(X[:n]), np.ascontiguousarray(X[n:])


# ------------------------------------------------------------------------------------------------ exact searchers
def numpy_top_k(X: np.ndarray, Q: np.ndarray, k: int = K) -> np.ndarray:
    """Exact top-k rows of unit-length X for unit-length queries Q (q, dim): one matmul + a partial sort."""
    S = Q @ X.T                                                   # (q, n) cosines
    part = np.argpartition(-S, k - 1, axis=1)[:, :k]              # (q, k) the k best, unordered
    order = np.argsort(-np.take_along_axis(S, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)                # (q, k) best first


def torch_top_k(X: torch.Tensor, Q: torch.Tensor, k: int = K) -> torch.Tensor:
    return torch.topk(Q @ X.T, k, dim=1).indices                  # (q, k)


def per_query_ms(search, Q: np.ndarray, batched: bool, batch: int = 256) -> tuple[float, float, np.ndarray]:
    """Time per query, answering queries one by one or in batches of ``batch``; best of 2 passes.

    Returns (mean ms per query, fastest single call in ms per query, results). The fastest call is the best estimate
    of the latency on an otherwise idle machine; the mean includes whatever else the machine was doing.
    """
    best_mean, best_call, result = float("inf"), float("inf"), None
    for _ in range(2):
        calls, parts = [], []
        step = batch if batched else 1
        for i in range(0, len(Q), step):
            start = time.perf_counter()
            parts.append(np.asarray(search(Q[i:i + step])))
            calls.append((time.perf_counter() - start) / len(parts[-1]))
        result = np.vstack(parts)
        best_mean = min(best_mean, sum(c * len(p) for c, p in zip(calls, parts)) / len(Q))
        best_call = min(best_call, min(calls))
    return best_mean * 1000, best_call * 1000, result


def recall_vs_exact(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean over queries of |found ∩ exact| / k."""
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found.tolist(), exact.tolist())]))


def run(kind: str, n: int, dim: int, n_queries: int, threads: int, ef_values: list[int], hnsw_m: int) -> None:
    X, Q = make_data(kind, n, n_queries, dim)
    single_Q = Q[:min(len(Q), 200)]                               # one-at-a-time timing on the first 200 queries
    rows = []                                       # (name, build s, single ms, best single ms, batched ms, recall)

    # exact, numpy: the notebook's method (normalise once, then a matrix product per query batch)
    exact = numpy_top_k(X, Q)
    single, single_best, _ = per_query_ms(lambda q: numpy_top_k(X, q), single_Q, batched=False)
    batched, _, found = per_query_ms(lambda q: numpy_top_k(X, q), Q, batched=True)
    rows.append(("exact numpy (matmul + argpartition)", 0.0, single, single_best, batched,
                 recall_vs_exact(found, exact)))

    # exact, the course's VectorIndex (same idea, with input checks and normalisation of every query)
    start = time.perf_counter()
    index = VectorIndex(dim)
    index.add(X)
    build = time.perf_counter() - start
    single, single_best, _ = per_query_ms(lambda q: index.search_many(q, K)[0], single_Q, batched=False)
    batched, _, found = per_query_ms(lambda q: index.search_many(q, K)[0], Q, batched=True)
    rows.append(("exact utils.retrieval.VectorIndex", build, single, single_best, batched,
                 recall_vs_exact(found, exact)))
    del index

    # exact, torch
    Xt = torch.from_numpy(X)
    def search_torch(q):
        return torch_top_k(Xt, torch.from_numpy(q)).numpy()

    single, single_best, _ = per_query_ms(search_torch, single_Q, batched=False)
    batched, _, found = per_query_ms(search_torch, Q, batched=True)
    rows.append(("exact torch (matmul + topk)", 0.0, single, single_best, batched,
                 recall_vs_exact(found, exact)))

    # exact, faiss flat
    start = time.perf_counter()
    flat = FaissIndex(dim, "flat", threads=threads)
    flat.add(X)
    build = time.perf_counter() - start
    single, single_best, _ = per_query_ms(lambda q: flat.search(q, K)[0], single_Q, batched=False)
    batched, _, found = per_query_ms(lambda q: flat.search(q, K)[0], Q, batched=True)
    rows.append(("exact faiss IndexFlatIP", build, single, single_best, batched,
                 recall_vs_exact(found, exact)))
    del flat

    # approximate, faiss HNSW: one graph, several efSearch values (the speed/recall knob)
    start = time.perf_counter()
    hnsw = FaissIndex(dim, "hnsw", hnsw_m=hnsw_m, ef_construction=max(80, 2 * hnsw_m), threads=threads)
    hnsw.add(X)
    build = time.perf_counter() - start
    for ef in ef_values:
        hnsw.index.hnsw.efSearch = ef
        single, single_best, _ = per_query_ms(lambda q: hnsw.search(q, K)[0], single_Q, batched=False)
        batched, _, found = per_query_ms(lambda q: hnsw.search(q, K)[0], Q, batched=True)
        rows.append((f"approx faiss HNSW M={hnsw_m} efSearch={ef}", build, single, single_best, batched,
                     recall_vs_exact(found, exact)))

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"\n{kind} data: {n:,} x {dim} float32 unit vectors, {len(Q):,} queries "
          f"({len(single_Q)} timed one at a time), top-{K}, threads: torch {torch.get_num_threads()}, "
          f"faiss {threads}, {os.cpu_count()} cores, load average {load}")
    print(f"{'method':42s} {'build s':>8s} {'single ms/q':>12s} {'(fastest)':>10s} {'batched ms/q':>13s} "
          f"{'recall@10':>10s}")
    for name, build, single, single_best, batched, recall in rows:
        print(f"{name:42s} {build:8.2f} {single:12.3f} {single_best:10.3f} {batched:13.3f} {recall:10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="vectors in the collection (default 100,000)")
    parser.add_argument("--dim", type=int, default=384, help="vector length (default 384, as MiniLM)")
    parser.add_argument("--queries", type=int, default=1000, help="queries (default 1,000)")
    parser.add_argument("--data", choices=["clustered", "gaussian", "both"], default="clustered")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="faiss threads (default: all cores)")
    parser.add_argument("--ef", type=int, nargs="+", default=[16, 64, 256], help="HNSW efSearch values to try")
    parser.add_argument("--hnsw-m", type=int, default=32, help="HNSW links per node (default 32)")
    args = parser.parse_args()
    print(describe(f"faiss {args.threads}"))
    kinds = ["clustered", "gaussian"] if args.data == "both" else [args.data]
    for kind in kinds:
        run(kind, args.n, args.dim, args.queries, args.threads, args.ef, args.hnsw_m)
    print("\nexact = the true top-10 by cosine; recall@10 = share of those 10 that a method returns "
          "(1.000 for every exact method).\nsingle ms/q: mean over queries sent one at a time; (fastest): the quickest "
          "of those calls, closest to an idle machine; batched: batches of 256 queries.")


if __name__ == "__main__":
    main()
