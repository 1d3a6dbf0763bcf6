"""Notebook 09 checks pass the right answers, report stubs as not attempted and name each typical mistake."""
import pytest
import torch
from torch.nn import functional as F

from tests.check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils.attention import scaled_dot_product_attention as sdpa
from utils.checks import ch09


# ------------------------------------------------------------------------------------------------------- 9.1
def ff(x, W1, b1, W2, b2):
    return F.gelu(x @ W1 + b1, approximate="tanh") @ W2 + b2


def gelu_by_hand(x, W1, b1, W2, b2):
    """GPT-2's tanh approximation written out: the same function as F.gelu(h, approximate='tanh')."""
    h = x @ W1 + b1
    return 0.5 * h * (1 + torch.tanh((2 / torch.pi) ** 0.5 * (h + 0.044715 * h ** 3))) @ W2 + b2


def test_feed_forward():
    assert_passes(ch09.feed_forward, ff)
    assert_passes(ch09.feed_forward, gelu_by_hand)
    assert_not_attempted(ch09.feed_forward, stub_function)
    assert_not_attempted(ch09.feed_forward, ...)


@pytest.mark.parametrize("wrong, match", [
    (lambda x, W1, b1, W2, b2: (x @ W1 + b1) @ W2 + b2, "no nonlinearity"),
    (lambda x, W1, b1, W2, b2: F.relu(x @ W1 + b1) @ W2 + b2, "ReLU"),
    (lambda x, W1, b1, W2, b2: F.gelu(x @ W1 + b1) @ W2 + b2, "exact GELU .*tanh approximation.*GPT-2's logits"),
    (lambda x, W1, b1, W2, b2: F.silu(x @ W1 + b1) @ W2 + b2, "another nonlinearity"),
    (lambda x, W1, b1, W2, b2: F.gelu(x @ W1 + b1, approximate="tanh"), "stopped after the first layer"),
    (lambda x, W1, b1, W2, b2: F.gelu((x @ W1 + b1) @ W2 + b2, approximate="tanh"), "output .* is not activated"),
    (lambda x, W1, b1, W2, b2: F.gelu(x @ W1, approximate="tanh") @ W2 + b2, "bias is missing"),
    (lambda x, W1, b1, W2, b2: x + ff(x, W1, b1, W2, b2), "residual"),
    (lambda x, W1, b1, W2, b2: ff(x, W1, b1, W2, b2) * 2, "wrong values, and none of the usual mistakes"),
    (lambda x, W1, b1, W2, b2: None, "forget `return`"),
])
def test_feed_forward_rejects(wrong, match):
    assert_rejects(ch09.feed_forward, wrong, match=match)


# ------------------------------------------------------------------------------------------------------- 9.2
def block(x, attn, mlp, ln_1, ln_2):
    x = x + attn(ln_1(x))
    return x + mlp(ln_2(x))


def post_norm(x, attn, mlp, ln_1, ln_2):
    x = ln_1(x + attn(x))
    return ln_2(x + mlp(x))


def in_place(x, attn, mlp, ln_1, ln_2):
    x += attn(ln_1(x))
    x += mlp(ln_2(x))
    return x


def test_pre_norm_block():
    assert_passes(ch09.pre_norm_block, block)
    assert_not_attempted(ch09.pre_norm_block, stub_function)


@pytest.mark.parametrize("wrong, match", [
    (post_norm, "post-norm"),
    (lambda x, attn, mlp, ln_1, ln_2: mlp(ln_2(attn(ln_1(x)))), "no residual"),
    (lambda x, attn, mlp, ln_1, ln_2: x + mlp(ln_2(attn(ln_1(x)))), "residual is missing"),
    (lambda x, attn, mlp, ln_1, ln_2: x + attn(ln_1(x)) + mlp(ln_2(x)), "read the block's input"),
    (lambda x, attn, mlp, ln_1, ln_2: block(ln_1(x), attn, mlp, lambda h: h, ln_2), "NORMALISED input"),
    (lambda x, attn, mlp, ln_1, ln_2: block(x, attn, mlp, ln_1, ln_1), "ln_1 used twice"),
    (lambda x, attn, mlp, ln_1, ln_2: block(x, attn, mlp, ln_1, lambda h: h), "not normalised"),
    (lambda x, attn, mlp, ln_1, ln_2: block(x, attn, mlp, lambda h: h, ln_2), "attention's input is not normal"),
    (lambda x, attn, mlp, ln_1, ln_2: block(x, mlp, attn, ln_1, ln_2), "wrong order"),
    (lambda x, attn, mlp, ln_1, ln_2: block(x, attn, mlp, ln_2, ln_1), "swapped"),
    (lambda x, attn, mlp, ln_1, ln_2: ln_2(block(x, attn, mlp, ln_1, ln_2)), "normalised the block's output"),
    (in_place, "in place"),
    (lambda x, attn, mlp, ln_1, ln_2: block(x, attn, mlp, ln_1, ln_2) + 1, "wrong values, and none of the usual"),
])
def test_pre_norm_block_rejects(wrong, match):
    assert_rejects(ch09.pre_norm_block, wrong, match=match)


# ------------------------------------------------------------------------------------------------------- 9.3
def loss(logits, ids):
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))


def test_next_token_loss():
    assert_passes(ch09.next_token_loss, loss)
    assert_passes(ch09.next_token_loss, lambda lg, ids: F.cross_entropy(lg[:, :-1].transpose(1, 2), ids[:, 1:]))
    assert_not_attempted(ch09.next_token_loss, stub_function)


@pytest.mark.parametrize("wrong, match", [
    (lambda lg, ids: F.cross_entropy(lg.reshape(-1, lg.shape[-1]), ids.reshape(-1)), "targets not shifted"),
    (lambda lg, ids: F.cross_entropy(lg[:, 1:].reshape(-1, lg.shape[-1]), ids[:, :-1].reshape(-1)), "wrong way"),
    (lambda lg, ids: F.cross_entropy(lg[:, :-1].reshape(-1, lg.shape[-1]), ids[:, 1:].reshape(-1),
                                     reduction="sum"), "summed"),
    (lambda lg, ids: loss(torch.softmax(lg, -1), ids), "softmax before"),
    (lambda lg, ids: -loss(lg, ids), "sign"),
    (lambda lg, ids: F.cross_entropy(lg[:, :-1], ids[:, 1:]), "reshape"),
    (lambda lg, ids: loss(lg, ids).item(), "Python number .*loss.item"),
    (lambda lg, ids: loss(lg, ids).detach(), "cut off from the logits"),
    (lambda lg, ids: torch.tensor(loss(lg, ids).item()), "cut off from the logits"),
    (lambda lg, ids: F.cross_entropy(lg[:, :-1].reshape(-1, lg.shape[-1]), ids[:, :-1].reshape(-1)), "not shifted"),
    (lambda lg, ids: F.cross_entropy(lg[:, 1:].reshape(-1, lg.shape[-1]), ids[:, 1:].reshape(-1)), "not shifted"),
    (lambda lg, ids: F.cross_entropy(lg[:-1].reshape(-1, lg.shape[-1]), ids[1:].reshape(-1)), "batch axis"),
    (lambda lg, ids: F.cross_entropy(lg[:, :-2].reshape(-1, lg.shape[-1]), ids[:, 2:].reshape(-1)), "by two"),
    (lambda lg, ids: loss(lg, ids) * 2, "wrong value, and none of the usual mistakes"),
    (lambda lg, ids: -torch.log_softmax(lg[:, :-1], dim=1).gather(2, ids[:, 1:, None]).mean(), "time axis"),
    (lambda lg, ids: loss(lg, ids).reshape(1), r"0-d tensor .*shape \(1,\)"),      # the task asks for a 0-d tensor
    (lambda lg, ids: loss(lg, ids).reshape(1, 1), r"0-d tensor .*shape \(1, 1\)"),
    # the right value in a new tensor that only copies the logits' requires_grad flag: no gradient reaches them
    (lambda lg, ids: torch.tensor(loss(lg, ids).item(), requires_grad=lg.requires_grad), "cut off from the logits"),
    (lambda lg, ids: loss(lg, ids).detach().requires_grad_(lg.requires_grad), "cut off from the logits"),
    # the right value, but a gradient of 1/N on every logit instead of the cross-entropy's
    (lambda lg, ids: loss(lg.detach(), ids) + lg.mean() - lg.mean().detach(), "right value but the wrong gradient"),
])
def test_next_token_loss_rejects(wrong, match):
    assert_rejects(ch09.next_token_loss, wrong, match=match)


# ------------------------------------------------------------------------------------------------------- 9.4
def accumulate(model, x, y, k, loss_fn, *, divide=True, zero="before", slices="all", ret="mean"):
    if zero == "before":
        model.zero_grad()
    m = len(x) // k
    total = 0.0
    for i in range(k if slices in ("all", "strided", "unequal") else 1):
        if zero == "inside":
            model.zero_grad()
        unequal = slice(0, 2) if i == 0 else slice(2 + (i - 1) * 5, 2 + i * 5)          # 2, 5 and 5 rows
        rows = {"strided": slice(i, None, k), "unequal": unequal}.get(slices, slice(i * m, (i + 1) * m))
        l = loss_fn(model(x[rows]), y[rows])
        (l / k if divide else l).backward()
        total += (l / k).item() if ret == "mean" else l.item()
    return None if ret == "none" else total


def whole_batch(model, x, y, k, loss_fn):
    """Ignores k: one forward and backward over all B rows (for a GPT, the same gradient, but no accumulation)."""
    model.zero_grad()
    l = loss_fn(model(x), y)
    l.backward()
    return l.item()


def test_accumulate_gradients():
    assert_passes(ch09.accumulate_gradients, accumulate)
    assert_passes(ch09.accumulate_gradients, lambda *a: accumulate(*a, slices="strided"))   # any equal split is fine
    assert_not_attempted(ch09.accumulate_gradients, stub_function)


@pytest.mark.parametrize("kw, match", [
    (dict(divide=False), "without dividing the loss"),
    (dict(zero="never"), "previous step are still in .grad"),
    (dict(zero="never", divide=False), "previous step"),
    (dict(zero="inside"), "only the last micro-batch"),
    (dict(slices="first"), "only the first micro-batch"),
    (dict(ret="none"), "return the mean loss"),
    (dict(ret="sum"), "k times too large"),
    (dict(slices="unequal"), "not that of 3 equal micro-batches"),
])
def test_accumulate_gradients_rejects(kw, match):
    assert_rejects(ch09.accumulate_gradients, lambda *a: accumulate(*a, **kw), match=match)


def test_accumulate_gradients_rejects_ignoring_k():
    assert_rejects(ch09.accumulate_gradients, whole_batch, match="k was ignored")


def test_accumulate_gradients_rejects_no_backward():
    assert_rejects(ch09.accumulate_gradients, lambda model, x, y, k, loss_fn: 1.0, match="not touched")


# ------------------------------------------------------------------------------------------------------- 9.5
def kv_step(q, k, v, cache_k, cache_v):
    k, v = torch.cat([cache_k, k], dim=2), torch.cat([cache_v, v], dim=2)
    return sdpa(q, k, v, causal=True), k, v


def test_attend_with_cache():
    assert_passes(ch09.attend_with_cache, kv_step)
    assert_not_attempted(ch09.attend_with_cache, stub_function)


def _variant(cat_dim=2, order="after", causal=True, mask=None, keys="all", swap=False):
    def fn(q, k, v, ck, cv):
        nk = torch.cat([ck, k] if order == "after" else [k, ck], dim=cat_dim)
        nv = torch.cat([cv, v] if order == "after" else [v, cv], dim=cat_dim)
        if swap:
            nk, nv = nv, nk
        if cat_dim != 2 or swap:
            return torch.zeros_like(q), nk, nv
        kk, vv = {"all": (nk, nv), "new": (k, v), "cached": (ck, cv)}[keys]
        if mask is not None:
            return sdpa(q, kk, vv, mask=mask(q.shape[2], kk.shape[2])), nk, nv
        return sdpa(q, kk, vv, causal=causal and keys != "cached"), nk, nv
    return fn


@pytest.mark.parametrize("fn, match", [
    (_variant(cat_dim=3), "wrong axis .dim 3"),
    (_variant(cat_dim=1), "wrong axis"),
    (_variant(cat_dim=0), "wrong axis"),
    (_variant(order="before"), "BEFORE the cached"),
    (_variant(swap=True), "swapped"),
    (_variant(causal=False), "causal mask forgotten"),
    (_variant(mask=lambda t, n: torch.ones(t, n, dtype=torch.bool).tril()), "top-left"),
    (_variant(keys="new"), "new keys only"),
    (_variant(keys="cached"), "cached keys only"),
    (lambda q, k, v, ck, cv: (sdpa(q, k, v, causal=True), ck, cv), "did not grow"),
    (lambda q, k, v, ck, cv: kv_step(q, k, v, ck, cv)[0], "tuple of three"),
])
def test_attend_with_cache_rejects(fn, match):
    assert_rejects(ch09.attend_with_cache, fn, match=match)


# ------------------------------------------------------------------------------------------------------- 9.6
def topk(logits, k, temperature):
    scaled = logits / temperature
    kth = torch.topk(scaled, k).values[-1]
    return torch.softmax(scaled.masked_fill(scaled < kth, float("-inf")), dim=-1)


def _keep(logits, k):
    m = torch.zeros_like(logits, dtype=torch.bool)
    m[torch.topk(logits, k).indices] = True
    return m


def test_top_k_probs():
    assert_passes(ch09.top_k_probs, topk)
    assert_not_attempted(ch09.top_k_probs, stub_function)


@pytest.mark.parametrize("fn, match", [
    (lambda lg, k, t: torch.softmax(lg / t, -1), "nothing was dropped"),
    (lambda lg, k, t: torch.softmax(lg / t, -1) * _keep(lg, k), "not renormalised"),
    (lambda lg, k, t: topk(lg, k, 1.0), "temperature is ignored"),
    (lambda lg, k, t: topk(lg, k, 1 / t), "multiplied by the temperature"),
    (lambda lg, k, t: topk(lg, k, 1.0) ** (1 / t), "before the temperature"),
    (lambda lg, k, t: topk(lg, k, 1.0) / t, "before the temperature"),
    (lambda lg, k, t: topk(-lg, k, t), "SMALLEST"),
    (lambda lg, k, t: topk(lg, k + 1, t), "exactly k"),
    (lambda lg, k, t: (lg / t).masked_fill(~_keep(lg, k), float("-inf")), "NaN|PROBABILITIES|-inf"),
    (lambda lg, k, t: lg.div_(t), "in place"),
])
def test_top_k_probs_rejects(fn, match):
    assert_rejects(ch09.top_k_probs, fn, match=match)


# ------------------------------------------------------------------------------------------------------- quizzes
@pytest.mark.parametrize("quiz, right, wrong", [(ch09.quiz_kv_cache, "b", "acd"),
                                               (ch09.quiz_master_weights, "c", "abd")])
def test_quizzes(quiz, right, wrong):
    assert_passes(quiz, right)
    assert_not_attempted(quiz, ...)
    for letter in wrong:
        assert_rejects(quiz, letter, match=f"'{letter}' is not right")
    assert_rejects(quiz, "e", match="one letter")


# ---------------------------------------------------------------- the check never trusts what fn did to its input
def ff_with_doubled_W2(x, W1, b1, W2, b2):
    """Doubles W2 in place, then applies the right formula to the changed weights: a check that computed its
    expected output from those same weights after the call would agree with it."""
    W2.mul_(2)
    return ff(x, W1, b1, W2, b2)


def block_with_ln_1_zeroed(x, attn, mlp, ln_1, ln_2):
    """Zeroes ln_1's weight, then runs the right block with the changed norm (the check used to run its reference
    block with the layer norms it had lent)."""
    with torch.no_grad():
        ln_1.weight.zero_()
    return block(x, attn, mlp, ln_1, ln_2)


def accumulate_then_step(model, x, y, k, loss_fn):
    """Right gradients and loss, but also an SGD step: the weights the check lent come back changed."""
    total = accumulate(model, x, y, k, loss_fn)
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    return total


def kv_step_with_v_zeroed(q, k, v, cache_k, cache_v):
    """Zeroes the new values in place, then does the right step with them: a check that built its expected caches
    and output from q, k, v after the call would agree with it."""
    v.zero_()
    return kv_step(q, k, v, cache_k, cache_v)


@pytest.mark.parametrize("check, fn, match", [
    (ch09.feed_forward, ff_with_doubled_W2, "changed its input `W2` in place"),
    (ch09.pre_norm_block, block_with_ln_1_zeroed, "changed its input `ln_1` in place"),
    (ch09.accumulate_gradients, accumulate_then_step, "changed the model's weights"),
    (ch09.attend_with_cache, kv_step_with_v_zeroed, "changed its input `v` in place"),
])
def test_checks_of_09_reject_functions_that_change_their_inputs(check, fn, match):
    assert_rejects(check, fn, match=match)
