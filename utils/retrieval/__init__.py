"""Retrieval for RAG, written for teaching (notebook 07; used again by 10 and 12): chunk, index, search, evaluate,
build the prompt.

Notebooks 07, 10 and 12 all import the package, ``from utils import retrieval``, and call every name through it
(``retrieval.BM25Retriever``, ``retrieval.tokenize``, ...): each name below is importable from ``utils.retrieval``
itself. Notebook 07 builds the pieces; 10 calls :func:`tokenize`, :func:`wordnet_retrieval_set` and
:func:`gold_ranks` directly (and :mod:`utils.rag` imports BM25, the prompt and the metrics from here); 12 searches
the text of a PDF, read with and without OCR, with :class:`BM25Retriever`. The exercises of 07 name the module that
holds the reference they mirror (``utils.retrieval.metrics.mrr``, ...).

The pieces of a retrieval-augmented pipeline, each small enough to read in one sitting, one module per section of
notebook 07:

- :mod:`.dataset` - :func:`python_docs` (the documents of sections 1-4, 7, 8) and :func:`wordnet_retrieval_set`
  (the labelled WordNet set: definitions = documents, examples = queries; section 5);
- :mod:`.chunking` - :func:`chunk_words` / :func:`chunk_documents`: overlapping word windows (section 2);
- :mod:`.dense` - :class:`VectorIndex`: exact cosine search over a matrix, saved to / loaded from ``.npz``
  (section 3); :func:`cosine_scores` and :func:`average_word_vectors` (section 5);
- :mod:`.lexical` - :func:`tokenize`, :class:`BM25` and :class:`TfidfIndex`: baselines that score by shared words
  (section 4);
- :mod:`.metrics` - :func:`recall_at_k`, :func:`mrr`, :func:`gold_ranks`, :func:`evaluate_scores` (section 5);
- :mod:`.faiss_index` - :class:`FaissIndex`: the same search through faiss, exact (flat) or approximate (HNSW, IVF)
  (section 6);
- :mod:`.retrievers` - :class:`BM25Retriever`, :class:`DenseRetriever`: question in, ranked ``(chunk, score)`` pairs
  out (sections 7 and 8);
- :mod:`.generation` - :func:`build_prompt`, :func:`extractive_answer`, :func:`generate_with_llm`, :func:`answer`:
  the "A and G" (section 7);
- :func:`top_k_from_scores` (from :mod:`utils.vectors`), the top-k step all the searchers above share.

Bad input (empty query, k larger than the collection, vectors of the wrong length, an index file of another
version) raises a one-line ValueError.

>>> from utils import retrieval
>>> chunks = retrieval.chunk_documents({"break": "break ends the loop", "pass": "pass does nothing"}, size=10)
>>> retrieval.answer("how do I end a loop", retrieval.BM25Retriever(chunks), k=1)["answer"]
'break ends the loop'
"""
from utils.vectors import top_k_from_scores
from utils.retrieval.chunking import Chunk, chunk_documents, chunk_words
from utils.retrieval.dataset import RetrievalSet, python_docs, wordnet_retrieval_set
from utils.retrieval.dense import INDEX_FORMAT, VectorIndex, average_word_vectors, cosine_scores
from utils.retrieval.faiss_index import FaissIndex
from utils.retrieval.generation import answer, build_prompt, extractive_answer, generate_with_llm, split_sentences
from utils.retrieval.lexical import BM25, TfidfIndex, tokenize
from utils.retrieval.metrics import evaluate_scores, gold_ranks, mrr, recall_at_k
from utils.retrieval.retrievers import BM25Retriever, DenseRetriever

__all__ = [
    "BM25", "BM25Retriever", "Chunk", "DenseRetriever", "FaissIndex", "INDEX_FORMAT", "RetrievalSet", "TfidfIndex",
    "VectorIndex", "answer", "average_word_vectors", "build_prompt", "chunk_documents", "chunk_words",
    "cosine_scores", "evaluate_scores", "extractive_answer", "generate_with_llm", "gold_ranks", "mrr",
    "python_docs", "recall_at_k", "split_sentences", "tokenize", "top_k_from_scores", "wordnet_retrieval_set",
]
