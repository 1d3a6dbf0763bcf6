"""Every exercise of notebook 10: right answer passes, stub is 'not attempted', typical mistakes are named."""
import ast
import math

import pytest

from check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils.checks import ch10
from utils.rag import evaluate, hybrid, ingest


# ---------------------------------------------------------------- 10.1 code chunker
def _chunker(walk=False, decorators="first", async_too=True, shift=0, end_at_next=False, drop_last=False):
    def code_chunks(code):
        tree = ast.parse(code)
        kinds = (ast.FunctionDef, ast.ClassDef) + ((ast.AsyncFunctionDef,) if async_too else ())
        nodes = [n for n in (ast.walk(tree) if walk else tree.body) if isinstance(n, kinds)]
        nodes.sort(key=lambda n: n.lineno)
        out = []
        for i, n in enumerate(nodes[:-1] if drop_last else nodes):
            lines = [d.lineno for d in n.decorator_list]
            start = {"first": min([n.lineno] + lines), "none": n.lineno,
                     "last": max(lines) if lines else n.lineno,          # the decorator right above the def
                     "count": n.lineno - len(lines)}[decorators]          # one line per decorator, assumed
            end = n.end_lineno
            if end_at_next and i + 1 < len(nodes):
                end = nodes[i + 1].lineno - 1
            out.append((n.name, start - shift, end - shift))
        return out
    return code_chunks


def test_code_chunks():
    assert_passes(ch10.code_chunks, _chunker())
    assert_passes(ch10.code_chunks, lambda code: [(c.section, c.line_start, c.line_end)
                                                  for c in ingest.chunk_python(code) if c.section != "<module>"])
    assert_not_attempted(ch10.code_chunks, stub_function)
    assert_rejects(ch10.code_chunks, _chunker(walk=True), match="nested")
    assert_rejects(ch10.code_chunks, _chunker(decorators="none"), match="decorators \\(lines 6-9\\) belong")
    assert_rejects(ch10.code_chunks, _chunker(decorators="last"), match="LAST decorator")
    assert_rejects(ch10.code_chunks, _chunker(decorators="count"), match="spans three lines")
    assert_rejects(ch10.code_chunks, _chunker(async_too=False), match="async def")
    assert_rejects(ch10.code_chunks, _chunker(drop_last=True), match="last definition \\(fourth\\) is missing")
    assert_rejects(ch10.code_chunks, _chunker(shift=1), match="1-based")
    assert_rejects(ch10.code_chunks, _chunker(end_at_next=True), match="end_lineno")
    assert_rejects(ch10.code_chunks, lambda code: [ast.get_source_segment(code, n) for n in ast.parse(code).body
                                                   if isinstance(n, ast.FunctionDef)], match="tuples")
    assert_rejects(ch10.code_chunks, lambda code: None, match="return")


def test_code_chunks_takes_the_first_of_stacked_multi_line_decorators():
    """The check's code has two stacked decorators, the second over three lines, so the three usual shortcuts for
    the first line (the def's line, the last decorator's line, lineno - len(decorator_list)) all give another line."""
    tree = ast.parse(ch10._CODE)
    first = next(n for n in tree.body if getattr(n, "name", "") == "first")
    starts = {min(d.lineno for d in first.decorator_list), max(d.lineno for d in first.decorator_list),
              first.lineno, first.lineno - len(first.decorator_list)}
    assert len(starts) == 4 and ("first", min(starts), first.end_lineno) in ch10._CODE_WANT


# ---------------------------------------------------------------- 10.2 RRF
def _rrf(start=1, use_k=True, reverse=False, both_only=False, ids_only=False, reciprocal=True):
    def fuse(rankings, k):
        scores = {}
        for ranking in rankings:
            for rank, doc in enumerate(ranking, start=start):
                value = 1 / ((k if use_k else 0) + rank) if reciprocal else k + rank
                scores[doc] = scores.get(doc, 0.0) + value
        if both_only:
            scores = {d: s for d, s in scores.items() if all(d in r for r in rankings)}
        out = sorted(scores.items(), key=lambda item: item[1], reverse=not reverse)
        return [d for d, _ in out] if ids_only else out
    return fuse


def test_reciprocal_rank_fusion():
    assert_passes(ch10.reciprocal_rank_fusion, _rrf())
    assert_passes(ch10.reciprocal_rank_fusion, hybrid.reciprocal_rank_fusion)
    assert_not_attempted(ch10.reciprocal_rank_fusion, stub_function)
    assert_rejects(ch10.reciprocal_rank_fusion, _rrf(start=0), match="ranks start at 1")
    assert_rejects(ch10.reciprocal_rank_fusion, _rrf(use_k=False), match="forgot the constant k")
    assert_rejects(ch10.reciprocal_rank_fusion, _rrf(reverse=True), match="reversed")
    assert_rejects(ch10.reciprocal_rank_fusion, _rrf(both_only=True), match="BOTH")
    assert_rejects(ch10.reciprocal_rank_fusion, _rrf(ids_only=True), match="PAIRS")
    assert_rejects(ch10.reciprocal_rank_fusion, _rrf(reciprocal=False), match="RECIPROCALS")
    assert_rejects(ch10.reciprocal_rank_fusion, lambda r, k: _rrf()(r, 60), match="use the k")


# ---------------------------------------------------------------- 10.3 nDCG
def _ndcg(**mistake):
    return lambda ranked, relevant, k: ch10._ndcg_variant(ranked, relevant, k, **mistake)


def _ndcg_right(ranked, relevant, k):
    if not relevant:
        raise ValueError("a query needs at least one relevant id")
    return ch10._ndcg_variant(ranked, relevant, k)


def test_ndcg_at_k():
    assert_passes(ch10.ndcg_at_k, _ndcg_right)
    assert_passes(ch10.ndcg_at_k, evaluate.query_ndcg)
    assert_passes(ch10.ndcg_at_k, lambda r, rel, k: evaluate.ndcg_at_k([r], [rel], k))
    assert_not_attempted(ch10.ndcg_at_k, stub_function)
    assert_rejects(ch10.ndcg_at_k, _ndcg(normalise=False), match="DCG, not nDCG")
    assert_passes(ch10.ndcg_at_k, lambda r, rel, k: _ndcg_right(r, rel, k) if not rel else ch10._ndcg_variant(
        r, rel, k, log=math.log))  # the base cancels in the ratio: any base is right
    assert_rejects(ch10.ndcg_at_k, _ndcg(shift=2), match="off by one")
    assert_rejects(ch10.ndcg_at_k, _ndcg(shift=0), match="log2\\(rank \\+ 1\\)")
    assert_rejects(ch10.ndcg_at_k, _ndcg(ideal="found"), match="ALL relevant")
    assert_rejects(ch10.ndcg_at_k, _ndcg(ideal="uncapped"), match="at most k")
    assert_rejects(ch10.ndcg_at_k, lambda r, rel, k: ch10._ndcg_variant(r, rel, 100), match="only the first 2")
    assert_rejects(ch10.ndcg_at_k, _ndcg(), match="empty relevant set divides by zero")
    assert_rejects(ch10.ndcg_at_k, _ndcg_or(0.0), match="returned 0.0.*raise ValueError")


def _ndcg_or(value):
    """The right nDCG, but a fixed value for an empty relevant set instead of an error."""
    return lambda ranked, relevant, k: ch10._ndcg_variant(ranked, relevant, k) if relevant else value


# ---------------------------------------------------------------- 10.4 filtered search
def _search(filtered=True, post_filter=False, key="doc_type", payloads=True, ascending=False, value=None, k=None):
    def search(client, collection, vector, doc_type, k_given):
        from qdrant_client import models
        k_used = k_given if k is None else k
        flt = models.Filter(must=[models.FieldCondition(key=key, match=models.MatchValue(
            value=doc_type if value is None else value))])
        hits = client.query_points(collection, query=vector, limit=k_used,
                                   query_filter=flt if filtered and not post_filter else None).points
        if post_filter:
            hits = [h for h in hits if h.payload["doc_type"] == doc_type]
        if ascending:
            hits = hits[::-1]
        return [h.payload for h in hits] if payloads else hits
    return search


def test_filtered_search():
    assert_passes(ch10.filtered_search, _search())
    assert_not_attempted(ch10.filtered_search, stub_function)
    assert_rejects(ch10.filtered_search, _search(filtered=False), match="query_filter")
    assert_rejects(ch10.filtered_search, _search(post_filter=True), match="only 1 result.*AFTER")
    assert_rejects(ch10.filtered_search, _search(key="type"), match="no result at all.*'doc_type'")
    assert_rejects(ch10.filtered_search, _search(value="code"), match="fixed 'code'")
    assert_rejects(ch10.filtered_search, _search(k=3), match="use the k and doc_type")
    assert_rejects(ch10.filtered_search, _search(payloads=False), match="payload")
    assert_rejects(ch10.filtered_search, _search(ascending=True), match="wrong order")


# ---------------------------------------------------------------- 10.5 cited prompt
def _prompt(start=1, cite=True, question_first=False, only=True, reverse=False, same_number=False):
    def build(question, chunks):
        chunks = list(chunks)[::-1] if reverse else chunks
        head = ["Answer using " + ("only " if only else "") + "the sources below and cite them as [1], [2], ..."]
        body = [f"[{start if same_number else i}] ({c.citation() if cite else c.source}) {c.text}"
                for i, c in enumerate(chunks, start=start)]
        q = [f"Question: {question}"]
        return "\n".join(q + head + body if question_first else head + body + q)
    return build


def test_cited_prompt():
    assert_passes(ch10.cited_prompt, _prompt())
    assert_passes(ch10.cited_prompt, hybrid.cited_prompt)
    assert_not_attempted(ch10.cited_prompt, stub_function)
    assert_rejects(ch10.cited_prompt, _prompt(start=0), match="numbered from \\[0\\]")
    assert_rejects(ch10.cited_prompt, _prompt(same_number=True), match="every source is marked \\[1\\]")
    assert_rejects(ch10.cited_prompt, _prompt(cite=False), match="citation\\(\\)")
    assert_rejects(ch10.cited_prompt, _prompt(question_first=True), match="AFTER")
    assert_rejects(ch10.cited_prompt, _prompt(only=False), match="ONLY")
    assert_rejects(ch10.cited_prompt, _prompt(reverse=True), match="ranked order")
    assert_rejects(ch10.cited_prompt, lambda q, c: None, match="return")


# ---------------------------------------------------------------- 10.6 quiz
def test_quiz_fusion():
    assert_passes(ch10.quiz_fusion, "b")
    assert_not_attempted(ch10.quiz_fusion, ...)
    for wrong in "acd":
        assert_rejects(ch10.quiz_fusion, wrong, match="not right")
    assert_rejects(ch10.quiz_fusion, "e", match="one letter")


# ---------------------------------------------------------------- the check never trusts what fn did to its input
def rrf_without_e(rankings, k):
    """Loses 'e' (found by the second retriever only) by overwriting it in the caller's lists, then fuses what is
    left: a check that computed its expected fusion from those lists after the call would agree with it."""
    if len(rankings) > 1:
        rankings[1][0] = rankings[1][1]
    return _rrf()(rankings, k)


def ndcg_without_the_first_hit(ranked, relevant, k):
    """Removes a relevant hit from the caller's list, then scores what is left: a check that scored that same list
    after the call would agree with it."""
    if len(ranked) > 3:
        ranked.pop(1)
    return ch10._ndcg_variant(ranked, relevant, k)


def cites_the_first_chunk_only(question, chunks):
    """Drops every source but the first, from the caller's list too, so a check that read the list back after the
    call would find the prompt complete."""
    del chunks[1:]
    return _prompt()(question, chunks)


@pytest.mark.parametrize("check, fn, match", [
    (ch10.reciprocal_rank_fusion, rrf_without_e, "changed its input `rankings` in place"),
    (ch10.ndcg_at_k, ndcg_without_the_first_hit, "changed its input `ranked` in place"),
    (ch10.cited_prompt, cites_the_first_chunk_only, "changed its input `chunks` in place"),
])
def test_checks_of_10_reject_functions_that_change_their_inputs(check, fn, match):
    assert_rejects(check, fn, match=match)
