"""Trained word vectors and their look-ups (notebook 05, sections 10 and 11; reused by notebooks 07 and 09).

- :class:`WordVectors` - words plus an (V, d) matrix: ``most_similar``, ``similarity``, ``analogy`` (3CosAdd);
- :class:`UnknownWordError` - the KeyError an unknown word raises, with a readable message.
"""
from __future__ import annotations

import numpy as np

from utils.vectors import analogy_vector, top_k_from_scores, unit_rows


class UnknownWordError(KeyError):
    """A word that is not in the vocabulary. A KeyError (so ``except KeyError`` works) that prints its message
    as it is, without the quotes KeyError adds."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class WordVectors:
    """Trained word vectors with cosine look-ups.

    >>> wv = WordVectors(["a", "b", "c"], np.array([[1, 0], [1, 1], [0, 1]], dtype=np.float32))
    >>> wv.most_similar("a", k=1), round(wv.similarity("a", "c"), 4)
    ([('b', 0.7071)], 0.0)
    """

    def __init__(self, words, vectors, losses=None, info=None):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"vectors must have shape ({len(words)}, d), got {vectors.shape}")
        self.words = list(words)
        self.vectors = vectors
        self.losses = list(losses or [])     # mean loss per logged chunk of batches (for the loss curve)
        self.info = dict(info or {})         # settings, time, pairs/s ...
        self._index = {w: i for i, w in enumerate(self.words)}
        self._unit = unit_rows(vectors)      # float32, a zero row stays zero

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self._index

    def __repr__(self) -> str:
        return f"WordVectors({len(self.words)} words x {self.vectors.shape[1]} dims)"

    def index(self, word: str) -> int:
        """Row of ``word``; an unknown word raises :class:`UnknownWordError` (a KeyError) with a readable message.

        >>> WordVectors(["a"], np.ones((1, 2))).index("zebra")
        Traceback (most recent call last):
        ...
        utils.word2vec.word_vectors.UnknownWordError: 'zebra' is not in the vocabulary (1 words; words rarer ...)
        """
        if not isinstance(word, str):
            raise TypeError(f"words are strings, got {type(word).__name__}")
        if word not in self._index:
            raise UnknownWordError(f"'{word}' is not in the vocabulary ({len(self.words)} words; words rarer than "
                                   f"min_count were dropped)")
        return self._index[word]

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.index(word)]

    def similarity(self, a: str, b: str) -> float:
        return float(self._unit[self.index(a)] @ self._unit[self.index(b)])

    def _nearest(self, query: np.ndarray, exclude: set[int], k: int) -> list[tuple[str, float]]:
        scores = self._unit @ unit_rows(query[None, :])[0]            # (V,) cosines
        k = min(k, len(scores) - len(exclude))
        if k < 1:
            return []
        scores[list(exclude)] = -np.inf
        order, best = top_k_from_scores(scores, k)
        return [(self.words[i], round(float(s), 4)) for i, s in zip(order, best)]

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The k words with the highest cosine to ``word`` (itself excluded), scores rounded to 4 decimals."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        i = self.index(word)
        return self._nearest(self.vectors[i], {i}, k)

    def analogy(self, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
        """a is to b as c is to ?  (3CosAdd: nearest to b - a + c on unit vectors, a/b/c excluded).

        ``analogy("man", "king", "woman")`` asks for the word that relates to woman as king relates to man.
        """
        ia, ib, ic = self.index(a), self.index(b), self.index(c)
        return self._nearest(analogy_vector(self._unit[ia], self._unit[ib], self._unit[ic]), {ia, ib, ic}, k)

