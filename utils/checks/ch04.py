"""Checks for notebook 04 (the embedding matrix).

Why one long module: the course keeps one check module per chapter (the grader loads `chNN.py`), and 04 has seven
exercises, one of them (4.4) with four answers to diagnose."""
from __future__ import annotations

import numpy as np

from utils import vectors
from utils.checks import CheckFailed, call_on_copies, calls, exercise, expect, expect_unchanged, quiz
from utils.checks.values import as_numpy, as_whole_numbers, is_torch, returned


@exercise("4.1", "One-hot encode")
def one_hot(fn):
    """fn(ids, vocab_size) -> float torch tensor (len(ids), vocab_size) with one 1.0 per row at column ids[r]."""
    import torch

    ids, V = [2, 0, 3, 2], 5
    got = fn(list(ids), V)
    returned(got, "one_hot")
    expect(is_torch(got), f"return a torch tensor, got {type(got).__module__}.{type(got).__name__}")
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
            got, (E_after, _) = call_on_copies(fn, E, list(ids))        # E itself never reaches either function
        except IndexError as exc:
            raise CheckFailed(_index_error_hint(name, fn, E, ids, exc)) from None
        returned(got, name)
        expect_unchanged(E, E_after, "E", f"{name} only reads rows of E")
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
    a = as_numpy(by_index(E.clone(), [1]), "lookup_by_index(E, [1])")
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
    expect(is_torch(ids), f"ids should be a torch tensor (nn.Embedding takes a LongTensor), got {type(ids).__name__}")
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
    expect(is_torch(X), f"X should be the tensor emb_layer(ids) returns, got {type(X).__name__}: call the layer on "
                         "the ids and keep its output as it is")
    expect(tuple(X.shape) == (len(want_ids), 8), f"X should have shape (6, 8), one row per token, got {tuple(X.shape)}")
    expect(torch.allclose(X.detach(), layer.weight.detach()[want_ids]),
           "X is not emb_layer(ids): compute it by calling the layer on the ids")


# Exercise 4.4: "See you soon" on paper. The same vocabulary and matrix are printed in the notebook (a test keeps the
# two equal). Ids: see 4, " " 1, you 7, soon 5; the text is 5 tokens, so X = E[[4, 1, 7, 1, 5]] has shape (5, 4).
PAPER_VOCAB = ["<unk>", " ", "hello", "later", "see", "soon", "world", "you"]
PAPER_E = [[-0.2, 0.1, 0.7, -0.5],
           [-1.6, -0.7, 0.7, 0.9],
           [0.1, -0.8, 1.6, -0.3],
           [0.5, 1.1, -0.1, 0.6],
           [-0.5, 1.1, -2.2, -0.5],
           [-1.3, -0.3, 0.2, 0.8],
           [0.2, 0.6, 1.0, -0.2],
           [-0.6, -1.2, -0.3, 0.2]]
_PAPER_TOKENS = ["see", " ", "you", " ", "soon"]


#: what to give instead when a hand-written answer of 4.4 holds tokens
_IDS_NOT_TOKENS = "give the ids, the positions in paper_vocab (integers), not the tokens"


def _paper_ids(paper_ids, want_ids: list[int]) -> None:
    """4.4, answer 1: one id per token of the text, in text order, each the token's position in the vocabulary."""
    vocab = PAPER_VOCAB
    unk, space = vocab.index("<unk>"), vocab.index(" ")
    if isinstance(paper_ids, (set, frozenset)):
        raise CheckFailed("paper_ids is a set, which keeps neither the order of the tokens nor repeats: write a list, "
                          "one id per token of the text in text order")
    ids = as_whole_numbers(paper_ids, "paper_ids", "token ids", "[3, 0, 2]", strings=_IDS_NOT_TOKENS)
    if ids == [i + 1 for i in want_ids] or ids == [i - 1 for i in want_ids]:
        raise CheckFailed("paper_ids are off by one: the id of a token is its position in paper_vocab counting from "
                          "0 ('<unk>' is 0, ' ' is 1)")
    if ids == [unk] + want_ids[1:]:
        raise CheckFailed("'See' became '<unk>' (id 0): the tokenizer lower-cases the text first, so 'See' is the "
                          "vocabulary's 'see'")
    if ids == [i for i in want_ids if i != space]:
        raise CheckFailed("the spaces are missing: ' ' is a token of its own (id 1), one between each pair of words")
    if ids == list(dict.fromkeys(want_ids)) or ids == sorted(set(want_ids)):
        raise CheckFailed("paper_ids lists each distinct token once: write one id per token of the text, in order - "
                          "the space occurs twice, so its id does too")
    if ids == want_ids[:-1]:
        raise CheckFailed("'soon' is missing: paper_ids is the whole text, all its tokens (the model later reads the "
                          "first four, but the text has five)")
    if ids == list(range(len(ids))):
        raise CheckFailed(f"{ids} are positions in the TEXT: a token's id is its position in the VOCABULARY, "
                          "paper_vocab")
    if len(ids) != len(want_ids):
        raise CheckFailed(f"paper_ids has {len(ids)} ids, but the tokenizer cuts 'See you soon' into "
                          f"{len(want_ids)} tokens (words and spaces)")
    expect(ids == want_ids, f"paper_ids should give, in text order, each token's position in paper_vocab (from 0); "
                            f"got {ids}")


def _paper_shape(paper_X_shape, n: int, V: int, d: int) -> None:
    """4.4, answer 2: the shape of the stacked matrix X = E[ids], (number of tokens, d)."""
    if hasattr(paper_X_shape, "shape") and not isinstance(paper_X_shape, tuple):      # an array, not torch.Size
        if len(paper_X_shape.shape) >= 2:
            raise CheckFailed("paper_X_shape should be the shape itself, a tuple of two numbers like (2, 3), not a "
                              "matrix")
        paper_X_shape = as_numpy(paper_X_shape, "paper_X_shape").tolist()
    if not isinstance(paper_X_shape, (tuple, list)):
        raise CheckFailed(f"paper_X_shape should be a tuple of sizes like (2, 3), got {type(paper_X_shape).__name__}")
    shape = tuple(as_whole_numbers(paper_X_shape, "paper_X_shape", "sizes", "(2, 3)", strings=_IDS_NOT_TOKENS))
    if shape == (d, n):
        raise CheckFailed(f"paper_X_shape {shape} is transposed: X has one ROW per token, (number of tokens, d)")
    if shape in ((V, d), (d, V)):
        raise CheckFailed(f"{shape} is the shape of E_paper (one row per VOCABULARY entry); X stacks one row per "
                          "token of the TEXT")
    if shape == (n - 2, d):
        raise CheckFailed("3 rows leaves out the spaces: each space is a token, so it gets a row of X too")
    if shape == (n - 1, d):
        raise CheckFailed("4 rows is one short: X stacks a row for every token of the text - the space's row twice "
                          "and 'soon' included")
    if len(shape) == 3 and shape[0] == 1 and shape[1:] == (n, d):
        raise CheckFailed("no batch axis here: X is a matrix, (number of tokens, d)")
    expect(len(shape) == 2, f"X is a matrix: give two sizes (rows, columns), got {shape}")
    expect(shape == (n, d), f"paper_X_shape should be (number of tokens, d), got {shape}")


def _paper_row(paper_X_row2, E: np.ndarray, want_ids: list[int]) -> None:
    """4.4, answer 3: row 2 of X, counted from 0 - the vector of the third token of the text, as printed."""
    (V, d), space = E.shape, PAPER_VOCAB.index(" ")
    if isinstance(paper_X_row2, (int, np.integer)) and not isinstance(paper_X_row2, bool):
        raise CheckFailed(f"paper_X_row2 is the single number {paper_X_row2}: give the row's {d} numbers, copied "
                          "from the printed E_paper")
    row = as_numpy(paper_X_row2, "paper_X_row2")
    if row.dtype.kind not in "iuf":
        raise CheckFailed(f"paper_X_row2 should hold {d} numbers, got {paper_X_row2!r}")
    row = row.astype(float).ravel()
    if row.size == V:
        raise CheckFailed(f"paper_X_row2 has {V} numbers, a COLUMN of E_paper: a row holds d = {d} numbers")
    expect(row.size == d, f"paper_X_row2 should hold the {d} numbers of one row, got {row.size}")
    want_row = E[want_ids[2]]
    if np.allclose(row, want_row, atol=1e-6):
        return
    same = [i for i in range(V) if np.allclose(row, E[i], atol=1e-6)]
    if same == [2]:
        raise CheckFailed("that is E_paper[2], the row of id 2 ('hello'): row 2 of X is the vector of the token "
                          "at POSITION 2 of the text, so look up that token's id first")
    if same == [space]:
        raise CheckFailed("that is the space's row: rows of X are counted from 0, so row 2 is the THIRD token "
                          "of the text")
    if same and abs(same[0] - want_ids[2]) == 1:
        raise CheckFailed(f"that is E_paper[{same[0]}], one row off: token id i is row i of E_paper, counting "
                          "from 0")
    if same:
        raise CheckFailed(f"that is the row of {PAPER_VOCAB[same[0]]!r}: row 2 of X (counting from 0) is the vector "
                          "of the third token of the text")
    if np.allclose(row[::-1], want_row, atol=1e-6):
        raise CheckFailed("the right numbers in reverse order: copy the row left to right")
    raise CheckFailed(f"paper_X_row2 should be one row of E_paper, its {d} numbers in order: the row of the "
                      "third token of the text")


def _paper_gradient_rows(paper_rows_with_gradient, want_ids: list[int], V: int) -> set[int]:
    """4.4, answer 4: the rows a gradient reaches - the ids of the four context tokens, not the target's. Returns
    them."""
    unk, space = PAPER_VOCAB.index("<unk>"), PAPER_VOCAB.index(" ")
    n = len(want_ids)
    rows = set(as_whole_numbers(paper_rows_with_gradient, "paper_rows_with_gradient", "row ids", "{0, 6}",
                                strings=_IDS_NOT_TOKENS))
    context, target = set(want_ids[:-1]), want_ids[-1]
    if rows == set(range(V)):
        raise CheckFailed("not every row: with an untied output layer, a row the model did not look up plays no part "
                          "in the loss, so its gradient is exactly zero")
    if rows == context | {target} or rows == {target}:
        raise CheckFailed(f"row {target} ('soon') is the target, not an input: it is never looked up, so the loss "
                          "does not depend on it (the output layer is a separate matrix)")
    if rows == context - {space}:
        raise CheckFailed("the space's row is missing: ' ' was looked up too (twice), and gets the sum of both "
                          "gradients")
    if rows == {unk, space, want_ids[2]}:
        raise CheckFailed("'See' is looked up as 'see' (id 4) after lower-casing, so row 0 ('<unk>') is not touched")
    if rows in ({want_ids[2]}, {want_ids[3]}):
        raise CheckFailed("not only the last input token: every row the model looked up feeds the loss")
    if rows in (set(range(n - 1)), set(range(n))):
        raise CheckFailed("those are positions in the text; a gradient reaches ROWS of E_paper, i.e. token ids")
    if rows in ({i + 1 for i in context}, {i - 1 for i in context}):
        raise CheckFailed("off by one: row i of E_paper belongs to id i, counting from 0")
    expect(rows == context, f"paper_rows_with_gradient should be the ids of the rows the model looked up for its "
                            f"input, got {sorted(rows)}")
    return context


@exercise("4.4", "The pipeline on paper")
def see_you_soon(paper_ids, paper_X_shape, paper_X_row2, paper_rows_with_gradient):
    """The pipeline by hand on PAPER_VOCAB / PAPER_E: ids, the stacked matrix's shape, its row 2, the rows a
    gradient reaches when the first four tokens predict the fifth (untied output layer)."""
    E = np.array(PAPER_E)
    want_ids = [PAPER_VOCAB.index(t) for t in _PAPER_TOKENS]                 # [4, 1, 7, 1, 5]
    (V, d), n = E.shape, len(want_ids)
    _paper_ids(paper_ids, want_ids)
    _paper_shape(paper_X_shape, n, V, d)
    _paper_row(paper_X_row2, E, want_ids)
    context = _paper_gradient_rows(paper_rows_with_gradient, want_ids, V)
    untouched = V - len(context)
    return (f"ids {want_ids}; X = E_paper[ids] has shape {(n, d)}; the input 'see', ' ', 'you', ' ' reaches rows "
            f"{sorted(context)}, the space's row with the sum of two uses; the other {untouched} rows, the target "
            f"'soon' among them, get exactly zero.")


quiz_touched_rows = quiz(
    "4.5", "Quiz: which rows change?",
    correct="c", options="abcd",
    why_wrong={
        "a": "with an untied output layer, rows that were not looked up take no part in the loss: zero gradient",
        "b": "'the' appears twice but has ONE row; its two gradients add up in that same row",
        "d": "every looked-up token's row feeds the loss, not only the last one",
    },
    explanation="5 distinct tokens (the, cat, sat, on, mat) were looked up; 'the' twice, into the same row, so "
                "its gradient is the sum of both uses. The other 30,517 rows get exactly zero.")


@exercise("4.6", "Parameter count and memory of GPT-2's table")
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


@exercise("4.7", "Nearest neighbours by cosine")
def nearest_ids(fn):
    """fn(E, query_id, k) -> k integer row ids (a list or a 1-D tensor) by decreasing cosine similarity to row
    query_id, query excluded."""
    import torch

    E = torch.tensor(_NEAREST_E)                  # (6, 3)
    got = fn(E.clone(), 0, 3)
    returned(got, "nearest_ids")
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
    ranked, _ = vectors.top_k(R[17], R, k=6)      # the reference; the query itself (cosine 1) comes first
    want = [int(i) for i in ranked if i != 17][:5]
    other = [int(i) for i in as_numpy(fn(R.clone(), 17, 5), "the result on a random matrix").ravel()]
    if other[:3] == [2, 1, 4]:
        raise CheckFailed("on a random (50, 8) matrix you returned [2, 1, 4] again, the answer of the small example: "
                          "compute the ids from E, query_id and k")
    if len(other) != 5:
        raise CheckFailed(f"on a random (50, 8) matrix with k = 5 you returned {len(other)} ids: use k, not a fixed 3")
    expect(other == want, f"right on the small example only? on a random (50, 8) matrix, query 17, k 5, "
                          f"expected {want}, got {other}")
