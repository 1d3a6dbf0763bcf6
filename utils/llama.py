"""From GPT-2 to today's LLMs: the modern decoder block (Llama, Mistral, Qwen...) built from the course's pieces.

Four changes to notebook 09's GPT-2 block, each a small module here, and nothing else:

    ids (B, T) -> embed_tokens (no position table: positions enter as rotations)   x: (B, T, d)
               -> n_layer blocks:  x = x + attn(rmsnorm(x))   queries and keys rotated by RoPE (06); only n_kv_head
                                                              key/value heads, each shared by n_head / n_kv_head queries
                                   x = x + swiglu(rmsnorm(x)) down(silu(gate(x)) * up(x))
               -> rmsnorm -> lm_head (tied to embed_tokens or its own matrix)   logits: (B, T, vocab)

- :class:`RMSNorm` rescales by the root mean square only (no mean subtracted, no bias): one reduction, not two;
- :class:`SwiGLU` replaces GELU(Linear) with a gated unit: a second projection decides, per feature, how much of the
  first passes;
- RoPE (utils.positional: ``apply_rope``'s rotation) inside attention, so a score depends on the distance between
  two tokens;
- grouped-query attention (:func:`repeat_kv`): fewer key/value heads than query heads, so the KV cache is smaller by
  ``n_head / n_kv_head`` (:func:`kv_bytes_per_token`);
- no biases anywhere.

Names match ``transformers``' ``LlamaForCausalLM`` so :meth:`ModernGPT.from_llama` copies its weights and gives the
same logits; :func:`utils.gpt.generate` runs it with or without the KV cache.

    >>> torch.manual_seed(0) and None
    >>> model = ModernGPT(ModernConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_kv_head=2, n_embd=32))
    >>> model(torch.tensor([[1, 2, 3]])).shape
    torch.Size([1, 3, 50])
    >>> generate(model, [1, 2, 3], 5, temperature=0) == generate(model, [1, 2, 3], 5, temperature=0, use_cache=False)
    True
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from utils.attention import causal_attention, merge_heads, split_heads
from utils.gpt import GPT, KV, cached_positions, generate, kv_cache_bytes
from utils.positional import rope_cos_sin, rotate_pairs

__all__ = ["ModernConfig", "RMSNorm", "SwiGLU", "repeat_kv", "GroupedQueryAttention", "ModernBlock", "ModernGPT",
           "kv_bytes_per_token", "PUBLISHED_SHAPES"]

#: Published attention shapes (layers, query heads, key/value heads, head_dim), to size their KV caches.
PUBLISHED_SHAPES = {
    "GPT-2 small": dict(n_layer=12, n_head=12, n_kv_head=12, head_dim=64),
    "Llama-2-7B": dict(n_layer=32, n_head=32, n_kv_head=32, head_dim=128),     # multi-head: one KV head per query
    "Llama-3-8B": dict(n_layer=32, n_head=32, n_kv_head=8, head_dim=128),      # grouped-query: 4 queries per KV head
}


@dataclass
class ModernConfig:
    """Hyper-parameters of :class:`ModernGPT` (Llama-3-8B: vocab 128256, 32 layers, 32 heads, 8 KV heads, d 4096,
    intermediate 14336, rope_base 500000). ``intermediate_size=None`` takes about 8/3 x n_embd (rounded up to a
    multiple of 8): SwiGLU's three matrices then hold about as many weights as GPT-2's two 4d-wide ones."""

    vocab_size: int = 512
    block_size: int = 64           # context length: the most positions the model ever sees
    n_layer: int = 2
    n_head: int = 4                # query heads
    n_kv_head: int = 2             # key/value heads; n_head = multi-head attention, 1 = multi-query attention
    n_embd: int = 64
    intermediate_size: int | None = None
    rope_base: float = 10000.0
    rms_eps: float = 1e-6
    bias: bool = False             # Llama has none; True puts one in every Linear (as transformers' attention_bias)
    tie_embeddings: bool = False   # True: lm_head IS embed_tokens (GPT-2, Llama-3.2-1B); False: its own matrix
    fast_attention: bool = True    # torch's fused attention; False = the course's utils.attention (same numbers)

    def __post_init__(self):
        if self.intermediate_size is None:
            self.intermediate_size = 8 * math.ceil(8 * self.n_embd / 3 / 8)
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_kv_head", "n_embd", "intermediate_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModernConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_head ({self.n_head}) must divide n_embd ({self.n_embd})")
        if self.n_head % self.n_kv_head:
            raise ValueError(f"n_kv_head ({self.n_kv_head}) must divide n_head ({self.n_head}): every key/value head "
                             f"serves the same number of query heads")
        if self.head_dim % 2:
            raise ValueError(f"RoPE needs an even head size (n_embd / n_head), got {self.head_dim}")
        if isinstance(self.rope_base, bool) or not isinstance(self.rope_base, (int, float)) or not self.rope_base > 1:
            raise ValueError(f"rope_base must be a number greater than 1, got {self.rope_base!r}")
        if isinstance(self.rms_eps, bool) or not isinstance(self.rms_eps, (int, float)) or not self.rms_eps > 0:
            raise ValueError(f"rms_eps must be a positive number, got {self.rms_eps!r}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * weight``: LayerNorm without subtracting the mean and without a bias.

    Computed in float32 (as transformers does) and returned in x's dtype.

    >>> RMSNorm(2)(torch.tensor([3.0, 4.0]))        # RMS = sqrt((9 + 16) / 2): the mean (3.5) stays in
    tensor([0.8485, 1.1314], grad_fn=<MulBackward0>)
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))                          # a gain per feature, no bias
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        inv_rms = torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # (..., 1)
        return self.weight * (x32 * inv_rms).to(x.dtype)                      # (..., d)


class SwiGLU(nn.Module):
    """The gated feed-forward block: ``down(silu(gate(x)) * up(x))``, d -> hidden -> d.

    ``gate`` goes through SiLU (x * sigmoid(x)) and multiplies ``up`` feature by feature; ``up`` stays linear.

    >>> torch.manual_seed(0) and None
    >>> SwiGLU(8, 16)(torch.randn(2, 3, 8)).shape
    torch.Size([2, 3, 8])
    """

    def __init__(self, dim: int, hidden: int, bias: bool = False):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=bias)
        self.up_proj = nn.Linear(dim, hidden, bias=bias)
        self.down_proj = nn.Linear(hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))  # (B, T, hidden) -> (B, T, d)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """``(B, n_kv, T, hs) -> (B, n_kv * n_rep, T, hs)``: each key/value head repeated for its group of query heads.

    Head ``j`` serves query heads ``j * n_rep ... j * n_rep + n_rep - 1`` (consecutive, as ``repeat_interleave``):
    the order transformers' Llama uses, so the query heads of a copied model meet the keys they were trained with.

    >>> repeat_kv(torch.tensor([10.0, 20.0]).view(1, 2, 1, 1), 2).flatten()
    tensor([10., 10., 20., 20.])
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a (batch, kv_heads, seq, head_dim) tensor, got {getattr(x, 'shape', type(x))}")
    if isinstance(n_rep, bool) or not isinstance(n_rep, int) or n_rep < 1:
        raise ValueError(f"n_rep must be a positive int, got {n_rep!r}")
    if n_rep == 1:
        return x
    b, n_kv, t, hs = x.shape
    return x[:, :, None].expand(b, n_kv, n_rep, t, hs).reshape(b, n_kv * n_rep, t, hs)  # (B, nh, T, hs)


class GroupedQueryAttention(nn.Module):
    """Causal self-attention with RoPE on queries and keys and ``n_kv_head`` key/value heads shared by the queries."""

    def __init__(self, cfg: ModernConfig):
        super().__init__()
        self.cfg = cfg
        hs = cfg.head_dim
        self.q_proj = nn.Linear(cfg.n_embd, cfg.n_head * hs, bias=cfg.bias)
        self.k_proj = nn.Linear(cfg.n_embd, cfg.n_kv_head * hs, bias=cfg.bias)  # smaller than q_proj with GQA
        self.v_proj = nn.Linear(cfg.n_embd, cfg.n_kv_head * hs, bias=cfg.bias)
        self.o_proj = nn.Linear(cfg.n_head * hs, cfg.n_embd, bias=cfg.bias)

    def forward(self, x: torch.Tensor, past: KV | None = None, rope=None) -> tuple[torch.Tensor, KV]:
        """``x (B, T, d)`` -> ``(y (B, T, d), (k, v))``; the cache keeps the ``n_kv_head`` heads, not their copies.

        ``rope``: the ``(cos, sin)`` of x's positions (:func:`_rope_for`); the model computes them once for all layers.
        """
        c = self.cfg
        q = split_heads(self.q_proj(x), c.n_head)                            # (B, nh, T, hs)
        k = split_heads(self.k_proj(x), c.n_kv_head)                         # (B, nkv, T, hs)
        v = split_heads(self.v_proj(x), c.n_kv_head)                         # (B, nkv, T, hs)
        cos, sin = _rope_for(c, x, past) if rope is None else rope           # (T, hs/2) each
        q, k = rotate_pairs(q, cos, sin), rotate_pairs(k, cos, sin)          # apply_rope's rotation, before caching
        if past is not None:
            k = torch.cat([past[0], k], dim=2)                               # (B, nkv, start + T, hs)
            v = torch.cat([past[1], v], dim=2)
        n_rep = c.n_head // c.n_kv_head
        y = causal_attention(q, repeat_kv(k, n_rep), repeat_kv(v, n_rep), c.fast_attention)  # (B, nh, T, hs)
        return self.o_proj(merge_heads(y)), (k, v)                           # (B, T, d)


class ModernBlock(nn.Module):
    """Pre-norm residual block, as GPT-2's, with RMSNorm, grouped-query RoPE attention and SwiGLU."""

    def __init__(self, cfg: ModernConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.n_embd, cfg.rms_eps)
        self.self_attn = GroupedQueryAttention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.n_embd, cfg.rms_eps)
        self.mlp = SwiGLU(cfg.n_embd, cfg.intermediate_size, cfg.bias)

    def forward(self, x: torch.Tensor, past: KV | None = None, rope=None) -> tuple[torch.Tensor, KV]:
        a, kv = self.self_attn(self.input_layernorm(x), past, rope)
        x = x + a                                                            # (B, T, d)
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, kv


def _rope_for(cfg: ModernConfig, x: torch.Tensor, past: KV | None):
    """``(cos, sin)``, each ``(T, head_dim / 2)``, for the T positions of ``x (B, T, d)`` that follow the cache."""
    start = 0 if past is None else past[0].shape[2]
    pos = torch.arange(start, start + x.shape[1], device=x.device)           # (T,) absolute positions
    return rope_cos_sin(pos, cfg.head_dim, cfg.rope_base, device=x.device, dtype=x.dtype)


def _pairs_from_halves(w: torch.Tensor, head_dim: int) -> torch.Tensor:
    """Reorder each head's rows of a query/key projection from rotate-half layout to interleaved pairs.

    transformers' Llama rotates feature ``i`` with feature ``i + head_dim/2`` (it splits each head into two halves);
    ``apply_rope`` rotates ``2i`` with ``2i + 1``. Both use frequency ``i`` for the pair. Putting row ``i`` at ``2i``
    and row ``i + head_dim/2`` at ``2i + 1`` makes our query ``P q_hf``: rotated, it is ``P (rotated q_hf)``, and since
    queries and keys get the same permutation P, every score ``q . k`` is unchanged. Values are not rotated: no change.
    """
    order = torch.arange(head_dim).view(2, head_dim // 2).t().reshape(-1)   # [0, hd/2, 1, hd/2 + 1, ...]
    return w.reshape(-1, head_dim, *w.shape[1:])[:, order].reshape(w.shape)  # (heads * hd, d) or (heads * hd,)


class ModernGPT(nn.Module):
    """A Llama-style decoder (names as transformers' ``LlamaForCausalLM`` without its ``model.`` prefix).

    Called as :class:`utils.gpt.GPT`: ``model(ids, past=None, return_cache=False)``, so ``generate`` runs both.
    """

    def __init__(self, cfg: ModernConfig):
        super().__init__()
        if not isinstance(cfg, ModernConfig):
            raise TypeError(f"ModernGPT needs a ModernConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.layers = nn.ModuleList(ModernBlock(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.n_embd, cfg.rms_eps)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.apply(GPT._init)                                                # N(0, 0.02) weights, zero biases
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight                   # one (vocab, d) matrix, both ends

    def num_params(self) -> int:
        """Parameter count (a tied head is counted once)."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, ids: torch.Tensor, past: list[KV] | None = None, return_cache: bool = False):
        """``ids (B, T)`` -> logits ``(B, T, vocab)``; with ``return_cache`` also the per-layer (k, v) list."""
        cached_positions(ids, past, self.cfg.block_size)                    # checks ids and the context length
        x = self.embed_tokens(ids)                                           # (B, T, d): no position table
        rope = _rope_for(self.cfg, x, None if past is None else past[0])    # the same rotations in every layer
        cache = []
        for i, block in enumerate(self.layers):
            x, kv = block(x, None if past is None else past[i], rope)
            cache.append(kv)
        logits = self.lm_head(self.norm(x))                                  # (B, T, vocab)
        return (logits, cache) if return_cache else logits

    @classmethod
    def from_llama(cls, hf_model, fast_attention: bool = True) -> "ModernGPT":
        """Copy a ``transformers`` ``LlamaForCausalLM`` into a :class:`ModernGPT` that gives the same logits.

        The query and key rows of each head are reordered for ``apply_rope``'s pair layout (see the comment in
        ``_pairs_from_halves``); every other weight is copied as it is.

        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> hf = LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        ...                                   num_attention_heads=4, num_key_value_heads=2,
        ...                                   max_position_embeddings=8)).eval()
        >>> ids = torch.tensor([[3, 1, 4, 1]])
        >>> bool((ModernGPT.from_llama(hf)(ids) - hf(ids).logits).abs().max() < 1e-5)
        True
        """
        c = getattr(hf_model, "config", None)
        if c is None or getattr(c, "model_type", None) != "llama" or not hasattr(hf_model, "lm_head"):
            raise TypeError(f"from_llama needs a transformers LlamaForCausalLM, got {type(hf_model).__name__}")
        rope = getattr(c, "rope_parameters", None) or {}
        if c.hidden_act != "silu":
            raise ValueError(f"only SwiGLU's SiLU gate is supported, got hidden_act {c.hidden_act!r}")
        if rope.get("rope_type", "default") != "default":
            raise ValueError(f"only plain RoPE is supported, got rope_type {rope['rope_type']!r} (scaled RoPE)")
        if c.head_dim * c.num_attention_heads != c.hidden_size:
            raise ValueError(f"head_dim ({c.head_dim}) x heads ({c.num_attention_heads}) must equal hidden_size "
                             f"({c.hidden_size})")
        if bool(c.attention_bias) != bool(c.mlp_bias):
            raise ValueError("attention_bias and mlp_bias must be equal (ModernConfig has one bias switch)")
        cfg = ModernConfig(vocab_size=c.vocab_size, block_size=c.max_position_embeddings, n_layer=c.num_hidden_layers,
                           n_head=c.num_attention_heads, n_kv_head=c.num_key_value_heads, n_embd=c.hidden_size,
                           intermediate_size=c.intermediate_size, rope_base=float(rope.get("rope_theta", 10000.0)),
                           rms_eps=c.rms_norm_eps, bias=bool(c.attention_bias),
                           tie_embeddings=bool(c.tie_word_embeddings), fast_attention=fast_attention)
        model = cls(cfg)
        src = hf_model.state_dict()
        with torch.no_grad():
            for name, tensor in model.state_dict().items():
                key = name if name == "lm_head.weight" else "model." + name
                w = src.get(key, src["model.embed_tokens.weight"] if key == "lm_head.weight" else None)
                if w is None:
                    raise ValueError(f"the transformers model has no weight {key}")
                if name.endswith(("q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias")):
                    w = _pairs_from_halves(w, cfg.head_dim)
                if w.shape != tensor.shape:
                    raise ValueError(f"{name}: shape {tuple(w.shape)} does not fit {tuple(tensor.shape)}")
                tensor.copy_(w)
        return model.eval()


def kv_bytes_per_token(cfg, bytes_per_value: int = 2) -> int:
    """KV-cache bytes one token costs a model, from its config (:class:`ModernConfig`, ``GPTConfig``) or a dict of
    ``PUBLISHED_SHAPES``: 2 x layers x KV heads x head_dim x bytes (utils.gpt.kv_cache_bytes with ``tokens=1``).

    >>> {name: kv_bytes_per_token(shape) // 1024 for name, shape in PUBLISHED_SHAPES.items()}   # fp16: KiB per token
    {'GPT-2 small': 36, 'Llama-2-7B': 512, 'Llama-3-8B': 128}
    >>> kv_bytes_per_token(ModernConfig(n_layer=2, n_head=4, n_kv_head=2, n_embd=64), bytes_per_value=4)
    512
    """
    get = cfg.get if isinstance(cfg, dict) else (lambda name, default=None: getattr(cfg, name, default))
    n_head = get("n_head")
    head_dim = get("head_dim") or (get("n_embd") // n_head if n_head else None)
    if n_head is None or head_dim is None or get("n_layer") is None:
        raise ValueError(f"cfg must give n_layer, n_head and head_dim (or n_embd), got {type(cfg).__name__}")
    return kv_cache_bytes(get("n_layer"), n_head, head_dim, 1, bytes_per_value, n_kv_head=get("n_kv_head"))
