"""Augment and generate (notebook 07, section 7): the prompt with numbered sources, and an answer.

- :func:`build_prompt` - instructions, numbered sources, the question;
- :func:`split_sentences` and :func:`extractive_answer` - the offline stand-in for an LLM;
- :func:`generate_with_llm` - the place where a real LLM plugs in (returns None in this offline course);
- :func:`answer` - retrieve, build the prompt, generate (or extract).
"""
from __future__ import annotations

import re

import numpy as np

from utils.retrieval.chunking import Chunk
from utils.retrieval.dense import cosine_scores
from utils.retrieval.lexical import BM25, tokenize
from utils.vectors import top_k_from_scores


def build_prompt(question: str, chunks, max_chunks: int | None = None) -> str:
    """The prompt an LLM would receive: instructions, numbered sources (best first), then the question.

    ``chunks`` are :class:`Chunk` objects or ``(source, text)`` pairs, already ranked.

    >>> print(build_prompt("What stops a loop?", [("break", "break ends the loop."), ("continue", "continue skips.")]))
    Answer the question using only the sources below. Cite the sources you use as [1], [2], ...
    If the sources do not contain the answer, say so.
    <BLANKLINE>
    [1] (source: break) break ends the loop.
    [2] (source: continue) continue skips.
    <BLANKLINE>
    Question: What stops a loop?
    Answer:
    """
    if not isinstance(question, str) or not question.strip():
        raise ValueError("the question is empty")
    pairs = [(c.source, c.text) if isinstance(c, Chunk) else tuple(c) for c in chunks]
    if not pairs:
        raise ValueError("no chunks to put in the prompt: retrieve something first")
    pairs = pairs[:max_chunks] if max_chunks else pairs
    lines = ["Answer the question using only the sources below. Cite the sources you use as [1], [2], ...",
             "If the sources do not contain the answer, say so.", ""]
    lines += [f"[{i}] (source: {source}) {' '.join(text.split())}" for i, (source, text) in enumerate(pairs, start=1)]
    lines += ["", f"Question: {question.strip()}", "Answer:"]
    return "\n".join(lines)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """Rough sentence split at '.', '!' or '?' followed by white space.

    >>> split_sentences("One. Two!  Three")
    ['One.', 'Two!', 'Three']
    """
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def extractive_answer(question: str, chunks, embed=None) -> tuple[str, str]:
    """The stand-in for generation: the single sentence of the retrieved chunks that best matches the question.

    With ``embed`` (a function list[str] -> (n, d) array) sentences are ranked by cosine to the question;
    without it, by BM25 over the sentences. Returns ``(sentence, source)``. It can only copy, never reason.

    >>> extractive_answer("which statement ends a loop", [("break", "It is short. The break statement ends a loop.")])
    ('The break statement ends a loop.', 'break')
    """
    if not isinstance(question, str) or not question.strip():
        raise ValueError("the question is empty")
    pairs = [(c.source, c.text) if isinstance(c, Chunk) else tuple(c) for c in chunks]
    sentences = [(s, source) for source, text in pairs for s in split_sentences(text)]
    if not sentences:
        raise ValueError("no sentences to answer from: retrieve something first")
    if embed is None:
        tokens = [tokenize(s) or ["<empty>"] for s, _ in sentences]
        query = tokenize(question) or ["<empty>"]
        scores = BM25(tokens).scores(query)
    else:
        vectors = np.asarray(embed([question] + [s for s, _ in sentences]))
        scores = cosine_scores(vectors[:1], vectors[1:])[0]
    best = int(top_k_from_scores(scores, 1)[0][0])
    return sentences[best]


def generate_with_llm(prompt: str) -> str | None:
    """*** THE PLACE WHERE A REAL LLM PLUGS IN ***

    Send ``prompt`` to a language model and return its text, for example (not run in this course, which is offline)::

        from openai import OpenAI
        return OpenAI().chat.completions.create(model=..., messages=[{"role": "user", "content": prompt}]
                                                ).choices[0].message.content

    or a local model through ``transformers.pipeline("text-generation", ...)``. This offline course returns None,
    and :func:`answer` then falls back to :func:`extractive_answer`.
    """
    return None


def answer(question: str, retrieve, k: int = 3, generate=generate_with_llm, embed=None) -> dict:
    """The whole RAG loop: retrieve ``k`` chunks, build the prompt, generate (or extract) an answer.

    ``retrieve(question, k)`` returns ranked chunks (:class:`Chunk` or ``(source, text)``). The result holds the
    prompt, the answer text, the sources it came from, and who produced it ("llm" or "extractive").
    ``embed`` is passed on to :func:`extractive_answer` when no LLM answers.
    """
    chunks = list(retrieve(question, k))
    prompt = build_prompt(question, chunks)
    generated = generate(prompt)
    if generated is not None:
        return {"prompt": prompt, "answer": generated, "sources": [c.source if isinstance(c, Chunk) else c[0]
                                                                  for c in chunks], "by": "llm"}
    sentence, source = extractive_answer(question, chunks, embed=embed)
    return {"prompt": prompt, "answer": sentence, "sources": [source], "by": "extractive"}
