"""utils.graph_walks: walks follow edges, the split keeps nodes trained, AUC and common neighbours on known cases."""
import numpy as np
import pytest

from utils import graph_walks, wordnet


def test_walks_follow_edges_and_are_seeded():
    adj = graph_walks.adjacency([(0, 1), (1, 2), (2, 0), (2, 3)])
    walks = graph_walks.random_walks(adj, 5, 7, seed=1)
    assert len(walks) == 20 and all(len(w) == 7 for w in walks)
    assert all(b in adj[a] for w in walks for a, b in zip(w, w[1:]))
    assert walks == graph_walks.random_walks(adj, 5, 7, seed=1)


def test_split_edges():
    adj = graph_walks.adjacency([(i, j) for i in range(8) for j in range(i + 1, 8) if (i + j) % 3])
    train, pos, neg = graph_walks.split_edges(adj, 0.2, seed=0)
    assert len(pos) == len(neg) > 0
    assert all(v not in train[u] and v in adj[u] for u, v in pos)
    assert all(v not in adj[u] for u, v in neg)
    assert all(train[n] for n in train)


def test_auc_and_common_neighbours():
    assert graph_walks.auc([3, 2], [1, 0]) == 1.0 and graph_walks.auc([1, 0], [3, 2]) == 0.0
    assert graph_walks.auc([1, 1], [1, 1]) == 0.5
    with pytest.raises(ValueError):
        graph_walks.auc([], [1])
    adj = graph_walks.adjacency([("a", "x"), ("b", "x"), ("a", "y"), ("b", "y"), ("c", "y")])
    assert graph_walks.common_neighbours(adj, [("a", "b"), ("a", "c")]).tolist() == [2.0, 1.0]


def test_wordnet_mammal_closure():
    adj, names = graph_walks.wordnet_graph("mammal")
    dog = next(k for k, v in names.items() if v == "dog")
    mammal = next(k for k, v in names.items() if v == "mammal")
    assert mammal in adj[dog]                                   # closure: dog is linked to every ancestor
    tree, _ = graph_walks.wordnet_graph("mammal", closure=False)
    assert set(tree) == set(adj) and sum(map(len, tree.values())) < sum(map(len, adj.values()))
    assert len(wordnet.hypernym_edges()) == 84427
