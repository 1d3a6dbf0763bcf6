"""word2vec from scratch: skip-gram with negative sampling (SGNS) in torch (notebook 05; vectors reused by notebook 07).

The pieces, in the order notebook 05 builds them:

* :func:`build_vocab` counts words and keeps those seen at least ``min_count`` times;
* :func:`keep_probabilities` - frequent words ("the", "of") are randomly dropped (subsampling);
* :func:`skipgram_pairs` - (center, context) pairs inside a random window around each word;
* :func:`negative_distribution` / :func:`sample_negatives` - "noise" words drawn from unigram counts ** 0.75;
* :func:`sgns_loss` and :func:`sgns_gradients` - the loss of one batch and its gradient written by hand;
* :func:`train_sgns` - the whole loop (batched, seedable, CPU or CUDA) returning :class:`WordVectors`;
* :func:`wordsim_spearman` and :func:`analogy_accuracy` - the two classic evaluations, read offline from gensim;
* :func:`course_vectors` - the vectors trained with notebook 05's settings, cached per kernel and on disk.

Worked example (a toy corpus; real training uses ``wordnet.gloss_corpus()``)::

    >>> wv = train_sgns([["a", "b", "c"]] * 50, dim=8, window=1, min_count=1, epochs=2, subsample=0)
    >>> wv.vectors.shape, "b" in wv
    ((3, 8), True)
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# COURSE_CACHE_DIR moves the cache (the portability runs use a fresh one per simulated machine)
CACHE_DIR = Path(os.environ.get("COURSE_CACHE_DIR") or Path(__file__).resolve().parent.parent / "data" / "cache")

#: the settings notebook 05 trains with (and course_vectors() reproduces)
COURSE_SETTINGS = dict(dim=100, window=5, negatives=5, epochs=2, min_count=5, subsample=1e-4, lr=0.1,
                       batch_size=4096, share=16, seed=0)


# ----------------------------------------------------------------------------------------------- vocabulary
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


def build_vocab(sentences, min_count: int = 5) -> Vocab:
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
def keep_probabilities(counts, t: float = 1e-4) -> np.ndarray:
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


# ----------------------------------------------------------------------------------------------- loss + gradient
def sgns_loss(center, context, negatives):
    """Skip-gram negative-sampling loss, averaged over the batch (torch tensors).

    center: (B, d) input vectors v_c; context: (B, d) output vectors u_o; negatives: (B, K, d) output vectors u_k.
    loss = -log sigmoid(u_o . v_c) - sum_k log sigmoid(-u_k . v_c)

    >>> import torch
    >>> round(float(sgns_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1, 3, 2))), 4)  # 4 * log 2
    2.7726
    """
    import torch.nn.functional as F

    pos = (center * context).sum(-1)                                   # (B,)
    neg = (negatives @ center.unsqueeze(-1)).squeeze(-1)               # (B, K)
    return (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)).mean()


def sgns_gradients(center, context, negatives):
    """Hand-derived gradients of the SUMMED (not averaged) SGNS loss: (d center, d context, d negatives).

    With s = sigmoid: d/dv_c = (s(u_o.v_c) - 1) u_o + sum_k s(u_k.v_c) u_k;  d/du_o = (s(u_o.v_c) - 1) v_c;
    d/du_k = s(u_k.v_c) v_c. Notebook 05 checks them against autograd.
    """
    import torch

    g_pos = torch.sigmoid((center * context).sum(-1)) - 1              # (B,)
    g_neg = torch.sigmoid((negatives @ center.unsqueeze(-1)).squeeze(-1))  # (B, K)
    d_center = g_pos[:, None] * context + (g_neg.unsqueeze(-1) * negatives).sum(1)  # (B, d)
    d_context = g_pos[:, None] * center                                # (B, d)
    d_negatives = g_neg.unsqueeze(-1) * center.unsqueeze(1)            # (B, K, d)
    return d_center, d_context, d_negatives


def sgd_step(W_in, W_out, centers, contexts, negs, lr: float) -> float:
    """One batched SGNS update in place; returns the batch's mean loss (before the update).

    centers, contexts: (B,) ids; negs: (B, K) ids - or (B // G, K) to let each group of G consecutive pairs share
    the same K negatives (G times fewer rows to gather and update: the training loop's speed trick; pairs are
    shuffled, so a group is a random set of pairs and each pair still sees K random negatives).
    Only the rows of W_in / W_out whose ids are in the batch change: ``index_add_`` adds each pair's gradient to its
    own row (a word repeated in the batch gets the sum, like word2vec's per-pair updates made at once).

    The gradients are those of :func:`sgns_gradients` (summed over the pairs), with the learning rate folded into
    the per-score factors so that no (B, d) array is multiplied twice.
    """
    import torch
    import torch.nn.functional as F

    B, (n_groups, K) = len(centers), negs.shape
    if B % n_groups:
        raise ValueError(f"{B} pairs cannot be split into {n_groups} groups of equal size")
    G = B // n_groups
    d = W_in.shape[1]
    v = W_in.index_select(0, centers)                                  # (B, d)   center (input) vectors
    u = W_out.index_select(0, contexts)                                # (B, d)   true context (output) vectors
    n = W_out.index_select(0, negs.reshape(-1)).view(n_groups, K, d)   # (B/G, K, d) negative (output) vectors
    vg = v.view(n_groups, G, d)                                        # (B/G, G, d)
    pos = (v * u).sum(-1)                                              # (B,)     scores u_o . v_c
    neg = torch.bmm(vg, n.transpose(1, 2))                             # (B/G, G, K) scores u_k . v_c
    loss = (F.softplus(-pos).sum() + F.softplus(neg).sum()).item() / B  # -log s(x) = softplus(-x)
    step_pos = (1 - torch.sigmoid(pos)).mul_(lr)                       # (B,)  -lr * dL/dpos
    step_neg = torch.sigmoid(neg).mul_(-lr)                            # (B/G, G, K)  -lr * dL/dneg
    step_v = torch.baddbmm((step_pos[:, None] * u).view(n_groups, G, d), step_neg, n).view(B, d)  # (B, d)
    step_u = step_pos[:, None] * v                                     # (B, d)
    step_n = torch.bmm(step_neg.transpose(1, 2), vg)                   # (B/G, K, d)
    W_in.index_add_(0, centers, step_v)
    W_out.index_add_(0, contexts, step_u)
    W_out.index_add_(0, negs.reshape(-1), step_n.reshape(-1, d))
    return loss


# ----------------------------------------------------------------------------------------------- word vectors
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
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self._unit = vectors / np.maximum(norms, 1e-12)

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
        utils.word2vec.UnknownWordError: 'zebra' is not in the vocabulary (1 words; words rarer than min_count were dropped)
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
        q = query / max(float(np.linalg.norm(query)), 1e-12)
        scores = self._unit @ q                                        # (V,)
        order = np.lexsort((np.arange(len(scores)), -scores))
        out = []
        for i in order:
            if int(i) not in exclude:
                out.append((self.words[i], round(float(scores[i]), 4)))
                if len(out) == k:
                    break
        return out

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
        return self._nearest(self._unit[ib] - self._unit[ia] + self._unit[ic], {ia, ib, ic}, k)


# ----------------------------------------------------------------------------------------------- training
def train_sgns(sentences, dim: int = 100, window: int = 5, negatives: int = 5, epochs: int = 2, min_count: int = 5,
               subsample: float = 1e-4, lr: float = 0.1, batch_size: int = 4096, seed: int = 0,
               progress: bool = False, device: str = "cpu", time_budget: float | None = None,
               log_every: int = 20, threads: int | None = 1, share: int = 16) -> WordVectors:
    """Train skip-gram with negative sampling; returns the input vectors as :class:`WordVectors`.

    Each epoch: subsample frequent words, build all (center, context) pairs with a dynamic window, shuffle them,
    and run batched SGD (learning rate decaying linearly from ``lr`` to ~0 over all epochs, as in word2vec).
    ``time_budget`` (seconds) stops early, for equal-time comparisons (``epochs`` is then a maximum and the learning
    rate decays over the budget). Seeded: same seed, same vectors on the CPU.

    ``lr`` is the step size per pair, as in word2vec (whose default is 0.025): the batch's gradients are summed,
    not averaged. A short training run wants a larger one; 0.1 needs ~2 epochs on the WordNet glosses. Too large a
    value makes the most frequent words' rows explode within a few batches: training then stops with a
    FloatingPointError instead of returning NaN vectors.
    ``share``: groups of that many (shuffled) pairs share their K negatives - far fewer rows to gather and update
    (see :func:`sgd_step`); 1 gives every pair its own negatives, as in the original word2vec.
    ``threads`` (default 1): torch CPU threads while training - the batches are small, so extra threads mostly wait
    on each other (measured: 1 thread is several times faster than 2 on a busy 2-core machine); None keeps torch's.

    >>> train_sgns([], dim=4)
    Traceback (most recent call last):
    ...
    ValueError: the corpus is empty: give at least one non-empty sentence (a list of tokens)
    """
    import torch

    for name, value in (("dim", dim), ("window", window), ("negatives", negatives), ("epochs", epochs),
                        ("batch_size", batch_size), ("share", share), ("log_every", log_every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if batch_size % share:
        raise ValueError(f"batch_size ({batch_size}) must be a multiple of share ({share})")
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(sentences, dim, window, negatives, epochs, min_count, subsample, lr, batch_size, seed,
                      progress, device, time_budget, log_every, share)
    finally:
        torch.set_num_threads(old_threads)


def _train(sentences, dim, window, negatives, epochs, min_count, subsample, lr, batch_size, seed, progress, device,
           time_budget, log_every, share) -> WordVectors:
    import torch

    sentences = _check_sentences(sentences)
    t0 = time.perf_counter()
    vocab = build_vocab(sentences, min_count)
    ids, sent = encode_corpus(sentences, vocab)
    raw_tokens = sum(len(s) for s in sentences)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    keep = keep_probabilities(vocab.counts, subsample)
    noise = torch.as_tensor(negative_distribution(vocab.counts), dtype=torch.float32)

    V = len(vocab)
    # word2vec's initialisation: small random input vectors, zero output vectors
    W_in = ((torch.rand(V, dim, generator=gen) - 0.5) / dim).to(device)    # (V, dim)
    W_out = torch.zeros(V, dim, device=device)                               # (V, dim)

    def epoch_pairs():
        kept = rng.random(len(ids)) < keep[ids]                           # subsampling: a new draw every epoch
        c, o = skipgram_pairs(ids[kept], sent[kept], window, rng)
        order = rng.permutation(len(c))[:len(c) - len(c) % share]     # whole groups only (drops < share pairs)
        return torch.from_numpy(c[order]).to(device), torch.from_numpy(o[order]).to(device)

    c, o = epoch_pairs()
    if len(c) == 0:
        raise ValueError("the corpus gives no (center, context) pairs: sentences need at least two known words")
    per_epoch = len(c)                       # pairs per epoch vary a little (random subsampling and windows)
    total = per_epoch * epochs               # what the learning-rate schedule counts down
    done, losses, running, step = 0, [], [], 0
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, unit="pair", unit_scale=True, desc="SGNS", mininterval=0.5)
    t_train = time.perf_counter()
    stopped = False
    for epoch in range(epochs):
        if epoch > 0:
            c, o = epoch_pairs()
        for start in range(0, len(c), batch_size):
            cb, ob = c[start:start + batch_size], o[start:start + batch_size]
            negs = torch.multinomial(noise, len(cb) // share * negatives, replacement=True, generator=gen)
            negs = negs.view(len(cb) // share, negatives).to(device)         # (B / share, K)
            # learning rate decays linearly to ~0: over the planned pairs, or over the time budget if one is set
            frac = done / total
            if time_budget is not None:
                frac = max(frac, (time.perf_counter() - t0) / time_budget)
            step_lr = lr * max(1e-4, 1 - frac)
            loss = sgd_step(W_in, W_out, cb, ob, negs, step_lr)
            step += 1
            if not math.isfinite(loss):
                if bar is not None:
                    bar.close()
                raise FloatingPointError(f"training diverged at batch {step} (loss {loss}): the learning rate "
                                         f"lr={lr} is too large for batch_size={batch_size}; try a smaller lr")
            running.append(loss)
            done += len(cb)
            if len(running) == log_every:
                losses.append(float(np.mean(running)))
                running = []
            if bar is not None:
                bar.update(len(cb))
            if time_budget is not None and time.perf_counter() - t0 > time_budget:
                stopped = True
                break
        if stopped:
            break
    if running:
        losses.append(float(np.mean(running)))
    if bar is not None:
        bar.close()
    end = time.perf_counter()
    info = dict(dim=dim, window=window, negatives=negatives, epochs=epochs, min_count=min_count,
                subsample=subsample, lr=lr, batch_size=batch_size, seed=seed, share=share, device=str(device),
                pairs=done, batches=step, log_every=log_every, tokens=int(len(ids)), raw_tokens=int(raw_tokens),
                epochs_done=round(done / per_epoch, 3), seconds=end - t0, train_seconds=end - t_train,
                pairs_per_s=done / max(end - t_train, 1e-9),
                words_per_s=raw_tokens * done / per_epoch / max(end - t0, 1e-9))
    return WordVectors(vocab.words, W_in.cpu().numpy(), losses, info)


# ----------------------------------------------------------------------------------------------- evaluation
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
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    index = {w: i for i, w in enumerate(words)}
    qs = [q for q in analogy_questions() if (sections is None or q[0] in sections) and all(w in index for w in q[1:])]
    if not qs:
        return 0.0, 0
    ids = np.array([[index[w] for w in q[1:]] for q in qs])           # (Q, 4)
    correct = 0
    for s in range(0, len(ids), 1024):
        chunk = ids[s:s + 1024]
        target = unit[chunk[:, 1]] - unit[chunk[:, 0]] + unit[chunk[:, 2]]   # (q, d)
        scores = target @ unit.T                                       # (q, n)
        rows = np.arange(len(chunk))
        for j in range(3):
            scores[rows, chunk[:, j]] = -np.inf
        correct += int(np.sum(scores.argmax(1) == chunk[:, 3]))
    return correct / len(qs), len(qs)


# ----------------------------------------------------------------------------------------------- course cache
def _cache_path(settings: dict) -> Path:
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return CACHE_DIR / f"sgns_wordnet_{key}.npz"


_COURSE: dict = {}


def course_vectors(progress: bool = False) -> WordVectors:
    """SGNS vectors of notebook 05's settings (:data:`COURSE_SETTINGS`) on ``wordnet.gloss_corpus()``.

    Cached once per kernel and on disk in ``data/cache/`` (git-ignored); when the file is missing it is re-created by
    training again on the CPU (~15 s on 2 idle cores), deterministic with the fixed seed.
    """
    if "wv" in _COURSE:
        return _COURSE["wv"]
    path = _cache_path(COURSE_SETTINGS)
    if path.exists():
        data = np.load(path, allow_pickle=False)
        wv = WordVectors(data["words"].tolist(), data["vectors"], data["losses"].tolist(),
                         json.loads(str(data["info"])))
    else:
        from utils.wordnet import gloss_corpus

        wv = train_sgns(gloss_corpus(), progress=progress, device="cpu", **COURSE_SETTINGS)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # per process: two kernels may train at once
        np.savez(tmp, words=np.array(wv.words), vectors=wv.vectors, losses=np.array(wv.losses),
                 info=json.dumps(wv.info))
        tmp.replace(path)
    _COURSE["wv"] = wv
    return wv


# ----------------------------------------------------------------------------------------------- gradient descent
def gradient_descent_1d(grad, x0: float, lr: float, steps: int) -> np.ndarray:
    """Plain gradient descent on a 1-D function: x <- x - lr * grad(x). Returns all ``steps + 1`` positions.

    >>> gradient_descent_1d(lambda x: 2 * (x - 3), x0=0.0, lr=0.25, steps=3).tolist()   # f = (x - 3)^2
    [0.0, 1.5, 2.25, 2.625]
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    xs = [float(x0)]
    for _ in range(steps):
        g = float(grad(xs[-1]))
        xs.append(xs[-1] - lr * g if math.isfinite(g) else math.nan)
    return np.array(xs)
