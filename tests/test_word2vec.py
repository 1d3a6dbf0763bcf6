"""utils/word2vec/ (skip-gram with negative sampling) and utils/wordnet.py: small, fast cases only.

The real training run on the WordNet glosses is exercised by notebook 05 (nbval) and measured by
benchmarks/bench_word2vec.py; here every corpus is a few hundred tokens.
"""
import math

import numpy as np
import pytest
import torch

from utils import word2vec as w2v
from utils.wordnet import gloss_words, parse_line


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# ------------------------------------------------------------------------------------------------ loss and gradients
def test_sgns_loss_on_a_hand_computed_pair():
    # center v = (1, 0); true context u = (2, 0) -> score 2; negatives (0, 1) and (-1, 0) -> scores 0 and -1
    v = torch.tensor([[1.0, 0.0]])
    u = torch.tensor([[2.0, 0.0]])
    negs = torch.tensor([[[0.0, 1.0], [-1.0, 0.0]]])
    # -log s(2) - log s(-0) - log s(1) = softplus(-2) + log 2 + softplus(-1)
    want = softplus(-2) + math.log(2) + softplus(-1)
    assert float(w2v.sgns_loss(v, u, negs)) == pytest.approx(want, abs=1e-6)
    assert want == pytest.approx(1.133337, abs=1e-6)


def test_sgns_loss_is_the_batch_mean_and_starts_at_k_plus_1_log_2():
    K, d = 5, 3
    zero = w2v.sgns_loss(torch.zeros(4, d), torch.zeros(4, d), torch.zeros(4, K, d))
    assert float(zero) == pytest.approx((K + 1) * math.log(2), abs=1e-6)
    g = torch.Generator().manual_seed(0)
    v, u, n = torch.randn(3, d, generator=g), torch.randn(3, d, generator=g), torch.randn(3, K, d, generator=g)
    each = [float(w2v.sgns_loss(v[i:i + 1], u[i:i + 1], n[i:i + 1])) for i in range(3)]
    assert float(w2v.sgns_loss(v, u, n)) == pytest.approx(np.mean(each), abs=1e-6)


def test_hand_gradients_match_autograd():
    g = torch.Generator().manual_seed(1)
    B, K, d = 6, 4, 5
    v = torch.randn(B, d, generator=g, dtype=torch.float64).requires_grad_()
    u = torch.randn(B, d, generator=g, dtype=torch.float64).requires_grad_()
    n = torch.randn(B, K, d, generator=g, dtype=torch.float64).requires_grad_()
    (w2v.sgns_loss(v, u, n) * B).backward()                      # the hand gradients are of the SUMMED loss
    for auto, hand in zip((v.grad, u.grad, n.grad), w2v.sgns_gradients(v.detach(), u.detach(), n.detach())):
        assert hand.shape == auto.shape
        assert torch.allclose(hand, auto, atol=1e-10)


@pytest.mark.parametrize("share", [1, 2, 4])
def test_sgd_step_is_an_sgd_step_on_the_summed_loss_and_touches_only_batch_rows(share):
    g = torch.Generator().manual_seed(2)
    V, d, B, K, lr = 30, 6, 8, 3, 0.3
    W_in, W_out = torch.randn(V, d, generator=g), torch.randn(V, d, generator=g)
    centers = torch.tensor([0, 0, 1, 2, 3, 4, 5, 5])                  # repeated ids: their updates add up
    contexts = torch.tensor([6, 7, 8, 9, 10, 11, 12, 6])
    negs = torch.randint(13, V, (B // share, K), generator=g)
    A, C = W_in.clone().requires_grad_(), W_out.clone().requires_grad_()
    full_negs = negs.repeat_interleave(share, dim=0)                  # (B, K): each pair's own copy
    summed = w2v.sgns_loss(A[centers], C[contexts], C[full_negs]) * B
    summed.backward()
    before_in, before_out = W_in.clone(), W_out.clone()
    loss = w2v.sgd_step(W_in, W_out, centers, contexts, negs, lr)
    assert loss == pytest.approx(float(summed.detach()) / B, abs=1e-5)
    assert torch.allclose(W_in, A.detach() - lr * A.grad, atol=1e-5)
    assert torch.allclose(W_out, C.detach() - lr * C.grad, atol=1e-5)
    changed_in = set((W_in != before_in).any(1).nonzero().flatten().tolist())
    changed_out = set((W_out != before_out).any(1).nonzero().flatten().tolist())
    assert changed_in == set(centers.tolist())
    assert changed_out <= set(contexts.tolist()) | set(negs.flatten().tolist())
    assert set(contexts.tolist()) <= changed_out


def test_sgd_step_rejects_groups_that_do_not_divide_the_batch():
    W = torch.zeros(5, 2)
    with pytest.raises(ValueError, match="groups"):
        w2v.sgd_step(W, W.clone(), torch.arange(5), torch.arange(5), torch.zeros(2, 3, dtype=torch.long), 0.1)


# ------------------------------------------------------------------------------------------------ sampling
def test_negative_distribution_is_counts_to_the_power_075():
    counts = np.array([1000, 100, 10, 1])
    p = w2v.negative_distribution(counts)
    want = counts ** 0.75 / (counts ** 0.75).sum()
    assert np.allclose(p, want) and p.sum() == pytest.approx(1.0)
    raw = counts / counts.sum()
    assert p[0] < raw[0] and p[-1] > raw[-1]                        # frequent words lose share, rare ones gain
    for bad in ([], [0, 0], [1, -1], [[1, 2]]):
        with pytest.raises(ValueError):
            w2v.negative_distribution(bad)


def test_sampler_follows_the_noise_distribution():
    counts = np.array([1000, 100, 10, 1])
    p = w2v.negative_distribution(counts)
    ids = w2v.sample_negatives(p, (400, 500), generator=torch.Generator().manual_seed(0))
    assert ids.shape == (400, 500) and ids.dtype == torch.int64
    freq = np.bincount(ids.flatten().numpy(), minlength=4) / ids.numel()
    assert np.abs(freq - p).max() < 0.005                            # 200,000 draws: sd of a share <= 0.0012
    again = w2v.sample_negatives(p, (400, 500), generator=torch.Generator().manual_seed(0))
    assert torch.equal(ids, again)


def test_keep_probabilities_thin_out_frequent_words_only():
    keep = w2v.keep_probabilities([100_000, 1_000, 10], t=1e-4)
    assert keep[2] == 1.0 and keep[0] < keep[1] <= 1.0
    f = 100_000 / 101_010
    assert keep[0] == pytest.approx(math.sqrt(1e-4 / f) + 1e-4 / f)
    assert np.all(w2v.keep_probabilities([5, 5000], t=0) == 1.0)


def test_skipgram_pairs_stay_inside_sentences_and_inside_the_window():
    ids = np.array([0, 1, 2, 3, 4, 5])
    sent = np.array([0, 0, 0, 1, 1, 1])                             # two sentences: 0 1 2 | 3 4 5
    c, o = w2v.skipgram_pairs(ids, sent, window=2, rng=np.random.default_rng(0), dynamic=False)
    pairs = set(zip(c.tolist(), o.tolist()))
    assert (2, 3) not in pairs and (3, 2) not in pairs               # never across a sentence boundary
    assert pairs == {(a, b) for a in range(6) for b in range(6) if a != b and a // 3 == b // 3 and abs(a - b) <= 2}
    for seed in range(5):                                            # dynamic windows: a subset, distance 1 always
        cd, od = w2v.skipgram_pairs(ids, sent, window=2, rng=np.random.default_rng(seed))
        dyn = set(zip(cd.tolist(), od.tolist()))
        assert dyn <= pairs and {(a, a + 1) for a in (0, 1, 3, 4)} <= dyn
    with pytest.raises(ValueError, match="window"):
        w2v.skipgram_pairs(ids, sent, window=0, rng=np.random.default_rng(0))


def test_vocabulary_and_encoding():
    sentences = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "cat"]]
    v = w2v.build_vocab(sentences, min_count=2)
    assert v.words == ["cat", "sat", "the"] and v.counts.tolist() == [2, 2, 2]   # ties alphabetical
    ids, sent = w2v.encode_corpus(sentences, v)
    assert ids.tolist() == [2, 0, 1, 2, 1, 0] and sent.tolist() == [0, 0, 0, 1, 1, 2]
    with pytest.raises(ValueError, match="min_count"):
        w2v.build_vocab(sentences, min_count=10)


# ------------------------------------------------------------------------------------------------ training
def _two_topic_corpus(n=400, seed=0):
    """Sentences drawn from one of two disjoint word groups: words of a group share their neighbours."""
    rng = np.random.default_rng(seed)
    groups = [[f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]]
    return [list(rng.choice(groups[k % 2], size=8)) for k in range(n)]


TINY = dict(dim=16, window=2, negatives=3, epochs=4, min_count=1, subsample=0, lr=0.05, batch_size=256, share=4)


def test_training_is_deterministic_with_a_seed():
    corpus = _two_topic_corpus()
    a = w2v.train_sgns(corpus, seed=3, **TINY)
    b = w2v.train_sgns(corpus, seed=3, **TINY)
    c = w2v.train_sgns(corpus, seed=4, **TINY)
    assert a.words == b.words and np.array_equal(a.vectors, b.vectors) and a.losses == b.losses
    assert not np.array_equal(a.vectors, c.vectors)


def test_training_lowers_the_loss_and_groups_co_occurring_words():
    wv = w2v.train_sgns(_two_topic_corpus(), seed=0, log_every=2, **TINY)
    assert wv.vectors.shape == (12, 16) and wv.losses[-1] < wv.losses[0] <= 4 * math.log(2) + 0.05  # (K+1) log 2
    within = np.mean([wv.similarity(f"a{i}", f"a{j}") for i in range(6) for j in range(6) if i != j])
    across = np.mean([wv.similarity(f"a{i}", f"b{j}") for i in range(6) for j in range(6)])
    assert within > across + 0.5
    assert all(w.startswith("a") for w, _ in wv.most_similar("a0", k=5))
    info = wv.info
    assert info["epochs_done"] == pytest.approx(4, abs=0.1) and info["pairs"] > 0 and info["tokens"] == 400 * 8


def test_training_respects_a_time_budget():
    wv = w2v.train_sgns(_two_topic_corpus(), seed=0, **{**TINY, "epochs": 10_000, "batch_size": 16},
                        time_budget=0.3)
    assert wv.info["seconds"] < 3 and wv.info["epochs_done"] < 10_000


def test_a_learning_rate_that_explodes_stops_with_a_clear_error():
    with pytest.raises(FloatingPointError, match="diverged.*smaller lr"):
        w2v.train_sgns(_two_topic_corpus(), seed=0, **{**TINY, "lr": 1e4})


@pytest.mark.parametrize("bad, error, match", [
    ([], ValueError, "corpus is empty"),
    ([[], []], ValueError, "corpus is empty"),
    ("the cat sat", TypeError, "list of token lists"),
    (["the cat sat", "a dog"], TypeError, "tokenize"),
    ([["lonely"]], ValueError, "no .center, context. pairs"),
])
def test_bad_corpora_give_one_readable_error(bad, error, match):
    with pytest.raises(error, match=match):
        w2v.train_sgns(bad, dim=4, min_count=1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(dim=0), "dim"), (dict(epochs=1.5), "epochs"), (dict(lr=0), "lr"),
    (dict(batch_size=100, share=16), "multiple of share"), (dict(min_count=50), "min_count"),
])
def test_bad_settings_give_one_readable_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        w2v.train_sgns(_two_topic_corpus(n=10), **{**dict(min_count=1), **kwargs})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_training_runs_on_cuda():
    wv = w2v.train_sgns(_two_topic_corpus(), seed=0, device="cuda", **TINY)
    assert wv.vectors.shape == (12, 16) and np.isfinite(wv.vectors).all()


# ------------------------------------------------------------------------------------------------ word vectors
def _toy_vectors():
    # axes: person, female, royal, young
    words = ["man", "woman", "king", "queen", "boy", "girl"]
    vectors = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0], [1, 0, 0, 1], [1, 1, 0, 1]], float)
    return w2v.WordVectors(words, vectors)


def test_most_similar_similarity_and_analogy():
    wv = _toy_vectors()
    assert wv.similarity("king", "king") == pytest.approx(1.0)
    assert wv.similarity("man", "woman") == pytest.approx(1 / math.sqrt(2), abs=1e-6)
    top = wv.most_similar("king", k=3)
    assert len(top) == 3 and "king" not in [w for w, _ in top] and top[0][1] >= top[1][1] >= top[2][1]
    assert wv.analogy("man", "king", "woman")[0][0] == "queen"
    acc, n = w2v.analogy_accuracy(wv, restrict_vocab=None)
    assert (acc, n) == (1.0, 6)                                     # the six family questions made of these words


def test_unknown_word_gives_a_one_line_error_that_is_a_key_error():
    wv = _toy_vectors()
    for call in (lambda: wv.most_similar("zebra"), lambda: wv.similarity("king", "zebra"),
                 lambda: wv.analogy("man", "zebra", "woman"), lambda: wv["zebra"]):
        with pytest.raises(KeyError) as info:
            call()
        message = str(info.value)
        assert message.startswith("'zebra' is not in the vocabulary") and "\n" not in message
    with pytest.raises(ValueError, match="positive integer"):
        wv.most_similar("king", k=0)
    with pytest.raises(ValueError, match="shape"):
        w2v.WordVectors(["a", "b"], np.zeros((3, 2)))


def test_evaluation_sets_are_read_offline_from_gensim():
    pairs = w2v.wordsim353()
    assert len(pairs) == 353 and ("tiger", "cat", 7.35) in pairs
    assert len(w2v.analogy_questions()) == 19_544
    words = sorted({w for a, b, _ in pairs for w in (a, b)})
    rng = np.random.default_rng(0)
    rho, n = w2v.wordsim_spearman(w2v.WordVectors(words, rng.normal(size=(len(words), 8))))
    assert n == 353 and -1 <= rho <= 1 and abs(rho) < 0.2          # random vectors: no correlation
    with pytest.raises(ValueError, match="fewer than 3"):
        w2v.wordsim_spearman(_toy_vectors())


def test_gradient_descent_1d_converges_or_diverges_with_the_learning_rate():
    grad = lambda x: 2 * (x - 3)                                     # f = (x - 3)^2
    assert abs(w2v.gradient_descent_1d(grad, 0.0, lr=0.3, steps=40)[-1] - 3) < 1e-9
    assert w2v.gradient_descent_1d(grad, 0.0, lr=0.5, steps=1)[-1] == 3.0
    path = w2v.gradient_descent_1d(grad, 0.0, lr=1.05, steps=20)
    assert np.all(np.diff(np.abs(path - 3)) > 0)                     # every step farther away
    with pytest.raises(ValueError):
        w2v.gradient_descent_1d(grad, 0.0, lr=0.1, steps=-1)


# ------------------------------------------------------------------------------------------------ wordnet
def test_wordnet_line_parsing_and_tokenizing():
    line = ('01234567 00 a 02 big(a) 0 large 0 001 & 01382086 a 0000 | above average in size; '
            '"a big house"; "large profits"  ')
    s = parse_line(line, "adj")
    assert s.id == "a01234567" and s.lemmas == ("big", "large")
    assert s.definition == "above average in size" and s.examples == ("a big house", "large profits")
    assert gloss_words("Rock 'n' roll, the King's 2 songs!") == ["rock", "n", "roll", "the", "king's", "songs"]


# ------------------------------------------------------------------------------------------------ settings
def test_the_settings_are_written_once_in_sgns_settings():
    import dataclasses
    import inspect
    names = [f.name for f in dataclasses.fields(w2v.SGNSSettings)]
    defaults = dataclasses.asdict(w2v.SGNSSettings())
    assert w2v.COURSE_SETTINGS == defaults and list(w2v.COURSE_SETTINGS) == names
    params = inspect.signature(w2v.train_sgns).parameters
    assert {name: params[name].default for name in names} == defaults     # what help() shows
    assert inspect.signature(w2v.build_vocab).parameters["min_count"].default == defaults["min_count"]
    assert inspect.signature(w2v.keep_probabilities).parameters["t"].default == defaults["subsample"]
    # the cached vectors' file name depends on these values only: the notebooks read the same file as before
    from utils.word2vec.cache import _cache_path

    assert _cache_path(w2v.COURSE_SETTINGS).name == "sgns_wordnet_766d4b5a68.npz"


def test_info_starts_with_every_setting_and_a_left_out_one_keeps_its_default():
    import dataclasses
    given = {k: v for k, v in TINY.items() if k != "negatives"}
    wv = w2v.train_sgns(_two_topic_corpus(), **given)
    expected = dataclasses.asdict(w2v.SGNSSettings(**given))
    assert expected["negatives"] == w2v.SGNSSettings().negatives and expected["seed"] == w2v.SGNSSettings().seed
    assert {k: wv.info[k] for k in expected} == expected and list(wv.info)[:len(expected)] == list(expected)


def test_an_unknown_setting_is_one_readable_error():
    with pytest.raises(TypeError, match="unknown setting 'dims'; the settings are dim, window"):
        w2v.train_sgns(_two_topic_corpus(n=10), dims=8)
    with pytest.raises(ValueError, match="log_every"):
        w2v.train_sgns(_two_topic_corpus(n=10), min_count=1, log_every=0)
    with pytest.raises(ValueError, match="min_count must be a positive integer"):
        w2v.SGNSSettings(min_count=0)
