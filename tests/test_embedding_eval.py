"""Paired bootstrap, probe set, linear probe and clustering score (utils/embedding_eval.py)."""
import numpy as np
import pytest

from utils import embedding_eval


def test_paired_bootstrap_interval():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=200)
    better = embedding_eval.paired_bootstrap(a, a + 0.1 + 0.01 * rng.normal(size=200))
    assert better["low"] > 0 and abs(better["mean_diff"] - 0.1) < 0.01
    same = embedding_eval.paired_bootstrap(a, a + rng.normal(scale=0.2, size=200))
    assert same["low"] < 0 < same["high"]
    assert embedding_eval.paired_bootstrap(a, a + 0.05, seed=3) == embedding_eval.paired_bootstrap(a, a + 0.05, seed=3)


def test_probe_and_cluster_on_separable_data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    X = np.eye(3)[y] * 5 + rng.normal(size=(120, 3))
    assert embedding_eval.linear_probe(X[::2], y[::2], X[1::2], y[1::2]) > 0.9
    assert embedding_eval.cluster_score(X, y) > 0.7
    assert embedding_eval.cluster_score(rng.normal(size=(120, 3)), y) < 0.2


def test_probe_set_is_balanced_and_deterministic():
    texts, labels = embedding_eval.probe_set(per_class=10)
    assert len(texts) == 80 and np.bincount(labels).tolist() == [10] * 8
    again_texts, again_labels = embedding_eval.probe_set(per_class=10)
    assert again_texts == texts and np.array_equal(again_labels, labels)


def test_recall_hits_counts_ties_against_the_gold_and_truncates_the_first_numbers():
    Q = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    D = np.array([[1.0, 0.0, 5.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    # query 0: doc 1 is an exact match, doc 0 is far once its third number counts; query 1: doc 2
    assert embedding_eval.recall_hits(Q, D, [1, 2], k=1).tolist() == [1.0, 1.0]
    # first 2 numbers only: docs 0 and 1 tie for query 0, and a tie is no hit at k = 1 (but is at k = 2)
    assert embedding_eval.recall_hits(Q, D, [1, 2], k=1, dim=2).tolist() == [0.0, 1.0]
    assert embedding_eval.recall_hits(Q, D, [1, 2], k=2, dim=2).tolist() == [1.0, 1.0]
    assert embedding_eval.recall_by_dimension(Q, D, [1, 2], dims=(2, 3), k=1) == {2: 0.5, 3: 1.0}
    with pytest.raises(ValueError, match="dim must be between 1 and 3"):
        embedding_eval.recall_hits(Q, D, [1, 2], dim=4)
    with pytest.raises(ValueError, match="one gold document per query"):
        embedding_eval.recall_hits(Q, D, [1])
