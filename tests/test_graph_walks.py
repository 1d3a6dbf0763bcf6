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


# ---------------------------------------------------------------- node2vec
# t - v, t - x1, v - x1, v - x2, v - x3: a walk that came from t to v can go back (t), stay near t (x1, also a
# neighbour of t) or move away (x2, x3, two steps from t).
N2V = graph_walks.adjacency([("t", "v"), ("t", "x1"), ("v", "x1"), ("v", "x2"), ("v", "x3")])


def _second_steps(walks, start="t", via="v"):
    """How often each node follows `start -> via` at the second step, as shares."""
    nexts = [w[2] for w in walks if w[0] == start and w[1] == via]
    return len(nexts), {x: nexts.count(x) / len(nexts) for x in sorted(N2V[via])}


@pytest.mark.parametrize("p, q", [(0.5, 2.0), (4.0, 0.25), (1.0, 1.0)])
def test_node2vec_second_step_odds_are_1_over_p_1_and_1_over_q(p, q):
    weights = {"t": 1 / p, "x1": 1.0, "x2": 1 / q, "x3": 1 / q}        # by hand, from the definition
    want = {x: w / sum(weights.values()) for x, w in weights.items()}
    assert graph_walks.node2vec_step_probabilities(N2V, "t", "v", p, q) == pytest.approx(want)
    walks = graph_walks.node2vec_walks(N2V, walks_per_node=8000, length=3, p=p, q=q, seed=1)
    assert all(b in N2V[a] for w in walks for a, b in zip(w, w[1:]))
    n, counted = _second_steps(walks)
    assert n > 3000                                                     # half the walks from t go to v first
    for x, share in counted.items():                                   # 5 standard errors: fails ~1 in 10^6
        assert abs(share - want[x]) < 5 * np.sqrt(want[x] * (1 - want[x]) / n), (x, share, want[x])


def test_node2vec_with_p_q_1_is_the_uniform_walk():
    uniform = graph_walks.random_walks(N2V, walks_per_node=8000, length=3, seed=2)
    assert graph_walks.node2vec_walks(N2V, walks_per_node=8000, length=3, p=1, q=1, seed=2) == uniform
    n, counted = _second_steps(uniform)
    assert all(abs(share - 0.25) < 5 * np.sqrt(0.25 * 0.75 / n) for share in counted.values()), counted
    adj = graph_walks.adjacency([(0, 1), (1, 2), (2, 0), (2, 3)])
    assert graph_walks.node2vec_walks(adj, 5, 7, 1.0, 1.0, seed=3) == graph_walks.random_walks(adj, 5, 7, seed=3)


def test_node2vec_walks_are_seeded_and_biased_as_asked():
    walks = graph_walks.node2vec_walks(N2V, 50, 10, p=0.25, q=4, seed=0)
    assert walks == graph_walks.node2vec_walks(N2V, 50, 10, p=0.25, q=4, seed=0)
    assert walks != graph_walks.node2vec_walks(N2V, 50, 10, p=0.25, q=4, seed=1)
    assert all(len(w) == 10 and all(b in N2V[a] for a, b in zip(w, w[1:])) for w in walks)
    back = lambda ws: np.mean([w[i] == w[i - 2] for w in ws for i in range(2, len(w))])   # noqa: E731
    assert back(walks) > back(graph_walks.node2vec_walks(N2V, 50, 10, p=4, q=0.25, seed=0)) + 0.2


def test_node2vec_bad_input():
    for p, q in ((0, 1), (1, -2), (float("inf"), 1), (float("nan"), 1)):
        with pytest.raises(ValueError, match="positive"):
            graph_walks.node2vec_walks(N2V, 1, 3, p=p, q=q)
    with pytest.raises(ValueError, match="not linked"):
        graph_walks.node2vec_step_probabilities(N2V, "x2", "t")
    assert graph_walks.node2vec_walks({"a": set()}, 2, 5, p=2, q=3) == [["a"], ["a"]]


def test_auc_difference_interval():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, 300), rng.normal(0, 1, 300)
    same = graph_walks.auc_difference_interval((pos, neg), (pos, neg))
    assert same["diff"] == same["low"] == same["high"] == 0.0
    noisy = (pos + rng.normal(0, 2, 300), neg + rng.normal(0, 2, 300))       # the same pairs, a worse score
    r = graph_walks.auc_difference_interval((pos, neg), noisy, samples=500)
    assert r["diff"] == pytest.approx(graph_walks.auc(pos, neg) - graph_walks.auc(*noisy), abs=2e-4)
    assert 0 < r["low"] < r["diff"] < r["high"]
    flipped = graph_walks.auc_difference_interval(noisy, (pos, neg), samples=500)
    assert flipped["diff"] == -r["diff"] and flipped["high"] < 0
    coin = graph_walks.auc_difference_interval((pos, neg), (rng.normal(1, 1, 300), rng.normal(1, 1, 300)))
    assert coin["low"] > 0                                                    # vs a coin: far above
    close = graph_walks.auc_difference_interval((pos, neg), (pos + rng.normal(0, 0.05, 300), neg))
    assert close["low"] <= 0 <= close["high"] or abs(close["diff"]) < 0.01   # a tiny change: no clear winner
    with pytest.raises(ValueError, match="same"):
        graph_walks.auc_difference_interval((pos, neg), (pos[:10], neg))
