"""Every exercise of notebook 11: right answer passes, stub is 'not attempted', typical mistakes are named."""
import re

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from check_helpers import _GRADER, _graded, assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils import contrastive, pooling
from utils import quantization as qz
from utils.checks import ExerciseFailed, ch11


# ---------------------------------------------------------------- 11.1 mean pooling
def _masked_mean(hidden, mask):
    m = mask.unsqueeze(-1).float()
    return (hidden * m).sum(1) / m.sum(1)


def test_mean_pool():
    assert_passes(ch11.mean_pool, pooling.mean_pool)
    assert_passes(ch11.mean_pool, _masked_mean)
    assert_not_attempted(ch11.mean_pool, stub_function)
    assert_rejects(ch11.mean_pool, lambda h, m: h.mean(dim=1), match="padding counted")
    assert_rejects(ch11.mean_pool, lambda h, m: (h * m.unsqueeze(-1)).sum(1) / h.shape[1], match="padding counted")
    assert_rejects(ch11.mean_pool, lambda h, m: (h * m.unsqueeze(-1)).sum(1), match="SUM")
    assert_rejects(ch11.mean_pool, lambda h, m: (h * m.unsqueeze(-1)).sum(1) / m.sum(), match="WHOLE batch")
    assert_rejects(ch11.mean_pool, lambda h, m: h.mean(dim=2), match="vector dimension")
    assert_rejects(ch11.mean_pool, lambda h, m: torch.stack([h[b, :int(n)].mean(0) for b, n in enumerate(m.sum(1))]),
                   match="first mask.sum")          # assumes every row is padded at the end
    assert_rejects(ch11.mean_pool, lambda h, m: h.mul_(m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True),
                   match="changed its input `hidden`")
    assert_rejects(ch11.mean_pool, lambda h, m: None, match="return")


# ---------------------------------------------------------------- 11.2 InfoNCE
def _nce(q, d, t, *, divide=True, normalise=True, labels=None, rows=True, cols=True):
    if normalise:
        q, d = F.normalize(q, dim=-1), F.normalize(d, dim=-1)
    logits = q @ d.T / t if divide else q @ d.T * t
    y = torch.arange(len(q)) if labels is None else labels
    parts = ([F.cross_entropy(logits, y)] if rows else []) + ([F.cross_entropy(logits.T, y)] if cols else [])
    return sum(parts) / len(parts)


def test_info_nce():
    assert_passes(ch11.info_nce, lambda q, d, t: contrastive.info_nce(q, d, t))
    assert_passes(ch11.info_nce, _nce)
    assert_not_attempted(ch11.info_nce, stub_function)
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, t, divide=False), match="multiplied instead of divided")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, t, cols=False), match="one axis only")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, t, rows=False), match="wrong axis")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, t, labels=torch.zeros(len(q), dtype=torch.long)),
                   match="labels not the diagonal")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, t, normalise=False), match="raw dot products")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, 1.0), match="temperature is missing")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, 0.1), match="temperature is fixed")
    assert_rejects(ch11.info_nce, lambda q, d, t: 2 * _nce(q, d, t), match="summed the two directions")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, t) * len(q), match="summed over the batch")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, t, cols=False) + _nce(q, d, t, rows=False) / 2,
                   match="only one of the two directions was halved")      # a + b / 2: operator precedence
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, t).item(), match="no gradient")
    assert_rejects(ch11.info_nce,
                   lambda q, d, t: _nce(F.normalize(q, dim=0), F.normalize(d, dim=0), t, normalise=False),
                   match="normalised the columns")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(F.normalize(q, dim=-1), d, t, normalise=False),
                   match="only q was normalised")
    assert_rejects(ch11.info_nce, lambda q, d, t: F.cross_entropy(F.normalize(q, dim=-1) @ F.normalize(d, dim=-1).T
                                                                  / t, torch.arange(len(q)), reduction="none"),
                   match="ONE number")
    assert_rejects(ch11.info_nce, lambda q, d, t: (F.cross_entropy((F.normalize(q, dim=-1) @ F.normalize(d, dim=-1).T
                                                                   / t).softmax(-1), torch.arange(len(q)))
                                                  + F.cross_entropy((F.normalize(d, dim=-1) @ F.normalize(q, dim=-1).T
                                                                     / t).softmax(-1), torch.arange(len(q)))) / 2,
                   match="softmax before F.cross_entropy")
    for shape in ((1,), (1, 1)):                                         # the task asks for a 0-dimensional tensor
        assert_rejects(ch11.info_nce, lambda q, d, t, shape=shape: _nce(q, d, t).reshape(shape),
                       match="0-dimensional tensor")


def test_info_nce_rejects_a_loss_no_gradient_reaches():
    # the right value in a new leaf tensor: it requires a gradient, but none flows back to q and d
    assert_rejects(ch11.info_nce, lambda q, d, t: torch.tensor(_nce(q, d, t).item(), requires_grad=True),
                   match="no gradient flows back to the embeddings.*do not wrap a number in torch.tensor")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d, t).detach().requires_grad_(True),
                   match="no gradient flows back to the embeddings")
    assert_rejects(ch11.info_nce, lambda q, d, t: torch.tensor(_nce(q, d, t).item()),
                   match="no gradient flows back to the queries")
    assert_rejects(ch11.info_nce, _nce_without_grad, match="no gradient flows back to the queries")
    assert_rejects(ch11.info_nce, lambda q, d, t: _nce(q, d.detach(), t),
                   match="no gradient flows back to the documents")
    assert_passes(ch11.info_nce, lambda q, d, t: _nce(q.double(), d.double(), t))     # float64 is fine


def _nce_without_grad(q, d, t):
    with torch.no_grad():
        return _nce(q, d, t)


def _flag_copied(q, d, t):
    """The right value in a new tensor that copies the inputs' requires_grad flag: no gradient reaches q or d."""
    return torch.tensor(_nce(q, d, t).item(), requires_grad=q.requires_grad or d.requires_grad)


def _detached_norms(q, d, t):
    """The right value, but autograd sees the norms as constants: the gradients are not the loss's."""
    return _nce(q / q.norm(dim=-1, keepdim=True).detach(), d / d.norm(dim=-1, keepdim=True).detach(), t,
                normalise=False)


GRADIENT_MISTAKES = [
    (_flag_copied, "new tensor that is not computed from q and d"),
    (lambda q, d, t: _nce(q, d, t).detach().requires_grad_(q.requires_grad or d.requires_grad),
     "new tensor that is not computed from q and d"),
    (_detached_norms, "right value but the wrong gradient with respect to q"),
    (lambda q, d, t: _nce(F.normalize(q, dim=-1), d / d.norm(dim=-1, keepdim=True).detach(), t, normalise=False),
     "wrong gradient with respect to d"),
    (lambda q, d, t: _nce(q, d, t) + float(q.requires_grad), "loss is .* when q and d require a gradient"),
]


@pytest.mark.parametrize("wrong, match", GRADIENT_MISTAKES)
def test_info_nce_compares_the_gradients_with_the_references(wrong, match):
    assert_rejects(ch11.info_nce, wrong, match=match)


def _rejected_by_the_grader(check, answer) -> str:
    with pytest.raises(ExerciseFailed) as info:
        _graded(check, answer)
    return info.value.message


def test_the_gradients_are_compared_through_the_grader_too():
    """The loss's graph stays in the learner's kernel: the gradients are made there and come back as data."""
    _graded(ch11.info_nce, _nce)
    for wrong, match in GRADIENT_MISTAKES[:3]:
        assert re.search(match, _rejected_by_the_grader(ch11.info_nce, wrong))
    assert "new tensor" in _rejected_by_the_grader(ch11.matryoshka_loss, _mrl_flag_copied)


def _forging(forge):
    """A right answer that, once called, makes its kernel's probe send ``forge(q, d)`` back instead of the gradients
    (the probe is the learner's to change)."""
    def info_nce(q, d, t):
        import sys
        probe = sys.modules["course_tools.grading.probe"]
        probe._APPLY["grad"] = lambda fn, args, wrt: (fn(*args), forge(*args[:2]))
        return _nce(q, d, t)
    return info_nce


@pytest.mark.parametrize("forged, match", [
    (lambda q, d: [torch.zeros(2, 2), torch.zeros_like(d)], r"argument 0 .* float32 tensor of shape \(2, 2\), not a "
                                                            r"tensor of shape \(6, 8\)"),
    (lambda q, d: [torch.zeros_like(q), torch.zeros_like(d).double()], r"argument 1 .* float64 tensor"),
    (lambda q, d: ["gradient", None], r"argument 0 .* is a str"),
    (lambda q, d: [torch.zeros_like(q)], r"got a tuple back .* result and one gradient per input \(2\)"),
    (lambda q, d: [torch.zeros_like(q), torch.zeros_like(d)], "wrong gradient with respect to q"),
])
def test_forged_gradients_from_the_kernel_fail_the_exercise(forged, match):
    """Every byte of the probe's answer is the learner's: gradients of another shape, dtype or type, or too few of
    them, fail the exercise with a message (never a crash of the check); well-formed but wrong ones are wrong."""
    try:
        assert re.search(match, _rejected_by_the_grader(ch11.info_nce, _forging(forged)))
    finally:
        run = _GRADER["kernel"].run("import course_tools.grading.probe as _p\n_p._APPLY['grad'] = _p._gradients\n", 60)
        assert run.state == "ok"


# ---------------------------------------------------------------- 11.3 hard negatives
def _mine(scores, positives, k, *, exclude_positive=True, best_first=True, lowest=False, in_place=False,
          sentinel=None):
    S = scores if in_place else scores.copy()
    if exclude_positive:
        S[np.arange(len(S)), positives] = (np.inf if lowest else -np.inf) if sentinel is None else sentinel
    order = np.argsort(S if lowest else -S, axis=1, kind="stable")[:, :k]
    return order if best_first else order[:, ::-1]


def test_mine_hard_negatives():
    assert_passes(ch11.mine_hard_negatives, lambda s, p, k: contrastive.mine_hard_negatives(s, p, k))
    assert_passes(ch11.mine_hard_negatives, _mine)
    assert_not_attempted(ch11.mine_hard_negatives, stub_function)
    assert_rejects(ch11.mine_hard_negatives, lambda s, p, k: _mine(s, p, k, exclude_positive=False),
                   match="positives mined as negatives")
    assert_rejects(ch11.mine_hard_negatives, lambda s, p, k: _mine(s, p, k, lowest=True), match="LOWEST")
    assert_rejects(ch11.mine_hard_negatives, lambda s, p, k: _mine(s, p, k, best_first=False), match="wrong order")
    assert_rejects(ch11.mine_hard_negatives, lambda s, p, k: _mine(s, p, k, in_place=True),
                   match="changed its input `scores`")
    for sentinel in (0.0, -1.0):                       # not low enough: scores can be negative
        assert_rejects(ch11.mine_hard_negatives, lambda s, p, k, v=sentinel: _mine(s, p, k, sentinel=v),
                       match="0 or -1 is not low enough")
    assert_rejects(ch11.mine_hard_negatives, lambda s, p, k: _mine(s, p, 2), match="k is fixed")
    assert_rejects(ch11.mine_hard_negatives, lambda s, p, k: _mine(s, p, k).astype(float), match="integer indices")
    assert_rejects(ch11.mine_hard_negatives, lambda s, p, k: _mine(s, p, k).tolist(), match="numpy array")
    assert_rejects(ch11.mine_hard_negatives,
                   lambda s, p, k: np.stack([np.argsort(-np.delete(r, i), kind="stable")[:k] for r, i in zip(s, p)]),
                   match="indices shifted")            # the positive's column deleted: later indices move down
    assert_rejects(ch11.mine_hard_negatives, _mine_blanking_columns, match="every query's positive from every row")


def _mine_blanking_columns(scores, positives, k):
    S = scores.copy()
    S[:, positives] = -np.inf                          # every positive's column, in every row
    return np.argsort(-S, axis=1, kind="stable")[:, :k]


def _mine_unsorted(scores, positives, k, how):
    S = _without_positives(scores, positives)
    if how == "argpartition k":
        return np.argpartition(-S, k, axis=1)[:, :k]
    if how == "argpartition k-1":
        return np.argpartition(-S, k - 1, axis=1)[:, :k]
    if how == "argpartition last k":
        return np.argpartition(S, -k, axis=1)[:, -k:][:, ::-1]
    return torch.from_numpy(S).topk(k, dim=1, sorted=False).indices.numpy()


def test_mine_hard_negatives_rejects_an_unsorted_top_k():
    # with k=2 of 5 np.argpartition happens to return the two best in order; the check's k=300 of 1000 does not
    for how in ("argpartition k", "argpartition k-1", "argpartition last k", "topk unsorted"):
        assert_rejects(ch11.mine_hard_negatives, lambda s, p, k, how=how: _mine_unsorted(s, p, k, how),
                       match="wrong order.*sort the top k by score")
    assert_passes(ch11.mine_hard_negatives, _mine_partitioned_then_sorted)
    assert_passes(ch11.mine_hard_negatives,
                  lambda s, p, k: torch.from_numpy(_without_positives(s, p)).topk(k, dim=1).indices.numpy())


def _without_positives(scores, positives):
    S = scores.copy()
    S[np.arange(len(S)), positives] = -np.inf
    return S


def _mine_partitioned_then_sorted(scores, positives, k):
    S = _without_positives(scores, positives)
    best = np.argpartition(-S, k - 1, axis=1)[:, :k]                       # the k best, in no particular order
    return np.take_along_axis(best, np.argsort(-np.take_along_axis(S, best, axis=1), axis=1), axis=1)


# ---------------------------------------------------------------- 11.4 int8
def _int8(X, lo, hi, *, offset=128, clip=(-128, 127), rounding=np.round, dtype=np.int8, levels=255):
    codes = rounding((X - lo) / ((hi - lo) / levels)) - offset
    if clip is not None:
        codes = np.clip(codes, *clip)
    return codes.astype(np.int64).astype(dtype) if clip is None else codes.astype(dtype)


def test_int8_quantize():
    assert_passes(ch11.int8_quantize, qz.int8_quantize)
    assert_passes(ch11.int8_quantize, _int8)
    assert_not_attempted(ch11.int8_quantize, stub_function)
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, lo, hi, offset=0, clip=(0, 255), dtype=np.uint8),
                   match="unsigned")
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, lo, hi, clip=(-127, 127)), match="clipped int8")
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, lo, hi, clip=None), match="wrapped around")
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, lo, hi, rounding=np.floor), match="truncated")
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, lo, hi).astype(np.int16), match="dtype int8")
    assert_rejects(ch11.int8_quantize,
                   lambda X, lo, hi: np.clip(np.round(X / np.abs(X[:3]).max(axis=0) * 127), -128, 127).astype(np.int8),
                   match="symmetric range")
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, lo, hi, rounding=np.ceil), match="rounded up")
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, lo, hi, levels=256), match="256 steps")
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, lo, hi, offset=127), match="off by one")
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, hi, lo), match="lo and hi swapped")
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, lo, hi, levels=254, offset=127),
                   match="254 steps")                 # ((X - lo) / (hi - lo) * 2 - 1) * 127: a symmetric -127..127
    assert_rejects(ch11.int8_quantize,
                   lambda X, lo, hi: np.clip((X - lo) / ((hi - lo) / 255) - 128, -128, 127).astype(np.int8),
                   match="truncated")                  # astype cuts the fraction off, no np.round
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, X.min(0), X.max(0)), match="range on X itself")
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, -np.ones_like(lo), np.ones_like(hi)),
                   match="no calibration")             # a fixed range instead of the calibrated one
    assert_rejects(ch11.int8_quantize, lambda X, lo, hi: _int8(X, lo, hi).tolist(), match="numpy array")


def test_int8_quantize_accepts_every_way_of_writing_the_formula():
    # no test value lies half-way between two levels, so float64 and the * 255 / (hi - lo) form agree too
    for fn in (lambda X, lo, hi: _int8(X.astype(np.float64), lo.astype(np.float64), hi.astype(np.float64)),
               lambda X, lo, hi: np.clip(np.round((X - lo) * 255 / (hi - lo)) - 128, -128, 127).astype(np.int8),
               lambda X, lo, hi: np.clip(np.floor((X - lo) / ((hi - lo) / 255) + 0.5) - 128, -128, 127)
               .astype(np.int8),
               lambda X, lo, hi: _int8(np.clip(X, lo, hi), lo, hi)):
        assert_passes(ch11.int8_quantize, fn)


# ---------------------------------------------------------------- 11.5 binary + rescore
def _bsearch(Q, codes, X, k, s, *, sign=1, rescore=True, short=None, by_bytes=False, exact=False, byte_sum=False,
             kind="stable", map_back=True, worst_first=False, at_zero=False, own_codes=False, unsorted=False):
    qbits = np.packbits(sign * Q >= 0 if at_zero else sign * Q > 0, axis=1)
    if own_codes:                                      # codes made again from the vectors, with the same rule
        codes = np.packbits(X >= 0 if at_zero else X > 0, axis=1)
    if by_bytes:
        dist = (qbits[:, None, :] != codes[None]).sum(-1)
    elif byte_sum:
        dist = np.stack([(codes ^ q).sum(1) for q in qbits])
    else:
        dist = np.stack([np.bitwise_count(codes ^ q).sum(1) for q in qbits])
    cand = np.argsort(dist, axis=1, kind=kind)[:, :(s if short is None else short)]
    if exact:
        cand = np.tile(np.arange(len(X)), (len(Q), 1))
    if not rescore:
        return cand[:, :k]
    scores = np.einsum("qd,qsd->qs", Q, X[cand])
    if unsorted:
        order = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        return np.take_along_axis(cand, order, axis=1)
    order = np.argsort(scores if worst_first else -scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cand, order, axis=1) if map_back else order


def test_binary_search():
    assert_passes(ch11.binary_search, qz.binary_search)
    assert_passes(ch11.binary_search, _bsearch)
    assert_not_attempted(ch11.binary_search, stub_function)
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, rescore=False), match="Hamming order")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, sign=-1), match="wrong sign convention")
    assert_rejects(ch11.binary_search, lambda Q, c, X, k, s: _bsearch(Q, c, X, k, s, short=k),
                   match="wrong shortlist")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, by_bytes=True), match="BYTES")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, exact=True), match="wrong shortlist")
    assert_rejects(ch11.binary_search, lambda Q, c, X, k, s: qz.rescore(Q, X, np.tile(np.arange(s), (len(Q), 1)), k),
                   match="first `shortlist` rows")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, byte_sum=True), match="XORed bytes as numbers")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, kind="quicksort"), match="ties keep the smaller")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, map_back=False), match="positions in the shortlist")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, worst_first=True), match="LOWEST float scores")
    assert_rejects(ch11.binary_search, lambda *a: np.sort(_bsearch(*a), axis=1), match="wrong order")
    assert_rejects(ch11.binary_search, lambda Q, c, X, k, s: _bsearch(Q, c, X, k, 20), match="shortlist length is fixed")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a).astype(float), match="integer row indices")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a).tolist(), match="integer row indices")


def test_binary_search_rejects_bits_made_with_greater_or_equal():
    X, Q = ch11._binary_data()
    assert (Q == 0).any() and (X == 0).any()           # exact zeros, where x >= 0 and x > 0 give different bits
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, at_zero=True), match="bits were made with >= 0")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, at_zero=True, own_codes=True),
                   match="bits were made with >= 0")
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, sign=-1), match="wrong sign convention")
    assert_passes(ch11.binary_search, lambda *a: _bsearch(*a, own_codes=True))   # the same codes, made again


def test_binary_search_rejects_an_unsorted_top_k():
    # with k=5 of 20 np.argpartition happens to return the five best in order; the check's k=300 of 1000 does not
    assert_rejects(ch11.binary_search, lambda *a: _bsearch(*a, unsorted=True), match="wrong order.*sort the top k")


def test_long_lists_have_no_near_ties():
    # k=300 of 1000 must have one right order whatever the float rounding: the 301 best scores stay apart
    X, Q = ch11._long_collection()
    scores, positives = ch11._long_list()
    for S in (Q.astype(np.float64) @ X.astype(np.float64).T, _without_positives(scores, positives)):
        best = -np.sort(-S, axis=1)[:, :301]
        assert (best[:, :-1] - best[:, 1:]).min() > 4e-6


def test_binary_search_accepts_equivalent_hamming_and_rescoring():
    def unpacked(Q, codes, X, k, s):                   # Hamming on unpacked bits, rescored by cosine: same rows
        bits = np.unpackbits(codes, axis=1)[:, :Q.shape[1]]
        dist = np.stack([(bits != (q > 0)).sum(1) for q in Q])
        cand = np.argsort(dist, axis=1, kind="stable")[:, :s]
        qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        return np.take_along_axis(cand, np.argsort(-np.einsum("qd,qsd->qs", qn, X[cand]), axis=1)[:, :k], axis=1)
    assert_passes(ch11.binary_search, unpacked)
    assert_passes(ch11.binary_search, lambda Q, c, X, k, s: _bsearch(Q.astype(np.float64), c, X.astype(np.float64),
                                                                    k, s))


# ---------------------------------------------------------------- 11.6 quiz
def test_quiz_temperature():
    assert_passes(ch11.quiz_temperature, "b")
    assert_passes(ch11.quiz_temperature, " B ")
    assert_not_attempted(ch11.quiz_temperature, ...)
    for wrong in "acd":
        assert_rejects(ch11.quiz_temperature, wrong, match="is not right")
    assert_rejects(ch11.quiz_temperature, "bc", match="one letter")


# ---------------------------------------------------------------- 11.7 Matryoshka loss
def _mrl(q, d, dims, weights, t, *, cut=lambda x, m: x[:, :m], renormalise=True, reduce="sum", scale=None):
    losses = []
    for m in dims:
        a, b = cut(q, m), cut(d, m)
        if renormalise:
            a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
        losses.append(_nce(a, b, t, normalise=False))
    w = torch.tensor(weights) if scale is None else scale
    if reduce == "sum":
        return (w * torch.stack(losses)).sum()
    if reduce == "weighted mean":
        return (w * torch.stack(losses)).sum() / w.sum()
    if reduce == "plain sum":
        return torch.stack(losses).sum()
    return torch.stack(losses).mean()


def _normalised_then_cut(q, d, dims, weights, t):
    qn, dn = F.normalize(q, dim=-1), F.normalize(d, dim=-1)
    return _mrl(qn, dn, dims, weights, t, renormalise=False)


def _mrl_flag_copied(q, d, dims, w, t):
    return torch.tensor(_mrl(q, d, dims, w, t).item(), requires_grad=q.requires_grad or d.requires_grad)


def test_matryoshka_loss_names_a_mean_over_the_prefixes_and_a_one_sided_loss():
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d, dims, w, t) / len(dims),
                   match="divided by the number of prefixes")
    assert_rejects(ch11.matryoshka_loss,
                   lambda q, d, dims, w, t: sum(wi * _nce(q[:, :m], d[:, :m], t, cols=False) for m, wi in zip(dims, w)),
                   match="softmax over the rows only")


def test_matryoshka_loss_compares_the_gradients_with_the_references():
    assert_rejects(ch11.matryoshka_loss, _mrl_flag_copied, match="new tensor that is not computed from q and d")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d.detach(), dims, w, t),
                   match="no gradient flows back to q and d")
    assert_rejects(ch11.matryoshka_loss,   # each prefix's norm a constant to autograd: the right value only
                   lambda q, d, dims, w, t: sum(wi * _nce(q[:, :m] / q[:, :m].norm(dim=-1, keepdim=True).detach(),
                                                          d[:, :m] / d[:, :m].norm(dim=-1, keepdim=True).detach(), t,
                                                          normalise=False) for m, wi in zip(dims, w)),
                   match="wrong gradient with respect to q")


def test_matryoshka_loss():
    assert_passes(ch11.matryoshka_loss,
                  lambda q, d, dims, w, t: contrastive.matryoshka_loss(q, d, dims=dims, weights=w, temperature=t))
    assert_passes(ch11.matryoshka_loss, _mrl)
    assert_passes(ch11.matryoshka_loss,                       # calling the course's info_nce on each prefix
                  lambda q, d, dims, w, t: sum(wi * contrastive.info_nce(q[:, :m], d[:, :m], t)
                                               for m, wi in zip(dims, w)))
    assert_not_attempted(ch11.matryoshka_loss, stub_function)
    assert_rejects(ch11.matryoshka_loss, _normalised_then_cut, match="not normalised again")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d, dims, w, t, cut=lambda x, m: x[:m]),
                   match="wrong axis")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d, dims, w, t, cut=lambda x, m: x[:, -m:]),
                   match="LAST m numbers")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d, dims, w, t, reduce="mean"),
                   match="averaged")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d, dims, w, t, reduce="weighted mean"),
                   match="divided by the sum of the weights")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d, dims, w, t, reduce="plain sum"),
                   match="weights are ignored")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: sum(wi * contrastive.info_nce(q, d, t) for wi in w),
                   match="full vectors")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d, dims, w, 1 / t),
                   match="multiplied instead of divided")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: w[-1] * contrastive.info_nce(q, d, t),
                   match="largest")
    assert_rejects(ch11.matryoshka_loss,                      # dims fixed to the example's values
                   lambda q, d, dims, w, t: _mrl(q, d, (4, 8, 16), (1.0, 0.5, 2.0), t), match="not fixed values")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d, dims, w, t).item(), match="gradient")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: torch.tensor(float(_mrl(q, d, dims, w, t)),
                                                                               requires_grad=True),
                   match="cut off")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: torch.stack([_mrl(q, d, dims, w, t)] * 2),
                   match="ONE number")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q.mul_(2), d, dims, w, t),
                   match="changed its input `q`")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: None, match="return")
    # the last prefix replaced by the whole vector: the same loss whenever dims[-1] == D
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d, (*dims[:-1], q.shape[1]), w, t),
                   match="may be shorter")
    assert_rejects(ch11.matryoshka_loss, lambda q, d, dims, w, t: _mrl(q, d, dims, w, t).reshape(1),
                   match="0-dimensional")


# ---------------------------------------------------------------- 11.8 quiz
def test_quiz_false_negatives():
    assert_passes(ch11.quiz_false_negatives, "c")
    assert_not_attempted(ch11.quiz_false_negatives, ...)
    for wrong in "abd":
        assert_rejects(ch11.quiz_false_negatives, wrong, match="is not right")
