"""Fair evaluation of retrievers: the same queries, the same chunks and the same cut-off for everyone.

recall@k and MRR come from notebook 07 (:mod:`utils.retrieval`); this module adds nDCG@k (:func:`query_ndcg` for one
query, :func:`ndcg_at_k` averaged over queries), the gold sets of the labelled multi-format queries (chunk level and
document level), one table for several retrievers, and the uncertainty of a difference between two retrievers
(:func:`per_query` scores and :func:`paired_bootstrap` intervals over the queries).
"""
from __future__ import annotations

import math

import numpy as np

from utils.retrieval import mrr, recall_at_k


def query_ndcg(ranked, relevant, k: int = 10) -> float:
    """nDCG@k of ONE ranked list of ids against a set of relevant ids (binary relevance).

    DCG = sum over the first ``k`` results of rel_i / log2(i + 1) (i = 1 for the top result), divided by the best
    possible DCG (``min(len(relevant), k)`` relevant results at ranks 1, 2, ...). A query with no relevant id cannot
    be scored: ValueError.

    >>> round(query_ndcg(["x", "a"], {"a"}, 10), 3)          # (1 / log2(3)) / 1
    0.631
    >>> query_ndcg(["a"], set(), 10)
    Traceback (most recent call last):
    ...
    ValueError: a query needs at least one relevant id to be scored
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    rel = set(relevant) if isinstance(relevant, (set, frozenset, list, tuple)) else {relevant}
    if not rel:
        raise ValueError("a query needs at least one relevant id to be scored")
    dcg = sum(1 / math.log2(i + 1) for i, doc in enumerate(list(ranked)[:k], start=1) if doc in rel)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(rel), k) + 1))
    return dcg / ideal


def ndcg_at_k(ranked, relevant, k: int = 10) -> float:
    """Mean normalised discounted cumulative gain at ``k`` over queries: :func:`query_ndcg` of each ranked list
    against its set of relevant ids. 1.0 means every relevant chunk that fits is at the top.

    >>> round(ndcg_at_k([["a", "x", "b"]], [{"a", "b"}], k=10), 4)    # (1 + 1/2) / (1 + 1/log2(3))
    0.9197
    >>> ndcg_at_k([["x", "y"]], [{"a"}], k=10)
    0.0
    """
    ranked = [list(r) for r in ranked]
    if not ranked or len(ranked) != len(relevant):
        raise ValueError(f"need one ranked list and one relevant set per query, got {len(ranked)} and "
                         f"{len(relevant)}")
    return sum(query_ndcg(r, rel, k) for r, rel in zip(ranked, relevant)) / len(ranked)


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


def relevant_chunks(query: dict, chunks, allow_cut: bool = False) -> set[str]:
    """Chunk ids that answer a labelled query: from its ``source`` and containing its ``contains`` phrase
    (case and white space ignored). Raises when the label matches nothing, so a stale label cannot pass silently.

    ``allow_cut=True`` is the rule for smaller chunks, where a cut can fall inside the phrase: when no chunk holds
    the whole phrase, two consecutive chunks of ``source`` (by index) whose first ends with the phrase's first words
    and whose second starts with the rest are both relevant.

    >>> from utils.rag.ingest import DocChunk
    >>> parts = [DocChunk("a.py", 0, "x = 1\\ndef f(", "code"), DocChunk("a.py", 1, "y):\\n    pass", "code")]
    >>> sorted(relevant_chunks({"source": "a.py", "contains": "def f( y):"}, parts, allow_cut=True))
    ['a.py#0', 'a.py#1']
    """
    phrase = _normal(query["contains"])
    found = {c.chunk_id for c in chunks if c.source == query["source"] and phrase in _normal(c.text)}
    if not found and allow_cut:
        words = phrase.split()
        same = sorted((c for c in chunks if c.source == query["source"]), key=lambda c: c.index)
        for first, second in zip(same, same[1:]):
            a, b = " " + _normal(first.text), _normal(second.text) + " "
            if any(a.endswith(" " + " ".join(words[:i])) and b.startswith(" ".join(words[i:]) + " ")
                   for i in range(1, len(words))):
                found |= {first.chunk_id, second.chunk_id}
    if not found:
        raise ValueError(f"no chunk of {query['source']} contains {query['contains']!r}: fix the label")
    return found


def first_hit_scores(ranked, relevant, k: int = 5, ndcg_k: int = 10) -> dict[str, np.ndarray]:
    """Per query, scored by its FIRST relevant result only: found@k (1 if it is in the top ``k``) and nDCG@ndcg_k
    with one relevant item (1 / log2(rank + 1), 0 below ``ndcg_k``). Where overlapping chunks repeat an answer, or a
    cut splits it, finding one of its chunks answers the query, so chunkings with different numbers of relevant
    chunks per query are scored alike. With one relevant chunk per query these are recall@k and nDCG@k.

    >>> {n: v.tolist() for n, v in first_hit_scores([["x", "a", "b"], ["y"]], [{"a", "b"}, {"z"}], k=1).items()}
    {'found@1': [0.0, 0.0], 'nDCG@10': [0.6309297535714575, 0.0]}
    """
    ranked = [list(r) for r in ranked]
    if not ranked or len(ranked) != len(relevant):
        raise ValueError(f"need one ranked list and one relevant set per query, got {len(ranked)} and "
                         f"{len(relevant)}")
    first = [next((i for i, d in enumerate(r, start=1) if d in set(g)), None) for r, g in zip(ranked, relevant)]
    return {f"found@{k}": np.array([float(f is not None and f <= k) for f in first]),
            f"nDCG@{ndcg_k}": np.array([1 / math.log2(f + 1) if f is not None and f <= ndcg_k else 0.0
                                        for f in first])}


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


def per_query(ranked, relevant, ks=(1, 5, 10)) -> dict[str, np.ndarray]:
    """The metrics of :func:`metrics` for each query separately (their means are the table's numbers), so that two
    retrievers can be compared query by query.

    >>> {name: v.tolist() for name, v in per_query([["a", "b"], ["c", "d"]], [{"b"}, {"x"}], ks=(1,)).items()}
    {'recall@1': [0.0, 0.0], 'MRR': [0.5, 0.0], 'nDCG@10': [0.6309297535714575, 0.0]}
    """
    ranked = [list(r) for r in ranked]
    golds = [set(g) if isinstance(g, (set, frozenset, list, tuple)) else {g} for g in relevant]
    if not ranked or len(ranked) != len(golds):
        raise ValueError(f"need one ranked list and one relevant set per query, got {len(ranked)} and {len(golds)}")
    out = {f"recall@{k}": np.array([len(g & set(r[:k])) / len(g) for r, g in zip(ranked, golds)]) for k in ks}
    out["MRR"] = np.array([next((1 / i for i, d in enumerate(r, start=1) if d in g), 0.0)
                           for r, g in zip(ranked, golds)])
    out["nDCG@10"] = np.array([query_ndcg(r, g, 10) for r, g in zip(ranked, golds)])
    return out


def paired_bootstrap(a, b, n_boot: int = 10_000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of the per-query differences ``a - b`` and its percentile bootstrap interval: (mean, low, high).

    ``a`` and ``b`` are the same metric of two retrievers on the SAME queries (paired). The queries are resampled
    with replacement ``n_boot`` times (one generator seeded with ``seed``, so the interval is reproducible); the
    interval holds the middle ``level`` of the resampled means. An interval that contains 0 means these queries
    cannot tell the two retrievers apart.

    >>> paired_bootstrap([1, 1, 1, 1], [0, 0, 0, 0])
    (1.0, 1.0, 1.0)
    >>> mean, low, high = paired_bootstrap([1, 0, 1, 0, 1, 1], [0, 1, 0, 0, 1, 1])
    >>> round(mean, 3), low < 0 < high
    (0.167, True)
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"need two equally long 1-D lists of per-query scores, got shapes {a.shape} and {b.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    diff = a - b                                                               # (n_queries,)
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, diff.size, size=(n_boot, diff.size))             # (n_boot, n_queries) query indices
    means = diff[samples].mean(axis=1)                                         # (n_boot,)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(diff.mean()), float(low), float(high)
