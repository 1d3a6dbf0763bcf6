"""Every exercise of notebook 03: right answer passes, stub is 'not attempted', typical mistakes are named."""
import linecache

from check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils import bpe
from utils.bpe import get_pair_counts, merge, train_bpe_reference
from utils.checks import ch03, global_used, learner_helper, source_of


def test_count_units():
    assert_passes(ch03.count_units, 19, 11)
    assert_not_attempted(ch03.count_units, ..., ...)
    assert_rejects(ch03.count_units, 16, 11, match="spaces")
    assert_rejects(ch03.count_units, 4, 11, match="words")
    assert_rejects(ch03.count_units, 19, 7, match="counts characters")
    assert_rejects(ch03.count_units, 19, 8, match="4 in UTF-8")
    assert_rejects(ch03.count_units, 19, 16, match="UTF-16")
    assert_rejects(ch03.count_units, "19", 11, match="ints")


# ---------------------------------------------------------------- 3.2
def counts_ok(ids):
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def counts_set(ids):
    return {pair: 1 for pair in zip(ids, ids[1:])}


def counts_wrap(ids):
    counts = counts_ok(ids)
    if len(ids) > 1:
        counts[(ids[-1], ids[0])] = counts.get((ids[-1], ids[0]), 0) + 1
    return counts


def counts_no_overlap(ids):
    counts, i = {}, 0
    while i + 1 < len(ids):
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
        i += 2 if ids[i] == ids[i + 1] else 1
    return counts


def counts_stop_early(ids):
    """range(len(ids) - 2): the last pair is never counted."""
    counts = {}
    for i in range(len(ids) - 2):
        counts[(ids[i], ids[i + 1])] = counts.get((ids[i], ids[i + 1]), 0) + 1
    return counts


def counts_run_past_end(ids):
    """range(len(ids)): ids[i + 1] fails on the last position."""
    counts = {}
    for i in range(len(ids)):
        counts[(ids[i], ids[i + 1])] = counts.get((ids[i], ids[i + 1]), 0) + 1
    return counts


def counts_skip_first(ids):
    counts = {}
    for i in range(1, len(ids) - 1):
        counts[(ids[i], ids[i + 1])] = counts.get((ids[i], ids[i + 1]), 0) + 1
    return counts


def test_get_pair_counts_off_by_one_bounds_are_named():
    assert_rejects(ch03.get_pair_counts, counts_stop_early, match=r"missed the LAST pair.*range\(len\(ids\) - 1\)")
    assert_rejects(ch03.get_pair_counts, counts_run_past_end, match=r"ran past the end.*range\(len\(ids\) - 1\)")
    assert_rejects(ch03.get_pair_counts, counts_skip_first, match="missed the FIRST pair")


def test_get_pair_counts():
    assert_passes(ch03.get_pair_counts, counts_ok)
    assert_passes(ch03.get_pair_counts, get_pair_counts)
    assert_not_attempted(ch03.get_pair_counts, stub_function)
    assert_rejects(ch03.get_pair_counts, counts_set, match="not how many")
    assert_rejects(ch03.get_pair_counts, counts_wrap, match="wrap")
    assert_rejects(ch03.get_pair_counts, counts_no_overlap, match="overlapping")
    assert_rejects(ch03.get_pair_counts, lambda ids: {i: ids.count(i) for i in ids}, match="tuples")
    assert_rejects(ch03.get_pair_counts, lambda ids: counts_ok(ids[::2]), match="not next to each other")
    assert_rejects(ch03.get_pair_counts, lambda ids: None, match="return")


# ---------------------------------------------------------------- 3.3
def merge_ok(ids, pair, new_id):
    """The notebook's answer: right, and not the reference object itself (so helper checks look at it)."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def merge_first_only(ids, pair, new_id):
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            return ids[:i] + [new_id] + ids[i + 2:]
    return list(ids)


def merge_keep_right(ids, pair, new_id):
    return [new_id if i + 1 < len(ids) and (x, ids[i + 1]) == pair else x for i, x in enumerate(ids)]


def merge_overlapping(ids, pair, new_id):
    """Finds all matches first, then rebuilds: overlapping matches both survive."""
    starts = [i for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) == pair]
    covered = set(starts) | {i + 1 for i in starts}
    return [new_id if i in starts else x for i, x in enumerate(ids) if i in starts or i not in covered]


def merge_from_right(ids, pair, new_id):
    return merge(ids[::-1], pair[::-1], new_id)[::-1]


def merge_in_place(ids, pair, new_id):
    ids[:] = merge(ids, pair, new_id)
    return ids


def test_merge():
    assert_passes(ch03.merge, merge)
    assert_passes(ch03.merge, merge_ok)
    assert_not_attempted(ch03.merge, stub_function)
    assert_rejects(ch03.merge, merge_first_only, match="only the first")
    assert_rejects(ch03.merge, merge_keep_right, match="right id")
    assert_rejects(ch03.merge, merge_overlapping, match="overlap")
    assert_rejects(ch03.merge, merge_from_right, match="LEFT")
    assert_rejects(ch03.merge, merge_in_place, match="changed its input")
    assert_rejects(ch03.merge, lambda ids, pair, new_id: "256 3 256", match="list of ints")


# ---------------------------------------------------------------- 3.4
def test_low_tie():
    assert_passes(ch03.low_tie, 5, {("l", "o"), ("o", "w")}, ("l", "o"))
    assert_passes(ch03.low_tie, 5, [(108, 111), (111, 119)], (108, 111))
    assert_not_attempted(ch03.low_tie, ..., ..., ...)
    assert_rejects(ch03.low_tie, 5, {("l", "o"), ("o", "w")}, ("o", "w"), match="SMALLEST")
    assert_rejects(ch03.low_tie, 5, {("l", "o")}, ("l", "o"), match="BOTH")
    assert_rejects(ch03.low_tie, 3, {("l", "o"), ("o", "w")}, ("l", "o"), match="'lower'")
    assert_rejects(ch03.low_tie, 5, {("l", "o"), ("o", "w"), ("w", " ")}, ("l", "o"), match="fewer than 5")
    assert_rejects(ch03.low_tie, 5, {("l", "o"), ("o", "w")}, "low", match="pair")


# ---------------------------------------------------------------- 3.5
def train_ok(text, n_merges):
    return train_bpe_reference(text, 256 + n_merges).merges


def train_largest_tie(text, n_merges):
    ids, merges = list(text.encode()), []
    for k in range(n_merges):
        counts = get_pair_counts(ids)
        pair = max(counts, key=lambda p: (counts[p], p))
        ids = merge(ids, pair, 256 + k)
        merges.append((pair, 256 + k))
    return merges


def train_ids_from_255(text, n_merges):
    return [(pair, z - 1) for pair, z in train_ok(text, n_merges)]


def train_no_recount(text, n_merges):
    ids = list(text.encode())
    counts = get_pair_counts(ids)
    ranked = sorted(counts, key=lambda p: (-counts[p], p))[:n_merges]
    return [(pair, 256 + k) for k, pair in enumerate(ranked)]


def test_train_merges():
    assert_passes(ch03.train_merges, train_ok)
    assert_not_attempted(ch03.train_merges, stub_function)
    assert_rejects(ch03.train_merges, train_largest_tie, match="SMALLEST")
    assert_rejects(ch03.train_merges, train_ids_from_255, match="256, 257, 258")
    assert_rejects(ch03.train_merges, train_no_recount, match="RECOUNT")
    assert_rejects(ch03.train_merges, lambda t, n: train_ok(t, n - 1), match="3 merges")
    assert_rejects(ch03.train_merges, lambda t, n: [p for p, _ in train_ok(t, n)], match=r"\(\(left_id")
    assert_rejects(ch03.train_merges, lambda t, n: None, match="return")


def train_first_seen_tie(text, n_merges):
    """max(counts, key=counts.get): among tied pairs, the one counted first wins (right on LOW_TEXT by luck)."""
    ids, merges = list(text.encode()), []
    for k in range(n_merges):
        counts = get_pair_counts(ids)
        pair = max(counts, key=counts.get)
        ids = merge(ids, pair, 256 + k)
        merges.append((pair, 256 + k))
    return merges


def notebook_function(source, **names):
    """A function as a learner's notebook defines it: its global names (earlier answers) come from ``names``, and its
    source can be read (as a notebook cell's can: JupyterLab registers each cell's text with linecache)."""
    namespace = dict(names)
    filename = f"<notebook cell {len(linecache.cache)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - test helper, fixed source
    return namespace[source.split("(")[0].split()[-1]]


TRAIN_WITH_HELPERS = """
def train_merges(text, n_merges):
    ids, merges = list(text.encode("utf-8")), []
    for k in range(n_merges):
        counts = get_pair_counts(ids)
        pair = bpe.most_frequent_pair(counts)
        ids = merge(ids, pair, 256 + k)
        merges.append((pair, 256 + k))
    return merges
"""


def test_train_merges_names_the_tie_rule_with_expected_and_got():
    assert_rejects(ch03.train_merges, train_first_seen_tie,
                   match=r"merge 3 differs: expected \(\(32, 116\), 258\) = ' ' \+ 't' \(count 2\), got "
                         r"\(\(256, 97\), 258\) = 'aa' \+ 'a' \(also count 2\) - a TIE: the smallest pair")


def test_train_merges_blames_a_broken_helper():
    ok = notebook_function(TRAIN_WITH_HELPERS, get_pair_counts=counts_ok, merge=merge_ok, bpe=bpe)
    assert_passes(ch03.train_merges, ok)
    bad_counts = notebook_function(TRAIN_WITH_HELPERS, get_pair_counts=counts_stop_early, merge=merge, bpe=bpe)
    assert_rejects(ch03.train_merges, bad_counts, match=r"calls your get_pair_counts, which is wrong.*exercise 3\.2")
    bad_merge = notebook_function(TRAIN_WITH_HELPERS, get_pair_counts=get_pair_counts, merge=merge_keep_right, bpe=bpe)
    assert_rejects(ch03.train_merges, bad_merge, match=r"calls your merge, which is wrong.*exercise 3\.3")


TRAIN_WITH_THE_REFERENCE = """
def train_merges(text, n_merges):
    ids, merges = list(text.encode("utf-8")), []
    for k in range(n_merges):
        counts = bpe.get_pair_counts(ids)
        pair = bpe.most_frequent_pair(counts)
        ids = bpe.merge(ids, pair, 255 + k)
        merges.append((pair, 255 + k))
    return merges
"""


class GradedFunction:
    """A learner's function as the grader hands it to a check: calls go through to it, and its source is the one the
    notebook shows, given through the checks' protocol (``source_of`` / ``global_used``), as the grader's stand-in
    gives it."""

    def __init__(self, fn, source):
        self.fn, self.source, self.__name__ = fn, source, fn.__name__

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


source_of.register(GradedFunction, lambda fn: fn.source)
global_used.register(GradedFunction, lambda fn, name: global_used(fn.fn, name))


def test_train_merges_does_not_blame_a_helper_it_only_reaches_through_bpe():
    """bpe.merge puts the name merge in the function's code too; the learner's broken merge is not what it calls."""
    namespace = {"get_pair_counts": counts_stop_early, "merge": merge_keep_right, "bpe": bpe}
    exec(compile(TRAIN_WITH_THE_REFERENCE, "<no source>", "exec"), namespace)  # noqa: S102 - fixed source
    fn = namespace["train_merges"]
    assert source_of(fn) is None and global_used(fn, "merge") is merge_keep_right  # the protocol is the only way
    assert_rejects(ch03.train_merges, GradedFunction(fn, TRAIN_WITH_THE_REFERENCE), match="256, 257, 258")
    # it is the source that tells bpe.merge from merge: without it, the learner's merge is the one found
    assert learner_helper(GradedFunction(fn, TRAIN_WITH_THE_REFERENCE), "merge") is None
    assert learner_helper(GradedFunction(fn, None), "merge") is merge_keep_right


# ---------------------------------------------------------------- 3.6
def encode_ok(text, merges):
    ids = list(text.encode("utf-8"))
    for pair, new_id in merges:
        ids = merge(ids, pair, new_id)
    return ids


def test_encode():
    assert_passes(ch03.encode, encode_ok)
    assert_not_attempted(ch03.encode, stub_function)
    assert_rejects(ch03.encode, lambda text, merges: list(text.encode()), match="raw bytes")
    assert_rejects(ch03.encode, lambda text, merges: encode_ok(text, merges[::-1]), match="reverse")
    assert_rejects(ch03.encode, lambda text, merges: encode_ok(text, merges[:1]), match="ALL merges")

    def with_ord(text, merges):
        ids = [ord(c) for c in text]
        for pair, new_id in merges:
            ids = merge(ids, pair, new_id)
        return ids
    assert_rejects(ch03.encode, with_ord, match="239")

    def ascii_only(text, merges):
        return encode_ok(text.encode("ascii", errors="ignore").decode(), merges)
    assert_rejects(ch03.encode, ascii_only, match="went missing")


ENCODE_WITH_MERGE = """
def encode(text, merges):
    ids = list(text.encode("utf-8"))
    for pair, new_id in merges:
        ids = merge(ids, pair, new_id)
    return ids
"""


def test_encode_blames_a_broken_merge_not_encode():
    assert_passes(ch03.encode, notebook_function(ENCODE_WITH_MERGE, merge=merge_ok))
    for broken in (merge_first_only, merge_keep_right):
        assert_rejects(ch03.encode, notebook_function(ENCODE_WITH_MERGE, merge=broken),
                       match=r"encode calls your merge, which is wrong: merge\(.*\) gave .*, expected .* "
                             r"- fix merge first \(exercise 3\.3\)")
    assert_rejects(ch03.encode, notebook_function(ENCODE_WITH_MERGE, merge=stub_function),
                   match="calls your merge, which is not written yet")

    def crashing(ids, pair, new_id):
        return [ids[i] for i in range(len(ids) + 1)]
    assert_rejects(ch03.encode, notebook_function(ENCODE_WITH_MERGE, merge=crashing),
                   match=r"merge\(.*\) raised IndexError")


def test_encode_first_occurrence_only_is_caught_without_helpers():
    def encode_first_only(text, merges):
        ids = list(text.encode("utf-8"))
        for pair, new_id in merges:
            ids = merge_first_only(ids, pair, new_id)
        return ids
    # a module-level merge_first_only is not the learner's merge: the message is about encode itself
    assert_rejects(ch03.encode, encode_first_only, match=r"encode\('low lower lowest'\) merged only the FIRST")


# ---------------------------------------------------------------- 3.7
def decode_ok(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("utf-8")


def test_decode():
    assert_passes(ch03.decode, decode_ok)
    assert_not_attempted(ch03.decode, stub_function)
    assert_rejects(ch03.decode, lambda ids, vocab: b"".join(vocab[i] for i in ids), match="returned bytes")
    assert_rejects(ch03.decode, lambda ids, vocab: "".join(vocab[i].decode("utf-8", errors="replace")
                                                            for i in ids), match="on its own")
    assert_rejects(ch03.decode, lambda ids, vocab: "".join(chr(b) for i in ids for b in vocab[i]),
                   match="Latin-1")
    assert_rejects(ch03.decode, lambda ids, vocab: " ".join(vocab[i].decode("utf-8", errors="replace")
                                                             for i in ids), match="on its own|extra spaces")
    assert_rejects(ch03.decode, lambda ids, vocab: b"".join(vocab[i] for i in ids).decode().lower() + "!",
                   match="should be 'low é'")


def test_quiz_rare_words():
    assert_passes(ch03.quiz_rare_words, "b")
    assert_passes(ch03.quiz_rare_words, " B")
    assert_not_attempted(ch03.quiz_rare_words, ...)
    assert_rejects(ch03.quiz_rare_words, "a", match="length limit")
    assert_rejects(ch03.quiz_rare_words, "c", match="capitals")
    assert_rejects(ch03.quiz_rare_words, "d", match="never fails")
    assert_rejects(ch03.quiz_rare_words, "x", match="one letter")


# ---------------------------------------------------------------- the check never trusts what fn did to its input
def encode_then_cut_merges(text, merges):
    """Right on the first text, then cuts the shared merges down to one: a check that computed the next expected
    ids from those same merges would find every later (wrong) answer right."""
    ids = encode_ok(text, merges)
    del merges[1:]
    return ids


def test_encode_rejects_a_function_that_changes_the_merges():
    assert_rejects(ch03.encode, encode_then_cut_merges, match="changed its input `merges` in place")
