"""Notebook 13 checks pass the right answers, report stubs as not attempted and name each typical mistake."""
import math

import pytest
import torch
from torch.nn import functional as F

from tests.check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils.checks import ch13
from utils.llama import repeat_kv as reference_repeat_kv


# ------------------------------------------------------------------------------------------------------- 13.1
def rms(x, weight, eps):
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def layer_norm_like(x, weight, eps):
    c = x - x.mean(-1, keepdim=True)
    return c / torch.sqrt(c.pow(2).mean(-1, keepdim=True) + eps) * weight


def in_place(x, weight, eps):
    x /= torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)
    return x * weight


def test_rms_norm():
    assert_passes(ch13.rms_norm, rms)
    assert_passes(ch13.rms_norm, lambda x, weight, eps: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight)
    assert_not_attempted(ch13.rms_norm, stub_function)
    assert_not_attempted(ch13.rms_norm, ...)


@pytest.mark.parametrize("wrong, match", [
    (layer_norm_like, "subtracted the mean"),
    (lambda x, weight, eps: rms(x - x.mean(-1, keepdim=True), weight, eps), "subtracted the mean"),
    (lambda x, weight, eps: rms(x, 1.0, eps), "weight is missing"),
    (lambda x, weight, eps: x / torch.sqrt(x.pow(2).mean(-1, keepdim=True)) * weight, "eps is missing"),
    (lambda x, weight, eps: x / (torch.sqrt(x.pow(2).mean(-1, keepdim=True)) + eps) * weight, "INSIDE"),
    (lambda x, weight, eps: x / torch.sqrt(x.pow(2).sum(-1, keepdim=True) + eps) * weight, "SUM"),
    (lambda x, weight, eps: x / (x.pow(2).mean(-1, keepdim=True) + eps) * weight, "no square root"),
    (lambda x, weight, eps: x / torch.sqrt(x.pow(2).mean(1, keepdim=True) + eps) * weight, "wrong axis"),
    (in_place, "in place"),
    (lambda x, weight, eps: rms(x, weight, eps) * 2, "wrong values"),
    (lambda x, weight, eps: None, "forget `return`"),
])
def test_rms_norm_rejects(wrong, match):
    assert_rejects(ch13.rms_norm, wrong, match=match)


# ------------------------------------------------------------------------------------------------------- 13.2
def swi(x, W_gate, W_up, W_down):
    return (F.silu(x @ W_gate) * (x @ W_up)) @ W_down


def test_swiglu():
    assert_passes(ch13.swiglu, swi)
    assert_passes(ch13.swiglu, lambda x, Wg, Wu, Wd: ((x @ Wg) * torch.sigmoid(x @ Wg) * (x @ Wu)) @ Wd)
    assert_not_attempted(ch13.swiglu, stub_function)


@pytest.mark.parametrize("wrong, match", [
    (lambda x, Wg, Wu, Wd: (F.silu(x @ Wu) * (x @ Wg)) @ Wd, "wrong branch"),
    (lambda x, Wg, Wu, Wd: (F.relu(x @ Wg) * (x @ Wu)) @ Wd, "ReLU"),
    (lambda x, Wg, Wu, Wd: (F.gelu(x @ Wg) * (x @ Wu)) @ Wd, "GELU"),
    (lambda x, Wg, Wu, Wd: (torch.sigmoid(x @ Wg) * (x @ Wu)) @ Wd, "GLU"),
    (lambda x, Wg, Wu, Wd: (F.silu(x @ Wg) * F.silu(x @ Wu)) @ Wd, "both branches"),
    (lambda x, Wg, Wu, Wd: F.silu(x @ Wg) @ Wd, "no gating"),
    (lambda x, Wg, Wu, Wd: (F.silu(x @ Wg) + x @ Wu) @ Wd, "MULTIPLIED"),
    (lambda x, Wg, Wu, Wd: F.silu(x @ Wg) * (x @ Wu), "hidden layer"),
    (lambda x, Wg, Wu, Wd: x + swi(x, Wg, Wu, Wd), "residual"),
    (lambda x, Wg, Wu, Wd: swi(x, Wg, Wu, Wd) * 2, "wrong values"),
])
def test_swiglu_rejects(wrong, match):
    assert_rejects(ch13.swiglu, wrong, match=match)


# ------------------------------------------------------------------------------------------------------- 13.3
def test_repeat_kv():
    assert_passes(ch13.repeat_kv, lambda x, n_rep: x.repeat_interleave(n_rep, dim=1))
    assert_passes(ch13.repeat_kv, reference_repeat_kv)
    assert_not_attempted(ch13.repeat_kv, stub_function)


def scrambled(x, n_rep):
    out = x.repeat_interleave(n_rep, dim=1)
    return out.flip(1) if n_rep > 1 else out


def sneaky(x, n_rep):
    x.zero_()
    return x.repeat_interleave(n_rep, dim=1)


@pytest.mark.parametrize("wrong, match", [
    (lambda x, n_rep: x.repeat(1, n_rep, 1, 1), r"\.repeat"),
    (lambda x, n_rep: x.repeat_interleave(n_rep, dim=2), "wrong axis"),
    (lambda x, n_rep: x.repeat(n_rep, 1, 1, 1), "wrong axis"),
    (scrambled, "wrong values"),
    (lambda x, n_rep: x.repeat_interleave(2, dim=1), "n_rep = 1"),
    (sneaky, "in place"),
    (lambda x, n_rep: None, "forget `return`"),
])
def test_repeat_kv_rejects(wrong, match):
    assert_rejects(ch13.repeat_kv, wrong, match=match)


# ------------------------------------------------------------------------------------------------------- 13.4
def test_quiz_gqa():
    assert_passes(ch13.quiz_gqa, "b")
    assert_passes(ch13.quiz_gqa, " B ")
    assert_not_attempted(ch13.quiz_gqa, ...)
    for letter, match in (("a", "scores"), ("c", "feed-forward"), ("d", "vocabulary")):
        assert_rejects(ch13.quiz_gqa, letter, match=match)
    assert_rejects(ch13.quiz_gqa, "e", match="one letter")


# ------------------------------------------------------------------------------------------------------- 13.5
def online(q, k, v, block_size, rescale_sum=True, rescale_out=True, use_max=True, keep_last=True, scale=True):
    d = q.shape[-1]
    m = torch.full((*q.shape[:-1], 1), float("-inf"), dtype=q.dtype)
    l = torch.zeros_like(m)
    o = torch.zeros((*q.shape[:-1], v.shape[-1]), dtype=q.dtype)
    stop = k.shape[-2] if keep_last else k.shape[-2] // block_size * block_size
    for j in range(0, stop, block_size):
        s = q @ k[..., j:j + block_size, :].transpose(-2, -1) / (math.sqrt(d) if scale else 1.0)
        new = torch.maximum(m, s.amax(-1, keepdim=True)) if use_max else torch.zeros_like(m)
        p = torch.exp(s - new)
        c = torch.exp(m - new) if use_max else torch.ones_like(m)
        l = (l * c if rescale_sum else l) + p.sum(-1, keepdim=True)
        o = (o * c if rescale_out else o) + p @ v[..., j:j + block_size, :]
        m = new
    return o / l


def whole_softmax(q, k, v, block_size):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


def test_online_softmax_attention():
    assert_passes(ch13.online_softmax_attention, online)
    assert_not_attempted(ch13.online_softmax_attention, stub_function)


@pytest.mark.parametrize("kw, match", [
    (dict(rescale_sum=False), "old sum was not rescaled"),
    (dict(rescale_out=False), "old output was not rescaled"),
    (dict(rescale_sum=False, rescale_out=False), "nothing was rescaled"),
    (dict(scale=False), "not scaled"),
    (dict(keep_last=False), "last, shorter block"),
    (dict(use_max=False), "overflow"),
])
def test_online_softmax_attention_rejects(kw, match):
    assert_rejects(ch13.online_softmax_attention, lambda q, k, v, block_size: online(q, k, v, block_size, **kw),
                   match=match)


def per_block(q, k, v, block_size):
    out = 0
    for j in range(0, k.shape[-2], block_size):
        s = q @ k[..., j:j + block_size, :].transpose(-2, -1) / math.sqrt(q.shape[-1])
        p = torch.exp(s - s.amax(-1, keepdim=True))
        out = out + (p / p.sum(-1, keepdim=True)) @ v[..., j:j + block_size, :]
    return out


def test_online_softmax_attention_rejects_shortcuts_and_slips():
    assert_rejects(ch13.online_softmax_attention, whole_softmax, match="calls softmax")
    assert_rejects(ch13.online_softmax_attention, per_block, match="normalised on its own")
    assert_rejects(ch13.online_softmax_attention, lambda q, k, v, block_size: online(q, k, v, block_size) + 0.1,
                   match="wrong values")
