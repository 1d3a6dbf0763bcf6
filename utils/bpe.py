"""Byte-level byte-pair encoding (BPE) from scratch (notebook 03).

Why one long module: as in minbpe, the helpers (`get_pair_counts`, `merge`), the tokenizer class and both trainers
live together, so a reader follows one file from the pair counts to the merges the trainers make.

A byte-level BPE tokenizer starts from the 256 possible byte values as its first 256 tokens, so every string has an
encoding (no "unknown" token ever). Training repeats one step: find the most frequent pair of adjacent tokens and
replace it everywhere by a new token. The ordered list of those merges *is* the tokenizer.

    >>> tok = train_bpe("low low low lower lowest", vocab_size=259)
    >>> tok.merges                          # ((left id, right id), new id), in the order they were learned
    [((108, 111), 256), ((256, 119), 257), ((32, 257), 258)]
    >>> tok.vocab[257]
    b'low'
    >>> tok.encode("lowly")
    [257, 108, 121]
    >>> tok.decode(tok.encode("lowly"))
    'lowly'

Rules this module follows (and the notebook teaches):

* ``vocab_size`` counts the 256 byte tokens, so ``vocab_size=259`` means 3 merges. New ids are 256, 257, ... in merge
  order. Training stops early when no adjacent pair is left (every chunk is one token).
* **Tie rule:** when several pairs share the highest count, the smallest pair ``(left_id, right_id)`` wins (plain
  tuple order). On "low low low lower lowest" the pairs ``(l, o)`` = (108, 111) and ``(o, w)`` = (111, 119) both occur
  5 times; the rule picks (108, 111).
* With a regex ``pattern`` (e.g. :data:`GPT2_PATTERN`) the text is first split into chunks (words, numbers,
  punctuation runs, spaces) and no merge ever crosses a chunk boundary.
* Encoding applies the learned merges in the order they were learned (lowest new id first), so encoding the training
  text reproduces the segmentation training ended with.
* Special tokens (e.g. ``"<|endoftext|>"``) get the ids after the learned ones. :meth:`BPETokenizer.encode` turns
  them into their single id only when asked (``allowed_special``); otherwise they are ordinary text.

Two trainers give identical merges: :func:`train_bpe_reference` recounts every pair at every step (short and easy to
read, notebook section 4), :func:`train_bpe` (the default) updates the pair counts incrementally, touching only the
places where the merged pair occurs (``benchmarks/bench_bpe.py`` measures the difference).
"""
from __future__ import annotations

import heapq
import operator
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import regex

__all__ = [
    "GPT2_PATTERN", "GPT4_PATTERN", "BPETokenizer", "get_pair_counts", "most_frequent_pair", "merge",
    "train_bpe", "train_bpe_reference", "split_chunks", "render_token",
]

#: GPT-2's pre-tokenisation regex: contractions, letters with an optional leading space, digits, other symbols,
#: whitespace. Chunks keep their leading space, so " dog" and "dog" are different chunks.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

#: cl100k's (GPT-4's) regex: case-insensitive contractions, numbers in groups of at most three digits, newlines kept
#: apart from other whitespace. This is minbpe's spelling; tiktoken's current one
#: (:data:`utils.real_tokenizers.CL100K_PATTERN`) differs only at the very end of a text, where it keeps a whitespace
#: run that holds a newline as one chunk (" \n " here: " \n", " ").
GPT4_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
                r"""|\s*[\r\n]|\s+(?!\S)|\s+""")


# ---------------------------------------------------------------------------------------------------------- helpers
def _check_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return text


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8 bytes; a lone surrogate (U+D800..U+DFFF, which has no UTF-8 form) -> a one-line ValueError.

    >>> _utf8("é")
    b'\\xc3\\xa9'
    >>> _utf8("a\\ud800")
    Traceback (most recent call last):
    ...
    ValueError: text holds a lone surrogate U+D800 at index 1: not a character, so it has no UTF-8 bytes (...)
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as err:
        bad = text[err.start]
        raise ValueError(f"text holds a lone surrogate U+{ord(bad):04X} at index {err.start}: not a character, so it "
                         "has no UTF-8 bytes (broken decoding upstream? clean it with "
                         "text.encode('utf-8', 'replace').decode())") from None


def split_chunks(text: str, pattern: str | None = None) -> list[str]:
    """Split ``text`` into pre-tokenisation chunks (the whole text is one chunk when ``pattern`` is None).

    >>> split_chunks("Hello world's 2024 cats!!", GPT2_PATTERN)
    ['Hello', ' world', "'s", ' 2024', ' cats', '!!']
    >>> split_chunks("no pattern, one chunk")
    ['no pattern, one chunk']
    """
    _check_text(text)
    if pattern is None:
        return [text] if text else []
    return regex.findall(pattern, text)


def get_pair_counts(ids: Iterable[int], counts: dict | None = None) -> dict[tuple[int, int], int]:
    """Count every pair of adjacent ids (a sequence of length n has n - 1 pairs; overlaps count).

    >>> get_pair_counts([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    >>> get_pair_counts([7, 7, 7])          # "aaa" holds the pair (a, a) twice
    {(7, 7): 2}

    Pass ``counts`` to add to an existing dict (used to count over several chunks).
    """
    counts = {} if counts is None else counts
    ids = list(ids)
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def most_frequent_pair(counts: dict[tuple[int, int], int]) -> tuple[int, int]:
    """The pair with the highest count; **ties go to the smallest pair** ``(left_id, right_id)``.

    >>> most_frequent_pair({(111, 119): 5, (108, 111): 5, (119, 32): 3})
    (108, 111)
    """
    if not counts:
        raise ValueError("no pairs to choose from: every chunk is a single token")
    return min(counts, key=lambda pair: (-counts[pair], pair))


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right without overlaps.

    >>> merge([1, 2, 3, 1, 2], (1, 2), 256)
    [256, 3, 256]
    >>> merge([7, 7, 7], (7, 7), 256)       # the left occurrence wins, the third 7 stays
    [256, 7]
    """
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def render_token(piece: bytes) -> str:
    """A printable form of a token's bytes: valid UTF-8 is shown as text, anything else as ``<xx>`` hex bytes.

    >>> render_token(b" the"), render_token("é".encode()), render_token(b"\\xc3")
    (' the', 'é', '<c3>')
    """
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(chr(b) if b < 128 else f"<{b:02x}>" for b in piece)


# -------------------------------------------------------------------------------------------------------- tokenizer
@dataclass
class BPETokenizer:
    """A trained byte-level BPE: ``merges`` (ordered), ``pattern`` (pre-tokenisation regex or None), special tokens.

    >>> tok = BPETokenizer(merges=[((104, 105), 256)])     # one merge: "h" + "i" -> 256
    >>> tok.encode("hi hi!"), tok.vocab[256]
    ([256, 32, 256, 33], b'hi')
    """

    merges: list[tuple[tuple[int, int], int]]
    pattern: str | None = None
    special_tokens: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.merges = [((int(a), int(b)), int(z)) for (a, b), z in self.merges]
        self.ranks = {pair: new_id for pair, new_id in self.merges}  # new ids grow with the merge order
        self.vocab = {i: bytes([i]) for i in range(256)}              # id -> bytes
        for (a, b), new_id in self.merges:
            if new_id != len(self.vocab):
                raise ValueError(f"merge ids must be 256, 257, ... in order; got {new_id} at position "
                                 f"{len(self.vocab) - 256}")
            if a not in self.vocab or b not in self.vocab:
                raise ValueError(f"merge ({a}, {b}) uses an id that is not defined before it")
            self.vocab[new_id] = self.vocab[a] + self.vocab[b]
        for name, sid in self.special_tokens.items():
            if sid in self.vocab:
                raise ValueError(f"special token {name!r} reuses id {sid}, which is already taken")
        self.inverse_special = {sid: name for name, sid in self.special_tokens.items()}
        self._cache: dict[bytes, list[int]] = {}

    def __len__(self) -> int:
        """Number of ids (256 bytes + merges + special tokens)."""
        return len(self.vocab) + len(self.special_tokens)

    def __repr__(self) -> str:
        return (f"BPETokenizer({len(self.merges)} merges, vocab size {len(self.vocab)}, "
                f"{len(self.special_tokens)} special tokens, pattern={'yes' if self.pattern else 'none'})")

    # ------------------------------------------------------------------ encode
    def _encode_chunk(self, data: bytes) -> list[int]:
        """Apply the merges to one chunk, lowest new id first (a heap over positions; same result as looping over
        the merges in order and calling :func:`merge`)."""
        cached = self._cache.get(data)
        if cached is not None:
            return cached
        ids = list(data)
        n = len(ids)
        if n >= 2:
            nxt = list(range(1, n + 1))
            prv = list(range(-1, n - 1))
            ranks = self.ranks
            heap = [(ranks[(ids[i], ids[i + 1])], i) for i in range(n - 1) if (ids[i], ids[i + 1]) in ranks]
            heapq.heapify(heap)
            alive = [True] * n
            while heap:
                new_id, i = heapq.heappop(heap)
                j = nxt[i]
                # stale entry: position gone, or its pair changed since it was pushed
                if not alive[i] or j >= n or ranks.get((ids[i], ids[j])) != new_id:
                    continue
                ids[i] = new_id
                alive[j] = False
                nxt[i] = nxt[j]
                if nxt[j] < n:
                    prv[nxt[j]] = i
                p = prv[i]
                if p >= 0 and (ids[p], new_id) in ranks:
                    heapq.heappush(heap, (ranks[(ids[p], new_id)], p))
                k = nxt[i]
                if k < n and (new_id, ids[k]) in ranks:
                    heapq.heappush(heap, (ranks[(new_id, ids[k])], i))
            ids = [t for t, a in zip(ids, alive) if a]
        if len(self._cache) < 100_000:
            self._cache[data] = ids
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text`` treating any special-token string as plain text."""
        _utf8(_check_text(text))                     # one clear error for a lone surrogate, before any work
        ids: list[int] = []
        for chunk in split_chunks(text, self.pattern):
            ids.extend(self._encode_chunk(chunk.encode("utf-8")))
        return ids

    def encode(self, text: str, allowed_special: str | Iterable[str] = "none") -> list[int]:
        """Text -> list of token ids.

        ``allowed_special="all"`` (or a set of names) turns those special-token strings into their single id;
        with the default ``"none"`` they are encoded as ordinary text, so text typed by a user can never inject an
        end-of-text marker.

        >>> tok = BPETokenizer(merges=[], special_tokens={"<|end|>": 256})
        >>> tok.encode("a<|end|>", allowed_special="all")
        [97, 256]
        >>> len(tok.encode("a<|end|>"))     # 1 + 7 bytes
        8
        """
        _utf8(_check_text(text))
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        elif allowed_special == "none":
            allowed = set()
        else:
            allowed = set(allowed_special)
            unknown = allowed - set(self.special_tokens)
            if unknown:
                raise ValueError(f"unknown special tokens: {sorted(unknown)}")
        if not allowed:
            return self.encode_ordinary(text)
        splitter = "(" + "|".join(regex.escape(s) for s in sorted(allowed, key=len, reverse=True)) + ")"
        ids: list[int] = []
        for part in regex.split(splitter, text):
            if part in allowed:
                ids.append(self.special_tokens[part])
            elif part:
                ids.extend(self.encode_ordinary(part))
        return ids

    # ------------------------------------------------------------------ decode
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Token ids -> the raw bytes they stand for (unknown ids raise ValueError, non-integers TypeError)."""
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            hint = f" (for one id write decode([{ids!r}]))" if isinstance(ids, int) else ""
            raise TypeError(f"ids must be a list of token ids, got {type(ids).__name__}{hint}")
        parts = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int):
                if hasattr(i, "__index__") and not isinstance(i, bool):
                    i = int(i)
                else:
                    raise TypeError(f"token ids must be ints, got {type(i).__name__}")
            if i in self.vocab:
                parts.append(self.vocab[i])
            elif i in self.inverse_special:
                parts.append(self.inverse_special[i].encode("utf-8"))
            else:
                raise ValueError(f"unknown token id {i}: this tokenizer has ids 0..{len(self) - 1}")
        return b"".join(parts)

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids -> text. Bytes that do not form valid UTF-8 (possible for an arbitrary id list, never for the
        output of :meth:`encode`) become U+FFFD.

        >>> BPETokenizer(merges=[]).decode([104, 105])
        'hi'
        """
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ helpers for teaching
    def pieces(self, text: str) -> list[str]:
        """The printable pieces ``text`` is split into (see :func:`render_token`).

        >>> BPETokenizer(merges=[((104, 105), 256)]).pieces("hi!")
        ['hi', '!']
        """
        return [render_token(self.decode_bytes([i])) for i in self.encode(text)]

    def truncated(self, n_merges: int) -> "BPETokenizer":
        """The same tokenizer with only its first ``n_merges`` merges (used to step through training)."""
        if not 0 <= n_merges <= len(self.merges):
            raise ValueError(f"n_merges must be between 0 and {len(self.merges)}, got {n_merges}")
        return BPETokenizer(self.merges[:n_merges], self.pattern)

    def compression(self, text: str) -> float:
        """Bytes per token on ``text`` (higher = shorter sequences)."""
        n = len(self.encode(text))
        return len(text.encode("utf-8")) / n if n else 0.0


# ------------------------------------------------------------------------------------------------------- training
def _check_train_args(text, vocab_size, special_tokens):
    _utf8(_check_text(text))
    if isinstance(vocab_size, bool) or not hasattr(vocab_size, "__index__"):
        raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
    vocab_size = operator.index(vocab_size)
    if vocab_size < 256:
        raise ValueError(f"vocab_size counts the 256 byte tokens, so it must be >= 256, got {vocab_size}")
    special_tokens = list(special_tokens or [])
    for s in special_tokens:
        if not isinstance(s, str) or not s:
            raise ValueError(f"special tokens must be non-empty strings, got {s!r}")
    return vocab_size, special_tokens


def _finish(merges, pattern, special_tokens, n_ids):
    specials = {name: n_ids + k for k, name in enumerate(special_tokens)}
    return BPETokenizer(merges, pattern, specials)


def train_bpe_reference(text: str, vocab_size: int, pattern: str | None = None,
                        special_tokens: Iterable[str] | None = None) -> BPETokenizer:
    """Plain BPE training: recount every adjacent pair in every chunk at every step. Easy to read, slow.

    >>> train_bpe_reference("aaabdaaabac", 258).merges     # "aa" first; then (aa, a) and (a, b) tie at 2
    [((97, 97), 256), ((97, 98), 257)]
    """
    vocab_size, special_tokens = _check_train_args(text, vocab_size, special_tokens)
    chunks = [list(c.encode("utf-8")) for c in split_chunks(text, pattern)]
    merges = []
    for new_id in range(256, vocab_size):
        counts: dict = {}
        for ids in chunks:
            get_pair_counts(ids, counts)
        if not counts:
            break                                   # nothing left to merge
        pair = most_frequent_pair(counts)
        chunks = [merge(ids, pair, new_id) for ids in chunks]
        merges.append((pair, new_id))
    return _finish(merges, pattern, special_tokens, 256 + len(merges))


def train_bpe(text: str, vocab_size: int, pattern: str | None = None,
              special_tokens: Iterable[str] | None = None) -> BPETokenizer:
    """Fast BPE training with incremental pair counts; the merges are identical to :func:`train_bpe_reference`.

    >>> tok = train_bpe("low low low lower lowest", 259)
    >>> [tok.vocab[new_id] for _, new_id in tok.merges]
    [b'lo', b'low', b' low']

    How it stays fast:

    1. identical chunks are stored once with a weight (their count), all in one flat array with a -1 between chunks;
    2. the array is a doubly linked list, so a merge deletes one position in O(1);
    3. ``where[pair]`` holds the positions where each pair starts; a merge visits only those positions and changes
       only the counts of the pairs next to them (left neighbour, right neighbour);
    4. a heap ordered by (-count, left, right) finds the next pair (ties -> smallest pair, as in the reference);
       counts that grew are pushed once per merge; an entry whose count has since dropped is pushed back with its
       true count when it reaches the top (so the top entry, once it matches, is the real maximum).
    """
    vocab_size, special_tokens = _check_train_args(text, vocab_size, special_tokens)
    weights = Counter(split_chunks(text, pattern))

    ids: list[int] = []        # flat token ids, -1 separates chunks
    weight: list[int] = []     # weight of the chunk each position belongs to
    for chunk, w in weights.items():
        data = chunk.encode("utf-8")
        ids.extend(data)
        weight.extend([w] * len(data))
        ids.append(-1)
        weight.append(0)
    n = len(ids)
    nxt = list(range(1, n + 1))
    prv = list(range(-1, n - 1))

    counts: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], set[int]] = {}
    for i in range(n - 1):
        a, b = ids[i], ids[i + 1]
        if a >= 0 and b >= 0:
            counts[(a, b)] = counts.get((a, b), 0) + weight[i]
            where.setdefault((a, b), set()).add(i)
    heap = [(-c, a, b) for (a, b), c in counts.items()]
    heapq.heapify(heap)

    merges = []
    new_id = 256
    while new_id < vocab_size and heap:
        neg, a, b = heapq.heappop(heap)
        pair = (a, b)
        current = counts.get(pair, 0)
        if current != -neg:
            if current > 0:                         # the count dropped since this entry was pushed:
                heapq.heappush(heap, (-current, a, b))  # put it back with its true count
            continue
        grown = set()                               # pairs whose count went up during this merge
        for i in sorted(where.pop(pair, ())):       # left to right, like merge()
            j = nxt[i]
            if ids[i] != a or j >= n or ids[j] != b:
                continue                            # this occurrence was destroyed by an earlier overlap
            w = weight[i]
            p, k = prv[i], nxt[j]
            if p >= 0 and ids[p] >= 0:
                left = ids[p]
                counts[(left, a)] -= w
                counts[(left, new_id)] = counts.get((left, new_id), 0) + w
                where.setdefault((left, new_id), set()).add(p)
                grown.add((left, new_id))
            if k < n and ids[k] >= 0:
                right = ids[k]
                counts[(b, right)] -= w
                counts[(new_id, right)] = counts.get((new_id, right), 0) + w
                where.setdefault((new_id, right), set()).add(i)
                grown.add((new_id, right))
            counts[pair] -= w
            ids[i] = new_id                         # position i now holds the merged token,
            ids[j] = -2                             # position j leaves the linked list
            nxt[i] = k
            if k < n:
                prv[k] = i
        del counts[pair]
        for g in grown:                             # one heap entry per grown pair; drops are fixed lazily above
            if counts[g] > 0:
                heapq.heappush(heap, (-counts[g], g[0], g[1]))
        merges.append((pair, new_id))
        new_id += 1
    return _finish(merges, pattern, special_tokens, 256 + len(merges))
