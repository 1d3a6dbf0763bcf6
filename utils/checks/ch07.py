"""Checks for notebook 07 (retrieval-augmented generation: chunk, embed, index, retrieve, evaluate)."""
from __future__ import annotations

import functools
import re

import numpy as np

from utils import vectors
from utils.checks import CheckFailed, call_on_copies, exercise, expect, expect_unchanged, quiz
from utils.checks.values import as_indices, returned, scalar


def _words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


@exercise("7.1", "Chunk a text with overlap")
def chunk_words(fn):
    """``fn(text, size, overlap)`` -> list of strings: windows of ``size`` words sharing ``overlap`` words."""
    got = fn(_words(11), 4, 1)
    returned(got, "chunk_words")
    expect(isinstance(got, list), f"return a list of strings, got {type(got).__name__}")
    if got and isinstance(got[0], (list, tuple)):
        raise CheckFailed("each chunk should be ONE string (join the words with spaces), not a list of words")
    expect(all(isinstance(c, str) for c in got), "every chunk should be a string")
    want = ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9", "w9 w10"]
    if got == ["w0 w1 w2 w3", "w4 w5 w6 w7", "w8 w9 w10"]:
        raise CheckFailed("consecutive chunks share no words: each window should start `overlap` words before "
                          "the previous one ended (step = size - overlap)")
    if len(got) > 1 and got[1].split()[:1] == ["w1"]:
        raise CheckFailed("the second chunk starts at w1: the window should move by size - overlap = 3 words, "
                          "not by overlap")
    if got == want[:3]:
        raise CheckFailed("the last word (w10) is missing: a shorter final chunk must keep the tail of the text")
    expect(" ".join(got).split()[-1] == "w10", "the text should end up in the chunks: the last word w10 is missing")
    expect(got == want, f"11 words, size 4, overlap 1 should give {want}, got {got}")
    tail = fn(_words(10), 4, 1)
    if tail == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9", "w9"]:
        raise CheckFailed("with 10 words you emit a last chunk 'w9' that only repeats the overlap: stop once a "
                          "window reaches the end of the text")
    expect(tail == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"],
           f"10 words, size 4, overlap 1 should give 3 chunks, got {tail}")
    expect(fn(_words(5), 3, 0) == ["w0 w1 w2", "w3 w4"],
           "overlap 0 should cut 'w0 w1 w2 w3 w4' into 'w0 w1 w2', 'w3 w4'")
    expect(fn("   ", 3, 1) == [], "an empty text should give an empty list of chunks")


@exercise("7.2", "Cosine top-k over a matrix")
def top_k_cosine(fn):
    """``fn(query, matrix, k)`` -> indices of the k rows most similar (cosine) to ``query``, best first."""
    query = np.array([1.0, 0.0])
    matrix = np.array([[10.0, 10.0],   # long, 45 degrees away: wins by dot product
                       [0.9, 0.1],     # nearly the same direction: cosine 0.994
                       [0.0, 1.0],     # orthogonal: cosine 0
                       [1.0, 0.5]])    # cosine 0.894
    got = fn(query, matrix, 2)
    returned(got, "top_k_cosine")
    got = as_indices(got)
    if got == [0, 3] or got == [0, 1]:
        raise CheckFailed("row 0 is long but points 45 degrees away: you ranked by dot product; divide by the norms "
                          "(of the rows too) to get cosines")
    if got == [2, 0] or got == [2, 3] or got == [2]:
        raise CheckFailed("you returned the LEAST similar rows: sort by descending score (best first)")
    if got == [3, 1]:
        raise CheckFailed("the right rows in the wrong order: the best match (row 1) comes first")
    expect(len(got) == 2, f"k=2 should give 2 indices, got {len(got)}")
    expect(got == [1, 3], f"the two rows closest in direction to [1, 0] are [1, 3], got {got}")
    rng = np.random.default_rng(7)
    M = rng.normal(size=(50, 8))
    q = rng.normal(size=8)
    want = vectors.top_k(q, M, k=5)[0].tolist()   # the reference ranking
    got5 = as_indices(fn(q, M, 5))
    if sorted(got5) == sorted(want) and got5 != want:
        raise CheckFailed("on a random (50, 8) matrix you found the right 5 rows but not best first: np.argpartition "
                          "does not sort its k winners - sort them by score, highest first")
    expect(got5 == want, "works on the small example only? on a random (50, 8) matrix the top 5 "
                         "differ from the cosine ranking")


def _ranked_example():
    """Five queries whose gold document sits at positions 1, 1, 2, 3 and nowhere (in the top 3)."""
    ranked = [[2, 4, 7], [1, 0, 3], [4, 2, 7], [5, 6, 9], [8, 2, 0]]
    gold = [2, 1, 2, 9, 3]
    return ranked, gold


#: recall@k and MRR are one number, the mean over the queries
_mean = functools.partial(scalar, many="{name} should return ONE number averaged over the queries, not one per query")


@exercise("7.3", "recall@k")
def recall_at_k(fn):
    """``fn(ranked, gold, k)``: the share of queries whose gold document is among their first k results."""
    ranked, gold = _ranked_example()
    got = _mean(fn(ranked, gold, 2), "recall_at_k")
    by_k = [_mean(fn(ranked, gold, k), "recall_at_k") for k in (1, 3)]
    if np.isclose(by_k[0], got) and np.isclose(by_k[1], got):
        raise CheckFailed(f"your result is {got:.4g} for k = 1, 2 and 3 alike: k is ignored - look only at the first k "
                          "ids of each list, ranked[i][:k]")
    if np.isclose(got, 3):
        raise CheckFailed("you returned the number of hits (3): divide by the number of queries to get a fraction")
    if np.isclose(got, 0.3):
        raise CheckFailed("0.3: you divided by k as well (that is precision@k); recall@k divides the hits by the "
                          "number of queries only")
    if np.isclose(got, 0.2):
        raise CheckFailed("0.2: you only count a hit when the gold document is exactly AT position k; it may be "
                          "anywhere in the first k")
    if np.isclose(got, 0.8):
        raise CheckFailed("0.8: you looked at k + 1 results; ranked[i][:k] holds the first k")
    if np.isclose(got, 0.4):
        raise CheckFailed("0.4: you looked at k - 1 results; ranked[i][:k] holds the first k")
    expect(np.isclose(got, 0.6), f"with k=2, 3 of the 5 queries find their document: recall@2 = 0.6, got {got:.4g}")
    expect(np.isclose(_mean(fn(ranked, gold, 3), "recall_at_k"), 0.8), "recall@3 should be 0.8 (4 of 5 queries)")
    expect(np.isclose(_mean(fn(ranked, gold, 1), "recall_at_k"), 0.4), "recall@1 should be 0.4 (2 of 5 queries)")


@exercise("7.4", "Mean reciprocal rank")
def mrr(fn):
    """``fn(ranked, gold)``: average of 1 / (1-based position of the gold document), 0 for a query that missed it."""
    ranked, gold = _ranked_example()  # positions 1, 1, 2, 3, missing
    found = 1 + 1 + 1 / 2 + 1 / 3
    try:
        got = _mean(fn(ranked, gold), "mrr")
    except ZeroDivisionError:
        raise CheckFailed("division by zero: positions are 0-based in Python, ranks start at 1 - use 1 / (index + 1)") \
            from None
    if np.isclose(got, found):
        raise CheckFailed("you summed the reciprocal ranks: divide by the number of queries (5) to get the mean")
    if np.isclose(got, found / 4):
        raise CheckFailed("you averaged over the 4 queries that found their document; a miss scores 0 and still "
                          "counts in the average")
    if np.isclose(got, (1 / 2 + 1 / 2 + 1 / 3 + 1 / 4) / 5):
        raise CheckFailed("off by one: the first result has rank 1, so its reciprocal rank is 1 / 1")
    if np.isclose(got, (1 + 1 + 2 + 3) / 5) or np.isclose(got, (1 + 1 + 2 + 3) / 4):
        raise CheckFailed("you averaged the ranks themselves: MRR averages their RECIPROCALS 1 / rank")
    want = found / 5
    expect(np.isclose(got, want), f"MRR should be (1 + 1 + 1/2 + 1/3 + 0) / 5 = {want:.4f}, got {got:.4f}")
    expect(np.isclose(_mean(fn([[0, 1]], [0]), "mrr"), 1.0), "one query with its document first should give MRR 1.0")


# c: a lexical retriever cannot match 'a flexible wire' to 'capable of being bent'.
quiz_failure = quiz(
    "7.5", "Quiz: which retriever fails where?",
    correct="c", options="abcd",
    why_wrong={
        "a": "BM25 gives a document a score only for words it shares with the query; 'flexible' never "
             "appears in 'capable of being bent or flexed'",
        "b": "averaging word vectors keeps a rough topic but washes out word order and is dominated by common "
             "words; it is not immune to anything",
        "d": "MiniLM was trained to place paraphrases near each other: exactly this case",
    },
    explanation="lexical retrieval needs shared words; a sentence encoder compares meaning, so paraphrases "
                "and synonyms are where it wins (and rare exact names are where BM25 still shines)")


# b: exact search over a few thousand vectors is already far below a millisecond.
quiz_ann = quiz(
    "7.6", "Quiz: when does an approximate index pay?",
    correct="b", options="abcd",
    why_wrong={
        "a": "5,000 x 384 is about 2 million multiply-adds per query: exact search takes well under a millisecond",
        "c": "an approximate index can only match exact search at best (recall <= 1); it never finds closer "
             "vectors than the exact scan",
        "d": "cosine is a normalisation followed by a matrix product: numpy (or torch) does it in one line",
    },
    explanation="exact search is one matrix-vector product; HNSW and IVF pay off at millions of vectors or "
                "many queries per second, and cost build time, memory and a little recall")


@exercise("7.7", "Build the prompt with numbered sources")
def build_prompt(fn):
    """``fn(question, chunks)`` with chunks = ranked (source, text) pairs -> one prompt string."""
    question = "How do I leave a loop early?"
    # source names that never occur in the chunk texts, so a prompt without sources cannot pass by accident
    chunks = [("simple_stmts#break", "break terminates the nearest enclosing loop."),
              ("simple_stmts#continue", "continue goes on with the next cycle of the loop."),
              ("compound_stmts#while", "The while statement repeats as long as an expression is true.")]
    got, (_, chunks_after) = call_on_copies(fn, question, chunks)    # chunks itself never reaches fn
    returned(got, "build_prompt")
    expect_unchanged(chunks, chunks_after, "chunks", "read the (source, text) pairs, write them into a new string")
    expect(isinstance(got, str), f"the prompt should be one string, got {type(got).__name__}")
    expect(question in got, "the question itself is missing from the prompt: the model must know what to answer")
    missing = [text for _, text in chunks if text not in got]
    if len(missing) == 2 and chunks[0][1] in got:
        raise CheckFailed("only the first chunk is in the prompt: include all the retrieved chunks")
    if missing:
        raise CheckFailed(f"chunk text missing from the prompt: {missing[0]!r}")
    positions = [got.index(text) for _, text in chunks]
    expect(positions == sorted(positions), "the chunks are not in ranked order: the best chunk should come first, "
                                           "as [1]")
    lines_of = [next(i for i, ln in enumerate(got.splitlines()) if text in ln) for _, text in chunks]
    expect(len(set(lines_of)) == len(chunks), "several chunks share one line: put each chunk on its own line, "
                                              "[1] (source: NAME) TEXT")
    for i, (source, text) in enumerate(chunks, start=1):
        line = next(ln for ln in got.splitlines() if text in ln)
        if source in line and line.index(text) < line.index(source):
            raise CheckFailed(f"chunk {i}'s text comes before its source name: each pair is (source, text) - unpack it "
                              "in that order and write [i] (source: NAME) TEXT")
        if f"[{i - 1}]" in line and f"[{i}]" not in line:
            raise CheckFailed("sources are numbered from [0]: people (and LLMs) cite from [1]")
        expect(source in line, f"the line with chunk {i} does not name its source {source!r}: without sources "
                               "the answer cannot cite them")
        expect(f"[{i}]" in line, f"chunk {i} should be marked [{i}] on its line, so the answer can cite it")
    expect(got.index(question) > positions[-1],
           "put the question AFTER the sources, so the model reads the evidence first and the question last")
    expect(re.search(r"\bonly\b", got, re.I) is not None,
           "tell the model to answer using ONLY the sources (the word 'only' is missing from your instructions)")
