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


def _reference_top_k(query_codes, codes, k):
    """The definition, slowly: distances from the unpacked bits, then a stable full sort (ties to the smaller index)."""
    q_bits, c_bits = np.unpackbits(query_codes, axis=1), np.unpackbits(codes, axis=1)
    dist = (q_bits[:, None, :] != c_bits[None, :, :]).sum(-1)
    return dist, np.argsort(dist, axis=1, kind="stable")[:, :k]


def _tied_codes(n, nbytes, seed):
    """Codes with many equal distances: each is one of 40 patterns with a few random bits flipped."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 256, size=(40, nbytes), dtype=np.uint8)
    codes = pool[rng.integers(0, 40, size=n)]
    flips = rng.random((n, nbytes * 8)) < 0.02
    return codes ^ np.packbits(flips, axis=1)


@pytest.mark.parametrize("nbytes", [48, 8, 16, 24, 64, 9, 10, 2, 33])   # 6, 1, 2, 3, 8 words; the rest bytewise
@pytest.mark.parametrize("n_queries", [1, 3, 30])                 # row-wise scan (< COLUMNS_FROM) and transposed
def test_hamming_search_equals_the_stable_sort_of_the_definition(monkeypatch, nbytes, n_queries):
    monkeypatch.setattr(qz, "BLOCK", 37)                          # many blocks and a ragged last one
    codes = _tied_codes(500, nbytes, seed=nbytes)
    queries = np.concatenate([codes[:n_queries - 1], _tied_codes(1, nbytes, seed=99)])
    for k in (1, 10, 123, len(codes)):
        dist, want = _reference_top_k(queries, codes, k)
        assert len(np.unique(dist)) < 0.2 * dist.size             # the data really is full of ties
        assert np.array_equal(qz.hamming_top_k(queries, codes, k), want), k
    assert np.array_equal(qz.hamming_distances(queries, codes), dist)


def test_hamming_distance_at_its_largest_and_many_blocks():
    codes = np.zeros((20000, 48), np.uint8)                      # more codes than one BLOCK
    codes[7] = 255                                                # distance 384 from zeros: 64 + 64 per pair of words
    codes[123] = 255
    zeros = np.zeros((1, 48), np.uint8)
    for queries in (zeros, np.repeat(zeros, 9, axis=0)):
        d = qz.hamming_distances(queries, codes)
        assert d[0, 7] == d[0, 123] == 384 and d[0].sum() == 2 * 384
        assert qz.hamming_top_k(~queries, codes, 3).tolist()[0] == [7, 123, 0]   # ties: smaller index first


def test_binary_search_equals_rescoring_the_reference_shortlist():
    X = _data(n=3000, d=48, seed=3)
    X[:, 40:] = 0.0                                                # 8 bits always 0: more ties
    Q = X[:12] + 0.1 * _data(12, d=48, seed=4)
    codes = qz.binary_quantize(X)
    for s in (10, 50, 400):
        _, shortlist = _reference_top_k(qz.binary_quantize(Q), codes, s)
        want = qz.rescore(Q, X, shortlist, 10)
        assert np.array_equal(qz.binary_search(Q, codes, X, k=10, shortlist=s), want)
        assert np.array_equal(qz.binary_search(Q[:1], codes, X, k=10, shortlist=s), want[:1])


def test_qdrant_local_mode_ignores_quantization_config():
    """Notebook 10's database runs qdrant-client in local (embedded) mode. It accepts a quantization_config, for the
    collection or for its vectors, and then searches the float32 vectors exactly anyway: ids and scores are those of
    exact float search, even when the query asks for quantised scores without rescoring. If a new qdrant-client
    starts applying it, this test fails: update benchmarks/README.md (bench_quantization.py) and notebook 11."""
    import warnings
    models = pytest.importorskip("qdrant_client").models
    from qdrant_client import QdrantClient
    X, Q = _data(n=400, d=32, seed=5), _data(n=12, d=32, seed=6)
    exact = qz.exact_top_k(Q, X, 10)
    hamming = qz.hamming_top_k(qz.binary_quantize(Q), qz.binary_quantize(X), 10)
    assert qz.overlap_at_k(hamming, exact) < 0.8                     # applied binary quantisation would show
    binary = models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True))
    int8 = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8))
    no_rescoring = models.SearchParams(quantization=models.QuantizationSearchParams(rescore=False))
    client = QdrantClient(location=":memory:")
    for name, collection_level, vector_level in (("binary", binary, None), ("int8", int8, None),
                                                 ("binary-vectors", None, binary)):
        client.create_collection(name, vectors_config=models.VectorParams(
            size=32, distance=models.Distance.COSINE, quantization_config=vector_level),
            quantization_config=collection_level)
        client.upsert(name, points=[models.PointStruct(id=i, vector=x.tolist()) for i, x in enumerate(X)])
        assert client.get_collection(name).config.quantization_config is None     # dropped, not stored
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                          # "local mode performs exact search" (once)
            found = [client.query_points(name, query=q.tolist(), limit=10, search_params=no_rescoring).points
                     for q in Q]
        ids = np.array([[p.id for p in r] for r in found])
        scores = np.array([[p.score for p in r] for r in found])
        assert np.array_equal(ids, exact), name
        np.testing.assert_allclose(scores, np.take_along_axis(Q @ X.T, exact, axis=1), atol=1e-5, err_msg=name)
    client.close()
