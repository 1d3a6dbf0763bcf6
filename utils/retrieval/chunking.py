"""Chunking (notebook 07, section 2): split documents into overlapping word windows that keep their source.

- :func:`chunk_words` - one text -> windows of ``size`` words sharing ``overlap`` words at each seam;
- :class:`Chunk` / :func:`chunk_documents` - every document chunked, each piece remembering its source and position.
"""
from __future__ import annotations

from dataclasses import dataclass


def chunk_words(text: str, size: int, overlap: int = 0) -> list[str]:
    """Split ``text`` into windows of ``size`` words; consecutive windows share ``overlap`` words.

    Every word lands in at least one chunk and, apart from the ``overlap`` words repeated at each seam, in exactly
    one; the last chunk may be shorter. A window that would only repeat the previous overlap is not emitted.
    Words are split at any white space and joined with single spaces (line breaks and indentation are not kept).

    >>> chunk_words("a b c d e f g", size=3, overlap=1)
    ['a b c', 'c d e', 'e f g']
    >>> chunk_words("a b c d e", size=3, overlap=0)
    ['a b c', 'd e']
    >>> chunk_words("   ", size=3)
    []
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer (words per chunk), got {size!r}")
    if not isinstance(overlap, int) or not 0 <= overlap < size:
        raise ValueError(f"overlap must be an integer with 0 <= overlap < size={size}, got {overlap!r}")
    words = text.split()
    step = size - overlap  # how far each window moves
    chunks = []
    for start in range(0, len(words), step):
        chunks.append(" ".join(words[start:start + size]))
        if start + size >= len(words):  # this window reached the end: another one would only repeat words
            break
    return chunks


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of text and where it came from: ``Chunk('break', 0, 'break may only occur ...')``."""
    source: str  # the document's name, shown to the reader (and the LLM) as the citation
    index: int   # position of the chunk inside its document, 0-based
    text: str


def chunk_documents(documents: dict[str, str], size: int, overlap: int = 0) -> list[Chunk]:
    """Chunk every document; the chunks keep their source name and position.

    >>> [(c.source, c.index, c.text) for c in chunk_documents({"x": "a b c d", "y": "e"}, size=3, overlap=1)]
    [('x', 0, 'a b c'), ('x', 1, 'c d'), ('y', 0, 'e')]
    """
    if not isinstance(documents, dict):
        raise TypeError(f"documents must be a dict name -> text, got {type(documents).__name__}")
    return [Chunk(name, i, piece) for name, text in documents.items()
            for i, piece in enumerate(chunk_words(text, size, overlap))]

