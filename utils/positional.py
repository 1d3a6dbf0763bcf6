"""Reference positional embeddings (notebook 06): sinusoidal tables, learned positions and RoPE.

A transformer's attention treats its input as a *set* of vectors, so word order must be put into the numbers. Three
ways are implemented here, all on torch tensors:

- **absolute, learned**: a trainable table with one row per position, added to the token vectors
  (:class:`LearnedPositions`, the scheme of BERT and MiniLM);
- **absolute, sinusoidal**: a fixed table of sines and cosines at geometrically spaced frequencies, as in
  "Attention Is All You Need" (:func:`sinusoidal_positions`, :func:`add_positions`);
- **rotary (RoPE)**: no addition at all; queries and keys are rotated, pair of dimensions by pair of dimensions, by
  angles proportional to their position (:func:`apply_rope`), so their dot product depends only on the offset.

Bad input (odd dimension where pairs are needed, negative positions, shapes that do not fit) raises a one-line
ValueError or TypeError.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "sinusoidal_positions", "frequencies", "wavelengths", "add_positions", "LearnedPositions", "binary_positions",
    "rope_angles", "apply_rope", "rope_cos_sin", "rotate_pairs", "rope_score", "similarity_by_offset",
    "sinusoidal_offset_dot",
]


# ---------------------------------------------------------------------------------------------------- validation
def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _check_even_dim(dim, what: str) -> int:
    dim = _check_count(dim, "dim")
    if dim % 2:
        raise ValueError(f"dim must be even for {what} (dimensions come in pairs), got {dim}")
    return dim


def _check_base(base) -> float:
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not math.isfinite(base) or base <= 1:
        raise ValueError(f"base must be a number greater than 1, got {base!r}")
    return float(base)


def _check_tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(x).__module__}.{type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must hold floating-point numbers, got dtype {x.dtype}")
    return x


# ---------------------------------------------------------------------------------------------------- sinusoidal
def frequencies(dim: int, base: float = 10000.0) -> torch.Tensor:
    """Angular frequency of each of the ``dim // 2`` dimension pairs: ``base ** (-2i / dim)`` for i = 0, 1, ...

    Pair 0 turns by 1 radian per position (fastest); the last pair is slowest.

    >>> frequencies(4, base=100)
    tensor([1.0000, 0.1000])
    """
    dim = _check_even_dim(dim, "sin/cos pairs")
    base = _check_base(base)
    two_i = torch.arange(0, dim, 2, dtype=torch.float64)          # (dim/2,) the even indices 0, 2, 4, ...
    return (base ** (-two_i / dim)).float()                       # float64 first: exact powers, then float32


def wavelengths(dim: int, base: float = 10000.0) -> torch.Tensor:
    """Number of positions after which each pair repeats: ``2π / frequency``, from 2π up to almost 2π·base.

    >>> wavelengths(4, base=100)
    tensor([ 6.2832, 62.8319])
    """
    return 2 * math.pi / frequencies(dim, base)


def sinusoidal_positions(num_positions: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """The fixed position table of "Attention Is All You Need", shape ``(num_positions, dim)``, float32.

    Row p, column 2i   = sin(p / base^(2i/dim))   (sine on the even columns)
    Row p, column 2i+1 = cos(p / base^(2i/dim))   (cosine on the odd columns, same frequency as its left neighbour)

    Every row has norm sqrt(dim / 2), because each (sin, cos) pair has length 1. Defined in notebook 06, section 3.

    >>> sinusoidal_positions(2, 4)
    tensor([[0.0000, 1.0000, 0.0000, 1.0000],
            [0.8415, 0.5403, 0.0100, 0.9999]])
    """
    num_positions = _check_count(num_positions, "num_positions")
    freqs = frequencies(dim, base).double()                                   # (dim/2,)
    angles = torch.arange(num_positions, dtype=torch.float64)[:, None] * freqs  # (num_positions, dim/2)
    table = torch.empty(num_positions, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)                                        # even columns
    table[:, 1::2] = torch.cos(angles)                                        # odd columns
    return table.float()


def sinusoidal_offset_dot(offsets, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Dot product of two sinusoidal rows ``k`` positions apart, for every k in ``offsets``: sum_i cos(k·ω_i).

    It does not depend on where the pair sits, only on k (sin a sin b + cos a cos b = cos(a - b)).

    >>> sinusoidal_offset_dot([0, 1], 4, base=100)
    tensor([2.0000, 1.5353])
    """
    k = torch.as_tensor(offsets, dtype=torch.float64).reshape(-1, 1)          # (n, 1)
    return torch.cos(k * frequencies(dim, base).double()).sum(dim=1).float()  # (n,)


def binary_positions(num_positions: int, bits: int) -> torch.Tensor:
    """Positions written in binary, lowest bit first, as a ``(num_positions, bits)`` float table of 0s and 1s.

    Column 0 flips every position, column 1 every 2, column 2 every 4: the discrete cousin of the sinusoidal table,
    whose first columns also change fastest.

    >>> binary_positions(4, 2)
    tensor([[0., 0.],
            [1., 0.],
            [0., 1.],
            [1., 1.]])
    """
    num_positions, bits = _check_count(num_positions, "num_positions"), _check_count(bits, "bits")
    if num_positions > 2 ** bits:
        raise ValueError(f"{bits} bits count only {2 ** bits} positions, asked for {num_positions}")
    p = torch.arange(num_positions)[:, None]                                  # (num_positions, 1)
    return ((p >> torch.arange(bits)) & 1).float()                            # (num_positions, bits)


def add_positions(tokens: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Token vectors plus the position vectors of their places: ``tokens + table[:seq]``.

    ``tokens`` is ``(seq, dim)`` or ``(batch, seq, dim)``; ``table`` is ``(max_positions, dim)``. The first ``seq`` rows
    of the table broadcast over the batch axis; the input is not changed.

    >>> add_positions(torch.zeros(1, 2, 4), sinusoidal_positions(8, 4))[0]
    tensor([[0.0000, 1.0000, 0.0000, 1.0000],
            [0.8415, 0.5403, 0.0100, 0.9999]])
    """
    _check_tensor(tokens, "tokens")
    _check_tensor(table, "table")
    if tokens.ndim not in (2, 3):
        raise ValueError(f"tokens must have shape (seq, dim) or (batch, seq, dim), got {tuple(tokens.shape)}")
    if table.ndim != 2:
        raise ValueError(f"table must have shape (max_positions, dim), got {tuple(table.shape)}")
    seq, dim = tokens.shape[-2:]
    if table.shape[1] != dim:
        raise ValueError(f"token vectors have dim {dim} but position vectors have dim {table.shape[1]}")
    if seq > table.shape[0]:
        raise ValueError(f"sequence of {seq} tokens is longer than the {table.shape[0]} positions in the table")
    return tokens + table[:seq].to(tokens.device, tokens.dtype)               # (seq, dim) broadcasts over batch


class LearnedPositions(nn.Module):
    """Learned absolute positions: an ``nn.Embedding`` with one trainable row per position, added to the tokens.

    The table has a fixed number of rows, so the model cannot see a sequence longer than ``max_positions``
    (BERT and MiniLM: 512). Used in notebook 06, section 2.

    >>> layer = LearnedPositions(max_positions=16, dim=8)
    >>> layer(torch.zeros(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, max_positions: int, dim: int):
        super().__init__()
        self.max_positions = _check_count(max_positions, "max_positions")
        self.dim = _check_count(dim, "dim")
        self.table = nn.Embedding(self.max_positions, self.dim)               # weight: (max_positions, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _check_tensor(tokens, "tokens")
        if tokens.ndim not in (2, 3) or tokens.shape[-1] != self.dim:
            raise ValueError(f"tokens must have shape (batch, seq, {self.dim}), got {tuple(tokens.shape)}")
        seq = tokens.shape[-2]
        if seq > self.max_positions:
            raise ValueError(f"sequence of {seq} tokens is longer than the {self.max_positions} learned positions")
        positions = torch.arange(seq, device=tokens.device)                   # (seq,) 0, 1, ..., seq-1
        return tokens + self.table(positions)                                 # (seq, dim) broadcasts over batch


# ---------------------------------------------------------------------------------------------------------- RoPE
def _positions_tensor(positions, device) -> torch.Tensor:
    if isinstance(positions, bool):
        raise TypeError("positions must be numbers, got a bool")
    if isinstance(positions, torch.Tensor):
        p = positions.detach()
    else:
        try:
            p = torch.as_tensor(positions, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"positions must be an int, a list of ints or a tensor, got {type(positions).__name__}") from None
    p = p.to(device=device, dtype=torch.float64)
    if p.ndim > 1:
        raise ValueError(f"positions must be one number or a 1-D list, got shape {tuple(p.shape)}")
    if not torch.all(torch.isfinite(p)):
        raise ValueError("positions contain NaN or infinity")
    if torch.any(p < 0):
        raise ValueError(f"positions must be >= 0, got {p.min().item():g}")
    return p


def rope_angles(positions, dim: int, base: float = 10000.0) -> torch.Tensor:
    """Rotation angle of every dimension pair at every position: ``position * base ** (-2i / dim)``.

    Shape ``(len(positions), dim // 2)`` (or ``(dim // 2,)`` for one position); same frequencies as the sinusoidal
    table.

    >>> rope_angles([0, 2], 4, base=100)
    tensor([[0.0000, 0.0000],
            [2.0000, 0.2000]])
    """
    p = _positions_tensor(positions, "cpu")
    freqs = frequencies(_check_even_dim(dim, "RoPE"), base).double()
    return (p[..., None] * freqs).float()


def apply_rope(x: torch.Tensor, positions, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding: rotate each consecutive pair (x[2i], x[2i+1]) by the angle ``position * ω_i``.

        out[2i]   = x[2i] cos θ - x[2i+1] sin θ
        out[2i+1] = x[2i] sin θ + x[2i+1] cos θ,      θ = position · base^(-2i/dim)

    ``x`` is one vector ``(dim,)`` with one position, or ``(..., seq, dim)`` with ``seq`` positions (one number is used
    for every row). Rotations keep every norm, and ``apply_rope(q, m) @ apply_rope(k, n)`` depends only on m - n.
    Defined in notebook 06, section 5. Computes on x's device and dtype.

    >>> apply_rope(torch.tensor([1.0, 0.0, 1.0, 0.0]), 1, base=100)
    tensor([0.5403, 0.8415, 0.9950, 0.0998])
    """
    _check_tensor(x, "x")
    if x.ndim == 0:
        raise ValueError("x must be a vector (dim,) or a batch (..., seq, dim), got a scalar")
    dim = _check_even_dim(x.shape[-1], "RoPE")
    p = _positions_tensor(positions, x.device)
    if p.ndim == 1:
        if x.ndim < 2:
            raise ValueError(f"one vector x of shape {tuple(x.shape)} needs one position, got {p.numel()}")
        if p.numel() != x.shape[-2]:
            raise ValueError(f"got {p.numel()} positions for a sequence of {x.shape[-2]} vectors")
    return rotate_pairs(x, *rope_cos_sin(p, dim, base, device=x.device, dtype=x.dtype))


def rope_cos_sin(positions, dim: int, base: float = 10000.0, device=None, dtype=torch.float32):
    """Cosine and sine of every pair's RoPE angle at every position: two ``(len(positions), dim // 2)`` tensors.

    The angles are computed in float64 (exact for large positions), then cast to ``dtype``. A model computes them once
    per forward pass and rotates the queries and keys of every layer with :func:`rotate_pairs` (utils.llama).

    >>> cos, sin = rope_cos_sin([0, 1], 4, base=100)
    >>> cos
    tensor([[1.0000, 1.0000],
            [0.5403, 0.9950]])
    """
    p = _positions_tensor(positions, device)
    freqs = frequencies(_check_even_dim(dim, "RoPE"), base).to(p.device, torch.float64)  # (dim/2,)
    angles = p[..., None] * freqs                                             # (seq, dim/2) or (dim/2,)
    return torch.cos(angles).to(dtype), torch.sin(angles).to(dtype)


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair ``(x[2i], x[2i+1])`` by the angle whose cosine and sine are ``cos[..., i]``, ``sin[..., i]``.

    The rotation of :func:`apply_rope`, given the angles' cosines and sines (:func:`rope_cos_sin`), which broadcast
    against ``x (..., seq, dim)`` as ``(seq, dim/2)``.

    >>> rotate_pairs(torch.tensor([1.0, 0.0]), torch.tensor([0.0]), torch.tensor([1.0]))   # a quarter turn
    tensor([0., 1.])
    """
    even, odd = x[..., 0::2], x[..., 1::2]                                    # (..., dim/2) each: the pairs
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def rope_score(q: torch.Tensor, k: torch.Tensor, m, n, base: float = 10000.0) -> float:
    """Attention score of query ``q`` at position ``m`` with key ``k`` at position ``n`` under RoPE (a float).

    >>> q = torch.tensor([1.0, 0.0]); round(rope_score(q, q, 3, 1), 4) == round(rope_score(q, q, 12, 10), 4)
    True
    """
    _check_tensor(q, "q")
    _check_tensor(k, "k")
    if q.ndim != 1 or q.shape != k.shape:
        raise ValueError(f"q and k must be vectors of the same length, got {tuple(q.shape)} and {tuple(k.shape)}")
    return float(apply_rope(q, m, base) @ apply_rope(k, n, base))


# ---------------------------------------------------------------------------------------------------- analysis
def similarity_by_offset(table, max_offset: int) -> torch.Tensor:
    """Mean cosine similarity of rows ``k`` apart, for k = 0 .. max_offset: one number per offset.

    Works for any position table (learned or fixed); for a sinusoidal table the curve is smooth, for a learned one
    it shows what training made of neighbouring positions.

    >>> similarity_by_offset(sinusoidal_positions(50, 16), 2)
    tensor([1.0000, 0.9356, 0.7960])
    """
    table = _check_tensor(torch.as_tensor(table) if not isinstance(table, torch.Tensor) else table, "table")
    if table.ndim != 2:
        raise ValueError(f"table must have shape (positions, dim), got {tuple(table.shape)}")
    max_offset = int(max_offset)
    if not 0 <= max_offset < table.shape[0]:
        raise ValueError(f"max_offset must be between 0 and {table.shape[0] - 1}, got {max_offset}")
    unit = torch.nn.functional.normalize(table.double(), dim=1)               # (positions, dim) unit rows
    return torch.stack([(unit[: len(unit) - k] * unit[k:]).sum(dim=1).mean() for k in range(max_offset + 1)]).float()
