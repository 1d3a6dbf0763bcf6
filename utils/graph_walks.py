"""Graph embeddings (notebook 12): DeepWalk turns a graph into "sentences" - random walks from node to neighbour - and
notebook 05's skip-gram with negative sampling learns one vector per node from them: nodes that appear near each
other on walks get similar vectors, as words that share contexts do.

- :func:`wordnet_graph` - WordNet's noun "is a kind of" links under one synset (e.g. everything under "mammal"),
  as an undirected adjacency dict, with readable names;
- :func:`random_walks` - uniform random walks (DeepWalk); every step follows an edge of the graph;
- :func:`node2vec_walks` - node2vec's biased second-order walks (return parameter ``p``, in-out parameter ``q``;
  ``p = q = 1`` is the uniform walk, step for step); :func:`node2vec_step_probabilities` - one step's odds;
- :func:`split_edges` - hold out some edges (positives) and as many node pairs that are not linked (negatives),
  keeping every node on at least one training edge;
- :func:`common_neighbours` - the classic baseline score of a pair; :func:`cosine_pairs` - the embedding score;
- :func:`auc` - the probability that a random positive pair scores above a random negative one (ties count half);
  :func:`auc_difference_interval` - a bootstrap interval for the AUC difference of two scores of the same pairs.

>>> adj = {"a": {"b"}, "b": {"a", "c"}, "c": {"b"}}
>>> walks = random_walks(adj, walks_per_node=1, length=4, seed=0)
>>> len(walks), all(w2 in adj[w1] for walk in walks for w1, w2 in zip(walk, walk[1:]))
(3, True)
>>> auc([0.9, 0.8], [0.1, 0.85])
0.75
"""
from __future__ import annotations

from collections import deque

import numpy as np

from utils import wordnet

__all__ = ["wordnet_graph", "random_walks", "node2vec_walks", "node2vec_step_probabilities", "split_edges", "common_neighbours", "cosine_pairs", "auc", "auc_difference_interval",
           "adjacency"]


def adjacency(edges) -> dict[str, set[str]]:
    """Undirected adjacency sets from (u, v) pairs.

    >>> adjacency([("a", "b"), ("b", "c")]) == {"a": {"b"}, "b": {"a", "c"}, "c": {"b"}}
    True
    """
    adj: dict[str, set[str]] = {}
    for u, v in edges:
        if u == v:
            continue
        adj.setdefault(u, set()).add(v)
        adj.setdefault(v, set()).add(u)
    return adj


def wordnet_graph(root: str = "mammal", closure: bool = True) -> tuple[dict[str, set[str]], dict[str, str]]:
    """The "is a kind of" links below the first noun synset named ``root`` (root included), undirected.

    ``closure=True`` links every synset to ALL its ancestors up to the root ("dog" - "canine", "dog" - "carnivore",
    ..., "dog" - "mammal"): the transitive closure, the "mammal closure" graph on which hyperbolic (Poincare)
    embeddings were first shown (Nickel & Kiela, 2017). Without it the graph is (nearly) a tree, where removing one
    edge cuts the graph in two and no method can predict it back.

    Returns (adjacency, names): node ids are synset ids, ``names[id]`` is "lemma.n01"-style readable text
    (the first lemma, plus a number when several synsets share it).
    """
    synsets = [s for s in wordnet.load_synsets() if s.pos == "noun"]
    top = next((s.id for s in synsets if root in s.lemmas), None)
    if top is None:
        raise ValueError(f"no noun synset named {root!r} in WordNet")
    children: dict[str, list[str]] = {}
    for child, parent in wordnet.hypernym_edges():
        children.setdefault(parent, []).append(child)
    keep, queue = {top}, deque([top])
    while queue:                                         # breadth-first: every synset below the root
        for child in children.get(queue.popleft(), []):
            if child not in keep:
                keep.add(child)
                queue.append(child)
    edges = [(c, p) for c, p in wordnet.hypernym_edges() if c in keep and p in keep]
    if closure:
        parents: dict[str, set[str]] = {}
        for c, p in edges:
            parents.setdefault(c, set()).add(p)
        ancestors: dict[str, set[str]] = {}

        def up(node: str) -> set[str]:                    # all ancestors inside the subgraph, memoised
            if node not in ancestors:
                ancestors[node] = set()
                for p in parents.get(node, ()):
                    ancestors[node] |= {p} | up(p)
            return ancestors[node]

        edges = [(c, a) for c in sorted(keep) for a in sorted(up(c))]
    first = {s.id: s.lemmas[0].replace(" ", "_") for s in synsets if s.id in keep}
    seen: dict[str, int] = {}
    names = {}
    for sid in sorted(first):
        seen[first[sid]] = seen.get(first[sid], 0) + 1
        names[sid] = first[sid] if seen[first[sid]] == 1 else f"{first[sid]}.{seen[first[sid]]}"
    return adjacency(edges), names


def random_walks(adj: dict, walks_per_node: int = 10, length: int = 20, seed: int = 0) -> list[list]:
    """``walks_per_node`` uniform random walks of ``length`` nodes from every node (DeepWalk), node order shuffled
    each round; each step moves to a neighbour drawn uniformly from ``adj[node]``. A node without neighbours
    gives a walk of one node.
    """
    if walks_per_node < 1 or length < 1:
        raise ValueError(f"walks_per_node and length must be >= 1, got {walks_per_node}, {length}")
    rng = np.random.default_rng(seed)
    nodes = sorted(adj)
    neighbours = {n: sorted(adj[n]) for n in nodes}      # sorted: the same seed gives the same walks
    walks = []
    for _ in range(walks_per_node):
        for i in rng.permutation(len(nodes)):
            walk = [nodes[i]]
            while len(walk) < length and neighbours[walk[-1]]:
                options = neighbours[walk[-1]]
                walk.append(options[rng.integers(len(options))])
            walks.append(walk)
    return walks


def _node2vec_weight(adj: dict, previous, candidate, p: float, q: float) -> float:
    """node2vec's unnormalised odds of stepping to ``candidate`` (a neighbour of the current node), having come
    from ``previous``: 1/p to go back, 1 to a node that is also a neighbour of ``previous`` (distance 1 from it),
    1/q to a node farther away (distance 2)."""
    if candidate == previous:
        return 1.0 / p
    return 1.0 if candidate in adj[previous] else 1.0 / q


def _check_pq(p: float, q: float) -> None:
    if not (p > 0 and q > 0 and np.isfinite(p) and np.isfinite(q)):
        raise ValueError(f"p and q must be positive, finite numbers, got p={p}, q={q}")


def node2vec_step_probabilities(adj: dict, previous, current, p: float = 1.0, q: float = 1.0) -> dict:
    """The probability of each next node of a node2vec walk at ``current`` that came from ``previous``.

    >>> adj = adjacency([("t", "v"), ("t", "x1"), ("v", "x1"), ("v", "x2")])
    >>> {k: round(v, 3) for k, v in sorted(node2vec_step_probabilities(adj, "t", "v", p=0.5, q=2).items())}
    {'t': 0.571, 'x1': 0.286, 'x2': 0.143}
    """
    _check_pq(p, q)
    if previous not in adj.get(current, ()):
        raise ValueError(f"{previous!r} and {current!r} are not linked: a walk only comes to a node along an edge")
    weights = {x: _node2vec_weight(adj, previous, x, p, q) for x in sorted(adj[current])}
    total = sum(weights.values())
    return {x: w / total for x, w in weights.items()}


def node2vec_walks(adj: dict, walks_per_node: int = 10, length: int = 20, p: float = 1.0, q: float = 1.0,
                   seed: int = 0) -> list[list]:
    """node2vec's walks (Grover & Leskovec, 2016): like :func:`random_walks`, but each step after the first looks
    back at the node it came from. Leaving ``current`` (reached from ``previous``), a neighbour ``x`` has odds
    1/p if it is ``previous`` (go back), 1 if it is also a neighbour of ``previous``, 1/q otherwise (move away).
    Small p: walks return often; q > 1: walks stay near their start (breadth-first-like); q < 1: walks move
    outward (depth-first-like).

    Steps are drawn by rejection, as fast node2vec implementations do: a neighbour drawn uniformly is kept with
    probability weight / (largest weight), so no per-edge table is built (a hub with 1,000 neighbours would need
    one of 1,000 entries for each of its 1,000 in-edges). A weight equal to the largest is kept without a draw, so
    p = q = 1 uses the generator exactly as :func:`random_walks` does: the same seed gives the same walks.
    """
    if walks_per_node < 1 or length < 1:
        raise ValueError(f"walks_per_node and length must be >= 1, got {walks_per_node}, {length}")
    _check_pq(p, q)
    rng = np.random.default_rng(seed)
    nodes = sorted(adj)
    neighbours = {n: sorted(adj[n]) for n in nodes}      # sorted: the same seed gives the same walks
    top = max(1.0 / p, 1.0, 1.0 / q)
    walks = []
    for _ in range(walks_per_node):
        for i in rng.permutation(len(nodes)):
            walk = [nodes[i]]
            while len(walk) < length and neighbours[walk[-1]]:
                options = neighbours[walk[-1]]
                while True:
                    candidate = options[rng.integers(len(options))]
                    if len(walk) == 1:                   # the first step has nothing to look back at: uniform
                        break
                    weight = _node2vec_weight(adj, walk[-2], candidate, p, q)
                    if weight >= top or rng.random() * top < weight:
                        break
                walk.append(candidate)
            walks.append(walk)
    return walks


def split_edges(adj: dict, test_share: float = 0.1, seed: int = 0):
    """Hold out a share of the edges for link prediction -> (train adjacency, positive pairs, negative pairs).

    An edge is held out only while both of its ends keep another edge (a node with no training edge would have no
    walk and no vector). Negatives: as many random node pairs that are not linked in the whole graph.
    """
    rng = np.random.default_rng(seed)
    edges = sorted({tuple(sorted((u, v))) for u in adj for v in adj[u]})
    train = {n: set(vs) for n, vs in adj.items()}
    positives = []
    want = int(test_share * len(edges))
    for i in rng.permutation(len(edges)):
        u, v = edges[i]
        if len(train[u]) > 1 and len(train[v]) > 1:
            train[u].discard(v)
            train[v].discard(u)
            positives.append((u, v))
            if len(positives) == want:
                break
    nodes = sorted(adj)
    negatives = set()
    while len(negatives) < len(positives):
        u, v = (nodes[j] for j in rng.integers(len(nodes), size=2))
        if u != v and v not in adj[u]:
            negatives.add(tuple(sorted((u, v))))
    return train, positives, sorted(negatives)


def common_neighbours(adj: dict, pairs) -> np.ndarray:
    """Score of each pair (u, v): how many neighbours they share, |N(u) & N(v)|.

    >>> common_neighbours({"a": {"b", "c"}, "d": {"b", "c"}, "b": {"a", "d"}, "c": {"a", "d"}}, [("a", "d")]).tolist()
    [2.0]
    """
    return np.array([len(adj.get(u, set()) & adj.get(v, set())) for u, v in pairs], dtype=float)


def cosine_pairs(vectors, pairs) -> np.ndarray:
    """Cosine of the two nodes' vectors per pair; ``vectors`` maps node -> vector (a ``WordVectors`` works)."""
    out = []
    for u, v in pairs:
        a, b = np.asarray(vectors[u], dtype=float), np.asarray(vectors[v], dtype=float)
        out.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    return np.array(out)


def auc(positive_scores, negative_scores) -> float:
    """Area under the ROC curve = P(score of a random positive > score of a random negative), ties counting 1/2;
    rounded to 4 digits. 0.5 is a coin, 1.0 ranks every positive above every negative.
    """
    pos = np.asarray(positive_scores, dtype=float)
    neg = np.asarray(negative_scores, dtype=float)
    if pos.ndim != 1 or neg.ndim != 1 or not len(pos) or not len(neg):
        raise ValueError("need two non-empty 1-D lists of scores (positives, negatives)")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return round(float((greater + 0.5 * ties) / (len(pos) * len(neg))), 4)


def _wins(positive_scores, negative_scores) -> np.ndarray:
    pos = np.asarray(positive_scores, dtype=float)[:, None]      # (P, 1)
    neg = np.asarray(negative_scores, dtype=float)[None, :]      # (1, N)
    return (pos > neg) + 0.5 * (pos == neg)                       # (P, N): 1 win, 1/2 tie, 0 loss


def auc_difference_interval(a: tuple, b: tuple, samples: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """AUC of scores ``a`` minus AUC of scores ``b``, both ``(positive_scores, negative_scores)`` of the SAME pairs,
    with a paired bootstrap interval: positives and negatives are resampled (with replacement) and both AUCs are
    recomputed on the same resample. It measures how much the choice of held-out pairs moves the difference, not
    the noise of training (another seed): a difference whose interval holds 0 is no evidence of a winner.

    -> {"diff", "low", "high", "samples"} (floats rounded to 4 digits).

    >>> r = auc_difference_interval(([3, 2, 1], [0, 0, 0]), ([3, 2, 1], [0, 0, 2]), samples=200)
    >>> r["diff"], r["low"] >= 0
    (0.1667, True)
    """
    (pos_a, neg_a), (pos_b, neg_b) = a, b
    if len(pos_a) != len(pos_b) or len(neg_a) != len(neg_b) or not len(pos_a) or not len(neg_a):
        raise ValueError("a and b must score the same non-empty positive and negative pairs (paired comparison)")
    difference = _wins(pos_a, neg_a) - _wins(pos_b, neg_b)        # (P, N)
    n_pos, n_neg = difference.shape
    rng = np.random.default_rng(seed)
    take_pos = rng.multinomial(n_pos, np.full(n_pos, 1 / n_pos), size=samples)    # (S, P): how often each is drawn
    take_neg = rng.multinomial(n_neg, np.full(n_neg, 1 / n_neg), size=samples)    # (S, N)
    diffs = ((take_pos @ difference) * take_neg).sum(axis=1) / (n_pos * n_neg)     # (S,) one difference per resample
    low, high = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    return {"diff": round(float(difference.mean()), 4), "low": round(float(low), 4), "high": round(float(high), 4),
            "samples": samples}
