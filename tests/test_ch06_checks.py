"""Every exercise of notebook 06: right answer passes, stub is 'not attempted', typical mistakes are named."""
import math

import numpy as np
import torch

from check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils.checks import ch06
from utils.positional import apply_rope


# ---------------------------------------------------------------- 6.1 bag of embeddings
def test_bag_of_embeddings():
    assert_passes(ch06.bag_of_embeddings, lambda ids, table: table[ids].sum(dim=0))
    assert_passes(ch06.bag_of_embeddings, lambda ids, table: table.numpy()[ids].sum(axis=0))
    assert_not_attempted(ch06.bag_of_embeddings, stub_function)
    assert_rejects(ch06.bag_of_embeddings, lambda ids, table: table[ids], match="stacked rows")
    assert_rejects(ch06.bag_of_embeddings, lambda ids, table: table[ids].reshape(-1), match="concatenated")
    assert_rejects(ch06.bag_of_embeddings, lambda ids, table: table[ids].sum(dim=1), match="embedding axis")
    assert_rejects(ch06.bag_of_embeddings, lambda ids, table: table[ids].mean(dim=0), match="averaged")
    assert_rejects(ch06.bag_of_embeddings, lambda ids, table: table[: len(ids)].sum(dim=0), match="token ids")
    assert_rejects(ch06.bag_of_embeddings, lambda ids, table: None, match="return")
    # order-aware weighting: position-weighted sum is not a bag
    assert_rejects(ch06.bag_of_embeddings,
                   lambda ids, table: sum((i + 1) * table[t] for i, t in enumerate(ids)), match="reordering")
    assert_rejects(ch06.bag_of_embeddings, lambda ids, table: 2 * table[ids].sum(dim=0), match="multiple")
    assert_rejects(ch06.bag_of_embeddings, lambda ids, table: table[ids].sum(dim=0) + table[0], match="not table")


# ---------------------------------------------------------------- 6.2 add positions
def test_add_positions():
    assert_passes(ch06.add_positions, lambda tokens, table: tokens + table[: tokens.shape[1]])
    assert_not_attempted(ch06.add_positions, stub_function)

    def in_place(tokens, table):
        tokens += table[: tokens.shape[1]]
        return tokens
    assert_rejects(ch06.add_positions, in_place, match="in place")
    assert_rejects(ch06.add_positions, lambda t, P: torch.cat([t, P[: t.shape[1]].expand(t.shape[0], -1, -1)], dim=2),
                   match="concatenated")
    assert_rejects(ch06.add_positions, lambda t, P: t + P[0], match="position 0")
    assert_rejects(ch06.add_positions, lambda t, P: t + P[: t.shape[0], None, :], match="BATCH")
    assert_rejects(ch06.add_positions, lambda t, P: t * P[: t.shape[1]], match="multiplied")
    assert_rejects(ch06.add_positions, lambda t, P: t.clone(), match="no position")
    assert_rejects(ch06.add_positions, lambda t, P: t + P[: t.shape[1]].flip(0), match="reversed")
    assert_rejects(ch06.add_positions, lambda t, P: t + P[:5], match="seq = 5")
    assert_rejects(ch06.add_positions, lambda t, P: t + P, match=r"table\[:seq\]")   # (16, 8) does not broadcast


# ---------------------------------------------------------------- 6.3 sinusoidal table
def _table(n, d, base=10000, *, exp=None, swap=False, times=False, transpose=False, halves=False):
    p = torch.arange(n, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d, 2, dtype=torch.float64)
    e = two_i / d if exp is None else exp
    ang = p * base ** e if times else p / base ** e
    s, c = torch.sin(ang), torch.cos(ang)
    if swap:
        s, c = c, s
    if halves:
        out = torch.cat([s, c], dim=1)
    else:
        out = torch.empty(n, d, dtype=torch.float64)
        out[:, 0::2], out[:, 1::2] = s, c
    return out.T if transpose else out


def test_sinusoidal_positions():
    assert_passes(ch06.sinusoidal_positions, lambda n, d, base=10000: _table(n, d, base))
    assert_passes(ch06.sinusoidal_positions, lambda n, d, base=10000: _table(n, d, base).float().numpy())
    assert_not_attempted(ch06.sinusoidal_positions, stub_function)
    assert_rejects(ch06.sinusoidal_positions, lambda n, d, base=10000: _table(n, d, base, swap=True), match="swapped")
    assert_rejects(ch06.sinusoidal_positions, lambda n, d, base=10000: _table(n, d, base, transpose=True),
                   match="transposed")
    assert_rejects(ch06.sinusoidal_positions,
                   lambda n, d, base=10000: _table(n, d, base, exp=torch.arange(d // 2, dtype=torch.float64) / d),
                   match="exponent")
    assert_rejects(ch06.sinusoidal_positions, lambda n, d, base=10000: _table(n, d, base, times=True), match="divide")
    assert_rejects(ch06.sinusoidal_positions, lambda n, d, base=10000: _table(n, d, base, halves=True),
                   match="interleave")
    assert_rejects(ch06.sinusoidal_positions, lambda n, d, base=10000: _table(n, d, 10000), match="base")

    def own_freq(n, d, base=10000):
        ang = torch.arange(n, dtype=torch.float64)[:, None] / base ** (torch.arange(d, dtype=torch.float64) / d)
        out = torch.sin(ang)
        out[:, 1::2] = torch.cos(ang[:, 1::2])
        return out
    assert_rejects(ch06.sinusoidal_positions, own_freq, match="odd columns")

    def only_sin(n, d, base=10000):
        t = _table(n, d, base)
        t[:, 1::2] = t[:, 0::2]
        return t
    assert_rejects(ch06.sinusoidal_positions, only_sin, match="only sines")


# ---------------------------------------------------------------- 6.4 RoPE
def _rope(x, pos, base=10000, *, sign=1, swap=False, halves=False, freq_one=False, exp=None, no_pos=False):
    d = x.shape[-1]
    e = torch.arange(0, d, 2, dtype=torch.float64) / d if exp is None else exp
    freqs = torch.ones(d // 2, dtype=torch.float64) if freq_one else base ** (-e)
    p = torch.ones(len(pos), dtype=torch.float64) if no_pos else torch.as_tensor(pos, dtype=torch.float64)
    ang = sign * p[:, None] * freqs
    c, s = torch.cos(ang).float(), torch.sin(ang).float()
    if swap:
        c, s = s, c
    if halves:
        a, b = x[:, : d // 2], x[:, d // 2:]
        return torch.cat([a * c - b * s, a * s + b * c], dim=1)
    out = torch.empty_like(x)
    out[:, 0::2] = x[:, 0::2] * c - x[:, 1::2] * s
    out[:, 1::2] = x[:, 0::2] * s + x[:, 1::2] * c
    return out


def test_apply_rope():
    assert_passes(ch06.apply_rope, lambda x, pos, base=10000: _rope(x, pos, base))
    assert_passes(ch06.apply_rope, lambda x, pos, base=10000: apply_rope(x, pos, base))
    assert_not_attempted(ch06.apply_rope, stub_function)
    assert_rejects(ch06.apply_rope, lambda x, pos, base=10000: x.clone(), match="nothing was rotated")
    assert_rejects(ch06.apply_rope, lambda x, pos, base=10000: _rope(x, pos, base, sign=-1), match="wrong way")
    assert_rejects(ch06.apply_rope, lambda x, pos, base=10000: _rope(x, pos, base, swap=True), match="swapped")
    assert_rejects(ch06.apply_rope, lambda x, pos, base=10000: _rope(x, pos, base, halves=True), match="CONSECUTIVE")
    assert_rejects(ch06.apply_rope, lambda x, pos, base=10000: _rope(x, pos, base, freq_one=True), match="same speed")
    assert_rejects(ch06.apply_rope, lambda x, pos, base=10000: _rope(x, pos, base, exp=torch.arange(4.0) / 8),
                   match="exponent")
    assert_rejects(ch06.apply_rope, lambda x, pos, base=10000: _rope(x, pos, base, no_pos=True),
                   match="grow with the position")
    assert_rejects(ch06.apply_rope, lambda x, pos, base=10000: 2 * _rope(x, pos, base), match="norm")
    assert_rejects(ch06.apply_rope, lambda x, pos, base=10000: _rope(x, pos, 10000), match="base")

    def in_place(x, pos, base=10000):
        x[:] = _rope(x, pos, base)
        return x
    assert_rejects(ch06.apply_rope, in_place, match="in place")


# ---------------------------------------------------------------- 6.5 RoPE score
def test_rope_score():
    assert_passes(ch06.rope_score, lambda q, k, m, n: float(apply_rope(q, m) @ apply_rope(k, n)))
    assert_passes(ch06.rope_score, lambda q, k, m, n: apply_rope(q, m) @ apply_rope(k, n))   # 0-D tensor is fine
    assert_not_attempted(ch06.rope_score, stub_function)
    assert_rejects(ch06.rope_score, lambda q, k, m, n: float(apply_rope(q, m) @ apply_rope(k, m)), match="never changes")
    assert_rejects(ch06.rope_score, lambda q, k, m, n: float(q @ k), match="never changes")
    assert_rejects(ch06.rope_score, lambda q, k, m, n: float(apply_rope(q, m) @ k), match="only q")
    assert_rejects(ch06.rope_score, lambda q, k, m, n: float(apply_rope(q, n) @ apply_rope(k, m)), match="swapped")
    assert_rejects(ch06.rope_score, lambda q, k, m, n: apply_rope(q, m) * apply_rope(k, n), match="ONE number")
    assert_rejects(ch06.rope_score,
                   lambda q, k, m, n: float(apply_rope(q, m) @ apply_rope(k, n) / (q.norm() * k.norm())),
                   match="cosine")
    assert_rejects(ch06.rope_score, lambda q, k, m, n: None, match="return")


# ---------------------------------------------------------------- quizzes
def test_quiz_rope():
    assert_passes(ch06.quiz_rope, "c")
    assert_not_attempted(ch06.quiz_rope, ...)
    assert_rejects(ch06.quiz_rope, "a", match="input embeddings")
    assert_rejects(ch06.quiz_rope, "b", match="values")
    assert_rejects(ch06.quiz_rope, "d", match="norms")
    assert_rejects(ch06.quiz_rope, "z", match="one letter")


def test_quiz_length():
    assert_passes(ch06.quiz_length, "b")
    assert_not_attempted(ch06.quiz_length, ...)
    assert_rejects(ch06.quiz_length, "a", match="row 511")
    assert_rejects(ch06.quiz_length, "c", match="lookup")
    assert_rejects(ch06.quiz_length, "d", match="positions matter")


def test_every_exercise_registered():
    from utils.checks import REGISTRY
    assert list(REGISTRY["06"]) == ["6.1", "6.2", "6.3", "6.4", "6.5", "6.6", "6.7"]
    assert not math.isnan(float(np.float32(0)))


def test_sinusoidal_positions_names_positions_from_one():
    def from_one(num_positions, dim, base=10000):
        return _table(num_positions + 1, dim, base)[1:]
    assert_rejects(ch06.sinusoidal_positions, from_one, match="start at position 1")


def test_apply_rope_names_ignored_positions():
    def by_row(x, positions, base=10000):
        return apply_rope(x, list(range(x.shape[0])), base)
    assert_rejects(ch06.apply_rope, by_row, match="ignoring `positions`")


def test_rope_score_explains_a_negative_offset():
    def offset_form(q, k, m, n):
        return float(q @ apply_rope(k, n - m))           # right in theory; apply_rope takes positions >= 0 only
    assert_rejects(ch06.rope_score, offset_form, match="negative position")


# ---------------------------------------------------------------- the check never trusts what fn did to its input
def zeroes_table_returns_ones(token_ids, table):
    """Zeroes the table, sets one looked-up row to ones and returns ones: right for the table it leaves behind, so
    a check that looked the rows up in that table after the call would accept it."""
    table.zero_()
    table[token_ids[0]] = 1.0
    return torch.ones(table.shape[1])


def positions_by_row_number(tokens, table):
    """Adds the row number i instead of table row i, and writes i into the table so that the two look alike."""
    table.copy_(torch.arange(table.shape[0], dtype=table.dtype)[:, None].expand_as(table))
    return tokens + table[: tokens.shape[1]]


def rope_capped_at_10(x, positions, base=10000):
    """Caps positions at 10 (as if there were a maximum length), and writes the capped positions back."""
    positions.clamp_(max=10)
    return apply_rope(x, positions, base=base)


def rope_score_of_unit_q(q, k, m, n):
    """Normalises q in place (q /= |q|), then scores the normalised q: every score shrinks by |q|."""
    q.div_(q.norm())
    return float(apply_rope(q, m) @ apply_rope(k, n))


def test_checks_of_06_reject_functions_that_change_their_inputs():
    assert_rejects(ch06.bag_of_embeddings, zeroes_table_returns_ones, match="changed its input `table` in place")
    assert_rejects(ch06.add_positions, positions_by_row_number, match="changed its input `table` in place")
    assert_rejects(ch06.apply_rope, rope_capped_at_10, match="changed its input `positions` in place")
    assert_rejects(ch06.rope_score, rope_score_of_unit_q, match="changed its input `q` in place")
