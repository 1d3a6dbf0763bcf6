"""Hybrid retrieval: BM25 and dense search fused by reciprocal rank fusion, then a late-interaction re-ranker.

- :class:`Encoder` - MiniLM (:mod:`utils.minilm`) giving, in ONE pass, a unit sentence vector per text (for the
  vector database) and unit token vectors (for the re-ranker), cached by text in memory and, for large batches,
  on disk in ``data/cache/`` (keyed by the model and a hash of the texts);
- :func:`reciprocal_rank_fusion` - merge ranked lists by ``sum 1 / (k + rank)``: no score scales to reconcile;
- :func:`maxsim` - late interaction (ColBERT's MaxSim): every query token finds its best-matching chunk token;
- :class:`HybridRetriever` - question in; BM25 ranks, dense ranks, fused ranking (and re-ranked) out, with an
  optional document-type filter applied to every retriever alike;
- :func:`cited_prompt` and :func:`answer` - numbered sources with their citations, and the ONE place an LLM plugs in
  (:func:`utils.retrieval.generate_with_llm`).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from utils.retrieval import BM25, build_prompt, extractive_answer, generate_with_llm, tokenize

# COURSE_CACHE_DIR moves the cache (the portability runs use a fresh one per simulated machine), as in notebook 05
CACHE_DIR = Path(os.environ.get("COURSE_CACHE_DIR")
                 or Path(__file__).resolve().parent.parent.parent / "data" / "cache")  # <repo>/data/cache
_CACHE_FORMAT = 1  # bump when what is stored changes, so old files are never read as new ones

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
    """MiniLM sentence vectors and token vectors in one pass, cached by text (``embed`` is what ingest wants).

    Token vectors are kept as float16 (they only feed MaxSim's sums of cosines; half the memory and disk). A batch of
    at least ``min_disk`` new texts is also saved under ``cache_dir`` (default ``data/cache/``, or the folder named
    by ``COURSE_CACHE_DIR``) in a file named after the model and the SHA-1 of the texts, and read back on the next
    run instead of encoding again; a missing or unreadable file is simply computed and written again. Pass
    ``cache_dir=False`` to keep everything in memory. With your own ``model`` give ``model_name`` too, so its
    vectors are never mixed up with MiniLM's.
    """

    def __init__(self, model=None, batch_size: int = 32, device: str = "cpu", cache_dir=None,
                 model_name: str | None = None, min_disk: int = 16):
        if model is not None and cache_dir not in (None, False) and model_name is None:
            raise ValueError("with your own model and a disk cache, also give model_name= (it keys the cache files)")
        if model is None:
            from utils.minilm import PACKAGE
            model_name = model_name or PACKAGE
        self._model, self.device, self.batch_size = model, device, batch_size
        self.model_name = model_name
        if cache_dir is None:
            cache_dir = CACHE_DIR if model is None or model_name else False
        self.cache_dir = Path(cache_dir) if cache_dir is not False else None
        self.min_disk = min_disk
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def model(self):
        """The sentence-transformers model, loaded on first use (a run that finds every text cached never loads it)."""
        if self._model is None:
            from utils.minilm import load_sentence_model
            self._model = load_sentence_model(self.device)
        return self._model

    def cache_path(self, texts) -> Path | None:
        """The disk file for this batch of texts (None: no disk cache)."""
        if self.cache_dir is None:
            return None
        digest = hashlib.sha1()
        digest.update(f"{self.model_name}\x01{self.batch_size}\x01{_CACHE_FORMAT}\x01".encode())
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass") + b"\x00")
        return self.cache_dir / f"rag_encoder_{digest.hexdigest()[:16]}.npz"

    def _load(self, path: Path, todo: list[str]) -> bool:
        try:
            with np.load(path, allow_pickle=False) as data:
                sentences, tokens, lengths = data["sentences"], data["tokens"], data["lengths"]
        except (OSError, ValueError, KeyError):
            return False                                           # unreadable: encode again and overwrite it
        if len(sentences) != len(todo) or len(lengths) != len(todo) or lengths.sum() != len(tokens):
            return False
        ends = np.cumsum(lengths)
        for text, sentence, end, n in zip(todo, sentences, ends, lengths):
            self._cache[text] = (sentence, tokens[end - n:end])
        return True

    def _save(self, path: Path, todo: list[str]) -> None:
        sentences = np.stack([self._cache[t][0] for t in todo])                     # (n, 384) float32
        tokens = np.concatenate([self._cache[t][1] for t in todo])                  # (total tokens, 384) float16
        lengths = np.array([len(self._cache[t][1]) for t in todo], dtype=np.int64)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # per process: two kernels may encode at once
        np.savez(tmp, sentences=sentences, tokens=tokens, lengths=lengths)
        tmp.replace(path)

    def _encode(self, texts: list[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if not todo:
            return
        path = self.cache_path(todo) if len(todo) >= self.min_disk else None
        if path is not None and path.exists() and self._load(path, todo):
            return
        outputs = self.model.encode(todo, batch_size=self.batch_size, output_value=None, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        for text, out in zip(todo, outputs):
            mask = out["attention_mask"].bool()
            tokens = out["token_embeddings"][mask].float().cpu().numpy()[1:-1]   # drop [CLS] and [SEP]: (T, 384)
            tokens = tokens / np.linalg.norm(tokens, axis=1, keepdims=True).clip(1e-12)
            sentence = np.asarray(out["sentence_embedding"].float().cpu().numpy(), dtype=np.float32)   # (384,)
            self._cache[text] = (sentence, tokens.astype(np.float16))
        if path is not None:
            try:
                self._save(path, todo)
            except OSError:
                pass                                               # a read-only checkout still runs, only slower

    def embed(self, texts) -> np.ndarray:
        """list of n texts -> (n, 384) unit vectors."""
        texts = list(texts)
        self._encode(texts)
        return np.stack([self._cache[t][0] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def tokens(self, text: str) -> np.ndarray:
        """(T, 384) unit token vectors of one text, float16 (at most 254: MiniLM reads 256 word pieces)."""
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
