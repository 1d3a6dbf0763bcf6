"""What the temperature and the batch size do to contrastive training (notebook 11, section 6), measured.

    .venv/bin/python benchmarks/bench_contrastive_settings.py                  # writes the committed result file
    .venv/bin/python benchmarks/bench_contrastive_settings.py --seeds 0 1 --out /tmp/settings.json

Setting: notebook 11's fast one (``utils.contrastive.static_pair_setting``): a linear map 384 -> 128
(``utils.contrastive.train_adapter``, identity start, Adam lr 3e-3) trained with symmetric InfoNCE on the frozen
static MiniLM vectors of 20,000 WordNet (usage example, definition) pairs; evaluated by recall@10 and MRR on notebook
07's 300 queries against 1,000 definitions, none of them seen in training.

- temperatures 0.01 ... 1.0 at batch 256, 300 steps;
- batch sizes 4 ... 1024 at temperature 0.05, two budgets: the same number of steps (300: a bigger batch also sees
  more pairs) and the same number of pairs seen (76,800 = 300 x 256, batches 16 ... 1024: a smaller batch takes
  more, smaller steps).

Each setting is trained once per seed (the seed orders the batches; the start is the identity, so seeds differ only
in which pairs meet in a batch). Per setting: recall@10 and MRR of every seed, and the paired bootstrap interval
(``utils.embedding_eval.paired_bootstrap``, 10,000 resamples of the 300 queries) of its recall@10 minus the
reference setting's (temperature 0.05, batch 256), on per-query hits averaged over the seeds.
"""
from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np
import torch

from utils import contrastive, embedding_eval, retrieval

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed and stored

OUT = Path(__file__).resolve().parent.parent / "data" / "contrastive_settings" / "results.json"
TEMPERATURES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
BATCHES = (4, 16, 64, 256, 1024)
PAIRS_BATCHES = (16, 64, 256, 1024)                 # batch 4 would need 19,200 steps per seed
STEPS, REF_BATCH, REF_T, LR, DIM_OUT = 300, 256, 0.05, 3e-3, 128


def run(setting, seeds, *, temperature, batch_size, steps):
    """Train one setting per seed -> (per-seed recall@10, per-seed MRR, per-query hits averaged over seeds, seconds)."""
    recalls, mrrs, hits, start = [], [], [], time.perf_counter()
    for seed in seeds:
        adapter, _ = contrastive.train_adapter(setting["train_q"], setting["train_d"], steps=steps,
                                               batch_size=batch_size, temperature=temperature, lr=LR, seed=seed,
                                               dim_out=DIM_OUT)
        Q, D = adapter.transform(setting["queries"]), adapter.transform(setting["documents"])
        h = embedding_eval.recall_hits(Q, D, setting["gold"], k=10)
        hits.append(h)
        recalls.append(round(float(h.mean()), 4))
        mrrs.append(round(float(retrieval.evaluate_scores(Q @ D.T, setting["gold"])["MRR"]), 4))
    return recalls, mrrs, np.mean(hits, axis=0), time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: the matrices are small; more only contend on a shared machine)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = describe(args.threads)
    print(machine, flush=True)
    setting = contrastive.static_pair_setting()
    rows, ref_hits = [], None
    plan = [("temperature", t, REF_BATCH, STEPS) for t in TEMPERATURES]
    plan += [("batch, same steps", REF_T, b, STEPS) for b in BATCHES]
    plan += [("batch, same pairs seen", REF_T, b, STEPS * REF_BATCH // b) for b in PAIRS_BATCHES]
    cache = {}
    for sweep, t, b, steps in plan:
        key = (t, b, steps)
        if key not in cache:
            cache[key] = run(setting, args.seeds, temperature=t, batch_size=b, steps=steps)
        recalls, mrrs, hits, seconds = cache[key]
        if key == (REF_T, REF_BATCH, STEPS):
            ref_hits = hits
        rows.append({"sweep": sweep, "temperature": t, "batch_size": b, "steps": steps, "pairs_seen": steps * b,
                     "recall@10": recalls, "MRR": mrrs, "hits": hits, "seconds": round(seconds, 1)})
        print(f"{sweep:24s} t={t:<5} B={b:<5} steps={steps:<6} recall@10 {np.mean(recalls):.3f} "
              f"(seeds {recalls})  MRR {np.mean(mrrs):.3f}  {seconds:.1f} s", flush=True)
    for row in rows:
        row["vs_reference"] = embedding_eval.paired_bootstrap(ref_hits, row.pop("hits"))
    result = {
        "command": "python benchmarks/bench_contrastive_settings.py",
        "date": datetime.date.today().isoformat(),
        "machine": machine,
        "setting": {"model": f"linear map 384 -> {DIM_OUT} on frozen static MiniLM vectors", "pairs": 20000,
                    "lr": LR, "queries": len(setting["gold"]), "documents": len(setting["documents"]),
                    "seeds": args.seeds, "reference": {"temperature": REF_T, "batch_size": REF_BATCH,
                                                       "steps": STEPS}},
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
