"""Approximate search with faiss (notebook 07, section 6): :class:`FaissIndex`, exact (flat) or approximate (HNSW,
IVF), with the same cosine scores as :class:`~utils.retrieval.dense.VectorIndex`. faiss is imported only when an
index is built.
"""
from __future__ import annotations

import numpy as np

from utils.vectors import _check_k
from utils.vectors import normalize_rows, to_numpy


class FaissIndex:
    """Cosine search through faiss: ``kind`` "flat" (exact), "hnsw" (graph, approximate) or "ivf" (clusters).

    Vectors are scaled to unit length and compared by inner product, so scores are cosines like VectorIndex's.
    ``threads=1`` (the default) keeps builds and results reproducible.

    >>> index = FaissIndex(dim=2, kind="flat")
    >>> index.add(np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32))
    >>> index.search(np.array([[1, 0.2]], dtype=np.float32), k=2)[0].tolist()
    [[0, 2]]
    """

    def __init__(self, dim: int, kind: str = "flat", *, hnsw_m: int = 32, ef_construction: int = 64,
                 ef_search: int = 64, n_lists: int = 256, n_probe: int = 16, threads: int | None = 1, seed: int = 0):
        import faiss

        if not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if threads is not None:
            faiss.omp_set_num_threads(threads)
        self.faiss, self.dim, self.kind, self.seed = faiss, int(dim), kind, seed
        ip = faiss.METRIC_INNER_PRODUCT
        if kind == "flat":
            self.index = faiss.IndexFlatIP(self.dim)
        elif kind == "hnsw":
            self.index = faiss.IndexHNSWFlat(self.dim, hnsw_m, ip)
            self.index.hnsw.efConstruction = ef_construction
            self.index.hnsw.efSearch = ef_search
        elif kind == "ivf":
            self.quantizer = faiss.IndexFlatIP(self.dim)
            self.index = faiss.IndexIVFFlat(self.quantizer, self.dim, n_lists, ip)
            self.index.nprobe = n_probe
            self.index.cp.seed = seed  # k-means initialisation
        else:
            raise ValueError(f"kind must be 'flat', 'hnsw' or 'ivf', got {kind!r}")

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def _prepare(self, X, name):
        X = to_numpy(X, name)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"dimension mismatch: the index holds {self.dim}-dim vectors, {name} have shape {X.shape}")
        return np.ascontiguousarray(normalize_rows(X), dtype=np.float32)

    def add(self, vectors) -> None:
        """Add (n, dim) vectors; an IVF index is first trained (k-means) on them."""
        X = self._prepare(vectors, "vectors")
        if not self.index.is_trained:
            self.index.train(X)
        self.index.add(X)

    def search(self, queries, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Positions (q, k) and cosine scores (q, k), best first."""
        Q = self._prepare(queries, "queries")
        if len(self) == 0:
            raise ValueError("the index is empty: add vectors before searching")
        k = _check_k(k, len(self))
        scores, positions = self.index.search(Q, k)
        return positions, scores
