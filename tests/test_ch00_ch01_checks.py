"""Every exercise of notebooks 00 and 01: right answer passes, stub is 'not attempted', typical mistakes are named."""
import numpy as np
import pytest
import torch

from check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils.checks import ch00, ch01


# ---------------------------------------------------------------- 00
def test_char_codes():
    assert_passes(ch00.char_codes, lambda t: [ord(c) for c in t])
    assert_not_attempted(ch00.char_codes, stub_function)
    assert_rejects(ch00.char_codes, lambda t: [ord(c.lower()) - 96 for c in t], match="a=1")
    assert_rejects(ch00.char_codes, lambda t: [ord(c) for c in t.lower()], match="lower-case")
    assert_rejects(ch00.char_codes, lambda t: list(t), match="integers")
    assert_rejects(ch00.char_codes, lambda t: [ord(c) for c in reversed(t)], match="wrong order")
    assert_rejects(ch00.char_codes, lambda t: None, match="return")
    assert_rejects(ch00.char_codes, lambda t: [b for b in t.encode()], match="ONE code point")


def test_distance():
    assert_passes(ch00.distance, 15)
    assert_not_attempted(ch00.distance, ...)
    assert_rejects(ch00.distance, -15, match="absolute")
    assert_rejects(ch00.distance, "15", match="not a string")
    assert_rejects(ch00.distance, 72 + 87, match="DIFFERENCE")
    assert_rejects(ch00.distance, 14, match="should be 15")


def test_quiz_llm():
    assert_passes(ch00.quiz_llm, "c")
    assert_passes(ch00.quiz_llm, " C ")
    assert_not_attempted(ch00.quiz_llm, ...)
    assert_rejects(ch00.quiz_llm, "a", match="table of facts")
    assert_rejects(ch00.quiz_llm, "d", match="no meaning")
    assert_rejects(ch00.quiz_llm, "e", match="one letter")
    assert_rejects(ch00.quiz_llm, 3, match="one letter")
    assert_rejects(ch00.quiz_llm, "", match="one letter")      # "" and "ab" are substrings of "abcd", not letters
    assert_rejects(ch00.quiz_llm, "cd", match="one letter")
    assert_rejects(ch00.quiz_llm, "abcd", match="one letter")


# ---------------------------------------------------------------- 01
def test_build_tensors():
    good = (torch.tensor(1.0), torch.zeros(4), torch.zeros(2, 3), torch.zeros(2, 3, 4))
    assert_passes(ch01.build_tensors, *good)
    assert_not_attempted(ch01.build_tensors, ..., ..., ..., ...)
    assert_rejects(ch01.build_tensors, torch.tensor([1.0]), *good[1:], match="scalar")
    assert_rejects(ch01.build_tensors, good[0], torch.zeros(1, 4), *good[2:], match="ONE axis")
    assert_rejects(ch01.build_tensors, *good[:2], torch.zeros(3, 2), good[3], match="swapped")
    assert_rejects(ch01.build_tensors, *good[:3], torch.zeros(4, 3, 2), match="reverse")
    assert_rejects(ch01.build_tensors, 5.0, *good[1:], match="plain Python")
    assert_rejects(ch01.build_tensors, *good[:3], np.zeros((2, 3, 4)), match="torch tensor")


def test_axes_shape_size():
    assert_passes(ch01.axes_shape_size, 3, (2, 5, 8), 80)
    assert_passes(ch01.axes_shape_size, 3, torch.Size([2, 5, 8]), 80)
    assert_not_attempted(ch01.axes_shape_size, ..., ..., ...)
    assert_rejects(ch01.axes_shape_size, 8, (2, 5, 8), 80, match="not the length")
    assert_rejects(ch01.axes_shape_size, 3, (2, 5, 8), 15, match="PRODUCT")
    assert_rejects(ch01.axes_shape_size, 3, (2, 5, 8), 2, match="first axis")
    assert_rejects(ch01.axes_shape_size, 3, (8, 5, 2), 80, match=r"\(2, 5, 8\)")


def test_swap_red_blue():
    assert_passes(ch01.swap_red_blue, lambda c: c[[2, 1, 0]].clone())
    assert_not_attempted(ch01.swap_red_blue, stub_function)

    def in_place(c):
        c[0], c[2] = c[2].item(), c[0].item()
        return c
    assert_rejects(ch01.swap_red_blue, in_place, match="in place")
    assert_rejects(ch01.swap_red_blue, lambda c: c.clone(), match="nothing was swapped")
    assert_rejects(ch01.swap_red_blue, lambda c: c[[1, 0, 2]], match="GREEN")

    def overwrite(c):
        d = c.clone()
        d[0] = d[2]
        d[2] = d[0]
        return d
    assert_rejects(ch01.swap_red_blue, overwrite, match="copied over")
    assert_rejects(ch01.swap_red_blue, lambda c: None, match="return")
    assert_rejects(ch01.swap_red_blue, lambda c: torch.tensor([0.1, 0.5, 0.9]), match="orange only")


def test_stack_tokens():
    vecs = [torch.tensor([float(i), 1.0, 2.0, 3.0]) for i in range(3)]
    assert_passes(ch01.stack_tokens, torch.stack(vecs), vecs)
    assert_not_attempted(ch01.stack_tokens, ..., vecs)
    assert_rejects(ch01.stack_tokens, torch.cat(vecs), vecs, match="concatenated")
    assert_rejects(ch01.stack_tokens, torch.stack(vecs, dim=1), vecs, match="columns")
    assert_rejects(ch01.stack_tokens, torch.stack(vecs[::-1]), vecs, match="reverse order")
    assert_rejects(ch01.stack_tokens, torch.zeros(3, 4), vecs, match="right rows")


def test_broadcast_answers():
    good = {((3, 1), (1, 4)): (3, 4), ((2, 3), (3,)): (2, 3), ((2, 3), (2,)): "error", ((8, 1, 5), (7, 1)): (8, 7, 5),
            ((4, 768), (768,)): (4, 768)}
    assert_passes(ch01.broadcast_answers, good)
    assert_not_attempted(ch01.broadcast_answers, ...)
    assert_rejects(ch01.broadcast_answers, {**good, ((2, 3), (2,)): (2, 3)}, match="cannot broadcast")
    assert_rejects(ch01.broadcast_answers, {**good, ((3, 1), (1, 4)): "error"}, match="does broadcast")
    assert_rejects(ch01.broadcast_answers, {**good, ((8, 1, 5), (7, 1)): (8, 1, 5)}, match="align shapes")
    assert_rejects(ch01.broadcast_answers, [(3, 4)], match="dict")
    # the asked pairs, exactly: a missing line or an invented pair is named
    assert_rejects(ch01.broadcast_answers, {k: v for k, v in good.items() if k != ((4, 768), (768,))},
                   match=r"no answer for the pair \(\(4, 768\)")
    assert_rejects(ch01.broadcast_answers, {**good, ((1,), (1,)): (1,)}, match="not one of the pairs asked")
    # the clash named is the real one: (2, 3) + (2,) aligns 3 with 2
    assert_rejects(ch01.broadcast_answers, {**good, ((2, 3), (2,)): (2, 3)}, match="3 vs 2")


def test_sentence_means():
    assert_passes(ch01.sentence_means, lambda b: b.mean(dim=1))
    assert_not_attempted(ch01.sentence_means, stub_function)
    assert_rejects(ch01.sentence_means, lambda b: b.mean(dim=0), match="BATCH axis")
    assert_rejects(ch01.sentence_means, lambda b: b.mean(dim=2), match="embedding axis")
    assert_rejects(ch01.sentence_means, lambda b: b.sum(dim=1), match="summed")
    assert_rejects(ch01.sentence_means, lambda b: b[:, 0, :], match="not the means")
    assert_rejects(ch01.sentence_means, lambda b: b.mean(dim=1)[:, :0] + 1, match="shape")


def test_matmul_answers():
    good = {((5, 4), (4, 3)): (5, 3), ((8, 5, 4), (4, 3)): (8, 5, 3), ((8, 5, 4), (8, 4, 2)): (8, 5, 2),
            ((8, 5, 4), (5, 4)): "error"}
    assert_passes(ch01.matmul_answers, good)
    assert_not_attempted(ch01.matmul_answers, ...)
    assert_rejects(ch01.matmul_answers, {**good, ((8, 5, 4), (5, 4)): (8, 5, 4)}, match="inner sizes")
    assert_rejects(ch01.matmul_answers, {**good, ((8, 5, 4), (8, 4, 2)): (8, 8, 5, 2)}, match="batch axes")
    assert_rejects(ch01.matmul_answers, {**good, ((5, 4), (4, 3)): (5, 4)}, match="disappears")
    assert_rejects(ch01.matmul_answers, {**good, ((5, 4), (4, 3)): "error"}, match="works")
    assert_rejects(ch01.matmul_answers, {**good, ((4,), (4, 2)): (2,)}, match="not one of the pairs asked")
    assert_rejects(ch01.matmul_answers, {k: v for k, v in good.items() if k != ((5, 4), (4, 3))},
                   match="fill in every line")


def test_quiz_dimension():
    assert_passes(ch01.quiz_dimension, "b")
    assert_not_attempted(ch01.quiz_dimension, ...)
    assert_rejects(ch01.quiz_dimension, "a", match="LENGTH")
    assert_rejects(ch01.quiz_dimension, "c", match="one axis")
    assert_rejects(ch01.quiz_dimension, "d", match="scalar")


# ---------------------------------------------------------------- the check never trusts what fn did to its input
def fills_batch_with_ones(batch):
    """Wrong (ignores the data), and hides it from a check that would read the batch back after the call."""
    batch.fill_(1.0)
    return torch.ones(batch.shape[0], batch.shape[2])


def test_sentence_means_rejects_a_function_that_changes_the_batch():
    assert_rejects(ch01.sentence_means, fills_batch_with_ones, match="changed its input `batch` in place")
