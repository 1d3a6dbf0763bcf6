"""utils/bpe.py: byte-level BPE. The fast trainer must learn exactly the reference trainer's merges (tie rule included),
encoding must reproduce the training segmentation, and decode(encode(s)) == s for every string, however hostile.

hypothesis is not installed in the course venv, so property tests use a seeded random-string generator instead.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import regex
from pydoc_data.topics import topics

from utils.bpe import (
    GPT2_PATTERN, GPT4_PATTERN, BPETokenizer, get_pair_counts, merge, most_frequent_pair, render_token,
    split_chunks, train_bpe, train_bpe_reference,
)

# ------------------------------------------------------------------------------------------------ corpora & helpers
#: a real English/Python text, offline: a fixed 12 kB slice of the Python docs shipped with the interpreter
PYDOC = "".join(topics[k] for k in sorted(topics))[20_000:32_000]

#: code points from many scripts: ASCII, Latin-1 and accents, combining marks, Greek, Hebrew, Arabic, CJK, emoji, ...
RANGES = [(0x20, 0x7E), (0x09, 0x0D), (0xA0, 0xFF), (0x300, 0x36F), (0x391, 0x3C9), (0x5D0, 0x5EA), (0x627, 0x64A),
          (0x4E00, 0x4E40), (0x3040, 0x309F), (0x1F600, 0x1F64F), (0x1F1E6, 0x1F1FF), (0x200B, 0x200F),
          (0xFFF0, 0xFFFF), (0x10FFF0, 0x10FFFF)]


def random_text(rng: random.Random, n: int) -> str:
    """A random string of n code points from RANGES (no surrogates: those are not text)."""
    return "".join(chr(rng.randint(*rng.choice(RANGES))) for _ in range(n))


def small_alphabet_text(rng: random.Random, n: int) -> str:
    """Few distinct characters -> many repeats, overlapping runs ("aaaa") and ties: the fast trainer's hard cases."""
    alphabet = rng.choice(["ab", "abc", "ab ", "a b\n", "xyz .'s", "aé😀 ", "0123 ab", "aaab"])
    return "".join(rng.choice(alphabet) for _ in range(n))


def random_bytes_text(rng: random.Random, n: int) -> str:
    """Random bytes read as Latin-1: every byte value 0..255 becomes a character (1 or 2 bytes in UTF-8)."""
    return bytes(rng.randrange(256) for _ in range(n)).decode("latin-1")


CORPORA = {
    "pydoc": PYDOC[:5000],
    "low": "low low low lower lowest",
    "wikipedia": "aaabdaaabac",
    "repeated-ab": "ab" * 300,
    "run-of-a": "a" * 257,
    "abc-runs": "abcabcabc abcab aaaa bbbb " * 20,
    "cat": "the cat sat on the mat. " * 40,
    "random-unicode": random_text(random.Random(1), 800),
    "random-bytes": random_bytes_text(random.Random(2), 1500),
    "small-alphabet": small_alphabet_text(random.Random(3), 3000),
    "emoji-zwj": "👩‍👩‍👧‍👦 🇫🇷🇯🇵 " * 30 + "e\u0301e\u0301 é é " * 20,
}


def replay(text: str, merges, pattern=None) -> list[list[int]]:
    """The segmentation of every chunk after applying ``merges`` in order with the plain merge()."""
    chunks = [list(c.encode("utf-8")) for c in split_chunks(text, pattern)]
    for pair, new_id in merges:
        chunks = [merge(ids, pair, new_id) for ids in chunks]
    return chunks


def assert_greedy_with_tie_rule(text: str, merges, pattern=None) -> None:
    """Independently of most_frequent_pair: each merge is a pair of highest count at its step, the SMALLEST such pair,
    and its new id is 256 + step."""
    chunks = [list(c.encode("utf-8")) for c in split_chunks(text, pattern)]
    for step, (pair, new_id) in enumerate(merges):
        assert new_id == 256 + step, f"merge {step} got id {new_id}"
        counts: dict = {}
        for ids in chunks:
            for p in zip(ids, ids[1:]):
                counts[p] = counts.get(p, 0) + 1
        best = max(counts.values())
        assert counts.get(pair) == best, f"step {step}: {pair} occurs {counts.get(pair)} times, the best {best}"
        assert pair == sorted(p for p, c in counts.items() if c == best)[0], f"step {step}: tie not to smallest"
        chunks = [merge(ids, pair, new_id) for ids in chunks]


# --------------------------------------------------------------------------------- fast == reference (and greedy)
@pytest.mark.parametrize("pattern", [None, GPT2_PATTERN], ids=["no-pattern", "gpt2-pattern"])
@pytest.mark.parametrize("name", sorted(CORPORA))
def test_fast_equals_reference(name, pattern):
    text = CORPORA[name]
    vocab_size = 256 + 60
    fast = train_bpe(text, vocab_size, pattern)
    ref = train_bpe_reference(text, vocab_size, pattern)
    assert fast.merges == ref.merges
    assert [z for _, z in fast.merges] == list(range(256, 256 + len(fast.merges)))
    assert_greedy_with_tie_rule(text, fast.merges, pattern)
    assert fast.vocab == ref.vocab


def test_fast_equals_reference_on_many_small_random_corpora():
    """Hundreds of tiny corpora with few letters: overlapping runs, ties, merges next to merges."""
    for seed in range(300):
        rng = random.Random(seed)
        maker = rng.choice([small_alphabet_text, random_text, random_bytes_text])
        text = maker(rng, rng.randint(0, 60))
        pattern = rng.choice([None, GPT2_PATTERN, GPT4_PATTERN])
        vocab_size = 256 + rng.randint(0, 30)
        fast = train_bpe(text, vocab_size, pattern).merges
        assert fast == train_bpe_reference(text, vocab_size, pattern).merges, (seed, text, pattern, vocab_size)


def test_fast_equals_reference_with_many_merges_on_real_text():
    text = PYDOC[5000:9000]
    fast = train_bpe(text, 256 + 250, GPT2_PATTERN)
    assert len(fast.merges) == 250
    assert fast.merges == train_bpe_reference(text, 256 + 250, GPT2_PATTERN).merges


def test_training_stops_when_nothing_is_left_to_merge():
    for trainer in (train_bpe, train_bpe_reference):
        assert trainer("", 300).merges == []
        assert trainer("a", 300).merges == []
        assert trainer("abc", 256).merges == []                       # vocab_size 256 = no merges at all
        tok = trainer("abcd", 1_000)                                  # 3 merges at most, then every chunk is 1 token
        assert len(tok.merges) == 3 and tok.vocab[258] == b"abcd"
        assert trainer("a!a!a!", 300, GPT2_PATTERN).merges == []     # chunks "a", "!": no pair inside any chunk


# -------------------------------------------------------------------------------------------- small worked cases
def test_low_low_lower_lowest_tie():
    text = "low low low lower lowest"
    counts = get_pair_counts(list(text.encode()))
    assert counts[(108, 111)] == counts[(111, 119)] == 5 == max(counts.values())   # (l, o) and (o, w) tie
    for trainer in (train_bpe, train_bpe_reference):
        for pattern in (None, GPT2_PATTERN):
            tok = trainer(text, 259, pattern)
            assert tok.merges[0] == ((108, 111), 256)                 # the smaller pair wins the tie
            assert [tok.vocab[z] for _, z in tok.merges] == [b"lo", b"low", b" low"]
            assert tok.encode("lowly") == [257, 108, 121]


def test_wikipedia_example():
    tok = train_bpe("aaabdaaabac", 259)
    assert tok.merges == [((97, 97), 256), ((97, 98), 257), ((256, 257), 258)]   # aa; (aa, a)/(a, b) tie; aaab
    assert [tok.vocab[z] for z in (256, 257, 258)] == [b"aa", b"ab", b"aaab"]
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]


def test_tie_goes_to_smallest_pair_even_when_it_appears_later():
    # in "zzyy" the pairs (z, z), (z, y), (y, y) all occur once: the smallest, (121, 121) = "yy", comes LAST
    for trainer in (train_bpe, train_bpe_reference):
        assert trainer("zzyy", 257).merges == [((121, 121), 256)]
        assert trainer("ba ab", 257).merges == [((32, 97), 256)]     # (32,97) < (97,32) < (97,98) < (98,97)


def test_overlapping_run_counts_and_merges():
    assert get_pair_counts(list(b"aaaaa")) == {(97, 97): 4}
    tok = train_bpe("aaaaa", 258)            # aaaaa -> (aa)(aa)a: (aa, aa) and (aa, a) tie at 1 -> (256, 97) wins
    assert tok.merges == [((97, 97), 256), ((256, 97), 257)]
    assert tok.encode("aaaaa") == [256, 257]
    assert train_bpe("aaaa", 258).merges == [((97, 97), 256), ((256, 256), 257)]


def test_pattern_keeps_merges_inside_chunks():
    text = PYDOC
    tok = train_bpe(text, 256 + 200, GPT2_PATTERN)
    chunks = {c.encode("utf-8") for c in split_chunks(text, GPT2_PATTERN)}
    for _, new_id in tok.merges:
        piece = tok.vocab[new_id]
        assert any(piece in c for c in chunks), f"{piece!r} is in no single chunk: a merge crossed a boundary"
    # without the pattern the most frequent pair of "x! x! x!" is (x, !), across a letter/punctuation boundary;
    # with the pattern the chunks are "x", "!", " x", "!", ... and only " x" can be learned
    for trainer in (train_bpe, train_bpe_reference):
        assert trainer("x! x! x!", 258).merges[0] == ((120, 33), 256)
        assert trainer("x! x! x!", 258, GPT2_PATTERN).merges == [((32, 120), 256)]
    assert all(not t.endswith(b" ") for t in (tok.vocab[z] for _, z in tok.merges) if t.strip())
    # and encoding one chunk at a time gives the same ids as encoding the whole text
    assert tok.encode(text) == [i for c in split_chunks(text, GPT2_PATTERN) for i in tok.encode(c)]


@pytest.mark.parametrize("pattern", [None, GPT2_PATTERN], ids=["no-pattern", "gpt2-pattern"])
@pytest.mark.parametrize("name", ["pydoc", "low", "abc-runs", "random-unicode", "small-alphabet", "emoji-zwj"])
def test_encoding_the_training_text_reproduces_the_training_segmentation(name, pattern):
    text = CORPORA[name]
    tok = train_bpe(text, 256 + 80, pattern)
    segmentation = replay(text, tok.merges, pattern)
    assert tok.encode(text) == [i for ids in segmentation for i in ids]
    assert [tok.encode(c) for c in split_chunks(text, pattern)] == segmentation
    # the same merges looped over by hand on a new text agree with the tokenizer's heap-based encoder too
    other = "lower the mat, 😀 café " + CORPORA["random-unicode"][:200]
    assert tok.encode(other) == [i for ids in replay(other, tok.merges, pattern) for i in ids]


def test_encode_equals_merge_loop_on_random_texts():
    tok = train_bpe(PYDOC + CORPORA["small-alphabet"], 256 + 150, GPT2_PATTERN)
    rng = random.Random(7)
    for _ in range(150):
        text = rng.choice([random_text, small_alphabet_text])(rng, rng.randint(0, 40))
        assert tok.encode(text) == [i for ids in replay(text, tok.merges, GPT2_PATTERN) for i in ids]


# ------------------------------------------------------------------------------------------- round trip (hostile)
HOSTILE = [
    "",
    " ",
    "a",
    "👩‍👩‍👧‍👦",                                   # family: 4 emoji joined by ZERO WIDTH JOINERs (one grapheme, 25 bytes)
    "👍🏽 🏳️‍🌈 ❤️",                              # skin-tone modifier, ZWJ flag, variation selector
    "🇫🇷🇯🇵🇺🇸",                                      # flags: pairs of regional indicators
    "e\u0301 vs \u00e9",                          # decomposed vs precomposed é: must NOT be normalised
    "Z\u0351\u0358\u0360a\u0315\u0316l\u0317g\u035co",   # stacked combining marks
    "東京タワーは高い。日本語のテキスト",
    "שלום עולם! \u200fمرحبا بالعالم\u200e 123",   # right-to-left scripts and direction marks
    "   \t\t\n\n\r\n  \u00a0\u3000\u2003 x  \n",   # whitespace runs of every kind
    "\x00\x01\x7f\ufeff\ufffd\uffff\U0010ffff",   # NUL, control, BOM, replacement char, noncharacters, last code point
    "<|endoftext|> is plain text here",
    "x" * 2000,
    "it's 2024... Don't STOP!!! ¿Qué? naïve café — “quotes”",
    "def f(x):\n    return x ** 2  # comment\n",
]


@pytest.fixture(scope="module")
def tokenizers():
    training = PYDOC + "".join(HOSTILE) + CORPORA["emoji-zwj"] + CORPORA["random-unicode"]
    return {
        "bytes-only": BPETokenizer(merges=[]),
        "plain": train_bpe(training, 256 + 200),
        "gpt2": train_bpe(training, 256 + 200, GPT2_PATTERN),
        "gpt4": train_bpe(training, 256 + 200, GPT4_PATTERN, special_tokens=["<|endoftext|>"]),
    }


@pytest.mark.parametrize("text", HOSTILE)
def test_round_trip_hostile_strings(tokenizers, text):
    for name, tok in tokenizers.items():
        ids = tok.encode(text)
        assert all(isinstance(i, int) and 0 <= i < 256 + len(tok.merges) for i in ids), name
        assert tok.decode(ids) == text, name
        assert tok.decode_bytes(ids) == text.encode("utf-8"), name
        assert len(ids) <= len(text.encode("utf-8")), name          # merging never makes a text longer


def test_round_trip_seeded_random_strings(tokenizers):
    """Property test without hypothesis: 400 seeded random strings, every tokenizer, exact round trip."""
    rng = random.Random(12345)
    for _ in range(400):
        text = rng.choice([random_text, small_alphabet_text, random_bytes_text])(rng, rng.randint(0, 50))
        for name, tok in tokenizers.items():
            assert tok.decode(tok.encode(text)) == text, (name, text)
        assert "".join(split_chunks(text, GPT2_PATTERN)) == text     # the patterns cover every character
        assert "".join(split_chunks(text, GPT4_PATTERN)) == text


def test_trained_on_random_text_round_trips_random_text():
    rng = random.Random(99)
    tok = train_bpe(random_text(rng, 3000), 256 + 100, GPT2_PATTERN)
    for _ in range(100):
        text = random_text(rng, rng.randint(0, 30))
        assert tok.decode(tok.encode(text)) == text


def test_lone_surrogates_are_rejected_clearly():
    """A str holding a lone surrogate is not valid Unicode text: it has no UTF-8 bytes, so it cannot be encoded.
    The API refuses it with a ValueError naming the code point and where it is (not a raw codec traceback)."""
    tok = train_bpe("hello", 260)
    for text in ("\ud800", "ab\udfffcd", "😀\ud83d"):                # high, low, half an emoji
        with pytest.raises(ValueError, match=r"lone surrogate U\+D[89A-F][0-9A-F]{2} at index \d+"):
            tok.encode(text)
        with pytest.raises(ValueError, match="lone surrogate"):
            train_bpe(text, 300)
        with pytest.raises(ValueError, match="lone surrogate"):
            train_bpe_reference(text, 300)
    with pytest.raises(ValueError, match="at index 2"):
        tok.encode("ab\udfffcd")
    # a proper surrogate PAIR written as one code point is fine, of course
    assert tok.decode(tok.encode("\U0001F600")) == "😀"


def test_decoding_a_partial_character():
    tok = BPETokenizer(merges=[])
    ids = tok.encode("é")                                             # 2 bytes: c3 a9
    assert ids == [0xC3, 0xA9]
    assert tok.decode(ids[:1]) == "\ufffd"                           # half a character -> replacement character
    assert tok.decode_bytes(ids[:1]) == b"\xc3"                       # the raw bytes are still exact
    assert render_token(b"\xc3") == "<c3>"


# ------------------------------------------------------------------------------------------------ special tokens
def test_special_tokens():
    tok = train_bpe("hello world " * 20, 270, GPT2_PATTERN, special_tokens=["<|endoftext|>"])
    eot = 256 + len(tok.merges)
    assert tok.special_tokens == {"<|endoftext|>": eot} and len(tok) == eot + 1
    text = "hello<|endoftext|>world"
    ids = tok.encode(text, allowed_special="all")
    assert eot in ids and tok.decode(ids) == text
    assert tok.encode(text, allowed_special={"<|endoftext|>"}) == ids
    plain = tok.encode(text)                                          # default: special strings are ordinary text
    assert eot not in plain and tok.decode(plain) == text
    with pytest.raises(ValueError, match="unknown special"):
        tok.encode(text, allowed_special={"<|nope|>"})
    with pytest.raises(ValueError, match="non-empty"):
        train_bpe("abc", 260, special_tokens=[""])


# ----------------------------------------------------------------------------------------------------- bad input
def test_bad_training_input():
    for trainer in (train_bpe, train_bpe_reference):
        with pytest.raises(TypeError, match="text must be a str, got bytes"):
            trainer(b"bytes", 300)
        with pytest.raises(TypeError, match="text must be a str, got list"):
            trainer(["a", "b"], 300)
        with pytest.raises(TypeError, match="text must be a str, got NoneType"):
            trainer(None, 300)
        with pytest.raises(ValueError, match=r"counts the 256 byte tokens.*>= 256, got 255"):
            trainer("abc", 255)
        with pytest.raises(ValueError, match=">= 256, got 10"):
            trainer("abc", 10)
        with pytest.raises(TypeError, match="vocab_size must be an int, got float"):
            trainer("abc", 300.0)
        with pytest.raises(TypeError, match="vocab_size must be an int, got str"):
            trainer("abc", "300")
        with pytest.raises(TypeError, match="vocab_size must be an int, got bool"):
            trainer("abc", True)
        assert trainer("aaa", np.int64(257)).merges == [((97, 97), 256)]   # numpy integers are fine


def test_bad_encode_input():
    tok = train_bpe("hello", 260)
    for bad in (b"hello", None, 42, ["h", "i"]):
        with pytest.raises(TypeError, match="text must be a str"):
            tok.encode(bad)
    with pytest.raises(TypeError, match="text must be a str"):
        split_chunks(b"x", GPT2_PATTERN)


def test_bad_decode_input():
    tok = train_bpe("hello", 260)
    n = len(tok)
    for bad in ([n], [10**9], [-1]):
        with pytest.raises(ValueError, match=rf"unknown token id {bad[0]}: this tokenizer has ids 0\.\.{n - 1}"):
            tok.decode(bad)
    for bad, kind in (([1.0], "float"), (["h"], "str"), ([None], "NoneType"), ([True], "bool"), ([b"h"], "bytes")):
        with pytest.raises(TypeError, match=f"token ids must be ints, got {kind}"):
            tok.decode(bad)
    with pytest.raises(TypeError, match=r"list of token ids, got int \(for one id write decode\(\[104\]\)\)"):
        tok.decode(104)
    with pytest.raises(TypeError, match="list of token ids, got str"):
        tok.decode("104")
    # integer types other than int are fine: numpy ints, a numpy array, a torch tensor's tolist()
    assert tok.decode(np.array([104, 105])) == "hi"
    assert tok.decode([np.int32(104), np.uint8(105)]) == "hi"
    assert tok.decode(iter([104, 105])) == "hi"


def test_bad_merge_lists():
    with pytest.raises(ValueError, match="256, 257, ... in order"):
        BPETokenizer(merges=[((97, 98), 257)])
    with pytest.raises(ValueError, match="not defined before"):
        BPETokenizer(merges=[((97, 300), 256)])
    with pytest.raises(ValueError, match="already taken"):
        BPETokenizer(merges=[((97, 98), 256)], special_tokens={"<s>": 256})
    tok = train_bpe("abababab", 259)
    with pytest.raises(ValueError, match="n_merges must be between 0 and"):
        tok.truncated(10)
    assert tok.truncated(1).merges == tok.merges[:1]


# ------------------------------------------------------------------------------------------------ building blocks
def test_get_pair_counts():
    assert get_pair_counts([]) == {}
    assert get_pair_counts([5]) == {}
    assert get_pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert get_pair_counts([7, 7, 7, 7]) == {(7, 7): 3}               # overlapping pairs all count
    assert get_pair_counts(iter([1, 2, 1])) == {(1, 2): 1, (2, 1): 1}  # any iterable
    counts = get_pair_counts([1, 2])
    assert get_pair_counts([1, 2, 9], counts) is counts and counts == {(1, 2): 2, (2, 9): 1}   # accumulates
    ids = list(PYDOC.encode())
    assert sum(get_pair_counts(ids).values()) == len(ids) - 1


def test_merge():
    assert merge([], (1, 2), 256) == []
    assert merge([1], (1, 2), 256) == [1]
    assert merge([1, 2, 3, 1, 2], (1, 2), 256) == [256, 3, 256]
    assert merge([7, 7, 7], (7, 7), 256) == [256, 7]                  # left to right, no overlaps
    assert merge([7, 7, 7, 7], (7, 7), 256) == [256, 256]
    assert merge([2, 1], (1, 2), 256) == [2, 1]                       # order matters
    ids = [1, 2, 1, 2]
    assert merge(ids, (1, 2), 300) == [300, 300] and ids == [1, 2, 1, 2]   # input untouched


def test_most_frequent_pair():
    assert most_frequent_pair({(111, 119): 5, (108, 111): 5, (119, 32): 3}) == (108, 111)
    assert most_frequent_pair({(2, 1): 3, (1, 9): 3, (1, 2): 3}) == (1, 2)
    assert most_frequent_pair({(0, 0): 1, (9, 9): 2}) == (9, 9)
    with pytest.raises(ValueError, match="no pairs"):
        most_frequent_pair({})


def test_gpt2_pattern_chunks():
    assert split_chunks("Hello world's 2024 cats!!", GPT2_PATTERN) == ["Hello", " world", "'s", " 2024", " cats", "!!"]
    assert split_chunks("a   b", GPT2_PATTERN) == ["a", "  ", " b"]   # a space run leaves its last space to the word
    assert split_chunks("I'll we've they're", GPT2_PATTERN) == ["I", "'ll", " we", "'ve", " they", "'re"]
    assert split_chunks("x\n\ny  ", GPT2_PATTERN) == ["x", "\n", "\n", "y", "  "]
    assert split_chunks("", GPT2_PATTERN) == [] and split_chunks("") == []
    assert split_chunks("one chunk, no pattern") == ["one chunk, no pattern"]
    assert split_chunks("東京 café", GPT2_PATTERN) == ["東京", " café"]


#: GPT-2's split regex as tiktoken writes it (possessive quantifiers): the oracle for GPT2_PATTERN, which the offline
#: GPT-2 encoding (utils.real_tokenizers.load_gpt2) uses in its place.
GPT2_TIKTOKEN_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


def test_gpt2_pattern_matches_tiktokens_gpt2_regex():
    """Our readable GPT-2 regex splits like the (possessive) regex tiktoken uses for GPT-2."""
    rng = random.Random(5)
    samples = HOSTILE + [PYDOC[:3000]] + [random_text(rng, 40) for _ in range(100)]
    for text in samples:
        assert regex.findall(GPT2_PATTERN, text) == regex.findall(GPT2_TIKTOKEN_PATTERN, text), text


def test_gpt4_pattern_differs_from_cl100k_only_at_the_end_of_a_text():
    """Two spellings of cl100k's regex, kept apart on purpose: they differ on a final whitespace run with a newline."""
    from utils.real_tokenizers import CL100K_PATTERN

    assert regex.findall(GPT4_PATTERN, "a \n ") == ["a", " \n", " "]
    assert regex.findall(CL100K_PATTERN, "a \n ") == ["a", " \n "]
    rng = random.Random(5)
    for text in HOSTILE + [PYDOC[:3000]] + [random_text(rng, 40) for _ in range(100)]:
        body = text.rstrip() + "."                                    # no trailing whitespace: the same chunks
        assert regex.findall(GPT4_PATTERN, body) == regex.findall(CL100K_PATTERN, body), body


def test_tokenizer_helpers():
    tok = train_bpe("low low low lower lowest", 259)
    assert tok.pieces("lowly lows") == ["low", "l", "y", " low", "s"]
    assert len(tok) == 259
    assert "3 merges" in repr(tok)
    assert tok.compression("low low") == 7 / 2
    assert tok.compression("") == 0.0
