"""Checks for notebook 05 (training embeddings with gradient descent, word2vec)."""
from __future__ import annotations

import numpy as np

from utils import vectors
from utils.checks import CheckFailed, call_on_copies, exercise, expect, expect_unchanged, quiz
from utils.checks.values import as_numpy, expect_array, returned, scalar

#: what this chapter's numbers must be: one finite number (a loss, a position)
_ONE_FINITE = dict(one="{name} should be one number, got shape {shape}",
                   finite="{name} is {value}: check for a division by zero or an overflow")


@exercise("5.1", "One gradient-descent step by hand")
def x_new(x_new):
    """f(x) = (x - 3)^2 at x = 1 with learning rate 0.1: gradient 2(x - 3) = -4, so x_new = 1 - 0.1 * (-4) = 1.4."""
    x = scalar(x_new, "x_new", **_ONE_FINITE)
    if np.isclose(x, 0.6):
        raise CheckFailed("x_new = 0.6: you ADDED the gradient step; descent goes against the gradient: x - lr * grad")
    if np.isclose(x, 5.0):
        raise CheckFailed("x_new = 5.0: you forgot the learning rate; the step is lr * grad = 0.1 * (-4)")
    if np.isclose(x, -4.0):
        raise CheckFailed("-4 is the gradient f'(1) itself; x_new is the position after the step x - lr * f'(x)")
    if np.isclose(x, 1.2):
        raise CheckFailed("x_new = 1.2: the derivative of (x - 3)^2 is 2(x - 3), you dropped the factor 2")
    expect(np.isclose(x, 1.4), f"x_new should be 1 - 0.1 * 2 * (1 - 3) = 1.4, got {round(x, 4)}")


def _uv(seed: int, d: int = 5):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, generator=g), torch.randn(d, generator=g)


@exercise("5.2", "A hand-derived gradient against autograd")
def grad_neg_log_sigmoid(fn):
    """fn(u, v) -> gradient of -log sigmoid(u . v) with respect to v, i.e. (sigmoid(u . v) - 1) * u."""
    import torch

    for seed in (0, 1, 2):
        u, v = _uv(seed)
        got = fn(u.clone(), v.clone())
        returned(got, "grad_neg_log_sigmoid")
        got = expect_array(got, name="the gradient", shape=(5,))
        vv = v.clone().requires_grad_(True)
        (-torch.nn.functional.logsigmoid(u @ vv)).backward()
        want = vv.grad.numpy()
        s = float(torch.sigmoid(u @ v))
        if np.allclose(got, -want):
            raise CheckFailed("the sign is flipped: d/dv of -log sigmoid(u.v) is (sigmoid(u.v) - 1) * u, which points "
                              "AWAY from u")
        if np.allclose(got, s * u.numpy(), atol=1e-5):
            raise CheckFailed("you wrote sigmoid(u.v) * u: the derivative of log sigmoid(z) is 1 - sigmoid(z), so "
                              "the factor is sigmoid(u.v) - 1")
        if np.allclose(got, (s - 1) * v.numpy(), atol=1e-5):
            raise CheckFailed("you multiplied by v: the gradient with respect to v carries the OTHER vector, u")
        if np.allclose(got, -u.numpy(), atol=1e-5) or np.allclose(got, u.numpy(), atol=1e-5):
            raise CheckFailed("you returned +-u: the chain rule also needs the factor sigmoid(u.v) - 1")
        expect(np.allclose(got, want, atol=1e-5),
               f"your gradient differs from autograd's (largest gap {float(np.abs(got - want).max()):.4f})")


def _pair(seed: int = 0, d: int = 4, k: int = 3):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, generator=g), torch.randn(d, generator=g), torch.randn(k, d, generator=g)


@exercise("5.3", "The skip-gram negative-sampling loss of one pair")
def sgns_pair_loss(fn):
    """fn(v, u_pos, U_neg) = -log sigmoid(u_pos . v) - sum_k log sigmoid(-U_neg[k] . v)."""
    import torch
    import torch.nn.functional as F

    from utils.word2vec import sgns_loss

    for seed in (0, 1):
        v, u, U = _pair(seed)
        got = fn(v.clone(), u.clone(), U.clone())
        returned(got, "sgns_pair_loss")
        got = scalar(got, "the loss", **_ONE_FINITE)
        pos, neg = u @ v, U @ v
        want = float(sgns_loss(v[None], u[None], U[None]))                    # a batch of one pair
        wrong = {
            "the negatives need a MINUS inside: log sigmoid(-u_k . v) (a negative should get a LOW score)":
                float(-F.logsigmoid(pos) - F.logsigmoid(neg).sum()),
            "you averaged over the negatives; the loss SUMS one term per negative":
                float(-F.logsigmoid(pos) - F.logsigmoid(-neg).mean()),
            "you forgot the negatives: the loss has one term for the true context AND one per negative":
                float(-F.logsigmoid(pos)),
            "the loss uses log sigmoid, not sigmoid; and it is the NEGATIVE log (a loss to minimise)":
                float(-torch.sigmoid(pos) - torch.sigmoid(-neg).sum()),
            "the loss is the NEGATIVE log-likelihood: put a minus in front of each log sigmoid":
                float(F.logsigmoid(pos) + F.logsigmoid(-neg).sum()),
        }
        for message, value in wrong.items():
            if np.isclose(got, value, atol=1e-5) and not np.isclose(got, want, atol=1e-5):
                raise CheckFailed(message)
        expect(np.isclose(got, want, atol=1e-5), f"the loss should be {want:.4f} for this pair, got {got:.4f}")


@exercise("5.4", "Sample negatives from unigram^0.75")
def sample_negatives(fn):
    """fn(counts, n, generator) -> int64 tensor of n word ids drawn from counts ** 0.75 (normalised)."""
    import torch

    counts = torch.tensor([1000.0, 100.0, 10.0, 1.0])
    n = 50_000
    got = fn(counts.clone(), n, torch.Generator().manual_seed(0))
    returned(got, "sample_negatives")
    ids = as_numpy(got, "the sample")
    if ids.shape == (4,) and np.issubdtype(ids.dtype, np.floating):
        raise CheckFailed("you returned the 4 probabilities; return n sampled word IDS (torch.multinomial)")
    expect(ids.shape == (n,), f"expected {n} sampled ids (shape ({n},)), got shape {ids.shape}")
    expect(np.all(ids == np.round(ids)) and ids.min() >= 0 and ids.max() <= 3,
           "sampled values must be word ids 0..3 (indices into counts)")
    freq = np.bincount(ids.astype(int), minlength=4) / n
    p75 = counts.numpy() ** 0.75 / (counts.numpy() ** 0.75).sum()
    p1 = counts.numpy() / counts.numpy().sum()
    if np.abs(freq - 0.25).max() < 0.02:
        raise CheckFailed("your samples are uniform: frequent words must be drawn more often (counts ** 0.75)")
    if np.abs(freq - p1).max() < 0.01:
        raise CheckFailed("your samples follow the raw counts; raise them to the power 0.75 first (rare words get "
                          "a bigger share)")
    p5 = counts.numpy() ** 0.5 / (counts.numpy() ** 0.5).sum()
    if np.abs(freq - p5).max() < 0.01:
        raise CheckFailed("your samples follow counts ** 0.5; word2vec uses the power 0.75")
    expect(np.abs(freq - p75).max() < 0.01,
           f"sample frequencies {_rounded(freq)} do not match counts**0.75 {_rounded(p75)}")


def _rounded(values) -> list[float]:
    """[0.823, ...] for a message: float64 before rounding, so float32 noise (0.8230000138282776) never shows."""
    return [round(float(v), 3) for v in values]


def _step_setup():
    import torch

    g = torch.Generator().manual_seed(0)
    W_in = (torch.randn(6, 3, generator=g) * 0.5).requires_grad_(True)
    W_out = (torch.randn(6, 3, generator=g) * 0.5).requires_grad_(True)
    centers, contexts = torch.tensor([0, 2, 2]), torch.tensor([1, 3, 0])
    negs = torch.tensor([[4, 5], [5, 1], [3, 4]])
    return W_in, W_out, centers, contexts, negs


def _reference_steps(lr: float, steps: int = 2, loss_scale: float = 1.0, reset_grads: bool = True,
                     mistake: str | None = None):
    """The training step done right (defaults), or with one typical mistake: ``loss_scale=3`` is the summed loss of
    the 3-pair batch instead of its mean, ``reset_grads=False`` lets the second step add to the old gradients, and
    ``mistake`` is one of ``"loss_after"`` (the loss computed again after the update is returned), ``"swap_tables"``
    (centers looked up in W_out, contexts and negatives in W_in), ``"swap_ids"`` (centers and contexts exchanged) or
    ``"swap_grads"`` (each table updated with the other table's gradient)."""
    import torch

    from utils.word2vec import sgns_loss

    W_in, W_out, c, o, n = _step_setup()
    losses = []
    for _ in range(steps):
        if mistake == "swap_tables":
            loss = sgns_loss(W_out[c], W_in[o], W_in[n]) * loss_scale
        elif mistake == "swap_ids":
            loss = sgns_loss(W_in[o], W_out[c], W_out[n]) * loss_scale
        else:
            loss = sgns_loss(W_in[c], W_out[o], W_out[n]) * loss_scale
        loss.backward()
        with torch.no_grad():
            if mistake == "swap_grads":
                g_in, g_out = W_in.grad.clone(), W_out.grad.clone()
                W_in -= lr * g_out
                W_out -= lr * g_in
            else:
                W_in -= lr * W_in.grad
                W_out -= lr * W_out.grad
        if reset_grads:
            W_in.grad = None
            W_out.grad = None
        if mistake == "loss_after":
            with torch.no_grad():
                loss = sgns_loss(W_in[c], W_out[o], W_out[n]) * loss_scale
        losses.append(loss.item())
    return W_in.detach().numpy(), W_out.detach().numpy(), losses


@exercise("5.5", "Write the training step")
def sgns_train_step(fn):
    """fn(W_in, W_out, centers, contexts, negs, lr) updates both matrices in place and returns the loss (float)."""
    lr = 0.5
    W_in, W_out, c, o, n = _step_setup()
    start_in, start_out = W_in.detach().clone().numpy(), W_out.detach().clone().numpy()
    losses = []
    for _ in range(2):       # W_in, W_out: the state the step changes, compared below with _reference_steps
        loss = fn(W_in, W_out, c.clone(), o.clone(), n.clone(), lr)
        returned(loss, "sgns_train_step", "return the loss as a float")
        losses.append(scalar(loss, "the returned loss", **_ONE_FINITE))
    got_in, got_out = W_in.detach().numpy(), W_out.detach().numpy()
    want_in, want_out, want_losses = _reference_steps(lr)
    expect(not np.allclose(got_in, start_in), "W_in did not change: update it in place (W_in -= lr * W_in.grad "
                                              "inside torch.no_grad())")
    expect(not np.allclose(got_out, start_out), "W_out did not change: the context and negative rows must be "
                                                "updated too")
    plus_in, _, _ = _reference_steps(-lr)
    if np.allclose(got_in, plus_in, atol=1e-5):
        raise CheckFailed("the loss went UP: you added the gradient; a descent step subtracts it (W -= lr * grad)")
    if not np.isclose(losses[0], want_losses[0], atol=1e-5):
        _, _, after = _reference_steps(lr, mistake="loss_after")
        if np.allclose(losses, after, atol=1e-5):
            raise CheckFailed("you returned the loss AFTER the update (computed again with the new weights): return "
                              "the loss of the batch before the update, the one you called backward() on")
        if np.isclose(losses[0], len(c) * want_losses[0], atol=1e-5):
            raise CheckFailed("your loss is 3x too big: use the batch MEAN loss (sgns_loss), not the sum")
        named = {"swap_tables": "you looked the centers up in W_out and the contexts and negatives in W_in: centers "
                                "come from W_in, contexts and negatives from W_out",
                 "swap_ids": "centers and contexts are exchanged: the first argument of sgns_loss is W_in[centers], "
                             "the second W_out[contexts]"}
        for mistake, message in named.items():
            if np.isclose(losses[0], _reference_steps(lr, mistake=mistake)[2][0], atol=1e-5):
                raise CheckFailed(message)
        raise CheckFailed(f"first loss should be {want_losses[0]:.4f}, the mean loss of the batch before the update "
                          f"(word2vec.sgns_loss(W_in[centers], W_out[contexts], W_out[negs])), got {losses[0]:.4f}")
    swapped_in, swapped_out, _ = _reference_steps(lr, mistake="swap_grads")
    if np.allclose(got_in, swapped_in, atol=1e-5) and np.allclose(got_out, swapped_out, atol=1e-5):
        raise CheckFailed("each table was updated with the OTHER table's gradient: W_in -= lr * W_in.grad and "
                          "W_out -= lr * W_out.grad")
    sum_in, _, _ = _reference_steps(lr, loss_scale=len(c))
    if np.allclose(got_in, sum_in, atol=1e-5):
        raise CheckFailed("your step is 3x too big: use the batch MEAN loss (sgns_loss), not the sum")
    if not np.allclose(got_in, want_in, atol=1e-5):
        acc_in, _, _ = _reference_steps(lr, reset_grads=False)
        if np.allclose(got_in, acc_in, atol=1e-5):
            raise CheckFailed("the second step reused old gradients: set W_in.grad and W_out.grad to None (or zero) "
                              "after each update")
    expect(np.allclose(got_in, want_in, atol=1e-5) and np.allclose(got_out, want_out, atol=1e-5),
           "after two steps the matrices differ from the reference (loss -> backward -> W -= lr * grad -> reset grads)")


@exercise("5.6", "Cosine similarity for word pairs")
def pair_cosines(fn):
    """fn(wv, pairs) -> numpy array with the cosine similarity of each (word, word) pair."""
    from utils.word2vec import WordVectors

    wv = WordVectors(["cat", "dog", "car", "sun"],
                     np.array([[3, 1, 0], [2, 2, 0], [0, 1, 4], [-1, 0, 1]], dtype=np.float32))
    pairs = [("cat", "dog"), ("cat", "car"), ("dog", "sun")]
    a = np.array([wv[x] for x, _ in pairs], dtype=float)                       # (3, 3) first words
    b = np.array([wv[y] for _, y in pairs], dtype=float)                       # (3, 3) second words
    dots = (a * b).sum(1)
    want = np.array([vectors.cosine_similarity(x, y) for x, y in zip(a, b)])   # the reference, pair by pair
    got, (wv_after, pairs_after) = call_on_copies(fn, wv, pairs)
    returned(got, "pair_cosines")
    expect_unchanged(pairs, pairs_after, "pairs")
    expect_unchanged(wv, wv_after, "wv")
    got = as_numpy(got, "the cosines")
    if got.shape == (3, 3):
        raise CheckFailed("you returned a (3, 3) matrix of every first word against every second word: return one "
                          "cosine per PAIR, shape (3,)")
    expect(got.size == 3, f"expected one number per pair, shape (3,), got shape {got.shape}")
    got = got.reshape(-1)
    if np.allclose(got, dots):
        raise CheckFailed("those are raw dot products: divide by both vectors' lengths to get the cosine")
    if np.allclose(got, np.linalg.norm(a - b, axis=1)):
        raise CheckFailed("those are Euclidean distances; the cosine is a . b / (|a| |b|)")
    if np.allclose(got, dots / np.linalg.norm(a, axis=1)) or np.allclose(got, dots / np.linalg.norm(a, axis=1) ** 2):
        raise CheckFailed("divide by the product of BOTH norms |a| * |b|, not by one of them")
    if np.allclose(got, 1 - want):
        raise CheckFailed("that is the cosine DISTANCE 1 - cos; return the similarity itself")
    expect(np.allclose(got, want, atol=1e-4), f"expected cosines {np.round(want, 4).tolist()}, got "
                                              f"{np.round(got, 4).tolist()}")


quiz_bank = quiz(
    "5.7", "Quiz: one vector per word",
    correct="b", options="abcd",
    why_wrong={
        "a": "word2vec keeps ONE row per word type; nothing in the model looks at the sentence when you look "
             "up 'bank'",
        "c": "nobody picks the senses: training only sees which words co-occur, so the vector mixes every use",
        "d": "a bank that lends money and a river bank both occur in the corpus; the vector is pulled by both",
    },
    explanation="a static embedding is one row of a table, the same in every sentence; it blends the senses in "
                "proportion to how often the corpus uses them. Contextual models (attention) fix this by "
                "mixing in the neighbouring tokens.")
