"""Judging embeddings beyond one retrieval number (notebook 11, sections 6 to 10).

- :func:`paired_bootstrap` - is B really better than A on these queries? The interval of the mean per-query
  difference, resampling the queries (the same resample for both systems: "paired");
- :func:`recall_hits` - 1 where a query's right document is in its top k, per query, optionally using only the
  first ``dim`` numbers of each vector (a truncated, Matryoshka-style embedding);
- :func:`recall_by_dimension` - recall@k at several truncation lengths (the Matryoshka curve);
- :func:`per_query_ndcg` - nDCG@k of each query separately (notebook 10's :func:`utils.rag.evaluate.ndcg_at_k`);
- :func:`dense_ndcg` - the same, ranking documents by the cosine of their vectors with each query's;
- :func:`probe_set` - WordNet glosses labelled with their lexicographer file (noun.animal, noun.artifact, ...);
- :func:`linear_probe` - accuracy of a logistic regression trained on frozen embeddings ("embeddings as features");
- :func:`cluster_score` - k-means on the embeddings, scored against the labels (V-measure: 1 = the clusters are the
  classes, 0 = unrelated);
- :func:`wilson_interval` - the uncertainty of an accuracy measured on n test items (a binomial interval).

>>> r = paired_bootstrap(np.array([0.2, 0.4, 0.5, 0.1]), np.array([0.6, 0.8, 0.9, 0.5]), n_resamples=200)
>>> r["mean_diff"], r["low"], r["high"]                             # B beats A by 0.4 on every query
(0.4, 0.4, 0.4)
"""
from __future__ import annotations

import numpy as np

from utils.rag.evaluate import ndcg_at_k

__all__ = ["paired_bootstrap", "recall_hits", "recall_by_dimension", "per_query_ndcg", "dense_ndcg", "PROBE_CLASSES",
           "probe_set", "linear_probe", "cluster_score", "wilson_interval"]

#: Eight concrete noun topics of WordNet's lexicographer files, the labels of the probe set.
PROBE_CLASSES = ("noun.animal", "noun.artifact", "noun.body", "noun.food", "noun.location", "noun.person",
                 "noun.plant", "noun.substance")


def paired_bootstrap(a, b, n_resamples: int = 10000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Mean of ``b - a`` over queries and its percentile bootstrap interval -> {"mean_diff", "low", "high", "n"}.

    ``a``, ``b``: one score per query (the same queries, the same order) for two systems. Each resample draws the
    queries with replacement and averages the differences; the interval holds the middle ``confidence`` of those
    means. An interval that contains 0 means these queries cannot tell the two systems apart.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or len(a) < 2:
        raise ValueError(f"need two score vectors of the same length >= 2, got {a.shape} and {b.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    diff = b - a
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(n_resamples, len(diff)))].mean(axis=1)   # (n_resamples,)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return {"mean_diff": round(float(diff.mean()), 4), "low": round(float(low), 4), "high": round(float(high), 4),
            "n": len(diff)}


def recall_hits(queries, documents, gold, k: int = 10, dim: int | None = None) -> np.ndarray:
    """(q,) float array: 1.0 where document ``gold[i]`` is among the ``k`` highest cosines of query ``i``, else 0.

    ``queries`` (q, D), ``documents`` (n, D): any vectors (not necessarily unit rows). ``dim``: keep only the first
    ``dim`` numbers of every vector and normalise again, as a vector database storing truncated embeddings would.
    A document scoring exactly like the gold one counts as ranked above it (a tie is no hit).

    >>> Q = np.array([[1., 0.], [0., 1.]]); D = np.array([[1., 0.1], [0.9, -1.]])
    >>> recall_hits(Q, D, [0, 1], k=1).tolist(), recall_hits(Q, D, [0, 1], k=1, dim=1).tolist()
    ([1.0, 0.0], [0.0, 0.0])
    """
    Q, D = np.asarray(queries, dtype=np.float64), np.asarray(documents, dtype=np.float64)
    gold = np.asarray(gold)
    if Q.ndim != 2 or D.ndim != 2 or Q.shape[1] != D.shape[1]:
        raise ValueError(f"queries and documents must be (q, D) and (n, D) matrices, got {Q.shape} and {D.shape}")
    if gold.shape != (len(Q),):
        raise ValueError(f"need one gold document per query: {len(Q)} queries, gold of shape {gold.shape}")
    if dim is not None:
        if not 1 <= dim <= Q.shape[1]:
            raise ValueError(f"dim must be between 1 and {Q.shape[1]}, got {dim}")
        Q, D = Q[:, :dim], D[:, :dim]                                          # the FIRST dim numbers
    Q = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    D = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-12)
    S = Q @ D.T                                                                # (q, n) cosines
    above = (S >= S[np.arange(len(S)), gold][:, None]).sum(axis=1) - 1        # documents at least as good as gold
    return (above < k).astype(float)


def recall_by_dimension(queries, documents, gold, dims, k: int = 10) -> dict:
    """{dim: recall@k using the first ``dim`` numbers of every vector} for each ``dim`` in ``dims``."""
    return {int(m): round(float(recall_hits(queries, documents, gold, k, dim=int(m)).mean()), 4) for m in dims}


def per_query_ndcg(ranked, relevant, k: int = 10) -> np.ndarray:
    """nDCG@k of each query on its own, (q,) - the numbers :func:`paired_bootstrap` resamples."""
    if len(ranked) != len(relevant):
        raise ValueError(f"need one relevant set per ranked list, got {len(ranked)} and {len(relevant)}")
    return np.array([ndcg_at_k([r], [g], k) for r, g in zip(ranked, relevant)])


def dense_ndcg(queries, documents, relevant, k: int = 10) -> np.ndarray:
    """(q,) nDCG@k of each query when the documents are ranked by cosine with it (ties: the lower row first).

    ``queries`` (q, D), ``documents`` (n, D): any vectors (rows are normalised here); ``relevant``: per query, the
    set of document rows that answer it (or one row number).

    >>> Q = np.array([[1., 0.], [0., 1.]]); D = np.array([[1., 0.], [0.6, 0.8], [0., 1.]])
    >>> dense_ndcg(Q, D, [{0}, {1}], k=10).round(3).tolist()        # query 1's answer comes second
    [1.0, 0.631]
    """
    Q, D = np.asarray(queries, dtype=np.float64), np.asarray(documents, dtype=np.float64)
    if Q.ndim != 2 or D.ndim != 2 or Q.shape[1] != D.shape[1]:
        raise ValueError(f"queries and documents must be (q, D) and (n, D) matrices, got {Q.shape} and {D.shape}")
    Q = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-12)
    D = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), 1e-12)
    ranked = np.argsort(-(Q @ D.T), axis=1, kind="stable")[:, :k]            # (q, k) document rows, best first
    relevant = [g if isinstance(g, (set, frozenset, list, tuple)) else {g} for g in relevant]
    return per_query_ndcg([r.tolist() for r in ranked], [{int(x) for x in g} for g in relevant], k)


def probe_set(per_class: int = 100, seed: int = 0, classes=PROBE_CLASSES, exclude=()) -> tuple[list[str], np.ndarray]:
    """``per_class`` definitions of each lexicographer file in ``classes`` (seeded choice, synsets in ``exclude``
    skipped) -> (texts, labels (n,) int index into ``classes``), shuffled."""
    from utils.wordnet import lexicographer_files, load_synsets
    lexfile, skip = lexicographer_files(), set(exclude)
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for c, name in enumerate(classes):
        members = [s.definition for s in load_synsets() if lexfile.get(s.id) == name and s.id not in skip]
        if len(members) < per_class:
            raise ValueError(f"{name} has only {len(members)} synsets, fewer than per_class={per_class}")
        texts += [members[i] for i in rng.choice(len(members), per_class, replace=False)]
        labels += [c] * per_class
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], np.array(labels)[order]


def linear_probe(X_train, y_train, X_test, y_test, C: float = 1.0, per_item: bool = False):
    """Accuracy on the test rows of a multinomial logistic regression fitted on the (frozen) training embeddings.

    ``per_item=True`` returns the (n_test,) array of 1.0 (right) / 0.0 (wrong) instead, so two embedders probed on
    the same test items can be compared with :func:`paired_bootstrap`.
    """
    from sklearn.linear_model import LogisticRegression
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(np.asarray(X_train), np.asarray(y_train))
    right = (clf.predict(np.asarray(X_test)) == np.asarray(y_test)).astype(float)
    return right if per_item else float(right.mean())


def cluster_score(X, labels, seed: int = 0) -> float:
    """V-measure of k-means clusters (k = number of labels, 4 seeded starts) against the labels, 0..1."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import v_measure_score
    labels = np.asarray(labels)
    km = KMeans(n_clusters=len(np.unique(labels)), n_init=4, random_state=seed).fit(np.asarray(X))
    return float(v_measure_score(labels, km.labels_))


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of an accuracy of ``correct`` right out of ``n`` independent test items -> (low, high).

    Unlike "p plus or minus 1.96 standard errors" it stays inside [0, 1] and is sensible near 0 and 1.

    >>> [round(x, 3) for x in wilson_interval(80, 100)]                # 0.8 measured on 100 items
    [0.711, 0.867]
    """
    from statistics import NormalDist
    if not (isinstance(n, (int, np.integer)) and n >= 1 and 0 <= correct <= n):
        raise ValueError(f"need 0 <= correct <= n and n >= 1, got correct={correct!r}, n={n!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(centre - half), float(centre + half)
