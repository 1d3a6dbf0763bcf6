"""The course's vector database (Qdrant, embedded) vs exact numpy vs faiss HNSW, and ingestion throughput per format.

    .venv/bin/python benchmarks/bench_vectordb.py            # 100,000 x 384 vectors (a few minutes: Qdrant's upsert)
    .venv/bin/python benchmarks/bench_vectordb.py --quick    # 10,000 x 384 (well under a minute)

Part 1 (notebook 10, section 4), the same clustered unit vectors and queries for every method (``make_data`` of
``bench_retrieval.py``): build time (store the rows / build the graph / upsert with a payload), ms per query one at a
time ("single") and as one batch ("batched"), recall@10 against exact search, and the size on disk. Qdrant also
answers a filtered query (payload ``doc_type == "code"``, a quarter of the points).

Part 2: ingestion of the course corpus (``data/rag_corpus``) per format: parse (pages/s for the PDF, chunks/s), MiniLM
embedding (chunks/s, the dominant cost) and storing. Not a test: timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_retrieval import make_data, numpy_top_k  # same data and exact search as notebook 07's benchmark
from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table

K = 10


def folder_mb(path: Path) -> float:
    """Size of a file, or of everything under a folder, in MB."""
    path = Path(path)
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 2**20


def recall(found, exact) -> float:
    return float(np.mean([len(set(f) & set(e)) / K for f, e in zip(np.asarray(found).tolist(), exact.tolist())]))


def timed(fn, repeat: int = 1):
    start = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return out, (time.perf_counter() - start) / repeat


def bench_numpy(X, Q, tmp):
    stored, build = timed(lambda: np.ascontiguousarray(X / np.linalg.norm(X, axis=1, keepdims=True)))
    single = timed(lambda: [numpy_top_k(stored, q[None, :]) for q in Q])[1] / len(Q)
    found, batched = timed(lambda: numpy_top_k(stored, Q))
    np.save(tmp / "exact.npy", stored)
    return {"build s": build, "single ms": single * 1e3, "batched ms": batched / len(Q) * 1e3,
            "recall@10": 1.0, "disk MB": folder_mb(tmp / "exact.npy")}, found


def bench_faiss(X, Q, exact, tmp):
    import faiss
    from utils.retrieval import FaissIndex

    index = FaissIndex(X.shape[1], kind="hnsw", hnsw_m=32, ef_construction=64, ef_search=64)
    _, build = timed(lambda: index.add(X))
    single = timed(lambda: [index.search(q[None, :], K) for q in Q])[1] / len(Q)
    (found, _), batched = timed(lambda: index.search(Q, K))
    faiss.write_index(index.index, str(tmp / "hnsw.faiss"))
    return {"build s": build, "single ms": single * 1e3, "batched ms": batched / len(Q) * 1e3,
            "recall@10": recall(found, exact), "disk MB": folder_mb(tmp / "hnsw.faiss")}


def bench_qdrant(X, Q, exact, tmp):
    from qdrant_client import models
    from utils.rag.ingest import DocChunk
    from utils.rag.vectordb import VectorStore

    types = np.array(["pdf", "code", "markdown", "text"])[np.arange(len(X)) % 4]
    chunks = [DocChunk(f"doc{i // 50}", i % 50, "", str(t)) for i, t in enumerate(types)]
    store = VectorStore(path=tmp / "qdrant", dim=X.shape[1])
    _, build = timed(lambda: store.upsert(chunks, X))
    positions = {c.chunk_id: i for i, c in enumerate(chunks)}

    def ids(hits):
        return [positions[c.chunk_id] for c, _ in hits]

    found, single = timed(lambda: [ids(store.search(q, K)) for q in Q])
    requests = [models.QueryRequest(query=q.tolist(), limit=K, with_payload=True) for q in Q]
    _, batched = timed(lambda: store.client.query_batch_points(store.collection, requests=requests))
    filtered, filtered_time = timed(lambda: [ids(store.search(q, K, doc_type="code")) for q in Q[:20]])
    code_rows = np.flatnonzero(types == "code")
    exact_code = [code_rows[numpy_top_k(X[code_rows], q[None, :])[0]] for q in Q[:20]]
    store.close()
    reopened, reopen = timed(lambda: VectorStore(path=tmp / "qdrant", dim=X.shape[1]))
    same = ids(reopened.search(Q[0], K)) == found[0]
    reopened.close()
    return {"build s": build, "single ms": single / len(Q) * 1e3, "batched ms": batched / len(Q) * 1e3,
            "recall@10": recall(found, exact), "disk MB": folder_mb(tmp / "qdrant")}, {
        "filtered ms": filtered_time / 20 * 1e3, "filtered recall@10": recall(filtered, np.array(exact_code)),
        "reopen s": reopen, "same after reopen": same}


def bench_ingestion():
    from utils.rag import corpus, hybrid, ingest
    from utils.rag.vectordb import VectorStore

    encoder = hybrid.Encoder(cache_dir=False)   # time the encoding itself, never a read of data/cache/
    rows = {}
    for path in corpus.corpus_paths():
        kind = ingest.TYPES[path.suffix]
        row = rows.setdefault(kind, {"files": 0, "pages": 0, "chunks": 0, "parse s": 0.0, "embed s": 0.0,
                                     "store s": 0.0})
        chunks, parse = timed(lambda: ingest.parse_file(path, root=corpus.CORPUS_DIR))
        vectors, embed = timed(lambda: encoder.embed([c.text for c in chunks]))
        store = VectorStore(dim=384)
        _, put = timed(lambda: store.replace_source(chunks[0].source, chunks, vectors))
        store.close()
        row["files"] += 1
        row["pages"] += len({c.page for c in chunks}) if kind == "pdf" else 0
        row["chunks"] += len(chunks)
        row["parse s"] += parse
        row["embed s"] += embed
        row["store s"] += put
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="10,000 vectors, 100 queries")
    args = parser.parse_args(argv)
    n, n_queries = (10_000, 100) if args.quick else (args.n, args.queries)
    threads = os.environ.get("OMP_NUM_THREADS", "all")
    print(describe())
    X, Q = make_data("clustered", n, n_queries, 384)
    tmp = Path(tempfile.mkdtemp(prefix="bench-vectordb-"))
    try:
        print(f"{n:,} x 384 clustered unit vectors, {n_queries} queries, top-{K}, threads: {threads}\n")
        results = {}
        results["numpy exact"], exact = bench_numpy(X, Q, tmp)
        results["faiss HNSW (M=32, ef=64)"] = bench_faiss(X, Q, exact, tmp)
        results["Qdrant local (on disk)"], extra = bench_qdrant(X, Q, exact, tmp)
        cols = ["build s", "single ms", "batched ms", "recall@10", "disk MB"]
        print(f"{'method':26s}" + "".join(f"{c:>12s}" for c in cols))
        for name, row in results.items():
            print(f"{name:26s}" + "".join(f"{row[c]:12.3f}" if c in ("single ms", "batched ms", "recall@10")
                                          else f"{row[c]:12.1f}" for c in cols))
        print(f"\nQdrant filtered query (doc_type == 'code'): {extra['filtered ms']:.1f} ms, recall@10 "
              f"{extra['filtered recall@10']:.3f} | reopen {extra['reopen s']:.2f} s, same results after reopening: "
              f"{extra['same after reopen']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\nIngestion of data/rag_corpus (MiniLM on CPU)")
    cols = ["files", "pages", "chunks", "parse s", "embed s", "store s"]
    print(f"{'format':10s}" + "".join(f"{c:>9s}" for c in cols) + f"{'chunks/s':>10s}{'pages/s':>9s}")
    for kind, row in sorted(bench_ingestion().items()):
        total = row["parse s"] + row["embed s"] + row["store s"]
        pages = f"{row['pages'] / total:9.1f}" if row["pages"] else f"{'':9s}"
        print(f"{kind:10s}" + "".join(f"{row[c]:9d}" if isinstance(row[c], int) else f"{row[c]:9.2f}" for c in cols)
              + f"{row['chunks'] / total:10.1f}" + pages)


if __name__ == "__main__":
    main()
