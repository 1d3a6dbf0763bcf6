"""Induction heads: the two-layer circuit that lets a transformer copy from its context (notebook 08).

On a sequence ``... A B ... A`` an induction head predicts ``B``: at the second ``A`` it attends to the token that
FOLLOWED the earlier ``A``, and copies it. It takes two layers: a head in layer 1 writes "the token before me was A"
into each position (a previous-token head), and a head in layer 2 matches the current token against that, so its
query ``A`` finds the key of ``B``. A model with attention only (no MLP) learns it from random sequences repeated
twice, where the second half can only be predicted by copying:

- :func:`repeated_sequences` - ``n`` random sequences of ``half_len`` distinct tokens, each followed by itself;
- :class:`AttentionOnly` - token + position embeddings, ``n_layer`` residual causal attention layers
  (utils.attention.MultiHeadAttention), an unembedding; it returns every layer's attention map;
- :func:`train_induction` - trains it (seeded, a few seconds on a CPU) and returns the model, the loss history and
  the attention maps on fresh sequences;
- :func:`induction_scores` / :func:`previous_token_scores` - per layer and head, the mean attention paid to the token
  after the previous occurrence of the current token / to the previous position.

    >>> repeated_sequences(1, 4, vocab_size=10, generator=torch.Generator().manual_seed(0))
    tensor([[2, 3, 4, 8, 2, 3, 4, 8]])
    >>> repeated_sequences(2, 5, vocab_size=10, generator=torch.Generator().manual_seed(0), min_period=2)
    tensor([[2, 3, 4, 8, 2, 3, 4, 8, 2, 3],
            [2, 8, 3, 9, 4, 2, 8, 3, 9, 4]])
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from utils.attention import MultiHeadAttention

__all__ = ["InductionConfig", "repeated_sequences", "AttentionOnly", "train_induction", "InductionRun",
           "induction_targets", "induction_scores", "previous_token_scores", "loss_by_position"]


@dataclass
class InductionConfig:
    """The task (``half_len`` random tokens from ``vocab_size``, then the same again) and the model and training."""

    vocab_size: int = 64
    half_len: int = 24
    min_period: int = 8          # training rows repeat every 8..half_len tokens (see repeated_sequences)
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    batch_size: int = 32
    steps: int = 300
    lr: float = 1e-2
    seed: int = 0

    def __post_init__(self):
        for name in ("vocab_size", "half_len", "n_layer", "n_head", "n_embd", "batch_size", "steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"InductionConfig.{name} must be a positive int, got {value!r}")
        if self.half_len > self.vocab_size:
            raise ValueError(f"half_len ({self.half_len}) needs at least as many distinct tokens, vocab_size is "
                             f"{self.vocab_size}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_head ({self.n_head}) must divide n_embd ({self.n_embd})")
        if not 1 <= self.min_period <= self.half_len:
            raise ValueError(f"min_period must be between 1 and half_len ({self.half_len}), got {self.min_period!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")


def repeated_sequences(n: int, half_len: int, vocab_size: int, generator: torch.Generator,
                       min_period: int | None = None) -> torch.Tensor:
    """``(n, 2 * half_len)`` ids: ``period`` distinct random tokens, repeated in the same order to fill the row.

    ``period`` is ``half_len`` (two equal halves) unless ``min_period`` is given: then each row draws its own period
    in ``[min_period, half_len]``, so *where* the earlier copy sits changes from row to row and a head that attends
    to a fixed offset cannot solve the task; only matching the content (an induction head) can. Tokens are distinct
    within a period, so every token after the first period has exactly one earlier occurrence to copy from.
    """
    if half_len > vocab_size:
        raise ValueError(f"half_len ({half_len}) needs at least as many distinct tokens, vocab_size is {vocab_size}")
    lo = half_len if min_period is None else min_period
    if not 1 <= lo <= half_len:
        raise ValueError(f"min_period must be between 1 and half_len ({half_len}), got {min_period!r}")
    tokens = torch.rand(n, vocab_size, generator=generator).argsort(dim=1)[:, :half_len]  # (n, half) no repeats
    period = torch.randint(lo, half_len + 1, (n, 1), generator=generator)  # (n, 1)
    column = torch.arange(2 * half_len) % period                             # (n, 2 * half): 0..P-1, 0..P-1, ...
    return tokens.gather(1, column)                                          # (n, 2 * half)


class AttentionOnly(nn.Module):
    """Embeddings, then ``n_layer`` times ``x = x + attention(x)`` (causal, no MLP, no norm), then the unembedding."""

    def __init__(self, cfg: InductionConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.positions = nn.Embedding(2 * cfg.half_len, cfg.n_embd)          # learned: a previous-token head needs them
        self.layers = nn.ModuleList(MultiHeadAttention(cfg.n_embd, cfg.n_head, causal=True)
                                    for _ in range(cfg.n_layer))
        self.unembed = nn.Linear(cfg.n_embd, cfg.vocab_size)

    def forward(self, ids: torch.Tensor, return_attention: bool = False):
        """``ids (B, T)`` -> logits ``(B, T, vocab)`` (and the ``(B, h, T, T)`` attention of every layer)."""
        t = ids.shape[1]
        x = self.embed(ids) + self.positions(torch.arange(t, device=ids.device))  # (B, T, d)
        maps = []
        for layer in self.layers:
            a, w = layer(x, return_weights=True)                             # (B, T, d), (B, h, T, T)
            x = x + a                                                        # the residual stream
            maps.append(w)
        logits = self.unembed(x)                                             # (B, T, vocab)
        return (logits, maps) if return_attention else logits


def loss_by_position(model: AttentionOnly, ids: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting ``ids[:, i + 1]`` at every position ``i``: shape ``(T - 1,)``."""
    with torch.no_grad():
        logits = model(ids)[:, :-1]                                          # (B, T-1, vocab)
        loss = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")  # (B, T-1)
    return loss.mean(dim=0)


@dataclass
class InductionRun:
    model: AttentionOnly
    losses: list[float]                      # training loss at every step
    probe: torch.Tensor                      # (n, T) fresh repeated sequences
    attention: list[torch.Tensor] = field(default_factory=list)  # per layer (n, h, T, T) on the probe


def train_induction(cfg: InductionConfig | None = None, probe_size: int = 64, threads: int | None = 1) -> InductionRun:
    """Train :class:`AttentionOnly` with Adam on fresh repeated sequences every step (seeded: same run every time).

    The default (300 steps) takes about 8 s of one core. ``threads=1``: the matrices are tiny, so a second thread
    gains nothing, and it stalls the whole run whenever the other core is busy (10x slower measured on a loaded
    2-core machine); ``None`` keeps torch's setting.

    >>> run = train_induction(InductionConfig(steps=3))
    >>> len(run.losses), [tuple(w.shape) for w in run.attention]
    (3, [(64, 4, 48, 48), (64, 4, 48, 48)])
    """
    cfg = InductionConfig() if cfg is None else cfg
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(cfg, probe_size)
    finally:
        torch.set_num_threads(old_threads)


def _train(cfg: InductionConfig, probe_size: int) -> InductionRun:
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    model = AttentionOnly(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    losses = []
    for _ in range(cfg.steps):
        ids = repeated_sequences(cfg.batch_size, cfg.half_len, cfg.vocab_size, g, cfg.min_period)  # (B, T)
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())  # next token at every position
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    probe = repeated_sequences(probe_size, cfg.half_len, cfg.vocab_size, torch.Generator().manual_seed(cfg.seed + 1))
    with torch.no_grad():
        _, maps = model(probe, return_attention=True)
    return InductionRun(model, losses, probe, maps)


def induction_targets(ids: torch.Tensor) -> torch.Tensor:
    """``(B, T)`` position an induction head would attend to from each position: the one after the most recent
    earlier occurrence of the same token; -1 where the token has not occurred before.

    >>> induction_targets(torch.tensor([[7, 3, 9, 7, 3]]))
    tensor([[-1, -1, -1,  1,  2]])
    """
    b, t = ids.shape
    same = ids[:, :, None] == ids[:, None, :]                                # (B, T, T): token i == token j
    earlier = torch.ones(t, t, dtype=torch.bool).tril(-1)                    # j < i
    pos = torch.arange(t).expand(b, t, t)
    last = torch.where(same & earlier, pos, -1).amax(dim=2)                  # (B, T) most recent j, or -1
    return torch.where(last >= 0, last + 1, -1)


def _mean_attention_at(maps: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    scores = []
    valid = target >= 0                                                      # (B, T)
    for w in maps:                                                           # (B, h, T, T)
        idx = target.clamp_min(0)[:, None, :, None].expand(-1, w.shape[1], -1, 1)  # (B, h, T, 1)
        paid = w.gather(3, idx)[..., 0]                                      # (B, h, T): weight on the target
        scores.append((paid * valid[:, None]).sum(dim=(0, 2)) / valid.sum())  # (h,)
    return torch.stack(scores)                                               # (n_layer, h)


def induction_scores(maps: list[torch.Tensor], ids: torch.Tensor) -> torch.Tensor:
    """``(n_layer, n_head)``: each head's mean attention from a position to the token after the previous occurrence
    of its token (over the positions that have one). 1 = a perfect induction head; 1 / position for uniform attention.

    >>> ids = torch.tensor([[5, 6, 5]])                                     # at the second 5, the target is 6 (pos 1)
    >>> w = torch.zeros(1, 1, 3, 3); w[0, 0, 2, 1] = 1.0
    >>> induction_scores([w], ids)
    tensor([[1.]])
    """
    return _mean_attention_at(maps, induction_targets(ids))


def previous_token_scores(maps: list[torch.Tensor], ids: torch.Tensor) -> torch.Tensor:
    """``(n_layer, n_head)``: each head's mean attention from position ``i >= 1`` to position ``i - 1``."""
    b, t = ids.shape
    target = (torch.arange(t) - 1).expand(b, t)                              # position 0 has no previous: -1
    return _mean_attention_at(maps, target)
