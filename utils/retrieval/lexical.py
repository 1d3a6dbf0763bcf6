"""Lexical baselines (notebook 07, section 4): score documents by the words they share with the query.

- :func:`tokenize` - lower-case word tokens, the tokenizer every lexical scorer here uses;
- :class:`BM25` - Okapi BM25 (Lucene variant) over token lists;
- :class:`TfidfIndex` - TF-IDF vectors compared by cosine.

>>> bm25 = BM25([tokenize(t) for t in ["The cat sat.", "A dog ran far away.", "A cat and a dog."]])
>>> bm25.search(tokenize("Where is the cat?"), k=1)[0].tolist()
[0]
"""
from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

from utils.vectors import top_k_from_scores
from utils.vectors import unit_rows

_WORD = re.compile(r"[a-z0-9_]+")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits, underscore); everything else separates words.

    The search tokenizer of BM25 and TF-IDF: it keeps numbers and Python names such as ``__init__`` because questions
    about code use them. Not the same rule as :func:`utils.wordnet.gloss_words`, the word2vec corpus tokenizer, which
    keeps contractions ("king's") and drops digits and underscores.

    >>> tokenize("How do I stop a `for` loop early? Use break.")
    ['how', 'do', 'i', 'stop', 'a', 'for', 'loop', 'early', 'use', 'break']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return _WORD.findall(text.lower())


def _check_corpus(corpus_tokens) -> list[list[str]]:
    if isinstance(corpus_tokens, str) or not hasattr(corpus_tokens, "__len__") or len(corpus_tokens) == 0:
        raise ValueError("corpus must be a non-empty list of token lists, e.g. [['a', 'cat'], ['a', 'dog']]")
    docs = [list(doc) for doc in corpus_tokens]
    if any(isinstance(doc, str) for doc in corpus_tokens):
        raise ValueError("each document must be a list of tokens, not a string: tokenize it first")
    return docs


def _check_query(query_tokens) -> list[str]:
    if isinstance(query_tokens, str):
        raise ValueError("the query must be a list of tokens, not a string: tokenize it first")
    query = list(query_tokens)
    if not query:
        raise ValueError("the query is empty: there is nothing to search for")
    return query


class BM25:
    """Okapi BM25, the Lucene variant (the default of the ``bm25s`` library), scores for every document at once.

    score(q, d) = sum over query tokens t of  idf(t) * tf / (tf + k1 * (1 - b + b * len(d) / avg_len))
    with idf(t) = log(1 + (N - df + 0.5) / (df + 0.5)), tf = count of t in d, df = number of documents with t.
    A repeated query token counts once per occurrence; unknown tokens add nothing.

    >>> bm25 = BM25([["the", "cat", "sat"], ["the", "dog", "ran", "far"], ["a", "cat", "and", "a", "dog"]])
    >>> [round(float(s), 4) for s in bm25.scores(["cat"])]
    [0.2118, 0.0, 0.169]
    >>> bm25.search(["dog"], k=2)[0].tolist()  # the shorter document wins
    [1, 2]
    """

    def __init__(self, corpus_tokens, k1: float = 1.5, b: float = 0.75):
        docs = _check_corpus(corpus_tokens)
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b, self.n_docs = k1, b, len(docs)
        self.doc_len = np.array([len(d) for d in docs], dtype=float)  # (N,)
        self.avg_len = max(float(self.doc_len.mean()), 1e-9)
        # Postings: token -> (document indices, counts). Only documents containing the token are stored.
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(docs):
            for token, count in Counter(doc).items():
                ids, counts = postings.setdefault(token, ([], []))
                ids.append(i)
                counts.append(count)
        self.postings = {t: (np.array(ids), np.array(c, dtype=float)) for t, (ids, c) in postings.items()}
        self.idf = {t: math.log(1 + (self.n_docs - len(ids) + 0.5) / (len(ids) + 0.5))
                    for t, (ids, _) in self.postings.items()}
        # the length normaliser depends on the document only: compute it once
        self._norm = self.k1 * (1 - self.b + self.b * self.doc_len / self.avg_len)  # (N,)

    def scores(self, query_tokens) -> np.ndarray:
        """BM25 score of every document for one tokenized query: shape (N,)."""
        query = _check_query(query_tokens)
        scores = np.zeros(self.n_docs)
        for token in query:
            if token in self.postings:
                ids, tf = self.postings[token]
                scores[ids] += self.idf[token] * tf / (tf + self._norm[ids])
        return scores

    def search(self, query_tokens, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Indices and scores of the ``k`` best documents, best first."""
        return top_k_from_scores(self.scores(query_tokens), k)


class TfidfIndex:
    """TF-IDF vectors with cosine similarity (the same numbers as scikit-learn's ``TfidfVectorizer`` defaults).

    weight(t, d) = count(t, d) * idf(t) with idf(t) = ln((1 + N) / (1 + df)) + 1; every document vector is scaled
    to length 1, so the dot product with a (also unit-length) query vector is their cosine.

    >>> tfidf = TfidfIndex([["the", "cat", "sat"], ["the", "dog", "ran"]])
    >>> [round(float(s), 4) for s in tfidf.scores(["cat"])]
    [0.6317, 0.0]
    """

    def __init__(self, corpus_tokens):
        docs = _check_corpus(corpus_tokens)
        from scipy.sparse import csr_matrix

        self.vocab = {t: i for i, t in enumerate(sorted({t for d in docs for t in d}))}
        rows, cols, vals = [], [], []
        for i, doc in enumerate(docs):
            for token, count in Counter(doc).items():
                rows.append(i)
                cols.append(self.vocab[token])
                vals.append(count)
        counts = csr_matrix((vals, (rows, cols)), shape=(len(docs), len(self.vocab)), dtype=float)
        df = np.bincount(cols, minlength=len(self.vocab))
        self.idf = np.log((1 + len(docs)) / (1 + df)) + 1  # (V,) the "+1"s keep it finite and positive
        weights = counts.multiply(self.idf[None, :]).tocsr()
        norms = np.sqrt(np.asarray(weights.multiply(weights).sum(axis=1))).ravel()
        norms[norms == 0] = 1.0  # an empty document stays a zero vector (it matches nothing)
        self.matrix = csr_matrix(weights.multiply(1 / norms[:, None]))  # (N, V), rows of length 1
        self.n_docs = len(docs)

    def query_vector(self, query_tokens) -> np.ndarray:
        """The unit-length TF-IDF vector of a query, shape (V,); all-zero when no query word is known."""
        query = _check_query(query_tokens)
        q = np.zeros(len(self.vocab))
        for token in query:
            if token in self.vocab:
                q[self.vocab[token]] += 1
        q *= self.idf
        return unit_rows(q[None, :])[0]                     # an unknown-words-only query stays all zero

    def scores(self, query_tokens) -> np.ndarray:
        """Cosine between the query and every document: shape (N,)."""
        return self.matrix @ self.query_vector(query_tokens)

    def search(self, query_tokens, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Indices and scores of the ``k`` best documents, best first."""
        return top_k_from_scores(self.scores(query_tokens), k)
