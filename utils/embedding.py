"""Reference code for notebook 04 (the embedding matrix), also used by notebooks 05-07.

An embedding matrix ``E`` has one ROW per token id (shape ``(vocab_size, dim)``, the PyTorch convention). Looking a
token up means taking its row; multiplying a one-hot vector by ``E`` gives the same row, only much more slowly.
Every function here takes torch tensors (numpy arrays and lists are accepted where noted) and fails with a one-line
ValueError / TypeError on bad input.
"""
from __future__ import annotations

import numpy as np
import torch

from utils.vectors import analogy_vector, top_k_from_scores, unit_rows

#: bytes per stored number for the common number formats of model weights (notebook 04, section 7).
BYTES_PER_NUMBER = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


def _as_ids(ids, vocab_size: int | None = None) -> torch.Tensor:
    """list / numpy / torch integers -> a 1-D or n-D int64 tensor; ids outside [0, vocab_size) -> ValueError."""
    if type(ids).__module__.startswith("torch"):
        t = ids.detach()
    else:
        arr = np.asarray(ids)
        if arr.size == 0:
            arr = arr.astype(np.int64)              # [] is a valid (empty) list of ids, whatever numpy guesses
        if arr.dtype.kind not in "iu":
            raise TypeError(f"token ids must be integers, got dtype {arr.dtype}")
        t = torch.as_tensor(arr)
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        raise TypeError(f"token ids must be integers, got {t.dtype}")
    t = t.long()
    if vocab_size is not None and t.numel() and (int(t.min()) < 0 or int(t.max()) >= vocab_size):
        bad = int(t.min()) if int(t.min()) < 0 else int(t.max())
        raise ValueError(f"token id {bad} is outside the vocabulary: ids run from 0 to {vocab_size - 1}")
    return t


def _as_matrix(E, name: str = "E") -> torch.Tensor:
    if not type(E).__module__.startswith("torch"):
        E = torch.as_tensor(np.asarray(E, dtype=np.float32))
    if E.ndim != 2:
        raise ValueError(f"{name} must be a matrix of shape (vocab_size, dim), got shape {tuple(E.shape)}")
    return E


def one_hot(ids, vocab_size: int) -> torch.Tensor:
    """One-hot rows: float tensor of shape ``ids.shape + (vocab_size,)`` with a single 1 per row (section 2).

    >>> one_hot([2, 0], 4)
    tensor([[0., 0., 1., 0.],
            [1., 0., 0., 0.]])
    """
    if not isinstance(vocab_size, (int, np.integer)) or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    ids = _as_ids(ids, int(vocab_size))
    out = torch.zeros(*ids.shape, int(vocab_size))
    out.scatter_(-1, ids.unsqueeze(-1), 1.0)  # put a 1 at column ids[i] of row i
    return out


def lookup(E, ids) -> torch.Tensor:
    """Rows ``E[ids]`` by indexing: ``(V, d)`` and ``(n,)`` ids -> ``(n, d)`` (section 3). What nn.Embedding does.

    >>> lookup(torch.arange(6.).reshape(3, 2), [2, 0, 2])
    tensor([[4., 5.],
            [0., 1.],
            [4., 5.]])
    """
    E = _as_matrix(E)
    return E[_as_ids(ids, E.shape[0]).to(E.device)]


def lookup_via_one_hot(E, ids) -> torch.Tensor:
    """The same rows computed as ``one_hot(ids) @ E`` (section 3): identical values, V times more work.

    >>> lookup_via_one_hot(torch.arange(6.).reshape(3, 2), [2, 0, 2])
    tensor([[4., 5.],
            [0., 1.],
            [4., 5.]])
    """
    E = _as_matrix(E)
    return one_hot(ids, E.shape[0]).to(device=E.device, dtype=E.dtype) @ E  # (n, V) @ (V, d) -> (n, d)


def parameter_count(vocab_size: int, dim: int) -> int:
    """Numbers in a (vocab_size, dim) embedding table: 50_257 x 768 -> 38_597_376 (GPT-2, section 7)."""
    for name, value in (("vocab_size", vocab_size), ("dim", dim)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(vocab_size) * int(dim)


def memory_bytes(n_params: int, dtype: str = "fp32") -> int:
    """Bytes needed to store ``n_params`` numbers: 1_000 in "fp16" -> 2_000. dtype: fp32, fp16, bf16 or int8."""
    if dtype not in BYTES_PER_NUMBER:
        raise ValueError(f"dtype must be one of {sorted(BYTES_PER_NUMBER)}, got {dtype!r}")
    if not isinstance(n_params, (int, np.integer)) or n_params < 0:
        raise ValueError(f"n_params must be a non-negative integer, got {n_params!r}")
    return int(n_params) * BYTES_PER_NUMBER[dtype]


def touched_rows(grad) -> list[int]:
    """Ids of the rows of a gradient matrix that are not all zero (section 6): which embeddings a step changes.

    >>> touched_rows(torch.tensor([[0., 0.], [0.5, 0.], [0., 0.]]))
    [1]
    """
    grad = _as_matrix(grad, "grad")
    return torch.nonzero(grad.detach().abs().sum(dim=1) > 0).flatten().tolist()


def nearest_rows(E, query, k: int = 5, exclude=()) -> tuple[list[int], list[float]]:
    """The k rows of E with the highest cosine similarity to ``query`` (a vector of length d), best first (section 8).

    Rows listed in ``exclude`` are skipped (e.g. the query word itself). Ties go to the smaller id, so the result is
    deterministic. Returns (ids, cosine scores as Python floats).

    >>> nearest_rows(torch.tensor([[1., 0.], [0., 1.], [2., 0.1]]), torch.tensor([1., 0.]), k=2)
    ([0, 2], [1.0, 0.9988])
    """
    E = _as_matrix(E)
    q = query if type(query).__module__.startswith("torch") else torch.as_tensor(np.asarray(query, np.float32))
    if q.ndim != 1 or q.shape[0] != E.shape[1]:
        raise ValueError(f"query must be one vector of length {E.shape[1]}, got shape {tuple(q.shape)}")
    if float(q.norm()) == 0:
        raise ValueError("the query is a zero vector: it has no direction, so cosine is undefined")
    exclude = set(int(i) for i in exclude)
    if not 1 <= k <= E.shape[0] - len(exclude):
        raise ValueError(f"k must be between 1 and {E.shape[0] - len(exclude)}, got {k}")
    E = E.detach().cpu()
    E = E if E.dtype in (torch.float32, torch.float64) else E.float()         # numpy has no bfloat16
    q = q.detach().cpu().to(E.dtype)
    # cosine = dot product of unit vectors (an all-zero row stays zero: cosine 0)
    scores = (unit_rows(E.numpy()) @ unit_rows(q.numpy()[None, :])[0]).astype(np.float32)   # (V,), reported as float32
    if exclude:
        scores[list(exclude)] = -np.inf
    order, best = top_k_from_scores(scores, k)                                # ties -> smaller id first
    return order.tolist(), [round(float(s), 4) for s in best]


def word_vector(word: str, E, tokenizer) -> tuple[torch.Tensor, list[str]]:
    """The row of ``word`` in E, or the mean of its pieces' rows if the tokenizer splits it (section 8).

    ``tokenizer`` is a ``tokenizers.Tokenizer`` (e.g. MiniLM's); special tokens such as [CLS]/[SEP] are left out.
    Returns (vector of length d, the list of pieces).
    """
    if not isinstance(word, str) or not word.strip():
        raise ValueError("give a non-empty word")
    enc = tokenizer.encode(word.strip(), add_special_tokens=False)
    if not enc.ids:
        raise ValueError(f"{word!r} produced no tokens")
    E = _as_matrix(E)
    rows = E[torch.tensor(enc.ids, device=E.device)]                          # (pieces, d)
    return rows.mean(dim=0), list(enc.tokens)


def nearest_words(word: str, E, tokenizer, k: int = 8) -> list[tuple[str, float]]:
    """[(token, cosine), ...]: the k tokens whose rows are closest to ``word``'s vector, its own pieces excluded.

    With MiniLM: nearest_words("king", E, tok, 3) -> [("kings", 0.69), ("queen", 0.627), ("monarch", 0.494)]
    (scores rounded here for the docstring).
    """
    vec, pieces = word_vector(word, E, tokenizer)
    own = tokenizer.encode(word.strip(), add_special_tokens=False).ids   # the word's own pieces: trivial answers
    ids, scores = nearest_rows(E, vec, k=k, exclude=own)
    return [(tokenizer.id_to_token(i), s) for i, s in zip(ids, scores)]


def analogy(a: str, b: str, c: str, E, tokenizer, k: int = 5, exclude_inputs: bool = True):
    """Tokens closest to vec(a) - vec(b) + vec(c), e.g. king - man + woman (section 8).

    By convention the three input words are excluded from the answers (``exclude_inputs=True``); without that
    the nearest row is often ``a`` itself.
    """
    vecs, ids = [], []
    for w in (a, b, c):
        v, _ = word_vector(w, E, tokenizer)
        vecs.append(v)
        ids += tokenizer.encode(w, add_special_tokens=False).ids
    target = analogy_vector(vecs[1], vecs[0], vecs[2])       # a - b + c: "b is to a as c is to ?"
    found, scores = nearest_rows(E, target, k=k, exclude=ids if exclude_inputs else ())
    return [(tokenizer.id_to_token(i), s) for i, s in zip(found, scores)]


def pca_2d(X) -> np.ndarray:
    """Project the rows of X (n, d) onto their first two principal components -> (n, 2) numpy (section 8).

    Signs are fixed (the largest-magnitude coordinate of each component is positive) so plots are reproducible.
    """
    X = X.detach().cpu().double().numpy() if type(X).__module__.startswith("torch") else np.asarray(X, float)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"need a matrix with at least 2 rows, got shape {X.shape}")
    Xc = X - X.mean(axis=0)                                  # centre: PCA describes spread around the mean
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)        # rows of Vt: directions of largest spread first
    comps = Vt[:2]
    signs = np.sign(comps[np.arange(2), np.abs(comps).argmax(axis=1)])
    return Xc @ (comps * signs[:, None]).T
