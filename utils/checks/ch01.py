"""Checks for notebook 01 (scalars, vectors, matrices, tensors)."""
from __future__ import annotations

import numpy as np

from utils.checks import CheckFailed, call_on_copies, exercise, expect, expect_unchanged, quiz
from utils.checks.values import as_numpy, expect_array, is_torch, returned
from utils.tensors import broadcast_shape, matmul_shape


#: the pairs the notebook asks about (its markdown lists them); the answers must cover exactly these
BROADCAST_PAIRS = [((3, 1), (1, 4)), ((2, 3), (3,)), ((2, 3), (2,)), ((8, 1, 5), (7, 1)), ((4, 768), (768,))]
MATMUL_PAIRS = [((5, 4), (4, 3)), ((8, 5, 4), (4, 3)), ((8, 5, 4), (8, 4, 2)), ((8, 5, 4), (5, 4))]


def _exact_keys(answers, pairs) -> None:
    """The answers dict has one entry per asked pair, no more, no fewer (keys as tuples of tuples)."""
    expect(isinstance(answers, dict), f"answers should be a dict, got {type(answers).__name__}")
    keys = {tuple(tuple(shape) for shape in key) if isinstance(key, (tuple, list)) else key for key in answers}
    extra = [k for k in keys if k not in pairs]
    if extra:
        raise CheckFailed(f"{extra[0]!r} is not one of the pairs asked: use exactly the keys listed in the exercise")
    missing = [p for p in pairs if p not in keys]
    if missing:
        raise CheckFailed(f"no answer for the pair {missing[0]!r}: fill in every line of the answers dict")


def _clash(a: tuple, b: tuple) -> str:
    """'3 vs 2': the first sizes, aligned on the right, that are different and neither 1."""
    for x, y in zip(reversed(a), reversed(b)):
        if x != y and 1 not in (x, y):
            return f"{x} vs {y}"
    return "no clash"


@exercise("1.1", "Build tensors of given shapes")
def build_tensors(s, v, M, T):
    """s: 0-D, v: shape (4,), M: shape (2, 3), T: shape (2, 3, 4) - all torch tensors."""
    for name, x in (("s", s), ("v", v), ("M", M), ("T", T)):
        if isinstance(x, (int, float)):
            raise CheckFailed(f"{name} is a plain Python {type(x).__name__}; wrap it: torch.tensor({x!r})")
        expect(is_torch(x), f"{name} should be a torch tensor, got {type(x).__module__}.{type(x).__name__}")
    expect(s.ndim == 0, f"s should be a scalar (0 axes, shape ()), got shape {tuple(s.shape)} - "
                        "torch.tensor(5.0), not torch.tensor([5.0])")
    expect(tuple(v.shape) != (1, 4), "v has shape (1, 4): that is a matrix with one row; a vector has ONE axis: (4,)")
    expect(tuple(v.shape) == (4,), f"v should have shape (4,), got {tuple(v.shape)}")
    expect(tuple(M.shape) != (3, 2), "M has shape (3, 2): rows and columns swapped - shape is (rows, columns)")
    expect(tuple(M.shape) == (2, 3), f"M should have shape (2, 3), got {tuple(M.shape)}")
    expect(tuple(T.shape) != (4, 3, 2), "T has its axes in reverse order: (4, 3, 2) instead of (2, 3, 4)")
    expect(tuple(T.shape) == (2, 3, 4), f"T should have shape (2, 3, 4), got {tuple(T.shape)}")


@exercise("1.2", "Axes, shape and size")
def axes_shape_size(n_axes, shape, n_elements):
    """For x = torch.zeros(2, 5, 8): ndim 3, shape (2, 5, 8), 80 numbers."""
    if n_axes == 8:
        raise CheckFailed("n_axes is how many axes the tensor has (x.ndim), not the length of the last one")
    if n_axes == 80:
        raise CheckFailed("n_axes counts axes (x.ndim = 3), not numbers")
    expect(n_axes == 3, f"n_axes should be 3 (x.ndim), got {n_axes!r}")
    if isinstance(shape, (list,)) or is_torch(shape):
        shape = tuple(shape)
    expect(isinstance(shape, tuple), f"shape should be a tuple like (2, 5, 8), got {type(shape).__name__}")
    expect(shape == (2, 5, 8), f"shape should be (2, 5, 8), got {shape}")
    if n_elements == 15:
        raise CheckFailed("n_elements is 15: you added the sizes; the number of elements is their PRODUCT 2*5*8")
    if n_elements == 2:
        raise CheckFailed("n_elements is 2: that is len(x), the size of the first axis only; use x.numel()")
    expect(n_elements == 80, f"n_elements should be 2*5*8 = 80, got {n_elements!r}")


@exercise("1.3", "Swap the red and blue channels")
def swap_red_blue(fn):
    """``fn(torch.tensor([0.9, 0.5, 0.1]))`` -> ``tensor([0.1, 0.5, 0.9])``, without changing its input."""
    import torch

    orange = torch.tensor([0.9, 0.5, 0.1])
    original = orange.clone()
    got = fn(orange)
    returned(got, "swap_red_blue")
    if not torch.equal(orange, original):
        raise CheckFailed("your function changed its input colour in place; work on a copy (colour.clone())")
    got_np = expect_array(got, name="the result", shape=(3,))
    expect(not np.allclose(got_np, [0.9, 0.5, 0.1]), "the result equals the input - nothing was swapped")
    expect(not np.allclose(got_np, [0.5, 0.9, 0.1]), "you swapped red and GREEN (indices 0 and 1); blue is index 2")
    expect(not np.allclose(got_np, [0.1, 0.5, 0.1]) and not np.allclose(got_np, [0.9, 0.5, 0.9]),
           "one channel was copied over the other; a swap needs both old values (use a copy or fancy indexing)")
    expect(np.allclose(got_np, [0.1, 0.5, 0.9]), f"[0.9, 0.5, 0.1] should become [0.1, 0.5, 0.9], got {got_np.tolist()}")
    other = as_numpy(fn(torch.tensor([0.2, 0.4, 0.6])))
    expect(np.allclose(other, [0.6, 0.4, 0.2]), "works on orange only? [0.2, 0.4, 0.6] should give [0.6, 0.4, 0.2]")


@exercise("1.4", "Stack token vectors into a matrix")
def stack_tokens(X, vectors):
    """X = the three token vectors of "the cat sat" as rows, in sentence order: shape (3, 4)."""
    rows = [as_numpy(v) for v in vectors]
    X_np = as_numpy(X, "X")
    if X_np.shape == (12,):
        raise CheckFailed("X has shape (12,): you concatenated the vectors end to end; stack them as ROWS (3, 4)")
    if X_np.shape == (4, 3):
        raise CheckFailed("X has shape (4, 3): the vectors became columns; stack along a new FIRST axis (dim=0)")
    expect(X_np.shape == (3, 4), f"X should have shape (3, 4), got {X_np.shape}")
    want = np.stack(rows)
    if np.allclose(X_np, want[::-1]):
        raise CheckFailed("the rows are in reverse order; row i must be the i-th word of 'the cat sat'")
    expect(np.allclose(X_np, want), "X has the right shape but not the right rows: row 0 = 'the', 1 = 'cat', 2 = 'sat'")


@exercise("1.5", "Predict broadcast shapes")
def broadcast_answers(answers):
    """answers: dict mapping each pair of shapes to the result shape, or the string "error"."""
    _exact_keys(answers, BROADCAST_PAIRS)
    for (a, b), got in answers.items():
        a, b = tuple(a), tuple(b)
        want = broadcast_shape(a, b)
        if isinstance(got, list):
            got = tuple(got)
        if want is None:
            expect(got == "error", f"{a} + {b} cannot broadcast (align on the RIGHT: {_clash(a, b)}), "
                                   f"answer \"error\", got {got!r}")
        else:
            expect(got != "error", f"{a} + {b} does broadcast: sizes of 1 stretch; got \"error\"")
            expect(got == want, f"{a} + {b} gives shape {want}, not {got!r} - align shapes on the right, "
                                "sizes match if equal or 1")


@exercise("1.6", "Average each sentence in a batch")
def sentence_means(fn):
    """fn(batch) with batch of shape (batch, seq, dim) -> (batch, dim), the mean over the sequence axis."""
    import torch

    g = torch.Generator().manual_seed(0)
    batch = torch.randn(2, 3, 4, generator=g)  # (batch=2, seq=3, dim=4)
    b = batch.numpy()                          # batch never reaches fn, which gets a copy of it
    got, (batch_after,) = call_on_copies(fn, batch)
    returned(got, "sentence_means")
    expect_unchanged(batch, batch_after, "batch")
    got_np = as_numpy(got, "the result")
    if got_np.shape == (3, 4):
        raise CheckFailed("result has shape (3, 4): you averaged over the BATCH axis (0); average over the sequence axis (1)")
    if got_np.shape == (2, 3):
        raise CheckFailed("result has shape (2, 3): you averaged over the embedding axis (2); average over the sequence axis (1)")
    expect(got_np.shape == (2, 4), f"result should have shape (batch, dim) = (2, 4), got {got_np.shape}")
    if np.allclose(got_np, b.sum(axis=1), atol=1e-5):
        raise CheckFailed("you summed over the sequence axis; divide by the sequence length (use .mean(dim=1))")
    expect(np.allclose(got_np, b.mean(axis=1), atol=1e-5), "the values are not the means over the sequence axis")
    longer = torch.randn(5, 7, 4, generator=g)
    expect(tuple(fn(longer).shape) == (5, 4), "works only for this batch size? a (5, 7, 4) batch should give (5, 4)")


@exercise("1.7", "Shapes of batched matrix products")
def matmul_answers(answers):
    """answers: dict mapping (shape_a, shape_b) to the shape of A @ B, or "error"."""
    _exact_keys(answers, MATMUL_PAIRS)
    for (a, b), got in answers.items():
        a, b = tuple(a), tuple(b)
        want = matmul_shape(a, b)
        if isinstance(got, list):
            got = tuple(got)
        if want is None:
            expect(got == "error", f"{a} @ {b}: inner sizes {a[-1]} and {b[-2]} differ, so it is an \"error\"; got {got!r}")
            continue
        expect(got != "error", f"{a} @ {b} works: the last axis of A ({a[-1]}) meets the second-to-last of B ({b[-2]})")
        if got == want:
            continue
        if isinstance(got, tuple) and got == a[:-2] + b[:-2] + (a[-2], b[-1]):
            raise CheckFailed(f"{a} @ {b}: the batch axes are shared, not concatenated; result {want}")
        if isinstance(got, tuple) and len(got) == len(want) and got[-1] == a[-1]:
            raise CheckFailed(f"{a} @ {b}: the inner size {a[-1]} disappears in a product; result {want}")
        expect(got == want, f"{a} @ {b} should give {want}, got {got!r}")


quiz_dimension = quiz(
    "1.8", "Quiz: the dimension of an embedding vector",
    correct="b", options="abcd",
    why_wrong={
        "a": "768 is the vector's LENGTH (its dimension as a vector space), not its number of axes",
        "c": "a vector has one axis; shape (768,) means one axis of length 768",
        "d": "ndim 0 is a scalar, a single number",
    },
    explanation="a 768-dimensional embedding is ONE axis holding 768 numbers: ndim = 1, shape = (768,). "
                "'Dimension' of an embedding means its length, not its number of axes.")
