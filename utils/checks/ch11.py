"""Checks for notebook 11 (training embedding models: pooling, InfoNCE, hard negatives, int8 and binary vectors).

Every right answer comes from the reference library (utils.pooling, utils.contrastive, utils.quantization),
computed on the check's own inputs BEFORE the learner's function is called; the learner's function only ever sees
copies (:func:`utils.checks.call_on_copies`).

Why one long module: one module per chapter is the course's rule for checks (a learner looks for chapter 11's checks
in ``ch11.py``); each check names several typical mistakes, and the data that tells them apart (exact zeros, long
top-k lists whose order an unsorted selection gets wrong) lives next to the check that needs it.
"""
from __future__ import annotations

import numpy as np

from utils.checks import CheckFailed, call_on_copies, exercise, expect, expect_unchanged, gradients, quiz
from utils.checks.values import as_numpy, close, is_torch, returned, scalar


def _kind(x) -> str:
    """What a learner returned, for a message: 'list', 'numpy array of float64', 'torch tensor of int64'."""
    if isinstance(x, np.ndarray):
        return f"numpy array of {x.dtype}"
    if is_torch(x):
        return f"torch tensor of {str(x.dtype).replace('torch.', '')}"
    return type(x).__name__


# ---------------------------------------------------------------------------------------------------------------
# 11.1 masked mean pooling

@exercise("11.1", "Mean pooling with the attention mask")
def mean_pool(fn):
    """``fn(hidden (B, T, d), mask (B, T))`` -> (B, d): the mean of each row's real tokens."""
    import torch
    from utils import pooling
    g = torch.Generator().manual_seed(11)
    hidden = torch.randn(3, 5, 4, generator=g)                              # (B, T, d)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 1, 1]])    # row 2 is LEFT-padded
    want = pooling.mean_pool(hidden, mask)                                   # the reference, before fn runs
    got, (hidden_after, mask_after) = call_on_copies(fn, hidden, mask)
    returned(got, "mean_pool", "did you forget `return`?")
    expect(is_torch(got), f"return a torch tensor, got {type(got).__name__}")
    expect_unchanged(hidden, hidden_after, "hidden", "multiply into a new tensor instead of changing hidden")
    expect_unchanged(mask, mask_after, "mask")
    if tuple(got.shape) == (3, 5):
        raise CheckFailed("your result has shape (3, 5) = (B, T): you averaged over the vector dimension; average "
                          "over the tokens, dim=1")
    expect(tuple(got.shape) == (3, 4), f"the result should have shape (B, d) = (3, 4), got {tuple(got.shape)}")
    got = got.detach().float()
    if close(got, hidden.mean(dim=1)):
        raise CheckFailed("padding counted in the mean: you averaged all T positions; multiply by the mask and divide "
                          "by the number of REAL tokens of each row")
    m = mask.unsqueeze(-1).float()
    if close(got, (hidden * m).sum(1) / mask.shape[1]):
        raise CheckFailed("padding counted in the mean: you zeroed the padded vectors but divided by T; divide by "
                          "each row's number of real tokens, mask.sum(dim=1)")
    if close(got, (hidden * m).sum(1)):
        raise CheckFailed("you returned the SUM of the real tokens: divide by each row's number of real tokens")
    if close(got, (hidden * m).sum(1) / mask.sum()):
        raise CheckFailed("you divided by the real tokens of the WHOLE batch: each row divides by its own count, "
                          "mask.sum(dim=1, keepdim=True)")
    prefix = torch.stack([hidden[b, :int(n)].mean(dim=0) for b, n in enumerate(mask.sum(dim=1))])
    if close(got, prefix):
        raise CheckFailed("you averaged the first mask.sum() positions: padding is not always at the end (row 2 is "
                          "padded on the left, as decoder models often are) - weight by the mask itself")
    expect(close(got, want), "the vectors differ from the mean of each row's real tokens (where mask == 1)")


# ---------------------------------------------------------------------------------------------------------------
# 11.2 InfoNCE

def _nce_variants(q, d, t):
    """What the usual mistakes compute, by name (each a float)."""
    import torch
    F = torch.nn.functional
    qn, dn = F.normalize(q, dim=-1), F.normalize(d, dim=-1)
    labels = torch.arange(len(q))
    logits = qn @ dn.T / t
    raw = q @ d.T / t
    mult = qn @ dn.T * t
    one_way = F.cross_entropy(logits, labels)
    other_way = F.cross_entropy(logits.T, labels)
    zeros = torch.zeros(len(q), dtype=torch.long)

    def symmetric(a, b, temperature=t):
        lg = a @ b.T / temperature
        return float((F.cross_entropy(lg, labels) + F.cross_entropy(lg.T, labels)) / 2)

    return {
        "normalised along dim 0": symmetric(F.normalize(q, dim=0), F.normalize(d, dim=0)),
        "only q normalised": symmetric(qn, d),
        "only d normalised": symmetric(q, dn),
        "multiplied": float((F.cross_entropy(mult, labels) + F.cross_entropy(mult.T, labels)) / 2),
        "one direction": float(one_way),
        "raw dot products": float((F.cross_entropy(raw, labels) + F.cross_entropy(raw.T, labels)) / 2),
        "labels zero": float((F.cross_entropy(logits, zeros) + F.cross_entropy(logits.T, zeros)) / 2),
        "no temperature": float((F.cross_entropy(qn @ dn.T, labels) + F.cross_entropy((qn @ dn.T).T, labels)) / 2),
        "other direction": float(other_way),
        "summed directions": float(one_way + other_way),
        "half of one direction": float(one_way + other_way / 2),
        "half of the other direction": float(one_way / 2 + other_way),
        "summed over the batch": float((one_way + other_way) / 2 * len(q)),
        "softmax first": float((F.cross_entropy(logits.softmax(-1), labels)
                                + F.cross_entropy(logits.T.softmax(-1), labels)) / 2),
    }


NO_GRADIENT_LEAF = ("no gradient flows back to the embeddings: your loss requires a gradient even when q and d do "
                    "not, so it is a new tensor cut off from them; build the loss from the inputs with torch "
                    "operations, do not wrap a number in torch.tensor")
NO_GRADIENT = {
    "q": "no gradient flows back to the queries q: compute the loss with torch operations on q and d (no .item(), no "
         "numpy, no torch.no_grad(), no detach)",
    "d": "no gradient flows back to the documents d: the symmetric loss trains both sides, so build it from d with "
         "torch operations too (no .item(), no numpy, no detach)",
}


NO_GRADIENT_NEW = ("the loss is a new tensor that is not computed from q and d, so no gradient reaches them: build it "
                   "from q and d with torch operations (no torch.tensor(number), no .detach() then .requires_grad_())")


def _reference_gradients(loss, q, d):
    """The gradients of the reference ``loss(q, d)`` with respect to q and d (made on copies, before fn runs)."""
    return gradients(loss, (q, d), (0, 1))[1]


def _expect_gradients(fn, args, value: float, want, missing: dict[str, str]) -> None:
    """Training needs the gradient of the loss with respect to q and d (``args[0]``, ``args[1]``): ``fn`` run again
    with both requiring one must give the same loss ``value`` and the reference's gradients ``want``. A flag alone
    proves nothing (a new tensor can copy q's ``requires_grad``), so the gradients themselves are compared;
    ``missing[name]`` is the message for a gradient that does not reach q or d."""
    got, grads = gradients(fn, args, (0, 1))
    if all(g is None for g in grads) and is_torch(got) and got.requires_grad:
        raise CheckFailed(NO_GRADIENT_NEW)
    for name, g in zip("qd", grads):
        expect(g is not None, missing[name])
    again = scalar(got, "the loss")
    expect(np.isclose(again, value, atol=1e-4),
           f"the loss is {again:.4f} when q and d require a gradient but {value:.4f} when they do not: compute it "
           "the same way whatever its inputs")
    for name, g, w in zip("qd", grads, want):
        scale = float(w.abs().max())
        if not close(g, w, atol=1e-4 * scale, rtol=1e-4):
            gap = float((g.double() - w.double()).abs().max())
            raise CheckFailed(f"the loss has the right value but the wrong gradient with respect to {name} (largest "
                              f"gap {gap:.3g}): part of it is cut off from {name}, e.g. a .detach() or .data in the "
                              "normalisation; build every step from the inputs with torch operations")


@exercise("11.2", "Symmetric InfoNCE with in-batch negatives")
def info_nce(fn):
    """``fn(q (B, D), d (B, D), temperature)`` -> scalar tensor: the symmetric InfoNCE loss."""
    import torch
    from utils import contrastive
    g = torch.Generator().manual_seed(5)
    q, d = torch.randn(6, 8, generator=g) * 3, torch.randn(6, 8, generator=g)   # q not unit length on purpose
    d[0] = q[0] + 0.1 * d[0]                                                    # one clearly matching pair
    t = 0.1
    want = float(contrastive.info_nce(q, d, t))
    want_grads = _reference_gradients(lambda a, b: contrastive.info_nce(a, b, t), q, d)
    wrong = _nce_variants(q, d, t)
    got, (q_after, d_after, _) = call_on_copies(fn, q, d, t)
    returned(got, "info_nce", "did you forget `return loss`?")
    expect_unchanged(q, q_after, "q", "normalise into new tensors (F.normalize returns a copy)")
    expect_unchanged(d, d_after, "d", "normalise into new tensors (F.normalize returns a copy)")
    value = scalar(got, "info_nce", one="the loss should be ONE number (the mean over the batch), got shape {shape}",
                   finite="the loss is {value}: check the temperature and the log-softmax")
    if np.isclose(value, want, atol=1e-4):
        if is_torch(got) and got.requires_grad:         # neither q nor d required a gradient in the first call
            raise CheckFailed(NO_GRADIENT_LEAF)
        expect(not is_torch(got) or got.dim() == 0,
               f"return a 0-dimensional tensor (a scalar), not one of shape {tuple(getattr(got, 'shape', ()))}: "
               "the mean of the two cross-entropies already is one")
        _expect_gradients(fn, (q, d, t), value, want_grads, NO_GRADIENT)
        t2 = 0.5                                                        # the temperature is an argument, not 0.1
        other = scalar(fn(q.clone(), d.clone(), t2), "info_nce")
        if np.isclose(other, value, atol=1e-4):
            raise CheckFailed("the temperature is fixed in your code: divide by the `temperature` argument (the "
                              "loss at temperature 0.5 came out the same as at 0.1)")
        want2 = float(contrastive.info_nce(q, d, t2))
        expect(np.isclose(other, want2, atol=1e-4),
               f"at temperature {t2} the loss should be {want2:.4f}, got {other:.4f}: divide by the `temperature` "
               "argument")
        return
    messages = {
        "multiplied": "temperature multiplied instead of divided: logits = cosines / temperature (a small "
                      "temperature SHARPENS the softmax)",
        "one direction": "softmax over one axis only (queries -> documents, the rows): the symmetric loss also takes "
                         "it over the columns (documents -> queries, logits.T) and averages the two",
        "other direction": "softmax over the wrong axis: you normalised the columns only (documents -> queries); the "
                           "symmetric loss averages the rows' cross-entropy and the columns'",
        "raw dot products": "you used raw dot products: normalise q and d to unit length first, so the logits are "
                            "cosines / temperature",
        "labels zero": "labels not the diagonal: the positive of row i is column i, labels = torch.arange(B)",
        "normalised along dim 0": "you normalised the columns (dim=0): each ROW is a vector, normalise along the "
                                  "last dimension, F.normalize(q, dim=-1)",
        "only q normalised": "only q was normalised: normalise the rows of d too, so the logits are cosines",
        "only d normalised": "only d was normalised: normalise the rows of q too, so the logits are cosines",
        "no temperature": "the temperature is missing: divide the cosines by it",
        "summed directions": "you summed the two directions: the symmetric loss is their MEAN, (rows + columns) / 2",
        "softmax first": "you applied softmax before F.cross_entropy: it takes the raw logits and applies the "
                         "log-softmax itself",
        "half of one direction": "only one of the two directions was halved (a + b / 2 divides b alone): put the sum "
                                 "in brackets, (rows + columns) / 2",
        "half of the other direction": "only one of the two directions was halved (a / 2 + b): put the sum in "
                                       "brackets, (rows + columns) / 2",
        "summed over the batch": "you summed over the batch: take the MEAN cross-entropy (F.cross_entropy's default "
                                 "reduction)",
    }
    for name, value_wrong in wrong.items():
        if np.isclose(value, value_wrong, atol=1e-4):
            raise CheckFailed(messages[name])
    raise CheckFailed(f"the loss should be {want:.4f} for this batch, got {value:.4f}")


# ---------------------------------------------------------------------------------------------------------------
# 11.3 hard-negative mining

def _long_list():
    """3 queries x 1000 documents of continuous scores (no ties) and a positive each. With k = 2 of 5 an unsorted top
    k (np.argpartition, torch.topk(sorted=False)) happens to come out sorted; with k = 300 of 1000 it does not, on
    numpy's AVX512, AVX2 and baseline code paths alike (np.argpartition's order depends on the CPU)."""
    rng = np.random.default_rng(113)
    return rng.normal(size=(3, 1000)), rng.integers(0, 1000, size=3)


ORDER = "sort the top k by score, best first"


@exercise("11.3", "Mine hard negatives, never the positive")
def mine_hard_negatives(fn):
    """``fn(scores (Q, N), positives (Q,), k)`` -> (Q, k) indices of the best-scoring non-positive documents."""
    from utils import contrastive
    scores = np.array([[0.9, 0.7, 0.8, 0.1, 0.5],
                       [0.2, 0.3, 0.1, 0.95, 0.6],
                       [0.4, 0.85, 0.2, 0.3, 0.9],
                       [-1.2, -1.5, -0.2, -2.0, -1.9]])   # scores can be negative (cosines, dot products)
    positives = np.array([1, 3, 4, 3])         # row 0's positive is NOT its top score: a real retriever's mistake
    want = contrastive.mine_hard_negatives(scores, positives, k=2).tolist()
    big, big_positives = _long_list()
    k_big = 300
    want_big = contrastive.mine_hard_negatives(big, big_positives, k=k_big).tolist()
    got, (scores_after, positives_after, _) = call_on_copies(fn, scores, positives, 2)
    returned(got, "mine_hard_negatives")
    expect_unchanged(scores, scores_after, "scores", "copy the scores before you overwrite the positives "
                                                     "(scores.copy()), the retriever still needs them")
    expect_unchanged(positives, positives_after, "positives")
    arr = as_numpy(got, "your result")
    expect(arr.shape == (4, 2), f"the result should have shape (Q, k) = (4, 2), got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise CheckFailed("return document INDICES, not scores")
    rows = arr.astype(int).tolist()
    every_positive = scores.copy()
    every_positive[:, positives] = -np.inf
    if rows != want and rows == np.argsort(-every_positive, axis=1, kind="stable")[:, :2].tolist():
        raise CheckFailed("you removed every query's positive from every row (scores[:, positives]): blank one "
                          "cell per query, scores[np.arange(Q), positives]")
    deleted = [np.argsort(-np.delete(r, p), kind="stable")[:2].tolist() for r, p in zip(scores, positives)]
    if rows != want and rows == deleted:
        raise CheckFailed("indices shifted: you deleted the positive's column, so every document after it moved "
                          "down by one; keep all N columns and set the positive's score to -inf instead")
    if any(p in r for p, r in zip(positives.tolist(), rows)):
        raise CheckFailed("positives mined as negatives: a query's own positive is among its 'negatives' - set its "
                          "score to -inf before taking the top k (0 or -1 is not low enough: scores can be "
                          "negative)")
    if rows == np.argsort(scores, axis=1)[:, :2].tolist() or all(
            sorted(r) == sorted(np.argsort(np.where(np.eye(5, dtype=bool)[positives], np.inf, scores), axis=1)[i, :2])
            for i, r in enumerate(rows)):
        raise CheckFailed("you took the LOWEST scores (easy negatives): hard negatives are the highest-scoring "
                          "wrong documents")
    if [sorted(r) for r in rows] == [sorted(r) for r in want] and rows != want:
        raise CheckFailed(f"the right documents in the wrong order: {ORDER}")
    expect(rows == want, f"the two highest-scoring non-positive documents per query are {want}, got {rows}")
    expect(isinstance(got, np.ndarray) and got.dtype.kind in "iu",
           f"return a numpy array of integer indices (np.argsort gives one), got {_kind(got)}")
    got_big = as_numpy(fn(big.copy(), big_positives.copy(), k_big), f"your result for k={k_big}")
    if got_big.shape == (3, 2):
        raise CheckFailed(f"k is fixed in your code: with k={k_big} your function still returned 2 negatives per "
                          "query")
    expect(got_big.shape == (3, k_big), f"with 3 queries and k={k_big} the result should have shape (3, {k_big}), "
                                        f"got {got_big.shape}")
    rows_big = got_big.astype(int).tolist()
    if [sorted(r) for r in rows_big] == [sorted(r) for r in want_big] and rows_big != want_big:
        raise CheckFailed(f"the right documents in the wrong order when k={k_big} of 1000: {ORDER} (np.argpartition "
                          "returns the k best in no particular order)")
    wrong = sum(r != w for r, w in zip(rows_big, want_big))
    expect(wrong == 0, f"with 1000 documents and k={k_big} the negatives of {wrong} of the 3 queries differ from the "
                       f"{k_big} highest-scoring non-positive documents, best first")


# ---------------------------------------------------------------------------------------------------------------
# 11.4 int8 scalar quantisation

@exercise("11.4", "int8 quantisation with a calibrated range")
def int8_quantize(fn):
    """``fn(X (n, d), lo (d,), hi (d,))`` -> int8 codes: lo -> -128, hi -> 127, 255 equal steps, clipped."""
    from utils import quantization as qz
    # no value sits half-way between two levels, so every correct way of writing the formula (float32 or float64,
    # / step or * 255 / (hi - lo)) gives the same codes
    X = np.array([[-1.0, 0.0, 2.0], [1.0, 4.0, -0.5], [-0.84, 2.3, 0.6], [3.0, -1.0, 0.2]], dtype=np.float32)
    lo, hi = qz.int8_calibrate(X[:3])                  # calibrated on the first three rows: row 3 falls outside
    want = qz.int8_quantize(X, lo, hi)
    got, (X_after, lo_after, hi_after) = call_on_copies(fn, X, lo, hi)
    returned(got, "int8_quantize", "did you forget `return codes`?")
    expect_unchanged(X, X_after, "X")
    expect_unchanged(lo, lo_after, "lo")
    expect_unchanged(hi, hi_after, "hi")
    arr = np.asarray(got) if isinstance(got, np.ndarray) else None
    expect(arr is not None, f"return a numpy array of dtype int8, got {_kind(got)}")
    expect(arr.shape == X.shape, f"one code per number: shape {X.shape}, got {arr.shape}")
    if arr.dtype == np.uint8 or (arr.dtype.kind in "iu" and arr.min() >= 0 and arr.max() > 127):
        raise CheckFailed("unsigned codes (0..255): int8 is signed, -128..127 - subtract 128 and return dtype int8")
    expect(arr.dtype == np.int8, f"return dtype int8 (1 byte a number), got {arr.dtype}")

    def codes(lo_, hi_, levels=255, offset=128, rounding=np.round, clip=(-128, 127)):
        return np.clip(rounding((X.astype(np.float64) - lo_) / ((hi_ - lo_) / levels)) - offset, *clip)

    raw = codes(lo, hi, clip=(-np.inf, np.inf))
    mistakes = [
        (codes(X.min(axis=0), X.max(axis=0)), "you measured the range on X itself: use the calibrated lo and hi you "
                                              "are given (values outside them are clipped)"),
        ((raw.astype(np.int64) + 128) % 256 - 128, "values outside the calibrated range wrapped around: clip the "
                                                    "codes to [-128, 127] before converting to int8"),
        (codes(lo, hi, clip=(-127, 127)), "clipped int8 range: the codes stop at -127; int8 holds -128..127, all "
                                          "256 levels"),
        (codes(lo, hi, levels=254, offset=127, clip=(-127, 127)), "clipped int8 range: the codes stop at -127; int8 "
                                                                  "holds -128..127, all 256 levels"),
        (codes(lo, hi, rounding=np.floor), "truncated instead of rounded: np.round((X - lo) / step) picks the NEAREST "
                                           "level"),
        (codes(lo, hi, rounding=lambda v: np.trunc(v - 128) + 128), "truncated instead of rounded (astype(np.int8) "
                                                                   "cuts the fraction off): np.round first"),
        (np.clip(np.round(X / np.abs(X[:3]).max(axis=0) * 127), -128, 127), "you scaled by the largest |value| (a "
                                                                          "symmetric range): use the calibrated lo "
                                                                          "and hi, lo -> -128 and hi -> 127"),
        (codes(lo, hi, rounding=np.ceil), "rounded up (np.ceil): np.round((X - lo) / step) picks the NEAREST "
                                          "level"),
        (codes(lo, hi, levels=256), "256 steps: 256 levels have 255 steps between them, step = (hi - lo) / 255"),
        (codes(lo, hi, offset=127), "off by one: lo should give -128, so subtract 128 (not 127) after rounding"),
        (codes(hi, lo), "lo and hi swapped: lo gives -128 and hi gives 127, step = (hi - lo) / 255"),
        (codes(lo, hi, levels=254, offset=127), "254 steps from -127 to 127: int8 holds -128..127, 256 levels with "
                                                "255 steps between them, step = (hi - lo) / 255, minus 128"),
    ]
    for wrong, message in mistakes:
        if not np.array_equal(arr, want) and np.array_equal(arr, np.asarray(wrong).astype(np.int64)):
            raise CheckFailed(message)

    lo2, hi2 = lo - np.float32(0.45), hi + np.float32(0.6)        # another range (no half-way values either)
    again = fn(X.copy(), lo2, hi2)
    if isinstance(again, np.ndarray) and np.array_equal(again, arr):
        raise CheckFailed("no calibration: your codes do not depend on lo and hi (another range gave the same "
                          "codes); quantise with the calibrated range you are given, not a fixed one")
    if np.array_equal(arr, want):
        expect(isinstance(again, np.ndarray) and np.array_equal(again, qz.int8_quantize(X, lo2, hi2)),
               "with another range (lo - 0.45, hi + 0.6) your codes differ from the reference: use lo and hi as "
               "given")
        return
    raise CheckFailed(f"the codes should be {want.tolist()}, got {arr.tolist()}")


# ---------------------------------------------------------------------------------------------------------------
# 11.5 binary search with rescoring

def _binary_data():
    """300 unit vectors and 6 queries near the first 6, with exact zeros in both (about 10% of the query numbers, 5%
    of the stored ones, as after a ReLU or a pruned dimension): a zero gives bit 0 (the bit is x > 0), and making the
    bits with x >= 0 changes the shortlists."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 32)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Q = (X[:6] + 0.6 * rng.normal(size=(6, 32))).astype(np.float32)
    zeros = np.random.default_rng(31)
    Q[zeros.random(Q.shape) < 0.1] = 0
    X[zeros.random(X.shape) < 0.05] = 0
    X /= np.linalg.norm(X, axis=1, keepdims=True)                      # unit rows again; the zeros stay 0
    return X, Q


def _long_collection():
    """1000 unit vectors and 3 unit queries, rescored all at once (shortlist = 1000) with k = 300: an unsorted top k
    comes out unsorted here, as in :func:`_long_list`, where with k = 5 of 20 it happens to come out sorted. The
    seed keeps the 301 best scores of each query at least 4e-6 apart (float32 numbers near 1 are 6e-8 apart), so
    every correct way of computing the dot products gives the same order."""
    rng = np.random.default_rng(227)
    X = rng.normal(size=(1000, 32)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Q = rng.normal(size=(3, 32)).astype(np.float32)
    return X, Q / np.linalg.norm(Q, axis=1, keepdims=True)


def _tie_broken(Q, X, ham, rows, s) -> bool:
    """True when ``rows`` is a right answer for SOME shortlist of the ``s`` Hamming-nearest: every row holds only codes
    at distance <= the s-th smallest, best float score first, with every strictly nearer candidate that scores
    higher than its last pick. Then only the order among equal distances (the tie rule) differs."""
    for i, r in enumerate(rows):
        t = np.sort(ham[i])[s - 1]                                    # the s-th smallest distance
        if any(ham[i, j] > t for j in r):
            return False
        score = X @ Q[i]
        if any(score[a] < score[b] for a, b in zip(r, r[1:])):
            return False
        strict = np.flatnonzero(ham[i] < t)
        if any(score[j] > score[r[-1]] and j not in r for j in strict):
            return False
    return True


@exercise("11.5", "Binary codes: Hamming shortlist, then float rescoring")
def binary_search(fn):
    """``fn(queries (q, d), codes (n, d/8) packed uint8, vectors (n, d), k, shortlist)`` -> (q, k) indices."""
    from utils import quantization as qz
    X, Q = _binary_data()
    codes = qz.binary_quantize(X)
    k, s = 5, 20
    want = qz.binary_search(Q, codes, X, k=k, shortlist=s).tolist()
    ham = qz.hamming_distances(qz.binary_quantize(Q), codes)
    k2, s2 = 3, 8                                                      # k and shortlist are arguments
    want2 = qz.binary_search(Q, codes, X, k=k2, shortlist=s2).tolist()
    X3, Q3 = _long_collection()
    codes3, k3, s3 = qz.binary_quantize(X3), 300, len(X3)
    want3 = qz.binary_search(Q3, codes3, X3, k=k3, shortlist=s3).tolist()
    got, (Q_after, codes_after, X_after, _, _) = call_on_copies(fn, Q, codes, X, k, s)
    returned(got, "binary_search")
    expect_unchanged(Q, Q_after, "queries")
    expect_unchanged(codes, codes_after, "codes")
    expect_unchanged(X, X_after, "vectors")
    arr = as_numpy(got, "your result")
    expect(arr.shape == (len(Q), k), f"the result should have shape (q, k) = ({len(Q)}, {k}), got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise CheckFailed("return row INDICES of the collection, not scores")
    rows = arr.astype(int).tolist()
    if rows == want:
        expect(isinstance(got, np.ndarray) and got.dtype.kind in "iu",
               f"return a numpy array of integer row indices, got {_kind(got)}")
        got2 = as_numpy(fn(Q.copy(), codes.copy(), X.copy(), k2, s2), "your result for k=3, shortlist=8")
        if got2.shape != (len(Q), k2):
            raise CheckFailed(f"k is fixed in your code: with k={k2} the result should have shape ({len(Q)}, {k2}), "
                              f"got {got2.shape}")
        rows2 = got2.astype(int).tolist()
        if rows2 == qz.binary_search(Q, codes, X, k=k2, shortlist=s).tolist() and rows2 != want2:
            raise CheckFailed(f"the shortlist length is fixed in your code: with shortlist={s2} you still rescored "
                              f"{s} candidates")
        expect(rows2 == want2, f"with k={k2}, shortlist={s2} the first query should get {want2[0]}, got {rows2[0]}")
        got3 = as_numpy(fn(Q3.copy(), codes3.copy(), X3.copy(), k3, s3), f"your result for k={k3}, shortlist={s3}")
        expect(got3.shape == (len(Q3), k3), f"with {len(Q3)} queries and k={k3} the result should have shape "
                                            f"({len(Q3)}, {k3}), got {got3.shape}")
        rows3 = got3.astype(int).tolist()
        if [sorted(r) for r in rows3] == [sorted(r) for r in want3] and rows3 != want3:
            raise CheckFailed(f"the right rows in the wrong order when k={k3} of {s3}: {ORDER} (np.argpartition "
                              "returns the k best in no particular order)")
        wrong = sum(r != w for r, w in zip(rows3, want3))
        expect(wrong == 0, f"with k={k3}, shortlist={s3} the rows of {wrong} of the {len(Q3)} queries differ from "
                           f"the {k3} best float scores of the Hamming shortlist, best first")
        return
    qbits = qz.binary_quantize(Q)
    ge_bits = np.packbits(Q >= 0, axis=1)
    ge = qz.rescore(Q, X, qz.hamming_top_k(ge_bits, codes, s), k).tolist()
    ge_both = qz.rescore(Q, X, qz.hamming_top_k(ge_bits, np.packbits(X >= 0, axis=1), s), k).tolist()
    if rows == ge_both and rows != ge:
        raise CheckFailed("your bits were made with >= 0: a number equal to 0 gives bit 0 (x > 0), and compare the "
                          "queries with the stored `codes` you are given rather than making new ones; some numbers "
                          "here are exactly 0")
    if rows == ge:
        raise CheckFailed("the queries' bits were made with >= 0: a number equal to 0 gives bit 0, as in the stored "
                          "codes (np.packbits(vectors > 0, axis=1)); some query numbers here are exactly 0")
    exact = qz.exact_top_k(Q, X, k).tolist()
    hamming_only = qz.hamming_top_k(qbits, codes, k).tolist()
    shortlist = qz.hamming_top_k(qbits, codes, s)
    flipped = qz.rescore(Q, X, qz.hamming_top_k(qz.binary_quantize(-Q), codes, s), k).tolist()
    only_k = qz.rescore(Q, X, qz.hamming_top_k(qbits, codes, k), k).tolist()
    first_rows = qz.rescore(Q, X, np.tile(np.arange(s), (len(Q), 1)), k).tolist()
    farthest = qz.rescore(Q, X, np.argsort(-ham, axis=1, kind="stable")[:, :s], k).tolist()
    byte_dist = (qbits[:, None, :] != codes[None, :, :]).sum(-1)
    by_bytes = qz.rescore(Q, X, np.argsort(byte_dist, axis=1, kind="stable")[:, :s], k).tolist()
    byte_sum = np.stack([(codes ^ b).sum(axis=1) for b in qbits])      # XOR bytes added up as numbers
    by_byte_sum = qz.rescore(Q, X, np.argsort(byte_sum, axis=1, kind="stable")[:, :s], k).tolist()
    scores = np.einsum("qd,qsd->qs", Q, X[shortlist])                   # (q, s) float scores of the shortlist
    positions = np.argsort(-scores, axis=1, kind="stable")[:, :k].tolist()
    worst_first = np.take_along_axis(shortlist, np.argsort(scores, axis=1, kind="stable")[:, :k], axis=1).tolist()
    if rows == hamming_only:
        raise CheckFailed("you returned the Hamming order: rescore the shortlist with the float vectors "
                          "(dot products with the query) and keep the best k")
    if rows == flipped or rows == farthest:
        raise CheckFailed("Hamming with the wrong sign convention: the query's bits must be made like the stored "
                          "ones (1 where the number is > 0), and the shortlist holds the SMALLEST distances")
    if rows == only_k:
        raise CheckFailed("rescoring the wrong shortlist: you rescored only the Hamming top k; rescore the top "
                          "`shortlist` candidates, then keep k")
    if rows == first_rows:
        raise CheckFailed("rescoring the wrong shortlist: you rescored the first `shortlist` rows of the collection, "
                          "not the query's Hamming nearest")
    if rows == by_bytes:
        raise CheckFailed("you counted differing BYTES, not bits: XOR the packed codes and count the 1 bits "
                          "(np.bitwise_count), then sum per row")
    if rows == by_byte_sum:
        raise CheckFailed("you added up the XORed bytes as numbers: the Hamming distance counts their 1 bits "
                          "(np.bitwise_count), then sums per row")
    if rows == exact:
        raise CheckFailed("rescoring the wrong shortlist: you scored every vector with floats (exact search, no "
                          "memory saved); rescore only the Hamming shortlist")
    if rows == positions:
        raise CheckFailed("you returned positions in the shortlist (0..shortlist-1), not row indices of the "
                          "collection: map them back, e.g. np.take_along_axis(candidates, order, axis=1)")
    if rows == worst_first:
        raise CheckFailed("you kept the LOWEST float scores: rescoring keeps the k largest dot products, best first")
    if [sorted(r) for r in rows] == [sorted(r) for r in want]:
        raise CheckFailed(f"the right rows in the wrong order: {ORDER} (the float dot products)")
    if _tie_broken(Q, X, ham, rows, s):
        raise CheckFailed("equal Hamming distances broken differently: many codes tie at the edge of the shortlist; "
                          "sort with np.argsort(..., kind=\"stable\") so that ties keep the smaller index")
    raise CheckFailed(f"the indices differ from Hamming top-{s} rescored with the floats: {want[0]} expected for "
                      f"the first query, got {rows[0]}")


# ---------------------------------------------------------------------------------------------------------------
# 11.6 quiz

# b: a small temperature sharpens the softmax, so the hardest negatives dominate the gradient.
quiz_temperature = quiz(
    "11.6", "Quiz: what does the temperature do?",
    correct="b", options="abcd",
    why_wrong={
        "a": "the temperature does not change which document has the largest cosine, only how peaked the "
             "softmax over them is; the ranking at search time is the same for every temperature",
        "c": "dividing by a LARGER temperature flattens the softmax: all documents look alike and the loss "
             "barely separates positive from negatives",
        "d": "the number of negatives is the batch size minus one whatever the temperature",
    },
    explanation="cosines live in [-1, 1]; dividing by 0.05 stretches them to [-20, 20], so the softmax puts "
                "almost all its weight (and gradient) on the few negatives that score close to the positive")


# ---------------------------------------------------------------------------------------------------------------
# 11.7 Matryoshka loss

def _matryoshka_variants(q, d, dims, weights, t):
    """What the usual mistakes compute, by name (each a float)."""
    import torch
    F = torch.nn.functional
    from utils import contrastive

    def nce(a, b, temperature=t):
        return float(contrastive.info_nce(a, b, temperature))

    def unnormalised(a, b):                     # cosines of the FULL vectors, then the prefix of each unit vector
        lg = a @ b.T / t
        labels = torch.arange(len(a))
        return float((F.cross_entropy(lg, labels) + F.cross_entropy(lg.T, labels)) / 2)

    qn, dn = F.normalize(q, dim=-1), F.normalize(d, dim=-1)
    per = [nce(q[:, :m], d[:, :m]) for m in dims]
    w = list(weights)
    return {
        "mean": float(np.mean(per)),
        "weighted mean": float(np.dot(w, per) / np.sum(w)),
        "weights ignored": float(np.sum(per)),
        "last dims": float(np.dot(w, [nce(q[:, -m:], d[:, -m:]) for m in dims])),
        "wrong axis": float(np.dot(w, [nce(q[:m], d[:m]) for m in dims])),          # x[:m]: the first m ROWS
        "not re-normalised": float(np.dot(w, [unnormalised(qn[:, :m], dn[:, :m]) for m in dims])),
        "full vector only": float(np.sum(w) * nce(q, d)),
        "multiplied": float(np.dot(w, [float(contrastive.info_nce(q[:, :m], d[:, :m], 1 / t)) for m in dims])),
        "largest prefix only": float(w[-1] * per[-1]),
        "divided by the count": float(np.dot(w, per) / len(dims)),
        "one direction": float(np.dot(w, [float(contrastive.info_nce(q[:, :m], d[:, :m], t, symmetric=False))
                                          for m in dims])),
    }


@exercise("11.7", "Matryoshka loss: InfoNCE summed over nested prefixes")
def matryoshka_loss(fn):
    """``fn(q (B, D), d (B, D), dims, weights, temperature)`` -> scalar tensor: sum_k weights[k] * InfoNCE on the
    first dims[k] numbers."""
    import torch
    from utils import contrastive
    g = torch.Generator().manual_seed(7)
    q = torch.randn(6, 16, generator=g) * 2 + 1                 # not unit length, and a shared offset
    d = torch.randn(6, 16, generator=g)
    d[:, :4] += q[:, :4]                                        # the first numbers match more than the last
    q[:, 8:] *= 4                                               # the tail dominates the full norm: prefixes need
    dims, weights, t = (4, 8, 16), (1.0, 0.5, 2.0), 0.1        # their own normalisation
    want = float(contrastive.matryoshka_loss(q, d, dims=dims, weights=weights, temperature=t))
    want_grads = _reference_gradients(
        lambda a, b: contrastive.matryoshka_loss(a, b, dims=dims, weights=weights, temperature=t), q, d)
    wrong = _matryoshka_variants(q, d, dims, weights, t)
    got, (q_after, d_after, *_) = call_on_copies(fn, q, d, dims, weights, t)
    returned(got, "matryoshka_loss", "did you forget `return loss`?")
    expect_unchanged(q, q_after, "q", "slice and normalise into new tensors")
    expect_unchanged(d, d_after, "d", "slice and normalise into new tensors")
    value = scalar(got, "matryoshka_loss", one="the loss should be ONE number (the weighted sum over the prefixes), "
                                               "got shape {shape}",
                   finite="the loss is {value}: check the prefixes and the temperature")
    if np.isclose(value, want, atol=1e-4):
        if is_torch(got) and got.requires_grad:
            raise CheckFailed(NO_GRADIENT_LEAF)
        expect(not is_torch(got) or got.dim() == 0,
               f"return a 0-dimensional tensor (a scalar), not one of shape {tuple(getattr(got, 'shape', ()))}: "
               "a sum of the weighted prefix losses already is one")
        missing = ("no gradient flows back to q and d: build the loss with torch operations (no .item(), no numpy, "
                   "no float())")
        _expect_gradients(fn, (q, d, dims, weights, t), value, want_grads, {"q": missing, "d": missing})
        dims2, weights2 = (2, 8), (3.0, 1.0)                    # arguments, not constants; the last may be < D
        other = scalar(fn(q.clone(), d.clone(), dims2, weights2, t), "matryoshka_loss")
        want2 = float(contrastive.matryoshka_loss(q, d, dims=dims2, weights=weights2, temperature=t))
        expect(np.isclose(other, want2, atol=1e-4),
               f"with dims={dims2} and weights={weights2} the loss should be {want2:.4f}, got {other:.4f}: use the "
               "`dims` and `weights` arguments, not fixed values (the last prefix is dims[-1], which may be shorter "
               "than the vectors)")
        return
    messages = {
        "mean": "you averaged the prefix losses and ignored the weights: the Matryoshka loss is the weighted SUM, "
                "sum(w * loss_m)",
        "weighted mean": "you divided by the sum of the weights: the Matryoshka loss is the weighted SUM of the "
                         "prefix losses, not their weighted mean",
        "weights ignored": "the weights are ignored: multiply each prefix's loss by its weight before summing",
        "last dims": "you used the LAST m numbers (x[:, -m:]): a Matryoshka embedding keeps the FIRST m, x[:, :m]",
        "wrong axis": "you truncated the wrong axis (x[:m] keeps the first m ROWS, i.e. pairs): keep the first m "
                      "numbers of every vector, x[:, :m]",
        "not re-normalised": "the truncated vectors were not normalised again: normalising the full vectors and then "
                             "slicing leaves prefixes shorter than 1, so their dot products are not cosines; "
                             "normalise each prefix (or pass it to info_nce, which does)",
        "full vector only": "every term used the full vectors: slice each one to its first m numbers, x[:, :m]",
        "multiplied": "temperature multiplied instead of divided: logits = cosines / temperature",
        "largest prefix only": "only the last (largest) prefix counts: loop over every m in dims and add up the "
                               "weighted losses",
        "divided by the count": "you divided by the number of prefixes: the Matryoshka loss is the weighted SUM of "
                                "the prefix losses, sum(w * loss_m)",
        "one direction": "each prefix's loss took the softmax over the rows only: use 11.2's symmetric InfoNCE (or "
                         "contrastive.info_nce), the mean of the rows' and the columns' cross-entropy",
    }
    for name, value_wrong in wrong.items():
        if np.isfinite(value_wrong) and np.isclose(value, value_wrong, atol=1e-4):
            raise CheckFailed(messages[name])
    raise CheckFailed(f"the loss should be {want:.4f} for this batch, got {value:.4f}")


# ---------------------------------------------------------------------------------------------------------------
# 11.8 quiz: the false-negative trap

# c: exclude known equivalents by id or text; a similarity threshold alone also drops true hard negatives.
quiz_false_negatives = quiz(
    "11.8", "Quiz: a hard negative that is really a positive",
    correct="c", options="abcd",
    why_wrong={
        "a": "a lower temperature sharpens the softmax, so the top-scoring negative - here the duplicate - gets "
             "even MORE of the gradient: the model is pushed harder to separate two identical texts",
        "b": "dropping every candidate above a cosine threshold also throws away real hard negatives that merely "
             "look alike (the 'no signs of life' / 'signs of life' pair of this notebook is an opposite, not a "
             "paraphrase), and misses paraphrases that score below it",
        "d": "a larger batch adds more random negatives but keeps the mined duplicate among them: the false "
             "negative is still pushed away",
    },
    explanation="a text identical to the positive (or a sense known to be equivalent) is a second right answer, "
                "so it is excluded by what is known about it (id, exact text); a similarity threshold is a "
                "cruder guard with misses and false alarms of its own")
