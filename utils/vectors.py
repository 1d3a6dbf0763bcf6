"""Reference norms, distances and similarities (notebook 02), used by notebooks 04, 05 and 07.

Every function accepts numpy arrays, torch tensors (any dtype, any device, with or without gradients) and nested
lists, and returns plain Python floats or numpy arrays. Bad input gives ONE readable line:

- NaN or infinity, non-numeric data, ``None``      -> ValueError
- vectors of different shapes / lengths            -> ValueError
- a zero vector where a direction is needed        -> ValueError (cosine, normalising, top-k)

>>> l2_norm([3, -4]), l1_norm([3, -4]), linf_norm([3, -4])
(5.0, 7.0, 4.0)
>>> round(cosine_similarity([1, 0], [1, 1]), 4)
0.7071
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "to_numpy", "lp_norm", "l1_norm", "l2_norm", "linf_norm", "euclidean_distance", "manhattan_distance",
    "dot", "cosine_similarity", "angle_degrees", "normalize_rows", "unit_rows", "pairwise_cosine", "pairwise_euclidean",
    "top_k", "top_k_from_scores", "analogy_vector",
]


def to_numpy(x, name: str = "input") -> np.ndarray:
    """numpy array / torch tensor / list -> float64 numpy array; NaN, infinity or non-numbers -> ValueError.

    >>> to_numpy([1, 2]).dtype
    dtype('float64')
    >>> to_numpy([1.0, float("nan")], "query")
    Traceback (most recent call last):
    ...
    ValueError: query contains NaN or infinity
    """
    if x is None:
        raise ValueError(f"{name} is None - did a function forget to `return`?")
    if type(x).__module__.startswith("torch"):
        if getattr(x, "is_complex", lambda: False)():
            raise ValueError(f"{name} is a complex tensor; these functions work on real numbers")
        # .float() first: numpy has no bfloat16, and float32 keeps every value of half precision exactly.
        x = x.detach().cpu().float().numpy()
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name} must be numeric (a list, numpy array or torch tensor), got a string")
    try:
        arr = np.asarray(x)
        if arr.dtype.kind == "c":
            raise ValueError(f"{name} is complex; these functions work on real numbers")
        arr = np.asarray(arr, dtype=float)
    except (TypeError, ValueError) as exc:
        if "complex" in str(exc) and str(exc).startswith(name):
            raise
        raise ValueError(f"{name} must be numeric (a list, numpy array or torch tensor; "
                         "rows of equal length)") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _pair(a, b):
    a, b = to_numpy(a, "a"), to_numpy(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return a, b


def _check_p(p) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or np.isnan(p):
        raise ValueError(f"p must be a number >= 1 or np.inf, got {p!r}")
    if p < 1:
        raise ValueError(f"p must be >= 1 (or np.inf) for a norm, got {p}")
    return float(p)


def _lp(x: np.ndarray, p: float) -> float:
    """Lp norm of an already-checked array. Dividing by the largest |x_i| first avoids overflow:
    (1e200)**2 is inf in float64, but 1e200 * (1**2 + 1**2)**0.5 is fine."""
    if x.size == 0:
        return 0.0
    m = float(np.max(np.abs(x)))
    if p == np.inf or m == 0.0:
        return m
    return m * float(np.sum((np.abs(x) / m) ** p) ** (1.0 / p))


def lp_norm(x, p: float = 2) -> float:
    """Lp norm (sum |x_i|^p)^(1/p) of all entries of ``x``; p = np.inf gives the largest |x_i|.

    >>> lp_norm([3, -4]), lp_norm([3, -4], 1), lp_norm([3, -4], np.inf)
    (5.0, 7.0, 4.0)
    >>> round(lp_norm([1, 1], 3), 4)   # 2 ** (1/3)
    1.2599
    """
    return _lp(to_numpy(x, "x"), _check_p(p))


def l1_norm(x) -> float:
    """Sum of absolute values (Manhattan length).

    >>> l1_norm([3, -4])
    7.0
    """
    return lp_norm(x, 1)


def l2_norm(x) -> float:
    """Euclidean length, the square root of the sum of squares.

    >>> l2_norm([3, -4])
    5.0
    """
    return lp_norm(x, 2)


def linf_norm(x) -> float:
    """Largest absolute value (max norm).

    >>> linf_norm([3, -4])
    4.0
    """
    return lp_norm(x, np.inf)


def euclidean_distance(a, b) -> float:
    """Straight-line distance |a - b|_2.

    >>> euclidean_distance([0, 0], [3, 4])
    5.0
    """
    a, b = _pair(a, b)
    return _lp(a - b, 2.0)


def manhattan_distance(a, b) -> float:
    """Sum of absolute coordinate differences |a - b|_1 (walking along a street grid).

    >>> manhattan_distance([0, 0], [3, 4])
    7.0
    """
    a, b = _pair(a, b)
    return float(np.sum(np.abs(a - b)))


def _vector_pair(a, b, what: str):
    a, b = _pair(a, b)
    if a.ndim != 1:
        raise ValueError(f"{what} compares two vectors (1-D), got shape {a.shape}; "
                         "for many vectors at once use pairwise_cosine")
    return a, b


def dot(a, b) -> float:
    """Dot product sum a_i * b_i of two vectors of the same length.

    >>> dot([1, 2, 3], [4, 5, 6])
    32.0
    """
    a, b = _vector_pair(a, b, "dot")
    return float(a @ b)


def cosine_similarity(a, b) -> float:
    """a·b / (|a| |b|), in [-1, 1]: 1 same direction, 0 orthogonal, -1 opposite. A zero vector -> ValueError.

    >>> round(cosine_similarity([1, 0], [1, 1]), 4)
    0.7071
    >>> cosine_similarity([2, 0], [-5, 0])
    -1.0
    """
    a, b = _vector_pair(a, b, "cosine_similarity")
    na, nb = _lp(a, 2.0), _lp(b, 2.0)
    if na == 0 or nb == 0:
        raise ValueError("cosine similarity is undefined for a zero vector (it has no direction)")
    # normalise first (no overflow for huge entries), clip because rounding can give 1.0000000000000002
    return float(np.clip((a / na) @ (b / nb), -1.0, 1.0))


def angle_degrees(a, b) -> float:
    """Angle between two non-zero vectors, in degrees: arccos of their cosine similarity.

    >>> angle_degrees([1, 0], [0, 3])
    90.0
    """
    return float(np.degrees(np.arccos(cosine_similarity(a, b))))


def _as_matrix(X, name: str) -> np.ndarray:
    X = to_numpy(X, name)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise ValueError(f"{name} must be a vector or a matrix with one vector per row, got shape {X.shape}")
    return X


def _row_norms(X: np.ndarray) -> np.ndarray:
    """L2 norm of every row, shape (n, 1); scaled by each row's largest entry so huge values do not overflow."""
    m = np.max(np.abs(X), axis=1, keepdims=True) if X.shape[1] else np.zeros((X.shape[0], 1))
    safe = np.where(m == 0, 1.0, m)
    return m * np.sqrt(np.sum((X / safe) ** 2, axis=1, keepdims=True))


def normalize_rows(X) -> np.ndarray:
    """Scale every row to unit L2 length (a 1-D input becomes one row). A zero row -> ValueError.

    >>> normalize_rows([[3, 4], [0, 2]])
    array([[0.6, 0.8],
           [0. , 1. ]])
    """
    X = _as_matrix(X, "X")
    norms = _row_norms(X)
    if np.any(norms == 0):
        raise ValueError(f"row {int(np.flatnonzero(norms[:, 0] == 0)[0])} is a zero vector: it has no direction")
    return X / norms


def unit_rows(X) -> np.ndarray:
    """Like :func:`normalize_rows`, for matrices that may hold a zero row (a text with no known word, an unused
    embedding): that row stays zero, so its cosine with everything is 0. Float32 input stays float32 (a large
    embedding matrix is not copied to float64); the caller checks for NaN.

    >>> unit_rows(np.array([[3, 4], [0, 0]], dtype=np.float32))
    array([[0.6, 0.8],
           [0. , 0. ]], dtype=float32)
    """
    X = np.asarray(X)
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected a matrix with one vector per row, got shape {X.shape}")
    norms = _row_norms(X)
    return X / np.where(norms == 0, 1.0, norms).astype(X.dtype)


def pairwise_cosine(A, B=None) -> np.ndarray:
    """(n, d), (m, d) -> (n, m) matrix of cosine similarities, without Python loops. B defaults to A.

    Normalise every row, then one matrix product gives all dot products of unit vectors = all cosines.

    >>> pairwise_cosine([[1, 0], [0, 2]], [[3, 0], [1, 1], [0, -1]]).round(4)
    array([[ 1.    ,  0.7071,  0.    ],
           [ 0.    ,  0.7071, -1.    ]])
    """
    A_raw, B_raw = _as_matrix(A, "A"), (None if B is None else _as_matrix(B, "B"))
    if B_raw is not None and A_raw.shape[1] != B_raw.shape[1]:
        raise ValueError(f"vectors have different lengths: {A_raw.shape[1]} vs {B_raw.shape[1]}")
    A_n = normalize_rows(A_raw)
    B_n = A_n if B_raw is None else normalize_rows(B_raw)
    return np.clip(A_n @ B_n.T, -1.0, 1.0)


def pairwise_euclidean(A, B=None) -> np.ndarray:
    """(n, d), (m, d) -> (n, m) matrix of Euclidean distances, without Python loops. B defaults to A.

    >>> pairwise_euclidean([[0, 0], [1, 1]], [[3, 4]]).round(4)
    array([[5.    ],
           [3.6056]])
    """
    A = _as_matrix(A, "A")
    B = A if B is None else _as_matrix(B, "B")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"vectors have different lengths: {A.shape[1]} vs {B.shape[1]}")
    # broadcasting (n, 1, d) - (1, m, d) is exact; fine for the sizes the course uses (n * m * d floats)
    diff = A[:, None, :] - B[None, :, :]                              # (n, m, d)
    return np.sqrt(np.sum(diff ** 2, axis=-1))


_METRICS = ("cosine", "dot", "euclidean")


def top_k(query, matrix, k: int = 5, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the k rows of ``matrix`` nearest to ``query``, best first.

    ``metric``: "cosine" (highest similarity first, the default), "dot" (highest dot product first) or
    "euclidean" (smallest distance first; the scores are then distances). Ties go to the smaller index, so results
    are deterministic.

    >>> idx, scores = top_k([1, 0], [[0, 2], [3, 0], [1, 0.5]], k=2)
    >>> idx.tolist(), scores.round(4).tolist()
    ([1, 2], [1.0, 0.8944])
    >>> top_k([1, 0], [[0, 2], [3, 0], [1, 0.5]], k=2, metric="euclidean")[0].tolist()
    [2, 1]
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {', '.join(_METRICS)}, got {metric!r}")
    q = to_numpy(query, "query")
    if q.ndim != 1:
        raise ValueError(f"query must be one vector (1-D), got shape {q.shape}")
    M = to_numpy(matrix, "matrix")
    if M.ndim != 2 or M.shape[1] != q.shape[0]:
        raise ValueError(f"matrix must have shape (n, {q.shape[0]}) to match the query, got {M.shape}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ValueError(f"k must be a whole number, got {k!r}")
    if not 1 <= k <= M.shape[0]:
        raise ValueError(f"k must be between 1 and {M.shape[0]} (the number of rows), got {k}")
    if metric == "cosine":
        if _lp(q, 2.0) == 0:
            raise ValueError("query is a zero vector: it has no direction, so cosine similarity is undefined")
        scores = pairwise_cosine(q, M)[0]
        best = scores
    elif metric == "dot":
        scores = M @ q
        best = scores
    else:
        scores = pairwise_euclidean(q, M)[0]
        best = -scores                                               # the smallest distance is the best
    order, _ = top_k_from_scores(best, int(k))
    return order, scores[order]


def _check_k(k, n: int) -> int:
    """The one rule for a valid ``k`` when keeping the best ``k`` of ``n`` candidates."""
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and {n} (the size of the collection), got {k!r}")
    return int(k)


def top_k_from_scores(scores, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest scores, best first; ties go to the smaller index.

    The last step of every search in the course (:func:`top_k`, BM25, the vector indexes of notebook 07, nearest
    words). Works on one score vector (n,) or a batch (q, n); uses a partial sort, so it stays fast for large n.

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


def analogy_vector(a, b, c):
    """"a is to b as c is to ?": the vector ``b - a + c`` whose nearest word answers it (3CosAdd, when a, b and c are
    unit vectors). Works on numpy arrays and torch tensors alike (only ``-`` and ``+``).

    >>> analogy_vector(np.array([1.0, 0.0]), np.array([1.0, 1.0]), np.array([0.0, 2.0])).tolist()
    [0.0, 3.0]
    """
    return b - a + c
