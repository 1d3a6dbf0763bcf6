"""Every exercise of notebook 05: right answer passes, stub is 'not attempted', typical mistakes are named."""
import numpy as np
import torch
import torch.nn.functional as F

from check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils.checks import ch05
from utils.word2vec import sgns_loss


def test_x_new():
    assert_passes(ch05.x_new, 1.4)
    assert_passes(ch05.x_new, torch.tensor(1.4))
    assert_not_attempted(ch05.x_new, ...)
    assert_rejects(ch05.x_new, 0.6, match="ADDED")
    assert_rejects(ch05.x_new, 5.0, match="learning rate")
    assert_rejects(ch05.x_new, -4.0, match="gradient")
    assert_rejects(ch05.x_new, 1.2, match="factor 2")
    assert_passes(ch05.x_new, np.float32(1.4))
    assert_passes(ch05.x_new, np.array([1.4]))
    assert_rejects(ch05.x_new, "1.4", match="number")
    assert_rejects(ch05.x_new, float("nan"), match="overflow")
    assert_rejects(ch05.x_new, 2.0, match="1.4")


def test_grad_neg_log_sigmoid():
    assert_passes(ch05.grad_neg_log_sigmoid, lambda u, v: (torch.sigmoid(u @ v) - 1) * u)
    assert_passes(ch05.grad_neg_log_sigmoid, lambda u, v: ((torch.sigmoid(u @ v) - 1) * u).numpy())
    assert_not_attempted(ch05.grad_neg_log_sigmoid, stub_function)
    assert_rejects(ch05.grad_neg_log_sigmoid, lambda u, v: (1 - torch.sigmoid(u @ v)) * u, match="sign")
    assert_rejects(ch05.grad_neg_log_sigmoid, lambda u, v: torch.sigmoid(u @ v) * u, match="sigmoid\\(u.v\\) - 1")
    assert_rejects(ch05.grad_neg_log_sigmoid, lambda u, v: (torch.sigmoid(u @ v) - 1) * v, match="OTHER vector")
    assert_rejects(ch05.grad_neg_log_sigmoid, lambda u, v: -u, match="chain rule")
    assert_rejects(ch05.grad_neg_log_sigmoid, lambda u, v: None, match="return")


def test_sgns_pair_loss():
    def right(v, u, U):
        return -F.logsigmoid(u @ v) - F.logsigmoid(-(U @ v)).sum()

    assert_passes(ch05.sgns_pair_loss, right)
    assert_passes(ch05.sgns_pair_loss, lambda v, u, U: float(sgns_loss(v[None], u[None], U[None])))
    assert_not_attempted(ch05.sgns_pair_loss, stub_function)
    assert_rejects(ch05.sgns_pair_loss, lambda v, u, U: -F.logsigmoid(u @ v) - F.logsigmoid(U @ v).sum(), match="MINUS")
    assert_rejects(ch05.sgns_pair_loss, lambda v, u, U: -F.logsigmoid(u @ v) - F.logsigmoid(-(U @ v)).mean(),
                   match="averaged")
    assert_rejects(ch05.sgns_pair_loss, lambda v, u, U: -F.logsigmoid(u @ v), match="forgot the negatives")
    assert_rejects(ch05.sgns_pair_loss, lambda v, u, U: -torch.sigmoid(u @ v) - torch.sigmoid(-(U @ v)).sum(),
                   match="log sigmoid")
    assert_rejects(ch05.sgns_pair_loss, lambda v, u, U: F.logsigmoid(u @ v) + F.logsigmoid(-(U @ v)).sum(),
                   match="NEGATIVE log")


def test_sample_negatives():
    def right(counts, n, g):
        p = counts ** 0.75
        return torch.multinomial(p / p.sum(), n, replacement=True, generator=g)

    assert_passes(ch05.sample_negatives, right)
    assert_not_attempted(ch05.sample_negatives, stub_function)
    assert_rejects(ch05.sample_negatives, lambda c, n, g: torch.randint(0, len(c), (n,), generator=g),
                   match="uniform")
    assert_rejects(ch05.sample_negatives, lambda c, n, g: torch.multinomial(c, n, replacement=True, generator=g),
                   match="raw counts")
    assert_rejects(ch05.sample_negatives, lambda c, n, g: torch.multinomial(c ** 0.5, n, replacement=True,
                                                                            generator=g), match="0.5")
    assert_rejects(ch05.sample_negatives, lambda c, n, g: (c ** 0.75) / (c ** 0.75).sum(), match="probabilities")
    assert_rejects(ch05.sample_negatives, lambda c, n, g: right(c, 10, g), match="expected")


def _step(W_in, W_out, centers, contexts, negs, lr, scale=1.0, sign=1.0, reset=True, out=True):
    loss = sgns_loss(W_in[centers], W_out[contexts], W_out[negs]) * scale
    loss.backward()
    with torch.no_grad():
        W_in -= sign * lr * W_in.grad
        if out:
            W_out -= sign * lr * W_out.grad
    if reset:
        W_in.grad = None
        W_out.grad = None
    return loss.item()


def test_sgns_train_step():
    assert_passes(ch05.sgns_train_step, _step)
    assert_not_attempted(ch05.sgns_train_step, stub_function)
    assert_rejects(ch05.sgns_train_step, lambda *a: _step(*a, sign=-1.0), match="added the gradient")
    assert_rejects(ch05.sgns_train_step, lambda *a: _step(*a, scale=3.0), match="MEAN|3x")
    assert_rejects(ch05.sgns_train_step, lambda *a: _step(*a, reset=False), match="old gradients")
    assert_rejects(ch05.sgns_train_step, lambda *a: _step(*a, out=False), match="W_out")
    assert_rejects(ch05.sgns_train_step, lambda *a: None, match="return")


def test_pair_cosines():
    def right(wv, pairs):
        return np.array([wv.similarity(a, b) for a, b in pairs])

    assert_passes(ch05.pair_cosines, right)
    assert_not_attempted(ch05.pair_cosines, stub_function)
    assert_rejects(ch05.pair_cosines, lambda wv, pairs: [float(wv[a] @ wv[b]) for a, b in pairs], match="dot")
    assert_rejects(ch05.pair_cosines, lambda wv, pairs: [float(np.linalg.norm(wv[a] - wv[b])) for a, b in pairs],
                   match="Euclidean")
    assert_rejects(ch05.pair_cosines,
                   lambda wv, pairs: [float(wv[a] @ wv[b] / np.linalg.norm(wv[a])) for a, b in pairs],
                   match="BOTH")
    assert_rejects(ch05.pair_cosines, lambda wv, pairs: 1 - right(wv, pairs), match="DISTANCE")


def test_quiz_bank():
    assert_passes(ch05.quiz_bank, "b")
    assert_not_attempted(ch05.quiz_bank, ...)
    assert_rejects(ch05.quiz_bank, "a", match="ONE row")
    assert_rejects(ch05.quiz_bank, "c", match="nobody")
    assert_rejects(ch05.quiz_bank, "d", match="pulled by both")


def test_pair_cosines_names_a_matrix_instead_of_one_cosine_per_pair():
    def all_against_all(wv, pairs):
        a = np.array([wv[x] for x, _ in pairs], dtype=float)
        b = np.array([wv[y] for _, y in pairs], dtype=float)
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        return a @ b.T                                          # (3, 3): every pairing, not the 3 pairs
    assert_rejects(ch05.pair_cosines, all_against_all, match="one cosine per PAIR")


def test_sample_negatives_message_has_no_float32_noise():
    def too_flat(counts, n, generator):
        return torch.multinomial(counts ** 0.6, n, replacement=True, generator=generator)
    assert_rejects(ch05.sample_negatives, too_flat, match=r"counts\*\*0\.75 \[0\.823, 0\.146, 0\.026, 0\.005\]")


def _step_variant(W_in, W_out, centers, contexts, negs, lr, mistake):
    if mistake == "swap_tables":
        loss = sgns_loss(W_out[centers], W_in[contexts], W_in[negs])
    elif mistake == "swap_ids":
        loss = sgns_loss(W_in[contexts], W_out[centers], W_out[negs])
    else:
        loss = sgns_loss(W_in[centers], W_out[contexts], W_out[negs])
    loss.backward()
    with torch.no_grad():
        g_in, g_out = W_in.grad.clone(), W_out.grad.clone()
        if mistake == "swap_grads":
            g_in, g_out = g_out, g_in
        W_in -= lr * g_in
        W_out -= lr * g_out
    W_in.grad = None
    W_out.grad = None
    if mistake == "loss_after":
        with torch.no_grad():
            return sgns_loss(W_in[centers], W_out[contexts], W_out[negs]).item()
    if mistake == "tensor":
        return loss.detach()                         # a 0-D tensor is a fine way to return the number
    return loss.item()


def test_sgns_train_step_names_each_typical_mistake():
    assert_passes(ch05.sgns_train_step, lambda *a: _step_variant(*a, mistake="tensor"))
    assert_rejects(ch05.sgns_train_step, lambda *a: _step_variant(*a, mistake="loss_after"), match="AFTER the update")
    assert_rejects(ch05.sgns_train_step, lambda *a: _step_variant(*a, mistake="swap_tables"),
                   match="centers up in W_out")
    assert_rejects(ch05.sgns_train_step, lambda *a: _step_variant(*a, mistake="swap_ids"),
                   match="centers and contexts are exchanged")
    assert_rejects(ch05.sgns_train_step, lambda *a: _step_variant(*a, mistake="swap_grads"),
                   match="OTHER table's gradient")
    assert_rejects(ch05.sgns_train_step, lambda *a: _step(*a, scale=3.0), match="3x too big")
    assert_rejects(ch05.sgns_train_step, lambda *a: _step(*a) + 1.0, match="before the update")


# ---------------------------------------------------------------- the check never trusts what fn did to its input
def repeats_the_first_pair(wv, pairs):
    """Wrong (one cosine for every pair), and hides it from a check that would read the pairs back after the call."""
    pairs[:] = [pairs[0]] * len(pairs)
    a, b = wv[pairs[0][0]], wv[pairs[0][1]]
    return np.full(len(pairs), float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))


def moves_cat_then_measures(wv, pairs):
    """Changes the vector of 'cat', then answers for the changed vectors (the check used to read them back)."""
    wv.vectors[wv.index("cat")] = [0.0, 0.0, 1.0]
    return np.array([float(wv[a] @ wv[b] / (np.linalg.norm(wv[a]) * np.linalg.norm(wv[b]))) for a, b in pairs])


def test_pair_cosines_rejects_a_function_that_changes_its_inputs():
    assert_rejects(ch05.pair_cosines, repeats_the_first_pair, match="changed its input `pairs` in place")
    # the grader sends wv by value and does not copy a WordVectors back, so there the wrong cosines are named
    assert_rejects(ch05.pair_cosines, moves_cat_then_measures,
                   match=r"changed its input `wv` in place|expected cosines \[0\.8944")
