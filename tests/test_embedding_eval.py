"""Paired bootstrap, probe set, linear probe and clustering score (utils/embedding_eval.py)."""
import numpy as np

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
