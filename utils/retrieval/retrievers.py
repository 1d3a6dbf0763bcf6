"""Retrievers over chunks (notebook 07, sections 7 and 8): question in, ranked ``(chunk, score)`` pairs out.

- :class:`BM25Retriever` - :class:`~utils.retrieval.lexical.BM25` over the chunks' words;
- :class:`DenseRetriever` - an embedding function plus a :class:`~utils.retrieval.dense.VectorIndex`.
"""
from __future__ import annotations

import numpy as np

from utils.retrieval.chunking import Chunk, chunk_documents  # chunk_documents: the worked examples below use it
from utils.retrieval.dense import VectorIndex
from utils.retrieval.lexical import BM25, tokenize


def _check_question(question) -> str:
    if not isinstance(question, str):
        raise ValueError(f"the question must be a string, got {type(question).__name__}")
    if not question.strip():
        raise ValueError("the question is empty: there is nothing to search for")
    return question


class BM25Retriever:
    """BM25 over a list of :class:`Chunk`. ``search`` gives ``(chunk, score)`` pairs; calling it gives the chunks.

    >>> chunks = chunk_documents({"break": "break ends the loop", "pass": "pass does nothing"}, size=10)
    >>> [(c.source, round(s, 3)) for c, s in BM25Retriever(chunks).search("how do I end a loop", k=2)]
    [('break', 0.261), ('pass', 0.0)]
    """
    name = "BM25"

    def __init__(self, chunks, tokenizer=tokenize):
        self.chunks, self.tokenizer = list(chunks), tokenizer
        self.bm25 = BM25([tokenizer(c.text) for c in self.chunks])

    def search(self, question: str, k: int = 3) -> list[tuple[Chunk, float]]:
        query = self.tokenizer(_check_question(question))
        if not query:
            raise ValueError(f"the question {question!r} has no words to search for")
        positions, scores = self.bm25.search(query, k)
        return [(self.chunks[i], float(s)) for i, s in zip(positions, scores)]

    def __call__(self, question: str, k: int = 3) -> list[Chunk]:
        return [chunk for chunk, _ in self.search(question, k)]


class DenseRetriever:
    """Embedding search over a list of :class:`Chunk`: ``embed`` (list of texts -> (n, d) array) is applied to the
    chunks once (or pass their ``vectors``) and to each question; a :class:`VectorIndex` finds the nearest chunks.

    >>> toy_embed = lambda texts: [[t.count("loop") + 0.1, t.count("nothing") + 0.1] for t in texts]
    >>> chunks = chunk_documents({"break": "break ends the loop", "pass": "pass does nothing"}, size=10)
    >>> [(c.source, round(s, 3)) for c, s in DenseRetriever(chunks, toy_embed).search("a loop question", k=2)]
    [('break', 1.0), ('pass', 0.18)]
    """
    name = "dense"

    def __init__(self, chunks, embed, vectors=None):
        self.chunks, self.embed = list(chunks), embed
        X = np.asarray(embed([c.text for c in self.chunks]) if vectors is None else vectors, dtype=np.float32)
        if X.ndim != 2 or len(X) != len(self.chunks):
            raise ValueError(f"need one vector per chunk: {len(self.chunks)} chunks, vectors of shape {X.shape}")
        self.index = VectorIndex(X.shape[1])
        self.index.add(X)

    def search(self, question: str, k: int = 3) -> list[tuple[Chunk, float]]:
        q = np.asarray(self.embed([_check_question(question)]), dtype=np.float32)[0]  # (d,)
        positions, scores = self.index.search_many(q[None, :], k)
        return [(self.chunks[i], float(s)) for i, s in zip(positions[0], scores[0])]

    def __call__(self, question: str, k: int = 3) -> list[Chunk]:
        return [chunk for chunk, _ in self.search(question, k)]
