"""Every exercise of notebook 08: right answer passes, stub is 'not attempted', typical mistakes are named."""
import math

import numpy as np
import pytest
import torch

from check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils import attention
from utils import minilm_layers
from utils.checks import ch08
from utils.vectors import cosine_similarity


# ---------------------------------------------------------------- 8.1 softmax
def _softmax(s, *, sub="row", dim=-1, normalise="row"):
    top = {"row": lambda: s.amax(dim=dim, keepdim=True), "global": lambda: s.max(), "none": lambda: 0.0}[sub]()
    e = torch.exp(s - top)
    if normalise == "none":
        return e
    return e / (e.sum() if normalise == "all" else e.sum(dim=dim, keepdim=True))


def test_softmax():
    assert_passes(ch08.softmax, _softmax)
    assert_passes(ch08.softmax, attention.softmax)
    assert_not_attempted(ch08.softmax, stub_function)
    assert_not_attempted(ch08.softmax, ...)
    assert_rejects(ch08.softmax, lambda s: _softmax(s, sub="none"), match="overflow.*maximum")
    assert_rejects(ch08.softmax, lambda s: _softmax(s - s.mean(dim=-1, keepdim=True), sub="none"),
                   match="overflow")
    assert_rejects(ch08.softmax, lambda s: _softmax(s, sub="global"), match="OWN maximum")
    assert_rejects(ch08.softmax, lambda s: _softmax(s, dim=0), match="wrong axis")
    assert_rejects(ch08.softmax, lambda s: _softmax(s, dim=-2), match="wrong axis")
    assert_rejects(ch08.softmax, lambda s: _softmax(s, normalise="none"), match="exp\\(scores\\)")
    assert_rejects(ch08.softmax, lambda s: _softmax(s, normalise="all"), match="whole tensor")
    assert_rejects(ch08.softmax, lambda s: None, match="return")
    assert_rejects(ch08.softmax, lambda s: torch.sigmoid(s), match="wrong values")


# ready-made softmaxes: right numbers, but the exercise asks to write it (each spelled as the learner wrote it)
def calls_torch_softmax(scores):
    return torch.softmax(scores, dim=-1)


def calls_functional_softmax(scores):
    return torch.nn.functional.softmax(scores, dim=-1)


def calls_the_tensor_method(scores):
    return scores.softmax(dim=-1)


def calls_log_softmax(scores):
    return torch.log_softmax(scores, dim=-1).exp()


def calls_the_reference(scores):
    return attention.softmax(scores)


def softmax_in_place(scores):
    """Right values, but it overwrites the caller's scores."""
    scores -= scores.amax(dim=-1, keepdim=True)
    scores.exp_()
    scores /= scores.sum(dim=-1, keepdim=True)
    return scores


def softmax_in_numpy(scores):
    """Right values, returned as a numpy array where a tensor is asked for."""
    a = scores.numpy()
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax_rejects_ready_made_softmax_in_place_changes_and_numpy():
    assert_rejects(ch08.softmax, calls_torch_softmax, match="calls torch.softmax")
    assert_rejects(ch08.softmax, calls_functional_softmax, match="calls torch.nn.functional.softmax")
    assert_rejects(ch08.softmax, calls_the_tensor_method, match="calls scores.softmax")
    assert_rejects(ch08.softmax, calls_log_softmax, match="calls torch.log_softmax")
    assert_rejects(ch08.softmax, calls_the_reference, match="calls attention.softmax")
    assert_rejects(ch08.softmax, softmax_in_place, match="changed its input `scores` in place")
    assert_rejects(ch08.softmax, softmax_in_numpy, match="torch tensor, got numpy.ndarray")


# ---------------------------------------------------------------- 8.2 scaled dot-product attention
def _attn(q, k, v, mask=None, *, scale="sqrt", dim=-1, transposed=False, fill=float("-inf"), after=False,
          weights=False, invert=False):
    d = q.shape[-1]
    s = q @ k.transpose(-2, -1)
    if transposed:
        s = k @ q.transpose(-2, -1)
    s = s / {"sqrt": math.sqrt(d), "none": 1.0, "d": d}[scale]
    if mask is not None and invert:
        mask = ~mask
    if mask is not None and not after:
        s = s.masked_fill(~mask, fill)
    w = torch.softmax(s, dim=dim)
    if mask is not None and after:
        w = w.masked_fill(~mask, 0.0)
    return w if weights else w @ v


def test_scaled_dot_product_attention():
    sdpa = ch08.scaled_dot_product_attention
    assert_passes(sdpa, _attn)
    assert_passes(sdpa, attention.scaled_dot_product_attention)
    assert_passes(sdpa, lambda q, k, v, mask=None: torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask))
    assert_passes(sdpa, lambda q, k, v, mask=None: _attn(q, k, v, mask, fill=-1e9))   # -1e9 works too
    assert_not_attempted(sdpa, stub_function)
    assert_rejects(sdpa, lambda q, k, v, mask=None: _attn(q, k, v, mask, scale="none"), match="sqrt")
    assert_rejects(sdpa, lambda q, k, v, mask=None: _attn(q, k, v, mask, scale="d"), match="divided.*by d")
    assert_rejects(sdpa, lambda q, k, v, mask=None: _attn(q, k, v, mask, dim=-2), match="wrong axis")
    assert_rejects(sdpa, lambda q, k, v, mask=None: _attn(q, k, v, mask, transposed=True),
                   match="transposed|shapes do not fit")
    assert_rejects(sdpa, lambda q, k, v, mask=None: _attn(q, k, v, mask, weights=True), match="weights")
    assert_rejects(sdpa, lambda q, k, v, mask=None: _attn(q, k, v, None), match="mask is ignored")
    assert_rejects(sdpa, lambda q, k, v, mask=None: _attn(q, k, v, mask, after=True), match="after the softmax")
    assert_rejects(sdpa, lambda q, k, v, mask=None: _attn(q, k, v, mask, fill=0.0), match="not -inf")
    assert_rejects(sdpa, lambda q, k, v, mask=None: _attn(q, k, v, mask, invert=True), match="inverted")
    # q @ k without a transpose: a shape error, named
    assert_rejects(sdpa, lambda q, k, v, mask=None: torch.softmax(q @ k, dim=-1) @ v, match="shapes do not fit")


def test_scaled_dot_product_attention_square_only_transpose_named():
    sdpa = ch08.scaled_dot_product_attention

    def square_only(q, k, v, mask=None):      # scores k @ q^T: fits when Tq == Tk, breaks when not
        s = (k @ q.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        return torch.softmax(s, dim=-1) @ v
    assert_rejects(sdpa, square_only, match="transposed")


# ---------------------------------------------------------------- 8.3 causal mask
def test_causal_mask():
    assert_passes(ch08.causal_mask, lambda t: torch.ones(t, t, dtype=torch.bool).tril())
    assert_passes(ch08.causal_mask, attention.causal_mask)
    assert_not_attempted(ch08.causal_mask, stub_function)
    assert_rejects(ch08.causal_mask, lambda t: torch.ones(t, t).tril(), match="boolean")
    assert_rejects(ch08.causal_mask, lambda t: torch.ones(t, t, dtype=torch.bool).triu(), match="upper triangle")
    assert_rejects(ch08.causal_mask, lambda t: torch.ones(t, t, dtype=torch.bool).triu(1), match="inverted")
    assert_rejects(ch08.causal_mask, lambda t: torch.ones(t, t, dtype=torch.bool).tril(-1), match="diagonal")
    assert_rejects(ch08.causal_mask, lambda t: torch.ones(t, t, dtype=torch.bool), match="bidirectional")
    assert_rejects(ch08.causal_mask, lambda t: torch.ones(5, 5, dtype=torch.bool).tril(), match="hard-coded")
    assert_rejects(ch08.causal_mask, lambda t: None, match="return")
    # right pattern, but numpy: scores.masked_fill(~mask, ...) needs a torch tensor
    assert_rejects(ch08.causal_mask, lambda t: np.tril(np.ones((t, t), dtype=bool)), match="got numpy.ndarray")


# ---------------------------------------------------------------- 8.4 split / merge heads
def test_split_merge_heads():
    def split(x, h):
        b, t, d = x.shape
        return x.view(b, t, h, d // h).transpose(1, 2)

    def merge(x):
        b, h, t, hs = x.shape
        return x.transpose(1, 2).reshape(b, t, h * hs)

    assert_passes(ch08.split_merge_heads, split, merge)
    assert_passes(ch08.split_merge_heads, attention.split_heads, attention.merge_heads)
    assert_not_attempted(ch08.split_merge_heads, stub_function, stub_function)
    assert_not_attempted(ch08.split_merge_heads, split, stub_function)
    assert_rejects(ch08.split_merge_heads, lambda x, h: x.view(x.shape[0], h, x.shape[1], -1), merge,
                   match="wrong axis")
    assert_rejects(ch08.split_merge_heads, lambda x, h: x.view(x.shape[0], x.shape[1], h, -1), merge,
                   match="transpose\\(1, 2\\)")
    assert_rejects(ch08.split_merge_heads,
                   lambda x, h: x.view(x.shape[0], x.shape[1], -1, h).permute(0, 3, 1, 2), merge, match="h-th")
    assert_rejects(ch08.split_merge_heads, split, lambda x: x.reshape(x.shape[0], x.shape[2], -1),
                   match="transpose\\(1, 2\\) back")
    assert_rejects(ch08.split_merge_heads, split, lambda x: x.transpose(1, 2), match="should give \\(2, 5, 12\\)")
    assert_rejects(ch08.split_merge_heads, lambda x, h: None, merge, match="return")


# ---------------------------------------------------------------- 8.5 multi-head attention
def _mha(x, w_q, w_k, w_v, w_o, n_heads, causal=False, *, heads=None, project=True, tw=False, merge_bad=False,
         always_causal=False, never_causal=False):
    if tw:
        w_q, w_k, w_v, w_o = w_q.T, w_k.T, w_v.T, w_o.T
    h = heads or n_heads
    q, k, v = (attention.split_heads(x @ w, h) for w in (w_q, w_k, w_v))
    c = (causal or always_causal) and not never_causal
    out = attention.scaled_dot_product_attention(q, k, v, causal=c)               # (B, h, T, hs)
    merged = out.reshape(x.shape) if merge_bad else attention.merge_heads(out)
    return merged @ w_o if project else merged


def test_multi_head_attention():
    assert_passes(ch08.multi_head_attention, _mha)
    assert_not_attempted(ch08.multi_head_attention, stub_function)
    assert_rejects(ch08.multi_head_attention, lambda *a, **kw: _mha(*a, **kw, project=False), match="output projection")
    assert_rejects(ch08.multi_head_attention, lambda *a, **kw: _mha(*a, **kw, heads=1), match="one big head")
    assert_rejects(ch08.multi_head_attention, lambda *a, **kw: _mha(*a, **kw, tw=True), match="transposed")
    assert_rejects(ch08.multi_head_attention, lambda *a, **kw: _mha(*a, **kw, merge_bad=True),
                   match="without transposing back")
    assert_rejects(ch08.multi_head_attention, lambda *a, **kw: _mha(*a, **kw, always_causal=True), match="always")
    assert_rejects(ch08.multi_head_attention, lambda *a, **kw: _mha(*a, **kw, never_causal=True), match="ignored")
    assert_rejects(ch08.multi_head_attention, lambda *a, **kw: a[0], match="wrong values")
    assert_rejects(ch08.multi_head_attention, mha_then_zeroes_x, match="changed its input `x` in place")


def mha_then_zeroes_x(x, w_q, w_k, w_v, w_o, n_heads, causal=False):
    """The right output, but the caller's x is overwritten afterwards."""
    out = _mha(x, w_q, w_k, w_v, w_o, n_heads, causal)
    x.zero_()
    return out


# ---------------------------------------------------------------- 8.6 contextual similarity
def _ctx(a, b, word, layer, *, shift=0, pool=False, fixed=None, dot=False):
    vecs = []
    for s in (a, b):
        states = minilm_layers.hidden_states(s)[layer if fixed is None else fixed][0]     # (T, 384)
        i = minilm_layers.encode(s)[1].index(word) + shift
        vecs.append(states.mean(dim=0) if pool else states[i])
    return float(vecs[0] @ vecs[1]) if dot else cosine_similarity(vecs[0], vecs[1])


@pytest.mark.filterwarnings("ignore")
def test_contextual_similarity():
    assert_passes(ch08.contextual_similarity, _ctx)
    assert_passes(ch08.contextual_similarity, lambda a, b, w, layer: float(torch.nn.functional.cosine_similarity(
        minilm_layers.contextual_token_vectors(a, w)[layer], minilm_layers.contextual_token_vectors(b, w)[layer],
        dim=0)))
    assert_not_attempted(ch08.contextual_similarity, stub_function)
    assert_rejects(ch08.contextual_similarity, lambda *a: _ctx(*a, dot=True), match="not a cosine")
    assert_rejects(ch08.contextual_similarity, lambda *a: _ctx(*a, pool=True), match="averaged")
    assert_rejects(ch08.contextual_similarity, lambda *a: _ctx(*a, shift=-1), match="off by one")
    assert_rejects(ch08.contextual_similarity, lambda *a: _ctx(*a, fixed=0), match="ignored.*layer 0")
    assert_rejects(ch08.contextual_similarity, lambda *a: _ctx(*a, fixed=6), match="ignored.*layer 6")
    assert_rejects(ch08.contextual_similarity, lambda *a: None, match="return")
    assert_rejects(ch08.contextual_similarity, lambda *a: "0.5", match="should be")
    assert_rejects(ch08.contextual_similarity, lambda *a: [0.5], match="one number")


# ---------------------------------------------------------------- quizzes
def test_quizzes():
    assert_passes(ch08.quiz_scaling, "b")
    assert_passes(ch08.quiz_mask, "c")
    assert_not_attempted(ch08.quiz_scaling, ...)
    assert_not_attempted(ch08.quiz_mask, ...)
    for letter in "acd":
        assert_rejects(ch08.quiz_scaling, letter, match="not right")
    for letter in "abd":
        assert_rejects(ch08.quiz_mask, letter, match="not right")
    assert_rejects(ch08.quiz_scaling, "z", match="one letter")


# ---------------------------------------------------------------- the check never trusts what fn did to its input
def identity_mask_returns_v(q, k, v, mask=None):
    """No masking at all; with a mask it overwrites the check's mask with the identity and returns v (the attention
    output under an identity mask), so a check that read its mask back after the call would accept it."""
    if mask is None:
        return attention.scaled_dot_product_attention(q, k, v)
    mask.copy_(torch.eye(mask.shape[-1], dtype=torch.bool))
    return v.clone()


def halves_v_then_attends(q, k, v, mask=None):
    """Scales v in place, then attends over the changed values: caught because the check copies q, k and v before
    the call and computes its expected output from the copies."""
    v.mul_(0.5)
    return attention.scaled_dot_product_attention(q, k, v, mask)


def test_scaled_dot_product_attention_rejects_a_function_that_changes_its_inputs():
    sdpa = ch08.scaled_dot_product_attention
    assert_rejects(sdpa, identity_mask_returns_v, match="changed its input `mask` in place")
    assert_rejects(sdpa, halves_v_then_attends, match="changed its input `v` in place")
