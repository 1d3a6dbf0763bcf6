"""Contrastive learning of embeddings (notebook 11): InfoNCE, hard negatives, Matryoshka, a linear adapter.

Training data are **pairs** (query, document) that belong together. In a batch of B pairs every other document is a
negative for a query, for free: the (B, B) matrix of cosines divided by a **temperature** is a B-way classification
whose right answers sit on the diagonal (InfoNCE, "in-batch negatives"). Notebook 05's skip-gram with negative
sampling is the same idea with one positive, a few sampled negatives and a sigmoid per pair instead of a softmax over
all of them.

- :func:`info_nce` - the loss, one direction or symmetric (queries -> documents and documents -> queries), with
  optional extra (hard) negatives;
- :func:`mine_hard_negatives` - for each query, the highest-scoring documents that are NOT its positive;
- :func:`mine_hardest_negative` - the same for a whole training set of paired vectors, in chunks;
- :func:`matryoshka_loss` - InfoNCE summed over nested prefixes of the vectors, so the first 32 / 64 / ... numbers
  already work as a smaller embedding;
- :func:`static_pair_setting` - the data of the notebook's fast experiments (frozen static vectors of WordNet pairs);
- :func:`window_pairs` - training pairs made from a corpus alone: runs of consecutive words, each paired with the text
  it was cut from (no labelled queries needed);
- :class:`LinearAdapter` and :func:`train_adapter` - a d x d matrix trained on frozen embeddings (a cheap way to adapt
  a real embedder to a domain).

>>> q = torch.tensor([[1., 0.], [0., 1.]]); d = torch.tensor([[1., 0.1], [0.1, 1.]])
>>> round(float(info_nce(q, d, temperature=0.05)), 4)                # positives on the diagonal win easily
0.0
>>> round(float(info_nce(q, d.flip(0), temperature=0.05)), 2)        # swapped: every query prefers the wrong one
17.91
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["info_nce", "mine_hard_negatives", "mine_hardest_negative", "matryoshka_loss", "static_pair_setting",
           "window_pairs", "LinearAdapter", "train_adapter"]


def _check_pair(q, d) -> None:
    for name, x in (("queries", q), ("documents", d)):
        if not isinstance(x, torch.Tensor) or x.ndim != 2:
            raise ValueError(f"{name} must be a torch tensor (batch, dim), got {getattr(x, 'shape', type(x).__name__)}")
    if q.shape != d.shape:
        raise ValueError(f"queries and documents must have the same shape (one positive each), got "
                         f"{tuple(q.shape)} and {tuple(d.shape)}")


def info_nce(q: torch.Tensor, d: torch.Tensor, temperature: float = 0.05, symmetric: bool = True,
             negatives: torch.Tensor | None = None) -> torch.Tensor:
    """InfoNCE with in-batch negatives: row i of ``q`` (B, D) belongs with row i of ``d`` (B, D).

    logits = cos(q_i, d_j) / temperature, (B, B); loss = cross-entropy with labels 0..B-1 (the diagonal), averaged
    over the rows. ``symmetric`` also classifies each document among the queries (the columns) and averages the two.
    ``negatives`` (M, D): extra documents every query must rank below its positive (hard negatives); they add
    columns to the query -> document direction only.

    >>> torch.manual_seed(0) and None
    >>> x = torch.randn(8, 16)
    >>> bool(info_nce(x, x) < info_nce(x, torch.randn(8, 16)))      # matching pairs give a lower loss
    True
    """
    _check_pair(q, d)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    q, d = F.normalize(q, dim=-1), F.normalize(d, dim=-1)                    # cosines, not raw dot products
    logits = q @ d.T / temperature                                           # (B, B): row i = query i vs all docs
    labels = torch.arange(len(q), device=q.device)                           # the positive of row i is column i
    if negatives is not None:
        if negatives.ndim != 2 or negatives.shape[1] != q.shape[1]:
            raise ValueError(f"negatives must be (M, {q.shape[1]}), got {tuple(negatives.shape)}")
        extra = q @ F.normalize(negatives, dim=-1).T / temperature           # (B, M)
        loss = F.cross_entropy(torch.cat([logits, extra], dim=1), labels)    # (B, B + M): softmax over each row
    else:
        loss = F.cross_entropy(logits, labels)
    if symmetric:
        loss = (loss + F.cross_entropy(logits.T, labels)) / 2                # documents -> queries: the columns
    return loss


def mine_hard_negatives(scores, positives, k: int = 1, exclude=None) -> np.ndarray:
    """Indices (Q, k) of the ``k`` best-scoring documents of each query that are not its positive, best first.

    ``scores`` (Q, N): any retriever's scores (BM25, the model itself). ``positives``: per query one document index
    or a set of them. ``exclude``: per query a set of further indices to skip - documents known to be right answers
    too (the false-negative trap: a duplicate or a synonym of the positive, pushed away as if it were wrong).
    Ties go to the smaller index.

    >>> mine_hard_negatives(np.array([[0.9, 0.8, 0.1], [0.2, 0.7, 0.6]]), positives=[0, 1], k=1).tolist()
    [[1], [2]]
    >>> mine_hard_negatives(np.array([[0.9, 0.8, 0.1]]), positives=[0], k=1, exclude=[{1}]).tolist()
    [[2]]
    """
    S = scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores, dtype=float)
    if S.ndim != 2:
        raise ValueError(f"scores must be a (queries, documents) matrix, got shape {S.shape}")
    S = S.astype(float, copy=True)                                           # never change the caller's scores
    if len(positives) != len(S):
        raise ValueError(f"need one positive per query: {len(S)} queries, {len(positives)} positives")
    if exclude is not None and len(exclude) != len(S):
        raise ValueError(f"exclude needs one set per query: {len(S)} queries, {len(exclude)} sets")
    for i, pos in enumerate(positives):
        skip = set(pos) if isinstance(pos, (set, frozenset, list, tuple)) else {int(pos)}
        if exclude is not None:
            skip |= set(exclude[i])
        S[i, list(skip)] = -np.inf
    if not 1 <= k <= S.shape[1]:
        raise ValueError(f"k must be between 1 and {S.shape[1]}, got {k}")
    if np.isneginf(np.sort(S, axis=1)[:, -k]).any():
        raise ValueError(f"fewer than k={k} documents are left once positives and exclusions are removed")
    return np.argsort(-S, axis=1, kind="stable")[:, :k]


def mine_hardest_negative(queries, documents, exclude=None, chunk: int = 4096) -> np.ndarray:
    """For paired rows (query i belongs with document i): the index (n,) of each query's highest-cosine document
    other than its own, in chunks of ``chunk`` queries so that an (n, n) matrix never sits in memory at once.

    ``queries``, ``documents``: (n, D) unit rows (so dot products are cosines). ``exclude``: per query a set of
    further document indices that are right answers too (a duplicate text, an equivalent sense) - the guard against
    false negatives. Ties go to the smaller index.

    >>> Q = np.array([[1., 0.], [0., 1.], [1., 0.]]); D = np.array([[1., 0.], [0., 1.], [1., 0.]])
    >>> mine_hardest_negative(Q, D).tolist(), mine_hardest_negative(Q, D, exclude=[{2}, set(), {0}]).tolist()
    ([2, 0, 0], [1, 0, 1])
    """
    Q, D = np.asarray(queries), np.asarray(documents)
    if Q.ndim != 2 or Q.shape != D.shape or len(Q) < 2:
        raise ValueError(f"queries and documents must be paired (n, D) matrices with n >= 2, got {Q.shape}, {D.shape}")
    if exclude is not None and len(exclude) != len(Q):
        raise ValueError(f"exclude needs one set per query: {len(Q)} queries, {len(exclude)} sets")
    out = np.empty(len(Q), dtype=np.int64)
    for start in range(0, len(Q), chunk):
        rows = np.arange(start, min(start + chunk, len(Q)))
        S = Q[rows] @ D.T                                                    # (chunk, n) cosines
        S[rows - start, rows] = -np.inf                                      # never the positive itself
        if exclude is not None:
            for r in rows:
                if exclude[r]:
                    S[r - start, list(exclude[r])] = -np.inf
        if np.isneginf(S.max(axis=1)).any():
            raise ValueError("a query has no document left once its positive and exclusions are removed")
        out[rows] = S.argmax(axis=1)                                         # argmax: first of equal maxima
    return out


def matryoshka_loss(q: torch.Tensor, d: torch.Tensor, dims=(32, 64, 128, 256), weights=None,
                    temperature: float = 0.05, symmetric: bool = True) -> torch.Tensor:
    """The weighted SUM of :func:`info_nce` on the first ``m`` numbers of each vector, for every ``m`` in ``dims``.

    ``weights``: one per dimension (default all 1). Each prefix is normalised again before its cosines (inside
    :func:`info_nce`), so the first 32 numbers must work as an embedding on their own. Training on all prefixes at
    once is "Matryoshka representation learning" (Kusupati et al., 2022); a sum, not a mean, so that adding a
    prefix adds its full loss, as the paper and sentence-transformers' ``MatryoshkaLoss`` do.

    >>> x = torch.randn(4, 8)
    >>> torch.allclose(matryoshka_loss(x, x, dims=(8,)), info_nce(x, x))
    True
    """
    _check_pair(q, d)
    dims = tuple(int(m) for m in dims)
    if not dims or any(m < 1 or m > q.shape[1] for m in dims):
        raise ValueError(f"every dimension must be between 1 and {q.shape[1]}, got {dims}")
    w = torch.ones(len(dims)) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    if w.shape != (len(dims),):
        raise ValueError(f"need one weight per dimension: {len(dims)} dims, weights of shape {tuple(w.shape)}")
    losses = torch.stack([info_nce(q[:, :m], d[:, :m], temperature, symmetric) for m in dims])   # (len(dims),)
    return (w.to(losses) * losses).sum()


def static_pair_setting(n_pairs: int = 20000, n_docs: int = 1000, n_queries: int = 300, seed: int = 0) -> dict:
    """Notebook 11's fast training setting: frozen ``minilm.static_embeddings`` of WordNet pairs -> a dict of arrays.

    ``train_q``, ``train_d`` (n_pairs, 384): usage examples and their definitions from
    :func:`utils.gpt_embedder.training_pairs`, none of them a sense of the evaluation set; ``queries`` (n_queries,
    384), ``documents`` (n_docs, 384), ``gold`` (n_queries,): notebook 07's WordNet retrieval set (seed 0); ``pairs``:
    the training texts. Every matrix is centred on the training definitions' mean (the static vectors share a large
    common offset). A :class:`LinearAdapter` trained on these takes about a second, so a notebook can compare
    settings (temperature, batch size, Matryoshka) by training each one.
    """
    from utils import minilm, retrieval
    from utils.gpt_embedder import training_pairs
    wn_set = retrieval.wordnet_retrieval_set(n_docs=n_docs, n_queries=n_queries, seed=seed)
    pairs = training_pairs(n_pairs, seed=seed, exclude=wn_set.doc_ids)
    out = {"train_q": minilm.static_embeddings([q for q, _ in pairs]),
           "train_d": minilm.static_embeddings([d for _, d in pairs]),
           "queries": minilm.static_embeddings(list(wn_set.queries)),
           "documents": minilm.static_embeddings(list(wn_set.documents))}
    mean = out["train_d"].mean(axis=0)                                       # (384,)
    out = {k: v - mean for k, v in out.items()}
    out.update(gold=np.asarray(wn_set.gold), pairs=pairs)
    return out


def window_pairs(texts, per_text: int = 8, words: int = 12, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Pseudo-queries cut from the texts themselves -> (windows, index of the text each came from).

    From each text, ``per_text`` runs of ``words`` consecutive words (split on white space) at distinct random
    starts, kept in reading order; a text with ``words`` words or fewer gives itself once, and one with few starts
    gives as many as it has. Paired with their text, these train an adapter for a corpus that has no labelled
    queries: the only supervision is "this passage came from that chunk".

    >>> windows, source = window_pairs(["a b c d e f", "short text"], per_text=2, words=3)
    >>> windows, source.tolist()
    (['c d e', 'd e f', 'short text'], [0, 0, 1])
    """
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not one string")
    if per_text < 1 or words < 1:
        raise ValueError(f"per_text and words must be at least 1, got {per_text} and {words}")
    rng = np.random.default_rng(seed)
    windows, source = [], []
    for i, text in enumerate(texts):
        tokens = str(text).split()
        if not tokens:
            raise ValueError(f"text {i} has no words to cut a window from")
        if len(tokens) <= words:
            starts = [0]
        else:
            n_starts = len(tokens) - words + 1
            starts = sorted(rng.choice(n_starts, size=min(per_text, n_starts), replace=False).tolist())
        windows += [" ".join(tokens[s:s + words]) for s in starts]
        source += [i] * len(starts)
    return windows, np.array(source, dtype=np.int64)


class LinearAdapter(nn.Module):
    """x -> x @ W.T with W (d_out, d_in) starting at the identity: before training it changes nothing.

    Applied to frozen embeddings, so training it costs one small matrix product per batch, and the model that made
    the embeddings is never run again.

    >>> LinearAdapter(3)(torch.tensor([[1., 2., 3.]])).tolist()
    [[1.0, 2.0, 3.0]]
    """

    def __init__(self, dim: int, dim_out: int | None = None):
        super().__init__()
        dim_out = dim if dim_out is None else dim_out
        self.weight = nn.Parameter(torch.eye(dim_out, dim))                 # (d_out, d_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T                                             # (n, d_in) -> (n, d_out)

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """numpy (n, d_in) -> numpy (n, d_out) float32, unit rows (ready for cosine search)."""
        out = self(torch.as_tensor(np.asarray(X), dtype=torch.float32))
        return F.normalize(out, dim=-1).numpy()


def train_adapter(queries, documents, *, steps: int = 200, batch_size: int = 64, temperature: float = 0.05,
                  lr: float = 1e-3, seed: int = 0, hard_negatives=None, matryoshka_dims=None, dim_out=None,
                  side: str = "both") -> tuple[LinearAdapter, list[float]]:
    """Train a :class:`LinearAdapter` with symmetric InfoNCE on frozen embeddings of paired texts -> (adapter, losses).

    ``queries``, ``documents``: (n, d) arrays, row i of one belongs with row i of the other. Each step draws
    ``batch_size`` pairs (a fresh permutation each epoch, from ``seed``). ``hard_negatives`` (n, k): indices into
    ``documents``, added as extra negatives for their query. ``matryoshka_dims``: train with
    :func:`matryoshka_loss` instead. ``side="query"`` adapts the queries only (the stored documents keep their
    vectors, so a vector database needs no re-indexing).
    """
    if side not in ("both", "query"):
        raise ValueError(f"side must be 'both' or 'query', got {side!r}")
    Q = torch.as_tensor(np.asarray(queries), dtype=torch.float32)
    D = torch.as_tensor(np.asarray(documents), dtype=torch.float32)
    if Q.ndim != 2 or Q.shape != D.shape:
        raise ValueError(f"queries and documents must be paired (n, d) matrices, got {tuple(Q.shape)}, "
                         f"{tuple(D.shape)}")
    if not 2 <= batch_size <= len(Q):
        raise ValueError(f"batch_size must be between 2 and the number of pairs ({len(Q)}), got {batch_size}")
    torch.manual_seed(seed)
    adapter = LinearAdapter(Q.shape[1], dim_out)
    optimizer = torch.optim.Adam(adapter.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    order, cursor, losses = torch.randperm(len(Q), generator=generator), 0, []
    hard = None if hard_negatives is None else torch.as_tensor(np.asarray(hard_negatives), dtype=torch.long)
    for _ in range(steps):
        if cursor + batch_size > len(Q):                                     # a new epoch: a new order
            order, cursor = torch.randperm(len(Q), generator=generator), 0
        idx = order[cursor:cursor + batch_size]
        cursor += batch_size
        q = adapter(Q[idx])                                                  # (B, d_out)
        d = adapter(D[idx]) if side == "both" else D[idx]                    # (B, d_out)
        if matryoshka_dims is not None:
            loss = matryoshka_loss(q, d, matryoshka_dims, temperature=temperature)
        else:
            negatives = None
            if hard is not None:
                neg = D[hard[idx].reshape(-1)]                                # (B * k, d)
                negatives = adapter(neg) if side == "both" else neg
            loss = info_nce(q, d, temperature, negatives=negatives)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return adapter.eval(), losses
