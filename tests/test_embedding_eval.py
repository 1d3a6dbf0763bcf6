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


def test_dense_ndcg_ranks_by_cosine_and_matches_the_ranked_list_version():
    rng = np.random.default_rng(1)
    Q, D = rng.normal(size=(20, 5)), rng.normal(size=(30, 5))
    relevant = [{int(j), int((j + 7) % 30)} for j in rng.integers(0, 30, size=20)]
    cos = (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ (D / np.linalg.norm(D, axis=1, keepdims=True)).T
    ranked = [list(np.argsort(-row)[:10]) for row in cos]
    expected = embedding_eval.per_query_ndcg(ranked, relevant, k=10)
    got = embedding_eval.dense_ndcg(Q * 3.0, D, relevant, k=10)          # the scale of a vector does not matter
    assert np.allclose(got, expected)
    # one relevant row given as a number; a relevant document below the cut-off scores 0
    D2 = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    assert embedding_eval.dense_ndcg(np.array([[1.0, 0.0]]), D2, [2], k=2).tolist() == [0.0]
    assert embedding_eval.dense_ndcg(np.array([[1.0, 0.0]]), D2, [2], k=3).round(4).tolist() == [0.5]
    with pytest.raises(ValueError, match="matrices"):
        embedding_eval.dense_ndcg(Q, D[:, :4], relevant)


def test_linear_probe_per_item_is_the_accuracy_item_by_item():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(4), 30)
    X = np.eye(4)[y] * 1.5 + rng.normal(size=(120, 4))
    right = embedding_eval.linear_probe(X[::2], y[::2], X[1::2], y[1::2], per_item=True)
    assert right.shape == (60,) and set(np.unique(right)) <= {0.0, 1.0}
    assert right.mean() == embedding_eval.linear_probe(X[::2], y[::2], X[1::2], y[1::2])
    assert 0.4 < right.mean() < 1.0                                      # noisy classes: some right, some wrong


def test_wilson_interval_known_values_and_edges():
    low, high = embedding_eval.wilson_interval(80, 100)
    assert round(low, 4) == 0.7112 and round(high, 4) == 0.8666
    low, high = embedding_eval.wilson_interval(0, 20)                   # never below 0, still some width
    assert low == 0.0 and 0.1 < high < 0.2
    low, high = embedding_eval.wilson_interval(20, 20)
    assert high == pytest.approx(1.0) and 0.8 < low < 0.9
    wide, narrow = embedding_eval.wilson_interval(50, 100), embedding_eval.wilson_interval(500, 1000)
    assert 2.9 < (wide[1] - wide[0]) / (narrow[1] - narrow[0]) < 3.4       # ten times the items: sqrt(10) narrower
    assert embedding_eval.wilson_interval(50, 100, confidence=0.5)[1] < wide[1]
    with pytest.raises(ValueError, match="correct <= n"):
        embedding_eval.wilson_interval(11, 10)
    with pytest.raises(ValueError, match="confidence"):
        embedding_eval.wilson_interval(5, 10, confidence=1.5)
