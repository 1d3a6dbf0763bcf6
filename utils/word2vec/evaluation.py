"""The two classic evaluations of word vectors (notebook 05, section 10), with data read offline from gensim's package.

- :func:`wordsim353` / :func:`wordsim_spearman` - rank correlation with human similarity scores (WordSim-353);
- :func:`analogy_questions` / :func:`analogy_accuracy` - the Google analogy set answered by 3CosAdd;
- :func:`spearman` - Spearman's rank correlation (ties get their average rank), written out in numpy.

Both scorers take :class:`~utils.word2vec.word_vectors.WordVectors` or a gensim ``KeyedVectors``.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from utils.vectors import analogy_vector, unit_rows


def _gensim_datapath(name: str) -> str:
    """Path of one of the test-data files shipped inside the gensim package, found without importing gensim
    (which takes seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the evaluation sets ship with gensim: run `make lab` (or pip install gensim==4.4.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / "test" / "test_data" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the course needs gensim==4.4.0, which ships it")
    return str(path)


@functools.lru_cache(maxsize=1)
def wordsim353() -> tuple[tuple[str, str, float], ...]:
    """The 353 WordSim-353 pairs (word, word, mean human score 0-10), lower-cased, from gensim's test data."""
    rows = []
    with open(_gensim_datapath("wordsim353.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, b, score = line.rstrip("\n").split("\t")[:3]
            rows.append((a.lower(), b.lower(), float(score)))
    return tuple(rows)


def _average_ranks(x) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks: [10, 20, 20, 30] -> [1, 2.5, 2.5, 4]."""
    values, inverse, counts = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts + 1                                   # rank of the first copy of each value
    return (first + (counts - 1) / 2)[inverse]


def spearman(a, b) -> float:
    """Spearman rank correlation: the Pearson correlation of the ranks (ties get their average rank).

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 40]), spearman([1, 2, 3, 4], [4, 3, 2, 1])
    (1.0, -1.0)
    >>> round(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 4)
    0.8
    """
    ra, rb = _average_ranks(a), _average_ranks(b)
    if len(ra) != len(rb) or len(ra) < 2:
        raise ValueError("spearman needs two sequences of the same length, at least 2")
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float(ra @ rb / np.sqrt((ra @ ra) * (rb @ rb)))


def wordsim_spearman(wv) -> tuple[float, int]:
    """Spearman rank correlation between our cosines and human scores on the WordSim-353 pairs we know.

    Returns (rho, pairs used). Works with :class:`WordVectors` or a gensim KeyedVectors (anything with
    ``similarity`` and ``in``).
    """
    ours, human = [], []
    for a, b, score in wordsim353():
        if a in wv and b in wv:
            ours.append(float(wv.similarity(a, b)))
            human.append(score)
    if len(ours) < 3:
        raise ValueError("fewer than 3 WordSim-353 pairs are in the vocabulary")
    return spearman(ours, human), len(ours)


@functools.lru_cache(maxsize=1)
def analogy_questions() -> tuple[tuple[str, str, str, str, str], ...]:
    """Google analogy set: (section, a, b, c, d) meaning a:b = c:d, lower-cased (19,544 questions)."""
    out, section = [], ""
    with open(_gensim_datapath("questions-words.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(":"):
                section = line[1:].strip()
            elif line.strip():
                a, b, c, d = line.lower().split()
                out.append((section, a, b, c, d))
    return tuple(out)


def analogy_accuracy(wv, restrict_vocab: int | None = 30000, sections=None) -> tuple[float, int]:
    """Share of Google analogies a:b = c:? answered exactly (3CosAdd over the ``restrict_vocab`` most frequent words,
    question words excluded), over the questions whose four words are all in that vocabulary. Returns (acc, n used).

    Works for :class:`WordVectors` and gensim KeyedVectors (both keep words most frequent first).
    """
    words = list(wv.words if hasattr(wv, "words") else wv.index_to_key)
    vectors = np.asarray(wv.vectors, dtype=np.float32)
    n = len(words) if restrict_vocab is None else min(restrict_vocab, len(words))
    words, vectors = words[:n], vectors[:n]
    unit = unit_rows(vectors)
    index = {w: i for i, w in enumerate(words)}
    qs = [q for q in analogy_questions() if (sections is None or q[0] in sections) and all(w in index for w in q[1:])]
    if not qs:
        return 0.0, 0
    ids = np.array([[index[w] for w in q[1:]] for q in qs])           # (Q, 4)
    correct = 0
    for s in range(0, len(ids), 1024):
        chunk = ids[s:s + 1024]
        target = analogy_vector(unit[chunk[:, 0]], unit[chunk[:, 1]], unit[chunk[:, 2]])   # (q, d): b - a + c
        scores = target @ unit.T                                       # (q, n)
        rows = np.arange(len(chunk))
        for j in range(3):
            scores[rows, chunk[:, j]] = -np.inf
        correct += int(np.sum(scores.argmax(1) == chunk[:, 3]))
    return correct / len(qs), len(qs)

