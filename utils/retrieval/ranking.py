"""Top-k selection, the one step every searcher of notebook 07 ends with (sections 3-7).

BM25, TF-IDF, the exact :class:`~utils.retrieval.dense.VectorIndex`, the faiss index and the extractive answer all
score candidates and keep the ``k`` best. That step, :func:`~utils.vectors.top_k_from_scores`, and ``_check_k``, the
one place that says what a valid ``k`` is, live in :mod:`utils.vectors` (with cosine similarity and ``top_k``); this
module gives them to the retrieval package under the names it has always used.
"""
from __future__ import annotations

from utils.vectors import _check_k, top_k_from_scores

__all__ = ["top_k_from_scores"]
