"""word2vec on the WordNet glosses: the course's torch SGNS (utils/word2vec/) vs gensim at equal time budgets.

    .venv/bin/python benchmarks/bench_word2vec.py                       # budgets 15, 30, 40, 60 s, epochs 1, 2 (~9 min)
    .venv/bin/python benchmarks/bench_word2vec.py --budgets 15 30       # quicker
    .venv/bin/python benchmarks/bench_word2vec.py --device cuda         # ours on a GPU (gensim has no GPU path)

Same corpus (utils.wordnet.gloss_corpus: 117,659 WordNet synsets, ~1.76M tokens), same settings for both: skip-gram
with notebook 05's ``COURSE_SETTINGS`` (dimensions, window, negatives, min_count, subsampling; printed at the start),
one CPU thread each (gensim workers=1).

* ours: ``train_sgns(..., time_budget=T)`` - trains until T seconds have passed (vocabulary building included), the
  learning rate decaying linearly to 0 over the budget;
* gensim: the vocabulary is built, then it trains one epoch per ``train()`` call, its learning rate decaying
  linearly over the budget (``start_alpha``/``end_alpha``), until the next epoch would end more than half an epoch
  past the budget - so its actual time is within about half an epoch of the budget (printed);
* gensim runs twice: with the same starting learning rate as ours (``--lr``, by default notebook 05's), and with
  its default (0.025).

A second table (``--epochs``, default 1 2) gives both exactly the same number of epochs with the same starting
learning rate: its quality columns do not depend on how busy the machine is, which the equal-time table's do (a
loaded machine gets fewer epochs done in the same seconds, and the two implementations rarely get slowed equally).

Columns: wall and CPU seconds of the training call (vocabulary building included), epochs done, raw corpus
words per wall second, WordSim-353 Spearman (pairs with both words known) and the accuracy on the "family" section of
the Google analogies. Not a test: times depend on the machine and on whatever else runs on it, so the load average
is printed too.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime

import numpy as np
import torch

from utils import word2vec as w2v
from utils.wordnet import gloss_corpus

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table


def load_average() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def evaluate(kv) -> tuple[float, float]:
    rho, _ = w2v.wordsim_spearman(kv)
    family, _ = w2v.analogy_accuracy(kv, sections=("family",))
    return rho, family


def run_ours(corpus, settings, budget, device):
    start, cpu = time.perf_counter(), time.process_time()
    wv = w2v.train_sgns(corpus, **{**settings, "epochs": 10_000}, time_budget=budget, device=device)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    epochs = wv.info["epochs_done"]
    return dict(wall=wall, cpu=cpu, epochs=epochs, words_per_s=wv.info["raw_tokens"] * epochs / wall), wv


def run_gensim(corpus, settings, budget, alpha, workers):
    """gensim under the same clock as ours: build the vocabulary, then train one epoch at a time with the learning
    rate decaying linearly over the budget (``start_alpha``/``end_alpha`` of each call), and stop when the next epoch
    would end more than half an epoch past the budget. So gensim, like ours, adapts to the speed of the machine."""
    from gensim.models import Word2Vec

    start, cpu = time.perf_counter(), time.process_time()
    model = Word2Vec(sg=1, vector_size=settings["dim"], window=settings["window"], negative=settings["negatives"],
                     min_count=settings["min_count"], sample=settings["subsample"], alpha=alpha,
                     min_alpha=0.0001 * alpha, workers=workers, seed=settings["seed"])
    model.build_vocab(corpus)
    epochs, last = 0, None
    while True:
        elapsed = time.perf_counter() - start
        if last is not None and elapsed + 0.5 * last > budget:
            break
        guess = last if last is not None else max(budget - elapsed, 1e-3)   # first epoch: assume it fills the budget
        a0 = alpha * max(1e-4, 1 - elapsed / budget)
        a1 = alpha * max(1e-4, 1 - (elapsed + guess) / budget)
        t = time.perf_counter()
        model.train(corpus, total_examples=model.corpus_count, epochs=1, start_alpha=a0, end_alpha=a1)
        last = time.perf_counter() - t
        epochs += 1
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return dict(wall=wall, cpu=cpu, epochs=epochs, words_per_s=model.corpus_total_words * epochs / wall), model.wv


def run_epochs(corpus, settings, epochs, device, workers):
    """Both implementations for exactly ``epochs`` epochs, learning rate decaying linearly from ``lr`` to ~0."""
    from gensim.models import Word2Vec

    rows = []
    start, cpu = time.perf_counter(), time.process_time()
    wv = w2v.train_sgns(corpus, **{**settings, "epochs": epochs}, device=device)
    rows.append((f"ours (torch, lr {settings['lr']:g})", time.perf_counter() - start, time.process_time() - cpu, wv))
    start, cpu = time.perf_counter(), time.process_time()
    model = Word2Vec(corpus, sg=1, vector_size=settings["dim"], window=settings["window"],
                     negative=settings["negatives"], min_count=settings["min_count"], sample=settings["subsample"],
                     alpha=settings["lr"], min_alpha=0.0001 * settings["lr"], workers=workers, seed=settings["seed"],
                     epochs=epochs)
    rows.append((f"gensim (alpha {settings['lr']:g})", time.perf_counter() - start, time.process_time() - cpu,
                 model.wv))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[15, 30, 40, 60], help="seconds (default 15 30 40 60)")
    parser.add_argument("--device", default="cpu", help="device for ours (cpu or cuda; default cpu)")
    parser.add_argument("--workers", type=int, default=1, help="gensim worker threads (default 1, like ours)")
    parser.add_argument("--epochs", type=int, nargs="*", default=[1, 2],
                        help="epoch counts of the equal-epochs table (default 1 2; none: skip it)")
    parser.add_argument("--lr", type=float, default=w2v.COURSE_SETTINGS["lr"],
                        help="starting learning rate of ours and of the first gensim row (default: %(default)s)")
    args = parser.parse_args()

    import gensim

    settings = {**w2v.COURSE_SETTINGS, "lr": args.lr}
    print(describe(f"gensim {args.workers} worker(s)"))
    print(f"# word2vec benchmark, {datetime.now():%Y-%m-%d %H:%M}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {load_average()} | torch {torch.__version__}, gensim "
          f"{gensim.__version__}")
    start = time.perf_counter()
    corpus = gloss_corpus()
    print(f"corpus: {len(corpus):,} sentences, {sum(map(len, corpus)):,} tokens (loaded in "
          f"{time.perf_counter() - start:.1f} s, not counted below)")
    print("settings:", {k: settings[k] for k in ("dim", "window", "negatives", "min_count", "subsample", "lr",
                                                 "batch_size", "share")})
    print()
    header = (f"{'budget':>6} | {'implementation':<26} | {'wall s':>6} | {'CPU s':>6} | {'epochs':>6} | "
              f"{'words/s':>9} | {'WordSim ρ':>9} | {'family':>6}")
    print(header)
    print("-" * len(header))
    results = {}
    for budget in args.budgets:
        rows = [(f"ours (torch, lr {args.lr:g})", lambda: run_ours(corpus, settings, budget, args.device)),
                (f"gensim (alpha {args.lr:g})", lambda: run_gensim(corpus, settings, budget, args.lr, args.workers)),
                ("gensim (alpha 0.025, dflt)", lambda: run_gensim(corpus, settings, budget, 0.025, args.workers))]
        for name, fn in rows:
            stats, kv = fn()
            rho, family = evaluate(kv)
            results[(budget, name.split()[0], name)] = rho
            print(f"{budget:6.0f} | {name:<26} | {stats['wall']:6.1f} | {stats['cpu']:6.1f} | {stats['epochs']:6.2f} | "
                  f"{stats['words_per_s']:9,.0f} | {rho:9.3f} | {family:6.3f}", flush=True)
        print("-" * len(header))
    print(f"load average at the end: {load_average()}")
    print()
    for budget in args.budgets:
        ours = max(v for (b, who, _), v in results.items() if b == budget and who == "ours")
        best_gensim = max(v for (b, who, _), v in results.items() if b == budget and who == "gensim")
        verdict = "ours >= gensim" if ours >= best_gensim else "gensim ahead"
        print(f"{budget:4.0f} s: ours {ours:.3f} vs best gensim {best_gensim:.3f} -> {verdict}")
    if 40 in args.budgets:
        ours40 = max(v for (b, who, _), v in results.items() if b == 40 and who == "ours")
        print(f"goal 'Spearman >= 0.55 at 40 s': {'met' if ours40 >= 0.55 else 'NOT met'} ({ours40:.3f})")
    if args.epochs:
        print()
        print("equal epochs (quality independent of the machine's load):")
        header = (f"{'epochs':>6} | {'implementation':<26} | {'wall s':>6} | {'CPU s':>6} | {'WordSim ρ':>9} | "
                  f"{'family':>6}")
        print(header)
        print("-" * len(header))
        for epochs in args.epochs:
            for name, wall, cpu, kv in run_epochs(corpus, settings, epochs, args.device, args.workers):
                rho, family = evaluate(kv)
                print(f"{epochs:6d} | {name:<26} | {wall:6.1f} | {cpu:6.1f} | {rho:9.3f} | {family:6.3f}", flush=True)
            print("-" * len(header))


if __name__ == "__main__":
    np.random.seed(0)
    main()
