"""Fair evaluation of retrievers: the same queries, the same chunks and the same cut-off for everyone.

recall@k and MRR come from notebook 07 (:mod:`utils.retrieval`); this module adds nDCG@k, the gold sets of the
labelled multi-format queries (chunk level and document level), and one table for several retrievers.
"""
from __future__ import annotations

import math

import numpy as np

from utils.retrieval import mrr, recall_at_k


def ndcg_at_k(ranked, relevant, k: int = 10) -> float:
    """Mean normalised discounted cumulative gain at ``k`` with binary relevance.

    Per query: DCG = sum over the first ``k`` results of rel_i / log2(i + 1) (i = 1 for the top result), divided by
    the best possible DCG (all relevant results first, at most ``k`` of them). A relevant result counts less the
    lower it is ranked; 1.0 means every relevant chunk that fits is at the top.

    >>> round(ndcg_at_k([["a", "x", "b"]], [{"a", "b"}], k=10), 4)    # (1 + 1/2) / (1 + 1/log2(3))
    0.9197
    >>> ndcg_at_k([["x", "y"]], [{"a"}], k=10)
    0.0
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    ranked = [list(r) for r in ranked]
    if not ranked or len(ranked) != len(relevant):
        raise ValueError(f"need one ranked list and one relevant set per query, got {len(ranked)} and "
                         f"{len(relevant)}")
    total = 0.0
    for r, rel in zip(ranked, relevant):
        rel = set(rel) if isinstance(rel, (set, frozenset, list, tuple)) else {rel}
        if not rel:
            raise ValueError("every query needs at least one relevant id")
        dcg = sum(1 / math.log2(i + 1) for i, doc in enumerate(r[:k], start=1) if doc in rel)
        ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(rel), k) + 1))
        total += dcg / ideal
    return total / len(ranked)


def metrics(ranked, relevant, ks=(1, 5, 10)) -> dict[str, float]:
    """recall@k for each k, MRR and nDCG@10 of ranked lists against sets of relevant ids.

    >>> metrics([["a", "b"], ["c", "d"]], [{"b"}, {"x"}], ks=(1, 2))
    {'recall@1': 0.0, 'recall@2': 0.5, 'MRR': 0.25, 'nDCG@10': 0.3155}
    """
    out = {f"recall@{k}": round(recall_at_k(ranked, relevant, k), 4) for k in ks}
    out["MRR"] = round(mrr(ranked, relevant), 4)
    out["nDCG@10"] = round(ndcg_at_k(ranked, relevant, 10), 4)
    return out


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def relevant_chunks(query: dict, chunks) -> set[str]:
    """Chunk ids that answer a labelled query: from its ``source`` and containing its ``contains`` phrase
    (case and white space ignored). Raises when the label matches nothing, so a stale label cannot pass silently."""
    phrase = _normal(query["contains"])
    found = {c.chunk_id for c in chunks if c.source == query["source"] and phrase in _normal(c.text)}
    if not found:
        raise ValueError(f"no chunk of {query['source']} contains {query['contains']!r}: fix the label")
    return found


def document_ranking(chunk_ids) -> list[str]:
    """Sources in the order their first chunk appears: a chunk ranking seen at document (topic) level.

    >>> document_ranking(["a.md#3", "b.py#0", "a.md#1"])
    ['a.md', 'b.py']
    """
    return list(dict.fromkeys(cid.rsplit("#", 1)[0] for cid in chunk_ids))


def table(results: dict[str, dict[str, float]]) -> str:
    """Format {retriever: metrics} as an aligned text table.

    >>> print(table({"bm25": {"MRR": 0.5}, "dense": {"MRR": 0.25}}))
    retriever            MRR
    bm25               0.500
    dense              0.250
    """
    names = list(next(iter(results.values())))
    lines = [f"{'retriever':14s}" + "".join(f"{n:>10s}" for n in names)]
    for retriever, row in results.items():
        lines.append(f"{retriever:14s}" + "".join(f"{row[n]:10.3f}" for n in names))
    return "\n".join(lines)
