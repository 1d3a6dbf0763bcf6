"""Every exercise of notebook 02: right answer passes, stub is 'not attempted', typical mistakes are named."""
import numpy as np
import torch

from check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils.checks import REGISTRY, ch02


def test_registry_has_every_exercise():
    assert list(REGISTRY["02"]) == [f"2.{i}" for i in range(1, 10)]


# ---------------------------------------------------------------- 2.1
def good_norms(x):
    return np.sum(np.abs(x)), np.sqrt(np.sum(x ** 2)), np.max(np.abs(x))


def test_norms_numpy():
    assert_passes(ch02.norms_numpy, good_norms)
    assert_not_attempted(ch02.norms_numpy, stub_function)
    assert_rejects(ch02.norms_numpy, lambda x: (np.sum(np.abs(x)), np.sum(x ** 2), np.max(np.abs(x))),
                   match="square root")
    assert_rejects(ch02.norms_numpy, lambda x: (np.sum(x), np.sqrt(np.sum(x ** 2)), np.max(np.abs(x))),
                   match="without np.abs")
    assert_rejects(ch02.norms_numpy, lambda x: (np.sum(np.abs(x)), np.sqrt(np.sum(x ** 2)), np.max(x)),
                   match="ABSOLUTE")
    assert_rejects(ch02.norms_numpy, lambda x: (np.sqrt(np.sum(x ** 2)), np.sum(np.abs(x)), np.max(np.abs(x))),
                   match="swapped")
    assert_rejects(ch02.norms_numpy, lambda x: None, match="return")
    assert_rejects(ch02.norms_numpy, lambda x: np.sum(np.abs(x)), match="tuple")
    assert_rejects(ch02.norms_numpy, lambda x: (8.0, 26 ** 0.5, 4.0), match="one vector only")
    assert_rejects(ch02.norms_numpy, lambda x: (np.abs(x), 1.0, 1.0), match="single number")


# ---------------------------------------------------------------- 2.2
def good_lp(x, p):
    return x.abs().max() if p == float("inf") else (x.abs() ** p).sum() ** (1 / p)


def test_lp_norm_torch():
    assert_passes(ch02.lp_norm_torch, good_lp)
    assert_passes(ch02.lp_norm_torch, lambda x, p: torch.linalg.vector_norm(x, ord=p))
    assert_not_attempted(ch02.lp_norm_torch, stub_function)
    assert_rejects(ch02.lp_norm_torch, lambda x, p: (x.abs() ** p).sum(), match="p-th root")
    assert_rejects(ch02.lp_norm_torch, lambda x, p: (x.abs() ** p).sum() ** 0.5, match="not always the square")
    assert_rejects(ch02.lp_norm_torch, lambda x, p: (x ** p).sum() ** (1 / p), match="absolute value first")
    assert_rejects(ch02.lp_norm_torch, lambda x, p: (x.abs() ** p).sum() ** (1 / p), match="special case")
    assert_rejects(ch02.lp_norm_torch, lambda x, p: x.abs().sum(), match="L1 norm")
    assert_rejects(ch02.lp_norm_torch, lambda x, p: x.abs().sum() + 1, match="L1 norm of")


def test_lp_norm_torch_rejects_max_without_abs():
    def max_without_abs(x, p):
        return x.max() if p == float("inf") else good_lp(x, p)
    assert_rejects(ch02.lp_norm_torch, max_without_abs, match="ABSOLUTE")


# ---------------------------------------------------------------- 2.3
def test_distances():
    assert_passes(ch02.distances, lambda a, b: (np.sqrt(np.sum((a - b) ** 2)), np.sum(np.abs(a - b))))
    assert_not_attempted(ch02.distances, stub_function)
    assert_rejects(ch02.distances, lambda a, b: (np.sum((a - b) ** 2), np.sum(np.abs(a - b))), match="SQUARED")
    assert_rejects(ch02.distances, lambda a, b: (np.sqrt(np.sum((a - b) ** 2)), np.sum(a - b)), match="ABSOLUTE")
    assert_rejects(ch02.distances, lambda a, b: (np.sqrt(np.sum((a + b) ** 2)), np.sum(np.abs(a + b))),
                   match="DIFFERENCE")
    assert_rejects(ch02.distances, lambda a, b: (np.sum(np.abs(a - b)), np.sqrt(np.sum((a - b) ** 2))),
                   match="swapped")
    assert_rejects(ch02.distances, lambda a, b: (abs(np.linalg.norm(a) - np.linalg.norm(b)), 5.0),
                   match="subtracted the two lengths")
    assert_rejects(ch02.distances, lambda a, b: (np.sqrt(np.sum((a - b) ** 2)), np.sum((a - b) ** 2)),
                   match="squared the differences")
    assert_rejects(ch02.distances, lambda a, b: (13 ** 0.5, 5.0), match="itself")


# ---------------------------------------------------------------- 2.4
def norm(v):
    return (v ** 2).sum() ** 0.5


def test_cosine_similarity():
    assert_passes(ch02.cosine_similarity, lambda a, b: (a @ b) / (norm(a) * norm(b)))
    assert_not_attempted(ch02.cosine_similarity, stub_function)
    assert_rejects(ch02.cosine_similarity, lambda a, b: a @ b, match="dot product")
    assert_rejects(ch02.cosine_similarity, lambda a, b: (a @ b) / norm(a), match=r"\|a\| only")
    assert_rejects(ch02.cosine_similarity, lambda a, b: (a @ b) / norm(b), match=r"\|b\| only")
    assert_rejects(ch02.cosine_similarity, lambda a, b: (a @ b) / ((a @ a) * (b @ b)), match="SQUARED")
    assert_rejects(ch02.cosine_similarity, lambda a, b: 1 - (a @ b) / (norm(a) * norm(b)), match="DISTANCE")
    assert_rejects(ch02.cosine_similarity, lambda a, b: np.arccos((a @ b) / (norm(a) * norm(b))), match="radians")
    assert_rejects(ch02.cosine_similarity, lambda a, b: abs((a @ b) / (norm(a) * norm(b))), match="opposite")
    assert_rejects(ch02.cosine_similarity, lambda a, b: float(np.asarray(a) @ np.asarray(b)) / 50.0, match="divided by 50")
    assert_rejects(ch02.cosine_similarity, lambda a, b: 0.96 if b[0] == 8 else -1.0 if len(a) == 2 else 0.5,
                   match="torch input")


# ---------------------------------------------------------------- 2.5
def test_normalize_rows():
    assert_passes(ch02.normalize_rows, lambda X: X / X.norm(dim=1, keepdim=True))
    assert_passes(ch02.normalize_rows, lambda X: torch.nn.functional.normalize(X, dim=1))
    assert_not_attempted(ch02.normalize_rows, stub_function)
    assert_rejects(ch02.normalize_rows, lambda X: X / X.norm(dim=0, keepdim=True), match="COLUMNS")
    assert_rejects(ch02.normalize_rows, lambda X: X / X.norm(dim=1), match="keepdim")
    assert_rejects(ch02.normalize_rows, lambda X: X / X.abs().sum(dim=1, keepdim=True), match="L1")
    assert_rejects(ch02.normalize_rows, lambda X: X / (X ** 2).sum(dim=1, keepdim=True), match="SQUARED")

    def in_place(X):
        X /= X.norm(dim=1, keepdim=True)
        return X
    assert_rejects(ch02.normalize_rows, in_place, match="in place")
    assert_rejects(ch02.normalize_rows, lambda X: None, match="return")
    assert_rejects(ch02.normalize_rows, lambda X: X[:2] / X[:2].norm(dim=1, keepdim=True), match="shape")


# ---------------------------------------------------------------- 2.6
def good_pairwise(A, B):
    return (A / A.norm(dim=1, keepdim=True)) @ (B / B.norm(dim=1, keepdim=True)).T


def looped_pairwise(A, B):
    out = torch.empty(len(A), len(B))
    for i in range(len(A)):
        for j in range(len(B)):
            out[i, j] = A[i] @ B[j] / (A[i].norm() * B[j].norm())
    return out


def comprehension_pairwise(A, B):
    return torch.stack([torch.nn.functional.cosine_similarity(a[None], B) for a in A])


def test_pairwise_cosine():
    assert_passes(ch02.pairwise_cosine, good_pairwise)
    assert_not_attempted(ch02.pairwise_cosine, stub_function)
    assert_rejects(ch02.pairwise_cosine, looped_pairwise, match="Python loop")
    assert_rejects(ch02.pairwise_cosine, comprehension_pairwise, match="Python loop")
    assert_rejects(ch02.pairwise_cosine, lambda A, B: A @ B.T, match="raw dot products")
    assert_rejects(ch02.pairwise_cosine, lambda A, B: (A / A.norm(dim=0)) @ (B / B.norm(dim=0)).T, match="wrong axis")
    assert_rejects(ch02.pairwise_cosine, lambda A, B: (A / A.norm(dim=1, keepdim=True)) @ B.T, match="only one")
    assert_rejects(ch02.pairwise_cosine, lambda A, B: good_pairwise(B, A), match="transposed")
    assert_rejects(ch02.pairwise_cosine, lambda A, B: good_pairwise(A, B)[:, :3], match="shape")
    assert_rejects(ch02.pairwise_cosine, lambda A, B: good_pairwise(A, B) * 0.5, match="scaled by 0.5")
    assert_rejects(ch02.pairwise_cosine, lambda A, B: good_pairwise(A, B).abs(), match="signs")
    assert_rejects(ch02.pairwise_cosine, lambda A, B: good_pairwise(A, B).clamp(min=0), match=r"entry \(\d, \d\)")


# ---------------------------------------------------------------- 2.7
def cos_scores(q, M):
    return (M @ q) / (M.norm(dim=1) * q.norm())


def test_top_k_indices():
    assert_passes(ch02.top_k_indices, lambda q, M, k: torch.topk(cos_scores(q, M), k).indices)
    assert_passes(ch02.top_k_indices, lambda q, M, k: np.argsort(-cos_scores(q, M).numpy())[:k].tolist())
    assert_not_attempted(ch02.top_k_indices, stub_function)
    assert_rejects(ch02.top_k_indices, lambda q, M, k: torch.topk(-cos_scores(q, M), k).indices, match="LEAST")
    assert_rejects(ch02.top_k_indices, lambda q, M, k: torch.topk(cos_scores(q, M), k + 1).indices,
                   match="off-by-one")
    assert_rejects(ch02.top_k_indices, lambda q, M, k: torch.topk(cos_scores(q, M), k - 1).indices,
                   match="off-by-one")
    assert_rejects(ch02.top_k_indices, lambda q, M, k: torch.topk(M @ q, k).indices, match="dot product")
    assert_rejects(ch02.top_k_indices, lambda q, M, k: torch.topk(-(M - q).norm(dim=1), k).indices,
                   match="Euclidean")
    assert_rejects(ch02.top_k_indices, lambda q, M, k: torch.topk(cos_scores(q, M), k).values, match="INDICES")
    assert_rejects(ch02.top_k_indices, lambda q, M, k: torch.topk(cos_scores(q, M), k).indices.sort().values,
                   match="wrong order")


# ---------------------------------------------------------------- quizzes
def test_quiz_unit_distance():
    assert_passes(ch02.quiz_unit_distance, "b")
    assert_passes(ch02.quiz_unit_distance, " B ")
    assert_not_attempted(ch02.quiz_unit_distance, ...)
    assert_rejects(ch02.quiz_unit_distance, "a", match="cosine itself")
    assert_rejects(ch02.quiz_unit_distance, "c", match="ORTHOGONAL")
    assert_rejects(ch02.quiz_unit_distance, "d", match="a = b")
    assert_rejects(ch02.quiz_unit_distance, "e", match="one letter")
    assert_rejects(ch02.quiz_unit_distance, 1, match="one letter")


def test_quiz_concentration():
    assert_passes(ch02.quiz_concentration, "c")
    assert_not_attempted(ch02.quiz_concentration, ...)
    assert_rejects(ch02.quiz_concentration, "a", match="opposite")
    assert_rejects(ch02.quiz_concentration, "b", match="still changes")
    assert_rejects(ch02.quiz_concentration, "d", match="undefined")


def test_norms_numpy_rejects_the_forbidden_shortcut():
    def shortcut(x):
        return np.linalg.norm(x, 1), np.linalg.norm(x), np.linalg.norm(x, np.inf)
    assert_rejects(ch02.norms_numpy, shortcut, match="np.linalg.norm")
