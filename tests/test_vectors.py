"""utils.vectors: right values for numpy, torch and lists; one clear ValueError line for every kind of bad input."""
import math

import numpy as np
import pytest
import torch

from utils import vectors


# ---------------------------------------------------------------- values
@pytest.mark.parametrize("make", [list, np.array, torch.tensor], ids=["list", "numpy", "torch"])
def test_norms_accept_lists_numpy_torch(make):
    x = make([3.0, -4.0])
    assert vectors.l1_norm(x) == 7.0
    assert vectors.l2_norm(x) == 5.0
    assert vectors.linf_norm(x) == 4.0
    assert math.isclose(vectors.lp_norm(x, 3), (27 + 64) ** (1 / 3))
    assert isinstance(vectors.l2_norm(x), float)


def test_norms_match_numpy_linalg():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    for p in (1, 1.5, 2, 3, 7, np.inf):
        assert math.isclose(vectors.lp_norm(x, p), float(np.linalg.norm(x, ord=p)), rel_tol=1e-12)


def test_large_p_approaches_linf():
    x = [1.0, -3.0, 2.0]
    assert vectors.lp_norm(x, 200) == pytest.approx(3.0, rel=1e-2)
    assert vectors.lp_norm(x, 200) >= vectors.linf_norm(x)


def test_no_overflow_for_huge_entries():
    assert vectors.l2_norm([3e200, 4e200]) == pytest.approx(5e200)
    assert vectors.cosine_similarity([1e200, 0.0], [1e200, 1e200]) == pytest.approx(math.sqrt(0.5))
    assert vectors.normalize_rows([[3e200, 4e200]]) == pytest.approx(np.array([[0.6, 0.8]]))
    assert vectors.lp_norm([1e-300, 1e-300], 2) == pytest.approx(math.sqrt(2) * 1e-300)


def test_torch_dtypes_devices_and_grad():
    x = torch.tensor([3.0, 4.0], requires_grad=True)
    assert vectors.l2_norm(x) == 5.0
    assert vectors.l2_norm(torch.tensor([3.0, 4.0], dtype=torch.bfloat16)) == 5.0
    assert vectors.l2_norm(torch.tensor([3.0, 4.0], dtype=torch.float16)) == 5.0
    assert vectors.l2_norm(torch.tensor([3, 4])) == 5.0                           # integer tensor
    assert vectors.to_numpy(torch.zeros(2, 3)).dtype == np.float64


def test_distances():
    assert vectors.euclidean_distance([0, 0], [3, 4]) == 5.0
    assert vectors.manhattan_distance(np.array([1, 1]), torch.tensor([4.0, 5.0])) == 7.0
    assert vectors.euclidean_distance([1, 2], [1, 2]) == 0.0
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 20))
    assert vectors.manhattan_distance(a, b) >= vectors.euclidean_distance(a, b)


def test_dot_cosine_angle():
    assert vectors.dot([1, 2, 3], [4, 5, 6]) == 32.0
    assert vectors.cosine_similarity([1, 0], [5, 0]) == 1.0
    assert vectors.cosine_similarity([1, 0], [0, 2]) == 0.0
    assert vectors.cosine_similarity([1, 0], [-3, 0]) == -1.0
    assert vectors.cosine_similarity(torch.tensor([1.0, 1.0]), np.array([1.0, 0.0])) == pytest.approx(math.sqrt(0.5))
    assert vectors.angle_degrees([1, 0], [1, 1]) == pytest.approx(45.0)


def test_cosine_is_clipped_to_valid_range():
    v = np.array([0.1, 0.2, 0.3]) * 3
    c = vectors.cosine_similarity(v, v)
    assert -1.0 <= c <= 1.0
    assert vectors.angle_degrees(v, v) == pytest.approx(0.0, abs=1e-6)         # arccos would be NaN above 1
    assert np.all(np.abs(vectors.pairwise_cosine(np.random.default_rng(2).normal(size=(30, 5)))) <= 1.0)


def test_normalize_rows():
    out = vectors.normalize_rows(torch.tensor([[3.0, 4.0], [0.0, -2.0]]))
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, -1.0]])
    assert vectors.normalize_rows([3.0, 4.0]).shape == (1, 2)
    rng = np.random.default_rng(3)
    np.testing.assert_allclose(np.linalg.norm(vectors.normalize_rows(rng.normal(size=(10, 7))), axis=1), 1.0)


def test_pairwise_cosine_matches_scalar_version():
    rng = np.random.default_rng(4)
    A, B = rng.normal(size=(5, 8)), rng.normal(size=(3, 8))
    S = vectors.pairwise_cosine(A, B)
    assert S.shape == (5, 3)
    for i in range(5):
        for j in range(3):
            assert S[i, j] == pytest.approx(vectors.cosine_similarity(A[i], B[j]))
    SA = vectors.pairwise_cosine(torch.from_numpy(A))
    np.testing.assert_allclose(SA, SA.T)
    np.testing.assert_allclose(np.diag(SA), 1.0)


def test_pairwise_euclidean_matches_scalar_version():
    rng = np.random.default_rng(5)
    A, B = rng.normal(size=(4, 6)), rng.normal(size=(3, 6))
    D = vectors.pairwise_euclidean(A, B)
    assert D.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            assert D[i, j] == pytest.approx(vectors.euclidean_distance(A[i], B[j]))
    np.testing.assert_allclose(np.diag(vectors.pairwise_euclidean(A)), 0.0, atol=1e-12)


def test_top_k():
    M = np.array([[0.9, 0.1, 0.0], [4.0, 3.0, 0.0], [0.5, 0.5, 0.5], [-1.0, 0.0, 0.0], [0.2, 0.0, 0.0]])
    q = np.array([1.0, 0.0, 0.0])
    idx, scores = vectors.top_k(q, M, 3)
    assert idx.tolist() == [4, 0, 1]
    assert np.all(np.diff(scores) <= 0)
    assert vectors.top_k(q, M, 3, metric="dot")[0].tolist() == [1, 0, 2]
    idx_e, dist = vectors.top_k(torch.tensor(q), torch.tensor(M), 3, metric="euclidean")
    assert idx_e.tolist() == [0, 4, 2]
    assert np.all(np.diff(dist) >= 0)
    assert vectors.top_k(q, M, np.int64(1))[0].tolist() == [4]
    assert len(vectors.top_k(q, M, 5)[0]) == 5


def test_top_k_ties_go_to_smaller_index():
    M = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    assert vectors.top_k([1.0, 0.0], M, 3)[0].tolist() == [0, 1, 3]


def test_unit_rows_make_all_metrics_agree():
    rng = np.random.default_rng(6)
    M = vectors.normalize_rows(rng.normal(size=(200, 16)))
    q = M[0] + 0.1 * rng.normal(size=16)
    q = q / np.linalg.norm(q)
    ranks = [vectors.top_k(q, M, 10, metric=m)[0].tolist() for m in ("cosine", "dot", "euclidean")]
    assert ranks[0] == ranks[1] == ranks[2]


def test_top_k_is_the_lexicographic_order_of_score_then_index():
    """top_k ranks through top_k_from_scores (a partial sort): the same order as sorting every score, ties included."""
    rng = np.random.default_rng(11)
    M = rng.integers(-2, 3, size=(300, 4)).astype(float)               # many exact ties
    M[np.all(M == 0, axis=1)] = 1.0
    q = np.array([1.0, 1.0, 0.0, -1.0])
    for metric, key in (("cosine", -vectors.pairwise_cosine(q, M)[0]), ("dot", -(M @ q)),
                        ("euclidean", vectors.pairwise_euclidean(q, M)[0])):
        want = np.lexsort((np.arange(len(M)), key))[:25]
        assert vectors.top_k(q, M, 25, metric=metric)[0].tolist() == want.tolist(), metric


def test_top_k_from_scores_batches_ties_and_k():
    idx, val = vectors.top_k_from_scores(np.array([[0.1, 0.9, 0.9], [3.0, 2.0, 1.0]]), 2)
    assert idx.tolist() == [[1, 2], [0, 1]] and val.tolist() == [[0.9, 0.9], [3.0, 2.0]]
    with pytest.raises(ValueError, match=r"k must be between 1 and 3 \(the size of the collection\), got 4"):
        vectors.top_k_from_scores([1.0, 2.0, 3.0], 4)
    from utils import retrieval
    assert retrieval.top_k_from_scores is vectors.top_k_from_scores        # one implementation, re-exported


def test_unit_rows_keeps_zero_rows_and_float32():
    X = np.array([[3.0, 4.0], [0.0, 0.0], [1e200, 1e200]])
    U = vectors.unit_rows(X)
    np.testing.assert_allclose(U, [[0.6, 0.8], [0.0, 0.0], [2 ** -0.5, 2 ** -0.5]])   # no overflow for huge rows
    assert vectors.unit_rows(X[:2].astype(np.float32)).dtype == np.float32
    assert vectors.unit_rows([[1, 0]]).dtype == np.float64                  # integers become float64
    np.testing.assert_allclose(vectors.unit_rows(X[[0, 2]]), vectors.normalize_rows(X[[0, 2]]))   # same as normalize_rows
    with pytest.raises(ValueError, match="one vector per row"):
        vectors.unit_rows(np.ones(3))


def test_analogy_vector_is_b_minus_a_plus_c_for_numpy_and_torch():
    a, b, c = np.array([1.0, 0.0]), np.array([1.0, 2.0]), np.array([0.0, 1.0])
    assert vectors.analogy_vector(a, b, c).tolist() == [0.0, 3.0]
    got = vectors.analogy_vector(torch.tensor(a), torch.tensor(b), torch.tensor(c))
    assert isinstance(got, torch.Tensor) and got.tolist() == [0.0, 3.0]


# ---------------------------------------------------------------- errors: one line, naming the problem
def raises_one_line(fn, *args, match, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("fn", [vectors.l2_norm, vectors.l1_norm, vectors.linf_norm])
def test_nan_and_inf_rejected(fn):
    raises_one_line(fn, [1.0, float("nan")], match="NaN")
    raises_one_line(fn, np.array([1.0, np.inf]), match="NaN or infinity")
    raises_one_line(fn, torch.tensor([float("nan")]), match="NaN")


def test_nan_rejected_everywhere():
    bad = [1.0, float("nan")]
    for fn in (vectors.euclidean_distance, vectors.manhattan_distance, vectors.cosine_similarity, vectors.dot):
        raises_one_line(fn, bad, [1.0, 2.0], match="NaN")
    raises_one_line(vectors.pairwise_cosine, [bad], match="NaN")
    raises_one_line(vectors.top_k, bad, [[1.0, 2.0]], 1, match="query contains NaN")
    raises_one_line(vectors.top_k, [1.0, 2.0], [bad], 1, match="matrix contains NaN")


def test_zero_vectors_rejected():
    raises_one_line(vectors.cosine_similarity, [0, 0], [1, 0], match="zero vector")
    raises_one_line(vectors.angle_degrees, [1, 0], torch.zeros(2), match="zero vector")
    raises_one_line(vectors.normalize_rows, [[1, 0], [0, 0]], match="row 1 is a zero vector")
    raises_one_line(vectors.pairwise_cosine, [[1, 0]], [[0, 0]], match="zero vector")
    raises_one_line(vectors.top_k, [0, 0], [[1, 0]], 1, match="query is a zero vector")
    assert vectors.l2_norm([0, 0]) == 0.0                  # a zero vector has a norm, just no direction
    assert vectors.top_k([0.0, 0.0], [[1.0, 0.0]], 1, metric="euclidean")[0].tolist() == [0]


def test_mismatched_shapes_rejected():
    for fn in (vectors.euclidean_distance, vectors.manhattan_distance, vectors.cosine_similarity, vectors.dot):
        raises_one_line(fn, [1, 2, 3], [1, 2], match="shapes differ")
    raises_one_line(vectors.pairwise_cosine, np.ones((2, 3)), np.ones((2, 4)), match="different lengths: 3 vs 4")
    raises_one_line(vectors.pairwise_euclidean, np.ones((2, 3)), np.ones((2, 4)), match="different lengths")
    raises_one_line(vectors.top_k, np.ones(3), np.ones((5, 4)), 1, match=r"shape \(n, 3\)")
    raises_one_line(vectors.top_k, np.ones((1, 3)), np.ones((5, 3)), 1, match="one vector")
    raises_one_line(vectors.cosine_similarity, np.ones((2, 2)), np.ones((2, 2)), match="pairwise_cosine")
    raises_one_line(vectors.normalize_rows, np.ones((2, 2, 2)), match="one vector per row")


def test_bad_arguments_rejected():
    raises_one_line(vectors.lp_norm, [1, 2], 0.5, match="p must be >= 1")
    raises_one_line(vectors.lp_norm, [1, 2], float("nan"), match="p must be a number")
    raises_one_line(vectors.lp_norm, [1, 2], "2", match="p must be a number")
    raises_one_line(vectors.top_k, [1, 0], [[1, 0], [0, 1]], 3, match="k must be between 1 and 2")
    raises_one_line(vectors.top_k, [1, 0], [[1, 0], [0, 1]], 0, match="k must be between")
    raises_one_line(vectors.top_k, [1, 0], [[1, 0], [0, 1]], 1.5, match="whole number")
    raises_one_line(vectors.top_k, [1, 0], [[1, 0], [0, 1]], True, match="whole number")
    raises_one_line(vectors.top_k, [1, 0], [[1, 0]], 1, metric="manhattan", match="metric must be one of")
    raises_one_line(vectors.l2_norm, None, match="None")
    raises_one_line(vectors.l2_norm, "abc", match="numeric")
    raises_one_line(vectors.l2_norm, [[1, 2], [3]], match="numeric")
    raises_one_line(vectors.l2_norm, np.array([1 + 2j]), match="complex")
    raises_one_line(vectors.l2_norm, torch.tensor([1 + 2j]), match="complex")
