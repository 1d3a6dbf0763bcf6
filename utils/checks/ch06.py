"""Checks for notebook 06 (positional embeddings: the order problem, learned, sinusoidal, RoPE)."""
from __future__ import annotations

import functools

import numpy as np

from utils.checks import CheckFailed, call_on_copies, exercise, expect, expect_unchanged, quiz
from utils.checks.values import as_array, close, returned, scalar


#: this chapter's tolerance: float32 answers against float64 references
_close = functools.partial(close, atol=1e-4)


# ------------------------------------------------------------------------------------------------------- 6.1
@exercise("6.1", "A bag of token embeddings is blind to order")
def bag_of_embeddings(fn):
    """fn(token_ids, table) -> the SUM of the rows table[token_ids], shape (dim,)."""
    import torch
    table = torch.randn(5, 8, generator=torch.Generator().manual_seed(6))     # (vocab=5, dim=8)
    ids = [3, 1, 4]
    rows = table[ids].numpy().astype(np.float64)                              # (3, 8)
    got, (ids_after, table_after) = call_on_copies(fn, ids, table)           # table and ids never reach fn
    got = as_array(got, "bag_of_embeddings", dtype=np.float64)
    expect_unchanged(ids, ids_after, "token_ids")
    expect_unchanged(table, table_after, "table", "look the rows up and add them, leave the table as it is")
    if got.shape == (3, 8):
        raise CheckFailed("you returned the stacked rows, shape (3, 8); add them up over the token axis (dim=0)")
    if got.shape == (24,):
        raise CheckFailed("you concatenated the vectors (shape (24,)): that keeps the order, a bag SUMS them to (8,)")
    if got.shape == (3,):
        raise CheckFailed("shape (3,): you summed over the embedding axis; sum over the token axis (dim=0) to get (8,)")
    expect(got.shape == (8,), f"the bag should have shape (dim,) = (8,), got {got.shape}")
    if _close(got, rows.mean(axis=0)):
        raise CheckFailed("you averaged the rows; this exercise asks for the plain sum (both are order-blind)")
    if _close(got, table.numpy()[: len(ids)].sum(axis=0)):
        raise CheckFailed("you summed the first rows of the table, not the rows of the token ids: use table[token_ids]")
    again = as_array(call_on_copies(fn, [4, 3, 1], table)[0], "bag_of_embeddings", dtype=np.float64)
    if not _close(again, got):
        raise CheckFailed("reordering the same tokens changed your result: each row must count the same wherever "
                          "its token stands - a bag is the plain sum table[token_ids].sum(dim=0)")
    if _close(got, 2 * rows.sum(axis=0)) or _close(got, rows.sum(axis=0) * len(ids)):
        raise CheckFailed("your sum is a multiple of the right one: add each looked-up row exactly once")
    expect(_close(got, rows.sum(axis=0)),
           "the result is not table[token_ids].sum(dim=0): look up the rows of the ids, then add them up over dim 0")
    return "the same three tokens in any order give the same vector"


# ------------------------------------------------------------------------------------------------------- 6.2
@exercise("6.2", "Add positions to a batch of token vectors")
def add_positions(fn):
    """fn(tokens (batch, seq, dim), table (max_positions, dim)) -> tokens + table[:seq], input unchanged."""
    import torch
    g = torch.Generator().manual_seed(62)
    tokens = torch.randn(2, 5, 8, generator=g)                                # (batch=2, seq=5, dim=8)
    table = torch.randn(16, 8, generator=g)                                   # (max_positions=16, dim=8)
    longer = torch.randn(3, 7, 8, generator=g)                                # (batch=3, seq=7, dim=8)
    t, P = tokens.numpy().astype(np.float64), table.numpy().astype(np.float64)
    try:                                                                      # fn gets copies, never these
        got, (tokens_after, table_after) = call_on_copies(fn, tokens, table)
        got = as_array(got, "add_positions", dtype=np.float64)
    except RuntimeError as err:
        if "must match the size" in str(err):
            raise CheckFailed("the shapes do not fit: a (2, 5, 8) batch needs only the first 5 rows, table[:seq]") from None
        raise
    if not torch.equal(tokens_after, tokens):
        raise CheckFailed("your function changed `tokens` in place (+=); return tokens + ... as a new tensor")
    expect_unchanged(table, table_after, "table", "read its first seq rows, leave the table as it is")
    if got.shape == (2, 5, 16):
        raise CheckFailed("shape (2, 5, 16): you concatenated positions to the tokens; the model ADDS them (same dim)")
    expect(got.shape == (2, 5, 8), f"the result should keep the tokens' shape (2, 5, 8), got {got.shape}")
    if _close(got, t):
        raise CheckFailed("the result equals the tokens: no position vectors were added")
    if _close(got, t * P[:5]):
        raise CheckFailed("you multiplied tokens and positions; the input is token vector PLUS position vector")
    if _close(got, t + P[0]):
        raise CheckFailed("every token got the vector of position 0; token i needs row i of the table (table[:seq])")
    if _close(got, t + P[:2, None, :]):
        raise CheckFailed("you picked positions by the BATCH index; positions run along the sequence axis (axis 1)")
    if _close(got, t + P[:5][::-1]):
        raise CheckFailed("positions are reversed: the first token gets row 0 of the table")
    expect(_close(got, t + P[:5]), "the result is not tokens + table[:seq] (row i of the table added to token i)")
    try:
        other = as_array(call_on_copies(fn, longer, table)[0], "add_positions", dtype=np.float64)
    except RuntimeError:
        other = None
    expect(other is not None and _close(other, longer.numpy().astype(np.float64) + P[:7]),
           "works only for seq = 5? a (3, 7, 8) batch needs table[:7]; take seq from tokens.shape[1]")


# ------------------------------------------------------------------------------------------------------- 6.3
def _reference_table(n: int, d: int, base: float) -> np.ndarray:
    """The right answer: :func:`utils.positional.sinusoidal_positions`, as float64 numpy."""
    from utils.positional import sinusoidal_positions
    return sinusoidal_positions(n, d, base).double().numpy()


def _sinusoid(n: int, d: int, base: float, *, freq_exp=None, swap=False, halves=False, times=False) -> np.ndarray:
    """The typical wrong tables (sin/cos swapped, halves, wrong exponent, multiplied), in float64."""
    p = np.arange(n)[:, None].astype(np.float64)
    two_i = np.arange(0, d, 2).astype(np.float64)
    exponent = two_i / d if freq_exp is None else freq_exp
    angles = p * base ** exponent if times else p / base ** exponent       # (n, d/2)
    s, c = np.sin(angles), np.cos(angles)
    if swap:
        s, c = c, s
    if halves:
        return np.concatenate([s, c], axis=1)
    out = np.empty((n, d))
    out[:, 0::2], out[:, 1::2] = s, c
    return out


@exercise("6.3", "Build the sinusoidal position table")
def sinusoidal_positions(fn):
    """fn(num_positions, dim, base=10000) -> (num_positions, dim) tensor or array: sin on even columns, cos on odd."""
    n, d = 50, 16
    got = as_array(fn(n, d), "sinusoidal_positions", dtype=np.float64)
    if got.shape == (d, n):
        raise CheckFailed(f"shape {(d, n)}: positions and dimensions are transposed; rows are positions -> ({n}, {d})")
    expect(got.shape == (n, d), f"sinusoidal_positions({n}, {d}) should have shape ({n}, {d}), got {got.shape}")
    want = _reference_table(n, d, 10000)
    if _close(got, _sinusoid(n, d, 10000, swap=True)):
        raise CheckFailed("sin and cos are swapped: sine goes on the EVEN columns (0, 2, ...), cosine on the odd ones")
    if _close(got, _sinusoid(n, d, 10000, halves=True)):
        raise CheckFailed("you put all sines in the first half and cosines in the second; interleave: sin, cos, sin, ...")
    if _close(got, _sinusoid(n, d, 10000, freq_exp=np.arange(d // 2) / d)):
        raise CheckFailed("wrong exponent: use base ** (2i / dim) with 2i the EVEN column index, not i / dim")
    if _close(got, _sinusoid(n, d, 10000, times=True)):
        raise CheckFailed("you multiplied the position by base ** (2i/dim); divide: angle = p / base ** (2i/dim)")
    odd_own = np.empty((n, d))
    j = np.arange(d)
    angles = np.arange(n)[:, None] / 10000 ** (j / d)                        # every column its own frequency
    odd_own[:, 0::2], odd_own[:, 1::2] = np.sin(angles[:, 0::2]), np.cos(angles[:, 1::2])
    if _close(got, odd_own):
        raise CheckFailed("wrong exponent on odd columns: column 2i+1 must reuse the frequency of column 2i (2i/dim)")
    if _close(got, np.repeat(np.sin(np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) / d)), 2, axis=1)):
        raise CheckFailed("only sines: the odd columns hold the COSINE of the same angle as their left neighbour")
    if _close(got, _reference_table(n + 1, d, 10000)[1:]):
        raise CheckFailed("your rows start at position 1: row 0 is position 0, so sin(0) = 0 and cos(0) = 1 there")
    expect(_close(got, want), "the values differ from sin(p / 10000^(2i/dim)) on even and cos(...) on odd columns")
    got100 = as_array(fn(8, 4, base=100), "sinusoidal_positions", dtype=np.float64)
    expect(_close(got100, _reference_table(8, 4, 100)),
           "the `base` argument is ignored: use it instead of a fixed 10000")
    return f"row 0 is [0, 1, 0, 1, ...] and every row has norm sqrt(dim / 2) = sqrt({d // 2}) = {np.sqrt(d / 2):.4f}"


# ------------------------------------------------------------------------------------------------------- 6.4
def _reference_rope(x: np.ndarray, pos: np.ndarray, base: float = 10000.0) -> np.ndarray:
    """The right answer: :func:`utils.positional.apply_rope` on float64 numpy input, as float64 numpy."""
    from utils.positional import apply_rope
    import torch
    return apply_rope(torch.from_numpy(x), torch.from_numpy(pos), base=base).numpy()


def _rope(x: np.ndarray, pos: np.ndarray, base: float = 10000.0, *, sign=1.0, swap=False, exp=None,
          scale_by_pos=True, freq_one=False, halves=False) -> np.ndarray:
    """The typical wrong rotations (wrong direction, cos/sin swapped, halves, one frequency, wrong exponent, angle not
    scaled by the position), on consecutive pairs, in float64."""
    d = x.shape[-1]
    exponent = np.arange(0, d, 2) / d if exp is None else exp
    freqs = np.ones(d // 2) if freq_one else base ** (-exponent)
    angles = (pos[:, None] if scale_by_pos else np.ones((len(pos), 1))) * freqs * sign
    c, s = np.cos(angles), np.sin(angles)
    if swap:
        c, s = s, c
    if halves:
        a, b = x[:, : d // 2], x[:, d // 2:]
        return np.concatenate([a * c - b * s, a * s + b * c], axis=1)
    a, b = x[:, 0::2], x[:, 1::2]
    out = np.empty_like(x)
    out[:, 0::2], out[:, 1::2] = a * c - b * s, a * s + b * c
    return out


@exercise("6.4", "Apply RoPE: rotate pairs of dimensions")
def apply_rope(fn):
    """fn(x (seq, dim), positions (seq,), base=10000) -> x with each pair (2i, 2i+1) rotated by position * ω_i."""
    import torch
    x = torch.randn(6, 8, generator=torch.Generator().manual_seed(64))       # (seq=6, dim=8)
    positions = torch.tensor([0, 1, 2, 5, 10, 100])                           # (seq,)
    xs, pos = x.numpy().astype(np.float64), positions.numpy().astype(np.float64)
    got, (x_after, positions_after) = call_on_copies(fn, x, positions)       # x, positions never reach fn
    got = as_array(got, "apply_rope", dtype=np.float64)
    if not torch.equal(x_after, x):
        raise CheckFailed("your function changed x in place; build a new tensor (e.g. torch.empty_like(x))")
    expect_unchanged(positions, positions_after, "positions")
    expect(got.shape == (6, 8), f"the result should keep the shape of x, (6, 8), got {got.shape}")
    if _close(got, xs):
        raise CheckFailed("the result equals x: nothing was rotated")
    if _close(got, _rope(xs, pos, sign=-1.0)):
        raise CheckFailed("you rotate the wrong way (angle -θ): out[2i] = x[2i]·cos θ - x[2i+1]·sin θ, "
                          "out[2i+1] = x[2i]·sin θ + x[2i+1]·cos θ")
    if _close(got, _rope(xs, pos, swap=True)):
        raise CheckFailed("cos and sin are swapped in the rotation; position 0 must leave the vector unchanged")
    if _close(got, _rope(xs, pos, halves=True)):
        raise CheckFailed("you paired dimension i with i + dim/2; here the pairs are CONSECUTIVE: (0, 1), (2, 3), ...")
    if _close(got, _rope(xs, pos, freq_one=True)):
        raise CheckFailed("every pair turns at the same speed; pair i needs the angle position * base ** (-2i/dim)")
    if _close(got, _rope(xs, pos, exp=np.arange(4) / 8)):
        raise CheckFailed("wrong exponent: the frequency of pair i is base ** (-2i / dim), not base ** (-i / dim)")
    if _close(got, _rope(xs, pos, scale_by_pos=False)):
        raise CheckFailed("the angle does not grow with the position: rotate by position * frequency")
    if not np.allclose(np.linalg.norm(got, axis=1), np.linalg.norm(xs, axis=1), atol=1e-4):
        raise CheckFailed("the lengths of the vectors changed; a rotation keeps every norm - check the formulas")
    if _close(got, _reference_rope(xs, np.arange(len(xs), dtype=np.float64))):
        raise CheckFailed("you rotated row r by r, ignoring `positions` ([0, 1, 2, 5, 10, 100] here): use positions[r]")
    expect(_close(got, _reference_rope(xs, pos)),
           "wrong values: rotate each pair (x[2i], x[2i+1]) by position * base^(-2i/dim)")
    got_b = as_array(call_on_copies(fn, x[:2], torch.tensor([3, 4]), base=100)[0], "apply_rope", dtype=np.float64)
    expect(_close(got_b, _reference_rope(xs[:2], np.array([3.0, 4.0]), base=100)),
           "the `base` argument is ignored: use it instead of a fixed 10000")


# ------------------------------------------------------------------------------------------------------- 6.5
@exercise("6.5", "The RoPE score depends only on m - n")
def rope_score(fn):
    """fn(q, k, m, n) -> one number (a float or a 0-d tensor): rotate q to position m, k to position n
    (utils.positional.apply_rope), dot them."""
    import torch
    from utils.positional import apply_rope, rope_score as reference

    g = torch.Generator().manual_seed(65)
    q, k = torch.randn(8, generator=g), torch.randn(8, generator=g)         # (8,) each

    def ref(m, n):
        return reference(q, k, m, n)

    def call(m, n):
        try:
            value, (q_after, k_after, _, _) = call_on_copies(fn, q, k, m, n)   # q, k never reach fn
        except ValueError as err:
            if "must be >= 0" not in str(err):
                raise
            raise CheckFailed(f"for m = {m}, n = {n} your code asked apply_rope for a negative position ({err}): "
                              "the offset form rotates by n - m, which can be negative - rotate q by m and k by n "
                              "instead (the score is the same)") from None
        returned(value, "rope_score")
        expect_unchanged(q, q_after, "q")
        expect_unchanged(k, k_after, "k")
        return scalar(value, "the score", one="the score should be ONE number (a dot product), got shape {shape}: "
                                              "sum the products")

    pairs = [(3, 1), (103, 101), (5, 9), (40, 0)]
    want = [ref(m, n) for m, n in pairs]
    got = [call(m, n) for m, n in pairs]
    if np.allclose(got, float(q @ k), atol=1e-4):
        raise CheckFailed("the score never changes: rotate q by m and k by n (different angles), not both by m or none")
    if np.allclose(got, [float(apply_rope(q, m) @ k) for m, _ in pairs], atol=1e-4):
        raise CheckFailed("only q is rotated: the key sits at position n, so rotate k by n too")
    if np.allclose(got, [ref(n, m) for m, n in pairs], atol=1e-4):
        raise CheckFailed("positions swapped: q goes to position m and k to position n")
    cosines = [w / float(q.norm() * k.norm()) for w in want]
    if np.allclose(got, cosines, atol=1e-4):
        raise CheckFailed("you divided by the norms (a cosine); the attention score is the plain dot product")
    expect(np.allclose(got, want, atol=1e-4), "wrong values: score = apply_rope(q, m) @ apply_rope(k, n)")
    expect(abs(got[0] - got[1]) < 1e-4, "score(3, 1) and score(103, 101) should be equal: same offset m - n = 2")
    return f"score(3, 1) = score(103, 101) = {got[0]:.4f}: only the offset m - n = 2 matters"


# ------------------------------------------------------------------------------------------------------- quizzes
quiz_rope = quiz(
    "6.6", "Quiz: where RoPE acts",
    correct="c", options="abcd",
    why_wrong={
        "a": "RoPE adds nothing to the input embeddings; that is what learned and sinusoidal positions do",
        "b": "values are left as they are: only the SCORES (q·k) need to know the offset",
        "d": "rotation keeps norms, and the model's output layer never sees a rotation",
    },
    explanation="RoPE rotates the queries and keys inside every attention layer; the score q·k then depends "
                "on m - n only, while token embeddings and values carry no position vector at all.")


quiz_length = quiz(
    "6.7", "Quiz: a learned table has a fixed length",
    correct="b", options="abcd",
    why_wrong={
        "a": "nothing re-uses row 511: an index past the table is simply out of range",
        "c": "a learned table is a lookup, not a formula; there is nothing to extrapolate from",
        "d": "MiniLM adds a position vector to every token, so positions matter to it",
    },
    explanation="the table has rows for positions 0..511 only, so the text must be cut (sentence-transformers "
                "truncates MiniLM inputs to 256 tokens); a formula such as sinusoids or RoPE has no such table.")
