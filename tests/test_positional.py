"""Properties and error messages of utils/positional.py (notebook 06)."""
import math

import numpy as np
import pytest
import torch

from utils.positional import (LearnedPositions, add_positions, apply_rope, binary_positions, frequencies,
                              rope_angles, rope_score, similarity_by_offset, sinusoidal_offset_dot,
                              sinusoidal_positions, wavelengths)


# ---------------------------------------------------------------- sinusoidal
def test_sinusoidal_matches_the_paper_formula_loop():
    n, d, base = 20, 10, 10000
    table = sinusoidal_positions(n, d, base)
    assert table.shape == (n, d) and table.dtype == torch.float32
    for p in range(n):
        for i in range(d // 2):
            angle = p / base ** (2 * i / d)
            assert math.isclose(table[p, 2 * i], math.sin(angle), abs_tol=1e-6)
            assert math.isclose(table[p, 2 * i + 1], math.cos(angle), abs_tol=1e-6)


def test_sinusoidal_rows_have_norm_sqrt_half_dim():
    table = sinusoidal_positions(300, 64)
    assert torch.allclose(table.norm(dim=1), torch.full((300,), math.sqrt(32)), atol=1e-4)


def test_sinusoidal_dot_depends_only_on_offset():
    table = sinusoidal_positions(400, 32).double()
    for k in (0, 1, 7, 50):
        dots = (table[: 400 - k] * table[k:]).sum(dim=1)                 # every pair k apart
        assert torch.allclose(dots, dots[0].expand_as(dots), atol=1e-5)
        assert math.isclose(float(dots[0]), float(sinusoidal_offset_dot([k], 32)[0]), abs_tol=1e-4)


def test_frequencies_and_wavelengths():
    f = frequencies(8, base=10000)
    assert torch.allclose(f, torch.tensor([1.0, 0.1, 0.01, 0.001]))
    w = wavelengths(512)
    assert math.isclose(float(w[0]), 2 * math.pi, rel_tol=1e-6)
    assert float(w[-1]) < 2 * math.pi * 10000 and float(w[-1]) > 2 * math.pi * 9000
    assert torch.all(w[1:] > w[:-1])


def test_similarity_by_offset_sinusoidal_is_the_closed_form():
    d = 16
    curve = similarity_by_offset(sinusoidal_positions(100, d), 10)
    assert torch.allclose(curve, sinusoidal_offset_dot(range(11), d) / (d / 2), atol=1e-5)
    assert float(curve[0]) == pytest.approx(1.0)


def test_binary_positions():
    b = binary_positions(8, 3)
    assert b.tolist()[5] == [1.0, 0.0, 1.0]
    assert torch.equal((b * torch.tensor([1.0, 2.0, 4.0])).sum(dim=1), torch.arange(8.0))
    with pytest.raises(ValueError, match="3 bits"):
        binary_positions(9, 3)


@pytest.mark.parametrize("args, error, match", [
    ((10, 7), ValueError, "even"),
    ((0, 8), ValueError, "at least 1"),
    ((10, 8.0), TypeError, "int"),
    ((10, 8, 1), ValueError, "greater than 1"),
    ((10, 8, float("nan")), ValueError, "greater than 1"),
])
def test_sinusoidal_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        sinusoidal_positions(*args)


# ---------------------------------------------------------------- adding positions
def test_add_positions_broadcasts_over_the_batch():
    tokens = torch.randn(3, 5, 8)
    table = sinusoidal_positions(16, 8)
    before = tokens.clone()
    out = add_positions(tokens, table)
    assert out.shape == (3, 5, 8)
    assert torch.equal(tokens, before)
    assert torch.allclose(out[2, 4], tokens[2, 4] + table[4])
    assert add_positions(tokens[0], table).shape == (5, 8)


@pytest.mark.parametrize("tokens, table, error, match", [
    (torch.zeros(2, 20, 8), torch.zeros(16, 8), ValueError, "longer than the 16"),
    (torch.zeros(2, 5, 8), torch.zeros(16, 4), ValueError, "dim 8 but position vectors have dim 4"),
    (torch.zeros(8), torch.zeros(16, 8), ValueError, "shape"),
    (np.zeros((2, 5, 8)), torch.zeros(16, 8), TypeError, "torch tensor"),
    (torch.zeros(2, 5, 8, dtype=torch.long), torch.zeros(16, 8), TypeError, "floating-point"),
])
def test_add_positions_bad_input(tokens, table, error, match):
    with pytest.raises(error, match=match):
        add_positions(tokens, table)


def test_learned_positions_limit_and_gradients():
    torch.manual_seed(0)
    layer = LearnedPositions(max_positions=12, dim=4)
    tokens = torch.zeros(2, 3, 4)
    out = layer(tokens)
    assert out.shape == (2, 3, 4)
    assert torch.allclose(out[0], layer.table.weight[:3]) and torch.allclose(out[1], out[0])
    out.sum().backward()
    assert layer.table.weight.grad[:3].abs().sum() > 0 and layer.table.weight.grad[3:].abs().sum() == 0
    with pytest.raises(ValueError, match="longer than the 12 learned positions"):
        layer(torch.zeros(1, 13, 4))
    with pytest.raises(ValueError, match=r"\(batch, seq, 4\)"):
        layer(torch.zeros(1, 3, 5))


# ---------------------------------------------------------------- RoPE
def _rope_complex(x, positions, base=10000.0):
    """Independent version: a pair (a, b) is the complex number a + ib, multiplied by e^(i·angle)."""
    x = x.double()
    z = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    d = x.shape[-1]
    freqs = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angles = torch.as_tensor(positions, dtype=torch.float64)[..., None] * freqs
    return torch.view_as_real(z * torch.polar(torch.ones_like(angles), angles)).reshape(x.shape)


def test_rope_matches_complex_multiplication():
    torch.manual_seed(1)
    x = torch.randn(2, 7, 16)
    pos = [0, 1, 2, 3, 50, 500, 4095]
    assert torch.allclose(apply_rope(x, pos).double(), _rope_complex(x, pos), atol=1e-5)
    v = torch.randn(16)
    assert torch.allclose(apply_rope(v, 9).double(), _rope_complex(v, 9), atol=1e-5)


def test_rope_position_zero_is_identity_and_norms_are_kept():
    torch.manual_seed(2)
    x = torch.randn(5, 32)
    assert torch.allclose(apply_rope(x, [0] * 5), x)
    out = apply_rope(x, [1, 10, 100, 1000, 10000])
    assert torch.allclose(out.norm(dim=1), x.norm(dim=1), atol=1e-4)
    assert torch.allclose(apply_rope(x, 3), apply_rope(x, [3] * 5))            # one number for every row


def test_rope_score_depends_only_on_offset():
    torch.manual_seed(3)
    q, k = torch.randn(64), torch.randn(64)
    for offset in (0, 1, 5, 37):
        scores = [rope_score(q, k, m + offset, m) for m in (0, 10, 200, 3000)]
        assert np.allclose(scores, scores[0], atol=1e-3)
    assert not math.isclose(rope_score(q, k, 5, 0), rope_score(q, k, 6, 0), abs_tol=1e-3)


def test_rope_angles_shape():
    assert rope_angles([0, 1, 2], 8).shape == (3, 4)
    assert torch.allclose(rope_angles(2, 4, base=100), torch.tensor([2.0, 0.2]))


@pytest.mark.parametrize("x, positions, error, match", [
    (torch.zeros(4, 7), [0, 1, 2, 3], ValueError, "even"),
    (torch.zeros(4, 8), [0, 1, -2, 3], ValueError, ">= 0"),
    (torch.zeros(4, 8), [0, 1, 2], ValueError, "3 positions for a sequence of 4"),
    (torch.zeros(8), [0, 1], ValueError, "needs one position"),
    (torch.zeros(4, 8), [[0, 1], [2, 3]], ValueError, "1-D"),
    (torch.zeros(4, 8), [0, 1, float("nan"), 3], ValueError, "NaN"),
    (torch.zeros(4, 8), "abcd", TypeError, "positions"),
    (np.zeros((4, 8)), [0, 1, 2, 3], TypeError, "torch tensor"),
    (torch.tensor(1.0), 0, ValueError, "scalar"),
])
def test_rope_bad_input(x, positions, error, match):
    with pytest.raises(error, match=match):
        apply_rope(x, positions)


def test_rope_score_shape_mismatch():
    with pytest.raises(ValueError, match="same length"):
        rope_score(torch.zeros(8), torch.zeros(6), 1, 0)


def test_similarity_by_offset_bad_input():
    with pytest.raises(ValueError, match="max_offset"):
        similarity_by_offset(torch.zeros(5, 4) + 1, 5)
    with pytest.raises(ValueError, match="shape"):
        similarity_by_offset(torch.zeros(5), 1)
