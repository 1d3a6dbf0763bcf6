"""float16 / int8 / binary quantisation, Hamming top-k and rescoring (utils/quantization.py), faiss as the oracle."""
import numpy as np
import pytest

from utils import quantization as qz


def _data(n=2000, d=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def test_int8_round_trip_within_half_a_step():
    X = _data()
    lo, hi = qz.int8_calibrate(X)
    codes = qz.int8_quantize(X, lo, hi)
    assert codes.dtype == np.int8 and codes.min() == -128 and codes.max() == 127
    err = np.abs(qz.int8_dequantize(codes, lo, hi) - X)
    assert (err <= (hi - lo) / 255 / 2 + 1e-6).all()
    lo_q, hi_q = qz.int8_calibrate(X, quantile=0.01)
    assert (hi_q < hi).all() and (lo_q > lo).all()                   # outliers ignored: a narrower range


def test_binary_packing_and_hamming_against_unpacked_bits():
    X = _data(n=50, d=70)                                           # 70 bits: the last byte is padded
    codes = qz.binary_quantize(X)
    assert codes.shape == (50, 9)
    bits = X > 0
    want = (bits[:5, None, :] != bits[None, :, :]).sum(-1)
    assert np.array_equal(qz.hamming_distances(codes[:5], codes), want)


def test_hamming_top_k_matches_faiss_binary_flat():
    import faiss
    X = _data()
    codes = qz.binary_quantize(X)
    index = faiss.IndexBinaryFlat(64)
    index.add(codes)
    dist, _ = index.search(codes[:20], 10)
    ours = qz.hamming_top_k(codes[:20], codes, 10)
    got = np.take_along_axis(qz.hamming_distances(codes[:20], codes), ours, axis=1)
    assert np.array_equal(got, dist)                                # the same distances (ties may order differently)
    assert (np.diff(got, axis=1) >= 0).all()


def test_rescoring_recovers_exact_search():
    X = _data()
    Q = X[:30] + 0.05 * _data(30, seed=1)
    exact = qz.exact_top_k(Q, X, 10)
    assert qz.overlap_at_k(qz.binary_search(Q, qz.binary_quantize(X), X, k=10, shortlist=len(X)), exact) == 1.0
    short = qz.overlap_at_k(qz.binary_search(Q, qz.binary_quantize(X), X, k=10, shortlist=10), exact)
    longer = qz.overlap_at_k(qz.binary_search(Q, qz.binary_quantize(X), X, k=10, shortlist=200), exact)
    assert short < longer
    with pytest.raises(ValueError, match="shortlist"):
        qz.binary_search(Q, qz.binary_quantize(X), X, k=10, shortlist=5)
