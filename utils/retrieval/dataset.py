"""The collections notebook 07 searches: Python's reference documentation (sections 1-4, 7, 8) and the labelled
WordNet set (section 5).

- :func:`python_docs` - the 79 topics of ``pydoc_data.topics``, topic name -> plain text;
- :class:`RetrievalSet` / :func:`wordnet_retrieval_set` - definitions as documents, usage examples as queries.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

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
