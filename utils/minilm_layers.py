"""MiniLM's encoder rebuilt from the course's own attention (notebook 08).

MiniLM (all-MiniLM-L6-v2) is a BERT-style encoder: an embedding layer and 6 identical layers of 384 numbers per token,
12 heads of 32. Each layer is a post-norm transformer block:

    h   = LayerNorm(x + Attention(x))             # "attention.output" in BERT's names
    out = LayerNorm(h + W2 · gelu(W1 · h))        # "intermediate" (384 -> 1536) and "output" (1536 -> 384)

- :func:`bert_model` - the ``transformers`` BertModel inside the shipped sentence model (eval mode, offline);
- :func:`encode` - token ids and token strings of a sentence;
- :func:`attention_from_layer` - a :class:`utils.attention.MultiHeadAttention` holding layer ``i``'s weights;
- :func:`encoder_layer` - a whole layer from the course's functions;
- :func:`hidden_states` - the 7 hidden states (embedding output + 6 layers) of the real model;
- :func:`contextual_token_vectors` - one word's vector at every layer;
- :func:`attention_maps` - every head's attention weights, recomputed with the course's attention.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from utils import minilm
from utils.attention import MultiHeadAttention

__all__ = ["N_LAYERS", "N_HEADS", "bert_model", "encode", "layer_weights", "attention_from_layer", "encoder_layer",
           "hidden_states", "contextual_token_vectors", "attention_maps"]

N_LAYERS, N_HEADS, LN_EPS = 6, 12, 1e-12


@functools.lru_cache(maxsize=1)
def bert_model():
    """MiniLM's BertModel (``SentenceTransformer[0].auto_model``), in eval mode, on the CPU, loaded once.

    >>> bert_model().config.hidden_size, bert_model().config.num_hidden_layers
    (384, 6)
    """
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()   # no "Loading weights" bar on stderr
    hf_logging.set_verbosity_error()
    return minilm.load_sentence_model()[0].auto_model.eval()


def encode(sentence: str) -> tuple[torch.Tensor, list[str]]:
    """Token ids ``(1, T)`` (with ``[CLS]`` and ``[SEP]``) and the token strings of one sentence.

    >>> ids, tokens = encode("The river bank")
    >>> tokens, ids.shape
    (['[CLS]', 'the', 'river', 'bank', '[SEP]'], torch.Size([1, 5]))
    """
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f"sentence must be a non-empty string, got {sentence!r}")
    enc = minilm.load_tokenizer().encode(sentence)
    return torch.tensor([enc.ids]), list(enc.tokens)


def _check_layer(index) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < N_LAYERS:
        raise ValueError(f"layer index must be an int in 0..{N_LAYERS - 1}, got {index!r}")
    return index


def layer_weights(index: int) -> dict[str, torch.Tensor]:
    """The stored tensors of encoder layer ``index``, with the ``encoder.layer.{index}.`` prefix removed.

    >>> w = layer_weights(0)
    >>> tuple(w["attention.self.query.weight"].shape), tuple(w["intermediate.dense.weight"].shape)
    ((384, 384), (1536, 384))
    """
    prefix = f"encoder.layer.{_check_layer(index)}."
    return {name[len(prefix):]: t for name, t in minilm.weights().items() if name.startswith(prefix)}


def attention_from_layer(index: int) -> MultiHeadAttention:
    """A course :class:`MultiHeadAttention` (384 dims, 12 heads, bidirectional) with layer ``index``'s weights.

    BERT's ``attention.self.{query,key,value}`` become ``query/key/value``; ``attention.output.dense`` becomes ``out``.

    >>> attention_from_layer(0).n_heads
    12
    """
    w = layer_weights(index)
    mha = MultiHeadAttention(dim=384, n_heads=N_HEADS, causal=False)
    names = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
             "out": "attention.output.dense"}
    with torch.no_grad():
        for ours, theirs in names.items():
            getattr(mha, ours).weight.copy_(w[f"{theirs}.weight"])
            getattr(mha, ours).bias.copy_(w[f"{theirs}.bias"])
    return mha.eval()


def encoder_layer(x: torch.Tensor, index: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """One MiniLM layer from the course's functions: ``(B, T, 384) -> (B, T, 384)``.

    Attention + residual + LayerNorm, then the feed-forward block (384 -> 1536, GELU, -> 384) + residual + LayerNorm.
    ``mask`` (boolean, True = may attend) broadcasts to ``(B, heads, T, T)``; for padding use ``(B, 1, 1, T)``.

    >>> x = hidden_states("The river bank")[0]
    >>> encoder_layer(x, 0).shape
    torch.Size([1, 5, 384])
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != 384:
        raise ValueError(f"x must be a (batch, seq, 384) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    w = layer_weights(index)
    attn = attention_from_layer(index).to(x.device)
    w = {k: t.to(x.device) for k, t in w.items()}
    with torch.no_grad():
        h = F.layer_norm(x + attn(x, mask=mask), (384,), w["attention.output.LayerNorm.weight"],
                         w["attention.output.LayerNorm.bias"], LN_EPS)                     # (B, T, 384)
        f = F.gelu(F.linear(h, w["intermediate.dense.weight"], w["intermediate.dense.bias"]))  # (B, T, 1536)
        f = F.linear(f, w["output.dense.weight"], w["output.dense.bias"])                    # (B, T, 384)
        return F.layer_norm(h + f, (384,), w["output.LayerNorm.weight"], w["output.LayerNorm.bias"], LN_EPS)


def hidden_states(sentence: str) -> tuple[torch.Tensor, ...]:
    """The real model's 7 hidden states for one sentence, each ``(1, T, 384)``: index 0 is the embedding layer's
    output (token + position + type vectors, layer-normed), index i the output of layer i.

    >>> len(hidden_states("The river bank"))
    7
    """
    return tuple(h.clone() for h in _hidden_states(sentence))


@functools.lru_cache(maxsize=256)
def _hidden_states(sentence: str) -> tuple[torch.Tensor, ...]:   # cached: checks ask for the same sentences often
    ids, _ = encode(sentence)
    with torch.no_grad():
        out = bert_model()(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
    return tuple(out.hidden_states)


def contextual_token_vectors(sentence: str, word: str) -> torch.Tensor:
    """The vector of ``word`` (its first occurrence, a single WordPiece token) at each layer: ``(7, 384)``.

    >>> contextual_token_vectors("I sat on the river bank.", "bank").shape
    torch.Size([7, 384])
    """
    _, tokens = encode(sentence)
    if word not in tokens:
        raise ValueError(f"{word!r} is not one token of {sentence!r} (tokens: {tokens})")
    where = tokens.index(word)
    return torch.stack([h[0, where] for h in hidden_states(sentence)])   # (7, 384)


def attention_maps(sentence: str) -> tuple[torch.Tensor, list[str]]:
    """Attention weights of every layer and head, ``(6, 12, T, T)``, recomputed with the course's attention from
    the model's hidden states (row = the token that looks, column = the token looked at; rows sum to 1).

    >>> maps, tokens = attention_maps("The river bank")
    >>> maps.shape, round(float(maps[0, 0, 0].sum()), 4)
    (torch.Size([6, 12, 5, 5]), 1.0)
    """
    states = hidden_states(sentence)
    maps = []
    with torch.no_grad():
        for i in range(N_LAYERS):
            _, weights = attention_from_layer(i)(states[i], return_weights=True)   # (1, 12, T, T)
            maps.append(weights[0])
    return torch.stack(maps), encode(sentence)[1]
