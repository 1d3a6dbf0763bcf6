"""Words the course does not print in neighbour lists shown in class.

WordNet, the corpus of notebooks 05 and 07, defines vulgar slang and slurs like any other word, so they are in the
trained vocabulary and can turn up among the nearest neighbours of ordinary words (in one recorded run a vulgar word
was the fifth neighbour of "dog"). The words stay in the vocabulary and in training: :func:`shown` only drops them
from lists that a notebook prints. The list is deliberately small: the offensive words found in the course vocabulary
plus a few common ones that another corpus could add, not every offensive word of English. Words that are mainly harmless
in WordNet (e.g. "ass" for the donkey) are not on it.

>>> shown([("dogs", 0.69), ("shit", 0.66), ("poodle", 0.66)], k=2)
[('dogs', 0.69), ('poodle', 0.66)]
"""
from __future__ import annotations

BLOCKLIST = frozenset({
    "arse", "arsehole", "asshole", "bastard", "bitch", "chink", "cock", "coon", "crap", "cunt", "dick", "fag",
    "faggot", "fuck", "fucker", "fucking", "gook", "kike", "negro", "nigger", "piss", "prick", "pussy", "retard",
    "shit", "slut", "spic", "twat", "wanker", "whore",
})


def is_shown(word: str) -> bool:
    """False for a word on :data:`BLOCKLIST` (case-insensitive), True otherwise."""
    if not isinstance(word, str):
        raise TypeError(f"word must be a string, got {type(word).__name__}")
    return word.lower() not in BLOCKLIST


def shown(pairs, k: int | None = None) -> list:
    """The ``(word, score)`` pairs whose word may be shown, in their order, at most ``k`` of them (all if None).

    Ask the neighbour search for a few more than ``k`` (e.g. ``most_similar(word, k=k + 5)``) so that ``k`` remain.
    """
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}")
    kept = [pair for pair in pairs if is_shown(pair[0])]
    return kept if k is None else kept[:k]
