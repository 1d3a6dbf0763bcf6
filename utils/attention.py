"""Reference attention (notebook 08), used again by the tiny GPT of notebook 09.

Attention turns a sequence of static vectors into contextual ones: every position scores every other position,
turns the scores into weights with a softmax, and takes the weighted sum of their values.

- :func:`softmax` - the numerically stable softmax (subtract the row maximum first);
- :func:`causal_mask` - which positions a decoder may look at (itself and the past, never the future);
- :func:`scaled_dot_product_attention` - ``softmax(q @ k.T / sqrt(d_k) + mask) @ v``, with ``d_k`` the length of one
  query/key vector: per head ``d / h`` under multi-head attention, not the model width ``d``;
- :func:`split_heads` / :func:`merge_heads` - ``(B, T, d) <-> (B, h, T, d / h)``;
- :class:`MultiHeadAttention` - projections, heads, attention and the output projection in one module;
- :func:`causal_attention` - the decoder's attention over cached + new keys, torch's fused kernel or the course's;
- :func:`blockwise_attention` - the same numbers without the ``(Tq, Tk)`` score matrix: keys and values in blocks
  with an online softmax (a running max, sum and output), the idea behind FlashAttention.

All functions work on torch tensors with any leading batch axes. Bad input raises a one-line ValueError/TypeError.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["softmax", "causal_mask", "scaled_dot_product_attention", "split_heads", "merge_heads",
           "MultiHeadAttention", "causal_attention", "blockwise_attention"]


def _check_tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must hold floating-point numbers, got {x.dtype}")
    return x


def softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Stable softmax along ``dim``: ``exp(s - max(s)) / sum(exp(s - max(s)))``; each slice sums to 1.

    Subtracting the maximum changes nothing mathematically (it cancels in the ratio) but keeps ``exp`` from
    overflowing: scores of 1000 would give ``inf / inf = nan`` without it. A slice that is all ``-inf`` (every
    position masked) gives zeros, not NaN.

    >>> softmax(torch.tensor([1.0, 2.0, 3.0]))
    tensor([0.0900, 0.2447, 0.6652])
    >>> softmax(torch.tensor([1000.0, 1000.0]))
    tensor([0.5000, 0.5000])
    """
    _check_tensor(scores, "scores")
    top = scores.amax(dim=dim, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))  # an all -inf row: avoid inf - inf
    e = torch.exp(scores - top)
    total = e.sum(dim=dim, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))


def causal_mask(t_query: int, t_key: int | None = None, device=None) -> torch.Tensor:
    """Boolean ``(t_query, t_key)`` mask, True where a query may look: at its own position and the past.

    With ``t_key > t_query`` (new queries after ``t_key - t_query`` cached positions, as with a KV cache) query ``i``
    sits at position ``t_key - t_query + i``: the mask is aligned to the bottom-right corner.

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    >>> causal_mask(1, 3).int()
    tensor([[1, 1, 1]], dtype=torch.int32)
    """
    t_key = t_query if t_key is None else t_key
    for value, name in ((t_query, "t_query"), (t_key, "t_key")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if t_key < t_query:
        raise ValueError(f"t_key ({t_key}) must be >= t_query ({t_query}): a query cannot precede every key")
    return torch.ones(t_query, t_key, dtype=torch.bool, device=device).tril(diagonal=t_key - t_query)


def _check_qkv(q, k, v) -> None:
    for x, name in ((q, "q"), (k, "k"), (v, "v")):
        _check_tensor(x, name)
        if x.ndim < 2:
            raise ValueError(f"{name} must have shape (..., seq, dim), got {tuple(x.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k need the same last size (dim), got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v need the same sequence length, got {k.shape[-2]} and {v.shape[-2]}")


def _check_mask(mask):
    if mask is not None and (not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool):
        raise TypeError("mask must be a boolean tensor (True = may attend)")
    return mask


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                                 causal: bool = False, return_weights: bool = False):
    """``softmax(q @ k^T / sqrt(d_k)) @ v`` for ``q (..., Tq, d_k)``, ``k (..., Tk, d_k)``, ``v (..., Tk, dv)``.

    ``d_k`` is the last size of ``q`` and ``k``: with heads split off (:func:`split_heads`) it is the per-head key
    size ``d / h``, not the model width ``d``. A dot product of ``d_k`` independent unit-variance terms has variance
    ``d_k``; dividing by ``sqrt(d_k)`` brings it back to 1 for any key size, so the softmax does not saturate.
    ``mask`` is boolean and broadcasts to ``(..., Tq, Tk)``: True = may attend, False = blocked (its score becomes
    ``-inf`` *before* the softmax, so its weight is exactly 0). ``causal=True`` adds :func:`causal_mask`.
    Returns the output ``(..., Tq, dv)``, and the weights ``(..., Tq, Tk)`` too with ``return_weights=True``.

    >>> q = k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> v = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> scaled_dot_product_attention(q, k, v, causal=True)
    tensor([[1.0000, 2.0000],
            [2.3395, 3.3395]])
    """
    _check_qkv(q, k, v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, Tk); q.shape[-1] is d_k, per head
    allowed = _check_mask(mask)
    if causal:
        c = causal_mask(q.shape[-2], k.shape[-2], device=q.device)
        allowed = c if allowed is None else allowed & c
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = softmax(scores, dim=-1)  # (..., Tq, Tk), each row sums to 1 over the keys
    out = weights @ v  # (..., Tq, dv)
    return (out, weights) if return_weights else out


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``(B, T, d) -> (B, h, T, d / h)``: each head gets its own slice of ``d / h`` features of every token.

    >>> split_heads(torch.arange(8.0).reshape(1, 2, 4), 2)[0]
    tensor([[[0., 1.],
             [4., 5.]],
    <BLANKLINE>
            [[2., 3.],
             [6., 7.]]])
    """
    _check_tensor(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, seq, dim), got {tuple(x.shape)}")
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1 or x.shape[-1] % n_heads:
        raise ValueError(f"n_heads must be a positive int dividing dim={x.shape[-1]}, got {n_heads!r}")
    b, t, d = x.shape
    return x.view(b, t, n_heads, d // n_heads).transpose(1, 2)  # (B, h, T, hs)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, h, T, hs) -> (B, T, h * hs)``, the inverse of :func:`split_heads`.

    >>> x = torch.randn(2, 5, 6)
    >>> torch.equal(merge_heads(split_heads(x, 3)), x)
    True
    """
    _check_tensor(x, "x")
    if x.ndim != 4:
        raise ValueError(f"x must have shape (batch, heads, seq, head_dim), got {tuple(x.shape)}")
    b, h, t, hs = x.shape
    return x.transpose(1, 2).reshape(b, t, h * hs)  # (B, T, d)


class MultiHeadAttention(nn.Module):
    """Self-attention with ``n_heads`` heads: project to q, k, v; split heads; attend; merge; project out.

    >>> torch.manual_seed(0) and None
    >>> mha = MultiHeadAttention(dim=8, n_heads=2, causal=True)
    >>> mha(torch.randn(3, 5, 8)).shape
    torch.Size([3, 5, 8])
    """

    def __init__(self, dim: int, n_heads: int, causal: bool = False, bias: bool = True):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"n_heads ({n_heads}) must divide dim ({dim})")
        self.n_heads, self.causal = n_heads, causal
        self.query = nn.Linear(dim, dim, bias=bias)
        self.key = nn.Linear(dim, dim, bias=bias)
        self.value = nn.Linear(dim, dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, return_weights: bool = False):
        """``x (B, T, d) -> (B, T, d)``; ``mask`` broadcasts to ``(B, h, T, T)`` (True = may attend)."""
        q = split_heads(self.query(x), self.n_heads)  # (B, h, T, hs)
        k = split_heads(self.key(x), self.n_heads)  # (B, h, T, hs)
        v = split_heads(self.value(x), self.n_heads)  # (B, h, T, hs)
        out, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=self.causal, return_weights=True)
        y = self.out(merge_heads(out))  # (B, T, d)
        return (y, weights) if return_weights else y


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, fast: bool = True,
                     dropout_p: float = 0.0) -> torch.Tensor:
    """A decoder's attention: the ``Tq`` queries are the LAST positions of the ``Tk >= Tq`` keys (the cache first).

    ``fast=True`` calls torch's fused kernel (``dropout_p`` applies there, in training); ``fast=False`` the course's
    :func:`scaled_dot_product_attention` (no dropout). Same numbers to float rounding. Used by utils.gpt and
    utils.llama.

    >>> q, k, v = torch.randn(1, 2, 1, 4), torch.randn(1, 2, 3, 4), torch.randn(1, 2, 3, 4)   # 1 new token, 2 cached
    >>> bool(torch.allclose(causal_attention(q, k, v), causal_attention(q, k, v, fast=False), atol=1e-6))
    True
    """
    t_q, t_k = q.shape[-2], k.shape[-2]
    if not fast:
        return scaled_dot_product_attention(q, k, v, causal=True)                  # (B, nh, Tq, hs)
    start = t_k - t_q                                                             # cached positions before the queries
    # torch's is_causal is top-left aligned; with a cache (Tq < Tk) pass the bottom-right mask ourselves
    mask = None if start == 0 or t_q == 1 else torch.ones(t_q, t_k, dtype=torch.bool, device=q.device).tril(start)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=start == 0, dropout_p=dropout_p)


def blockwise_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_size: int = 128,
                        mask: torch.Tensor | None = None, causal: bool = False) -> torch.Tensor:
    """:func:`scaled_dot_product_attention` computed ``block_size`` keys at a time, never holding ``(Tq, Tk)`` scores.

    The online softmax (the idea behind FlashAttention): for each query keep a running maximum ``m`` of the scores
    seen so far, a running sum ``l`` of ``exp(score - m)`` and a running output ``o = sum exp(score - m) * value``.
    A new block of keys may raise the maximum to ``m'``; then everything accumulated so far was measured against the
    old ``m`` and is multiplied by ``exp(m - m')`` before the block's own terms are added. At the end ``o / l`` is
    exactly ``softmax(scores) @ v``. Extra memory: one ``(..., Tq, block_size)`` block of scores instead of
    ``(..., Tq, Tk)``. ``mask`` and ``causal`` mean what they mean in :func:`scaled_dot_product_attention` (causal
    is bottom-right aligned); a query that may see no key gets zeros, as there.

    >>> q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 3)
    >>> out = blockwise_attention(q, k, v, block_size=3, causal=True)           # 3 blocks: keys 0-2, 3-5, 6
    >>> bool(torch.allclose(out, scaled_dot_product_attention(q, k, v, causal=True), atol=1e-6))
    True
    """
    _check_qkv(q, k, v)
    _check_mask(mask)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    t_q, t_k = q.shape[-2], k.shape[-2]
    if causal and t_k < t_q:
        raise ValueError(f"causal attention needs at least as many keys ({t_k}) as queries ({t_q})")
    if mask is not None and mask.shape[-1] not in (1, t_k):
        raise ValueError(f"mask's last size must be 1 or the number of keys ({t_k}), got {mask.shape[-1]}")
    scale = math.sqrt(q.shape[-1])                                                  # sqrt(d_k): per-head key size
    lead = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])       # batch axes, e.g. (B, nh)
    run_max = torch.full((*lead, t_q, 1), float("-inf"), dtype=q.dtype, device=q.device)  # m: max score so far
    run_sum = torch.zeros((*lead, t_q, 1), dtype=q.dtype, device=q.device)          # l: sum of exp(score - m)
    run_out = torch.zeros((*lead, t_q, v.shape[-1]), dtype=q.dtype, device=q.device)  # o: sum of exp(score - m) v
    query_pos = torch.arange(t_k - t_q, t_k, device=q.device)[:, None]                 # (Tq, 1) absolute positions
    for j in range(0, t_k, block_size):
        k_blk, v_blk = k[..., j:j + block_size, :], v[..., j:j + block_size, :]   # (..., Bk, d), (..., Bk, dv)
        s = q @ k_blk.transpose(-2, -1) / scale                                    # (..., Tq, Bk): one block of scores
        allowed = None if mask is None else (mask if mask.shape[-1] == 1 else mask[..., j:j + block_size])
        if causal:
            key_pos = torch.arange(j, j + k_blk.shape[-2], device=q.device)         # (Bk,)
            allowed = key_pos <= query_pos if allowed is None else allowed & (key_pos <= query_pos)
        if allowed is not None:
            s = s.masked_fill(~allowed, float("-inf"))
        new_max = torch.maximum(run_max, s.amax(dim=-1, keepdim=True))              # m' (..., Tq, 1)
        shift = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))  # no key yet: exp(-inf) = 0
        p = torch.exp(s - shift)                                                    # (..., Tq, Bk)
        rescale = torch.exp(run_max - shift)                                        # exp(m - m') <= 1; 0 at the start
        run_sum = run_sum * rescale + p.sum(dim=-1, keepdim=True)                   # old sum re-measured against m'
        run_out = run_out * rescale + p @ v_blk                                     # (..., Tq, dv), the same for o
        run_max = new_max
    return run_out / torch.where(run_sum > 0, run_sum, torch.ones_like(run_sum))    # (..., Tq, dv); no key seen -> 0
