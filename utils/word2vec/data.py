"""From sentences to SGNS training data (notebook 05, sections 6 and 8): vocabulary, subsampling, windows, negatives.

- :class:`Vocab` / :func:`build_vocab` / :func:`encode_corpus` - count words, keep the frequent ones, map them to ids;
- :func:`keep_probabilities` - frequent words ("the", "of") are randomly dropped (subsampling);
- :func:`skipgram_pairs` - (center, context) pairs inside a random window around each word;
- :func:`negative_distribution` / :func:`sample_negatives` - "noise" words drawn from unigram counts ** 0.75.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from utils.word2vec.settings import SGNSSettings


@dataclass
class Vocab:
    """Words sorted by count (most frequent first), their counts and a word -> index map.

    >>> v = build_vocab([["the", "cat"], ["the", "dog"]], min_count=1)
    >>> v.words, v.counts.tolist(), v.index["cat"]
    (['the', 'cat', 'dog'], [2, 1, 1], 1)
    """
    words: list[str]
    counts: np.ndarray                      # (V,) int64
    index: dict[str, int] = field(repr=False)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self.index

    def encode(self, sentence) -> np.ndarray:
        """Token list -> int64 ids, words not in the vocabulary dropped."""
        return np.array([self.index[w] for w in sentence if w in self.index], dtype=np.int64)


def _check_sentences(sentences) -> list:
    if isinstance(sentences, str):
        raise TypeError("sentences must be a list of token lists, e.g. [['the', 'cat'], ...], not one string")
    sentences = list(sentences)
    if not sentences or not any(len(s) for s in sentences):
        raise ValueError("the corpus is empty: give at least one non-empty sentence (a list of tokens)")
    if isinstance(sentences[0], str):
        raise TypeError("sentences must be a list of token LISTS; got a list of strings - tokenize each sentence")
    return sentences


def build_vocab(sentences, min_count: int = SGNSSettings.min_count) -> Vocab:
    """Count tokens; keep words seen at least ``min_count`` times, most frequent first (ties: alphabetical)."""
    sentences = _check_sentences(sentences)
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a positive integer, got {min_count!r}")
    counts = Counter(itertools.chain.from_iterable(sentences))
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    if not kept:
        raise ValueError(f"no word occurs at least min_count={min_count} times; lower min_count")
    return Vocab(kept, np.array([counts[w] for w in kept], dtype=np.int64), {w: i for i, w in enumerate(kept)})


def encode_corpus(sentences, vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """All sentences as one flat id array plus the sentence number of every token (windows never cross sentences).

    Words not in the vocabulary are dropped, so their neighbours become neighbours (as in word2vec).

    >>> v = build_vocab([["a", "b", "a"], ["b", "c"]], min_count=2)
    >>> [x.tolist() for x in encode_corpus([["a", "b", "a"], ["b", "c"]], v)]
    [[0, 1, 0, 1], [0, 0, 0, 1]]
    """
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    index = vocab.index
    ids = np.fromiter((index.get(w, -1) for w in itertools.chain.from_iterable(sentences)), dtype=np.int64,
                      count=int(lengths.sum()))
    sent = np.repeat(np.arange(len(sentences), dtype=np.int64), lengths)
    known = ids >= 0
    return ids[known], sent[known]


# ----------------------------------------------------------------------------------------------- sampling
def keep_probabilities(counts, t: float = SGNSSettings.subsample) -> np.ndarray:
    """Probability of keeping each occurrence of a word (word2vec's subsampling rule): sqrt(t/f) + t/f, capped at 1.

    f is the word's share of all tokens. Rare words are always kept; "the" (f ~ 0.06) is mostly dropped.
    t = 0 switches subsampling off.

    >>> keep_probabilities([10, 990], t=0.01).round(3).tolist()
    [1.0, 0.111]
    """
    counts = np.asarray(counts, dtype=np.float64)
    if t <= 0:
        return np.ones_like(counts)
    f = counts / counts.sum()
    return np.minimum(1.0, np.sqrt(t / f) + t / f)


def negative_distribution(counts, power: float = 0.75) -> np.ndarray:
    """Noise distribution for negatives: counts ** power, normalised. power 0.75 lifts rare words a little.

    >>> negative_distribution([1, 16], power=0.75).round(3).tolist()
    [0.111, 0.889]
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0 or np.any(counts < 0) or counts.sum() == 0:
        raise ValueError("counts must be a non-empty 1-D array of non-negative counts, not all zero")
    p = counts ** power
    return p / p.sum()


def sample_negatives(probs, shape, generator=None):
    """Draw word ids from ``probs`` (torch multinomial with replacement): a tensor of the given shape, int64."""
    import torch

    p = torch.as_tensor(np.asarray(probs), dtype=torch.float64)
    n = int(np.prod(shape))
    return torch.multinomial(p, n, replacement=True, generator=generator).reshape(shape)


def skipgram_pairs(ids, sentence_ids, window: int, rng: np.random.Generator, dynamic: bool = True):
    """(center, context) id pairs: every context within ``window`` words of its center, same sentence.

    With ``dynamic`` (word2vec's default) each center draws its own window size in 1..window, so near words are
    paired more often than far ones. Vectorised: one pass per offset instead of a Python loop over tokens.

    >>> c, o = skipgram_pairs(np.array([7, 8, 9]), np.zeros(3, int), 1, np.random.default_rng(0), dynamic=False)
    >>> sorted(zip(c.tolist(), o.tolist()))
    [(7, 8), (8, 7), (8, 9), (9, 8)]
    """
    ids, sentence_ids = np.asarray(ids), np.asarray(sentence_ids)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n) if dynamic else np.full(n, window)
    centers, contexts = [], []
    for off in range(1, window + 1):
        same = sentence_ids[:-off] == sentence_ids[off:]            # (n - off,) pair (i, i + off) in one sentence
        fwd = same & (reach[:-off] >= off)                          # center i sees i + off
        bwd = same & (reach[off:] >= off)                           # center i + off sees i
        centers += [ids[:-off][fwd], ids[off:][bwd]]
        contexts += [ids[off:][fwd], ids[:-off][bwd]]
    return np.concatenate(centers), np.concatenate(contexts)

