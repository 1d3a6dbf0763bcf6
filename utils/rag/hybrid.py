"""Hybrid retrieval: BM25 and dense search fused by reciprocal rank fusion, then a late-interaction re-ranker.

- :class:`Encoder` - MiniLM (:mod:`utils.minilm`) giving, in ONE pass, a unit sentence vector per text (for the
  vector database) and unit token vectors (for the re-ranker), cached by text;
- :func:`reciprocal_rank_fusion` - merge ranked lists by ``sum 1 / (k + rank)``: no score scales to reconcile;
- :func:`maxsim` - late interaction (ColBERT's MaxSim): every query token finds its best-matching chunk token;
- :class:`HybridRetriever` - question in; BM25 ranks, dense ranks, fused ranking (and re-ranked) out, with an
  optional document-type filter applied to every retriever alike;
- :func:`cited_prompt` and :func:`answer` - numbered sources with their citations, and the ONE place an LLM plugs in
  (:func:`utils.retrieval.generate_with_llm`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from utils.retrieval import BM25, build_prompt, extractive_answer, generate_with_llm, tokenize

RRF_K = 60  # the constant of the original RRF paper (Cormack et al., 2009); it damps the weight of the top ranks


def reciprocal_rank_fusion(rankings, k: int = RRF_K) -> list[tuple[object, float]]:
    """Fuse ranked lists of ids: each id scores ``sum over lists of 1 / (k + rank)`` (rank 1 = best); an id a list
    does not contain gets nothing from it. Best first; ties keep the order in which ids were first seen.

    >>> [(d, round(s, 4)) for d, s in reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60)]
    [('a', 0.0325), ('c', 0.0323), ('b', 0.0161)]
    """
    if isinstance(rankings, (str, bytes)) or not all(isinstance(r, (list, tuple)) for r in rankings):
        raise ValueError("rankings must be a list of ranked lists of ids, e.g. [['a', 'b'], ['b', 'c']]")
    if not isinstance(k, (int, float)) or k < 0:
        raise ValueError(f"k must be a number >= 0, got {k!r}")
    scores: dict = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    order = {doc: i for i, doc in enumerate(scores)}  # first appearance, for ties
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def maxsim(query_tokens, doc_tokens) -> float:
    """Late interaction: for each query token vector the best cosine with any document token vector, summed.

    Both inputs are (tokens, d) arrays of unit rows. Unlike one vector per text, word-level matches survive.

    >>> round(maxsim(np.eye(3)[:2], np.eye(3)[[1, 2]]), 3)   # token 0 finds nothing, token 1 an exact match
    1.0
    """
    Q, D = np.asarray(query_tokens, dtype=np.float32), np.asarray(doc_tokens, dtype=np.float32)
    if Q.ndim != 2 or D.ndim != 2 or Q.shape[1] != D.shape[1]:
        raise ValueError(f"need (q_tokens, d) and (doc_tokens, d) arrays, got {Q.shape} and {D.shape}")
    return float((Q @ D.T).max(axis=1).sum())  # (Tq, Td) -> best per query token -> sum


class Encoder:
    """MiniLM sentence vectors and token vectors in one pass, cached by text (``embed`` is what ingest wants)."""

    def __init__(self, model=None, batch_size: int = 32, device: str = "cpu"):
        if model is None:
            from utils.minilm import load_sentence_model
            model = load_sentence_model(device)
        self.model, self.batch_size = model, batch_size
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _encode(self, texts: list[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if not todo:
            return
        outputs = self.model.encode(todo, batch_size=self.batch_size, output_value=None, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        for text, out in zip(todo, outputs):
            mask = out["attention_mask"].bool()
            tokens = out["token_embeddings"][mask].float().cpu().numpy()[1:-1]   # drop [CLS] and [SEP]: (T, 384)
            tokens = tokens / np.linalg.norm(tokens, axis=1, keepdims=True).clip(1e-12)
            sentence = np.asarray(out["sentence_embedding"].float().cpu().numpy(), dtype=np.float32)   # (384,)
            self._cache[text] = (sentence, tokens.astype(np.float32))

    def embed(self, texts) -> np.ndarray:
        """list of n texts -> (n, 384) unit vectors."""
        texts = list(texts)
        self._encode(texts)
        return np.stack([self._cache[t][0] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def tokens(self, text: str) -> np.ndarray:
        """(T, 384) unit token vectors of one text (at most 254: MiniLM reads 256 word pieces)."""
        self._encode([text])
        return self._cache[text][1]


@dataclass
class Hit:
    """One fused result: the chunk, its fused score, and its rank in each retriever (None = not in its top)."""
    chunk: object
    score: float
    ranks: dict = field(default_factory=dict)
    rerank_score: float | None = None


class HybridRetriever:
    """BM25 over every stored chunk + dense search in the vector store, fused with RRF; optional MaxSim re-ranking.

    ``store``: a :class:`~utils.rag.vectordb.VectorStore`; ``encoder``: an :class:`Encoder` (or anything with
    ``embed`` and ``tokens``). BM25 is built from the chunks in the store, so both retrievers see the same chunks.
    """

    def __init__(self, store, encoder, depth: int = 20, rrf_k: int = RRF_K):
        self.store, self.encoder, self.depth, self.rrf_k = store, encoder, depth, rrf_k
        self.chunks = store.chunks()
        if not self.chunks:
            raise ValueError("the store is empty: ingest documents first")
        self.by_id = {c.chunk_id: c for c in self.chunks}
        self.bm25 = BM25([tokenize(c.text) or ["<empty>"] for c in self.chunks])
        self.types = np.array([c.doc_type for c in self.chunks])

    def bm25_ranking(self, question: str, doc_type=None) -> list[str]:
        """Chunk ids by BM25, best first (only chunks sharing a word with the question; of ``doc_type`` if given)."""
        scores = self.bm25.scores(tokenize(question) or ["<empty>"])   # (n_chunks,)
        keep = scores > 0
        if doc_type is not None:
            keep &= np.isin(self.types, [doc_type] if isinstance(doc_type, str) else list(doc_type))
        order = [i for i in np.lexsort((np.arange(len(scores)), -scores)) if keep[i]][: self.depth]
        return [self.chunks[i].chunk_id for i in order]

    def dense_ranking(self, question: str, doc_type=None) -> list[str]:
        """Chunk ids by cosine of MiniLM vectors, from the vector database (filter applied inside the search)."""
        vector = self.encoder.embed([question])[0]
        return [c.chunk_id for c, _ in self.store.search(vector, k=self.depth, doc_type=doc_type)]

    def _lists(self, question: str, doc_type=None) -> dict[str, list[str]]:
        if not isinstance(question, str) or not question.strip():
            raise ValueError("the question is empty: there is nothing to search for")
        return {"bm25": self.bm25_ranking(question, doc_type), "dense": self.dense_ranking(question, doc_type)}

    def _fuse(self, question: str, lists: dict, rerank: bool) -> list[Hit]:
        fused = reciprocal_rank_fusion([lists["bm25"], lists["dense"]], k=self.rrf_k)[: self.depth]
        hits = [Hit(self.by_id[cid], score, {name: (ranking.index(cid) + 1 if cid in ranking else None)
                                             for name, ranking in lists.items()}) for cid, score in fused]
        if rerank and hits:
            q_tokens = self.encoder.tokens(question)
            for hit in hits:
                hit.rerank_score = maxsim(q_tokens, self.encoder.tokens(hit.chunk.text))
            hits.sort(key=lambda h: -h.rerank_score)  # stable: ties keep the fused order
        return hits

    def search(self, question: str, k: int = 5, doc_type=None, rerank: bool = False) -> list[Hit]:
        """The fused top ``k`` (each with its BM25 and dense rank); ``rerank`` re-orders the fused top ``depth``
        by MaxSim and then keeps ``k``."""
        return self._fuse(question, self._lists(question, doc_type), rerank)[:k]

    def rankings(self, question: str, doc_type=None) -> dict[str, list[str]]:
        """The four rankings compared in the evaluation (chunk ids, best first, at most ``depth`` each):
        bm25, dense, hybrid (RRF of the two) and hybrid+rerank (the fused list re-ordered by MaxSim)."""
        lists = self._lists(question, doc_type)
        fused = self._fuse(question, lists, rerank=False)
        lists["hybrid"] = [h.chunk.chunk_id for h in fused]
        reranked = self._fuse(question, {"bm25": lists["bm25"], "dense": lists["dense"]}, rerank=True)
        lists["hybrid+rerank"] = [h.chunk.chunk_id for h in reranked]
        return lists


def cited_prompt(question: str, chunks) -> str:
    """Notebook 07's prompt with each source named by its citation (file and page / section / lines).

    >>> from utils.rag.ingest import DocChunk
    >>> print(cited_prompt("Why?", [DocChunk("n.pdf", 0, "Because.", "pdf", page=2)]).splitlines()[3])
    [1] (source: n.pdf, page 2) Because.
    """
    return build_prompt(question, [(c.citation(), c.text) for c in chunks])


def answer(question: str, retriever: HybridRetriever, k: int = 3, doc_type=None, generate=generate_with_llm,
           rerank: bool = True) -> dict:
    """Retrieve, build the cited prompt, and call ``generate(prompt)`` - the one place where an LLM plugs in.

    With no LLM (``generate`` returns None, as the course's offline default does) the answer is the best-matching
    sentence of the retrieved chunks (notebook 07's extractive stand-in), with its citation.
    """
    chunks = [h.chunk for h in retriever.search(question, k=k, doc_type=doc_type, rerank=rerank)]
    prompt = cited_prompt(question, chunks)
    text = generate(prompt)
    if text is not None:
        return {"prompt": prompt, "answer": text, "sources": [c.citation() for c in chunks], "by": "llm"}
    sentence, source = extractive_answer(question, [(c.citation(), c.text) for c in chunks])
    return {"prompt": prompt, "answer": sentence, "sources": [source], "by": "extractive"}
