"""A tiny GPT (notebook 09): the course's embeddings, positions and attention assembled into a decoder-only transformer.

The architecture is GPT-2's, exactly, so :meth:`GPT.from_gpt2` can copy the weights of any ``transformers``
``GPT2LMHeadModel`` and give the same logits:

    ids (B, T) -> token embedding wte (04) + position embedding wpe (06)       x: (B, T, d)
               -> n_layer blocks:  x = x + attn(ln_1(x))   causal multi-head self-attention (08)
                                   x = x + mlp(ln_2(x))    Linear(d, 4d) -> GELU -> Linear(4d, d)
               -> ln_f -> x @ wte.T                                         logits: (B, T, vocab)

The output head is *tied* to the token embedding: one (vocab, d) matrix turns ids into vectors at the bottom and
vectors into scores at the top (``tie_head=False``: a matrix of its own). ``positions="rope"`` rotates queries and
keys instead of adding ``wpe`` (utils.positional.apply_rope); ``positions="none"`` leaves only the causal mask.

:func:`generate` samples new tokens (greedy, temperature, top-k, top-p) with or without a **KV cache**: each layer
keeps the keys and values of the tokens already seen, so one new token costs one row of work instead of the whole
prefix again. Both paths give the same tokens.

    >>> torch.manual_seed(0) and None
    >>> model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32))
    >>> model(torch.tensor([[1, 2, 3]])).shape
    torch.Size([1, 3, 50])
    >>> generate(model, [1, 2, 3], 5, temperature=0) == generate(model, [1, 2, 3], 5, temperature=0, use_cache=False)
    True
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from utils.attention import causal_attention, merge_heads, split_heads
from utils.positional import apply_rope

__all__ = ["GPTConfig", "POSITIONS", "GPT", "generate", "kv_cache_bytes", "filter_logits", "nearest_by_cosine",
           "cached_positions"]

#: A layer's cache: (keys, values), each (B, n_head, T_so_far, head_dim).
KV = tuple[torch.Tensor, torch.Tensor]


#: the position schemes :class:`GPTConfig` accepts (the command line of utils.train_gpt offers the same)
POSITIONS = ("learned", "rope", "none")


@dataclass
class GPTConfig:
    """Hyper-parameters of :class:`GPT` (GPT-2 small is vocab 50257, block 1024, 12 layers, 12 heads, d = 768).

    The one place the tiny GPT's settings and their defaults are written. The defaults are notebook 09's model, the
    one ``data/tiny_gpt/model.pt`` holds; ``python -m utils.train_gpt`` builds its model options from these fields,
    so the command trains that model unless told otherwise.

    >>> GPTConfig().n_layer, GPTConfig().n_embd
    (4, 96)
    """

    vocab_size: int = 512
    block_size: int = 64          # context length: the most positions the model ever sees
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 96
    dropout: float = 0.0
    positions: str = "learned"    # one of POSITIONS: "learned" (GPT-2's wpe table), "rope" (rotary) or "none"
    tie_head: bool = True         # the output head reuses wte (GPT-2); False: a separate (vocab, d) matrix
    layer_norm_eps: float = 1e-5
    fast_attention: bool = True   # torch's fused attention; False = the course's utils.attention (same numbers)

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_head ({self.n_head}) must divide n_embd ({self.n_embd})")
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {', '.join(POSITIONS)}, got {self.positions!r}")
        if self.positions == "rope" and (self.n_embd // self.n_head) % 2:
            raise ValueError("rope needs an even head size (n_embd / n_head)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class CausalSelfAttention(nn.Module):
    """GPT-2's attention: one Linear makes q, k, v; heads attend causally; one Linear mixes the heads back."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)   # x -> [q | k | v]
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, past: KV | None = None) -> tuple[torch.Tensor, KV]:
        """``x (B, T, d)`` -> ``(y (B, T, d), (k, v))``; with ``past`` the new keys/values go after the cached ones."""
        q, k, v = self.c_attn(x).split(self.cfg.n_embd, dim=2)               # 3 x (B, T, d)
        q, k, v = (split_heads(t, self.cfg.n_head) for t in (q, k, v))       # 3 x (B, nh, T, hs)
        start = 0 if past is None else past[0].shape[2]                      # how many positions came before
        if self.cfg.positions == "rope":
            pos = torch.arange(start, start + x.shape[1], device=x.device)
            q, k = apply_rope(q, pos), apply_rope(k, pos)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)                               # (B, nh, start + T, hs): the TIME axis
            v = torch.cat([past[1], v], dim=2)
        y = causal_attention(q, k, v, self.cfg.fast_attention,
                             self.cfg.dropout if self.training else 0.0)     # (B, nh, T, hs)
        y = self.dropout(self.c_proj(merge_heads(y)))                        # (B, T, d)
        return y, (k, v)


class MLP(nn.Module):
    """The feed-forward block: widen to 4d, GELU (GPT-2's tanh approximation), project back to d."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))  # (B, T, d)


class Block(nn.Module):
    """A pre-norm residual block: normalise, transform, ADD back to the stream (twice)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, past: KV | None = None) -> tuple[torch.Tensor, KV]:
        a, kv = self.attn(self.ln_1(x), past)
        x = x + a                                                            # (B, T, d)
        x = x + self.mlp(self.ln_2(x))
        return x, kv


def cached_positions(ids, past: list[KV] | None, block_size: int) -> int:
    """How many positions a model's cache ``past`` holds before ``ids (B, T)``; checks both fit the context.

    >>> cached_positions(torch.tensor([[5]]), [(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4))], block_size=8)
    3
    """
    if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32) or ids.ndim != 2:
        raise TypeError("ids must be an integer tensor of shape (batch, seq)")
    start = 0 if past is None else past[0][0].shape[2]                  # keys: (B, heads, start, head_dim)
    if start + ids.shape[1] > block_size:
        raise ValueError(f"{start + ids.shape[1]} positions exceed the context length block_size={block_size}")
    return start


class GPT(nn.Module):
    """Decoder-only transformer with GPT-2's layout (names match ``transformers`` so weights copy one to one)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        if not isinstance(cfg, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)                  # token embeddings (04), tied head
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd) if cfg.positions == "learned" else None
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps)
        self.lm_head = None if cfg.tie_head else nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.apply(self._init)
        for name, p in self.named_parameters():                              # GPT-2: scale residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def num_params(self, embeddings: bool = True) -> int:
        """Parameter count (a tied head is counted once); ``embeddings=False`` leaves out wte and wpe."""
        n = sum(p.numel() for p in self.parameters())
        if not embeddings:
            n -= self.wte.weight.numel() + (self.wpe.weight.numel() if self.wpe is not None else 0)
        return n

    def forward(self, ids: torch.Tensor, past: list[KV] | None = None, return_cache: bool = False):
        """``ids (B, T)`` -> logits ``(B, T, vocab)``; with ``return_cache`` also the per-layer (k, v) list.

        ``past`` (from an earlier call) holds the keys/values of the positions before ``ids``.
        """
        start = cached_positions(ids, past, self.cfg.block_size)
        t = ids.shape[1]
        x = self.wte(ids)                                                    # (B, T, d)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(start, start + t, device=ids.device))  # (T, d) broadcasts over B
        x = self.drop(x)
        cache = []
        for i, block in enumerate(self.h):
            x, kv = block(x, None if past is None else past[i])
            cache.append(kv)
        logits = self.ln_f(x) @ (self.wte if self.lm_head is None else self.lm_head).weight.T  # (B, T, vocab)
        return (logits, cache) if return_cache else logits

    @classmethod
    def from_gpt2(cls, hf_model, fast_attention: bool = True) -> "GPT":
        """Copy a ``transformers`` ``GPT2LMHeadModel`` (any size) into a :class:`GPT` that gives the same logits.

        GPT-2 stores its Linear layers as ``Conv1D`` with the weight transposed ``(in, out)``; we transpose back.

        >>> from transformers import GPT2Config, GPT2LMHeadModel
        >>> hf = GPT2LMHeadModel(GPT2Config(vocab_size=40, n_positions=8, n_embd=16, n_layer=1, n_head=2,
        ...                                 bos_token_id=0, eos_token_id=0)).eval()
        >>> ids = torch.tensor([[3, 1, 4, 1]])
        >>> bool((GPT.from_gpt2(hf)(ids) - hf(ids).logits).abs().max() < 1e-5)
        True
        """
        c = getattr(hf_model, "config", None)
        if c is None or getattr(c, "model_type", None) != "gpt2":
            raise TypeError(f"from_gpt2 needs a transformers GPT2LMHeadModel, got {type(hf_model).__name__}")
        if c.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"only GPT-2's tanh GELU is supported, got activation {c.activation_function!r}")
        if getattr(c, "scale_attn_by_inverse_layer_idx", False) or not getattr(c, "scale_attn_weights", True):
            raise ValueError("only GPT-2's standard 1/sqrt(head_dim) attention scaling is supported")
        cfg = GPTConfig(vocab_size=c.vocab_size, block_size=c.n_positions, n_layer=c.n_layer, n_head=c.n_head,
                        n_embd=c.n_embd, layer_norm_eps=c.layer_norm_epsilon, fast_attention=fast_attention)
        model = cls(cfg)
        src = hf_model.transformer.state_dict()
        dst = model.state_dict()
        with torch.no_grad():
            for name, tensor in dst.items():
                w = src[name]
                if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):
                    w = w.T                                                  # Conv1D (in, out) -> Linear (out, in)
                if w.shape != tensor.shape:
                    raise ValueError(f"{name}: shape {tuple(w.shape)} does not fit {tuple(tensor.shape)}")
                tensor.copy_(w)
        return model.eval()


# ------------------------------------------------------------------------------------------------------ generation
def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """Scale ``logits (..., vocab)`` by 1/temperature, then keep the top-k and/or the top-p nucleus (others -inf).

    Temperature comes first: it changes the probabilities, so it changes which tokens make up the top-p mass.

    >>> filter_logits(torch.tensor([1.0, 3.0, 2.0]), top_k=2)
    tensor([-inf, 3., 2.])
    """
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]            # (..., 1): the k-th largest score
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = probs.cumsum(dim=-1) - probs                                # mass of the tokens ranked above
        drop_sorted = before >= top_p                                        # the top token is always kept
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def _check_generate_args(model, ids, max_new_tokens, temperature, top_k, top_p) -> torch.Tensor:
    if not isinstance(model, nn.Module) or not hasattr(getattr(model, "cfg", None), "block_size"):
        raise TypeError(f"model must be a GPT (or utils.llama.ModernGPT), got {type(model).__name__}")
    if isinstance(ids, torch.Tensor):
        if ids.is_floating_point():
            raise TypeError("prompt ids must be integers, got a floating-point tensor")
        ids = ids.long()
    else:
        try:
            ids = torch.tensor(list(ids), dtype=torch.long)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError("prompt ids must be a list of ints or an integer tensor") from None
    if ids.ndim == 1:
        ids = ids[None]                                                      # (1, T)
    if ids.ndim != 2:
        raise ValueError(f"prompt ids must have shape (seq,) or (batch, seq), got {tuple(ids.shape)}")
    if ids.shape[1] == 0:
        raise ValueError("the prompt is empty: give at least one token id")
    v, ctx = model.cfg.vocab_size, model.cfg.block_size
    if ids.min() < 0 or ids.max() >= v:
        bad = ids[(ids < 0) | (ids >= v)][0].item()
        raise ValueError(f"unknown token id {bad}: ids must be in [0, {v})")
    if ids.shape[1] > ctx:
        raise ValueError(f"the prompt has {ids.shape[1]} tokens, longer than the context block_size={ctx}")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be a non-negative int, got {max_new_tokens!r}")
    if ids.shape[1] + max_new_tokens > ctx:
        raise ValueError(f"prompt ({ids.shape[1]}) + max_new_tokens ({max_new_tokens}) exceed the context "
                         f"block_size={ctx}")
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0 (0 = greedy), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0):
        raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
    if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p!r}")
    return ids.to(next(model.parameters()).device)


@torch.no_grad()
def generate(model: nn.Module, ids, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, use_cache: bool = True, generator: torch.Generator | None = None):
    """Append ``max_new_tokens`` tokens to the prompt ``ids`` (a list -> a list; a (B, T) tensor -> a tensor).

    ``temperature=0`` is greedy (argmax). Otherwise logits / temperature, then top-k, then top-p, then one draw from
    the softmax with ``generator``. ``use_cache=True`` feeds only the newest token after the prompt and reuses every
    layer's keys and values; ``use_cache=False`` re-runs the whole sequence each step. Same tokens either way.
    ``model`` is a :class:`GPT` or any model with the same call, ``model(ids, past=, return_cache=)``, and a ``cfg``
    with ``vocab_size`` and ``block_size`` (utils.llama.ModernGPT).

    >>> torch.manual_seed(0) and None
    >>> m = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    >>> len(generate(m, [1, 2], 3, generator=torch.Generator().manual_seed(0)))
    5
    """
    as_list = not isinstance(ids, torch.Tensor)
    ids = _check_generate_args(model, ids, max_new_tokens, temperature, top_k, top_p)   # (B, T)
    was_training = model.training
    model.eval()
    cache = None
    for _ in range(max_new_tokens):
        if use_cache:
            step_in = ids if cache is None else ids[:, -1:]                 # prompt once, then one token
            logits, cache = model(step_in, past=cache, return_cache=True)
        else:
            logits = model(ids)                                              # the whole sequence every step
        last = logits[:, -1, :].float()                                      # (B, vocab)
        if temperature == 0:
            nxt = last.argmax(dim=-1, keepdim=True)                          # (B, 1)
        else:
            probs = torch.softmax(filter_logits(last, temperature, top_k, top_p), dim=-1)
            nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(ids.device)   # (B, 1)
        ids = torch.cat([ids, nxt], dim=1)                                   # (B, T + 1)
    model.train(was_training)
    return ids[0].tolist() if as_list else ids


def kv_cache_bytes(n_layer: int, n_head: int, head_dim: int, tokens: int, bytes_per_value: int = 2,
                   batch: int = 1, n_kv_head: int | None = None) -> int:
    """Memory of a KV cache: 2 (keys and values) x layers x KV heads x head_dim x tokens x bytes (x batch).

    With grouped-query attention (utils.llama) only ``n_kv_head`` heads of keys and values are stored, shared by
    the ``n_head`` query heads; ``n_kv_head=None`` means one per query head (GPT-2, Llama-2-7B).

    >>> kv_cache_bytes(12, 12, 64, 1024) / 2**20      # GPT-2 small, a full 1,024-token context in fp16: MiB
    36.0
    >>> kv_cache_bytes(32, 32, 128, 1), kv_cache_bytes(32, 32, 128, 1, n_kv_head=8)  # Llama-2-7B, -3-8B: per token
    (524288, 131072)
    """
    n_kv = n_head if n_kv_head is None else n_kv_head
    for value, name in ((n_layer, "n_layer"), (n_head, "n_head"), (n_kv, "n_kv_head"), (head_dim, "head_dim")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if n_head % n_kv:
        raise ValueError(f"n_kv_head ({n_kv}) must divide n_head ({n_head}): each KV head serves a group of queries")
    return 2 * n_layer * n_kv * head_dim * tokens * bytes_per_value * batch


# ------------------------------------------------------------------------------------------------------ embeddings
def nearest_by_cosine(E, i: int, k: int = 5, exclude=()) -> tuple[list[int], list[float]]:
    """The ``k`` rows of ``E (n, d)`` with the highest cosine to row ``i``, best first, computed in float64.

    Row ``i`` and the rows in ``exclude`` are left out; ties go to the smaller row id. ``E`` may be a torch tensor or
    a numpy array of any float type. float64's rounding (~1e-16) is far below the gaps between neighbours' cosines,
    so the ranking does not depend on which CPU kernel did the sums, as it could in float32 (~1e-7) for a close pair.
    Returns (row ids, cosines rounded to 4 decimals). Notebook 09 compares the GPT's token table with SGNS's (05).

    >>> nearest_by_cosine(torch.tensor([[1., 0.], [0., 1.], [2., 0.1], [1., 1.]]), 0, k=2)
    ([2, 3], [0.9988, 0.7071])
    """
    E = torch.as_tensor(E).detach().cpu().to(torch.float64)
    if E.ndim != 2:
        raise ValueError(f"E must be a 2-D matrix (one row per token or word), got shape {tuple(E.shape)}")
    n = E.shape[0]
    if not isinstance(i, numbers.Integral) or isinstance(i, bool) or not 0 <= i < n:
        raise ValueError(f"i must be a row index between 0 and {n - 1}, got {i!r}")
    i = int(i)
    exclude = {int(j) for j in exclude} | {i}
    if not all(0 <= j < n for j in exclude):
        raise ValueError(f"exclude holds row ids outside 0..{n - 1}: {sorted(j for j in exclude if not 0 <= j < n)}")
    if not isinstance(k, int) or not 1 <= k <= n - len(exclude):
        raise ValueError(f"k must be an integer between 1 and {n - len(exclude)} (rows left after excluding), got {k!r}")
    norms = E.norm(dim=1)                                                    # (n,)
    if float(norms[i]) == 0:
        raise ValueError(f"row {i} is all zeros: it has no direction, so cosine is undefined")
    scores = (E @ E[i]) / (norms.clamp_min(1e-300) * norms[i])                # (n,) float64 cosines
    scores[sorted(exclude)] = -math.inf
    order = torch.argsort(-scores, stable=True)[:k]                          # stable: ties -> smaller id first
    return order.tolist(), [round(float(scores[j]), 4) for j in order]
