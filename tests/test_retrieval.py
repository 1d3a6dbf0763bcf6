"""utils.retrieval: chunking, lexical scores (checked against bm25s and scikit-learn), the exact cosine index and its
file format, faiss, metrics, the WordNet set and the prompt/answer helpers. Tiny data throughout, so it runs fast."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from utils import retrieval as R


def one_line_error(excinfo, *fragments):
    """The error is a ValueError/TypeError with a one-line message containing every fragment."""
    message = str(excinfo.value)
    assert "\n" not in message, f"error messages are one line, got {message!r}"
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in {message!r}"


# ------------------------------------------------------------------------------------------------ tokenize, chunk
def test_tokenize():
    assert R.tokenize("Hello, World! x_1 2nd") == ["hello", "world", "x_1", "2nd"]
    assert R.tokenize("  ?! ") == []
    with pytest.raises(TypeError):
        R.tokenize(None)


@pytest.mark.parametrize("n_words, size, overlap", [(n, s, o) for n in (0, 1, 2, 5, 9, 10, 11, 23)
                                                    for s in (1, 2, 3, 4, 7) for o in range(s)])
def test_chunks_cover_the_text_once_apart_from_the_overlap(n_words, size, overlap):
    words = [f"w{i}" for i in range(n_words)]
    chunks = R.chunk_words(" ".join(words), size, overlap)
    pieces = [c.split() for c in chunks]
    if not words:
        assert chunks == []
        return
    assert all(1 <= len(p) <= size for p in pieces)
    assert all(len(p) == size for p in pieces[:-1]), "only the last chunk may be shorter"
    for a, b in zip(pieces, pieces[1:]):
        assert a[-overlap:] == b[:overlap] if overlap else True, "consecutive chunks share exactly `overlap` words"
        assert len(b) > overlap, "a chunk that only repeats the overlap adds nothing"
    # drop the repeated words at each seam: what is left is the text, every word exactly once, in order
    rebuilt = pieces[0] + [w for p in pieces[1:] for w in p[overlap:]]
    assert rebuilt == words


def test_chunk_words_examples_and_whitespace():
    assert R.chunk_words("a b c d e f g", 3, 1) == ["a b c", "c d e", "e f g"]
    assert R.chunk_words("a b c d e f", 3, 1) == ["a b c", "c d e", "e f"]
    assert R.chunk_words("a\n\nb\tc  d", 2) == ["a b", "c d"], "any white space separates words"
    assert R.chunk_words("one", 5, 4) == ["one"]


@pytest.mark.parametrize("size, overlap, fragment", [(0, 0, "size"), (-3, 0, "size"), (2.5, 0, "size"),
                                                     (3, 3, "overlap"), (3, 4, "overlap"), (3, -1, "overlap")])
def test_chunk_words_rejects_bad_settings(size, overlap, fragment):
    with pytest.raises(ValueError) as info:
        R.chunk_words("a b c d", size, overlap)
    one_line_error(info, fragment)


def test_chunk_words_rejects_non_text():
    with pytest.raises(TypeError):
        R.chunk_words(["a", "b"], 2)


def test_chunk_documents_keeps_sources_and_positions():
    chunks = R.chunk_documents({"x": "a b c d e", "empty": "  ", "y": "f"}, size=3, overlap=1)
    assert [(c.source, c.index, c.text) for c in chunks] == [("x", 0, "a b c"), ("x", 1, "c d e"), ("y", 0, "f")]
    with pytest.raises(TypeError):
        R.chunk_documents(["a b"], 2)


def test_python_docs_is_the_stdlib_topics():
    docs = R.python_docs()
    assert len(docs) >= 70 and "break" in docs and "while" in docs
    assert docs["break"].lstrip().startswith('The "break" statement')


# ------------------------------------------------------------------------------------------------ top-k
def test_top_k_from_scores_orders_and_breaks_ties_by_index():
    idx, val = R.top_k_from_scores(np.array([0.2, 0.9, 0.5, 0.9, 0.5]), 4)
    assert idx.tolist() == [1, 3, 2, 4] and val.tolist() == [0.9, 0.9, 0.5, 0.5]
    idx, _ = R.top_k_from_scores(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), 2)
    assert idx.tolist() == [[2, 1], [0, 1]]


def test_top_k_from_scores_matches_a_full_sort():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=500)
    for k in (1, 7, 500):
        assert R.top_k_from_scores(scores, k)[0].tolist() == np.argsort(-scores, kind="stable")[:k].tolist()


@pytest.mark.parametrize("k", [0, -1, 4, 2.0])
def test_top_k_from_scores_rejects_bad_k(k):
    with pytest.raises(ValueError) as info:
        R.top_k_from_scores(np.array([1.0, 2.0, 3.0]), k)
    one_line_error(info, "k must be between 1 and 3")


# ------------------------------------------------------------------------------------------------ BM25, TF-IDF
@pytest.fixture(scope="module")
def pydoc_slice():
    """A small real corpus: 25 topics of Python's own documentation, tokenized."""
    docs = R.python_docs()
    names = sorted(docs)[:25]
    return [R.tokenize(docs[name]) for name in names]


QUERIES = [["loop", "break"], ["exception", "finally", "finally"], ["unknownword", "while"], ["the"],
           ["how", "do", "i", "leave", "a", "loop", "early"], ["async", "await", "coroutine"]]


def test_bm25_gives_the_same_scores_as_bm25s(pydoc_slice):
    bm25s = pytest.importorskip("bm25s")
    ours = R.BM25(pydoc_slice)                        # k1=1.5, b=0.75: bm25s's defaults, Lucene's formula
    reference = bm25s.BM25()
    reference.index(pydoc_slice, show_progress=False)
    for query in QUERIES:
        want = reference.get_scores(query)            # float32 inside bm25s
        np.testing.assert_allclose(ours.scores(query), want, rtol=1e-5, atol=1e-6, err_msg=str(query))
    assert np.argmax(ours.scores(["loop", "break"])) == np.argmax(reference.get_scores(["loop", "break"]))


def test_bm25_other_parameters_match_bm25s(pydoc_slice):
    bm25s = pytest.importorskip("bm25s")
    ours = R.BM25(pydoc_slice, k1=0.9, b=0.4)
    reference = bm25s.BM25(k1=0.9, b=0.4)
    reference.index(pydoc_slice, show_progress=False)
    for query in QUERIES:
        np.testing.assert_allclose(ours.scores(query), reference.get_scores(query), rtol=1e-5, atol=1e-6)


def test_bm25_by_hand():
    bm25 = R.BM25([["the", "cat", "sat"], ["the", "dog", "ran", "far"], ["a", "cat", "and", "a", "dog"]])
    idf_cat = np.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    norm0 = 1.5 * (1 - 0.75 + 0.75 * 3 / 4)           # document 0 has 3 words; the average is 4
    assert bm25.scores(["cat"])[0] == pytest.approx(idf_cat * 1 / (1 + norm0))
    assert bm25.scores(["cat", "cat"])[0] == pytest.approx(2 * bm25.scores(["cat"])[0]), "repeats count"
    assert bm25.scores(["zebra"]).tolist() == [0.0, 0.0, 0.0], "unknown words add nothing"
    assert bm25.search(["dog"], k=2)[0].tolist() == [1, 2]


def test_bm25_errors():
    bm25 = R.BM25([["a", "b"], ["c"]])
    for query, fragment in (([], "empty"), ("a b", "tokenize")):
        with pytest.raises(ValueError) as info:
            bm25.scores(query)
        one_line_error(info, fragment)
    with pytest.raises(ValueError) as info:
        bm25.search(["a"], k=3)
    one_line_error(info, "between 1 and 2")
    for corpus in ([], "a b", ["a b", "c"]):
        with pytest.raises(ValueError) as info:
            R.BM25(corpus)
        one_line_error(info)
    with pytest.raises(ValueError):
        R.BM25([["a"]], b=2)


def test_tfidf_matches_scikit_learn(pydoc_slice):
    sklearn_text = pytest.importorskip("sklearn.feature_extraction.text")
    vectorizer = sklearn_text.TfidfVectorizer(analyzer=lambda tokens: tokens)
    D = vectorizer.fit_transform(pydoc_slice)
    ours = R.TfidfIndex(pydoc_slice)
    for query in QUERIES:
        q = vectorizer.transform([query])
        want = (D @ q.T).toarray().ravel()
        np.testing.assert_allclose(ours.scores(query), want, atol=1e-12)


def test_tfidf_unknown_query_scores_zero_and_errors():
    tfidf = R.TfidfIndex([["a", "b"], ["b", "c"]])
    assert tfidf.scores(["zebra"]).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError) as info:
        tfidf.scores([])
    one_line_error(info, "empty")


# ------------------------------------------------------------------------------------------------ VectorIndex
def _brute_force(X, q, k):
    cos = X @ q / (np.linalg.norm(X, axis=1) * np.linalg.norm(q))
    return np.argsort(-cos, kind="stable")[:k], np.sort(cos)[::-1][:k]


def test_vector_index_finds_the_exact_top_k():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 16))
    index = R.VectorIndex(16)
    index.add(X[:120])
    index.add(X[120:])                                # adding in two steps = adding at once
    assert len(index) == 200
    for q in rng.normal(size=(5, 16)):
        ids, scores = index.search(q, k=7)
        want_ids, want_scores = _brute_force(X, q, 7)
        assert ids == want_ids.tolist()
        np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    positions, _ = index.search_many(rng.normal(size=(3, 16)), k=200)   # k equal to the collection is fine
    assert positions.shape == (3, 200)


def test_vector_index_ids_and_torch_input():
    torch = pytest.importorskip("torch")
    index = R.VectorIndex(2)
    index.add(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), ids=["east", "north"])
    assert index.search(torch.tensor([0.1, 1.0]), k=1)[0] == ["north"]


@pytest.mark.parametrize("action, fragment", [
    (lambda ix: ix.add(np.ones((2, 3))), "dimension mismatch"),
    (lambda ix: ix.add(np.ones(5)), "dimension mismatch"),
    (lambda ix: ix.search(np.ones(3), k=1), "dimension mismatch"),
    (lambda ix: ix.search(np.ones(4), k=4), "between 1 and 3"),
    (lambda ix: ix.search(np.ones(4), k=0), "between 1 and 3"),
    (lambda ix: ix.search(np.zeros(4), k=1), "zero vector"),
    (lambda ix: ix.search(np.ones((2, 4)), k=1), "search_many"),
    (lambda ix: ix.search([], k=1), "dimension mismatch"),
    (lambda ix: ix.add(np.ones((2, 4)), ids=["only one"]), "2 vectors but 1 ids"),
    (lambda ix: ix.add([[1, 2, 3, float("nan")]]), "nan"),
])
def test_vector_index_errors_are_one_line(action, fragment):
    index = R.VectorIndex(4)
    index.add(np.eye(4)[:3])
    with pytest.raises(ValueError) as info:
        action(index)
    one_line_error(info, fragment)


def test_empty_index_and_bad_dim():
    with pytest.raises(ValueError) as info:
        R.VectorIndex(3).search(np.ones(3), k=1)
    one_line_error(info, "empty")
    for dim in (0, -2, 2.5, "3"):
        with pytest.raises(ValueError):
            R.VectorIndex(dim)


@pytest.mark.parametrize("ids", [None, ["a", "bb", "ccc"]])
def test_vector_index_save_and_load_round_trip(tmp_path, ids):
    rng = np.random.default_rng(2)
    index = R.VectorIndex(5)
    index.add(rng.normal(size=(3, 5)), ids=ids)
    written = index.save(tmp_path / "chunks")                  # the suffix is added
    assert written == tmp_path / "chunks.npz" and written.exists()
    for path in (written, tmp_path / "chunks"):
        loaded = R.VectorIndex.load(path)
        assert loaded.dim == 5 and loaded.ids == index.ids
        np.testing.assert_array_equal(loaded.vectors, index.vectors)
        q = rng.normal(size=5)
        assert loaded.search(q, k=3)[0] == index.search(q, k=3)[0]


def test_empty_index_round_trip(tmp_path):
    loaded = R.VectorIndex.load(R.VectorIndex(7).save(tmp_path / "empty.npz"))
    assert loaded.dim == 7 and len(loaded) == 0


def test_load_rejects_another_version_and_other_files(tmp_path):
    old = tmp_path / "old.npz"
    np.savez(old, format=np.array("course-vector-index-v0"), dim=np.array(2), vectors=np.eye(2), ids=np.arange(2))
    with pytest.raises(ValueError) as info:
        R.VectorIndex.load(old)
    one_line_error(info, "course-vector-index-v0", "rebuild")

    untagged = tmp_path / "untagged.npz"
    np.savez(untagged, vectors=np.eye(2))
    with pytest.raises(ValueError) as info:
        R.VectorIndex.load(untagged)
    one_line_error(info, "no format tag")

    damaged = tmp_path / "damaged.npz"
    np.savez(damaged, format=np.array(R.INDEX_FORMAT), dim=np.array(2), vectors=np.eye(2))
    with pytest.raises(ValueError) as info:
        R.VectorIndex.load(damaged)
    one_line_error(info, "missing ids")

    text = tmp_path / "notes.npz"
    text.write_text("not an index")
    with pytest.raises(ValueError) as info:
        R.VectorIndex.load(text)
    one_line_error(info, "not a saved VectorIndex")

    single = tmp_path / "array.npy"
    np.save(single, np.eye(2))
    with pytest.raises(ValueError) as info:
        R.VectorIndex.load(single)
    one_line_error(info, "single array")

    with pytest.raises(ValueError) as info:
        R.VectorIndex.load(tmp_path / "missing.npz")
    one_line_error(info, "no index file")


def test_cosine_scores_and_average_word_vectors():
    S = R.cosine_scores([[1, 0], [0, 0]], [[2, 0], [1, 1]])
    np.testing.assert_allclose(S, [[1, 2 ** -0.5], [0, 0]])
    with pytest.raises(ValueError) as info:
        R.cosine_scores([[1, 0]], [[1, 0, 0]])
    one_line_error(info, "dimension mismatch")

    class TinyVectors:
        words = ["cat", "dog"]
        vectors = np.array([[1.0, 0.0], [0.0, 1.0]])

        def __contains__(self, w):
            return w in self.words

        def index(self, w):
            return self.words.index(w)

    M, covered = R.average_word_vectors(["cat dog", "a cat", "nothing known"], TinyVectors())
    np.testing.assert_allclose(M, [[0.5, 0.5], [1, 0], [0, 0]])
    assert covered.tolist() == [True, True, False]
    with pytest.raises(ValueError):
        R.average_word_vectors("cat dog", TinyVectors())


# ------------------------------------------------------------------------------------------------ faiss
def test_faiss_flat_equals_exact_and_hnsw_is_close():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 16)).astype(np.float32)
    Q = rng.normal(size=(20, 16)).astype(np.float32)
    exact = R.VectorIndex(16)
    exact.add(X)
    want, want_scores = exact.search_many(Q, k=5)
    flat = R.FaissIndex(16, "flat")
    flat.add(X)
    got, got_scores = flat.search(Q, k=5)
    assert got.tolist() == want.tolist()
    np.testing.assert_allclose(got_scores, want_scores, atol=1e-5)
    hnsw = R.FaissIndex(16, "hnsw", ef_search=64)
    hnsw.add(X)
    found, _ = hnsw.search(Q, k=5)
    recall = np.mean([len(set(f) & set(w)) / 5 for f, w in zip(found.tolist(), want.tolist())])
    assert recall >= 0.9
    assert len(hnsw) == 500


def test_faiss_errors():
    pytest.importorskip("faiss")
    flat = R.FaissIndex(4, "flat")
    with pytest.raises(ValueError) as info:
        flat.search(np.ones((1, 4), dtype=np.float32), k=1)
    one_line_error(info, "empty")
    flat.add(np.eye(4, dtype=np.float32))
    for action, fragment in ((lambda: flat.search(np.ones((1, 3)), k=1), "dimension mismatch"),
                             (lambda: flat.add(np.ones((1, 5))), "dimension mismatch"),
                             (lambda: flat.search(np.ones((1, 4)), k=5), "between 1 and 4")):
        with pytest.raises(ValueError) as info:
            action()
        one_line_error(info, fragment)
    with pytest.raises(ValueError) as info:
        R.FaissIndex(4, "annoy")
    one_line_error(info, "kind")


# ------------------------------------------------------------------------------------------------ metrics
RANKED = [[2, 4, 7], [1, 0, 3], [4, 2, 7], [5, 6, 9], [8, 2, 0]]
GOLD = [2, 1, 2, 9, 3]  # found at positions 1, 1, 2, 3, and not at all


def test_recall_at_k_by_hand():
    assert [R.recall_at_k(RANKED, GOLD, k) for k in (1, 2, 3, 10)] == [0.4, 0.6, 0.8, 0.8]
    assert R.recall_at_k([[3, 1, 2]], [{1, 2}], k=2) == 0.5, "several relevant documents: a fraction of them"
    assert R.recall_at_k([["b", "a"]], ["a"], k=2) == 1.0, "ids may be strings"


def test_mrr_by_hand():
    assert R.mrr(RANKED, GOLD) == pytest.approx((1 + 1 + 1 / 2 + 1 / 3 + 0) / 5)
    assert R.mrr([[0, 1]], [0]) == 1.0
    assert R.mrr([[1, 2, 3]], [{3, 2}]) == 0.5, "the first relevant result counts"


@pytest.mark.parametrize("call, fragment", [
    (lambda: R.recall_at_k(RANKED, GOLD[:4], 2), "5 ranked lists but 4 gold"),
    (lambda: R.recall_at_k(RANKED, GOLD, 0), "positive integer"),
    (lambda: R.recall_at_k([], [], 1), "no queries"),
    (lambda: R.mrr(RANKED, GOLD[:2]), "one per query"),
    (lambda: R.mrr([], []), "no queries"),
])
def test_metric_errors(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    one_line_error(info, fragment)


def test_evaluate_scores_agrees_with_the_list_metrics():
    rng = np.random.default_rng(4)
    S = rng.normal(size=(30, 50)).round(1)           # rounding creates ties: they go to the smaller index
    gold = rng.integers(0, 50, size=30)
    ranked = [np.argsort(-row, kind="stable").tolist() for row in S]
    result = R.evaluate_scores(S, gold, ks=(1, 5, 10))
    for k in (1, 5, 10):
        assert result[f"recall@{k}"] == pytest.approx(R.recall_at_k(ranked, gold.tolist(), k))
    assert result["MRR"] == pytest.approx(R.mrr(ranked, gold.tolist()))
    assert R.gold_ranks(S, gold).tolist() == [r.index(g) + 1 for r, g in zip(ranked, gold)]


# ------------------------------------------------------------------------------------------------ WordNet set
def test_wordnet_retrieval_set_is_deterministic_and_labelled():
    a = R.wordnet_retrieval_set(n_docs=50, n_queries=10, seed=3)
    b = R.wordnet_retrieval_set.__wrapped__(n_docs=50, n_queries=10, seed=3)   # rebuilt, not the cached object
    assert a.documents == b.documents and a.queries == b.queries and a.doc_ids == b.doc_ids
    assert len(a.documents) == 50 and len(a.queries) == 10 and a.gold.tolist() == list(range(10))
    assert len(set(a.doc_ids)) == 50
    assert R.wordnet_retrieval_set(n_docs=50, n_queries=10, seed=4).doc_ids != a.doc_ids
    from utils.wordnet import load_synsets
    by_id = {s.id: s for s in load_synsets()}
    for q, g in zip(a.queries, a.gold):
        sense = by_id[a.doc_ids[g]]
        assert q in sense.examples and a.documents[g] == sense.definition, "gold = the example's own sense"
    with pytest.raises(ValueError):
        R.wordnet_retrieval_set(n_docs=5, n_queries=6)


# ------------------------------------------------------------------------------------------------ augment, generate
CHUNKS = [("break", "The break statement ends the loop. It may only occur in a loop."),
          ("continue", "continue skips to the next cycle.")]


def test_build_prompt_numbers_sources_and_ends_with_the_question():
    prompt = R.build_prompt("  How do I stop a loop?  ", CHUNKS)
    lines = prompt.splitlines()
    assert "only" in lines[0]
    assert "[1] (source: break) The break statement ends the loop." in prompt
    assert "[2] (source: continue)" in prompt and prompt.index("[1]") < prompt.index("[2] (")
    assert lines[-2:] == ["Question: How do I stop a loop?", "Answer:"]
    assert R.build_prompt("q", [R.Chunk("x", 0, "a\n b")]).count("[1] (source: x) a b") == 1
    assert "[2] (" not in R.build_prompt("q", CHUNKS, max_chunks=1)
    for question, chunks, fragment in (("  ", CHUNKS, "question is empty"), ("q", [], "no chunks")):
        with pytest.raises(ValueError) as info:
            R.build_prompt(question, chunks)
        one_line_error(info, fragment)


def test_extractive_answer_lexical_and_with_an_embedding():
    assert R.extractive_answer("which statement ends a loop", CHUNKS) == ("The break statement ends the loop.",
                                                                          "break")

    def embed(texts):  # a toy embedding: counts of two words
        return np.array([[t.lower().count("next") + 0.01, t.lower().count("loop") + 0.01] for t in texts])

    assert R.extractive_answer("go on with the NEXT one", CHUNKS, embed=embed)[1] == "continue"
    for question, chunks, fragment in (("", CHUNKS, "empty"), ("q", [("s", "  ")], "no sentences")):
        with pytest.raises(ValueError) as info:
            R.extractive_answer(question, chunks)
        one_line_error(info, fragment)


def test_split_sentences():
    assert R.split_sentences("One. Two!  Three?\nFour") == ["One.", "Two!", "Three?", "Four"]
    assert R.split_sentences("   ") == []


def test_answer_uses_the_llm_when_one_is_plugged_in_else_extracts():
    def retrieve(question, k):
        return [R.Chunk(s, 0, t) for s, t in CHUNKS][:k]

    out = R.answer("which statement ends a loop", retrieve, k=2)
    assert out["by"] == "extractive" and out["sources"] == ["break"]
    assert out["answer"] == "The break statement ends the loop." and "[2] (source: continue)" in out["prompt"]
    assert R.generate_with_llm("any prompt") is None, "the offline course has no LLM"
    seen = []
    out = R.answer("q?", retrieve, k=1, generate=lambda p: seen.append(p) or "use break [1]")
    assert out == {"prompt": seen[0], "answer": "use break [1]", "sources": ["break"], "by": "llm"}


def test_retrievers_over_chunks():
    chunks = R.chunk_documents({"break": "break ends the loop early", "pass": "pass does nothing at all",
                                "while": "while repeats a loop"}, size=10)
    bm25 = R.BM25Retriever(chunks)
    assert [c.source for c in bm25("leave the loop early", k=2)] == ["break", "while"]
    with pytest.raises(ValueError) as info:
        bm25.search("?!", k=1)
    one_line_error(info, "no words")

    def embed(texts):
        return np.array([[t.count("loop") + 0.1, t.count("nothing") + 0.1] for t in texts])

    dense = R.DenseRetriever(chunks, embed)
    assert dense("nothing", k=1)[0].source == "pass"
    hits = dense.search("a loop", k=3)
    assert [round(s, 4) for _, s in hits] == sorted((round(s, 4) for _, s in hits), reverse=True)
    for bad, fragment in (("", "empty"), (None, "string")):
        with pytest.raises(ValueError) as info:
            dense.search(bad, k=1)
        one_line_error(info, fragment)
    with pytest.raises(ValueError) as info:
        dense.search("loop", k=4)
    one_line_error(info, "between 1 and 3")
    with pytest.raises(ValueError) as info:
        R.DenseRetriever(chunks, embed, vectors=np.ones((2, 2)))
    one_line_error(info, "one vector per chunk")


def test_every_chunk_setting_is_consistent_with_chunk_documents():
    docs = {"a": " ".join(f"a{i}" for i in range(13)), "b": "b0 b1"}
    for size, overlap in itertools.product((2, 5), (0, 1)):
        chunks = R.chunk_documents(docs, size, overlap)
        for name, text in docs.items():
            assert [c.text for c in chunks if c.source == name] == R.chunk_words(text, size, overlap)
