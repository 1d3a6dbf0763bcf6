"""Checks for notebook 08 (attention: softmax, scaled dot-product attention, masks, heads, contextual vectors)."""
from __future__ import annotations

import ast
import functools
import math

import numpy as np

from utils import attention, vectors
from utils.checks import CheckFailed, call_on_copies, exercise, expect, expect_unchanged, quiz, source_tree
from utils.checks.values import as_array, close, is_torch, returned, scalar


#: every answer of this chapter is a torch tensor: the code after each exercise calls torch methods on it
_tensor_result = functools.partial(as_array, kinds="fiub", torch_hint="stay in torch")


def _shape_error(err: RuntimeError, hint: str) -> None:
    """Turn torch's shape-mismatch errors into one line that names the likely transpose."""
    text = str(err)
    if any(word in text for word in ("size", "shape", "dimension")):
        raise CheckFailed(hint) from None
    raise err


# ------------------------------------------------------------------------------------------------------- 8.1
_STAY_TORCH = "stay in torch (torch.exp, .amax and .sum with dim=-1, keepdim=True) instead of converting to numpy"


def _ready_made_softmax(fn) -> str | None:
    """The first ready-made softmax that the source of ``fn`` uses (torch.softmax, F.softmax, scores.softmax,
    nn.Softmax, log_softmax, the course's attention.softmax), spelled as the learner wrote it; None if none or when
    the source cannot be read."""
    tree = source_tree(fn)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("softmax", "Softmax", "log_softmax"):
            try:
                return ast.unparse(node)
            except Exception:  # noqa: BLE001 - a name we cannot print is still a shortcut
                return node.attr
    return None


@exercise("8.1", "A numerically stable softmax")
def softmax(fn):
    """fn(scores (..., n)) -> weights of the same shape, each slice along the LAST axis summing to 1."""
    import torch
    g = torch.Generator().manual_seed(81)
    scores = torch.randn(2, 3, 4, generator=g) * 2                            # (2, 3, 4)
    s = scores.numpy().astype(np.float64)                                     # expected values from the check's own copy
    got, after = call_on_copies(fn, scores)
    expect_unchanged(scores, after[0], "scores", "compute new tensors (scores - m, not scores -= m or exp_()), "
                                                 "so the caller's scores stay as they were")
    got = _tensor_result(got, "softmax", torch_hint=_STAY_TORCH)
    expect(got.shape == s.shape, f"softmax should keep the shape {tuple(s.shape)}, got {got.shape}")
    if close(got, np.exp(s), 1e-4) or close(got, np.exp(s - s.max(axis=-1, keepdims=True)), 1e-4):
        raise CheckFailed("you returned exp(scores): divide by their sum along the last axis so each row sums to 1")
    rows_ok = np.allclose(got.sum(axis=-1), 1.0, atol=1e-4)
    if not rows_ok and any(np.allclose(got.sum(axis=a), 1.0, atol=1e-4) for a in (0, 1)):
        raise CheckFailed("softmax over the wrong axis: each row along the LAST axis (dim=-1) must sum to 1")
    if not rows_ok and math.isclose(float(got.sum()), 1.0, abs_tol=1e-4):
        raise CheckFailed("you divided by the sum over the whole tensor; divide each row by its own sum "
                          "(sum(dim=-1, keepdim=True))")
    expect(close(got, attention.softmax(scores.double()), 1e-4),
           "wrong values: softmax(s)_i = exp(s_i) / sum_j exp(s_j) along the last axis")
    big = torch.tensor([[1000.0, 1001.0, 1002.0], [0.0, 1.0, 2.0], [-1000.0, 0.0, 1000.0]])   # (3, 3) huge scores
    got_big, after = call_on_copies(fn, big)
    expect_unchanged(big, after[0], "scores", "compute new tensors, so the caller's scores stay as they were")
    got_big = _tensor_result(got_big, "softmax", finite=False, torch_hint=_STAY_TORCH)
    bad = ~np.isfinite(got_big)
    if bad[1].any() and not bad[0].any():
        raise CheckFailed("NaN in the row of small scores: subtract each row's OWN maximum "
                          "(amax(dim=-1, keepdim=True)), not the maximum of the whole tensor")
    if bad.any():
        raise CheckFailed("NaN for scores like 1000: exp(1000) overflows to inf and inf/inf = NaN - "
                          "subtract each row's maximum before exp (the result does not change)")
    expect(close(got_big, attention.softmax(big.double()), 1e-4),
           "wrong values on the scores [1000, 1001, 1002]: they should give the same weights as [0, 1, 2]")
    shortcut = _ready_made_softmax(fn)
    if shortcut:
        raise CheckFailed(f"the numbers are right, but your function calls {shortcut}: the task is to write the "
                          "softmax yourself, with torch.exp and a sum along the last axis")
    return "softmax([1000, 1001, 1002]) = softmax([0, 1, 2]) = [0.09, 0.2447, 0.6652], no overflow"


# ------------------------------------------------------------------------------------------------------- 8.2
def _attention(q, k, v, mask=None, *, scale="sqrt", axis=-1, transposed=False, fill=-np.inf, after=False):
    """The reference, :func:`utils.attention.scaled_dot_product_attention`, on float64 numpy arrays; with a keyword,
    one of its typical wrong variants (no or wrong scale, softmax over the queries, transposed scores, blocked
    scores filled with ``fill``, the mask applied ``after`` the softmax)."""
    import torch

    def tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    if (scale, axis, transposed, fill, after) == ("sqrt", -1, False, -np.inf, False):
        return attention.scaled_dot_product_attention(*map(tensor, (q, k, v)),
                                                      None if mask is None else tensor(mask)).numpy()
    d = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2)                                       # (..., Tq, Tk)
    if transposed:
        scores = np.swapaxes(scores, -1, -2)
    scores = scores / {"sqrt": math.sqrt(d), "none": 1.0, "d": d}[scale]
    if mask is not None and not after:
        scores = np.where(mask, scores, fill)
    w = attention.softmax(tensor(scores), dim=axis).numpy()
    if mask is not None and after:
        w = w * mask
    return w @ v


_FIT = "shapes do not fit: scores = q @ k.transpose(-2, -1) is (..., Tq, Tk), then weights @ v is (..., Tq, dv)"


@exercise("8.2", "Scaled dot-product attention")
def scaled_dot_product_attention(fn):
    """fn(q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv), mask=None) -> (..., Tq, dv); mask True = may attend."""
    import torch
    g = torch.Generator().manual_seed(82)
    q, k = torch.randn(2, 4, 16, generator=g) * 2, torch.randn(2, 4, 16, generator=g) * 2   # (2, 4, 16)
    v = torch.randn(2, 4, 6, generator=g)                                                  # (2, 4, 6)
    Q, K, V = (t.numpy().astype(np.float64) for t in (q, k, v))
    # q, k, v, mask never reach fn: it gets copies (call_on_copies), and its copies are compared with them
    try:
        got, after = call_on_copies(fn, q, k, v)
        got = _tensor_result(got, "scaled_dot_product_attention")
    except RuntimeError as err:
        _shape_error(err, _FIT)
    for name, before, left in zip("qkv", (q, k, v), after):
        expect_unchanged(before, left, name)
    if got.shape == (2, 4, 4):
        raise CheckFailed("you returned the attention weights (2, 4, 4); the output is weights @ v, shape (2, 4, 6)")
    expect(got.shape == (2, 4, 6), f"q (2, 4, 16), k (2, 4, 16), v (2, 4, 6) should give (2, 4, 6), got {got.shape}")
    if close(got, _attention(Q, K, V, scale="none")):
        raise CheckFailed("missing the scaling: divide the scores q @ k^T by sqrt(d_k) before the softmax")
    if close(got, _attention(Q, K, V, scale="d")):
        raise CheckFailed("you divided the scores by d_k; the scale is sqrt(d_k) (math.sqrt(q.shape[-1]))")
    if close(got, _attention(Q, K, V, axis=-2)):
        raise CheckFailed("softmax over the wrong axis: each query's weights over the KEYS (last axis) must sum to 1")
    if close(got, _attention(Q, K, V, transposed=True)):
        raise CheckFailed("the scores are transposed (k @ q^T): use q @ k.transpose(-2, -1), rows = queries")
    expect(close(got, _attention(Q, K, V)), "wrong values: out = softmax(q @ k^T / sqrt(d_k)) @ v")
    # different lengths: queries 3, keys 5 - catches transposes that happened to fit the square case
    q2, k2, v2 = torch.randn(3, 16, generator=g), torch.randn(5, 16, generator=g), torch.randn(5, 6, generator=g)
    want2 = _attention(*(t.numpy().astype(np.float64) for t in (q2, k2, v2)))           # (3, 6)
    try:
        got2 = _tensor_result(call_on_copies(fn, q2, k2, v2)[0], "scaled_dot_product_attention")
    except RuntimeError as err:
        _shape_error(err, _FIT + " (here q has 3 rows, k and v have 5)")
    expect(close(got2, want2),
           "works only when q, k, v have the same length? q (3, 16), k (5, 16), v (5, 6) should give (3, 6)")
    # with a boolean mask (True = may attend); every row keeps at least one allowed key
    mask = torch.tensor([[True, False, True, False], [True, True, False, False],
                         [False, True, True, True], [True, False, False, True]])   # (4, 4), broadcasts over batch
    M = mask.numpy().copy()
    got_m, after = call_on_copies(fn, q, k, v, mask)
    got_m = _tensor_result(got_m, "scaled_dot_product_attention")
    expect_unchanged(mask, after[3], "mask", "read it to block scores, never write to it")
    for name, before, left in zip("qkv", (q, k, v), after):
        expect_unchanged(before, left, name)
    expect(got_m.shape == (2, 4, 6), f"with a mask the output should still be (2, 4, 6), got {got_m.shape}")
    if close(got_m, got):
        raise CheckFailed("the mask is ignored: set the scores where mask is False to -inf before the softmax")
    if close(got_m, _attention(Q, K, V, M, after=True)):
        raise CheckFailed("mask applied after the softmax: the remaining weights no longer sum to 1 - "
                          "fill blocked SCORES with -inf before the softmax")
    if close(got_m, _attention(Q, K, V, M, fill=0.0)):
        raise CheckFailed("blocked scores set to 0, not -inf: exp(0) = 1 still gives them weight - "
                          "use scores.masked_fill(~mask, float('-inf'))")
    if close(got_m, _attention(Q, K, V, ~M)):
        raise CheckFailed("the mask is inverted: True means 'may attend', so block where mask is False")
    expect(close(got_m, _attention(Q, K, V, M)), "wrong values with a mask: blocked keys must get weight exactly 0")
    return "each output row is a weighted mix of the value rows; blocked keys get weight 0"


# ------------------------------------------------------------------------------------------------------- 8.3
quiz_scaling = quiz(
    "8.3", "Quiz: why divide by sqrt(d_k)?",
    correct="b", options="abcd",
    why_wrong={
        "a": "the scaling is not about speed: one division costs nothing next to the matrix products",
        "c": "it is a single positive number for all scores, so the ORDER of the scores is unchanged; only their "
             "spread shrinks",
        "d": "the weights sum to 1 with or without scaling: that is the softmax's job",
    },
    explanation="a dot product of d_k random unit-variance numbers has standard deviation sqrt(d_k); dividing "
                "by sqrt(d_k) keeps scores near unit scale so the softmax does not saturate into a one-hot "
                "with vanishing gradients")


# ------------------------------------------------------------------------------------------------------- 8.4
@exercise("8.4", "The causal mask")
def causal_mask(fn):
    """fn(T) -> boolean (T, T) tensor, True where query i may attend to key j (j <= i)."""
    import torch
    got = returned(fn(5), "causal_mask")
    if not is_torch(got):   # scores.masked_fill(~mask, ...) needs a torch tensor
        raise CheckFailed(f"causal_mask should return a torch tensor, got {type(got).__module__}.{type(got).__name__}: "
                          "masked_fill needs one - build it with torch.ones(T, T, dtype=torch.bool).tril()")
    if isinstance(got, torch.Tensor) and got.dtype != torch.bool:
        raise CheckFailed(f"the mask should be boolean (dtype=torch.bool, True = may attend), got {got.dtype}")
    arr = _tensor_result(got, "causal_mask").astype(bool)
    expect(arr.shape == (5, 5), f"causal_mask(5) should have shape (5, 5), got {arr.shape}")
    low = np.tril(np.ones((5, 5), dtype=bool))
    if np.array_equal(arr, np.ones((5, 5), dtype=bool)):
        raise CheckFailed("nothing is blocked: that is a bidirectional encoder; a decoder may not see later tokens")
    if np.array_equal(arr, low.T):
        raise CheckFailed("upper triangle: token 0 would see every later token; keep j <= i (torch.tril)")
    if np.array_equal(arr, ~low):
        raise CheckFailed("the mask is inverted: True must mark the ALLOWED positions (the past and itself)")
    if np.array_equal(arr, np.tril(np.ones((5, 5), dtype=bool), -1)):
        raise CheckFailed("the diagonal is blocked: a token may attend to itself (and token 0 would see nothing)")
    expect(np.array_equal(arr, low), "wrong mask: row i should be True for columns 0..i and False after")
    for t in (1, 7):
        other = _tensor_result(fn(t), "causal_mask").astype(bool)
        expect(np.array_equal(other, np.tril(np.ones((t, t), dtype=bool))),
               f"causal_mask({t}) is wrong: is the size hard-coded? build it from T")
    return "row i allows columns 0..i: a lower-triangular mask"


# ------------------------------------------------------------------------------------------------------- 8.5
quiz_mask = quiz(
    "8.5", "Quiz: encoder or decoder?",
    correct="c", options="abcd",
    why_wrong={
        "a": "MiniLM/BERT is an encoder: every token sees the whole sentence, left and right (no causal mask)",
        "b": "a GPT is trained to predict the next token; if it could see the future, that would be copying",
        "d": "the mask is not about speed or memory: a masked score is still computed, then set to -inf",
    },
    explanation="an encoder (MiniLM) reads the whole text at once and lets every token see both sides; a decoder "
                "(GPT) predicts token t+1 from tokens 0..t, so it must not see later tokens")


# ------------------------------------------------------------------------------------------------------- 8.6
@exercise("8.6", "Split and merge heads")
def split_merge_heads(split_fn, merge_fn):
    """split_fn(x (B, T, d), n_heads) -> (B, h, T, d/h); merge_fn inverts it."""
    import torch
    B, T, d, h = 2, 5, 12, 3
    x = torch.arange(B * T * d, dtype=torch.float32).reshape(B, T, d)     # (2, 5, 12): every entry distinct
    got = _tensor_result(split_fn(x.clone(), h), "split_heads")
    X = x.numpy()
    if got.shape == (B, T, h, d // h):
        raise CheckFailed("shape (B, T, h, d/h): after view(B, T, h, d/h) transpose(1, 2) to get (B, h, T, d/h)")
    expect(got.shape == (B, h, T, d // h), f"split_heads of (2, 5, 12) with 3 heads should give (2, 3, 5, 4), "
                                           f"got {got.shape}")
    want = X.reshape(B, T, h, d // h).transpose(0, 2, 1, 3)
    if np.array_equal(got, X.reshape(B, h, T, d // h)):
        raise CheckFailed("heads split along the wrong axis: view(B, h, T, d/h) mixes features of different tokens; "
                          "use view(B, T, h, d/h).transpose(1, 2)")
    if np.array_equal(got, X.reshape(B, T, d // h, h).transpose(0, 3, 1, 2)):
        raise CheckFailed("each head got every h-th feature; head 0 should get the first d/h features of each token "
                          "(view(B, T, h, d/h))")
    expect(np.array_equal(got, want), "wrong values: head j of token t should hold features j*d/h ... (j+1)*d/h - 1")
    heads = torch.from_numpy(want.copy())                                   # (2, 3, 5, 4), the right split
    merged = _tensor_result(merge_fn(heads.clone()), "merge_heads")
    expect(merged.shape == (B, T, d), f"merge_heads of (2, 3, 5, 4) should give (2, 5, 12), got {merged.shape}")
    if np.array_equal(merged, want.reshape(B, T, d)):
        raise CheckFailed("merge_heads reshaped (B, h, T, hs) straight to (B, T, d): transpose(1, 2) back first")
    expect(np.array_equal(merged, X), "merge_heads(split_heads(x)) should give back x exactly")
    return "(2, 5, 12) -> (2, 3, 5, 4) -> (2, 5, 12), round trip exact"


# ------------------------------------------------------------------------------------------------------- 8.7
def _mha(x, wq, wk, wv, wo, h, causal=False, *, heads=None, project=True, transpose_w=False, merge_bad=False):
    """Reference multi-head attention (x @ W, no biases) and wrong variants, float64 numpy."""
    if transpose_w:
        wq, wk, wv, wo = wq.T, wk.T, wv.T, wo.T
    h = h if heads is None else heads
    B, T, d = x.shape

    def split(t):
        return t.reshape(B, T, h, d // h).transpose(0, 2, 1, 3)              # (B, h, T, hs)

    mask = np.tril(np.ones((T, T), dtype=bool)) if causal else None
    out = _attention(split(x @ wq), split(x @ wk), split(x @ wv), mask)   # (B, h, T, hs)
    merged = out.reshape(B, T, d) if merge_bad else out.transpose(0, 2, 1, 3).reshape(B, T, d)
    return merged @ wo if project else merged


@exercise("8.7", "Multi-head attention")
def multi_head_attention(fn):
    """fn(x (B, T, d), w_q, w_k, w_v, w_o (d, d), n_heads, causal=False) -> (B, T, d), projections as x @ W."""
    import torch
    g = torch.Generator().manual_seed(85)
    B, T, d, h = 2, 5, 16, 4
    x = torch.randn(B, T, d, generator=g)                                      # (2, 5, 16)
    ws = [torch.randn(d, d, generator=g) / 4 for _ in range(4)]                # four (16, 16) projections
    X, Ws = x.numpy().astype(np.float64), [w.numpy().astype(np.float64) for w in ws]
    got, after = call_on_copies(fn, x, *ws, h)
    for name, before, left in zip(("x", "w_q", "w_k", "w_v", "w_o"), (x, *ws), after):
        expect_unchanged(before, left, name)
    got = _tensor_result(got, "multi_head_attention")
    expect(got.shape == (B, T, d), f"the output should have the input's shape (2, 5, 16), got {got.shape}")
    if close(got, _mha(X, *Ws, h, project=False), 1e-4):
        raise CheckFailed("missing the output projection: multiply the merged heads by w_o")
    if close(got, _mha(X, *Ws, h, heads=1), 1e-4):
        raise CheckFailed("one big head: split q, k, v into n_heads heads of d / n_heads before attention")
    if close(got, _mha(X, *Ws, h, transpose_w=True), 1e-4):
        raise CheckFailed("the weights are transposed: project with x @ w (w is (d_in, d_out)), not x @ w.T")
    if close(got, _mha(X, *Ws, h, merge_bad=True), 1e-4):
        raise CheckFailed("heads merged without transposing back: (B, h, T, hs) -> transpose(1, 2) -> (B, T, d)")
    if close(got, _mha(X, *Ws, h, causal=True), 1e-4):
        raise CheckFailed("you always apply the causal mask; apply it only when causal=True")
    expect(close(got, _mha(X, *Ws, h), 1e-4), "wrong values: q, k, v = x @ w_q, ...; split; attend; merge; @ w_o")
    got_c = _tensor_result(call_on_copies(fn, x, *ws, h, causal=True)[0], "multi_head_attention")
    if close(got_c, got, 1e-4):
        raise CheckFailed("causal=True is ignored: pass causal=True (or a causal mask) to the attention")
    expect(close(got_c, _mha(X, *Ws, h, causal=True), 1e-4), "wrong values with causal=True")
    return "4 heads of 4 dims, merged and projected; causal=True blocks the future"


# ------------------------------------------------------------------------------------------------------- 8.8
_PAIRS = [("I sat on the river bank and fished.", "The bank approved my loan.", "bank", 6),
          ("I sat on the river bank and fished.", "The bank approved my loan.", "bank", 0),
          ("She went to the bank to deposit cash.", "He left the bank with a loan.", "bank", 3)]


def _contextual(sentence_a, sentence_b, word, layer, *, shift=0, pool=False, fixed_layer=None, dot=False):
    from utils import minilm_layers
    vecs = []
    for s in (sentence_a, sentence_b):
        states = minilm_layers.hidden_states(s)[layer if fixed_layer is None else fixed_layer][0]   # (T, 384)
        i = minilm_layers.encode(s)[1].index(word) + shift
        vecs.append(states.mean(dim=0) if pool else states[i])
    a, b = (v.double() for v in vecs)
    return float(a @ b) if dot else vectors.cosine_similarity(a, b)   # the reference cosine (notebook 02)


@exercise("8.8", "Contextual similarity of one word in two sentences")
def contextual_similarity(fn):
    """fn(sentence_a, sentence_b, word, layer) -> cosine (float) of the word's layer-`layer` MiniLM vectors."""
    for a, b, word, layer in _PAIRS:
        raw = fn(a, b, word, layer)
        got = scalar(returned(raw, "contextual_similarity"), "contextual_similarity",
                     many="return one number (a float), got {kind}")
        want = _contextual(a, b, word, layer)
        if math.isclose(got, want, abs_tol=1e-4):
            continue
        if abs(got) > 1.0 + 1e-4 or math.isclose(got, _contextual(a, b, word, layer, dot=True), rel_tol=1e-4):
            raise CheckFailed("not a cosine: divide the dot product by both vectors' norms")
        if math.isclose(got, _contextual(a, b, word, layer, pool=True), abs_tol=1e-4):
            raise CheckFailed("you averaged all tokens (a sentence vector); take the row of the word's token")
        for shift in (-1, 1):
            if math.isclose(got, _contextual(a, b, word, layer, shift=shift), abs_tol=1e-4):
                raise CheckFailed("off by one token: find the word in the TOKENS (which start with [CLS]) and use "
                                  "that index")
        for fixed in (0, 6):
            if math.isclose(got, _contextual(a, b, word, layer, fixed_layer=fixed), abs_tol=1e-4):
                raise CheckFailed(f"the `layer` argument is ignored (you always used layer {fixed}): "
                                  "take hidden_states(sentence)[layer]")
        raise CheckFailed(f"cosine of {word!r} at layer {layer} should be {want:.4f}, got {got:.4f}")
    return "the same word, different vectors: its context changed it"
