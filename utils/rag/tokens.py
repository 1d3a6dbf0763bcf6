"""Chunks that fit the encoder (notebook 10): count each chunk with MiniLM's own tokenizer and cut the long ones.

MiniLM reads at most 256 word pieces per text (``max_seq_length`` in its ``sentence_bert_config.json``), ``[CLS]``
and ``[SEP]`` included; whatever comes after is cut off without a warning, so a longer chunk would be stored with a
tail its vector never saw. :func:`fit_to_tokens` cuts such chunks again (code and text between lines, each piece with
its own line range; prose between words) and works on any dataclass chunk with ``text``, ``source``, ``index``,
``doc_type`` and ``line_start`` (:class:`utils.rag.ingest.DocChunk`).
"""
from __future__ import annotations

import dataclasses
import functools

# what MiniLM reads of a text: 256 word pieces minus [CLS] and [SEP]
MAX_TOKENS = 256 - 2



@functools.lru_cache(maxsize=1)
def _minilm_tokenizer():
    from tokenizers import Tokenizer

    from utils.minilm import model_dir
    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()  # the shipped file truncates at 128; to count we need every piece
    return tokenizer


def minilm_tokens(texts) -> list[int]:
    """MiniLM's word-piece count of each text, without [CLS] and [SEP] (the encoder adds those two).

    >>> minilm_tokens(["cl100k_base", "a dog"])
    [5, 2]
    """
    return [len(e.ids) - 2 for e in _minilm_tokenizer().encode_batch([str(t) for t in texts])]


def _pack(units, counts, limit, overlap):
    """Greedy windows over units (words or lines) whose token counts sum to at most ``limit``; each window after
    the first starts ``overlap`` units before the previous one ended. Yields (first, end) index pairs."""
    start = 0
    while start < len(units):
        end, used = start, 0
        while end < len(units) and used + counts[end] <= limit:
            used += counts[end]
            end += 1
        end = max(end, start + 1)  # a single unit over the limit still gets a window (the encoder cuts its tail)
        yield start, end
        if end >= len(units):
            return
        start = max(end - overlap, start + 1)


def fit_to_tokens(chunks, limit: int = MAX_TOKENS, count=minilm_tokens, overlap: int = 20) -> list:
    """Cut every chunk with more than ``limit`` tokens (``count``: list of texts -> token counts) into pieces that
    fit, keeping its type, page and section; code and text are cut between lines (each piece keeps its own line
    range), prose between words with ``overlap`` words repeated. Chunk indices are renumbered within each source.

    >>> from utils.rag.ingest import DocChunk
    >>> count = lambda texts: [len(t.split()) for t in texts]              # one token per word, for the example
    >>> [(c.index, c.text) for c in fit_to_tokens([DocChunk("a.md", 0, "a b c d e", "markdown")], 3, count, 1)]
    [(0, 'a b c'), (1, 'c d e')]
    >>> code = DocChunk("m.py", 0, "x = 1\\ny = 2\\nz = 3", "code", line_start=10, line_end=12)
    >>> [(c.line_start, c.line_end) for c in fit_to_tokens([code], 6, count)]
    [(10, 11), (12, 12)]
    """
    out: list = []
    next_index: dict[str, int] = {}
    for chunk, n_tokens in zip(chunks, count([c.text for c in chunks])):
        if n_tokens <= limit:
            pieces = [dataclasses.replace(chunk)]
        elif chunk.line_start is not None and chunk.doc_type == "code":
            lines = chunk.text.split("\n")
            counts = count(lines)
            pieces = [dataclasses.replace(chunk, text="\n".join(lines[a:b]), line_start=chunk.line_start + a,
                                          line_end=chunk.line_start + b - 1) for a, b in _pack(lines, counts, limit, 0)]
        else:
            words = chunk.text.split()
            counts = count(words)
            pieces = [dataclasses.replace(chunk, text=" ".join(words[a:b])) for a, b in _pack(words, counts, limit,
                                                                                             overlap)]
        for piece in pieces:
            index = next_index.get(piece.source, 0)
            next_index[piece.source] = index + 1
            out.append(dataclasses.replace(piece, index=index))
    return out
