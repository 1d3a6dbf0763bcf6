"""Top-k selection, the one step every searcher of notebook 07 ends with (sections 3-7).

BM25, TF-IDF, the exact :class:`~utils.retrieval.dense.VectorIndex`, the faiss index and the extractive answer all
score candidates and keep the ``k`` best; :func:`top_k_from_scores` is that step, and ``_check_k`` the one place that
says what a valid ``k`` is.
"""
from __future__ import annotations

import numpy as np


def _check_k(k, n: int) -> int:
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and {n} (the size of the collection), got {k!r}")
    return int(k)


def top_k_from_scores(scores, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest scores, best first; ties go to the smaller index.

    Works on one score vector (n,) or a batch (q, n); uses a partial sort, so it stays fast for large n.

    >>> idx, val = top_k_from_scores(np.array([0.1, 0.9, 0.5, 0.9]), 3)
    >>> idx.tolist(), val.tolist()
    ([1, 3, 2], [0.9, 0.9, 0.5])
    """
    scores = np.asarray(scores)
    if scores.ndim == 2:
        pairs = [top_k_from_scores(row, k) for row in scores]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D (n,) or 2-D (queries, n), got shape {scores.shape}")
    k = _check_k(k, len(scores))
    # The k-th largest value is a threshold; keep everything at or above it (ties included), then order exactly.
    threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
    candidates = np.flatnonzero(scores >= threshold)
    order = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
    return order, scores[order]
