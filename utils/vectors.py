"""Reference norms, distances and similarities (notebook 02), used by notebooks 04, 05 and 07.

Every function accepts numpy arrays or torch tensors (and lists) and returns numpy values; zero vectors,
mismatched shapes and NaN give a one-line ValueError.
"""
from __future__ import annotations

import numpy as np


def to_numpy(x, name: str = "input") -> np.ndarray:
    """numpy array / torch tensor / list -> float numpy array; NaN or inf -> ValueError."""
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric (a list, numpy array or torch tensor)") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _pair(a, b):
    a, b = to_numpy(a, "a"), to_numpy(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return a, b


def lp_norm(x, p: float = 2) -> float:
    """Lp norm: (sum |x_i|^p)^(1/p); p=np.inf gives the largest |x_i|.  [3, -4] -> 5.0 (p=2), 7.0 (p=1), 4.0 (inf)."""
    x = to_numpy(x, "x")
    if p == np.inf:
        return float(np.max(np.abs(x))) if x.size else 0.0
    if p < 1:
        raise ValueError(f"p must be >= 1 (or np.inf) for a norm, got {p}")
    return float(np.sum(np.abs(x) ** p) ** (1 / p))


def l1_norm(x) -> float:
    """[3, -4] -> 7.0"""
    return lp_norm(x, 1)


def l2_norm(x) -> float:
    """[3, -4] -> 5.0"""
    return lp_norm(x, 2)


def linf_norm(x) -> float:
    """[3, -4] -> 4.0"""
    return lp_norm(x, np.inf)


def euclidean_distance(a, b) -> float:
    """[0, 0], [3, 4] -> 5.0"""
    a, b = _pair(a, b)
    return float(np.sqrt(np.sum((a - b) ** 2)))


def manhattan_distance(a, b) -> float:
    """[0, 0], [3, 4] -> 7.0"""
    a, b = _pair(a, b)
    return float(np.sum(np.abs(a - b)))


def cosine_similarity(a, b) -> float:
    """a·b / (|a| |b|):  [1, 0], [1, 1] -> 0.7071.  A zero vector has no direction -> ValueError."""
    a, b = _pair(a, b)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        raise ValueError("cosine similarity is undefined for a zero vector")
    return float(a @ b / (na * nb))


def normalize_rows(X) -> np.ndarray:
    """Scale every row to unit L2 length: [[3, 4]] -> [[0.6, 0.8]]. A zero row -> ValueError."""
    X = to_numpy(X, "X")
    if X.ndim == 1:
        X = X[None, :]
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError(f"row {int(np.flatnonzero(norms[:, 0] == 0)[0])} is a zero vector: it has no direction")
    return X / norms


def pairwise_cosine(A, B=None) -> np.ndarray:
    """(n, d), (m, d) -> (n, m) matrix of cosine similarities, without Python loops. B defaults to A."""
    A = normalize_rows(A)
    B = A if B is None else normalize_rows(B)
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"vectors have different lengths: {A.shape[1]} vs {B.shape[1]}")
    return A @ B.T


def top_k(query, matrix, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine scores of the k rows of ``matrix`` most similar to ``query``, best first.

    Ties are broken by the smaller index, so results are deterministic.
    """
    q = to_numpy(query, "query")
    if q.ndim != 1:
        raise ValueError(f"query must be one vector (1-D), got shape {q.shape}")
    M = to_numpy(matrix, "matrix")
    if M.ndim != 2 or M.shape[1] != q.shape[0]:
        raise ValueError(f"matrix must have shape (n, {q.shape[0]}), got {M.shape}")
    if not 1 <= k <= M.shape[0]:
        raise ValueError(f"k must be between 1 and {M.shape[0]} (the number of rows), got {k}")
    scores = pairwise_cosine(q[None, :], M)[0]
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    return order, scores[order]
