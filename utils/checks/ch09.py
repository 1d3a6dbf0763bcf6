"""Checks for notebook 09 (a tiny GPT: feed-forward, pre-norm block, shifted loss, accumulation, KV cache, top-k).

Why one long module: the course keeps one check module per chapter (the grader loads ``chNN.py``), and each of 09's
checks tells apart several typical mistakes (a GELU of the wrong form, sub-layers in the wrong order, the loss
shifted the wrong way or detached, micro-batches ignored), each with the small model it needs to see it."""
from __future__ import annotations

import functools
import math

from utils.checks import (CheckFailed, call_on_copies, exercise, expect, expect_unchanged, gradients, quiz,
                          same_value)
from utils.checks.values import as_tensor, close, returned


#: this chapter's tolerance: absolute only (the values compared are of order 1)
_close = functools.partial(close, rtol=0.0)


# ------------------------------------------------------------------------------------------------------- 9.1
@exercise("9.1", "The feed-forward block")
def feed_forward(fn):
    """fn(x (B, T, d), W1 (d, 4d), b1 (4d,), W2 (4d, d), b2 (d,)) -> gelu(x @ W1 + b1) @ W2 + b2, shape (B, T, d)."""
    import torch
    F = torch.nn.functional
    g = torch.Generator().manual_seed(91)
    x = torch.randn(2, 5, 8, generator=g)
    W1, b1 = torch.randn(8, 32, generator=g) * 0.5, torch.randn(32, generator=g)
    W2, b2 = torch.randn(32, 8, generator=g) * 0.3, torch.randn(8, generator=g)
    h = x @ W1 + b1                                                          # (2, 5, 32)
    got, after = call_on_copies(fn, x, W1, b1, W2, b2)                      # the originals never reach fn
    got = as_tensor(got, "feed_forward")
    for name, before, left in zip(("x", "W1", "b1", "W2", "b2"), (x, W1, b1, W2, b2), after):
        expect_unchanged(before, left, name)
    if got.shape == (2, 5, 32):
        raise CheckFailed("shape (2, 5, 32): you stopped after the first layer; project back with W2 and b2 to d")
    expect(got.shape == (2, 5, 8), f"feed_forward should keep the shape of x, (2, 5, 8), got {tuple(got.shape)}")
    if _close(got, h @ W2 + b2):
        raise CheckFailed("no nonlinearity: two Linear layers without GELU in between collapse into one linear map")
    if _close(got, F.relu(h) @ W2 + b2):
        raise CheckFailed("you used ReLU; GPT-2's feed-forward uses GELU (F.gelu(h, approximate='tanh'))")
    gelu = lambda t: F.gelu(t, approximate="tanh")                          # noqa: E731 GPT-2's GELU
    if _close(got, gelu(h @ W2 + b2)) or _close(got, gelu(gelu(h) @ W2 + b2)):
        raise CheckFailed("GELU goes between the two layers only; the output (after W2 + b2) is not activated")
    if _close(got, gelu(x @ W1) @ W2) or _close(got, gelu(x @ W1) @ W2 + b2) or _close(got, gelu(h) @ W2):
        raise CheckFailed("a bias is missing: add b1 after x @ W1 and b2 after the second product")
    if _close(got, x + F.gelu(h, approximate="tanh") @ W2 + b2):
        raise CheckFailed("you added x back: the residual connection belongs to the block (next exercise), not here")
    want = gelu(h) @ W2 + b2
    exact = F.gelu(h) @ W2 + b2                                              # erf GELU: not GPT-2's
    if _close(got, exact) and not _close(got, want):
        gap = float((exact - want).abs().max())
        raise CheckFailed(f"exact GELU (erf): GPT-2 uses its tanh approximation, F.gelu(h, approximate='tanh'); "
                          f"here the outputs differ by up to {gap:.0e}, so a model built this way would no longer "
                          f"match GPT-2's logits to 1e-5")
    if _close(got, F.silu(h) @ W2 + b2) or _close(got, torch.sigmoid(h) @ W2 + b2) or _close(got, torch.tanh(h) @ W2
                                                                                           + b2):
        raise CheckFailed("another nonlinearity (SiLU, sigmoid or tanh): GPT-2's feed-forward uses GELU, "
                          "F.gelu(h, approximate='tanh')")
    expect(_close(got, want), "wrong values, and none of the usual mistakes (no or another nonlinearity, a missing "
                              "bias, activating the output, adding x): look again at the order of the operations")
    return ("the hidden layer is 4x wider (32 for d = 8); its two matrices hold 8d^2 of a block's 12d^2 weights, "
            "two thirds of every block")


# ------------------------------------------------------------------------------------------------------- 9.2
def _block_parts():
    import torch
    g = torch.Generator().manual_seed(92)
    d = 8
    ln_1, ln_2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
    with torch.no_grad():
        for ln in (ln_1, ln_2):
            ln.weight.copy_(torch.rand(d, generator=g) + 0.5)
            ln.bias.copy_(torch.randn(d, generator=g) * 0.3)
    A, M = torch.randn(d, d, generator=g) * 0.4, torch.randn(d, d, generator=g) * 0.4
    attn = lambda h: torch.tanh(h @ A)                                        # noqa: E731 stand-ins: any (B,T,d) map
    mlp = lambda h: torch.sin(h @ M)                                          # noqa: E731
    x = torch.randn(2, 4, d, generator=g) * 2 + 1                             # not normalised: norms matter
    return x, attn, mlp, ln_1, ln_2


@exercise("9.2", "A pre-norm residual block")
def pre_norm_block(fn):
    """fn(x, attn, mlp, ln_1, ln_2) -> x + attn(ln_1(x)), then + mlp(ln_2(.)) of that result."""
    import torch
    x, attn, mlp, ln_1, ln_2 = _block_parts()
    given = _block_parts()          # fn gets equal parts of its own: what it does to them cannot reach the check's
    with torch.no_grad():
        got = as_tensor(fn(*given), "pre_norm_block", shape=x.shape)
        if not torch.equal(given[0], x):
            raise CheckFailed("your block changed x in place (x += ...); write x = x + ... to keep the input intact")
        expect_unchanged(ln_1, given[3], "ln_1", "call the layer norms, never change their weights")
        expect_unchanged(ln_2, given[4], "ln_2", "call the layer norms, never change their weights")
        h = x + attn(ln_1(x))
        want = h + mlp(ln_2(h))
        hp = ln_1(x + attn(x))                                              # post-norm: normalise after adding
        if _close(got, ln_2(hp + mlp(hp))):
            raise CheckFailed("post-norm (the 2017 layout): GPT-2 normalises the INPUT of each sub-layer, "
                              "x + attn(ln_1(x)), and leaves the residual stream itself un-normalised")
        if _close(got, mlp(ln_2(attn(ln_1(x))))):
            raise CheckFailed("no residual connections: ADD each sub-layer's output to its input (x = x + ...)")
        if _close(got, mlp(ln_2(h)) + attn(ln_1(x))) or _close(got, x + mlp(ln_2(attn(ln_1(x))))):
            raise CheckFailed("a residual is missing: both sub-layers add to the stream, x = x + attn(...), "
                              "then x = x + mlp(...)")
        if _close(got, x + attn(ln_1(x)) + mlp(ln_2(x))):
            raise CheckFailed("the feed-forward read the block's input: it must read the stream AFTER the attention "
                              "was added (x = x + attn(ln_1(x)) first)")
        h1 = ln_1(x) + attn(ln_1(x))
        if _close(got, h1 + mlp(ln_2(h1))) or _close(got, h1 + mlp(h1)):
            raise CheckFailed("you added the sub-layer to the NORMALISED input; the residual adds to x itself: "
                              "x + attn(ln_1(x))")
        if _close(got, h + mlp(ln_1(h))):
            raise CheckFailed("ln_1 used twice: the feed-forward has its own norm, ln_2")
        if _close(got, h + mlp(h)):
            raise CheckFailed("the feed-forward's input is not normalised: use mlp(ln_2(x))")
        if _close(got, x + attn(x) + mlp(ln_2(x + attn(x)))) or _close(got, x + attn(x) + mlp(x + attn(x))):
            raise CheckFailed("the attention's input is not normalised: use attn(ln_1(x))")
        hm = x + mlp(ln_1(x))
        if _close(got, hm + attn(ln_2(hm))) or _close(got, hm + attn(ln_1(hm))):
            raise CheckFailed("the sub-layers are in the wrong order: attention first (positions exchange "
                              "information), then the feed-forward")
        hs = x + attn(ln_2(x))
        if _close(got, hs + mlp(ln_1(hs))):
            raise CheckFailed("ln_1 and ln_2 swapped: ln_1 belongs to the attention, ln_2 to the feed-forward")
        if _close(got, ln_2(want)) or _close(got, ln_1(want)):
            raise CheckFailed("you normalised the block's output: in a pre-norm block only the sub-layers' inputs are "
                              "normalised; the stream itself is normalised once, by ln_f at the top of the model")
        expect(_close(got, want), "wrong values, and none of the usual mistakes (post-norm, a missing residual, a "
                                  "missing or swapped norm, the wrong order, a normalised output)")
    return "the residual stream x is never normalised inside the block; only ln_f at the top normalises it"


# ------------------------------------------------------------------------------------------------------- 9.3
@exercise("9.3", "The shifted next-token loss")
def next_token_loss(fn):
    """fn(logits (B, T, V), ids (B, T)) -> mean cross-entropy of logits[:, t] against ids[:, t + 1] (a 0-d tensor)."""
    from utils.train_gpt import lm_loss

    import torch
    F = torch.nn.functional
    g = torch.Generator().manual_seed(93)
    B, T, V = 3, 7, 11
    logits = torch.randn(B, T, V, generator=g) * 2
    ids = torch.randint(0, V, (B, T), generator=g)
    want_grad = gradients(lambda lg: lm_loss(lg[:, :-1], ids[:, 1:]), (logits,), (0,))[1][0]    # before fn runs
    try:                                    # logits that need gradients, as a model's do in training
        got, (grad,) = gradients(fn, (logits, ids), (0,))
    except (RuntimeError, ValueError) as err:
        if "size" in str(err) or "shape" in str(err) or "dimension" in str(err):
            raise CheckFailed("cross_entropy wants (N, V) scores and (N,) targets: reshape logits[:, :-1] to "
                              "(-1, V) and ids[:, 1:] to (-1,)") from None
        raise
    returned(got, "next_token_loss")
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        raise CheckFailed("you returned a Python number (loss.item()?): return the loss TENSOR; training calls "
                          "loss.backward(), which a float cannot do")
    if isinstance(got, torch.Tensor) and grad is None:     # no graph, or a new tensor that copies the logits' flag
        raise CheckFailed("the loss is cut off from the logits (.detach(), torch.tensor(...) or a no_grad block): "
                          "return F.cross_entropy's tensor so that backward() reaches the model")
    got = as_tensor(got, "next_token_loss")
    if got.numel() != 1:
        raise CheckFailed(f"return one number (the mean loss), got shape {tuple(got.shape)}")
    if got.dim() != 0:
        raise CheckFailed(f"return a 0-d tensor (a scalar), not one of shape {tuple(got.shape)}: F.cross_entropy's "
                          "mean already is one")

    def ce(lg, tg, reduction="mean"):
        return F.cross_entropy(lg.reshape(-1, V), tg.reshape(-1), reduction=reduction).double()

    want = lm_loss(logits[:, :-1], ids[:, 1:]).double()                     # the course's training loss
    if _close(got, ce(logits, ids)):
        raise CheckFailed("targets not shifted: position t must predict token t + 1, so compare logits[:, :-1] with "
                          "ids[:, 1:] (predicting the token you can already see is trivial)")
    if _close(got, ce(logits[:, 1:], ids[:, :-1])):
        raise CheckFailed("shifted the wrong way: logits[:, 1:] vs ids[:, :-1] predicts the PREVIOUS token; use "
                          "logits[:, :-1] and ids[:, 1:]")
    if _close(got, ce(logits[:, :-1], ids[:, :-1])) or _close(got, ce(logits[:, 1:], ids[:, 1:])):
        raise CheckFailed("not shifted: you dropped one end of both tensors, so position t still predicts the token "
                          "at t itself; drop the LAST position of the logits and the FIRST token of the ids")
    if _close(got, ce(logits[:-1], ids[1:])):
        raise CheckFailed("shifted along the batch axis (logits[:-1], ids[1:] cut whole sequences): the shift is "
                          "along time, the second axis")
    if _close(got, ce(logits[:, :-2], ids[:, 2:])):
        raise CheckFailed("shifted by two positions: each position predicts the very next token, t + 1")
    if _close(got, ce(logits[:, :-1], ids[:, 1:], "sum")):
        raise CheckFailed("you summed the losses; take the mean over the B * (T - 1) predictions")
    if _close(got, ce(torch.softmax(logits[:, :-1], -1), ids[:, 1:])):
        raise CheckFailed("you applied softmax before cross_entropy, which applies log-softmax itself: pass raw "
                          "logits")
    time_axis = -torch.log_softmax(logits[:, :-1], dim=1).gather(2, ids[:, 1:, None]).mean().double()
    if _close(got, time_axis):
        raise CheckFailed("the log-softmax ran over the time axis (dim=1): each position's probabilities are over the "
                          "vocabulary, the LAST axis (dim=-1)")
    if _close(got, -want):
        raise CheckFailed("the sign is flipped: the loss is the NEGATIVE log-probability of the right token")
    expect(_close(got, want), "wrong value, and none of the usual mistakes (no shift, the wrong direction or axis, "
                              "a shift of two, a sum, softmax first, the sign)")
    expect(close(grad, want_grad, atol=1e-4 * float(want_grad.abs().max()), rtol=1e-4),
           "the loss has the right value but the wrong gradient with respect to the logits: part of it is cut off "
           "from them (a .detach() or .data inside), so backward() would not train the model as this loss says")
    return f"{B} sequences of {T} tokens give {B} x {T - 1} = {B * (T - 1)} predictions"


# ------------------------------------------------------------------------------------------------------- 9.4
def _accum_setup():
    """A small model whose output depends on which rows share a forward pass (a batch norm in training mode), so the
    check can tell k micro-batches from one pass over the whole batch, and consecutive slices from other splits.
    Its ``num_batches_tracked`` buffer counts the forward passes."""
    import torch
    torch.manual_seed(94)
    model = torch.nn.Sequential(torch.nn.Embedding(13, 6), torch.nn.BatchNorm1d(5), torch.nn.Tanh(),
                                torch.nn.Linear(6, 13))
    g = torch.Generator().manual_seed(94)
    x = torch.randint(0, 13, (12, 5), generator=g)
    y = torch.randint(0, 13, (12, 5), generator=g)
    return model, x, y


def _grads(model):
    import torch
    return torch.cat([p.grad.flatten() if p.grad is not None else torch.zeros(p.numel()) for p in model.parameters()])


def _reference_grads(parts, scale):
    """The gradient (and summed scaled loss) of a fresh copy of the setup's model over the row sets ``parts``."""
    from utils.train_gpt import lm_loss

    model, x, y = _accum_setup()
    model.zero_grad()
    total = 0.0
    for rows in parts:
        loss = lm_loss(model(x[rows]), y[rows]) * scale
        loss.backward()
        total += loss.item()
    return _grads(model).double(), total


@exercise("9.4", "Gradient accumulation with the right loss scaling")
def accumulate_gradients(fn):
    """fn(model, x, y, k, loss_fn): zero the grads, k micro-batches, each loss / k backward; return the mean loss."""
    from utils.train_gpt import lm_loss

    import torch
    model, x, y = _accum_setup()
    k, B = 3, len(x)
    m = B // k
    consecutive = [slice(i * m, (i + 1) * m) for i in range(k)]
    want, want_loss = _reference_grads(consecutive, 1 / k)                   # computed before fn runs
    strided, strided_loss = _reference_grads([slice(i, None, k) for i in range(k)], 1 / k)
    whole, whole_loss = _reference_grads([slice(None)], 1.0)                 # one pass over all B rows
    last, _ = _reference_grads(consecutive[-1:], 1.0)
    first, _ = _reference_grads(consecutive[:1], 1.0)
    for p in model.parameters():                                           # stale gradients from an earlier step
        p.grad = torch.full_like(p, 0.5)
    weights = [p.detach().clone() for p in model.parameters()]
    ret = fn(model, x.clone(), y.clone(), k, lm_loss)      # model: the state fn changes (its .grad), checked below
    if all(p.grad is None for p in model.parameters()):
        raise CheckFailed("no gradients: call loss.backward() on every micro-batch loss")
    if not same_value(weights, [p.detach() for p in model.parameters()]):
        raise CheckFailed("your function changed the model's weights: only accumulate the gradients in .grad (no "
                          "optimizer step, no update of the parameters)")
    got = _grads(model).double()
    stale = torch.cat([torch.full((p.numel(),), 0.5) for p in model.parameters()]).double()
    passes = int(model[1].num_batches_tracked)                               # forward passes fn made

    def near(a, b):
        return torch.allclose(a, b, atol=1e-5, rtol=1e-4)

    if near(got, stale):
        raise CheckFailed("the gradients were not touched: call (loss / k).backward() for each micro-batch")
    if any(near(got - stale, g) or near(got - stale, k * g) for g in (want, strided, whole)):
        raise CheckFailed("gradients from the previous step are still in .grad: call model.zero_grad() once BEFORE "
                          "the loop (backward adds to .grad)")
    if near(got, whole) or near(got, whole / k):
        raise CheckFailed(f"k was ignored: this is the gradient of one pass over all {B} rows (the check's model has a "
                          f"batch norm, so it can tell); gradient accumulation runs k forward "
                          f"and backward passes on micro-batches of B // k rows (here {k} of {m}), so that a batch too "
                          f"large for memory never has to be in it at once")
    if near(got, k * want) or near(got, k * strided):
        raise CheckFailed(f"accumulation without dividing the loss: the gradient is {k}x too large; backward "
                          f"(loss / k), so the sum of k micro-batch gradients is the gradient of the mean")
    if near(got, last) or near(got, last / k):
        raise CheckFailed("only the last micro-batch's gradient is left: zero the gradients before the loop, "
                          "not inside it")
    if near(got, first) or near(got, first / k):
        raise CheckFailed("only the first micro-batch was used: loop over all k slices x[i*m:(i+1)*m] with m = B // k")
    if not (near(got, want) or near(got, strided)):
        if passes != k:
            raise CheckFailed(f"the model ran {passes} times: run it once per micro-batch, k = {k} times")
        raise CheckFailed(f"the accumulated gradient is not that of {k} equal micro-batches: split x and y into k "
                          f"slices of B // k = {m} rows (x[i*m:(i+1)*m]) and backward loss / k for each")
    if ret is None:
        raise CheckFailed("the gradients are right, but return the mean loss too (the sum of the k scaled losses)")
    try:
        ret_f = float(ret)
    except (TypeError, ValueError, RuntimeError):
        raise CheckFailed(f"return the mean loss as a number, got {type(ret).__name__}") from None
    mean_loss = want_loss if near(got, want) else strided_loss
    if math.isclose(ret_f, k * mean_loss, rel_tol=1e-4):
        raise CheckFailed("the returned loss is k times too large: add up the SCALED losses (loss / k), or average")
    expect(math.isclose(ret_f, mean_loss, rel_tol=1e-4, abs_tol=1e-5),
           f"the returned loss {ret_f:.5g} is not the mean of the {k} micro-batch losses ({mean_loss:.5g})")
    return ("for a model that treats every sequence on its own (a GPT does), k micro-batches of B / k sequences "
            "give the gradient of one batch of B")


# ------------------------------------------------------------------------------------------------------- 9.5
quiz_master_weights = quiz(
    "9.5", "Quiz: why the master weights stay fp32",
    correct="c", options="abcd",
    why_wrong={
        "a": "bf16 has the SAME exponent range as fp32 (8 bits); its weakness is the short mantissa (8 "
             "significant bits against 24)",
        "b": "autocast does not round the stored weights: it casts copies for the matrix products",
        "d": "the gradient scaler is for fp16's small range; it does not change the rounding of updates",
    },
    explanation="bf16 has 8 significant bits, about 2.4 decimal digits (spacing 2^-7 = 0.0078 near 1.0), so a "
                "weight of 1.0 plus an update of 0.001 rounds back to 1.0; fp32 weights keep every small update.")


# ------------------------------------------------------------------------------------------------------- 9.6
@exercise("9.6", "Top-k sampling probabilities")
def top_k_probs(fn):
    """fn(logits (V,), k, temperature) -> (V,): softmax(logits / temperature) on the k best, 0 elsewhere."""
    from utils.gpt import filter_logits

    import torch
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0, 1.5, -2.0, 0.0, 2.5])
    original = logits.clone()
    k, temperature = 3, 0.7
    got = as_tensor(fn(logits, k, temperature), "top_k_probs", shape=(8,), finite=False)
    if not torch.equal(logits, original):
        raise CheckFailed("your function changed logits in place; work on a copy (e.g. logits / temperature)")
    if torch.isnan(got).any():
        raise CheckFailed("NaN in the result: turn the dropped logits into -inf BEFORE the softmax, not after")
    if (got < 0).any():
        raise CheckFailed("negative numbers: return PROBABILITIES (softmax), not logits")
    idx = torch.topk(logits, k).indices
    keep = torch.zeros(8, dtype=torch.bool)
    keep[idx] = True

    def masked_softmax(scores, mask):
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), -1).double()

    want = torch.softmax(filter_logits(logits, temperature, top_k=k), -1).double()   # the course's sampler
    if _close(got, torch.softmax(logits / temperature, -1).double()):
        raise CheckFailed("nothing was dropped: keep only the k largest logits (the others get probability 0)")
    nonzero = set((got > 0).nonzero().flatten().tolist())
    if nonzero == set(torch.topk(-logits, k).indices.tolist()):
        raise CheckFailed("you kept the k SMALLEST logits: torch.topk returns the largest by default")
    if len(nonzero) != k:
        raise CheckFailed(f"{len(nonzero)} tokens have a non-zero probability; exactly k = {k} should")
    full = torch.softmax(logits / temperature, -1).double()
    if _close(got, full * keep):
        raise CheckFailed("not renormalised: you zeroed the probabilities outside the top k after the softmax, so "
                          "they no longer sum to 1; mask the LOGITS with -inf, then softmax")
    if _close(got, masked_softmax(logits, keep)):
        raise CheckFailed("the temperature is ignored: divide the logits by it before the softmax")
    if _close(got, masked_softmax(logits * temperature, keep)):
        raise CheckFailed("you multiplied by the temperature; divide: logits / temperature (T < 1 sharpens)")
    p = masked_softmax(logits, keep)
    for wrong in (p / temperature, p ** (1 / temperature), (p ** (1 / temperature)) / (p ** (1 / temperature)).sum()):
        if _close(got, wrong) and not _close(got, want):
            raise CheckFailed("top-k and softmax taken before the temperature, then the temperature applied to the "
                              "probabilities: scale the LOGITS first (logits / temperature), then top-k, then softmax")
    expect(_close(got, want), "wrong values: softmax of (logits / temperature) over the k largest, 0 elsewhere")
    expect(abs(float(got.sum()) - 1) < 1e-5, "the probabilities should sum to 1")
    return "with k = 1 this is greedy decoding; with k = V it is plain sampling"


# ------------------------------------------------------------------------------------------------------- 9.7
@exercise("9.7", "One KV-cache step")
def attend_with_cache(fn):
    """fn(q, k, v, cache_k, cache_v): new (B, h, t, hs) vs cached (B, h, T, hs) -> (out, new_k, new_v)."""
    import torch
    from utils.attention import scaled_dot_product_attention as sdpa
    g = torch.Generator().manual_seed(95)
    B, h, T, t, hs = 2, 3, 5, 3, 4
    cache_k, cache_v = torch.randn(B, h, T, hs, generator=g), torch.randn(B, h, T, hs, generator=g)
    q, k, v = (torch.randn(B, h, t, hs, generator=g) for _ in range(3))
    try:                                                   # fn gets copies, compared below with the originals
        result, after = call_on_copies(fn, q, k, v, cache_k, cache_v)
    except RuntimeError as err:
        if "must match except in dimension" in str(err):
            axis = str(err).split("dimension")[1].split(".")[0].strip()
            raise CheckFailed(f"cache appended on the wrong axis (dim {axis}): new keys go after the cached ones "
                              f"along the TIME axis, torch.cat([cache_k, k], dim=2)") from None
        raise
    for name, before, left in zip(("q", "k", "v", "cache_k", "cache_v"), (q, k, v, cache_k, cache_v), after):
        expect_unchanged(before, left, name, "torch.cat builds the new caches as new tensors")
    if not isinstance(result, tuple) or len(result) != 3:
        raise CheckFailed("return a tuple of three tensors: (out, new_k, new_v)")
    out, new_k, new_v = result
    new_k = as_tensor(new_k, "new_k (second result)")
    new_v = as_tensor(new_v, "new_v (third result)")
    if new_k.shape == (B, h, T, hs + hs):
        raise CheckFailed("cache appended on the wrong axis (the last one): the head size grew; new keys go after "
                          "the cached ones along the TIME axis, dim=2")
    if new_k.shape == (B, h + t, T, hs) or new_k.shape == (B + B, h, T, hs):
        raise CheckFailed("cache appended on the wrong axis: concatenate along the time axis, dim=2, "
                          "(B, h, T, hs) + (B, h, t, hs) -> (B, h, T + t, hs)")
    if new_k.shape == cache_k.shape:
        raise CheckFailed("the cache did not grow: append the new keys and values, torch.cat([cache_k, k], dim=2)")
    expect(new_k.shape == (B, h, T + t, hs) and new_v.shape == (B, h, T + t, hs),
           f"the new caches should have shape {(B, h, T + t, hs)}, got {tuple(new_k.shape)} and {tuple(new_v.shape)}")
    full_k, full_v = torch.cat([cache_k, k], 2), torch.cat([cache_v, v], 2)
    if _close(new_k, torch.cat([k, cache_k], 2)):
        raise CheckFailed("new keys were put BEFORE the cached ones: the cache is in time order, cat([cache_k, k])")
    if _close(new_k, full_v) or _close(new_v, full_k):
        raise CheckFailed("keys and values swapped: new_k = cat([cache_k, k]), new_v = cat([cache_v, v])")
    expect(_close(new_k, full_k) and _close(new_v, full_v), "new_k / new_v are not cat([cache, new], dim=2)")
    out = as_tensor(out, "out (first result)")
    if out.shape == (B, h, T, hs):
        raise CheckFailed("out has one row per CACHED token; the queries are the t new tokens: shape (B, h, t, hs)")
    expect(out.shape == (B, h, t, hs), f"out should have shape {(B, h, t, hs)}, got {tuple(out.shape)}")
    want = sdpa(q, full_k, full_v, causal=True)
    if _close(out, sdpa(q, full_k, full_v)):
        raise CheckFailed("causal mask forgotten: the 3 new tokens can see each other's future; use causal=True "
                          "(bottom-right aligned: new token i sees the cache and new tokens 0..i)")
    top_left = torch.ones(t, T + t, dtype=torch.bool).tril()
    if _close(out, sdpa(q, full_k, full_v, mask=top_left)):
        raise CheckFailed("the causal mask is aligned to the top-left: the new tokens come AFTER the T cached ones, "
                          "so new token i may see keys 0..T + i (utils.attention.causal_mask(t, T + t))")
    if _close(out, sdpa(q, k, v, causal=True)):
        raise CheckFailed("you attended to the new keys only: the point of the cache is to attend to ALL keys, "
                          "cached + new")
    if _close(out, sdpa(q, cache_k, cache_v)):
        raise CheckFailed("you attended to the cached keys only: append the new ones first, then attend")
    expect(_close(out, want), "out is not causal attention of q over the full keys and values")
    return "per step the cache grows by t along the time axis; nothing already computed is recomputed"


# ------------------------------------------------------------------------------------------------------- quizzes
quiz_kv_cache = quiz(
    "9.8", "Quiz: what the KV cache stores",
    correct="b", options="abcd",
    why_wrong={
        "a": "past logits are never needed again: the next token depends on the new position's logits only",
        "c": "attention weights change with every new query, so they cannot be reused; keys and values can",
        "d": "the last layer's hidden states are not enough: EVERY layer attends to its own keys and values",
    },
    explanation="each layer keeps the keys and values of every earlier token (2 x layers x heads x head_dim "
                "numbers per token); a new token computes only its own q, k, v and attends over the stored ones.")
