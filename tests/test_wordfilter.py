"""The blocklist that keeps vulgar words and slurs out of neighbour lists printed in notebooks 05 and 07."""
import pytest

from utils.wordfilter import BLOCKLIST, is_shown, shown


def test_shown_drops_blocked_words_and_keeps_order():
    pairs = [("dogs", 0.7), ("SHIT", 0.66), ("poodle", 0.65), ("hound", 0.6)]
    assert shown(pairs) == [("dogs", 0.7), ("poodle", 0.65), ("hound", 0.6)]
    assert shown(pairs, k=2) == [("dogs", 0.7), ("poodle", 0.65)]


def test_is_shown():
    assert is_shown("dog") and not is_shown("Shit")
    assert all(w == w.lower() for w in BLOCKLIST)
    with pytest.raises(TypeError, match="string"):
        is_shown(3)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k_is_refused(k):
    with pytest.raises(ValueError, match="positive integer"):
        shown([("a", 1.0)], k=k)
