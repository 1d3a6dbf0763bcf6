"""Retrieval for RAG, written for teaching (notebook 07): chunk, index, search, evaluate, build the prompt.

The pieces of a retrieval-augmented pipeline, each small enough to read in one sitting:

- :func:`chunk_words` / :func:`chunk_documents` - split text into overlapping word windows (section 2);
- :class:`BM25` and :class:`TfidfIndex` - lexical baselines that score by shared words (section 4);
- :class:`VectorIndex` - exact cosine search over a matrix, saved to / loaded from ``.npz`` (section 3);
- :class:`FaissIndex` - the same search through faiss, exact (flat) or approximate (HNSW, IVF) (section 6);
- :func:`recall_at_k`, :func:`mrr`, :func:`gold_ranks`, :func:`evaluate_scores` - metrics (section 5);
- :func:`wordnet_retrieval_set` - the labelled WordNet set (definitions = documents, examples = queries);
- :class:`BM25Retriever`, :class:`DenseRetriever` - question in, ranked ``(chunk, score)`` pairs out;
- :func:`build_prompt`, :func:`extractive_answer`, :func:`generate_with_llm`, :func:`answer` - the "A and G"
  (section 7).

Bad input (empty query, k larger than the collection, vectors of the wrong length, an index file of another
version) raises a one-line ValueError.
"""
from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.vectors import normalize_rows, to_numpy

INDEX_FORMAT = "course-vector-index-v1"  # written into every saved VectorIndex; load() refuses any other value

_WORD = re.compile(r"[a-z0-9_]+")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits, underscore); everything else separates words.

    >>> tokenize("How do I stop a `for` loop early? Use break.")
    ['how', 'do', 'i', 'stop', 'a', 'for', 'loop', 'early', 'use', 'break']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return _WORD.findall(text.lower())


# ---------------------------------------------------------------------------------------------------------------
# Chunking (section 2)

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


_UNDERLINE = re.compile(r"^\s*([*=\-^~])\1{2,}\s*$", re.M)  # a line like "*******" under a heading


@functools.lru_cache(maxsize=2)
def python_docs(clean: bool = True) -> dict[str, str]:
    """Python's own reference documentation shipped with the standard library (``pydoc_data.topics``): 79 topics.

    Topic name -> plain text, for example ``python_docs()["break"]`` starts with 'The "break" statement'.
    ``clean`` drops the lines of ``*****`` that underline headings (they are not words anyone searches for).

    >>> python_docs()["break"].splitlines()[0]
    'The "break" statement'
    """
    from pydoc_data.topics import topics
    if not clean:
        return {name: topics[name] for name in sorted(topics)}
    return {name: _UNDERLINE.sub("", topics[name]) for name in sorted(topics)}


# ---------------------------------------------------------------------------------------------------------------
# Lexical baselines (section 4)

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


def _check_k(k, n: int) -> int:
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and {n} (the size of the collection), got {k!r}")
    return int(k)


def top_k_from_scores(scores, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest scores, best first; ties go to the smaller index.

    Works on one score vector (n,) or a batch (q, n); uses a partial sort, so it stays fast for large n.

    >>> idx, val = top_k_from_scores(np.array([0.1, 0.9, 0.5, 0.9]), 3)
    >>> idx.tolist(), val.tolist()
    ([1, 3, 2], [0.9, 0.9, 0.5])
    """
    scores = np.asarray(scores)
    if scores.ndim == 2:
        pairs = [top_k_from_scores(row, k) for row in scores]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D (n,) or 2-D (queries, n), got shape {scores.shape}")
    k = _check_k(k, len(scores))
    # The k-th largest value is a threshold; keep everything at or above it (ties included), then order exactly.
    threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
    candidates = np.flatnonzero(scores >= threshold)
    order = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
    return order, scores[order]


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
        norm = np.linalg.norm(q)
        return q / norm if norm > 0 else q

    def scores(self, query_tokens) -> np.ndarray:
        """Cosine between the query and every document: shape (N,)."""
        return self.matrix @ self.query_vector(query_tokens)

    def search(self, query_tokens, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Indices and scores of the ``k`` best documents, best first."""
        return top_k_from_scores(self.scores(query_tokens), k)


# ---------------------------------------------------------------------------------------------------------------
# Exact vector search (section 3)

class VectorIndex:
    """Exact cosine search: store unit-length rows, answer a query with one matrix-vector product.

    >>> index = VectorIndex(dim=2)
    >>> index.add([[1, 0], [0, 1], [1, 1]], ids=["east", "north", "north-east"])
    >>> ids, scores = index.search([1, 0.2], k=2)
    >>> ids, [round(float(s), 3) for s in scores]
    (['east', 'north-east'], [0.981, 0.832])
    """

    def __init__(self, dim: int):
        if not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self.vectors = np.zeros((0, self.dim), dtype=np.float32)  # (n, dim), unit rows
        self.ids: list = []

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, vectors, ids=None) -> None:
        """Append vectors (n, dim) with their ids (default: running numbers). Zero vectors are refused."""
        X = to_numpy(vectors, "vectors")
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"dimension mismatch: the index holds {self.dim}-dim vectors, got shape {X.shape}")
        ids = list(range(len(self), len(self) + len(X))) if ids is None else list(ids)
        if len(ids) != len(X):
            raise ValueError(f"got {len(X)} vectors but {len(ids)} ids")
        self.vectors = np.vstack([self.vectors, normalize_rows(X).astype(np.float32)])
        self.ids.extend(ids)

    def search_many(self, queries, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Positions (q, k) and cosine scores (q, k) of the best rows for a batch of queries (q, dim)."""
        Q = to_numpy(queries, "queries")
        if Q.ndim == 1:
            Q = Q[None, :]
        if Q.ndim != 2 or Q.shape[1] != self.dim:
            raise ValueError(f"dimension mismatch: the index holds {self.dim}-dim vectors, "
                             f"queries have shape {Q.shape}")
        if len(self) == 0:
            raise ValueError("the index is empty: add vectors before searching")
        _check_k(k, len(self))
        scores = normalize_rows(Q).astype(np.float32) @ self.vectors.T  # (q, n): all cosines at once
        return top_k_from_scores(scores, k)

    def search(self, query, k: int = 5) -> tuple[list, np.ndarray]:
        """The ids and cosine scores of the ``k`` most similar stored vectors to one query, best first."""
        q = to_numpy(query, "query")
        if q.ndim != 1:
            raise ValueError(f"search takes one query vector (dim,), got shape {q.shape}: use search_many")
        positions, scores = self.search_many(q[None, :], k)
        return [self.ids[i] for i in positions[0]], scores[0]

    def save(self, path) -> Path:
        """Write vectors, ids and a format tag to a ``.npz`` file (the suffix is added if missing); returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")  # np.savez would add it silently; say so in the returned path
        ids = np.array(self.ids) if self.ids else np.zeros(0, dtype=np.int64)
        if ids.dtype.kind not in "iuU":
            raise ValueError(f"ids must all be integers or all be strings to be saved, got {ids.dtype} values")
        np.savez(path, format=np.array(INDEX_FORMAT), dim=np.array(self.dim), vectors=self.vectors, ids=ids)
        return path

    @classmethod
    def load(cls, path) -> "VectorIndex":
        """Read an index written by :meth:`save`; a missing, damaged or other-version file -> one-line ValueError."""
        path = Path(path)
        if not path.exists() and path.suffix != ".npz" and path.with_name(path.name + ".npz").exists():
            path = path.with_name(path.name + ".npz")
        if not path.exists():
            raise ValueError(f"no index file at {path}")
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as exc:  # not a zip / npz at all
            raise ValueError(f"{path.name} is not a saved VectorIndex (.npz): {type(exc).__name__}") from None
        if not hasattr(data, "files"):
            raise ValueError(f"{path.name} holds a single array, not a saved VectorIndex (.npz)")
        with data:
            found = str(data["format"]) if "format" in data.files else "no format tag"
            if found != INDEX_FORMAT:
                raise ValueError(f"{path.name} is not a {INDEX_FORMAT} file (found {found!r}): rebuild the index")
            missing = {"dim", "vectors", "ids"} - set(data.files)
            if missing:
                raise ValueError(f"{path.name} is damaged: missing {', '.join(sorted(missing))}")
            vectors, ids = data["vectors"], data["ids"].tolist()
            index = cls(dim=int(data["dim"]))
        if vectors.ndim != 2 or vectors.shape[1] != index.dim or len(ids) != len(vectors):
            raise ValueError(f"{path.name} is damaged: vectors {vectors.shape}, {len(ids)} ids, dim {index.dim}")
        index.vectors = vectors.astype(np.float32)
        index.ids = ids
        return index


def cosine_scores(queries, documents) -> np.ndarray:
    """(q, d) x (n, d) -> (q, n) cosines. Unlike ``pairwise_cosine`` a zero row is allowed: it scores 0 with all.

    Used for averaged word vectors, where a text with no known word has no vector.

    >>> cosine_scores([[1, 0], [0, 0]], [[2, 0], [1, 1]]).round(4).tolist()
    [[1.0, 0.7071], [0.0, 0.0]]
    """
    def unit(X, name):
        X = to_numpy(X, name)
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms == 0, 1.0, norms)
    Q, D = unit(queries, "queries"), unit(documents, "documents")
    if Q.shape[1] != D.shape[1]:
        raise ValueError(f"dimension mismatch: queries have {Q.shape[1]} numbers, documents {D.shape[1]}")
    return Q @ D.T


def average_word_vectors(texts, wv, tokenizer=tokenize) -> tuple[np.ndarray, np.ndarray]:
    """One vector per text: the mean of the word vectors of its known words (notebook 05's SGNS vectors).

    ``wv`` needs ``word in wv``, ``wv.index(word)`` and ``wv.vectors`` (V, d). Returns the (n, d) matrix and a
    boolean mask of the texts that had at least one known word (the others get a zero row).
    """
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not one string")
    d = np.asarray(wv.vectors).shape[1]
    out = np.zeros((len(texts), d), dtype=np.float32)
    covered = np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        rows = [wv.index(w) for w in tokenizer(text) if w in wv]
        if rows:
            out[i] = np.asarray(wv.vectors)[rows].mean(axis=0)
            covered[i] = True
    return out, covered


# ---------------------------------------------------------------------------------------------------------------
# faiss (section 6)

class FaissIndex:
    """Cosine search through faiss: ``kind`` "flat" (exact), "hnsw" (graph, approximate) or "ivf" (clusters).

    Vectors are scaled to unit length and compared by inner product, so scores are cosines like VectorIndex's.
    ``threads=1`` (the default) keeps builds and results reproducible.

    >>> index = FaissIndex(dim=2, kind="flat")
    >>> index.add(np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32))
    >>> index.search(np.array([[1, 0.2]], dtype=np.float32), k=2)[0].tolist()
    [[0, 2]]
    """

    def __init__(self, dim: int, kind: str = "flat", *, hnsw_m: int = 32, ef_construction: int = 64,
                 ef_search: int = 64, n_lists: int = 256, n_probe: int = 16, threads: int | None = 1, seed: int = 0):
        import faiss

        if not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if threads is not None:
            faiss.omp_set_num_threads(threads)
        self.faiss, self.dim, self.kind, self.seed = faiss, int(dim), kind, seed
        ip = faiss.METRIC_INNER_PRODUCT
        if kind == "flat":
            self.index = faiss.IndexFlatIP(self.dim)
        elif kind == "hnsw":
            self.index = faiss.IndexHNSWFlat(self.dim, hnsw_m, ip)
            self.index.hnsw.efConstruction = ef_construction
            self.index.hnsw.efSearch = ef_search
        elif kind == "ivf":
            self.quantizer = faiss.IndexFlatIP(self.dim)
            self.index = faiss.IndexIVFFlat(self.quantizer, self.dim, n_lists, ip)
            self.index.nprobe = n_probe
            self.index.cp.seed = seed  # k-means initialisation
        else:
            raise ValueError(f"kind must be 'flat', 'hnsw' or 'ivf', got {kind!r}")

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def _prepare(self, X, name):
        X = to_numpy(X, name)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"dimension mismatch: the index holds {self.dim}-dim vectors, {name} have shape {X.shape}")
        return np.ascontiguousarray(normalize_rows(X), dtype=np.float32)

    def add(self, vectors) -> None:
        """Add (n, dim) vectors; an IVF index is first trained (k-means) on them."""
        X = self._prepare(vectors, "vectors")
        if not self.index.is_trained:
            self.index.train(X)
        self.index.add(X)

    def search(self, queries, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Positions (q, k) and cosine scores (q, k), best first."""
        Q = self._prepare(queries, "queries")
        if len(self) == 0:
            raise ValueError("the index is empty: add vectors before searching")
        k = _check_k(k, len(self))
        scores, positions = self.index.search(Q, k)
        return positions, scores


# ---------------------------------------------------------------------------------------------------------------
# Metrics (section 5)

def _gold_sets(gold, n: int) -> list[set]:
    if len(gold) != n:
        raise ValueError(f"got {n} ranked lists but {len(gold)} gold answers: one per query")
    return [set(g) if isinstance(g, (set, frozenset, list, tuple)) else {g} for g in gold]


def recall_at_k(ranked, gold, k: int) -> float:
    """Mean over queries of the fraction of a query's relevant documents found in its first ``k`` results.

    ``ranked``: one list of document ids per query, best first. ``gold``: per query one relevant id, or a set.
    With one relevant document per query this is the share of queries whose answer is in the top k.

    >>> recall_at_k([[3, 1, 2], [0, 2, 1]], gold=[1, 1], k=2)
    0.5
    >>> recall_at_k([[3, 1, 2]], gold=[{1, 2}], k=2)
    0.5
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    ranked = [list(r) for r in ranked]
    if not ranked:
        raise ValueError("no queries to evaluate")
    golds = _gold_sets(gold, len(ranked))
    return float(np.mean([len(g & set(r[:k])) / len(g) for r, g in zip(ranked, golds)]))


def mrr(ranked, gold) -> float:
    """Mean reciprocal rank: average of 1 / (position of the first relevant result), 0 when none was retrieved.

    >>> mrr([[3, 1, 2], [1, 0, 2], [0, 2, 3]], gold=[1, 1, 1])
    0.5
    """
    ranked = [list(r) for r in ranked]
    if not ranked:
        raise ValueError("no queries to evaluate")
    golds = _gold_sets(gold, len(ranked))
    total = 0.0
    for r, g in zip(ranked, golds):
        for position, doc in enumerate(r, start=1):
            if doc in g:
                total += 1 / position
                break
    return total / len(ranked)


def gold_ranks(scores, gold) -> np.ndarray:
    """Rank (1 = best) of each query's single gold document in a full score matrix (q, n); ties -> smaller index first.

    Cheaper than sorting: count the documents that beat the gold one.

    >>> gold_ranks(np.array([[0.1, 0.9, 0.5], [0.3, 0.3, 0.2]]), gold=[2, 1]).tolist()
    [2, 2]
    """
    S = np.asarray(scores)
    g = np.asarray(gold)
    if S.ndim != 2 or g.shape != (S.shape[0],):
        raise ValueError(f"need scores (q, n) and one gold index per query, got {S.shape} and {g.shape}")
    gold_score = S[np.arange(len(g)), g][:, None]
    before = (S > gold_score) | ((S == gold_score) & (np.arange(S.shape[1])[None, :] < g[:, None]))
    return before.sum(axis=1) + 1


def evaluate_scores(scores, gold, ks=(1, 5, 10)) -> dict[str, float]:
    """recall@k for every k in ``ks`` and MRR, from a full score matrix (q, n) and one gold index per query.

    >>> evaluate_scores(np.array([[0.1, 0.9, 0.5], [0.3, 0.3, 0.2]]), [1, 1], ks=(1, 2))
    {'recall@1': 0.5, 'recall@2': 1.0, 'MRR': 0.75}
    """
    ranks = gold_ranks(scores, gold)
    result = {f"recall@{k}": float(np.mean(ranks <= k)) for k in ks}
    result["MRR"] = float(np.mean(1 / ranks))
    return result


# ---------------------------------------------------------------------------------------------------------------
# The labelled WordNet set (section 5)

@dataclass(frozen=True)
class RetrievalSet:
    """Documents, queries and the index of each query's relevant document."""
    documents: tuple[str, ...]  # sense definitions
    doc_ids: tuple[str, ...]    # WordNet synset ids of the documents
    lemmas: tuple[str, ...]     # the words of each sense, for display ("bank, depository financial institution")
    queries: tuple[str, ...]    # usage examples
    gold: np.ndarray            # (n_queries,) index into documents


@functools.lru_cache(maxsize=4)
def wordnet_retrieval_set(n_docs: int = 2000, n_queries: int = 500, seed: int = 0) -> RetrievalSet:
    """A labelled retrieval set from WordNet 3.0: definitions are documents, usage examples are queries.

    Senses with at least one example and a definition of 4+ words are shuffled with ``seed``; the first ``n_docs``
    become documents, and the first example of the first ``n_queries`` of them become the queries (gold = own sense).
    Same arguments, same set, on every machine.
    """
    from utils.wordnet import load_synsets

    if not 1 <= n_queries <= n_docs:
        raise ValueError(f"need 1 <= n_queries <= n_docs, got n_queries={n_queries}, n_docs={n_docs}")
    pool = [s for s in load_synsets() if s.examples and len(s.definition.split()) >= 4]
    if n_docs > len(pool):
        raise ValueError(f"n_docs must be at most {len(pool)}, got {n_docs}")
    order = np.random.default_rng(seed).permutation(len(pool))[:n_docs]
    chosen = [pool[i] for i in order]
    return RetrievalSet(
        documents=tuple(s.definition for s in chosen),
        doc_ids=tuple(s.id for s in chosen),
        lemmas=tuple(", ".join(s.lemmas) for s in chosen),
        queries=tuple(s.examples[0] for s in chosen[:n_queries]),
        gold=np.arange(n_queries),
    )


# ---------------------------------------------------------------------------------------------------------------
# Retrievers over chunks: question in, ranked (chunk, score) pairs out (sections 7 and 8)

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


# ---------------------------------------------------------------------------------------------------------------
# Augment and generate (section 7)

def build_prompt(question: str, chunks, max_chunks: int | None = None) -> str:
    """The prompt an LLM would receive: instructions, numbered sources (best first), then the question.

    ``chunks`` are :class:`Chunk` objects or ``(source, text)`` pairs, already ranked.

    >>> print(build_prompt("What stops a loop?", [("break", "break ends the loop."), ("continue", "continue skips.")]))
    Answer the question using only the sources below. Cite the sources you use as [1], [2], ...
    If the sources do not contain the answer, say so.
    <BLANKLINE>
    [1] (source: break) break ends the loop.
    [2] (source: continue) continue skips.
    <BLANKLINE>
    Question: What stops a loop?
    Answer:
    """
    if not isinstance(question, str) or not question.strip():
        raise ValueError("the question is empty")
    pairs = [(c.source, c.text) if isinstance(c, Chunk) else tuple(c) for c in chunks]
    if not pairs:
        raise ValueError("no chunks to put in the prompt: retrieve something first")
    pairs = pairs[:max_chunks] if max_chunks else pairs
    lines = ["Answer the question using only the sources below. Cite the sources you use as [1], [2], ...",
             "If the sources do not contain the answer, say so.", ""]
    lines += [f"[{i}] (source: {source}) {' '.join(text.split())}" for i, (source, text) in enumerate(pairs, start=1)]
    lines += ["", f"Question: {question.strip()}", "Answer:"]
    return "\n".join(lines)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """Rough sentence split at '.', '!' or '?' followed by white space.

    >>> split_sentences("One. Two!  Three")
    ['One.', 'Two!', 'Three']
    """
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def extractive_answer(question: str, chunks, embed=None) -> tuple[str, str]:
    """The stand-in for generation: the single sentence of the retrieved chunks that best matches the question.

    With ``embed`` (a function list[str] -> (n, d) array) sentences are ranked by cosine to the question;
    without it, by BM25 over the sentences. Returns ``(sentence, source)``. It can only copy, never reason.

    >>> extractive_answer("which statement ends a loop", [("break", "It is short. The break statement ends a loop.")])
    ('The break statement ends a loop.', 'break')
    """
    if not isinstance(question, str) or not question.strip():
        raise ValueError("the question is empty")
    pairs = [(c.source, c.text) if isinstance(c, Chunk) else tuple(c) for c in chunks]
    sentences = [(s, source) for source, text in pairs for s in split_sentences(text)]
    if not sentences:
        raise ValueError("no sentences to answer from: retrieve something first")
    if embed is None:
        tokens = [tokenize(s) or ["<empty>"] for s, _ in sentences]
        query = tokenize(question) or ["<empty>"]
        scores = BM25(tokens).scores(query)
    else:
        vectors = np.asarray(embed([question] + [s for s, _ in sentences]))
        scores = cosine_scores(vectors[:1], vectors[1:])[0]
    best = int(top_k_from_scores(scores, 1)[0][0])
    return sentences[best]


def generate_with_llm(prompt: str) -> str | None:
    """*** THE PLACE WHERE A REAL LLM PLUGS IN ***

    Send ``prompt`` to a language model and return its text, for example (not run in this course, which is offline)::

        from openai import OpenAI
        return OpenAI().chat.completions.create(model=..., messages=[{"role": "user", "content": prompt}]
                                                ).choices[0].message.content

    or a local model through ``transformers.pipeline("text-generation", ...)``. This offline course returns None,
    and :func:`answer` then falls back to :func:`extractive_answer`.
    """
    return None


def answer(question: str, retrieve, k: int = 3, generate=generate_with_llm, embed=None) -> dict:
    """The whole RAG loop: retrieve ``k`` chunks, build the prompt, generate (or extract) an answer.

    ``retrieve(question, k)`` returns ranked chunks (:class:`Chunk` or ``(source, text)``). The result holds the
    prompt, the answer text, the sources it came from, and who produced it ("llm" or "extractive").
    ``embed`` is passed on to :func:`extractive_answer` when no LLM answers.
    """
    chunks = list(retrieve(question, k))
    prompt = build_prompt(question, chunks)
    generated = generate(prompt)
    if generated is not None:
        return {"prompt": prompt, "answer": generated, "sources": [c.source if isinstance(c, Chunk) else c[0]
                                                                  for c in chunks], "by": "llm"}
    sentence, source = extractive_answer(question, chunks, embed=embed)
    return {"prompt": prompt, "answer": sentence, "sources": [source], "by": "extractive"}
