"""Checks for notebook 03 (tokenization: byte-level BPE from scratch)."""
from __future__ import annotations

from utils import bpe
from utils.checks import CheckFailed, call_on_copies, exercise, expect, expect_unchanged, learner_helper, quiz
from utils.checks.values import as_ints, returned


LOW_TEXT = "low low low lower lowest"


@exercise("3.1", "Count characters and bytes")
def count_units(n_chars, n_bytes):
    """n_chars = len("The quick brown fox") = 19; n_bytes = len("naïve 😀".encode("utf-8")) = 11."""
    expect(isinstance(n_chars, int) and isinstance(n_bytes, int),
           f"both answers should be ints, got {type(n_chars).__name__} and {type(n_bytes).__name__}")
    if n_chars == 16:
        raise CheckFailed("n_chars is 16: the 3 spaces are characters too - len() counts them")
    if n_chars == 4:
        raise CheckFailed("n_chars is 4: that is the number of words; count characters with len(text)")
    expect(n_chars == 19, f'len("The quick brown fox") is 19, got {n_chars}')
    if n_bytes == 7:
        raise CheckFailed("n_bytes is 7: that counts characters; in UTF-8 'ï' takes 2 bytes and '😀' takes 4")
    if n_bytes == 8:
        raise CheckFailed("n_bytes is 8: '😀' is not 1 byte but 4 in UTF-8 - use len(s.encode('utf-8'))")
    if n_bytes in (16, 18):
        raise CheckFailed(f"n_bytes is {n_bytes}: that is UTF-16; byte-level BPE works on UTF-8 bytes")
    expect(n_bytes == 11, f'len("naïve 😀".encode("utf-8")) is 11, got {n_bytes}')


_PAIR_CASES = [[1, 2, 3, 1, 2], [7, 7, 7], [5], [], [4, 4, 2, 4, 4, 4, 2, 9]]
# Every pair in a different number: dropping the last pair, dropping the first pair and "count 1 each" all differ.
_PAIR_PROBE = [1, 2, 1, 2, 1, 2, 3]


def _short_exc(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__} ({text[0]})" if text else type(exc).__name__


def _helper_problem(fn, helper_name: str, reference, cases, exercise_id: str) -> str | None:
    """When ``fn`` (the learner's function) calls the learner's own ``helper_name`` from an earlier exercise and that
    helper is wrong, the one-line message that blames the helper; otherwise None."""
    helper = learner_helper(fn, helper_name)
    if not callable(helper) or helper is reference:  # learner_helper ignores bpe.merge (the reference's)
        return None
    for args in cases:
        want = reference(*[list(a) if isinstance(a, list) else a for a in args])
        shown = ", ".join(repr(a) for a in args)
        try:
            got = helper(*[list(a) if isinstance(a, list) else a for a in args])
        except NotImplementedError:
            return (f"{fn.__name__} calls your {helper_name}, which is not written yet (exercise {exercise_id}): "
                    "finish it first, or call the reference function instead")
        except Exception as exc:  # noqa: BLE001 - any crash of the helper is the helper's fault
            return (f"{fn.__name__} calls your {helper_name}, and {helper_name}({shown}) raised {_short_exc(exc)}: "
                    f"fix {helper_name} first (exercise {exercise_id})")
        if got != want:
            return (f"{fn.__name__} calls your {helper_name}, which is wrong: {helper_name}({shown}) gave {got!r}, "
                    f"expected {want!r} - fix {helper_name} first (exercise {exercise_id})")
    return None


_MERGE_CASES = [([1, 2, 3, 1, 2], (1, 2), 256), ([7, 7, 7], (7, 7), 256), ([3, 1, 2, 1, 2, 3], (1, 2), 300)]
_COUNT_CASES = [([1, 2, 3, 1, 2],), ([7, 7, 7],), (list(_PAIR_PROBE),)]
# The helpers of exercises 3.2 and 3.3, which train_merges and encode call
_COUNT_HELPERS = [("get_pair_counts", bpe.get_pair_counts, _COUNT_CASES, "3.2")]
_MERGE_HELPERS = [("merge", bpe.merge, _MERGE_CASES, "3.3")]


def _blame_helpers(fn, body, helpers):
    """Run ``body()``; if it fails (a wrong answer or a crash), first look for a broken helper of an earlier exercise
    that ``fn`` calls, and blame that helper instead of ``fn``."""
    try:
        return body()
    except Exception:
        for name, reference, cases, ex_id in helpers:
            problem = _helper_problem(fn, name, reference, cases, ex_id)
            if problem:
                raise CheckFailed(problem) from None
        raise


def _call_pairs(fn, ids):
    try:
        return fn(list(ids))
    except IndexError:
        raise CheckFailed("IndexError: ids[i + 1] ran past the end of the list - a list of n ids has n - 1 adjacent "
                          "pairs, so i goes up to len(ids) - 2: range(len(ids) - 1)") from None


@exercise("3.2", "Count adjacent pairs")
def get_pair_counts(fn):
    """fn(ids) -> {(a, b): count} over all adjacent positions, overlaps included."""
    got = _call_pairs(fn, [1, 2, 3, 1, 2])
    returned(got, "get_pair_counts", "did you forget `return counts`?")
    expect(isinstance(got, dict), f"get_pair_counts should return a dict, got {type(got).__name__}")
    if any(not isinstance(k, tuple) for k in got):
        raise CheckFailed("keys should be pairs (tuples) like (1, 2), not single ids - count ids[i], ids[i + 1]")
    probe = _call_pairs(fn, _PAIR_PROBE)
    if isinstance(probe, dict) and probe and dict(probe) == bpe.get_pair_counts(_PAIR_PROBE[:-1]):
        raise CheckFailed(f"get_pair_counts({_PAIR_PROBE}) missed the LAST pair (2, 3): a list of n ids has n - 1 "
                          "pairs, so loop over range(len(ids) - 1), not range(len(ids) - 2)")
    if isinstance(probe, dict) and probe and dict(probe) == bpe.get_pair_counts(_PAIR_PROBE[1:]):
        raise CheckFailed(f"get_pair_counts({_PAIR_PROBE}) missed the FIRST pair (1, 2): start at i = 0")
    if got == {(1, 2): 1, (2, 3): 1, (3, 1): 1}:
        raise CheckFailed("every pair has count 1: you recorded which pairs occur, not how many times")
    if got.get((2, 1)) == 1:
        raise CheckFailed("found the pair (2, 1): the last id is not adjacent to the first - don't wrap around")
    if (1, 3) in got or (2, 1) in got:
        raise CheckFailed("found pairs of ids that are not next to each other; pair ids[i] with ids[i + 1]")
    for ids in _PAIR_CASES:
        want = bpe.get_pair_counts(ids)
        got = _call_pairs(fn, ids)
        if ids == [7, 7, 7] and got == {(7, 7): 1}:
            raise CheckFailed("[7, 7, 7] holds the pair (7, 7) twice (positions 0 and 1): count overlapping pairs")
        expect(isinstance(got, dict) and dict(got) == want,
               f"get_pair_counts({ids}) should be {want}, got {got}")


@exercise("3.3", "Apply one merge")
def merge(fn):
    """fn(ids, pair, new_id) -> new list, every occurrence replaced left to right, no overlaps, input unchanged."""
    ids = [1, 2, 3, 1, 2]
    got = fn(ids, (1, 2), 256)
    expect(ids == [1, 2, 3, 1, 2], "your function changed its input list; build and return a new list")
    got = as_ints(got, "the result")
    if got == [256, 3, 1, 2]:
        raise CheckFailed("only the first occurrence was merged; replace EVERY occurrence of the pair")
    if got == [256, 2, 3, 256, 2]:
        raise CheckFailed("the right id of the pair is still there; after a match, skip both ids (i += 2)")
    expect(got == [256, 3, 256], f"merge([1, 2, 3, 1, 2], (1, 2), 256) should be [256, 3, 256], got {got}")
    got = as_ints(fn([7, 7, 7], (7, 7), 256), "the result")
    if got == [256, 256]:
        raise CheckFailed("[7, 7, 7] became [256, 256]: a 7 was used twice; matches must not overlap")
    if got == [7, 256]:
        raise CheckFailed("[7, 7, 7] became [7, 256]: scan from the LEFT, so the first two 7s merge")
    expect(got == [256, 7], f"merge([7, 7, 7], (7, 7), 256) should be [256, 7], got {got}")
    for ids, pair in (([1, 2], (2, 1)), ([], (1, 2)), ([3, 1, 2, 1, 2, 3], (1, 2))):
        want = bpe.merge(ids, pair, 300)
        got = as_ints(fn(list(ids), pair, 300), "the result")
        expect(got == want, f"merge({ids}, {pair}, 300) should be {want}, got {got}")


@exercise("3.4", "The tie on 'low low low lower lowest'")
def low_tie(top_count, tied_pairs, winner):
    """top_count 5; tied pairs {('l','o'), ('o','w')}; the tie rule (smallest pair of byte ids) picks ('l','o')."""
    expect(isinstance(top_count, int), f"top_count should be an int, got {type(top_count).__name__}")
    if top_count == 3:
        raise CheckFailed("top_count is 3: that is how often the WORD 'low' occurs alone; 'lo' is also in "
                          "'lower' and 'lowest'")
    expect(top_count == 5, f"the most frequent pair occurs 5 times, got {top_count}")
    try:
        tied = {tuple(p) for p in tied_pairs}
    except TypeError:
        raise CheckFailed("tied_pairs should be a set of pairs like {('a', 'b'), ...}") from None
    if tied and all(isinstance(x, int) for p in tied for x in p):
        tied = {(chr(a), chr(b)) for a, b in tied}
    if tied == {("l", "o")} or tied == {("o", "w")}:
        raise CheckFailed("only one pair listed: BOTH ('l', 'o') and ('o', 'w') occur 5 times")
    if ("w", " ") in tied or (" ", "l") in tied:
        raise CheckFailed("('w', ' ') and (' ', 'l') occur fewer than 5 times; list only the pairs with the top count")
    expect(tied == {("l", "o"), ("o", "w")}, f"the tied pairs are ('l', 'o') and ('o', 'w'), got {sorted(tied)}")
    win = tuple(winner) if isinstance(winner, (tuple, list)) else winner
    if isinstance(win, tuple) and all(isinstance(x, int) for x in win):
        win = tuple(chr(x) for x in win)
    if win == ("o", "w"):
        raise CheckFailed("('o', 'w') loses the tie: the rule picks the SMALLEST pair of ids, and ord('l') = 108 "
                          "< ord('o') = 111")
    if win in (("l", "o", "w"), "low"):
        raise CheckFailed("one merge joins exactly two tokens: the winner is a pair, not 'low'")
    expect(win == ("l", "o"), f"the winner should be ('l', 'o'), got {winner!r}")


def _reference_merges(text, n):
    return bpe.train_bpe_reference(text, 256 + n).merges


def _merge_name(merge_, vocab) -> str:
    (a, b), z = merge_
    parts = [bpe.render_token(vocab[x]) if x in vocab else f"<id {x}>" for x in (a, b)]
    return f"(({a}, {b}), {z}) = {parts[0]!r} + {parts[1]!r}"


def _first_difference(text, got, want) -> str:
    """One line on the first merge where ``got`` leaves the reference ``want``, with the counts at that step."""
    i = next((k for k, (g, w) in enumerate(zip(got, want)) if g != w), None)
    if i is None:
        return f"on {text!r}: {len(want)} merges were asked for, got {len(got)}"
    ids = list(text.encode("utf-8"))
    vocab = {k: bytes([k]) for k in range(256)}
    for (a, b), z in want[:i]:
        ids = bpe.merge(ids, (a, b), z)
        vocab[z] = vocab[a] + vocab[b]
    counts = bpe.get_pair_counts(ids)
    got_pair, want_pair = got[i][0], want[i][0]
    head = (f"on {text!r}, merge {i + 1} differs: expected {_merge_name(want[i], vocab)} (count "
            f"{counts[want_pair]}), got {_merge_name(got[i], vocab)}")
    if got_pair in counts and counts[got_pair] == counts[want_pair] and got[i][1] == want[i][1]:
        return (head + f" (also count {counts[got_pair]}) - a TIE: the smallest pair (left_id, right_id) must win, "
                "as most_frequent_pair does (max(counts, key=counts.get) keeps whichever pair it saw first)")
    if got_pair in counts:
        return head + f" (count {counts[got_pair]}) - merge the most frequent pair of the CURRENT ids at every step"
    return head + " (that pair does not occur at this step) - apply each merge to the ids before counting again"


def _as_merges(value, name="merges"):
    returned(value, "your function", "did you forget `return merges`?")
    expect(isinstance(value, list), f"{name} should be a list, got {type(value).__name__}")
    try:
        return [((int(a), int(b)), int(z)) for (a, b), z in value]
    except (TypeError, ValueError):
        raise CheckFailed("each merge should look like ((left_id, right_id), new_id), e.g. ((108, 111), 256)") from None


@exercise("3.5", "Train k merges")
def train_merges(fn):
    """fn(text, n_merges) -> [((a, b), new_id), ...] like train_bpe_reference (bytes, tie rule, ids from 256)."""
    def body():
        got = fn(LOW_TEXT, 3)
        returned(got, "your function", "did you forget `return merges`?")
        expect(isinstance(got, list), f"merges should be a list, got {type(got).__name__}")
        expect(len(got) == 3, f"3 merges were asked for, got {len(got)}")
        got = _as_merges(got)
        want = _reference_merges(LOW_TEXT, 3)
        if got[0][0] == (111, 119):
            raise CheckFailed("first merge is (o, w): the tie between (l, o) and (o, w) goes to the SMALLEST pair")
        if [z for _, z in got] != [256, 257, 258]:
            raise CheckFailed(f"new ids should be 256, 257, 258 (after the 256 byte ids), got {[z for _, z in got]}")
        if got[1][0] == (108, 111) or (got[1][0] == (111, 119) and got[0][0] == (108, 111)):
            raise CheckFailed("the second merge reuses the first counts: apply each merge, then RECOUNT the pairs")
        expect(got == want, _first_difference(LOW_TEXT, got, want))
        other = "aaabdaaabac, the cat sat on the mat"
        want = _reference_merges(other, 8)
        got = _as_merges(fn(other, 8))
        expect(got == want, _first_difference(other, got, want))

    _blame_helpers(fn, body, _COUNT_HELPERS + _MERGE_HELPERS)


def _reference_encode(text, merges):
    ids = list(text.encode("utf-8"))
    for pair, new_id in merges:
        ids = bpe.merge(ids, pair, new_id)
    return ids


def _first_only_encode(text, merges):
    """The mistake of replacing only the first occurrence of each pair."""
    ids = list(text.encode("utf-8"))
    for pair, new_id in merges:
        at = next((i for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) == pair), None)
        if at is not None:
            ids = ids[:at] + [new_id] + ids[at + 2:]
    return ids


@exercise("3.6", "Encode with learned merges")
def encode(fn):
    """fn(text, merges) -> ids: UTF-8 bytes, then the merges applied in the order they were learned."""
    merges = bpe.train_bpe_reference(LOW_TEXT + " newer newest", 266).merges

    def body():
        for text in ("lowest", "lower newest", "low lower lowest", "naïve lowly", ""):
            want = _reference_encode(text, merges)
            got, (_, merges_after) = call_on_copies(fn, text, merges)      # merges itself never reaches fn
            got = as_ints(got, "the ids")
            expect_unchanged(merges, merges_after, "merges", "read the merges, build a new list of ids")
            if text == "lowest" and got == list(text.encode("utf-8")):
                raise CheckFailed("you returned the raw bytes: apply the merges to them, one after the other")
            if text == "naïve lowly" and 239 in got:
                raise CheckFailed("'ï' became 239 = ord('ï'): start from the UTF-8 bytes (text.encode('utf-8'))")
            if text == "naïve lowly" and len(got) < len(want) and 195 not in got:
                raise CheckFailed("'ï' went missing: start from text.encode('utf-8'), keep every byte")
            if text == "low lower lowest" and got == _first_only_encode(text, merges):
                raise CheckFailed(f"encode({text!r}) merged only the FIRST occurrence of each pair: every merge "
                                  "replaces the pair everywhere in the ids (merge of exercise 3.3 does that)")
            if text == "lowest" and got == _reference_encode(text, merges[::-1]):
                raise CheckFailed("merges applied in reverse: apply them in the order they were learned (256 first)")
            expect(got == want, f"encode({text!r}) should be {want}, got {got} - apply ALL merges, in learned order")

    _blame_helpers(fn, body, _MERGE_HELPERS)


@exercise("3.7", "Decode ids back to text")
def decode(fn):
    """fn(ids, vocab) -> str: join the tokens' bytes FIRST, then decode UTF-8 once."""
    vocab = {i: bytes([i]) for i in range(256)}
    vocab[256] = b"lo"
    vocab[257] = b" \xc3"                          # a space + the FIRST byte of 'é' (UTF-8: 0xc3 0xa9)
    ids = [256, 119, 257, 0xA9]                    # "low é"
    got = fn(ids, vocab)
    if isinstance(got, (bytes, bytearray)):
        raise CheckFailed("you returned bytes: finish with .decode('utf-8') to get a str")
    expect(isinstance(got, str), f"decode should return a str, got {type(got).__name__}")
    if got.replace(" ", "") == "lowé" and got != "low é":
        raise CheckFailed("extra spaces: token bytes are glued together directly, no separator")
    if "\ufffd" in got:
        raise CheckFailed("you decoded each token on its own: 'é' is split over two tokens; join all the bytes, "
                          "then decode once")
    if "Ã" in got or "©" in got:
        raise CheckFailed("you turned each byte into chr(byte) (Latin-1); decode the joined bytes as UTF-8")
    expect(got == "low é", f"decode({ids}) should be 'low é', got {got!r}")
    expect(fn([], vocab) == "", "decoding an empty list should give the empty string")


quiz_rare_words = quiz(
    "3.8", "Quiz: why does 'ChatGPT' take three tokens?",
    correct="b", options="abcd",
    why_wrong={
        "a": "tokens can be long (cl100k has tokens of many characters); no length limit cuts 'ChatGPT'",
        "c": "' hello' and 'Chat' both start with letters of either case: capitals are not forced apart",
        "d": "byte-level BPE never fails on a new word; it just builds it from more, shorter pieces",
    },
    explanation="merges are learned from frequent pairs in the training text. 'hello' was common enough to "
                "become one token; 'ChatGPT' (rare or absent in that data) is assembled from pieces that were "
                "frequent on their own: 'Chat' + 'G' + 'PT'.")
