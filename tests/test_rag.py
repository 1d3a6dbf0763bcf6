"""utils.rag (notebook 10): ingestion of every format, bad documents, the vector store (persistence, upsert/delete,
filters), idempotent re-ingestion, fusion, re-ranking and metrics. A hashing embedder keeps these tests fast; the
notebook runs the same code with MiniLM."""
import hashlib
import shutil

import numpy as np
import pytest

from utils.rag import corpus, evaluate, hybrid, ingest
from utils.rag.vectordb import VectorStore

DIM = 64


def hash_embed(texts):
    """A deterministic bag-of-words embedding: each word adds a fixed random direction."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().split():
            seed = int.from_bytes(hashlib.sha1(word.encode()).digest()[:4], "little")
            out[i] += np.random.default_rng(seed).normal(size=DIM)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


class HashEncoder:
    def embed(self, texts):
        return hash_embed(list(texts))

    def tokens(self, text):
        return hash_embed(text.split() or [""])


@pytest.fixture
def corpus_copy(tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(corpus.CORPUS_DIR, folder)
    return folder


def test_every_format_is_parsed_with_its_locator():
    chunks = {p.suffix: ingest.parse_file(p, root=corpus.CORPUS_DIR) for p in corpus.corpus_paths()}
    assert {c.doc_type for cs in chunks.values() for c in cs} == {"pdf", "code", "markdown", "html", "text"}
    pdf = chunks[".pdf"]
    assert len({c.page for c in pdf}) >= 5 and all(c.page >= 1 for c in pdf)   # a real multi-page PDF
    assert any("cosine" in c.text.lower() for c in pdf)                          # with a text layer
    assert all(c.section for c in chunks[".md"]) and all(c.line_start for c in chunks[".txt"])


def test_pdf_is_regenerated_identically():
    files = corpus.corpus_files()
    assert files["norms_and_similarity.pdf"] == corpus.corpus_files()["norms_and_similarity.pdf"]


def test_chunk_python_keeps_every_line_and_splits_long_pieces():
    code = "import os\n\n@dec\ndef f():\n    return 1\n\nclass C:\n" + "".join(
        f"    def m{i}(self):\n        return {i}\n" for i in range(40))
    chunks = ingest.chunk_python(code, "x.py", max_lines=20)
    assert chunks[0].section == "<module>" and chunks[1].section == "f" and chunks[1].line_start == 3
    assert {c.section for c in chunks} >= {"C", "C.m0", "C.m39"}
    covered = {i for c in chunks for i in range(c.line_start, c.line_end + 1)}
    assert all(i in covered for i, line in enumerate(code.splitlines(), start=1) if line.strip())
    with pytest.raises(ingest.BadDocument, match="not valid Python"):
        ingest.chunk_python("def broken(:\n", "x.py")


def test_bad_documents_get_one_line_each_and_the_rest_is_ingested(tmp_path, corpus_copy):
    bad = corpus.write_bad_documents(tmp_path / "bad")
    store = VectorStore(dim=DIM)
    good = corpus.corpus_paths(corpus_copy)
    report = ingest.ingest(good + bad, store, hash_embed, root=None)
    reasons = dict(line.split(": ", 1) for line in report.skipped)
    assert set(reasons) == {p.name for p in bad}
    assert "empty" in reasons["empty.txt"]
    assert "corrupt PDF" in reasons["corrupt.pdf"]
    assert "encrypted" in reasons["encrypted.pdf"]
    assert "binary" in reasons["binary.txt"]
    assert "not UTF-8" in reasons["latin1.md"]
    assert "too large" in reasons["huge.txt"]
    assert all("\n" not in line for line in report.skipped)
    assert len(report.added) == len(good) and store.count() == sum(report.added.values())
    store.close()


def test_unknown_suffix_and_not_a_pdf(tmp_path):
    (tmp_path / "a.docx").write_bytes(b"PK")
    (tmp_path / "b.pdf").write_text("hello")
    with pytest.raises(ingest.BadDocument, match="unsupported"):
        ingest.parse_file(tmp_path / "a.docx")
    with pytest.raises(ingest.BadDocument, match="not a PDF"):
        ingest.parse_file(tmp_path / "b.pdf")


def test_reingestion_is_idempotent_and_replaces_a_files_chunks(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    note, other = folder / "note.md", folder / "other.txt"
    note.write_text("# A\n" + "alpha " * 300 + "\n## B\nbeta\n")
    other.write_text("gamma delta\n")
    store = VectorStore(dim=DIM)
    ingest.ingest([note, other], store, hash_embed, root=folder)
    before = store.count()
    ingest.ingest([note, other], store, hash_embed, root=folder)
    assert store.count() == before                              # twice = once
    note.write_text("# A\nshort now\n")
    ingest.ingest([note], store, hash_embed, root=folder)
    assert store.sources() == {"note.md": 1, "other.txt": 1}    # old chunks of note.md gone, other.txt untouched
    note.write_bytes(b"\xff\xfe broken")
    report = ingest.ingest([note], store, hash_embed, root=folder)
    assert report.skipped and store.sources() == {"note.md": 1, "other.txt": 1}   # a failed re-ingest loses nothing
    store.close()


def test_persistence_close_reopen_same_results(tmp_path, corpus_copy):
    path = tmp_path / "db"
    store = VectorStore(path=path, dim=DIM)
    ingest.ingest(corpus.corpus_paths(corpus_copy), store, hash_embed, root=corpus_copy)
    query = hash_embed(["cosine similarity of unit vectors"])[0]
    before = [(c.chunk_id, round(s, 6)) for c, s in store.search(query, k=5)]
    filtered = [c.chunk_id for c, _ in store.search(query, k=5, doc_type="code")]
    count = store.count()
    store.close()
    reopened = VectorStore(path=path, dim=DIM)
    assert reopened.count() == count
    assert [(c.chunk_id, round(s, 6)) for c, s in reopened.search(query, k=5)] == before
    assert [c.chunk_id for c, _ in reopened.search(query, k=5, doc_type="code")] == filtered
    reopened.close()
    with pytest.raises(ValueError, match="64-dim"):
        VectorStore(path=path, dim=32)


def test_store_filters_and_bad_input():
    store = VectorStore(dim=2)
    chunks = [ingest.DocChunk("a.py", 0, "a", "code"), ingest.DocChunk("b.pdf", 0, "b", "pdf", page=1),
              ingest.DocChunk("c.pdf", 0, "c", "pdf", page=2)]
    store.upsert(chunks, [[1, 0], [0.9, 0.1], [0, 1]])
    assert [c.source for c, _ in store.search([1, 0], k=3, doc_type="pdf")] == ["b.pdf", "c.pdf"]
    assert [c.source for c, _ in store.search([1, 0], k=3, doc_type=["code", "pdf"])] == ["a.py", "b.pdf", "c.pdf"]
    assert store.search([1, 0], k=1, source="c.pdf")[0][0].page == 2
    assert store.delete_source("b.pdf") == 1 and store.count() == 2
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        store.search([1, 0, 0], k=1)
    with pytest.raises(ValueError, match="one 2-dim vector per chunk"):
        store.upsert(chunks, [[1, 0]])
    with pytest.raises(ValueError, match="either path"):
        VectorStore(path="x", url="http://localhost:6333")
    store.close()


def test_hybrid_retriever_ranks_and_filters(corpus_copy):
    store = VectorStore(dim=DIM)
    ingest.ingest(corpus.corpus_paths(corpus_copy), store, hash_embed, root=corpus_copy)
    retriever = hybrid.HybridRetriever(store, HashEncoder())
    hits = retriever.search("def heappush", k=5, doc_type="code", rerank=True)
    assert hits and all(h.chunk.doc_type == "code" for h in hits)
    assert all(set(h.ranks) == {"bm25", "dense"} for h in hits) and hits[0].rerank_score is not None
    lists = retriever.rankings("heappush")
    assert set(lists) == {"bm25", "dense", "hybrid", "hybrid+rerank"}
    assert sorted(lists["hybrid"]) == sorted(lists["hybrid+rerank"])   # re-ranking only re-orders
    with pytest.raises(ValueError, match="empty"):
        retriever.search("   ")
    result = hybrid.answer("What does heappush do?", retriever, k=2)
    assert result["by"] == "extractive" and "[1] (source: " in result["prompt"]
    store.close()


def test_metrics_against_hand_computed_values():
    assert evaluate.ndcg_at_k([["a", "b"]], [{"a", "b"}], 10) == 1.0
    assert evaluate.ndcg_at_k([["b", "a"]], [{"a"}], 10) == pytest.approx(1 / np.log2(3))
    assert evaluate.metrics([["a"]], [{"a"}])["recall@1"] == 1.0
    with pytest.raises(ValueError):
        evaluate.ndcg_at_k([["a"]], [set()], 10)
    queries = corpus.labelled_queries()
    chunks = [c for p in corpus.corpus_paths() for c in ingest.parse_file(p, root=corpus.CORPUS_DIR)]
    assert all(evaluate.relevant_chunks(q, chunks) for q in queries)   # every label points at a real chunk
    assert len({q["source"].rsplit(".", 1)[-1] for q in queries}) == 5    # all five formats are asked about


def test_labelled_queries_each_name_one_chunk_and_split_into_dev_and_test():
    queries = corpus.labelled_queries()
    dev, test = corpus.labelled_queries(split="dev"), corpus.labelled_queries(split="test")
    assert len(queries) >= 100 and len(dev) + len(test) == len(queries)
    assert 0.25 <= len(test) / len(queries) <= 0.4
    assert len({q["query"] for q in queries}) == len(queries)             # no question asked twice
    with pytest.raises(ValueError, match="split"):
        corpus.labelled_queries(split="train")
    kinds = lambda qs: {q["source"].split("/")[0].rsplit(".", 1)[-1] for q in qs}   # code, pdf, md, html, python_docs
    assert kinds(dev) == kinds(test) == {"code", "pdf", "md", "html", "python_docs"}
    # notebook 10's chunking (fitted to MiniLM): each label names exactly one chunk
    chunks = [c for p in corpus.corpus_paths()
              for c in ingest.parse_file(p, root=corpus.CORPUS_DIR, max_tokens=ingest.MAX_TOKENS)]
    texts = {c.chunk_id: " ".join(c.text.lower().split()) for c in chunks}
    for q in queries:
        gold = evaluate.relevant_chunks(q, chunks)
        assert len(gold) == 1, (q["contains"], sorted(gold))
        # a question in a learner's words: no run of 4 words copied from the passage that answers it
        words = " ".join(q["query"].lower().split()).split()
        passage = " " + texts[next(iter(gold))] + " "
        assert not any(" " + " ".join(words[i:i + 4]) + " " in passage for i in range(len(words) - 3)), q["query"]


def test_rrf_and_maxsim():
    fused = hybrid.reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=0)
    assert fused[0] == ("b", 1.5) and dict(fused)["c"] == 0.5
    assert hybrid.maxsim(np.eye(2), np.eye(2)) == 2.0
    with pytest.raises(ValueError):
        hybrid.reciprocal_rank_fusion("ab")


# ---------------------------------------------------------------- citations hold only the cited code
def test_module_chunks_are_contiguous_and_hold_exactly_their_lines():
    for path in (corpus.CORPUS_DIR / "code").glob("*.py"):
        code = path.read_text(encoding="utf-8")
        lines = code.splitlines()
        chunks = ingest.chunk_python(code, path.name)
        definitions = {i for c in chunks if c.section != "<module>" for i in range(c.line_start, c.line_end + 1)}
        for c in chunks:
            assert c.text == "\n".join(lines[c.line_start - 1:c.line_end]), c.citation()   # lines a-b, nothing else
            if c.section == "<module>":
                assert not definitions & set(range(c.line_start, c.line_end + 1)), c.citation()
        kept = {i for c in chunks for i in range(c.line_start, c.line_end + 1)}
        assert all(i in kept for i, line in enumerate(lines, start=1) if line.strip())     # no line is lost


# ---------------------------------------------------------------- chunks the encoder reads to the end
def test_fit_to_tokens_makes_every_corpus_chunk_fit_minilm():
    raw = [c for p in corpus.corpus_paths() for c in ingest.parse_file(p, root=corpus.CORPUS_DIR)]
    fitted = [c for p in corpus.corpus_paths()
              for c in ingest.parse_file(p, root=corpus.CORPUS_DIR, max_tokens=ingest.MAX_TOKENS)]
    assert max(ingest.minilm_tokens([c.text for c in raw])) > ingest.MAX_TOKENS     # the problem is real here
    assert max(ingest.minilm_tokens([c.text for c in fitted])) <= ingest.MAX_TOKENS
    assert len({c.chunk_id for c in fitted}) == len(fitted)                         # ids stay unique
    for source in {c.source for c in fitted}:                                       # indices 0, 1, 2, ... per file
        assert sorted(c.index for c in fitted if c.source == source) == list(range(
            sum(c.source == source for c in fitted)))
    words = lambda chunks: {w for c in chunks for w in c.text.split()}              # noqa: E731
    assert words(fitted) == words(raw)                                              # nothing is cut away
    for c in fitted:
        if c.doc_type == "code":
            lines = (corpus.CORPUS_DIR / c.source).read_text(encoding="utf-8").splitlines()
            assert c.text == "\n".join(lines[c.line_start - 1:c.line_end])


def test_fit_to_tokens_packs_by_the_given_count():
    count = lambda texts: [len(t.split()) for t in texts]                          # noqa: E731
    chunk = ingest.DocChunk("a.md", 0, " ".join(f"w{i}" for i in range(10)), "markdown", section="S")
    pieces = ingest.fit_to_tokens([chunk], limit=4, count=count, overlap=1)
    assert [p.text.split() for p in pieces][:2] == [["w0", "w1", "w2", "w3"], ["w3", "w4", "w5", "w6"]]
    assert all(len(p.text.split()) <= 4 and p.section == "S" for p in pieces)
    assert pieces[-1].text.split()[-1] == "w9"
    short = ingest.DocChunk("b.md", 3, "one two", "markdown")
    assert ingest.fit_to_tokens([short], limit=4, count=count) == [short.__class__("b.md", 0, "one two", "markdown")]


# ---------------------------------------------------------------- the encoder's disk cache
class CountingModel:
    """A stand-in for sentence-transformers' encode(output_value=None): per text a dict of token vectors, mask and
    sentence vector, all computed from the words; counts how many texts it encoded."""

    def __init__(self):
        self.encoded = 0

    def encode(self, texts, **kwargs):
        import torch
        self.encoded += len(texts)
        out = []
        for text in texts:
            vecs = torch.tensor(hash_embed(["[CLS]"] + text.split() + ["[SEP]"]))   # (T + 2, DIM)
            out.append({"attention_mask": torch.ones(len(vecs)), "token_embeddings": vecs,
                        "sentence_embedding": torch.tensor(hash_embed([text])[0])})
        return out


class BrokenModel:
    def encode(self, texts, **kwargs):
        raise AssertionError("the cache should have answered")


def test_encoder_disk_cache_is_written_read_back_and_rebuilt(tmp_path):
    texts = [f"text number {i} about heaps" for i in range(20)]
    model = CountingModel()
    first = hybrid.Encoder(model=model, model_name="counting", cache_dir=tmp_path)
    vectors = first.embed(texts)
    assert model.encoded == 20 and len(list(tmp_path.glob("rag_encoder_*.npz"))) == 1
    again = hybrid.Encoder(model=BrokenModel(), model_name="counting", cache_dir=tmp_path)
    assert np.array_equal(again.embed(texts), vectors)                              # read back, never encoded
    assert np.array_equal(again.tokens(texts[3]), first.tokens(texts[3]))
    assert again.tokens(texts[3]).shape == (5, DIM)                                 # [CLS] and [SEP] dropped
    # another model name is another file: vectors of two models are never mixed up
    other = hybrid.Encoder(model=CountingModel(), model_name="other", cache_dir=tmp_path)
    other.embed(texts)
    assert other.cache_path(texts) != first.cache_path(texts)
    # a damaged file is encoded again and rewritten
    path = first.cache_path(texts)
    path.write_bytes(b"not an npz")
    model = CountingModel()
    fixed = hybrid.Encoder(model=model, model_name="counting", cache_dir=tmp_path)
    assert np.array_equal(fixed.embed(texts), vectors) and model.encoded == 20
    assert np.array_equal(hybrid.Encoder(model=BrokenModel(), model_name="counting", cache_dir=tmp_path)
                          .embed(texts), vectors)
    # small batches stay in memory only; without a model name a custom model gets no disk cache
    small = hybrid.Encoder(model=CountingModel(), model_name="counting", cache_dir=tmp_path / "small")
    small.embed(["one question"])
    assert not (tmp_path / "small").exists()
    assert hybrid.Encoder(model=CountingModel()).cache_dir is None
    with pytest.raises(ValueError, match="model_name"):
        hybrid.Encoder(model=CountingModel(), cache_dir=tmp_path)


# ---------------------------------------------------------------- per-query metrics and paired bootstrap
def test_query_ndcg_and_per_query_metrics_match_the_table():
    assert evaluate.query_ndcg(["b", "a"], {"a"}, 10) == pytest.approx(1 / np.log2(3))
    with pytest.raises(ValueError, match="at least one relevant"):
        evaluate.query_ndcg(["a"], set(), 10)
    ranked = [["a", "b", "c"], ["x", "y", "a"], ["q"], ["b", "a"]]
    gold = [{"a"}, {"a", "y"}, {"z"}, {"a"}]
    table = evaluate.metrics(ranked, gold, ks=(1, 2))
    rows = evaluate.per_query(ranked, gold, ks=(1, 2))
    assert {name: round(float(v.mean()), 4) for name, v in rows.items()} == table
    assert rows["MRR"].tolist() == [1.0, 0.5, 0.0, 0.5]


def test_paired_bootstrap_interval():
    rng = np.random.default_rng(1)
    a = rng.random(200)
    mean, low, high = evaluate.paired_bootstrap(a + 0.1, a)                         # a constant gain: no spread
    assert mean == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)
    b = (rng.random(200) < 0.5).astype(float)
    c = (rng.random(200) < 0.5).astype(float)
    mean, low, high = evaluate.paired_bootstrap(b, c, seed=3)
    assert low < mean < high and (mean, low, high) == evaluate.paired_bootstrap(b, c, seed=3)   # reproducible
    # the interval is about mean +- 1.96 standard errors of the mean difference
    se = (b - c).std(ddof=1) / np.sqrt(len(b))
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.1)
    narrow = evaluate.paired_bootstrap(np.tile(b, 4), np.tile(c, 4), seed=3)       # 4x the queries: half as wide
    assert (narrow[2] - narrow[1]) == pytest.approx((high - low) / 2, rel=0.15)
    with pytest.raises(ValueError, match="equally long"):
        evaluate.paired_bootstrap([1, 0], [1])
    with pytest.raises(ValueError, match="level"):
        evaluate.paired_bootstrap([1, 0], [0, 1], level=95)


def test_a_label_cut_between_two_chunks_names_both_and_first_hit_scores_count_one_hit():
    parts = [ingest.DocChunk("a.py", 0, "x = 1\ndef f(", "code"), ingest.DocChunk("a.py", 1, "y):\n    pass", "code"),
             ingest.DocChunk("a.py", 2, "def f(", "code"), ingest.DocChunk("b.py", 0, "def f( y):", "code")]
    label = {"source": "a.py", "contains": "def f( y):"}
    with pytest.raises(ValueError, match="fix the label"):
        evaluate.relevant_chunks(label, parts)                        # without the rule: nothing holds it whole
    assert evaluate.relevant_chunks(label, parts, allow_cut=True) == {"a.py#0", "a.py#1"}   # #2's "def f(" is no half
    assert evaluate.relevant_chunks({"source": "b.py", "contains": "def f( y):"}, parts, allow_cut=True) == {"b.py#0"}
    with pytest.raises(ValueError):                                   # halves that are not neighbours do not count
        evaluate.relevant_chunks({"source": "a.py", "contains": "def f( def f("}, parts, allow_cut=True)
    scores = evaluate.first_hit_scores([["x", "a", "b"], ["b", "y"], ["y"] * 6 + ["a"]], [{"a", "b"}, {"b"}, {"a"}])
    assert scores["found@5"].tolist() == [1.0, 1.0, 0.0]
    assert scores["nDCG@10"] == pytest.approx([1 / np.log2(3), 1.0, 1 / np.log2(8)])   # only the first hit counts
    with pytest.raises(ValueError):
        evaluate.first_hit_scores([["a"]], [{"a"}, {"b"}])
