"""Measuring retrieval (notebook 07, section 5): recall@k, MRR and the rank of each query's gold document.

- :func:`recall_at_k` and :func:`mrr` - from ranked lists of document ids;
- :func:`gold_ranks` and :func:`evaluate_scores` - from a full (queries, documents) score matrix.
"""
from __future__ import annotations

import numpy as np


def _gold_sets(gold, n: int) -> list[set]:
    if len(gold) != n:
        raise ValueError(f"got {n} ranked lists but {len(gold)} gold answers: one per query")
    return [set(g) if isinstance(g, (set, frozenset, list, tuple)) else {g} for g in gold]


def recall_at_k(ranked, gold, k: int) -> float:
    """Mean over queries of the fraction of a query's relevant documents found in its first ``k`` results.

    ``ranked``: one list of document ids per query, best first. ``gold``: per query one relevant id, or a set.
    With one relevant document per query this is the share of queries whose answer is in the top k.

    >>> recall_at_k([[3, 1, 2], [0, 2, 1]], gold=[1, 1], k=2)
    0.5
    >>> recall_at_k([[3, 1, 2]], gold=[{1, 2}], k=2)
    0.5
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    ranked = [list(r) for r in ranked]
    if not ranked:
        raise ValueError("no queries to evaluate")
    golds = _gold_sets(gold, len(ranked))
    return float(np.mean([len(g & set(r[:k])) / len(g) for r, g in zip(ranked, golds)]))


def mrr(ranked, gold) -> float:
    """Mean reciprocal rank: average of 1 / (position of the first relevant result), 0 when none was retrieved.

    >>> mrr([[3, 1, 2], [1, 0, 2], [0, 2, 3]], gold=[1, 1, 1])
    0.5
    """
    ranked = [list(r) for r in ranked]
    if not ranked:
        raise ValueError("no queries to evaluate")
    golds = _gold_sets(gold, len(ranked))
    total = 0.0
    for r, g in zip(ranked, golds):
        for position, doc in enumerate(r, start=1):
            if doc in g:
                total += 1 / position
                break
    return total / len(ranked)


def gold_ranks(scores, gold) -> np.ndarray:
    """Rank (1 = best) of each query's single gold document in a full score matrix (q, n); ties -> smaller index first.

    Cheaper than sorting: count the documents that beat the gold one.

    >>> gold_ranks(np.array([[0.1, 0.9, 0.5], [0.3, 0.3, 0.2]]), gold=[2, 1]).tolist()
    [2, 2]
    """
    S = np.asarray(scores)
    g = np.asarray(gold)
    if S.ndim != 2 or g.shape != (S.shape[0],):
        raise ValueError(f"need scores (q, n) and one gold index per query, got {S.shape} and {g.shape}")
    gold_score = S[np.arange(len(g)), g][:, None]
    before = (S > gold_score) | ((S == gold_score) & (np.arange(S.shape[1])[None, :] < g[:, None]))
    return before.sum(axis=1) + 1


def evaluate_scores(scores, gold, ks=(1, 5, 10)) -> dict[str, float]:
    """recall@k for every k in ``ks`` and MRR, from a full score matrix (q, n) and one gold index per query.

    >>> evaluate_scores(np.array([[0.1, 0.9, 0.5], [0.3, 0.3, 0.2]]), [1, 1], ks=(1, 2))
    {'recall@1': 0.5, 'recall@2': 1.0, 'MRR': 0.75}
    """
    ranks = gold_ranks(scores, gold)
    result = {f"recall@{k}": float(np.mean(ranks <= k)) for k in ks}
    result["MRR"] = float(np.mean(1 / ranks))
    return result
