"""Every exercise of notebook 04: right answer passes, stub is 'not attempted', typical mistakes are named."""
import numpy as np
import torch
import torch.nn.functional as F

from check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils import embedding
from utils.checks import REGISTRY, ch04


def test_registry_has_every_exercise():
    assert list(REGISTRY["04"]) == [f"4.{i}" for i in range(1, 8)]


# ---------------------------------------------------------------- 4.1
def one_hot_ok(ids, vocab_size):
    ids = torch.as_tensor(ids, dtype=torch.long)
    out = torch.zeros(len(ids), vocab_size)
    out[torch.arange(len(ids)), ids] = 1.0
    return out


def one_hot_loop(ids, vocab_size):
    out = torch.zeros(len(ids), vocab_size)
    for row, i in enumerate(ids):
        out[row, int(i)] = 1.0
    return out


def one_hot_multi(ids, vocab_size):
    out = torch.zeros(len(ids), vocab_size)
    out[:, torch.as_tensor(ids)] = 1.0                   # every row gets a 1 in EVERY id's column
    return out


def test_one_hot():
    assert_passes(ch04.one_hot, one_hot_ok)
    assert_passes(ch04.one_hot, one_hot_loop)
    assert_passes(ch04.one_hot, embedding.one_hot)
    assert_not_attempted(ch04.one_hot, stub_function)
    assert_not_attempted(ch04.one_hot, ...)
    assert_rejects(ch04.one_hot, lambda ids, V: one_hot_ok(ids, V).T, match="transposed")
    assert_rejects(ch04.one_hot, lambda ids, V: one_hot_ok(ids, V + 1), match="off by one")
    assert_rejects(ch04.one_hot, lambda ids, V: torch.eye(V)[torch.as_tensor(ids)][:, 1:], match="off by one")
    assert_rejects(ch04.one_hot, lambda ids, V: F.one_hot(torch.as_tensor(ids), V), match="float tensor")
    assert_rejects(ch04.one_hot, lambda ids, V: one_hot_ok(torch.as_tensor(ids) - 1, V), match="one column off")
    assert_rejects(ch04.one_hot, lambda ids, V: one_hot_ok(ids, V).numpy(), match="torch tensor")
    assert_rejects(ch04.one_hot, lambda ids, V: np.eye(V)[ids], match="torch tensor")
    assert_rejects(ch04.one_hot, one_hot_multi, match="exactly one 1.0")
    assert_rejects(ch04.one_hot, lambda ids, V: torch.eye(5)[[2, 0, 3, 2]], match="works for a list only")
    assert_rejects(ch04.one_hot, lambda ids, V: None, match="return")


# ---------------------------------------------------------------- 4.2
def by_index_ok(E, ids):
    return E[torch.as_tensor(ids, dtype=torch.long)]


def by_matmul_ok(E, ids):
    return embedding.one_hot(ids, E.shape[0]) @ E


def test_lookup_two_ways():
    assert_passes(ch04.lookup_two_ways, by_index_ok, by_matmul_ok)
    assert_passes(ch04.lookup_two_ways, embedding.lookup, embedding.lookup_via_one_hot)
    assert_passes(ch04.lookup_two_ways, lambda E, ids: torch.stack([E[i] for i in ids]),
                  lambda E, ids: F.one_hot(torch.tensor(ids), E.shape[0]).to(E.dtype) @ E)
    assert_not_attempted(ch04.lookup_two_ways, stub_function, by_matmul_ok)
    assert_not_attempted(ch04.lookup_two_ways, by_index_ok, stub_function)
    assert_not_attempted(ch04.lookup_two_ways, ..., ...)
    # column lookup instead of row lookup (the ids are larger than d, so E[:, ids] cannot even run)
    assert_rejects(ch04.lookup_two_ways, lambda E, ids: E[:, ids], by_matmul_ok, match="COLUMNS")
    assert_rejects(ch04.lookup_two_ways, lambda E, ids: E[:, [i % E.shape[1] for i in ids]], by_matmul_ok,
                   match="COLUMNS")
    assert_rejects(ch04.lookup_two_ways, lambda E, ids: E[:, ids].T, by_matmul_ok,
                   match=r"COLUMNS of E and transposed them \(E\[:, ids\]\.T\)")
    assert_rejects(ch04.lookup_two_ways, by_index_ok, lambda E, ids: (E.T @ embedding.one_hot(ids, E.shape[0]).T).T.T,
                   match="transposed")
    # transposed result: E.T @ one_hot.T
    assert_rejects(ch04.lookup_two_ways, by_index_ok, lambda E, ids: E.T @ embedding.one_hot(ids, E.shape[0]).T,
                   match="transposed")
    # off-by-one ids (1-based thinking): id - 1 wraps to the last row for id 0, id + 1 runs past the end
    assert_rejects(ch04.lookup_two_ways, lambda E, ids: E[[i - 1 for i in ids]], by_matmul_ok,
                   match="one position off")
    assert_rejects(ch04.lookup_two_ways, lambda E, ids: E[[i + 1 for i in ids]], by_matmul_ok,
                   match=r"raised IndexError \(.*\): ids index the ROWS of E, from 0 to V - 1 = 6 \(no \+ 1")
    assert_rejects(ch04.lookup_two_ways, by_index_ok,
                   lambda E, ids: embedding.one_hot([(i + 1) % 7 for i in ids], E.shape[0]) @ E,
                   match="lookup_by_matmul.*one position off")
    assert_rejects(ch04.lookup_two_ways, lambda E, ids: E[ids[0]].repeat(len(ids), 1), by_matmul_ok,
                   match="same row for every id")
    assert_rejects(ch04.lookup_two_ways, lambda E, ids: E[torch.tensor(ids)].sum(0, keepdim=True), by_matmul_ok,
                   match=r"shape \(len\(ids\), d\)")
    assert_rejects(ch04.lookup_two_ways, lambda E, ids: E[torch.tensor(ids)].squeeze(0) if len(ids) == 1
                   else E[torch.tensor(ids)], by_matmul_ok, match=r"single id \[1\]")
    assert_rejects(ch04.lookup_two_ways, by_index_ok, lambda E, ids: None, match="lookup_by_matmul returned None")


# ---------------------------------------------------------------- 4.3
VOCAB = ["<pad>", "the", "cat", "sat", "on", "mat"]
WANT_IDS = [1, 2, 3, 4, 1, 5]


def layer_answer(layer=None, ids=None):
    torch.manual_seed(0)
    layer = torch.nn.Embedding(len(VOCAB), 8) if layer is None else layer
    ids = torch.tensor(WANT_IDS) if ids is None else ids
    return layer, ids, layer(ids)


def test_embedding_layer():
    assert_passes(ch04.embedding_layer, *layer_answer())
    layer, ids, X = layer_answer()
    assert_not_attempted(ch04.embedding_layer, ..., ..., ...)
    assert_not_attempted(ch04.embedding_layer, layer, ids, ...)
    assert_rejects(ch04.embedding_layer, *layer_answer(torch.nn.Embedding(8, len(VOCAB))), match="swapped")
    assert_rejects(ch04.embedding_layer, torch.nn.Embedding(5, 8), ids, X, match="<pad> included")
    assert_rejects(ch04.embedding_layer, torch.nn.Embedding(7, 8), ids, X, match="one row per vocabulary entry")
    assert_rejects(ch04.embedding_layer, torch.nn.Embedding(6, 4), ids, X, match="vectors of 4 numbers")
    assert_rejects(ch04.embedding_layer, torch.nn.Linear(6, 8), ids, X, match="torch.nn.Embedding")
    assert_rejects(ch04.embedding_layer, layer, ids + 1, X, match="one too high")
    assert_rejects(ch04.embedding_layer, layer, ids - 1, X, match="one too low")
    assert_rejects(ch04.embedding_layer, layer, WANT_IDS, X, match="torch tensor")
    assert_rejects(ch04.embedding_layer, layer, ids.float(), X, match="integers")
    assert_rejects(ch04.embedding_layer, layer, torch.tensor([VOCAB.index(w) for w in sorted(set(
        "the cat sat on the mat".split()))]), X, match="each distinct word once")
    assert_rejects(ch04.embedding_layer, layer, ids[:5], X, match="needs 6 entries")
    assert_rejects(ch04.embedding_layer, layer, ids.flip(0), X, match="in sentence order")
    assert_rejects(ch04.embedding_layer, layer, ids, X.T, match=r"shape \(6, 8\)")
    assert_rejects(ch04.embedding_layer, layer, ids, layer.weight, match=r"not emb_layer\(ids\)")
    assert_rejects(ch04.embedding_layer, layer, ids, torch.randn(6, 8), match="emb_layer\\(ids\\)")
    assert_rejects(ch04.embedding_layer, layer, ids, X.detach().numpy(), match="tensor emb_layer\\(ids\\) returns")


# ---------------------------------------------------------------- 4.4
PAPER = dict(ids=[4, 1, 7, 1, 5], shape=(5, 4), row=[-0.6, -1.2, -0.3, 0.2], rows={1, 4, 7})


def paper(**changes):
    """The four answers of exercise 4.4, right except for ``changes``."""
    answer = {**PAPER, **changes}
    return answer["ids"], answer["shape"], answer["row"], answer["rows"]


def test_paper_constants_match_the_notebook():
    """The vocabulary and matrix the check uses are the ones the notebook prints."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parent.parent / "solutions" / "04_embedding_matrix.ipynb").read_text(
        encoding="utf-8"))
    source = next("".join(c["source"]) for c in nb["cells"] if "E_paper = torch.tensor(" in "".join(c["source"]))
    scope = {"torch": torch}
    exec(source.split("print(")[0], scope)
    assert scope["paper_vocab"] == ch04.PAPER_VOCAB
    assert scope["E_paper"].tolist() == ch04.PAPER_E


def test_see_you_soon():
    assert_passes(ch04.see_you_soon, *paper())
    assert_passes(ch04.see_you_soon, *paper(ids=(4, 1, 7, 1, 5), shape=[5, 4], row=(-0.6, -1.2, -0.3, 0.2),
                                            rows=[4, 1, 7, 1]))
    assert_passes(ch04.see_you_soon, *paper(ids=torch.tensor([4, 1, 7, 1, 5]), shape=torch.Size([5, 4]),
                                            row=torch.tensor(ch04.PAPER_E)[7], rows=frozenset({1, 4, 7})))
    assert_passes(ch04.see_you_soon, *paper(ids=np.array([4, 1, 7, 1, 5]), row=np.array(ch04.PAPER_E[7]),
                                            rows=[np.int64(1), np.int64(4), np.int64(7)]))
    assert_not_attempted(ch04.see_you_soon, ..., ..., ..., ...)
    assert_not_attempted(ch04.see_you_soon, *paper(rows=...))
    # the ids
    assert_rejects(ch04.see_you_soon, *paper(ids=[5, 2, 8, 2, 6]), match="off by one")
    assert_rejects(ch04.see_you_soon, *paper(ids=[3, 0, 6, 0, 4]), match="off by one")
    assert_rejects(ch04.see_you_soon, *paper(ids=[0, 1, 7, 1, 5]), match="lower-cases")
    assert_rejects(ch04.see_you_soon, *paper(ids=[4, 7, 5]), match="spaces are missing")
    assert_rejects(ch04.see_you_soon, *paper(ids=[4, 1, 7, 5]), match="each distinct token once")
    assert_rejects(ch04.see_you_soon, *paper(ids=[1, 4, 5, 7]), match="each distinct token once")
    assert_rejects(ch04.see_you_soon, *paper(ids=[4, 1, 7, 1]), match="'soon' is missing")
    assert_rejects(ch04.see_you_soon, *paper(ids=[0, 1, 2, 3, 4]), match="positions in the TEXT")
    assert_rejects(ch04.see_you_soon, *paper(ids=["see", " ", "you", " ", "soon"]), match="not the tokens")
    assert_rejects(ch04.see_you_soon, *paper(ids=[4, 1, 7, 1, 5, 0]), match="5 tokens")
    assert_rejects(ch04.see_you_soon, *paper(ids=[5, 1, 7, 1, 4]), match="in text order")
    assert_rejects(ch04.see_you_soon, *paper(ids=4), match="single number")
    assert_rejects(ch04.see_you_soon, *paper(ids={1, 4, 5, 7}), match="is a set")
    assert_rejects(ch04.see_you_soon, *paper(ids={"see": 4}), match=r"written like \[3, 0, 2\], got dict")
    assert_rejects(ch04.see_you_soon, *paper(ids=[4.5, 1, 7, 1, 5]), match="whole numbers")
    # the shape of X
    assert_rejects(ch04.see_you_soon, *paper(shape=(4, 5)), match="transposed")
    assert_rejects(ch04.see_you_soon, *paper(shape=(8, 4)), match="shape of E_paper")
    assert_rejects(ch04.see_you_soon, *paper(shape=(4, 8)), match="shape of E_paper")
    assert_rejects(ch04.see_you_soon, *paper(shape=(3, 4)), match="leaves out the spaces")
    assert_rejects(ch04.see_you_soon, *paper(shape=(4, 4)), match="one short")
    assert_rejects(ch04.see_you_soon, *paper(shape=(1, 5, 4)), match="no batch axis")
    assert_rejects(ch04.see_you_soon, *paper(shape=(20,)), match="two sizes")
    assert_rejects(ch04.see_you_soon, *paper(shape=torch.zeros(5, 4)), match="not a matrix")
    assert_rejects(ch04.see_you_soon, *paper(shape="(5, 4)"), match=r"a tuple of sizes like \(2, 3\), got str")
    assert_rejects(ch04.see_you_soon, *paper(shape={5, 4}), match="got set")
    assert_passes(ch04.see_you_soon, *paper(shape=np.array([5, 4])))
    # row 2 of X
    E = ch04.PAPER_E
    assert_rejects(ch04.see_you_soon, *paper(row=E[2]), match="POSITION 2 of the text")
    assert_rejects(ch04.see_you_soon, *paper(row=E[1]), match="space's row")
    assert_rejects(ch04.see_you_soon, *paper(row=E[6]), match="one row off")
    assert_rejects(ch04.see_you_soon, *paper(row=E[4]), match="row of 'see'")
    assert_rejects(ch04.see_you_soon, *paper(row=E[7][::-1]), match="reverse order")
    assert_rejects(ch04.see_you_soon, *paper(row=[r[2] for r in E]), match="a COLUMN of E_paper")
    assert_rejects(ch04.see_you_soon, *paper(row=7), match="single number 7")
    assert_rejects(ch04.see_you_soon, *paper(row=[-0.6, -1.2, -0.3]), match="4 numbers of one row")
    assert_rejects(ch04.see_you_soon, *paper(row=[-0.6, -1.2, 0.3, 0.2]), match="one row of E_paper")
    assert_rejects(ch04.see_you_soon, *paper(row=["-0.6", "-1.2", "-0.3", "0.2"]), match="should hold 4 numbers")
    # the rows a gradient reaches
    assert_rejects(ch04.see_you_soon, *paper(rows=set(range(8))), match="not every row")
    assert_rejects(ch04.see_you_soon, *paper(rows={1, 4, 5, 7}), match="'soon'\\) is the target")
    assert_rejects(ch04.see_you_soon, *paper(rows={5}), match="is the target")
    assert_rejects(ch04.see_you_soon, *paper(rows={4, 7}), match="space's row is missing")
    assert_rejects(ch04.see_you_soon, *paper(rows={0, 1, 7}), match="row 0")
    assert_rejects(ch04.see_you_soon, *paper(rows={1}), match="not only the last")
    assert_rejects(ch04.see_you_soon, *paper(rows={0, 1, 2, 3}), match="positions in the text")
    assert_rejects(ch04.see_you_soon, *paper(rows={2, 5, 8}), match="off by one")
    assert_rejects(ch04.see_you_soon, *paper(rows={"see", " ", "you"}), match="not the tokens")
    assert_rejects(ch04.see_you_soon, *paper(rows=7), match="single number")
    assert_rejects(ch04.see_you_soon, *paper(rows={1, 4, 6}), match="looked up for its input")


# ---------------------------------------------------------------- 4.5
def test_quiz_touched_rows():
    assert_passes(ch04.quiz_touched_rows, "c")
    assert_passes(ch04.quiz_touched_rows, " C ")
    assert_not_attempted(ch04.quiz_touched_rows, ...)
    assert_rejects(ch04.quiz_touched_rows, "a", match="zero gradient")
    assert_rejects(ch04.quiz_touched_rows, "b", match="ONE row")
    assert_rejects(ch04.quiz_touched_rows, "d", match="not only the last")
    assert_rejects(ch04.quiz_touched_rows, "e", match="one letter")
    assert_rejects(ch04.quiz_touched_rows, 3, match="one letter")


# ---------------------------------------------------------------- 4.6
P = 50_257 * 768


def test_gpt2_table():
    assert_passes(ch04.gpt2_table, P, P * 4 / 1e6, P * 2 / 1e6)
    assert_passes(ch04.gpt2_table, 38_597_376, 154.39, 77.19)
    assert_passes(ch04.gpt2_table, np.int64(P), np.float64(P * 4 / 1e6), torch.tensor(P * 2 / 1e6).item())
    assert_not_attempted(ch04.gpt2_table, ..., ..., ...)
    assert_not_attempted(ch04.gpt2_table, P, ..., ...)
    assert_rejects(ch04.gpt2_table, 50_257 + 768, 154.39, 77.19, match="added V and d")
    assert_rejects(ch04.gpt2_table, P * 4, 154.39, 77.19, match="counts BYTES")
    assert_rejects(ch04.gpt2_table, P * 2, 154.39, 77.19, match="counts BYTES")
    assert_rejects(ch04.gpt2_table, 38.6, 154.39, 77.19, match="not in millions")
    assert_rejects(ch04.gpt2_table, P / 1e6, 154.39, 77.19, match="not in millions")
    assert_rejects(ch04.gpt2_table, "38597376", 154.39, 77.19, match="should be a number, got str")
    assert_rejects(ch04.gpt2_table, None, 154.39, 77.19, match="should be a number")
    assert_rejects(ch04.gpt2_table, P, P * 4 / 2**20, P * 2 / 2**20, match="MiB")
    assert_rejects(ch04.gpt2_table, P, P * 4 / 1e6, P * 2 / 2**20, match="gpt2_fp16_mb is in MiB")
    assert_rejects(ch04.gpt2_table, P, P * 32 / 1e6, P * 16 / 1e6, match="BITS")
    assert_rejects(ch04.gpt2_table, P, P / 1e6, P / 1e6, match="multiply by 4 bytes")
    assert_rejects(ch04.gpt2_table, P, P * 4 / 1e9, P * 2 / 1e9, match="GB")
    assert_rejects(ch04.gpt2_table, P, 154.39, 154.39, match="equals the fp32 size")
    assert_rejects(ch04.gpt2_table, P, 154.39, 308.78, match="HALF")
    assert_rejects(ch04.gpt2_table, P, 154.39, 38.6, match="millions; multiply by 2 bytes")
    assert_rejects(ch04.gpt2_table, P, 154.39, 70.0, match=r"params \* 2 bytes / 1e6")


# ---------------------------------------------------------------- 4.7
def nearest_ok(E, query_id, k):
    q = E[query_id]
    scores = (E @ q) / (E.norm(dim=1) * q.norm())
    scores[query_id] = -float("inf")
    return torch.argsort(scores, descending=True)[:k].tolist()


def nearest_F(E, query_id, k):
    scores = F.cosine_similarity(E, E[query_id].unsqueeze(0), dim=1)
    order = [int(i) for i in torch.argsort(scores, descending=True) if int(i) != query_id]
    return order[:k]


def nearest_dot(E, query_id, k):
    scores = E @ E[query_id]
    scores[query_id] = -float("inf")
    return torch.argsort(scores, descending=True)[:k].tolist()


def nearest_euclid(E, query_id, k):
    dist = (E - E[query_id]).norm(dim=1)
    dist[query_id] = float("inf")
    return torch.argsort(dist)[:k].tolist()


def nearest_with_query(E, query_id, k):
    q = E[query_id]
    scores = (E @ q) / (E.norm(dim=1) * q.norm())
    return torch.argsort(scores, descending=True)[:k].tolist()


def nearest_ascending(E, query_id, k):
    """Forgot descending=True: the query's -inf now sorts FIRST, then the least similar rows."""
    q = E[query_id]
    scores = (E @ q) / (E.norm(dim=1) * q.norm())
    scores[query_id] = -float("inf")
    return torch.argsort(scores)[:k].tolist()


def nearest_least(E, query_id, k):
    q = E[query_id]
    scores = (E @ q) / (E.norm(dim=1) * q.norm())
    scores[query_id] = float("inf")
    return torch.argsort(scores)[:k].tolist()


def nearest_row_deleted(E, query_id, k):
    """Removed the query's row from E, so every later id moves down by one."""
    rest = torch.cat([E[:query_id], E[query_id + 1:]])
    q = E[query_id]
    scores = (rest @ q) / (rest.norm(dim=1) * q.norm())
    return torch.argsort(scores, descending=True)[:k].tolist()


def nearest_ascending_tail(E, query_id, k):
    """Ascending sort, then the last k: the right neighbours, least similar of them first."""
    q = E[query_id]
    scores = (E @ q) / (E.norm(dim=1) * q.norm())
    scores[query_id] = -float("inf")
    return torch.argsort(scores)[-k:].tolist()


def test_nearest_ids_names_the_order():
    assert_rejects(ch04.nearest_ids, nearest_ascending_tail, match="ASCENDING order")
    def best_last_two_swapped(E, q, k):
        first, *rest = nearest_ok(E, q, k)
        return [first] + rest[::-1]
    assert_rejects(ch04.nearest_ids, best_last_two_swapped, match=r"wrong order \(\[2, 4, 1\]\)")


def test_nearest_ids():
    assert_passes(ch04.nearest_ids, nearest_ok)
    assert_passes(ch04.nearest_ids, nearest_F)
    assert_passes(ch04.nearest_ids, lambda E, q, k: torch.tensor(nearest_ok(E, q, k)))
    assert_passes(ch04.nearest_ids, lambda E, q, k: embedding.nearest_rows(E, E[q], k, exclude=[q])[0])
    assert_not_attempted(ch04.nearest_ids, stub_function)
    assert_not_attempted(ch04.nearest_ids, ...)
    assert_rejects(ch04.nearest_ids, nearest_with_query, match="query itself came first")
    assert_rejects(ch04.nearest_ids, nearest_dot, match="DOT product")
    assert_rejects(ch04.nearest_ids, lambda E, q, k: nearest_dot(E / E.norm(), q, k), match="DOT product")
    assert_rejects(ch04.nearest_ids, nearest_euclid, match="Euclidean")
    assert_rejects(ch04.nearest_ids, nearest_least, match="LEAST similar")
    assert_rejects(ch04.nearest_ids, nearest_ascending, match="LEAST similar")
    assert_rejects(ch04.nearest_ids, nearest_row_deleted, match="moves down by one")
    assert_rejects(ch04.nearest_ids, lambda E, q, k: nearest_ok(E, q, k + 1), match="exactly k = 3")
    assert_rejects(ch04.nearest_ids, lambda E, q, k: nearest_ok(E, q, k - 1), match="exactly k = 3")
    assert_rejects(ch04.nearest_ids, lambda E, q, k: torch.sort(F.cosine_similarity(E, E[q][None]),
                                                               descending=True).values[1:k + 1], match="IDS")
    assert_rejects(ch04.nearest_ids, lambda E, q, k: [2, 1, 4][:k], match="answer of the small example")
    assert_rejects(ch04.nearest_ids, lambda E, q, k: nearest_ok(E, q, 3), match="not a fixed 3")
    assert_rejects(ch04.nearest_ids, lambda E, q, k: nearest_ok(E, q, k) if len(E) == 6 else list(range(k)),
                   match="small example only")
    assert_rejects(ch04.nearest_ids, lambda E, q, k: torch.tensor(nearest_ok(E, q, k)).float(), match="integers")
    assert_rejects(ch04.nearest_ids, lambda E, q, k: None, match="return")


def test_one_hot_rejects_the_forbidden_shortcut():
    def shortcut(ids, vocab_size):
        return torch.nn.functional.one_hot(torch.as_tensor(ids), vocab_size).float()
    assert_rejects(ch04.one_hot, shortcut, match="one_hot is what you are re-creating")


# ---------------------------------------------------------------- the check never trusts what fn did to its input
def index_then_zero_E(E, ids):
    """Right rows, but it wipes E: a check that handed the same E to lookup_by_matmul next would fail that function
    for a mistake that is not its own."""
    rows = E[torch.as_tensor(ids)].clone()
    E.zero_()
    return rows


def test_lookup_two_ways_names_the_function_that_changed_E():
    assert_rejects(ch04.lookup_two_ways, index_then_zero_E, by_matmul_ok,
                   match="changed its input `E` in place: lookup_by_index only reads rows of E")
