"""utils.gpt_embedder's batched encoding and utils.minilm's cached sentence vectors (notebook 11)."""
import numpy as np
import pytest
import torch

from utils import gpt_embedder, minilm
from utils.gpt import GPT, GPTConfig


class _CharTokenizer:
    def encode(self, text):
        return [1 + (ord(c) % 30) for c in text]


def _embedder(pooling="mean"):
    torch.manual_seed(0)
    return gpt_embedder.GPTEmbedder(GPT(GPTConfig(vocab_size=32, block_size=24, n_layer=1, n_head=2, n_embd=8)),
                                    _CharTokenizer(), pooling=pooling)


TEXTS = ["a dog", "a large animal kept as a pet", "x", "the cat sat on the mat", "hi there"]


def test_encode_poolings_equals_one_encode_per_pooling():
    together = _embedder().encode_poolings(TEXTS, batch_size=2)             # batches mix lengths: padding matters
    for how in ("cls", "mean", "last"):
        alone = _embedder(how).encode(TEXTS, batch_size=2)
        assert alone.shape == (len(TEXTS), 8)
        np.testing.assert_array_equal(together[how], alone)
        np.testing.assert_allclose(np.linalg.norm(alone, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(together["cls"], together["mean"])


def test_encode_poolings_rejects_unknown_pooling():
    with pytest.raises(ValueError, match="poolings must be among"):
        _embedder().encode_poolings(TEXTS, ("max",))


def test_sentence_vectors_are_cached_by_text(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    first = minilm.sentence_vectors(["a dog", "a cat"])
    assert first.shape == (2, 384) and first.dtype == np.float32
    assert len(list(tmp_path.glob("minilm_sentences_*.npy"))) == 1
    np.testing.assert_array_equal(minilm.sentence_vectors(["a dog", "a cat"]), first)    # read back from disk
    other = minilm.sentence_vectors(["a cat", "a dog"])                                 # other texts, other file
    assert len(list(tmp_path.glob("minilm_sentences_*.npy"))) == 2
    np.testing.assert_allclose(other, first[::-1], atol=1e-5)
