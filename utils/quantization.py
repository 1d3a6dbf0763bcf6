"""Shrinking embeddings for a vector database (notebook 11, section 5): float16, int8, binary, and rescoring.

A 384-dim float32 vector takes 1,536 bytes; 100 million of them take 154 GB. Each step below trades exactness for
memory:

- float16: 768 bytes, round-off only (:func:`to_float16`);
- int8, "scalar quantisation": 384 bytes. Each dimension's range ``[lo, hi]`` is measured on a calibration sample
  (:func:`int8_calibrate`) and cut into 256 steps, codes -128..127 (:func:`int8_quantize`,
  :func:`int8_dequantize`);
- binary: 48 bytes, one sign bit per dimension packed 8 to a byte (:func:`binary_quantize`). Similarity becomes the
  **Hamming distance**, the number of differing bits = popcount(a XOR b) (:func:`hamming_distances`,
  :func:`hamming_top_k`). It is coarse, so a longer **shortlist** is re-ranked with the full vectors
  (:func:`rescore`, :func:`binary_search`): memory of bits, ranking of floats.

>>> X = np.array([[0.5, -0.2, 0.1, -0.9, 0.3, 0.3, -0.1, 0.2, 0.4]])
>>> binary_quantize(X).tolist()                                     # 9 signs -> 2 bytes: 10101101 1_0000000
[[173, 128]]
>>> lo, hi = int8_calibrate(np.array([[-1.0, 0.0], [1.0, 2.0]]))
>>> int8_quantize(np.array([[-1.0, 2.0], [1.0, 0.0], [5.0, 0.0]]), lo, hi).tolist()   # 5.0 is clipped
[[-128, 127], [127, -128], [127, -128]]
"""
from __future__ import annotations

import numpy as np

__all__ = ["to_float16", "int8_calibrate", "int8_quantize", "int8_dequantize", "binary_quantize",
           "hamming_distances", "hamming_top_k", "rescore", "binary_search", "exact_top_k", "overlap_at_k"]


def _matrix(X, name: str = "vectors") -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a numeric (n, dim) array, got shape {X.shape} of {X.dtype}")
    return X


def to_float16(X) -> np.ndarray:
    """Half precision: 2 bytes a number, about 3 significant digits (relative error <= 2**-11)."""
    return _matrix(X).astype(np.float16)


def int8_calibrate(X, quantile: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension range ``(lo, hi)``, each (dim,), from a calibration sample ``X`` (n, dim).

    ``quantile`` > 0 ignores that fraction of outliers at each end (e.g. 0.001): a rare extreme value then no
    longer stretches the 256 steps of the whole dimension. Values outside the range are clipped when quantised.
    """
    X = _matrix(X, "calibration vectors").astype(np.float64)
    if not 0 <= quantile < 0.5:
        raise ValueError(f"quantile must be in [0, 0.5), got {quantile!r}")
    lo, hi = (X.min(axis=0), X.max(axis=0)) if quantile == 0 else np.quantile(X, [quantile, 1 - quantile], axis=0)
    hi = np.where(hi > lo, hi, lo + 1e-12)                                   # a constant dimension: avoid 0 / 0
    return lo.astype(np.float32), hi.astype(np.float32)


def _scale(lo, hi, dim: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.asarray(lo, dtype=np.float32), np.asarray(hi, dtype=np.float32)
    if lo.shape != (dim,) or hi.shape != (dim,):
        raise ValueError(f"lo and hi must each have shape ({dim},), got {lo.shape} and {hi.shape}")
    return lo, (hi - lo) / 255                                               # 256 levels -> 255 steps


def int8_quantize(X, lo, hi) -> np.ndarray:
    """float (n, dim) -> int8 codes (n, dim): ``lo`` maps to -128, ``hi`` to 127, uniformly in between, clipped."""
    X = _matrix(X).astype(np.float32)
    lo, step = _scale(lo, hi, X.shape[1])
    codes = np.round((X - lo) / step) - 128                                  # 0..255 shifted to the signed range
    return np.clip(codes, -128, 127).astype(np.int8)


def int8_dequantize(codes, lo, hi) -> np.ndarray:
    """int8 codes (n, dim) -> float32 (n, dim): the centre of each code's step (the inverse of quantise up to
    half a step)."""
    codes = np.asarray(codes)
    if codes.dtype != np.int8 or codes.ndim != 2:
        raise ValueError(f"codes must be an int8 (n, dim) array, got {codes.dtype} of shape {codes.shape}")
    lo, step = _scale(lo, hi, codes.shape[1])
    return (codes.astype(np.float32) + 128) * step + lo


def binary_quantize(X) -> np.ndarray:
    """float (n, dim) -> uint8 (n, ceil(dim / 8)): bit = 1 where the number is > 0, packed 8 to a byte
    (first dimension in the highest bit; the last byte is padded with 0 bits)."""
    return np.packbits(_matrix(X) > 0, axis=1)


# The Hamming scan. numpy has no fused "XOR then count bits", so each step is one pass over a whole array; the
# speed comes from few, long, contiguous passes: 64-bit words instead of bytes, and buffers that are reused.
COLUMNS_FROM = 8        # queries in one call from which transposing the codes once (about one scan's cost) pays off
BLOCK = 8192            # codes per step of the row-wise scan: its buffers stay in the CPU cache


def _words(codes: np.ndarray) -> np.ndarray:
    """Packed bytes (n, nbytes) as (n, words), a view: 64-bit words when nbytes is a multiple of 8 (48 bytes -> 6
    words: 8x fewer XORs and bit counts than bytes), else the bytes themselves."""
    codes = np.ascontiguousarray(codes)
    return codes.view(np.uint64) if codes.shape[1] % 8 == 0 else codes


def _columns(words: np.ndarray) -> np.ndarray:
    """(n, words) -> (words, n) contiguous, so that each XOR below runs over n numbers in a row. Copied a block of
    rows at a time: a transposition that stays in the cache is about twice as fast as one long strided copy."""
    columns = np.empty(words.shape[::-1], dtype=words.dtype)
    for start in range(0, len(words), BLOCK):
        columns[:, start:start + BLOCK] = words[start:start + BLOCK].T
    return columns


def _distances_by_columns(q: np.ndarray, columns: np.ndarray, dist: np.ndarray, xor, bits, part) -> np.ndarray:
    """The Hamming distances (n,) of one query ``q`` (words,) to every code, into ``dist``, word by word on the
    transposed codes ``columns`` (words, n); ``xor``, ``bits`` and ``part`` are reused (n,) buffers. The counts of a
    few words still fit in a byte (3 x 64 bits <= 255), so they are added as bytes first, the cheapest additions,
    and only their sum goes into ``dist``."""
    per_byte = 255 // (8 * columns.itemsize)                     # 3 words of 64 bits, or 31 single bytes
    for first in range(0, len(columns), per_byte):
        np.bitwise_count(np.bitwise_xor(columns[first], q[first], out=xor), out=part)
        for w in range(first + 1, min(first + per_byte, len(columns))):
            np.add(part, np.bitwise_count(np.bitwise_xor(columns[w], q[w], out=xor), out=bits), out=part)
        if first == 0:
            dist[:] = part
        else:
            np.add(dist, part, out=dist)
    return dist


def _distances_by_rows(q: np.ndarray, words: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """The same on the codes as stored (no transposition, for one or a few queries): a block of codes is one long
    run of words, XORed with the query repeated, counted, then each code's counts are added up."""
    n = len(words)
    repeated = np.tile(q, min(BLOCK, n))
    for start in range(0, n, BLOCK):
        block = words[start:start + BLOCK]
        counts = np.bitwise_count(block.ravel() ^ repeated[:block.size]).reshape(block.shape)
        _add_rows(counts, dist[start:start + len(block)])
    return dist


def _add_rows(counts: np.ndarray, out: np.ndarray) -> None:
    """``out`` (m,) = the row sums of ``counts`` (m, words), uint8 bit counts.

    numpy is slow at summing many short rows, so pairs of neighbouring counts are added first, all in one pass: two
    bytes a, b <= 64 read as one 16-bit number v give (v * 257) >> 8 = a + b (the product is a + 256 (a + b) once
    the bits above 16 drop away, whichever byte is the low one).
    """
    if counts.shape[1] % 2 == 0:
        counts = (counts.view(np.uint16) * np.uint16(257)) >> np.uint16(8)      # (m, words / 2) pair sums
    out[:] = counts[:, 0]
    for w in range(1, counts.shape[1]):
        np.add(out, counts[:, w], out=out)


def _each_query(query_codes: np.ndarray, codes: np.ndarray):
    """Yield each query's (n,) Hamming distances to all codes. One buffer is reused: copy a row to keep it."""
    q_words, words = _words(query_codes), _words(codes)
    dist = np.empty(len(words), dtype=np.uint16 if codes.shape[1] * 8 < 2 ** 16 else np.uint32)
    if len(q_words) < COLUMNS_FROM:
        for q in q_words:
            yield _distances_by_rows(q, words, dist)
        return
    columns = _columns(words)
    xor = np.empty(len(words), dtype=words.dtype)
    bits, part = np.empty(len(words), dtype=np.uint8), np.empty(len(words), dtype=np.uint8)
    for q in q_words:
        yield _distances_by_columns(q, columns, dist, xor, bits, part)


def _check_codes(query_codes, codes) -> tuple[np.ndarray, np.ndarray]:
    Qc, C = np.asarray(query_codes), np.asarray(codes)
    if Qc.ndim == 1:
        Qc = Qc[None, :]
    if Qc.dtype != np.uint8 or C.dtype != np.uint8 or C.ndim != 2 or Qc.shape[1] != C.shape[1]:
        raise ValueError(f"need packed uint8 codes of the same width, got {Qc.dtype} {Qc.shape} and {C.dtype} "
                         f"{C.shape}")
    return Qc, C


def hamming_distances(query_codes, codes) -> np.ndarray:
    """Number of differing bits between every query (q, nbytes) and every stored code (n, nbytes) -> (q, n) int.

    popcount(a XOR b), counted by numpy's ``bitwise_count`` on 64-bit words.

    >>> hamming_distances(np.array([[0b1111_0000]], np.uint8), np.array([[0b1111_0000], [0b0000_1111]], np.uint8))
    array([[0, 8]])
    """
    Qc, C = _check_codes(query_codes, codes)
    return np.stack([d.astype(np.int64) for d in _each_query(Qc, C)]).reshape(len(Qc), len(C))


def _k_smallest(dist: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k smallest of ``dist`` (n,), smallest first, ties to the smaller index. No full sort: the
    k-th smallest value ``t`` comes from np.partition (linear time), and only the few codes at distance <= t are
    sorted, stably, from index order."""
    t = np.partition(dist, k - 1)[k - 1]
    candidates = np.flatnonzero(dist <= t)                                   # in index order
    return candidates[np.argsort(dist[candidates], kind="stable")[:k]]


def hamming_top_k(query_codes, codes, k: int) -> np.ndarray:
    """Indices (q, k) of the stored codes nearest to each query in Hamming distance, nearest first, ties to the
    smaller index.

    >>> codes = np.array([[0b1111_0000], [0b0000_1111], [0b1111_0001], [0b1110_0000]], np.uint8)
    >>> hamming_top_k(np.array([[0b1111_0000]], np.uint8), codes, 3)   # distances 0, 8, 1, 1: the tie keeps 2 < 3
    array([[0, 2, 3]])
    """
    Qc, C = _check_codes(query_codes, codes)
    if not 1 <= k <= len(C):
        raise ValueError(f"k must be between 1 and {len(C)}, got {k}")
    out = np.empty((len(Qc), k), dtype=np.int64)
    for i, dist in enumerate(_each_query(Qc, C)):
        out[i] = _k_smallest(dist, k)
    return out


def _top_k_rows(scores: np.ndarray, k: int, largest: bool) -> np.ndarray:
    """Per row, the indices of the k best values, best first. Integer scores (Hamming distances) break ties by the
    smaller index exactly; float ties are left to argpartition (they are rare)."""
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k must be between 1 and {scores.shape[1]}, got {k}")
    s = -scores if largest else scores
    if s.dtype.kind in "iu":                                                 # one unique key: value, then index
        s = s.astype(np.int64) * s.shape[1] + np.arange(s.shape[1])
    part = np.argpartition(s, k - 1, axis=1)[:, :k]                          # the k best, unordered
    order = np.argsort(np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def exact_top_k(queries, vectors, k: int) -> np.ndarray:
    """Indices (q, k) of the largest dot products (cosines for unit rows), best first: the float32 reference."""
    return _top_k_rows(_matrix(queries, "queries").astype(np.float32) @ _matrix(vectors).astype(np.float32).T, k,
                       largest=True)


def rescore(queries, vectors, shortlist, k: int) -> np.ndarray:
    """Re-rank each query's ``shortlist`` (q, s) of candidate indices by the dot product with the full ``vectors``
    and keep the best ``k`` -> (q, k) indices, best first."""
    Q = _matrix(queries, "queries").astype(np.float32)
    S = np.asarray(shortlist)
    if S.ndim != 2 or len(S) != len(Q):
        raise ValueError(f"shortlist must be (queries, candidates) = ({len(Q)}, s), got shape {S.shape}")
    V = np.asarray(vectors)
    scores = np.einsum("qd,qsd->qs", Q, V[S].astype(np.float32))              # (q, s): only the candidates
    return np.take_along_axis(S, _top_k_rows(scores, k, largest=True), axis=1)


def binary_search(queries, codes, vectors, k: int = 10, shortlist: int = 100) -> np.ndarray:
    """Hamming top-``shortlist`` on the sign bits of the queries, then float rescoring of that shortlist -> (q, k)."""
    if shortlist < k:
        raise ValueError(f"the shortlist ({shortlist}) must hold at least k={k} candidates")
    candidates = hamming_top_k(binary_quantize(queries), codes, shortlist)   # (q, shortlist)
    return rescore(queries, vectors, candidates, k)


def overlap_at_k(found, exact) -> float:
    """Mean fraction of the exact top-k that a search found ("recall@k against exact search").

    >>> overlap_at_k([[1, 2, 3]], [[3, 2, 9]])
    0.6666666666666666
    """
    found, exact = np.asarray(found), np.asarray(exact)
    if found.shape[0] != exact.shape[0]:
        raise ValueError(f"one row per query in both, got {found.shape[0]} and {exact.shape[0]}")
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found.tolist(), exact.tolist())]))
