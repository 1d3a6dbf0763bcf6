"""Skip-gram with negative sampling (notebook 05, sections 7, 9 and 10): the loss, its gradient, the update, the loop.

- :func:`sgns_loss` and :func:`sgns_gradients` - the loss of one batch and its gradient written by hand (section 7);
- :func:`sgd_step` - one batched in-place update, the training loop's inner step (section 9);
- :class:`SGNSSettings` / :data:`COURSE_SETTINGS` (from :mod:`.settings`) - the hyper-parameters, and notebook 05's
  values (section 10);
- :func:`train_sgns` - the whole loop (batched, seedable, CPU or CUDA) returning
  :class:`~utils.word2vec.word_vectors.WordVectors` (section 10).

>>> wv = train_sgns([["a", "b", "c"]] * 50, dim=8, window=1, min_count=1, epochs=2, subsample=0)
>>> wv.vectors.shape, wv.info["dim"], wv.info["share"]
((3, 8), 8, 16)
"""
from __future__ import annotations

import inspect
import math
import time
from dataclasses import asdict, fields

import numpy as np

from utils.word2vec.data import (_check_sentences, build_vocab, encode_corpus, keep_probabilities,
                                 negative_distribution, skipgram_pairs)
from utils.word2vec.settings import COURSE_SETTINGS, SGNSSettings
from utils.word2vec.word_vectors import WordVectors

__all__ = ["sgns_loss", "sgns_gradients", "sgd_step", "train_sgns", "SGNSSettings", "COURSE_SETTINGS"]


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


# ----------------------------------------------------------------------------------------------- training
def train_sgns(sentences, *, progress: bool = False, device: str = "cpu", time_budget: float | None = None,
               log_every: int = 20, threads: int | None = 1, **settings) -> WordVectors:
    """Train skip-gram with negative sampling; returns the input vectors as :class:`WordVectors`.

    ``settings``: keyword arguments named after the fields of :class:`SGNSSettings`; a field left out keeps that
    class's default, notebook 05's value. The returned vectors' ``info`` starts with every one of them.

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
    >>> train_sgns([["a", "b"]], dims=4)
    Traceback (most recent call last):
    ...
    TypeError: train_sgns() got an unknown setting 'dims'; the settings are dim, window, negatives, epochs, ...
    """
    import torch

    names = [f.name for f in fields(SGNSSettings)]
    unknown = [name for name in settings if name not in names]
    if unknown:
        raise TypeError(f"train_sgns() got an unknown setting {unknown[0]!r}; the settings are {', '.join(names)}")
    if not isinstance(log_every, int) or isinstance(log_every, bool) or log_every < 1:
        raise ValueError(f"log_every must be a positive integer, got {log_every!r}")
    settings = SGNSSettings(**settings)                                # checks every value
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(sentences, settings, progress=progress, device=device, time_budget=time_budget,
                      log_every=log_every)
    finally:
        torch.set_num_threads(old_threads)


def _signature_with_settings(func):
    """``func``'s signature with its ``**settings`` spelled out as SGNSSettings' fields and defaults, so that help()
    and the notebooks' tooltips list every setting without a second copy of them here."""
    sentences, *options = [p for p in inspect.signature(func).parameters.values() if p.kind != p.VAR_KEYWORD]
    named = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
             for f in fields(SGNSSettings)]
    return inspect.signature(func).replace(parameters=[sentences, *named, *options])


train_sgns.__signature__ = _signature_with_settings(train_sgns)


def _train(sentences, settings: SGNSSettings, *, progress: bool, device, time_budget: float | None,
           log_every: int) -> WordVectors:
    """The training loop behind :func:`train_sgns` (which has checked ``settings`` and set the torch threads)."""
    import torch

    s = settings
    sentences = _check_sentences(sentences)
    t0 = time.perf_counter()
    vocab = build_vocab(sentences, s.min_count)
    ids, sent = encode_corpus(sentences, vocab)
    raw_tokens = sum(len(x) for x in sentences)
    rng = np.random.default_rng(s.seed)
    gen = torch.Generator().manual_seed(s.seed)
    keep = keep_probabilities(vocab.counts, s.subsample)
    noise = torch.as_tensor(negative_distribution(vocab.counts), dtype=torch.float32)

    V = len(vocab)
    # word2vec's initialisation: small random input vectors, zero output vectors
    W_in = ((torch.rand(V, s.dim, generator=gen) - 0.5) / s.dim).to(device)    # (V, dim)
    W_out = torch.zeros(V, s.dim, device=device)                                 # (V, dim)

    def epoch_pairs():
        kept = rng.random(len(ids)) < keep[ids]                           # subsampling: a new draw every epoch
        c, o = skipgram_pairs(ids[kept], sent[kept], s.window, rng)
        order = rng.permutation(len(c))[:len(c) - len(c) % s.share]     # whole groups only (drops < share pairs)
        return torch.from_numpy(c[order]).to(device), torch.from_numpy(o[order]).to(device)

    c, o = epoch_pairs()
    if len(c) == 0:
        raise ValueError("the corpus gives no (center, context) pairs: sentences need at least two known words")
    per_epoch = len(c)                       # pairs per epoch vary a little (random subsampling and windows)
    total = per_epoch * s.epochs             # what the learning-rate schedule counts down
    done, losses, running, step = 0, [], [], 0
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, unit="pair", unit_scale=True, desc="SGNS", mininterval=0.5)
    t_train = time.perf_counter()
    stopped = False
    for epoch in range(s.epochs):
        if epoch > 0:
            c, o = epoch_pairs()
        for start in range(0, len(c), s.batch_size):
            cb, ob = c[start:start + s.batch_size], o[start:start + s.batch_size]
            negs = torch.multinomial(noise, len(cb) // s.share * s.negatives, replacement=True, generator=gen)
            negs = negs.view(len(cb) // s.share, s.negatives).to(device)     # (B / share, K)
            # learning rate decays linearly to ~0: over the planned pairs, or over the time budget if one is set
            frac = done / total
            if time_budget is not None:
                frac = max(frac, (time.perf_counter() - t0) / time_budget)
            step_lr = s.lr * max(1e-4, 1 - frac)
            loss = sgd_step(W_in, W_out, cb, ob, negs, step_lr)
            step += 1
            if not math.isfinite(loss):
                if bar is not None:
                    bar.close()
                raise FloatingPointError(f"training diverged at batch {step} (loss {loss}): the learning rate "
                                         f"lr={s.lr} is too large for batch_size={s.batch_size}; try a smaller lr")
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
    info = dict(**asdict(s), device=str(device), pairs=done, batches=step, log_every=log_every, tokens=int(len(ids)),
                raw_tokens=int(raw_tokens), epochs_done=round(done / per_epoch, 3), seconds=end - t0,
                train_seconds=end - t_train, pairs_per_s=done / max(end - t_train, 1e-9),
                words_per_s=raw_tokens * done / per_epoch / max(end - t0, 1e-9))
    return WordVectors(vocab.words, W_in.cpu().numpy(), losses, info)
