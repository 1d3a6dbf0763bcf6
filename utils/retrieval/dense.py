"""Exact vector search (notebook 07, section 3) and the averaged word vectors of section 5.

- :class:`VectorIndex` - unit-length rows, one matrix-vector product per query, saved to / loaded from ``.npz``
  (tagged with :data:`INDEX_FORMAT`);
- :func:`cosine_scores` - all query-document cosines at once, zero rows allowed;
- :func:`average_word_vectors` - one vector per text from notebook 05's word vectors.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from utils.retrieval.lexical import tokenize
from utils.vectors import _check_k, top_k_from_scores
from utils.vectors import normalize_rows, to_numpy, unit_rows

INDEX_FORMAT = "course-vector-index-v1"  # written into every saved VectorIndex; load() refuses any other value


class VectorIndex:
    """Exact cosine search: store unit-length rows, answer a query with one matrix-vector product.

    >>> index = VectorIndex(dim=2)
    >>> index.add([[1, 0], [0, 1], [1, 1]], ids=["east", "north", "north-east"])
    >>> ids, scores = index.search([1, 0.2], k=2)
    >>> ids, [round(float(s), 3) for s in scores]
    (['east', 'north-east'], [0.981, 0.832])
    """

    def __init__(self, dim: int):
        if not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self.vectors = np.zeros((0, self.dim), dtype=np.float32)  # (n, dim), unit rows
        self.ids: list = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, vectors, ids=None) -> None:
        """Append vectors (n, dim) with their ids (default: running numbers). Zero vectors are refused."""
        X = to_numpy(vectors, "vectors")
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"dimension mismatch: the index holds {self.dim}-dim vectors, got shape {X.shape}")
        ids = list(range(len(self), len(self) + len(X))) if ids is None else list(ids)
        if len(ids) != len(X):
            raise ValueError(f"got {len(X)} vectors but {len(ids)} ids")
        self.vectors = np.vstack([self.vectors, normalize_rows(X).astype(np.float32)])
        self.ids.extend(ids)

    def search_many(self, queries, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Positions (q, k) and cosine scores (q, k) of the best rows for a batch of queries (q, dim)."""
        Q = to_numpy(queries, "queries")
        if Q.ndim == 1:
            Q = Q[None, :]
        if Q.ndim != 2 or Q.shape[1] != self.dim:
            raise ValueError(f"dimension mismatch: the index holds {self.dim}-dim vectors, "
                             f"queries have shape {Q.shape}")
        if len(self) == 0:
            raise ValueError("the index is empty: add vectors before searching")
        _check_k(k, len(self))
        scores = normalize_rows(Q).astype(np.float32) @ self.vectors.T  # (q, n): all cosines at once
        return top_k_from_scores(scores, k)

    def search(self, query, k: int = 5) -> tuple[list, np.ndarray]:
        """The ids and cosine scores of the ``k`` most similar stored vectors to one query, best first."""
        q = to_numpy(query, "query")
        if q.ndim != 1:
            raise ValueError(f"search takes one query vector (dim,), got shape {q.shape}: use search_many")
        positions, scores = self.search_many(q[None, :], k)
        return [self.ids[i] for i in positions[0]], scores[0]

    def save(self, path) -> Path:
        """Write vectors, ids and a format tag to a ``.npz`` file (the suffix is added if missing); returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")  # np.savez would add it silently; say so in the returned path
        ids = np.array(self.ids) if self.ids else np.zeros(0, dtype=np.int64)
        if ids.dtype.kind not in "iuU":
            raise ValueError(f"ids must all be integers or all be strings to be saved, got {ids.dtype} values")
        np.savez(path, format=np.array(INDEX_FORMAT), dim=np.array(self.dim), vectors=self.vectors, ids=ids)
        return path

    @classmethod
    def load(cls, path) -> "VectorIndex":
        """Read an index written by :meth:`save`; a missing, damaged or other-version file -> one-line ValueError."""
        path = Path(path)
        if not path.exists() and path.suffix != ".npz" and path.with_name(path.name + ".npz").exists():
            path = path.with_name(path.name + ".npz")
        if not path.exists():
            raise ValueError(f"no index file at {path}")
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as exc:  # not a zip / npz at all
            raise ValueError(f"{path.name} is not a saved VectorIndex (.npz): {type(exc).__name__}") from None
        if not hasattr(data, "files"):
            raise ValueError(f"{path.name} holds a single array, not a saved VectorIndex (.npz)")
        with data:
            found = str(data["format"]) if "format" in data.files else "no format tag"
            if found != INDEX_FORMAT:
                raise ValueError(f"{path.name} is not a {INDEX_FORMAT} file (found {found!r}): rebuild the index")
            missing = {"dim", "vectors", "ids"} - set(data.files)
            if missing:
                raise ValueError(f"{path.name} is damaged: missing {', '.join(sorted(missing))}")
            vectors, ids = data["vectors"], data["ids"].tolist()
            index = cls(dim=int(data["dim"]))
        if vectors.ndim != 2 or vectors.shape[1] != index.dim or len(ids) != len(vectors):
            raise ValueError(f"{path.name} is damaged: vectors {vectors.shape}, {len(ids)} ids, dim {index.dim}")
        index.vectors = vectors.astype(np.float32)
        index.ids = ids
        return index


def cosine_scores(queries, documents) -> np.ndarray:
    """(q, d) x (n, d) -> (q, n) cosines. Unlike ``pairwise_cosine`` a zero row is allowed: it scores 0 with all.

    Used for averaged word vectors, where a text with no known word has no vector.

    >>> cosine_scores([[1, 0], [0, 0]], [[2, 0], [1, 1]]).round(4).tolist()
    [[1.0, 0.7071], [0.0, 0.0]]
    """
    Q, D = unit_rows(to_numpy(queries, "queries")), unit_rows(to_numpy(documents, "documents"))
    if Q.shape[1] != D.shape[1]:
        raise ValueError(f"dimension mismatch: queries have {Q.shape[1]} numbers, documents {D.shape[1]}")
    return Q @ D.T


def average_word_vectors(texts, wv, tokenizer=tokenize) -> tuple[np.ndarray, np.ndarray]:
    """One vector per text: the mean of the word vectors of its known words (notebook 05's SGNS vectors).

    ``wv`` needs ``word in wv``, ``wv.index(word)`` and ``wv.vectors`` (V, d). Returns the (n, d) matrix and a
    boolean mask of the texts that had at least one known word (the others get a zero row).
    """
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not one string")
    d = np.asarray(wv.vectors).shape[1]
    out = np.zeros((len(texts), d), dtype=np.float32)
    covered = np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        rows = [wv.index(w) for w in tokenizer(text) if w in wv]
        if rows:
            out[i] = np.asarray(wv.vectors)[rows].mean(axis=0)
            covered[i] = True
    return out, covered
