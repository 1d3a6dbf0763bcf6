"""From token vectors to one sentence vector (notebook 11, section 1): pooling with the attention mask.

A transformer gives one contextual vector per token, ``hidden (B, T, d)``. Texts in a batch have different lengths,
so the shorter ones are padded; the **attention mask** ``mask (B, T)`` is 1 on real tokens and 0 on padding. A
sentence embedding keeps one vector per text:

- :func:`mean_pool` - the average of the real tokens (padding must not count);
- :func:`cls_pool` - the vector of the first position (BERT's ``[CLS]`` token);
- :func:`last_token_pool` - the vector of the last real token: in a causal (GPT-style) model it is the only position
  that has seen the whole text;
- :func:`anisotropy` - the mean cosine of random pairs of vectors: near 0 for directions spread over the sphere,
  near 1 when every vector points into the same narrow cone.

>>> hidden = torch.tensor([[[1., 1.], [3., 3.], [9., 9.]]])     # (1, 3, 2): two real tokens and one pad
>>> mask = torch.tensor([[1, 1, 0]])
>>> mean_pool(hidden, mask).tolist(), last_token_pool(hidden, mask).tolist(), cls_pool(hidden, mask).tolist()
([[2.0, 2.0]], [[3.0, 3.0]], [[1.0, 1.0]])
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["mean_pool", "cls_pool", "last_token_pool", "pool", "anisotropy", "POOLINGS"]

POOLINGS = ("mean", "cls", "last")


def _check(hidden, mask) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(hidden, torch.Tensor) or hidden.ndim != 3:
        raise ValueError(f"hidden must be a torch tensor (batch, tokens, dim), got "
                         f"{getattr(hidden, 'shape', type(hidden).__name__)}")
    mask = torch.as_tensor(mask, device=hidden.device)
    if mask.shape != hidden.shape[:2]:
        raise ValueError(f"mask must be (batch, tokens) = {tuple(hidden.shape[:2])}, got {tuple(mask.shape)}")
    if (mask.sum(dim=1) == 0).any():
        raise ValueError("a row of the mask is all zeros: every text needs at least one real token")
    return hidden, mask


def mean_pool(hidden: torch.Tensor, mask) -> torch.Tensor:
    """(B, T, d) token vectors and a (B, T) 0/1 mask -> (B, d): the mean over real tokens only.

    >>> mean_pool(torch.ones(2, 3, 4), torch.tensor([[1, 1, 1], [1, 0, 0]])).shape
    torch.Size([2, 4])
    """
    hidden, mask = _check(hidden, mask)
    m = mask.to(hidden.dtype).unsqueeze(-1)                    # (B, T, 1): 0 on padding
    return (hidden * m).sum(dim=1) / m.sum(dim=1)              # (B, d) / (B, 1): divide by the REAL length


def cls_pool(hidden: torch.Tensor, mask=None) -> torch.Tensor:
    """(B, T, d) -> (B, d): the first position (what BERT-style models train their ``[CLS]`` token for)."""
    if mask is not None:
        hidden, _ = _check(hidden, mask)
    return hidden[:, 0]


def last_token_pool(hidden: torch.Tensor, mask) -> torch.Tensor:
    """(B, T, d) -> (B, d): the last real token of each row, for right padding (pads at the end) or left padding.

    >>> h = torch.arange(6.).reshape(1, 3, 2)                  # tokens [0, 1], [2, 3], [4, 5]
    >>> last_token_pool(h, torch.tensor([[0, 1, 1]])).tolist(), last_token_pool(h, torch.tensor([[1, 1, 0]])).tolist()
    ([[4.0, 5.0]], [[2.0, 3.0]])
    """
    hidden, mask = _check(hidden, mask)
    positions = torch.arange(hidden.shape[1], device=hidden.device)       # (T,)
    last = (mask.to(torch.long) * positions).argmax(dim=1)                # (B,): the largest real position
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def pool(hidden: torch.Tensor, mask, how: str = "mean") -> torch.Tensor:
    """``how`` = "mean", "cls" or "last": one of the three poolings above."""
    if how == "mean":
        return mean_pool(hidden, mask)
    if how == "cls":
        return cls_pool(hidden, mask)
    if how == "last":
        return last_token_pool(hidden, mask)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {how!r}")


def anisotropy(vectors, n_pairs: int = 5000, seed: int = 0) -> float:
    """Mean cosine similarity of ``n_pairs`` random pairs of distinct rows of ``vectors`` (n, d).

    Isotropic vectors (directions spread evenly) give about 0; a language model's raw hidden states often give 0.5
    or more: every text looks "similar" to every other, so cosine carries little information.

    >>> abs(anisotropy(np.random.default_rng(0).normal(size=(500, 64)))) < 0.05
    True
    >>> anisotropy(np.random.default_rng(0).normal(size=(500, 64)) + 10) > 0.9
    True
    """
    X = vectors.detach().cpu().numpy() if isinstance(vectors, torch.Tensor) else np.asarray(vectors, dtype=float)
    if X.ndim != 2 or len(X) < 2:
        raise ValueError(f"need a matrix of at least 2 vectors, got shape {X.shape}")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(X), n_pairs)
    j = (i + rng.integers(1, len(X), n_pairs)) % len(X)                  # j != i
    norms = np.linalg.norm(X, axis=1)
    norms[norms == 0] = 1.0
    U = X / norms[:, None]
    return float(np.mean(np.sum(U[i] * U[j], axis=1)))
