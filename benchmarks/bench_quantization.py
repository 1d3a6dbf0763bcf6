"""Compressed vectors (notebook 11, section 7): ours (numpy) vs faiss at 100,000 x 384, one thread each.

    .venv/bin/python benchmarks/bench_quantization.py            # 100,000 vectors, 1,000 queries
    .venv/bin/python benchmarks/bench_quantization.py --n 20000  # quicker

Data: MiniLM's static token-vector averages (``utils.minilm.static_embeddings``) of the first N WordNet definitions
(documents) and of 1,000 WordNet usage examples (queries), centred on the documents' mean and scaled to unit length,
cached in ``data/cache/``. recall@10 = the share of the exact float32 top 10 that a method finds. ms/query: the whole
query batch divided by the number of queries; the Hamming rows are also timed one query at a time. Each method's
memory is the bytes per stored vector it searches in (binary + rescore also keeps the float32 vectors for the
shortlist, read from disk or a memory map in a real system: shown in the note column).

Goals: binary + rescore recall@10 >= 0.95 at >= 8x less memory than float32; our Hamming search within 2x of faiss's
IndexBinaryFlat.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")           # one thread for numpy's BLAS and faiss alike
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from utils import quantization as qz  # noqa: E402
from utils.word2vec.cache import CACHE_DIR  # noqa: E402

K = 10


def load_data(n: int, n_queries: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    path = CACHE_DIR / f"bench_quantization_{n}_{n_queries}.npz"
    if path.exists():
        data = np.load(path)
        return data["X"], data["Q"]
    from utils.minilm import static_embeddings
    from utils.wordnet import load_synsets
    synsets = load_synsets()
    X = static_embeddings([s.definition for s in synsets[:n]])
    examples = [e for s in synsets[n:] for e in s.examples[:1]]
    Q = static_embeddings(examples[:: max(1, len(examples) // n_queries)][:n_queries])
    mean = X.mean(axis=0)
    X, Q = X - mean, Q - mean                                  # centred: sign bits then split every dimension
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(path, X=X.astype(np.float32), Q=Q.astype(np.float32))
    return X.astype(np.float32), Q.astype(np.float32)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--shortlist", type=int, default=200)
    args = p.parse_args(argv)
    import faiss
    faiss.omp_set_num_threads(1)
    X, Q = load_data(args.n, args.queries)
    n, d = X.shape
    exact, t_exact = timed(lambda: qz.exact_top_k(Q, X, K))
    rows = [("ours float32 exact (numpy)", 4 * d, 1.0, t_exact, "")]

    flat = faiss.IndexFlatIP(d)
    flat.add(X)
    (_, found), t = timed(lambda: flat.search(Q, K))
    rows.append(("faiss IndexFlatIP", 4 * d, qz.overlap_at_k(found, exact), t, ""))

    X16 = qz.to_float16(X)
    found, t = timed(lambda: qz.exact_top_k(Q, X16.astype(np.float32), K))
    rows.append(("ours float16", 2 * d, qz.overlap_at_k(found, exact), t, "upcast per search"))

    lo, hi = qz.int8_calibrate(X[:10000])
    codes8 = qz.int8_quantize(X, lo, hi)
    found, t = timed(lambda: qz.exact_top_k(Q, qz.int8_dequantize(codes8, lo, hi), K))
    rows.append(("ours int8 (calibrated min/max)", d, qz.overlap_at_k(found, exact), t, "dequantised per search"))
    sq = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    sq.train(X[:10000])
    sq.add(X)
    (_, found), t = timed(lambda: sq.search(Q, K))
    rows.append(("faiss IndexScalarQuantizer 8bit", d, qz.overlap_at_k(found, exact), t, ""))

    bits = qz.binary_quantize(X)
    qbits = qz.binary_quantize(Q)
    found, t_ham = timed(lambda: qz.hamming_top_k(qbits, bits, K))
    rows.append(("ours binary, Hamming only", d // 8, qz.overlap_at_k(found, exact), t_ham, ""))
    bflat = faiss.IndexBinaryFlat(d)
    bflat.add(bits)
    (_, found), t_fh = timed(lambda: bflat.search(qbits, K))
    rows.append(("faiss IndexBinaryFlat, Hamming only", d // 8, qz.overlap_at_k(found, exact), t_fh, ""))
    s = args.shortlist
    found, t_bin = timed(lambda: qz.binary_search(Q, bits, X, k=K, shortlist=s))
    rows.append((f"ours binary + float rescore of top {s}", d // 8, qz.overlap_at_k(found, exact), t_bin,
                 f"+ {4 * d} B/vector on disk for rescoring"))
    (_, cand), t_fs = timed(lambda: bflat.search(qbits, s))
    found, t_r = timed(lambda: qz.rescore(Q, X, cand, K))
    rows.append((f"faiss IndexBinaryFlat top {s} + our rescore", d // 8, qz.overlap_at_k(found, exact), t_fs + t_r,
                 "same rescoring"))

    pq = faiss.IndexPQ(d, d // 8, 8, faiss.METRIC_INNER_PRODUCT)        # 48 sub-vectors x 1 byte = binary's size
    _, t_train = timed(lambda: pq.train(X[:20000]))
    pq.add(X)
    (_, found), t = timed(lambda: pq.search(Q, K))
    rows.append((f"faiss IndexPQ m={d // 8} x 8 bits", d // 8, qz.overlap_at_k(found, exact), t,
                 f"trained in {t_train:.1f} s"))

    # one query at a time: the Hamming scan itself, ours vs faiss
    one = min(200, len(Q))
    _, t_ours1 = timed(lambda: [qz.hamming_top_k(qbits[i:i + 1], bits, s) for i in range(one)])
    _, t_faiss1 = timed(lambda: [bflat.search(qbits[i:i + 1], s) for i in range(one)])

    print(f"{datetime.date.today()} | {platform.python_implementation()} {platform.python_version()} | "
          f"{os.cpu_count()} CPUs | numpy {np.__version__} | faiss {faiss.__version__} "
          f"({faiss.loader.opt_level if hasattr(faiss, 'loader') else '?'}) | 1 thread")
    print(f"{n:,} x {d} documents, {len(Q):,} queries (MiniLM static token averages of WordNet texts, centred)\n")
    print(f"{'method':46s} | {'B/vector':>8s} | {'vs f32':>6s} | {'recall@10':>9s} | {'ms/query':>8s} | note")
    print("-" * 112)
    for name, size, rec, secs, note in rows:
        print(f"{name:46s} | {size:8d} | {4 * d / size:5.0f}x | {rec:9.3f} | {secs / len(Q) * 1e3:8.3f} | {note}")
    print(f"\nHamming top-{s}, one query at a time ({one} queries): ours {t_ours1 / one * 1e3:.3f} ms, "
          f"faiss {t_faiss1 / one * 1e3:.3f} ms -> ours / faiss = {t_ours1 / t_faiss1:.2f}x")
    print(f"Hamming top-{K}, batched: ours / faiss = {t_ham / t_fh:.2f}x")
    bin_rec = rows[8][2]
    print(f"goal: binary + rescore recall@10 >= 0.95 at >= 8x less memory: {bin_rec:.3f} at {4 * d // (d // 8)}x "
          f"-> {'met' if bin_rec >= 0.95 else 'NOT met'}; our Hamming within 2x of faiss: "
          f"{'met' if t_ours1 / t_faiss1 <= 2 else 'NOT met'} (one at a time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
