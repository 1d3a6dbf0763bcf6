"""Checks for notebook 13 (from GPT-2 to today's LLMs: RMSNorm, SwiGLU, repeat_kv, online softmax, what GQA saves)."""
from __future__ import annotations

import math

from utils.checks import CheckFailed, call_on_copies, calls, exercise, expect, expect_unchanged, quiz
from utils.checks.values import as_tensor, close, returned


# ------------------------------------------------------------------------------------------------------- 13.1
def _rms_norm_reference(x, weight, eps):
    """The right answer: :class:`utils.llama.RMSNorm` with ``weight`` as its gain, in float64."""
    from utils.llama import RMSNorm

    import torch
    norm = RMSNorm(x.shape[-1], eps).double()
    with torch.no_grad():
        norm.weight.copy_(weight)
        return norm(x.double())


@exercise("13.1", "RMSNorm")
def rms_norm(fn):
    """fn(x (..., d), weight (d,), eps) -> x / sqrt(mean(x^2 over the last axis) + eps) * weight."""
    import torch
    g = torch.Generator().manual_seed(131)
    x = torch.randn(2, 4, 6, generator=g) * 2 + 1.5                         # mean far from 0: centring shows
    x[0, 0] = torch.randn(6, generator=g) * 1e-3                             # a tiny row: mean(x^2) ~ eps
    weight = torch.rand(6, generator=g) + 0.5
    eps = 1e-6
    got, after = call_on_copies(fn, x, weight, eps)
    got = as_tensor(got, "rms_norm", finite="rms_norm returned NaN or infinity - did you forget eps inside the sqrt?")
    expect_unchanged(x, after[0], "x")
    expect_unchanged(weight, after[1], "weight")
    expect(got.shape == x.shape, f"rms_norm should keep the shape of x, {tuple(x.shape)}, got {tuple(got.shape)}")
    want = _rms_norm_reference(x, weight, eps)
    x, w = x.double(), weight.double()
    ms = x.pow(2).mean(-1, keepdim=True)                                     # (2, 4, 1)
    centred = x - x.mean(-1, keepdim=True)
    var = centred.pow(2).mean(-1, keepdim=True)
    if close(got, centred / torch.sqrt(var + eps) * w) or close(got, centred / torch.sqrt(ms + eps) * w) \
            or close(got, centred / torch.sqrt(var + eps)):
        raise CheckFailed("you subtracted the mean: that is LayerNorm; RMSNorm divides x itself by its root mean "
                          "square, sqrt(mean(x**2) + eps)")
    if close(got, x / torch.sqrt(ms + eps)):
        raise CheckFailed("the weight is missing: multiply the normalised x by weight (one gain per feature)")
    if close(got, x / torch.sqrt(ms) * w, atol=1e-4):
        raise CheckFailed("eps is missing: add it inside the square root, sqrt(mean(x**2) + eps), so a row of "
                          "near-zeros is not blown up")
    if close(got, x / (torch.sqrt(ms) + eps) * w, atol=1e-4):
        raise CheckFailed("eps goes INSIDE the square root: sqrt(mean(x**2) + eps)")
    if close(got, x / torch.sqrt(x.pow(2).sum(-1, keepdim=True) + eps) * w):
        raise CheckFailed("you divided by the root of the SUM of squares (the L2 norm); RMSNorm takes the MEAN")
    if close(got, x / (ms + eps) * w):
        raise CheckFailed("no square root: divide by sqrt(mean(x**2) + eps), the ROOT mean square")
    if any(close(got, x / torch.sqrt(x.pow(2).mean(a, keepdim=True) + eps) * w) for a in (0, 1)):
        raise CheckFailed("wrong axis: the mean runs over the features, the last axis (dim=-1)")
    expect(close(got, want), "wrong values: x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight")
    return "no mean subtracted and no bias: one reduction per vector instead of LayerNorm's two"


# ------------------------------------------------------------------------------------------------------- 13.2
def _swiglu_reference(x, W_gate, W_up, W_down):
    """The right answer: :class:`utils.llama.SwiGLU` holding these matrices (a Linear layer stores W.T), float64."""
    from utils.llama import SwiGLU

    import torch
    ffn = SwiGLU(*W_gate.shape).double()
    with torch.no_grad():
        for layer, W in ((ffn.gate_proj, W_gate), (ffn.up_proj, W_up), (ffn.down_proj, W_down)):
            layer.weight.copy_(W.T)
        return ffn(x.double())


@exercise("13.2", "The SwiGLU feed-forward block")
def swiglu(fn):
    """fn(x (B, T, d), W_gate (d, h), W_up (d, h), W_down (h, d)) -> (silu(x @ W_gate) * (x @ W_up)) @ W_down."""
    import torch
    F = torch.nn.functional
    g = torch.Generator().manual_seed(132)
    x = torch.randn(2, 5, 8, generator=g)
    W_gate, W_up = torch.randn(8, 16, generator=g) * 0.5, torch.randn(8, 16, generator=g) * 0.5
    W_down = torch.randn(16, 8, generator=g) * 0.3
    want = _swiglu_reference(x, W_gate, W_up, W_down)
    got, after = call_on_copies(fn, x, W_gate, W_up, W_down)
    got = as_tensor(got, "swiglu")
    for name, before, left in zip(("x", "W_gate", "W_up", "W_down"), (x, W_gate, W_up, W_down), after):
        expect_unchanged(before, left, name)
    if got.shape == (2, 5, 16):
        raise CheckFailed("shape (2, 5, 16): you stopped at the hidden layer; project back to d with @ W_down")
    expect(got.shape == (2, 5, 8), f"swiglu should keep the shape of x, (2, 5, 8), got {tuple(got.shape)}")
    x, W_gate, W_up, W_down = (t.double() for t in (x, W_gate, W_up, W_down))
    gate, up = x @ W_gate, x @ W_up                                          # (2, 5, 16) each
    if close(got, (F.silu(up) * gate) @ W_down):
        raise CheckFailed("the gate is on the wrong branch: SiLU goes on x @ W_gate, and x @ W_up stays linear")
    if close(got, (F.relu(gate) * up) @ W_down):
        raise CheckFailed("you used ReLU; SwiGLU's gate uses SiLU, x * sigmoid(x) (F.silu)")
    if close(got, (F.gelu(gate) * up) @ W_down) or close(got, (F.gelu(gate, approximate="tanh") * up) @ W_down):
        raise CheckFailed("you used GELU (that is GeGLU); SwiGLU's gate uses SiLU, x * sigmoid(x) (F.silu)")
    if close(got, (torch.sigmoid(gate) * up) @ W_down):
        raise CheckFailed("sigmoid alone is the original GLU; SwiGLU uses SiLU, gate * sigmoid(gate) (F.silu)")
    if close(got, (F.silu(gate) * F.silu(up)) @ W_down):
        raise CheckFailed("SiLU on both branches: only the gate goes through SiLU, x @ W_up stays linear")
    if close(got, F.silu(gate) @ W_down) or close(got, F.silu(up) @ W_down):
        raise CheckFailed("no gating: multiply silu(x @ W_gate) by x @ W_up, feature by feature, before W_down")
    if close(got, (F.silu(gate) + up) @ W_down):
        raise CheckFailed("the two branches are MULTIPLIED feature by feature (*), not added")
    if close(got, F.silu((gate * up) @ W_down)) or close(got, F.silu((F.silu(gate) * up) @ W_down)):
        raise CheckFailed("SiLU goes on the gate branch only, never on the output after W_down")
    if close(got, x + (F.silu(gate) * up) @ W_down):
        raise CheckFailed("you added x back: the residual connection belongs to the block, not to the feed-forward")
    expect(close(got, want), "wrong values: (F.silu(x @ W_gate) * (x @ W_up)) @ W_down")
    return "three matrices of d x h: with h = 8d/3 they hold as many weights as GPT-2's two d x 4d ones"


# ------------------------------------------------------------------------------------------------------- 13.3
@exercise("13.3", "Repeating key/value heads for grouped-query attention")
def repeat_kv(fn):
    """fn(x (B, n_kv, T, hs), n_rep) -> (B, n_kv * n_rep, T, hs): KV head j serves query heads j*n_rep ... ."""
    import torch
    g = torch.Generator().manual_seed(133)
    x = torch.randn(2, 3, 4, 5, generator=g)                                 # 3 distinct KV heads
    from utils import llama
    got, after = call_on_copies(fn, x, 2)
    got = returned(got, "repeat_kv")
    expect_unchanged(x, after[0], "x")
    if isinstance(got, torch.Tensor) and tuple(got.shape) in ((2, 3, 8, 5), (2, 3, 4, 10), (4, 3, 4, 5)):
        raise CheckFailed(f"shape {tuple(got.shape)}: you repeated along the wrong axis; the heads are axis 1, "
                          f"(B, n_kv, T, hs) -> (B, n_kv * n_rep, T, hs)")
    got = as_tensor(got, "repeat_kv", shape=(2, 6, 4, 5))
    x64 = x.double()
    if torch.equal(got, x64.repeat(1, 2, 1, 1)):
        raise CheckFailed("heads in the order 0, 1, 2, 0, 1, 2 (that is .repeat, which tiles): each KV head must serve "
                          "n_rep NEIGHBOURING query heads, 0, 0, 1, 1, 2, 2 (repeat_interleave)")
    expect(torch.equal(got, llama.repeat_kv(x64, 2)),
           "wrong values: head j of the result must be x[:, j // n_rep] (x.repeat_interleave(n_rep, dim=1))")
    one, after = call_on_copies(fn, x, 1)
    one = as_tensor(one, "repeat_kv")
    expect(tuple(one.shape) == (2, 3, 4, 5), f"with n_rep = 1 (multi-head attention) the result must keep x's shape "
                                            f"(2, 3, 4, 5), got {tuple(one.shape)}")
    expect(torch.equal(one, x64), "with n_rep = 1 (multi-head attention) the result must be x itself, unchanged")
    return "the cache stores n_kv heads; the copies exist only for the attention product"


# ------------------------------------------------------------------------------------------------------- 13.4
quiz_gqa = quiz(
    "13.4", "Quiz: what grouped-query attention saves",
    correct="b", options="abcd",
    why_wrong={
        "a": "every query head still computes its own scores against every key: the attention arithmetic is "
             "about the same; only the stored keys and values are shared",
        "c": "GQA changes attention only; the feed-forward block (SwiGLU) keeps its size",
        "d": "the vocabulary and its embedding table are untouched by how attention heads are grouped",
    },
    explanation="keys and values are stored for n_kv_head heads, not n_head: Llama-3-8B's 8 KV heads for 32 "
                "query heads cost 128 KiB per token in fp16 instead of 512 KiB, a quarter of the cache "
                "(and the k/v projections shrink by the same factor)")


# ------------------------------------------------------------------------------------------------------- 13.5
def _online_inputs(torch):
    g = torch.Generator().manual_seed(134)
    q = torch.randn(2, 5, 6, generator=g, dtype=torch.float64)
    k = torch.randn(2, 23, 6, generator=g, dtype=torch.float64)
    k = k * torch.linspace(0.2, 3.0, 23, dtype=torch.float64)[:, None]     # later keys score higher: the max grows
    v = torch.randn(2, 23, 3, generator=g, dtype=torch.float64)
    return q, k, v


def _blockwise_variant(q, k, v, block_size, rescale_sum=True, rescale_out=True, scale=True):
    """The online softmax with one of its steps left out (what a learner's slip gives)."""
    import torch
    s_all = q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scale else 1.0)
    m = torch.full((*q.shape[:-1], 1), float("-inf"), dtype=q.dtype)
    l = torch.zeros_like(m)
    o = torch.zeros((*q.shape[:-1], v.shape[-1]), dtype=q.dtype)
    for j in range(0, k.shape[-2], block_size):
        s = s_all[..., j:j + block_size]
        new = torch.maximum(m, s.amax(-1, keepdim=True))
        p = torch.exp(s - new)
        c = torch.exp(m - new)
        l = (l * c if rescale_sum else l) + p.sum(-1, keepdim=True)
        o = (o * c if rescale_out else o) + p @ v[..., j:j + block_size, :]
        m = new
    return o / l


@exercise("13.5", "Attention with an online softmax, block by block")
def online_softmax_attention(fn):
    """fn(q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv), block_size) -> softmax(q k^T / sqrt(d)) v, key block by
    key block with a running max, sum and output."""
    import torch
    shortcut = calls(fn, "scaled_dot_product_attention", "blockwise_attention", "softmax")
    if shortcut:
        raise CheckFailed(f"your function calls {shortcut}: compute it yourself, block by block, with torch.exp, "
                          "a running max and a running sum (the point is never to hold a whole row of scores)")
    from utils import attention

    q, k, v = _online_inputs(torch)
    want = attention.scaled_dot_product_attention(q, k, v)                  # (2, 5, 3), the reference
    got, after = call_on_copies(fn, q, k, v, 4)
    got = as_tensor(got, "online_softmax_attention", shape=(2, 5, 3))
    for name, before, left in zip(("q", "k", "v"), (q, k, v), after):
        expect_unchanged(before, left, name)
    if close(got, _blockwise_variant(q, k, v, 4, rescale_sum=False)):
        raise CheckFailed("the running max grew but the old sum was not rescaled: multiply the running sum by "
                          "exp(m_old - m_new) before adding the new block's terms")
    if close(got, _blockwise_variant(q, k, v, 4, rescale_out=False)):
        raise CheckFailed("the running max grew but the old output was not rescaled: multiply the running output by "
                          "exp(m_old - m_new) before adding the new block's terms")
    if close(got, _blockwise_variant(q, k, v, 4, rescale_sum=False, rescale_out=False)):
        raise CheckFailed("nothing was rescaled when the max grew: multiply the running sum AND output by "
                          "exp(m_old - m_new) before adding each new block")
    if close(got, _blockwise_variant(q, k, v, 4, scale=False)) or close(
            got, torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v):
        raise CheckFailed("the scores are not scaled: divide q @ k^T by sqrt(d), d = q.shape[-1]")
    per_block = sum(torch.softmax(q @ k[..., j:j + 4, :].transpose(-2, -1) / math.sqrt(6), -1) @ v[..., j:j + 4, :]
                    for j in range(0, 23, 4))
    if close(got, per_block) or close(got, per_block / 6):
        raise CheckFailed("each block was normalised on its own: the softmax runs over ALL keys, so carry one "
                          "running sum across the blocks and divide by it once, at the end")
    if close(got, _blockwise_variant(q, k[..., :20, :], v[..., :20, :], 4)):
        raise CheckFailed("the last, shorter block was dropped: 23 keys in blocks of 4 end with a block of 3")
    expect(close(got, want), "wrong values: per block, s = q @ k_blk^T / sqrt(d), m_new = max(m, s.max), "
                              "l = l * exp(m - m_new) + exp(s - m_new).sum, o = o * exp(m - m_new) + "
                              "exp(s - m_new) @ v_blk; return o / l")
    # large scores: exp without the running max overflows in float32
    big = tuple(t.float() for t in (q * 40, k * 40, v))
    got_big, _ = call_on_copies(fn, *big, 4)
    got_big = as_tensor(got_big, "online_softmax_attention", finite="NaN or infinity for large scores: exp overflows "
                      "unless you subtract the running max, exp(s - m_new)")
    want_big = attention.scaled_dot_product_attention(*(t.double() for t in big))
    expect(close(got_big, want_big, atol=1e-4), "wrong values for large scores: subtract the running max before exp")
    return "23 keys in blocks of 4 (the last one of 3): the same numbers as one softmax over all 23"
