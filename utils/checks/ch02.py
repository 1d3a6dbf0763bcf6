"""Checks for notebook 02 (norms, distances and similarity).

Each check calls the learner's function on small inputs whose right answer differs from every typical mistake, and
names the mistake it recognises. Reference values come from :mod:`utils.vectors`.
"""
from __future__ import annotations

import ast
import functools
import math

import numpy as np

from utils import vectors
from utils.checks import CheckFailed, calls, exercise, expect, quiz, source_tree
from utils.checks.values import as_numpy, close, returned, scalar

#: this chapter's tolerance: answers computed in float32 are compared with float64 references
_close = functools.partial(close, atol=1e-4, rtol=1e-4)


def _triple(result, fn_name: str, what: str) -> tuple:
    returned(result, fn_name)
    if not isinstance(result, (tuple, list)) or len(result) != len(what.split(", ")):
        raise CheckFailed(f"{fn_name} should return a tuple ({what})")
    return tuple(scalar(v, n) for v, n in zip(result, what.split(", ")))


def _uses_python_loop(fn) -> bool:
    """True when the source of ``fn`` has a for/while loop or a comprehension (False if the source is unavailable)."""
    tree = source_tree(fn)
    if tree is None:
        return False
    loops = (ast.For, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.AsyncFor)
    return any(isinstance(node, loops) for node in ast.walk(tree))


# ---------------------------------------------------------------------------------------------------------------
@exercise("2.1", "L1, L2 and L-infinity norms in numpy")
def norms_numpy(fn):
    """fn(x) -> (l1, l2, linf) of a 1-D numpy array x."""
    x = np.array([3.0, -4.0, 0.0, 1.0])
    l1, l2, linf = _triple(fn(x.copy()), "norms_numpy", "l1, l2, linf")
    want = (vectors.l1_norm(x), vectors.l2_norm(x), vectors.linf_norm(x))       # 8, sqrt(26), 4
    if all(_close(g, w) for g, w in zip((l2, l1, linf), want)):
        raise CheckFailed("L1 and L2 are swapped: return them in the order (l1, l2, linf)")
    if _close(l1, float(np.sum(x))):
        raise CheckFailed(f"l1 = {l1:g}: you summed the entries without np.abs, so -4 cancelled +3 and +1")
    expect(_close(l1, want[0]), f"l1 of [3, -4, 0, 1] should be |3|+|-4|+|0|+|1| = 8, got {l1:g}")
    if _close(l2, 26.0):
        raise CheckFailed("l2 = 26: that is the sum of squares; you forgot the square root")
    if _close(l2, float(np.sqrt(np.sum(x)))) or _close(l2, 0.0):
        raise CheckFailed(f"l2 = {l2:g}: square the entries before summing (x ** 2), then take the root")
    expect(_close(l2, want[1]), f"l2 of [3, -4, 0, 1] should be sqrt(26) = 5.099, got {l2:g}")
    if _close(linf, 3.0):
        raise CheckFailed("linf = 3: that is max(x); L-infinity is the largest ABSOLUTE value, max(|x|) = 4")
    expect(_close(linf, want[2]), f"linf of [3, -4, 0, 1] should be 4 (the largest |x_i|), got {linf:g}")
    other = np.array([-1.0, -2.0, 2.0])
    got = _triple(fn(other), "norms_numpy", "l1, l2, linf")
    expect(all(_close(g, w) for g, w in zip(got, (5.0, 3.0, 2.0))),
           f"works for one vector only? [-1, -2, 2] should give (5, 3, 2), got {tuple(round(g, 4) for g in got)}")
    if calls(fn, "linalg.norm"):
        raise CheckFailed("the numbers are right, but the task is to build the norms from np.sum, np.abs, np.sqrt and "
                          "np.max - np.linalg.norm is what you are re-creating")


@exercise("2.2", "The general Lp norm in torch")
def lp_norm_torch(fn):
    """fn(x, p) -> the Lp norm of a torch vector, p >= 1 or float('inf')."""
    import torch

    x = torch.tensor([1.0, -2.0, 2.0])
    cases = {1: 5.0, 2: 3.0, 3: vectors.lp_norm(x, 3), float("inf"): 2.0}           # 17 ** (1/3) = 2.5713
    got = {p: scalar(fn(x.clone(), p), f"lp_norm_torch(x, {p})") for p in (1, 2, 3)}
    if _close(got[2], 9.0):
        raise CheckFailed("p=2 gives 9: the sum of |x_i|^p still needs its p-th root, ** (1 / p)")
    if _close(got[3], math.sqrt(17.0)):
        raise CheckFailed("p=3 gives sqrt(17): the root is the p-th root (** (1 / p)), not always the square root")
    if _close(got[3], 1.0):
        raise CheckFailed("p=3 gives 1: take the absolute value first (x.abs() ** p); odd powers keep the minus sign")
    if all(_close(got[p], 5.0) for p in (1, 2, 3)):
        raise CheckFailed("every p gives 5 = sum of |x_i|, the L1 norm: raise |x_i| to the power p, sum, then take "
                          "the p-th root, ** (1 / p)")
    for p in (1, 2, 3):
        expect(_close(got[p], cases[p]), f"the L{p} norm of [1, -2, 2] should be {cases[p]:.4g}, got {got[p]:.4g}")
    try:
        inf_value = fn(x.clone(), float("inf"))
    except (ZeroDivisionError, OverflowError):
        inf_value = float("nan")
    inf_got = scalar(inf_value, "lp_norm_torch(x, inf)")
    expect(_close(inf_got, 2.0), f"p = float('inf') should give the largest |x_i| = 2, got {inf_got:g} - "
                                 "treat p == inf as a special case (x.abs().max())")
    y = torch.tensor([1.0, -3.0, 2.0])                    # here max(x) = 2 but max(|x|) = 3
    inf_y = scalar(fn(y.clone(), float("inf")), "lp_norm_torch(y, inf)")
    if _close(inf_y, 2.0):
        raise CheckFailed("for [1, -3, 2] and p = inf you return 2 = max(x): L-infinity is the largest ABSOLUTE value, 3")
    expect(_close(inf_y, 3.0), f"p = float('inf') of [1, -3, 2] should be 3 (the largest |x_i|), got {inf_y:g}")


@exercise("2.3", "Euclidean and Manhattan distance")
def distances(fn):
    """fn(a, b) -> (euclidean, manhattan) for two numpy vectors."""
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, 0.0, 3.0])
    eu, man = _triple(fn(a.copy(), b.copy()), "distances", "euclidean, manhattan")
    want_eu, want_man = vectors.euclidean_distance(a, b), vectors.manhattan_distance(a, b)   # sqrt(13), 5
    if _close(eu, want_man) and _close(man, want_eu):
        raise CheckFailed("the two distances are swapped: return (euclidean, manhattan)")
    if _close(eu, 13.0):
        raise CheckFailed("euclidean = 13: that is the SQUARED distance; take the square root")
    if _close(eu, vectors.l2_norm(a + b)):
        raise CheckFailed("the distance uses a + b; a distance measures the DIFFERENCE a - b")
    if _close(eu, abs(vectors.l2_norm(a) - vectors.l2_norm(b))):
        raise CheckFailed("you subtracted the two lengths; the distance is the length of the difference |a - b|")
    expect(_close(eu, want_eu), f"euclidean distance of [1,2,3] and [4,0,3] should be sqrt(13) = 3.606, got {eu:g}")
    if _close(abs(man), abs(float(np.sum(a - b)))):
        raise CheckFailed(f"manhattan = {man:g}: sum the ABSOLUTE differences, np.abs(a - b), so -3 and +2 don't cancel")
    if _close(man, 13.0):
        raise CheckFailed("manhattan = 13: you squared the differences; Manhattan sums |a_i - b_i|")
    expect(_close(man, want_man), f"manhattan distance of [1,2,3] and [4,0,3] should be 3+2+0 = 5, got {man:g}")
    got = _triple(fn(b, b), "distances", "euclidean, manhattan")
    expect(_close(got[0], 0.0) and _close(got[1], 0.0), "the distance of a vector to itself should be (0, 0)")


@exercise("2.4", "Cosine similarity")
def cosine_similarity(fn):
    """fn(a, b) -> cosine similarity of two non-zero vectors (numpy or torch)."""
    a, b = np.array([3.0, 4.0]), np.array([8.0, 6.0])     # |a| = 5, |b| = 10, a·b = 48, cos = 0.96
    got = scalar(fn(a.copy(), b.copy()), "cosine_similarity(a, b)")
    mistakes = {
        48.0: "you returned the dot product; divide it by BOTH lengths, |a| * |b|",
        9.6: "you divided by |a| only; divide by |a| * |b|",
        4.8: "you divided by |b| only; divide by |a| * |b|",
        0.0192: "you divided by the SQUARED lengths (a·a times b·b); take their square roots (the norms)",
        0.04: "that is the cosine DISTANCE 1 - cos; return the similarity itself",
        float(np.arccos(0.96)): "that is the angle in radians; return the cosine of the angle, not the angle",
        float(np.degrees(np.arccos(0.96))): "that is the angle in degrees; return its cosine",
    }
    for wrong, message in mistakes.items():
        if _close(got, wrong):
            raise CheckFailed(message)
    expect(_close(got, 0.96), f"cosine of [3, 4] and [8, 6] should be 48 / (5 * 10) = 0.96, got {got:g}")
    opposite = scalar(fn(a, -2 * a), "cosine_similarity(a, -2a)")
    expect(_close(opposite, -1.0), f"a and -2a point in opposite directions: cosine -1, got {opposite:g}")
    import torch
    got_t = scalar(fn(torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, 0.0])), "cosine of torch vectors")
    if _close(got_t, 1.0 / 50.0):
        raise CheckFailed("for [1,0,0] and [1,1,0] you divided by 50, the |a| * |b| of the first example: compute the "
                          "norms of the vectors you are given")
    expect(_close(got_t, math.sqrt(0.5)), f"torch input: cosine of [1,0,0] and [1,1,0] should be 0.7071, got {got_t:g}")


@exercise("2.5", "Normalise every row to unit length")
def normalize_rows(fn):
    """fn(X) -> X with every row scaled to L2 length 1 (torch, shape (n, d))."""
    import torch

    X = torch.tensor([[3.0, 4.0, 0.0], [1.0, 0.0, 0.0], [0.0, -2.0, 2.0]])   # square on purpose: see below
    original = X.clone()
    got = fn(X)
    returned(got, "normalize_rows")
    if not torch.equal(X, original):
        raise CheckFailed("your function changed X in place; return a new tensor (X / norms), leave X as it was")
    got_np = as_numpy(got, "the result").astype(float)
    x = original.double().numpy()
    expect(got_np.shape == x.shape, f"the result should keep the shape of X, {x.shape}, got {got_np.shape}")
    row_l2 = np.linalg.norm(x, axis=1)
    if np.allclose(got_np, x / np.linalg.norm(x, axis=0, keepdims=True), atol=1e-5):
        raise CheckFailed("you normalised the COLUMNS (dim=0); each ROW is a vector: use dim=1 (axis=1)")
    if np.allclose(got_np, x / row_l2[None, :], atol=1e-5):
        raise CheckFailed("column j was divided by the norm of row j: keep the axis (keepdim=True) so the norms "
                          "have shape (n, 1)")
    if np.allclose(got_np, x / np.abs(x).sum(axis=1, keepdims=True), atol=1e-5):
        raise CheckFailed("you divided by the L1 norm (sum of |x|); unit length means L2 norm 1")
    if np.allclose(got_np, x / (row_l2 ** 2)[:, None], atol=1e-5):
        raise CheckFailed("you divided by the SQUARED length; divide by the length (the L2 norm) itself")
    expect(np.allclose(got_np, vectors.normalize_rows(x), atol=1e-5),
           "the rows are not the unit vectors of X's rows: divide each row by its own L2 norm")
    tall = fn(torch.tensor([[6.0, 8.0], [0.0, 5.0], [1.0, 1.0], [-2.0, 0.0]]))
    tall_np = as_numpy(tall, "the result")
    expect(tall_np.shape == (4, 2) and np.allclose(np.linalg.norm(tall_np, axis=1), 1.0, atol=1e-5),
           "works for square matrices only? a (4, 2) input should give 4 rows of length 1")


@exercise("2.6", "All pairwise cosine similarities without a loop")
def pairwise_cosine(fn):
    """fn(A, B) -> (n, m) torch/numpy matrix of cosines between the rows of A (n, d) and B (m, d), no Python loop."""
    import torch

    g = torch.Generator().manual_seed(2)
    A = torch.randn(3, 5, generator=g) * torch.tensor([[1.0], [4.0], [0.5]])    # (3, 5) rows of different lengths
    B = torch.randn(4, 5, generator=g) * torch.tensor([[2.0], [1.0], [3.0], [0.2]])   # (4, 5)
    if _uses_python_loop(fn):
        raise CheckFailed("your function uses a Python loop (for/while/comprehension); normalise the rows, then one "
                          "matrix product A_n @ B_n.T gives every cosine")
    got = fn(A.clone(), B.clone())
    got_np = as_numpy(got, "the result").astype(float)
    a, b = A.double().numpy(), B.double().numpy()
    if got_np.shape == (4, 3):
        raise CheckFailed("the result has shape (4, 3) = (m, n): it is transposed; row i should hold A[i]'s cosines")
    expect(got_np.shape == (3, 4), f"the result should have shape (n, m) = (3, 4), got {got_np.shape}")
    want = vectors.pairwise_cosine(a, b)
    if np.allclose(got_np, a @ b.T, atol=1e-4):
        raise CheckFailed("these are raw dot products: normalise the rows of A and B first")
    a_cols, b_cols = a / np.linalg.norm(a, axis=0), b / np.linalg.norm(b, axis=0)
    if np.allclose(got_np, a_cols @ b_cols.T, atol=1e-4):
        raise CheckFailed("you normalised along the wrong axis (columns, dim=0); each vector is a ROW (dim=1)")
    a_n, b_n = vectors.normalize_rows(a), vectors.normalize_rows(b)
    if np.allclose(got_np, a_n @ b.T, atol=1e-4) or np.allclose(got_np, a @ b_n.T, atol=1e-4):
        raise CheckFailed("only one of A and B was normalised; cosine divides by both lengths")
    ratio = got_np / np.where(np.abs(want) > 1e-8, want, np.nan)
    if np.all(np.isfinite(ratio)) and np.allclose(ratio, ratio.flat[0], atol=1e-4) and not np.isclose(ratio.flat[0], 1):
        raise CheckFailed(f"every cosine is scaled by {ratio.flat[0]:.4g}: divide each dot product by the two norms "
                          "and nothing else, so cosines stay in [-1, 1]")
    if not np.allclose(got_np, want, atol=1e-4) and np.allclose(np.abs(got_np), np.abs(want), atol=1e-4):
        raise CheckFailed("some signs are flipped: do not take absolute values; a cosine is negative for vectors "
                          "pointing apart")
    worst = np.unravel_index(np.argmax(np.abs(got_np - want)), want.shape)
    expect(np.allclose(got_np, want, atol=1e-4),
           f"entry {tuple(int(i) for i in worst)} should be cos(A[{worst[0]}], B[{worst[1]}]) = {want[worst]:.4f}, "
           f"got {got_np[worst]:.4f}: normalise each row of A and of B to length 1, then A_n @ B_n.T")
    expect(np.all(np.abs(got_np) <= 1 + 1e-5), "cosines must lie in [-1, 1]")


@exercise("2.7", "Top-k nearest neighbours by cosine")
def top_k_indices(fn):
    """fn(query, M, k) -> indices of the k rows of M most cosine-similar to query, most similar first."""
    import torch

    q = torch.tensor([1.0, 0.0, 0.0])
    M = torch.tensor([[0.9, 0.1, 0.0], [4.0, 3.0, 0.0], [0.5, 0.5, 0.5],
                      [-1.0, 0.0, 0.0], [0.2, 0.0, 0.0], [0.0, 1.0, 0.0]])          # (6, 3)
    got = fn(q.clone(), M.clone(), 3)
    got_np = as_numpy(got, "the result")
    if got_np.dtype.kind == "f" and not np.allclose(got_np, np.round(got_np)):
        raise CheckFailed("you returned similarity scores; return the row INDICES (e.g. the .indices of torch.topk)")
    got_idx = [int(i) for i in np.ravel(got_np)]
    want = vectors.top_k(q, M, 3)[0].tolist()                                         # [4, 0, 1]
    if len(got_idx) in (2, 4):
        raise CheckFailed(f"asked for k = 3 neighbours, got {len(got_idx)}: an off-by-one in the slice?")
    expect(len(got_idx) == 3, f"asked for k = 3 neighbours, got {len(got_idx)}")
    if got_idx == vectors.top_k(-q, M, 3)[0].tolist() or got_idx == [3, 5, 2]:
        raise CheckFailed("these are the LEAST similar rows: sort by similarity in descending order "
                          "(torch.topk, or argsort of -scores)")
    if got_idx == vectors.top_k(q, M, 3, metric="dot")[0].tolist():
        raise CheckFailed("ranked by the raw dot product, so the long vector [4, 3, 0] wins; normalise for cosine")
    if got_idx == vectors.top_k(q, M, 3, metric="euclidean")[0].tolist():
        raise CheckFailed("ranked by Euclidean distance; this exercise asks for cosine similarity")
    if got_idx != want and sorted(got_idx) == sorted(want):
        raise CheckFailed(f"right neighbours, wrong order: the most similar must come first, {want}")
    expect(got_idx == want, f"the 3 rows most cosine-similar to [1, 0, 0] are {want}, got {got_idx}")
    one = [int(i) for i in np.ravel(as_numpy(fn(q, M, 1), "the result"))]
    expect(one == [4], f"with k = 1 the answer should be [4], got {one}")


quiz_unit_distance = quiz(
    "2.8", "Quiz: cosine and distance of unit vectors",
    correct="b", options="abcd",
    why_wrong={
        "a": "0.5 is the cosine itself; the distance follows from |a - b|^2 = |a|^2 + |b|^2 - 2 a·b",
        "c": "sqrt(2) is the distance of two ORTHOGONAL unit vectors (cosine 0), not cosine 0.5",
        "d": "0 would mean a = b (cosine 1)",
    },
    explanation="for unit vectors |a - b|^2 = 1 + 1 - 2 cos = 2 - 2 * 0.5 = 1, so the distance is 1. "
                "Distance shrinks as cosine grows, so after normalising, both give the same ranking.")


quiz_concentration = quiz(
    "2.9", "Quiz: distances in high dimensions",
    correct="c", options="abcd",
    why_wrong={
        "a": "the plot shows the opposite: the ratio rises towards 1, it does not fall towards 0",
        "b": "the points are random and independent in every dimension; the ratio still changes with d",
        "d": "more dimensions do not make distances undefined; they make them all alike",
    },
    explanation="as the dimension grows, the nearest and the farthest random point end up at almost the same "
                "distance (ratio near 1), so 'nearest' carries less information for random data; real embeddings "
                "are far from random, which is why nearest-neighbour search still works on them.")
