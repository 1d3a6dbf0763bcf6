"""Checks for notebook 04 (the embedding matrix)."""
from __future__ import annotations

import numpy as np

from utils.checks import CheckFailed, as_numpy, calls, exercise, expect, expect_choice


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


@exercise("4.1", "One-hot encode")
def one_hot(fn):
    """fn(ids, vocab_size) -> float torch tensor (len(ids), vocab_size) with one 1.0 per row at column ids[r]."""
    import torch

    ids, V = [2, 0, 3, 2], 5
    got = fn(list(ids), V)
    expect(got is not None, "one_hot returned None - did you forget `return`?")
    expect(_is_torch(got), f"return a torch tensor, got {type(got).__module__}.{type(got).__name__}")
    arr = as_numpy(got, "the one-hot matrix")
    want = np.eye(V)[ids]
    if arr.shape == (V, len(ids)):
        raise CheckFailed(f"shape {arr.shape} is transposed: one ROW per token, shape (len(ids), vocab_size) = "
                          f"{want.shape}")
    if arr.ndim == 2 and arr.shape[0] == len(ids) and arr.shape[1] in (V - 1, V + 1):
        raise CheckFailed(f"{arr.shape[1]} columns for a vocabulary of {V}: one column per id 0..{V - 1}, "
                          "so exactly vocab_size columns (off by one?)")
    expect(arr.shape == want.shape, f"shape should be (len(ids), vocab_size) = {want.shape}, got {arr.shape}")
    expect(got.dtype.is_floating_point, f"use a float tensor (torch.zeros gives float32), got {got.dtype}: "
                                        "integer one-hots cannot be multiplied by a float matrix")
    if arr.ndim == 2 and np.allclose(arr.sum(axis=1), 1):
        cols = arr.argmax(axis=1)
        if np.array_equal(cols, (np.array(ids) - 1) % V) or np.array_equal(cols, np.array(ids) + 1):
            raise CheckFailed("the 1 sits one column off: id i goes to column i (ids and columns both start at 0)")
    expect(np.allclose(arr.sum(axis=1), 1) and set(np.unique(arr)) <= {0.0, 1.0},
           "every row must hold exactly one 1.0 and zeros elsewhere")
    expect(np.array_equal(arr, want), f"row r must have its 1 in column ids[r]: for ids {ids} expected "
                                      f"columns {ids}, got {arr.argmax(axis=1).tolist()}")
    again = as_numpy(fn(torch.tensor([4, 1]), 6), "one_hot(torch.tensor([4, 1]), 6)")
    expect(np.array_equal(again, np.eye(6)[[4, 1]]), "works for a list only? a torch tensor of ids [4, 1] with "
                                                     "vocab_size 6 should give 1s in columns 4 and 1")
    if calls(fn, "one_hot"):
        raise CheckFailed("the result is right, but the task is to build it yourself with torch.zeros and indexing - "
                          "torch.nn.functional.one_hot is what you are re-creating")


def _index_error_hint(name, fn, E, ids, exc) -> str:
    """One line for an IndexError in a lookup: picking COLUMNS (E[:, ids]) fails as soon as an id is >= d."""
    try:
        on_transpose = as_numpy(fn(E.T.contiguous(), list(ids)), "")
    except Exception:  # noqa: BLE001 - any failure here just means "not the column mix-up"
        on_transpose = None
    columns = E.numpy()[ids].T                                 # what E[:, ids] gives when run on E.T: shape (d, n)
    if on_transpose is not None and on_transpose.shape == columns.shape and np.allclose(on_transpose, columns,
                                                                                         atol=1e-6):
        return (f"{name} picked COLUMNS of E (E[:, ids]) and ran out of columns: token i's vector is ROW i, "
                "E[ids], shape (n, d)")
    if on_transpose is not None and on_transpose.shape == columns.T.shape and np.allclose(on_transpose, columns.T,
                                                                                           atol=1e-6):
        return (f"{name} picked COLUMNS of E and transposed them (E[:, ids].T): that only runs when every id is "
                "< d; token i's vector is ROW i, E[ids], shape (n, d)")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "IndexError"
    return (f"{name} raised IndexError ({first}): ids index the ROWS of E, from 0 to V - 1 = {E.shape[0] - 1} "
            "(no + 1: ids start at 0)")


@exercise("4.2", "Lookup by indexing and by one-hot matmul")
def lookup_two_ways(by_index, by_matmul):
    """Both functions: (E of shape (V, d), ids) -> E[ids], shape (n, d). E is 7 x 3 here, so mix-ups show."""
    import torch

    g = torch.Generator().manual_seed(4)
    E = torch.randn(7, 3, generator=g)            # (V=7, d=3): not square, so transposes cannot hide
    ids = [4, 0, 4, 6]
    want = E.numpy()[ids]                          # (4, 3)
    for name, fn in (("lookup_by_index", by_index), ("lookup_by_matmul", by_matmul)):
        try:
            got = fn(E, list(ids))
        except IndexError as exc:
            raise CheckFailed(_index_error_hint(name, fn, E, ids, exc)) from None
        expect(got is not None, f"{name} returned None - did you forget `return`?")
        arr = as_numpy(got, f"{name}'s result")
        if arr.shape == (3, 4):
            if np.allclose(arr, want.T, atol=1e-6):
                raise CheckFailed(f"{name}: the result is transposed, shape (d, n); return one ROW per token: "
                                  "one_hot(ids) @ E, not E.T @ one_hot(ids).T")
            raise CheckFailed(f"{name} picked COLUMNS of E (E[:, ids]): token i's vector is ROW i, E[ids], shape (n, d)")
        if arr.shape == (7, 4):
            raise CheckFailed(f"{name} returned shape (V, n) = (7, 4): that picks COLUMNS of E (E[:, ids]); token i's "
                              "vector is ROW i, E[ids], shape (n, d)")
        expect(arr.shape == want.shape, f"{name} should return shape (len(ids), d) = {want.shape}, got {arr.shape}")
        for shift in (-1, 1):
            shifted = [(i + shift) % 7 for i in ids]
            if np.allclose(arr, E.numpy()[shifted], atol=1e-6):
                raise CheckFailed(f"{name} returned the rows one position off: id i is row i (ids start at 0)")
        if np.allclose(arr[1:], np.repeat(arr[:1], len(ids) - 1, axis=0), atol=1e-6):
            raise CheckFailed(f"{name} returned the same row for every id: look up each id in turn, E[ids]")
        expect(np.allclose(arr, want, atol=1e-5), f"{name} gives the right shape but not the rows E[ids]")
    a = as_numpy(by_index(E, [1]), "lookup_by_index(E, [1])")
    expect(a.shape == (1, 3), f"a single id [1] should give shape (1, 3), got {a.shape}")


@exercise("4.3", "An embedding layer for a vocabulary")
def embedding_layer(layer, ids, X):
    """vocab = ["<pad>", "the", "cat", "sat", "on", "mat"], d = 8, sentence "the cat sat on the mat"."""
    import torch

    vocab = ["<pad>", "the", "cat", "sat", "on", "mat"]
    want_ids = [vocab.index(w) for w in "the cat sat on the mat".split()]
    expect(isinstance(layer, torch.nn.Embedding),
           f"emb_layer should be a torch.nn.Embedding, got {type(layer).__name__}")
    V, d = layer.num_embeddings, layer.embedding_dim
    if (V, d) == (8, len(vocab)):
        raise CheckFailed("arguments swapped: nn.Embedding(num_embeddings=vocabulary size 6, embedding_dim=8)")
    if V == len(vocab) - 1:
        raise CheckFailed(f"{V} rows for {len(vocab)} vocabulary entries: every entry needs a row, <pad> included")
    expect(V == len(vocab), f"emb_layer needs one row per vocabulary entry ({len(vocab)}), got {V}")
    expect(d == 8, f"your layer makes vectors of {d} numbers: the exercise asks for d = 8, "
                   "torch.nn.Embedding(len(vocab), 8)")
    expect(_is_torch(ids), f"ids should be a torch tensor (nn.Embedding takes a LongTensor), got {type(ids).__name__}")
    expect(not ids.dtype.is_floating_point, f"ids must be integers (torch.long), got {ids.dtype}")
    got_ids = ids.tolist()
    if got_ids == [i + 1 for i in want_ids]:
        raise CheckFailed("ids are one too high: the id of a word is its position in vocab, counting from 0")
    if got_ids == [i - 1 for i in want_ids]:
        raise CheckFailed("ids are one too low: vocab[0] is '<pad>', so 'the' is id 1")
    if set(got_ids) == set(want_ids) and len(got_ids) == len(set(want_ids)):
        raise CheckFailed(f"ids {got_ids} hold each distinct word once (a set?): keep one id per word of the "
                          "sentence, in order - 'the' appears twice")
    if len(got_ids) != len(want_ids):
        raise CheckFailed(f"the sentence has {len(want_ids)} words, so ids needs {len(want_ids)} entries, got "
                          f"{len(got_ids)}: one id per word, [vocab.index(w) for w in sentence]")
    expect(got_ids == want_ids, f"ids should be {want_ids}: the id of each word is its position in vocab, "
                                f"vocab.index(w), in sentence order; got {got_ids}")
    expect(_is_torch(X), f"X should be the tensor emb_layer(ids) returns, got {type(X).__name__}: call the layer on "
                         "the ids and keep its output as it is")
    expect(tuple(X.shape) == (len(want_ids), 8), f"X should have shape (6, 8), one row per token, got {tuple(X.shape)}")
    expect(torch.allclose(X.detach(), layer.weight.detach()[want_ids]),
           "X is not emb_layer(ids): compute it by calling the layer on the ids")


@exercise("4.4", "Quiz: which rows change?")
def quiz_touched_rows(answer):
    return expect_choice(
        answer, correct="c", options="abcd",
        why_wrong={
            "a": "with an untied output layer, rows that were not looked up take no part in the loss: zero gradient",
            "b": "'the' appears twice but has ONE row; its two gradients add up in that same row",
            "d": "every looked-up token's row feeds the loss, not only the last one",
        },
        explanation="5 distinct tokens (the, cat, sat, on, mat) were looked up; 'the' twice, into the same row, so "
                    "its gradient is the sum of both uses. The other 30,517 rows get exactly zero.")


@exercise("4.5", "Parameter count and memory of GPT-2's table")
def gpt2_table(n_params, fp32_mb, fp16_mb):
    """50,257 x 768 = 38,597,376 parameters; 154.39 MB in fp32, 77.19 MB in fp16 (MB = 10**6 bytes)."""
    V, d = 50_257, 768
    want = V * d
    for name, value in (("gpt2_params", n_params), ("gpt2_fp32_mb", fp32_mb), ("gpt2_fp16_mb", fp16_mb)):
        if isinstance(value, str) or not np.isscalar(value) and not hasattr(value, "item"):
            raise CheckFailed(f"{name} should be a number, got {type(value).__name__}")
    n = float(n_params)
    if n == V + d:
        raise CheckFailed("you added V and d; a table with V rows of d numbers holds V * d numbers")
    if n in (want * 4, want * 2):
        raise CheckFailed("gpt2_params counts BYTES; a parameter is one number whatever its size: V * d")
    if n in (want / 1e6, round(want / 1e6, 1), round(want / 1e6, 2)):
        raise CheckFailed("give gpt2_params as a plain count (38_597_376), not in millions")
    expect(n == want, f"gpt2_params should be 50,257 * 768, got {n_params!r}")
    f32, f16 = float(fp32_mb), float(fp16_mb)
    if abs(f32 - want * 4 / 2**20) < 0.01:
        raise CheckFailed("gpt2_fp32_mb is in MiB (2**20 bytes); here MB means 10**6 bytes")
    if abs(f32 - want * 32 / 1e6) < 0.01:
        raise CheckFailed("gpt2_fp32_mb used 32 BITS per number; fp32 takes 4 bytes")
    if abs(f32 - want / 1e6) < 0.01:
        raise CheckFailed("gpt2_fp32_mb is the parameter count in millions; multiply by 4 bytes per fp32 number")
    if abs(f32 - want * 4 / 1e9) < 1e-4:
        raise CheckFailed("gpt2_fp32_mb is in GB (10**9 bytes); give it in MB: bytes / 1e6")
    expect(abs(f32 - want * 4 / 1e6) < 0.01, f"gpt2_fp32_mb should be params * 4 bytes / 1e6, got {f32:g}")
    if abs(f16 - f32) < 0.01:
        raise CheckFailed("gpt2_fp16_mb equals the fp32 size: fp16 takes 2 bytes per number, half of fp32")
    if abs(f16 - want * 2 / 2**20) < 0.01:
        raise CheckFailed("gpt2_fp16_mb is in MiB (2**20 bytes); here MB means 10**6 bytes")
    if abs(f16 - want / 1e6) < 0.01:
        raise CheckFailed("gpt2_fp16_mb is the parameter count in millions; multiply by 2 bytes per fp16 number")
    if abs(f16 - 2 * f32) < 0.01:
        raise CheckFailed("gpt2_fp16_mb is double the fp32 size: fp16 takes 2 bytes per number, HALF of fp32's 4")
    expect(abs(f16 - want * 2 / 1e6) < 0.01, f"gpt2_fp16_mb should be params * 2 bytes / 1e6, got {f16:g}")


# Rows chosen so that every classic mistake gives a different answer for query 0 and k = 3:
# cosine -> [2, 1, 4]; dot product -> [1, 2, 4]; Euclidean distance -> [2, 4, 3]; with the query -> [0, 2, 1];
# worst first -> [3, 5, 4].
_NEAREST_E = [[1.0, 0.0, 0.0],
              [10.0, 10.0, 0.0],
              [0.9, 0.1, 0.0],
              [-1.0, 0.0, 0.0],
              [0.6, 0.0, 0.8],
              [0.0, 0.0, 2.0]]


@exercise("4.6", "Nearest neighbours by cosine")
def nearest_ids(fn):
    """fn(E, query_id, k) -> k integer row ids (a list or a 1-D tensor) by decreasing cosine similarity to row
    query_id, query excluded."""
    import torch

    E = torch.tensor(_NEAREST_E)                  # (6, 3)
    got = fn(E.clone(), 0, 3)
    expect(got is not None, "nearest_ids returned None - did you forget `return`?")
    arr = as_numpy(got, "the result").ravel()
    expect(arr.size == 3, f"return exactly k = 3 ids, got {arr.size}")
    if arr.dtype.kind == "f" and not np.allclose(arr, np.round(arr)):
        raise CheckFailed("return the row IDS (integers), not the similarity scores")
    if arr.dtype.kind not in "iu":
        raise CheckFailed(f"the ids should be integers (a list of ints or an integer tensor), got dtype {arr.dtype}: "
                          "argsort / topk(...).indices give integer ids")
    ids = [int(i) for i in arr]
    if ids == [0, 3, 5]:
        raise CheckFailed("that is the LEAST similar first (the query's -inf sorts to the front in ascending order): "
                          "sort by decreasing cosine (descending=True)")
    if ids[0] == 0:
        raise CheckFailed("the query itself came first (cosine 1 with itself): leave query_id out of the result")
    if ids == [1, 2, 4]:
        raise CheckFailed("that is the ranking by DOT product: divide by the norms, or the long row 1 wins unfairly")
    if ids == [2, 4, 3]:
        raise CheckFailed("that is the ranking by Euclidean distance; rank by cosine similarity (direction only)")
    if ids == [3, 5, 4]:
        raise CheckFailed("that is the LEAST similar first: sort by decreasing cosine (descending=True)")
    if sorted(ids) == [1, 2, 4] and ids == [4, 1, 2]:
        raise CheckFailed("the right 3 neighbours, but in ASCENDING order (least similar of them first): return them "
                          "best first - sort with descending=True (or reverse the last k of an ascending sort)")
    if sorted(ids) == [1, 2, 4] and ids != [2, 1, 4]:
        raise CheckFailed(f"the right 3 neighbours in the wrong order ({ids}): best first, by decreasing cosine")
    if ids == [1, 0, 3]:
        raise CheckFailed("every id is one too low: removing the query's row from E means every later row moves "
                          "down by one; keep E whole and give the query a score of -inf instead")
    expect(ids == [2, 1, 4], f"for this matrix the answer is [2, 1, 4] (cosines 0.994, 0.707, 0.6), got {ids}")
    g = torch.Generator().manual_seed(7)
    R = torch.randn(50, 8, generator=g)           # (50, 8)
    Rn = R / R.norm(dim=1, keepdim=True)
    scores = Rn @ Rn[17]
    scores[17] = -2.0
    want = torch.argsort(scores, descending=True)[:5].tolist()
    other = [int(i) for i in as_numpy(fn(R.clone(), 17, 5), "the result on a random matrix").ravel()]
    if other[:3] == [2, 1, 4]:
        raise CheckFailed("on a random (50, 8) matrix you returned [2, 1, 4] again, the answer of the small example: "
                          "compute the ids from E, query_id and k")
    if len(other) != 5:
        raise CheckFailed(f"on a random (50, 8) matrix with k = 5 you returned {len(other)} ids: use k, not a fixed 3")
    expect(other == want, f"right on the small example only? on a random (50, 8) matrix, query 17, k 5, "
                          f"expected {want}, got {other}")
