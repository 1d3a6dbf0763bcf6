"""Checks for notebook 00 (welcome): character codes and why they carry no meaning."""
from __future__ import annotations

from utils.checks import CheckFailed, exercise, expect, quiz
from utils.checks.values import returned


@exercise("0.1", "Character codes of a word")
def char_codes(fn):
    """``fn("Hi")`` should be ``[72, 105]``: one Unicode code point per character, in order."""
    expect(callable(fn), f"char_codes should be a function, got {type(fn).__name__}")
    got = fn("Hello")
    returned(got, "char_codes")
    expect(isinstance(got, list), f"char_codes should return a list, got {type(got).__name__}")
    expect(all(isinstance(c, int) for c in got), "char_codes should return integers - use ord(ch), not the characters")
    if got == [ord(c) - ord("a") + 1 for c in "hello"] or got == [ord(c.lower()) - 96 for c in "Hello"]:
        raise CheckFailed("you numbered letters a=1, b=2...; use the real Unicode code point ord(ch) (ord('H') is 72)")
    if got == [ord(c) for c in "hello"]:
        raise CheckFailed("the codes of 'Hello' start with 72 ('H'); did you lower-case the text first?")
    if sorted(got) == sorted(ord(c) for c in "Hello") and got != [ord(c) for c in "Hello"]:
        raise CheckFailed("the right codes in the wrong order - keep the characters' order")
    expect(len(got) == 5, f"'Hello' has 5 characters, your list has {len(got)} numbers")
    expect(got == [72, 101, 108, 108, 111], f"char_codes('Hello') should be [72, 101, 108, 108, 111], got {got}")
    expect(fn("") == [], "the empty string has no characters: char_codes('') should be []")
    expect(fn("é😀") == [233, 128512], "each character (even é or an emoji) is ONE code point - use ord(ch) per character")


@exercise("0.2", "Distance between two character codes")
def distance(value):
    """|ord('H') - ord('W')| = |72 - 87| = 15."""
    if isinstance(value, (int, float)) and value == -15:
        raise CheckFailed("a distance is never negative - take the absolute value abs(...)")
    if isinstance(value, str):
        raise CheckFailed("give a number, not a string (ord turns a character into its code)")
    expect(isinstance(value, (int, float)), f"give a number, got {type(value).__name__}")
    if value in (ord("H"), ord("W"), ord("H") + ord("W")):
        raise CheckFailed("that is a code or a sum of codes; the distance is the absolute DIFFERENCE |72 - 87|")
    expect(value == 15, f"|ord('H') - ord('W')| should be 15, got {value}")


quiz_llm = quiz(
    "0.3", "Quiz: what an LLM does with text",
    correct="c", options="abcd",
    why_wrong={
        "a": "an LLM does not look answers up in a table of facts; it scores every possible next token",
        "b": "the model never sees characters or words as such; it receives numbers (token IDs, then vectors)",
        "d": "character codes like ord('H') carry no meaning; models learn their own vectors for tokens",
    },
    explanation="an LLM turns text into token IDs, then vectors, and predicts a score for every possible next "
                "token; the rest of the course follows that path.")
