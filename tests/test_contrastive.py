"""InfoNCE, hard-negative mining, Matryoshka loss and the linear adapter (utils/contrastive.py)."""
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from utils import contrastive


def _pairs(b=6, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g), torch.randn(b, d, generator=g)


def test_info_nce_matches_written_out_formula():
    q, d = _pairs()
    t = 0.1
    qn, dn = F.normalize(q, dim=1), F.normalize(d, dim=1)
    logits = qn @ dn.T / t
    one_way = -torch.log_softmax(logits, dim=1).diag().mean()
    other = -torch.log_softmax(logits, dim=0).diag().mean()           # documents classify among queries
    assert torch.allclose(contrastive.info_nce(q, d, t, symmetric=False), one_way, atol=1e-6)
    assert torch.allclose(contrastive.info_nce(q, d, t), (one_way + other) / 2, atol=1e-6)


def test_info_nce_hard_negatives_and_errors():
    q, d = _pairs()
    neg = torch.randn(4, 8)
    with_neg = contrastive.info_nce(q, d, 0.1, symmetric=False, negatives=neg)
    assert with_neg > contrastive.info_nce(q, d, 0.1, symmetric=False)   # more negatives, larger loss
    with pytest.raises(ValueError, match="temperature"):
        contrastive.info_nce(q, d, 0.0)
    with pytest.raises(ValueError, match="same shape"):
        contrastive.info_nce(q, d[:3])


def test_mine_hard_negatives():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.95, 0.3]])
    keep = scores.copy()
    got = contrastive.mine_hard_negatives(scores, positives=[0, 2], k=2)
    assert got.tolist() == [[1, 2], [3, 1]]
    assert np.array_equal(scores, keep)                               # the caller's scores are untouched
    assert contrastive.mine_hard_negatives(scores, [0, 2], k=1, exclude=[{1}, set()]).tolist() == [[2], [3]]
    assert contrastive.mine_hard_negatives(scores, [{0, 1}, 2], k=1).tolist() == [[2], [3]]
    with pytest.raises(ValueError, match="fewer than"):
        contrastive.mine_hard_negatives(scores, [0, 2], k=4)


def test_matryoshka_is_weighted_sum_of_prefix_losses():
    q, d = _pairs(d=16)
    small, full = contrastive.info_nce(q[:, :4], d[:, :4]), contrastive.info_nce(q[:, :16], d[:, :16])
    assert torch.allclose(contrastive.matryoshka_loss(q, d, dims=(4, 16)), small + full)
    assert torch.allclose(contrastive.matryoshka_loss(q, d, dims=(4, 16), weights=(2.0, 0.5)), 2 * small + 0.5 * full)
    # each prefix is normalised on its own: scaling the LAST numbers does not change the 4-number loss
    q2 = q.clone()
    q2[:, 4:] *= 10
    assert torch.allclose(contrastive.matryoshka_loss(q2, d, dims=(4,)), small)
    with pytest.raises(ValueError, match="one weight per dimension"):
        contrastive.matryoshka_loss(q, d, dims=(4, 16), weights=(1.0,))
    with pytest.raises(ValueError, match="between 1 and 16"):
        contrastive.matryoshka_loss(q, d, dims=(32,))


def test_train_adapter_lowers_the_loss_and_is_deterministic():
    rng = np.random.default_rng(0)
    docs = rng.normal(size=(200, 16)).astype(np.float32)
    rot = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    queries = docs @ rot.T + 0.1 * rng.normal(size=docs.shape)       # queries live in a rotated space
    adapter, losses = contrastive.train_adapter(queries, docs, steps=150, batch_size=32, lr=1e-2, side="query")
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    again, losses2 = contrastive.train_adapter(queries, docs, steps=150, batch_size=32, lr=1e-2, side="query")
    assert losses == losses2
    assert torch.equal(contrastive.LinearAdapter(4).weight, torch.eye(4))   # identity before training


def test_mine_hardest_negative_matches_the_full_matrix_and_honours_exclusions():
    rng = np.random.default_rng(3)
    Q = rng.normal(size=(50, 8))
    D = rng.normal(size=(50, 8))
    S = Q @ D.T
    np.fill_diagonal(S, -np.inf)
    got = contrastive.mine_hardest_negative(Q, D, chunk=7)           # chunks that do not divide 50
    assert got.tolist() == S.argmax(axis=1).tolist()
    exclude = [{int(j)} for j in got]                                  # forbid each first choice
    S2 = S.copy()
    S2[np.arange(50), got] = -np.inf
    assert contrastive.mine_hardest_negative(Q, D, exclude=exclude).tolist() == S2.argmax(axis=1).tolist()
    with pytest.raises(ValueError, match="no document left"):
        contrastive.mine_hardest_negative(Q[:2], D[:2], exclude=[{1}, set()])


def test_static_pair_setting_is_centred_and_keeps_the_test_senses_out():
    from utils import retrieval
    s = contrastive.static_pair_setting(n_pairs=500)
    assert s["train_q"].shape == s["train_d"].shape == (500, 384)
    assert s["queries"].shape == (300, 384) and s["documents"].shape == (1000, 384)
    assert np.allclose(s["train_d"].mean(axis=0), 0, atol=1e-5)          # centred on the training definitions
    from utils.gpt_embedder import training_pairs
    test_ids = retrieval.wordnet_retrieval_set(n_docs=1000, n_queries=300, seed=0).doc_ids
    assert s["pairs"] == training_pairs(500, seed=0, exclude=test_ids)  # no sense of the test set is trained on


def test_window_pairs_cut_runs_of_words_from_their_own_text():
    texts = [" ".join(f"w{i}_{j}" for j in range(40)) for i in range(5)] + ["tiny text", "a b c d e"]
    windows, source = contrastive.window_pairs(texts, per_text=4, words=6, seed=3)
    assert source.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5, 6]
    for window, i in zip(windows, source):
        assert f" {window} " in f" {' '.join(texts[i].split())} "        # a run of consecutive words of its text
    assert all(len(w.split()) == 6 for w in windows[:20]) and windows[20:] == ["tiny text", "a b c d e"]
    assert len(set(windows[:4])) == 4                                      # distinct starts within a text
    again = contrastive.window_pairs(texts, per_text=4, words=6, seed=3)
    assert again[0] == windows and contrastive.window_pairs(texts, per_text=4, words=6, seed=4)[0] != windows
    few, _ = contrastive.window_pairs(["a b c d"], per_text=5, words=3)   # only two starts exist
    assert few == ["a b c", "b c d"]
    with pytest.raises(ValueError, match="not one string"):
        contrastive.window_pairs("one text")
    with pytest.raises(ValueError, match="no words"):
        contrastive.window_pairs(["fine", "   "])
