"""Checks for notebook 10 (RAG in practice: formats, a vector database, hybrid search, evaluation, citations).

Exercises in notebook order: 10.1 code chunker, 10.2 filtered query, 10.3 reciprocal rank fusion, 10.4 nDCG@k,
10.5 quiz (when fusion hurts), 10.6 prompt with numbered citations.
"""
from __future__ import annotations

import math
import re

from utils.checks import CheckFailed, call_on_copies, exercise, expect, expect_unchanged, quiz
from utils.checks.values import returned, scalar

# ---------------------------------------------------------------------------------------------------------------
# 10.1 code chunker

_CODE = '''import math

RATE = 3


@cache
@register(
    "first",
)
def first(x):
    def inner():
        return x
    return inner


async def second():
    pass


class Third:
    def method(self):
        return 1


def fourth():
    return RATE
'''
#: the right answer for _CODE: (name, first line, last line), 1-based, decorators included, only top-level
_CODE_WANT = [("first", 6, 13), ("second", 16, 17), ("Third", 20, 22), ("fourth", 25, 26)]


@exercise("10.1", "Split Python code at function and class boundaries")
def code_chunks(fn):
    """``fn(code)`` -> list of (name, first_line, last_line) for every top-level def / async def / class."""
    got = fn(_CODE)
    returned(got, "code_chunks")
    expect(isinstance(got, list), f"return a list of (name, first_line, last_line) tuples, got {type(got).__name__}")
    if got and isinstance(got[0], str):
        raise CheckFailed("return (name, first_line, last_line) tuples, not strings of code")
    try:
        got = [(str(n), int(a), int(b)) for n, a, b in got]
    except (TypeError, ValueError):
        raise CheckFailed("every item should be a (name, first_line, last_line) tuple of a string and two ints") \
            from None
    names = [n for n, _, _ in got]
    if "inner" in names or "method" in names:
        raise CheckFailed("you included nested definitions (inner, method): they belong to their parent's chunk - "
                          "loop over tree.body (top level), not ast.walk")
    if "second" not in names and "fourth" in names:
        raise CheckFailed("second is missing: an `async def` is an ast.AsyncFunctionDef, a function too")
    if names == ["first", "second", "Third"]:
        raise CheckFailed("the last definition (fourth) is missing: your loop stops one node early - visit every "
                          "node of tree.body")
    if got == [(n, a - 1, b - 1) for n, a, b in _CODE_WANT]:
        raise CheckFailed("off by one: ast line numbers are already 1-based (lineno, end_lineno) - do not subtract 1")
    first = dict((n, (a, b)) for n, a, b in got).get("first")
    if first is not None and first[0] != 6:
        why = {10: "its decorators (lines 6-9) belong to it: start at the first decorator's lineno",
               7: "line 7 is its LAST decorator; @cache on line 6 comes first: take the smallest lineno of the "
                  "decorators",
               8: "line 8 is the def line minus the number of decorators, but the decorator @register(...) spans "
                  "three lines: take the decorators' own lineno (the smallest one)"}
        raise CheckFailed(f"first starts at line {first[0]} in your answer; "
                          + why.get(first[0], "it starts at its first decorator, @cache on line 6 (the smallest "
                                              "lineno of the node and its decorator_list)"))
    if first is not None and first[1] > 13:
        raise CheckFailed("first ends after its last line: use node.end_lineno, not the start of the next "
                          "definition (blank lines between definitions belong to no chunk)")
    expect(names == ["first", "second", "Third", "fourth"],
           f"expected the top-level names first, second, Third, fourth in order, got {names}")
    expect(got == _CODE_WANT, f"expected {_CODE_WANT}, got {got}")
    expect(fn("x = 1\n") == [], "code without any def or class should give an empty list")
    return ("decorators belong to their function and nested definitions to their parent, so each chunk is a whole "
            "unit a reader can open at the cited lines")


# ---------------------------------------------------------------------------------------------------------------
# 10.2 metadata-filtered query

#: (name, doc_type, vector): nearest [1, 0, 0] overall are prose-1, prose-2, code-near, prose-3, ...
_TOY_ROWS = [("prose-1", "pdf", [1.0, 0.0, 0.0]), ("prose-2", "markdown", [0.99, 0.1, 0.0]),
             ("code-near", "code", [0.95, 0.3, 0.0]), ("prose-3", "text", [0.9, 0.4, 0.1]),
             ("prose-4", "pdf", [0.8, 0.6, 0.0]), ("code-mid", "code", [0.6, 0.8, 0.0]),
             ("code-far", "code", [0.0, 0.2, 1.0]), ("prose-5", "html", [0.1, 1.0, 0.0])]


def _toy_collection():
    """An in-memory Qdrant collection where the 3 vectors nearest the query hold only ONE point of type 'code'."""
    from qdrant_client import QdrantClient, models

    client = QdrantClient(location=":memory:")
    client.create_collection("toy", vectors_config=models.VectorParams(size=3, distance=models.Distance.COSINE))
    client.upsert("toy", points=[models.PointStruct(id=i, vector=v, payload={"name": n, "doc_type": t})
                                 for i, (n, t, v) in enumerate(_TOY_ROWS)])
    return client


@exercise("10.2", "A metadata-filtered query")
def filtered_search(fn):
    """``fn(client, collection, vector, doc_type, k)`` -> payload dicts of the k best points of that type."""
    client = _toy_collection()
    try:
        got = fn(client, "toy", [1.0, 0.0, 0.0], "code", 3)
        returned(got, "filtered_search")
        other = fn(client, "toy", [0.0, 1.0, 0.0], "pdf", 1)
    finally:
        client.close()
    expect(isinstance(got, list), f"return a list of payload dicts, got {type(got).__name__}")
    if got and not isinstance(got[0], dict):
        raise CheckFailed(f"return the hits' payloads (hit.payload, a dict), not {type(got[0]).__name__}")
    names = [p.get("name") for p in got]
    types = [p.get("doc_type") for p in got]
    if any(t != "code" for t in types):
        raise CheckFailed(f"results of other types came back ({', '.join(sorted(set(types) - {'code'}))}): pass a "
                          "query_filter with a FieldCondition on key 'doc_type'")
    if not got:
        raise CheckFailed("no result at all for k=3: the filter matched no point - the payload field is called "
                          "'doc_type' (FieldCondition(key='doc_type', ...)) and its value is the doc_type argument")
    if names == ["code-near"]:
        raise CheckFailed("only 1 result for k=3: you took the top k of ALL points and filtered them afterwards; "
                          "filter inside the query (query_filter=...) so k results of that type come back")
    expect(len(got) == 3, f"k=3 should give 3 results, got {len(got)}")
    if names == ["code-far", "code-mid", "code-near"]:
        raise CheckFailed("the right points in the wrong order: best (highest cosine) first")
    expect(names == ["code-near", "code-mid", "code-far"],
           f"the three code points nearest [1, 0, 0] are code-near, code-mid, code-far; got {names}")
    other_names = [p.get("name") for p in other] if isinstance(other, list) else other
    if other_names == ["code-mid"] or other_names == ["code-near"]:
        raise CheckFailed("asked for doc_type='pdf' you returned code: use the doc_type argument in MatchValue, "
                          "not a fixed 'code'")
    expect(other_names == ["prose-4"], f"for doc_type='pdf', k=1 and the query [0, 1, 0] the answer is the pdf "
                                       f"point prose-4; got {other_names} - use the k and doc_type you are given")
    return ("a filter inside the search returns k results of the type asked for; filtering the top k afterwards "
            "can return fewer, or none")


# ---------------------------------------------------------------------------------------------------------------
# 10.3 reciprocal rank fusion

@exercise("10.3", "Reciprocal rank fusion")
def reciprocal_rank_fusion(fn):
    """``fn(rankings, k)`` -> list of (id, fused score), best first; score = sum of 1 / (k + rank), rank from 1."""
    from utils.rag.hybrid import reciprocal_rank_fusion as reference

    rankings = [["a", "b", "c", "d"], ["e", "c", "a"]]
    want = reference(rankings, 60)
    got, (rankings_after, _) = call_on_copies(fn, rankings, 60)        # rankings itself never reaches fn
    returned(got, "reciprocal_rank_fusion")
    expect_unchanged(rankings, rankings_after, "rankings", "read the ranked lists, collect the scores in a new dict")
    expect(isinstance(got, list), f"return a list of (id, score) pairs, got {type(got).__name__}")
    if got and not isinstance(got[0], (tuple, list)):
        raise CheckFailed("return (id, score) PAIRS, best first, not only the ids")
    try:
        got = [(d, float(s)) for d, s in got]
    except (TypeError, ValueError):
        raise CheckFailed("every item should be an (id, score) pair with a numeric score") from None
    ids = [d for d, _ in got]
    if sorted(ids) == ["a", "c"]:
        raise CheckFailed("only ids found by BOTH retrievers survived: an id in one list still gets 1 / (k + rank) "
                          "from that list")
    expect(sorted(ids) == sorted(d for d, _ in want), f"every id of every list should appear once, got {ids}")
    scores = dict(got)
    if math.isclose(scores["b"], 1 / 61, rel_tol=1e-6):
        raise CheckFailed("ranks start at 1 (the best result has rank 1): b is second, so it scores 1 / (60 + 2)")
    if math.isclose(scores["b"], 1 / 2, rel_tol=1e-6):
        raise CheckFailed("b scored 1/2: you used 1 / rank and forgot the constant k (1 / (k + rank))")
    if math.isclose(scores["b"], 2, rel_tol=1e-6) or math.isclose(scores["b"], 62, rel_tol=1e-6):
        raise CheckFailed("scores should be RECIPROCALS 1 / (k + rank), not ranks")
    expect(math.isclose(scores["b"], 1 / 62, rel_tol=1e-6), f"b is 2nd in one list only: 1 / 62, got {scores['b']:.6g}")
    expect(math.isclose(scores["a"], 1 / 61 + 1 / 63, rel_tol=1e-6),
           f"a is 1st and 3rd: 1/61 + 1/63 = {1 / 61 + 1 / 63:.6g}, got {scores['a']:.6g}")
    if ids == [d for d, _ in reversed(want)]:
        raise CheckFailed("the order is reversed: the HIGHEST fused score comes first")
    expect(ids == [d for d, _ in want], f"sort by fused score, best first: expected {[d for d, _ in want]}, got {ids}")
    small = dict((d, float(s)) for d, s in fn([["x", "y"]], 0))
    expect(math.isclose(small["x"], 1.0) and math.isclose(small["y"], 0.5),
           "with k=0 the scores are 1/1 and 1/2: use the k you are given")
    return ("only ranks enter the fusion, so BM25's unbounded scores and cosines never have to share a scale; "
            "k = 60 keeps one list's top rank from deciding alone")


# ---------------------------------------------------------------------------------------------------------------
# 10.4 nDCG@k

def _ndcg_variant(ranked, relevant, k, shift=1, log=math.log2, ideal="all", normalise=True):
    """The typical mistakes of nDCG (the right answer is :func:`utils.rag.evaluate.query_ndcg`): ``shift`` in 1 / log(rank + shift), the log base, which relevant ids the
    ideal list holds ("all" = the right answer, "found" = only those retrieved, "uncapped" = ignores k)."""
    dcg = sum(1 / log(i + shift) for i, d in enumerate(ranked[:k], start=1) if d in relevant)
    n_ideal = {"all": min(len(relevant), k), "found": len(set(ranked[:k]) & set(relevant)),
               "uncapped": len(relevant)}[ideal]
    best = sum(1 / log(i + shift) for i in range(1, n_ideal + 1))
    return dcg / best if normalise else dcg


@exercise("10.4", "nDCG@k")
def ndcg_at_k(fn):
    """``fn(ranked, relevant, k)`` for ONE query: DCG of the first k results / the best possible DCG; ValueError
    for an empty relevant set."""
    from utils.rag.evaluate import query_ndcg

    ranked, relevant = ["x", "a", "y", "b", "z"], {"a", "b", "c"}
    want = query_ndcg(ranked, relevant, 10)
    try:                                                   # ranked and relevant themselves never reach fn
        got, (ranked_after, relevant_after, _) = call_on_copies(fn, ranked, relevant, 10)
    except ZeroDivisionError:
        raise CheckFailed("division by zero: with ranks from 1 the discount is 1 / log2(rank + 1); log2(1) = 0") \
            from None
    returned(got, "ndcg_at_k")
    expect_unchanged(ranked, ranked_after, "ranked")
    expect_unchanged(relevant, relevant_after, "relevant")
    got = scalar(got, "ndcg_at_k", many="return one number, got {kind}")
    if math.isinf(got) or math.isnan(got):
        raise CheckFailed("got an infinite or NaN score: with ranks from 1 the discount is 1 / log2(rank + 1)")
    if math.isclose(got, _ndcg_variant(ranked, relevant, 10, normalise=False), rel_tol=1e-6):
        raise CheckFailed("that is DCG, not nDCG: divide by the ideal DCG (all relevant results ranked first)")
    if math.isclose(got, _ndcg_variant(ranked, relevant, 10, shift=2), rel_tol=1e-6):
        raise CheckFailed("off by one: the first result has rank 1 and discount 1 / log2(1 + 1) = 1; you shifted "
                          "the ranks twice")
    if math.isclose(got, _ndcg_variant(ranked, relevant, 10, ideal="found"), rel_tol=1e-6):
        raise CheckFailed("the ideal DCG should count ALL relevant ids (up to k), not only those you retrieved")
    expect(math.isclose(got, want, rel_tol=1e-6), f"nDCG@10 should be {want:.4f}, got {got:.4f}")
    cut = scalar(fn(["x", "y", "a"], {"a"}, 2), "ndcg_at_k")
    expect(cut == 0.0, f"with k=2 only the first 2 results count: 'a' at rank 3 should give 0, got {cut:.4g}")
    capped = scalar(fn(["a", "b"], {"a", "b", "c"}, 2), "ndcg_at_k")
    if math.isclose(capped, _ndcg_variant(["a", "b"], {"a", "b", "c"}, 2, ideal="uncapped"), rel_tol=1e-6):
        raise CheckFailed("the ideal list has at most k entries: with k=2 and 3 relevant ids, IDCG uses 2 of them")
    expect(math.isclose(capped, 1.0), f"the first k results all relevant should give 1.0, got {capped:.4g}")
    try:
        empty = fn(["a", "b"], set(), 10)
    except ValueError:
        empty = ValueError
    except ZeroDivisionError:
        raise CheckFailed("an empty relevant set divides by zero (the ideal DCG is 0): raise ValueError with a "
                          "one-line message instead") from None
    if empty is not ValueError:
        raise CheckFailed(f"with an empty relevant set you returned {empty!r}: a query with nothing relevant "
                          "cannot be scored (a 0 would count it as a miss) - raise ValueError")
    return ("nDCG rewards every relevant result by its position and divides by the best possible order, so 1.0 "
            "means nothing relevant could be ranked higher")


# ---------------------------------------------------------------------------------------------------------------
# 10.5 quiz

# b: RRF gives both retrievers an equal vote; a much weaker one drags good dense ranks down.
quiz_fusion = quiz(
    "10.5", "Quiz: when does fusion hurt?",
    correct="b", options="abcd",
    why_wrong={
        "a": "RRF never looks at the scores, only at ranks, so their scales cannot matter",
        "c": "both retrievers saw exactly the same 1,000 definitions and the same 300 queries: the comparison is "
             "fair, which is why the drop is real",
        "d": "the store's dense search is exact in local mode (the same ranking as numpy in notebook 07)",
    },
    explanation="reciprocal rank fusion gives every list an equal vote; when one retriever is much weaker "
                "(BM25 on paraphrases: most queries share no word with their definition) its noise pushes "
                "the dense hits down - measure before fusing, or weight the lists")


# ---------------------------------------------------------------------------------------------------------------
# 10.6 prompt with numbered citations

class _Chunk:
    def __init__(self, text, citation):
        self.text, self._citation = text, citation
        self.source = citation.split(",")[0]

    def citation(self):
        return self._citation


@exercise("10.6", "A prompt with numbered citations")
def cited_prompt(fn):
    """``fn(question, chunks)``: instruction ('only', 'cite'), '[i] (citation) text' per chunk, question last."""
    question = "Why normalise embeddings when storing them?"
    chunks = [_Chunk("For unit vectors cosine similarity equals the dot product.", "notes.pdf, page 7"),
              _Chunk("def normalize(X): return X / norms", "code/vec.py, lines 10-12 (normalize)"),
              _Chunk("Normalising once saves work at query time.", "guide.md, section 'Storage'")]
    got, (_, chunks_after) = call_on_copies(fn, question, chunks)      # chunks itself never reaches fn
    returned(got, "cited_prompt")
    expect_unchanged(chunks, chunks_after, "chunks", "read each chunk's text and citation, write them into a new "
                                                     "string")
    expect(isinstance(got, str), f"the prompt should be one string, got {type(got).__name__}")
    expect(question in got, "the question is missing from the prompt")
    missing = [c.text for c in chunks if c.text not in got]
    expect(not missing, f"chunk text missing from the prompt: {missing[0]!r}" if missing else "")
    lines = {c.text: next(ln for ln in got.splitlines() if c.text in ln) for c in chunks}
    positions = [got.index(c.text) for c in chunks]
    expect(positions == sorted(positions), "keep the ranked order: the best chunk first, as [1]")
    marks = [re.findall(r"\[(\d+)\]", lines[c.text]) for c in chunks]
    if marks[0] and "0" in marks[0] and "1" not in marks[0]:
        raise CheckFailed("sources are numbered from [0]: citations start at [1]")
    if all(m == marks[0] for m in marks) and marks[0]:
        raise CheckFailed(f"every source is marked [{marks[0][0]}]: number them in order, [1], [2], [3] "
                          "(enumerate(chunks, start=1))")
    for i, c in enumerate(chunks, start=1):
        line = lines[c.text]
        expect(f"[{i}]" in line, f"chunk {i} should be marked [{i}] on its line")
        if c.citation() not in line and c.source in line:
            raise CheckFailed(f"line [{i}] names only the file {c.source!r}: use chunk.citation() so the reader gets "
                              "the page / section / lines too")
        expect(c.citation() in line, f"line [{i}] should show its citation {c.citation()!r}")
    expect(got.index(question) > positions[-1], "put the question AFTER the sources")
    expect(re.search(r"\bonly\b", got, re.I) is not None,
           "tell the model to answer using ONLY the sources (the word 'only' is missing)")
    expect(re.search(r"\bcite", got, re.I) is not None,
           "ask the model to cite the sources by number (the word 'cite' is missing)")
    return ("numbered sources with their citations let a reader check each claim of the answer at its page, "
            "section or lines")
