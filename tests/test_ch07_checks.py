"""Every exercise of notebook 07: right answer passes, stub is 'not attempted', typical mistakes are named."""
import numpy as np
import torch

from check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils import retrieval
from utils.checks import ch07


# ---------------------------------------------------------------- 7.1 chunking
def _chunker(step_of, stop_at_end=True, keep_tail=True, as_lists=False):
    def chunk(text, size, overlap):
        words = text.split()
        step = step_of(size, overlap)
        last = len(words) if keep_tail else len(words) - size + 1
        out = []
        for start in range(0, max(last, 0), step):
            piece = words[start:start + size]
            out.append(piece if as_lists else " ".join(piece))
            if stop_at_end and start + size >= len(words):
                break
        return out
    return chunk


def test_chunk_words():
    assert_passes(ch07.chunk_words, retrieval.chunk_words)
    assert_passes(ch07.chunk_words, _chunker(lambda s, o: s - o))
    assert_not_attempted(ch07.chunk_words, stub_function)
    assert_rejects(ch07.chunk_words, _chunker(lambda s, o: s), match="share no words")
    assert_rejects(ch07.chunk_words, _chunker(lambda s, o: o), match="not by overlap")
    assert_rejects(ch07.chunk_words, _chunker(lambda s, o: s - o, keep_tail=False), match="w10.*missing")
    assert_rejects(ch07.chunk_words, _chunker(lambda s, o: s - o, stop_at_end=False), match="only repeats")
    assert_rejects(ch07.chunk_words, _chunker(lambda s, o: s - o, as_lists=True), match="ONE string")
    assert_rejects(ch07.chunk_words, lambda t, s, o: None, match="return")


# ---------------------------------------------------------------- 7.2 top-k
def _good_top_k(query, matrix, k):
    q = np.asarray(query, float)
    M = np.asarray(matrix, float)
    cos = M @ q / (np.linalg.norm(M, axis=1) * np.linalg.norm(q))
    return np.argsort(-cos)[:k]


def test_top_k_cosine():
    assert_passes(ch07.top_k_cosine, _good_top_k)
    assert_passes(ch07.top_k_cosine, lambda q, M, k: torch.topk(
        torch.nn.functional.cosine_similarity(torch.tensor(M), torch.tensor(q)[None, :]), k).indices)
    assert_passes(ch07.top_k_cosine, lambda q, M, k: retrieval.top_k_from_scores(
        retrieval.cosine_scores([q], M)[0], k)[0].tolist())
    assert_not_attempted(ch07.top_k_cosine, stub_function)
    assert_rejects(ch07.top_k_cosine, lambda q, M, k: np.argsort(-(np.asarray(M) @ q))[:k], match="dot product")
    assert_rejects(ch07.top_k_cosine, lambda q, M, k: np.argsort(_cos(q, M))[:k], match="LEAST similar")
    assert_rejects(ch07.top_k_cosine, lambda q, M, k: np.sort(_good_top_k(q, M, k))[::-1], match="wrong order")
    assert_rejects(ch07.top_k_cosine, lambda q, M, k: np.sort(-_cos(q, M))[:k] * -1, match="INDICES")
    assert_rejects(ch07.top_k_cosine, lambda q, M, k: _good_top_k(q, M, k + 1), match="2 indices")


def _cos(q, M):
    M = np.asarray(M, float)
    return M @ q / (np.linalg.norm(M, axis=1) * np.linalg.norm(q))


# ---------------------------------------------------------------- 7.3 recall@k, 7.4 MRR
def test_recall_at_k():
    assert_passes(ch07.recall_at_k, lambda r, g, k: retrieval.recall_at_k(r, g, k))
    assert_passes(ch07.recall_at_k, lambda r, g, k: np.mean([gi in ri[:k] for ri, gi in zip(r, g)]))
    assert_not_attempted(ch07.recall_at_k, stub_function)
    assert_rejects(ch07.recall_at_k, lambda r, g, k: sum(gi in ri[:k] for ri, gi in zip(r, g)), match="number of hits")
    assert_rejects(ch07.recall_at_k, lambda r, g, k: np.mean([gi in ri[:k] for ri, gi in zip(r, g)]) / k,
                   match="precision")
    assert_rejects(ch07.recall_at_k, lambda r, g, k: np.mean([ri[k - 1] == gi for ri, gi in zip(r, g)]),
                   match="exactly AT")
    assert_rejects(ch07.recall_at_k, lambda r, g, k: np.mean([gi in ri[:k + 1] for ri, gi in zip(r, g)]),
                   match="k \\+ 1")
    assert_rejects(ch07.recall_at_k, lambda r, g, k: np.mean([gi in ri[:k - 1] for ri, gi in zip(r, g)]),
                   match="k - 1")
    assert_rejects(ch07.recall_at_k, lambda r, g, k: [gi in ri[:k] for ri, gi in zip(r, g)], match="ONE number")


def _rr(r, g, rank_of=lambda i: i + 1):
    return [1 / rank_of(r.index(g)) if g in r else 0.0 for r, g in zip(r, g)]


def test_mrr():
    assert_passes(ch07.mrr, retrieval.mrr)
    assert_passes(ch07.mrr, lambda r, g: float(np.mean(_rr(r, g))))
    assert_not_attempted(ch07.mrr, stub_function)
    assert_rejects(ch07.mrr, lambda r, g: sum(_rr(r, g)), match="summed")
    assert_rejects(ch07.mrr, lambda r, g: float(np.mean([x for x in _rr(r, g) if x > 0])), match="miss scores 0")
    assert_rejects(ch07.mrr, lambda r, g: float(np.mean(_rr(r, g, rank_of=lambda i: i))), match="0-based")
    assert_rejects(ch07.mrr, lambda r, g: float(np.mean(_rr(r, g, rank_of=lambda i: i + 2))), match="off by one")
    assert_rejects(ch07.mrr, lambda r, g: float(np.mean([ri.index(gi) + 1 for ri, gi in zip(r, g) if gi in ri])),
                   match="RECIPROCALS")


# ---------------------------------------------------------------- 7.7 prompt
def _prompt(question, chunks, number_from=1, with_source=True, reverse=False, question_first=False, only=True):
    chunks = list(chunks)[::-1] if reverse else list(chunks)
    lines = [f"[{i}] " + (f"(source: {s}) " if with_source else "") + t for i, (s, t) in enumerate(chunks, number_from)]
    head = "Answer using only these sources." if only else "Here are some sources."
    q = f"Question: {question}"
    return "\n".join([head, q] + lines if question_first else [head] + lines + [q])


def test_build_prompt():
    assert_passes(ch07.build_prompt, retrieval.build_prompt)
    assert_passes(ch07.build_prompt, _prompt)
    assert_not_attempted(ch07.build_prompt, stub_function)
    assert_rejects(ch07.build_prompt, lambda q, c: _prompt(q, c, with_source=False), match="source")
    assert_rejects(ch07.build_prompt, lambda q, c: _prompt(q, c, reverse=True), match="ranked order")
    assert_rejects(ch07.build_prompt, lambda q, c: _prompt(q, c, number_from=0), match=r"\[0\]")
    assert_rejects(ch07.build_prompt, lambda q, c: _prompt(q, c[:1]), match="only the first chunk")
    assert_rejects(ch07.build_prompt, lambda q, c: _prompt("", c), match="question itself")
    assert_rejects(ch07.build_prompt, lambda q, c: _prompt(q, c, question_first=True), match="AFTER")
    assert_rejects(ch07.build_prompt, lambda q, c: _prompt(q, c, only=False), match="ONLY")
    assert_rejects(ch07.build_prompt, lambda q, c: [q, c], match="one string")


# ---------------------------------------------------------------- 7.5, 7.6 quizzes
def test_quiz_ann():
    assert_passes(ch07.quiz_ann, "b")
    assert_passes(ch07.quiz_ann, " B ")
    assert_not_attempted(ch07.quiz_ann, ...)
    assert_rejects(ch07.quiz_ann, "a", match="millisecond")
    assert_rejects(ch07.quiz_ann, "c", match="never finds")
    assert_rejects(ch07.quiz_ann, "d", match="numpy")
    assert_rejects(ch07.quiz_ann, "e", match="one letter")


def test_quiz_failure():
    assert_passes(ch07.quiz_failure, "c")
    assert_not_attempted(ch07.quiz_failure, ...)
    assert_rejects(ch07.quiz_failure, "a", match="shares")
    assert_rejects(ch07.quiz_failure, "b", match="averaging")
    assert_rejects(ch07.quiz_failure, "d", match="paraphrases")
    assert_rejects(ch07.quiz_failure, 1, match="one letter")


def test_top_k_cosine_names_argpartition_without_sorting():
    def unsorted_top_k(query, matrix, k):
        cos = (matrix @ query) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
        best = np.argpartition(-cos, k)[:k]                    # the k winners, in no particular order
        # (made deterministic here: best first on the toy example, worst first on the random one)
        return best[np.argsort(cos[best])] if k == 5 else best[np.argsort(-cos[best])]
    assert_rejects(ch07.top_k_cosine, unsorted_top_k, match="argpartition")


def test_build_prompt_names_swapped_pairs_and_shared_lines():
    def swapped(question, chunks):
        lines = ["Answer using only the sources below."]
        lines += [f"[{i}] (source: {source}) {text}" for i, (text, source) in enumerate(chunks, start=1)]
        return "\n".join(lines + [f"Question: {question}"])
    assert_rejects(ch07.build_prompt, swapped, match="unpack it in that order")

    def one_line(question, chunks):
        body = " ".join(f"[{i}] (source: {s}) {t}" for i, (s, t) in enumerate(chunks, start=1))
        return f"Answer using only the sources below.\n{body}\nQuestion: {question}"
    assert_rejects(ch07.build_prompt, one_line, match="its own line")


def test_recall_at_k_names_an_ignored_k():
    def whole_list(ranked, gold, k):
        return sum(g in r for r, g in zip(ranked, gold)) / len(gold)
    assert_rejects(ch07.recall_at_k, whole_list, match="k is ignored")


# ---------------------------------------------------------------- the check never trusts what fn did to its input
def keeps_the_first_chunk_only(question, chunks):
    """Drops every source but the first, and drops them from the caller's list too, so a check that read the chunks
    back after the call would find the prompt complete."""
    del chunks[1:]
    source, text = chunks[0]
    return f"Answer using only the sources below.\n[1] (source: {source}) {text}\nQuestion: {question}"


def test_build_prompt_rejects_a_function_that_changes_the_chunks():
    assert_rejects(ch07.build_prompt, keeps_the_first_chunk_only, match="changed its input `chunks` in place")
