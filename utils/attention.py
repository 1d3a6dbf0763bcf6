"""Reference attention (notebook 08), used again by the tiny GPT of notebook 09.

Attention turns a sequence of static vectors into contextual ones: every position scores every other position,
turns the scores into weights with a softmax, and takes the weighted sum of their values.

- :func:`softmax` - the numerically stable softmax (subtract the row maximum first);
- :func:`causal_mask` - which positions a decoder may look at (itself and the past, never the future);
- :func:`scaled_dot_product_attention` - ``softmax(q @ k.T / sqrt(d) + mask) @ v``;
- :func:`split_heads` / :func:`merge_heads` - ``(B, T, d) <-> (B, h, T, d / h)``;
- :class:`MultiHeadAttention` - projections, heads, attention and the output projection in one module.

All functions work on torch tensors with any leading batch axes. Bad input raises a one-line ValueError/TypeError.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["softmax", "causal_mask", "scaled_dot_product_attention", "split_heads", "merge_heads",
           "MultiHeadAttention"]


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


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                                 causal: bool = False, return_weights: bool = False):
    """``softmax(q @ k^T / sqrt(d) [masked]) @ v`` for ``q (..., Tq, d)``, ``k (..., Tk, d)``, ``v (..., Tk, dv)``.

    ``mask`` is boolean and broadcasts to ``(..., Tq, Tk)``: True = may attend, False = blocked (its score becomes
    ``-inf`` *before* the softmax, so its weight is exactly 0). ``causal=True`` adds :func:`causal_mask`.
    Returns the output ``(..., Tq, dv)``, and the weights ``(..., Tq, Tk)`` too with ``return_weights=True``.

    >>> q = k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> v = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> scaled_dot_product_attention(q, k, v, causal=True)
    tensor([[1.0000, 2.0000],
            [2.3395, 3.3395]])
    """
    for x, name in ((q, "q"), (k, "k"), (v, "v")):
        _check_tensor(x, name)
        if x.ndim < 2:
            raise ValueError(f"{name} must have shape (..., seq, dim), got {tuple(x.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k need the same last size (dim), got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v need the same sequence length, got {k.shape[-2]} and {v.shape[-2]}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., Tq, Tk)
    allowed = None
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError("mask must be a boolean tensor (True = may attend)")
        allowed = mask
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
