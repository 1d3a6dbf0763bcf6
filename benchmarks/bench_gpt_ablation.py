"""What the tiny GPT's positions and tied head are worth (notebook 09, section 4.8), measured by training.

    .venv/bin/python benchmarks/bench_gpt_ablation.py --runs /tmp/ablation                 # every run, one by one
    .venv/bin/python benchmarks/bench_gpt_ablation.py --runs /tmp/ablation --only rope     # one variant (parallel)
    .venv/bin/python benchmarks/bench_gpt_ablation.py --runs /tmp/ablation --collect       # -> the committed files

Four variants of notebook 09's model (4 layers, d = 96, 4 heads, context 64, vocabulary 512), each trained from
scratch on the same corpus with the same recipe, shorter than the showcase run (1,000 steps of 32 x 64 tokens, warm-up
100, cosine 3e-3 -> 3e-4, AdamW as ``utils.train_gpt``):

- ``learned`` - GPT-2: a learned position table ``wpe`` and the output head tied to ``wte`` (the showcase model);
- ``rope`` - no table; queries and keys rotated by their position (notebook 06);
- ``none`` - no position signal at all: only the causal mask (a position sees the ones before it);
- ``untied`` - GPT-2's positions, but the output head is a separate (vocab, d) matrix.

Each run writes ``RUNS/<variant>_seed<k>.json`` (its curves, final validation loss on 64 fixed batches, time);
``--collect`` merges them into ``data/tiny_gpt/ablation.json`` and draws ``docs/images/tiny_gpt_ablation.png``,
which the notebook loads instead of training four models.
"""
from __future__ import annotations

import argparse
import datetime
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from utils import train_gpt
from utils.gpt import GPT, GPTConfig

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed and stored

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "tiny_gpt" / "ablation.json"
PNG = ROOT / "docs" / "images" / "tiny_gpt_ablation.png"
VARIANTS = {"learned": {}, "rope": {"positions": "rope"}, "none": {"positions": "none"}, "untied": {"tie_head": False}}
LABELS = {"learned": "learned positions, tied head (GPT-2)", "rope": "RoPE, tied head",
          "none": "no positions, tied head", "untied": "learned positions, untied head"}
TRAIN = train_gpt.TrainConfig(steps=1000, batch_size=32, lr=3e-3, min_lr=3e-4, warmup_steps=100, eval_every=100)
FINAL_EVAL_BATCHES = 64


def run(variant: str, seed: int, tokenizer, train_ids, val_ids) -> dict:
    """Train one variant from scratch -> its curves and final validation loss."""
    cfg = replace(TRAIN, seed=seed)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=len(tokenizer.vocab), **VARIANTS[variant]))
    began = time.perf_counter()
    history = train_gpt.train(model, train_ids, val_ids, cfg, progress=False)
    seconds = time.perf_counter() - began
    loss = np.array(history["train_loss"])
    final = train_gpt.evaluate(model, val_ids, replace(cfg, eval_batches=FINAL_EVAL_BATCHES))
    return {"variant": variant, "seed": seed, "config": model.cfg.to_dict(), "parameters": model.num_params(),
            "val_step": history["val_step"], "val_loss": [round(v, 4) for v in history["val_loss"]],
            "train_loss_mean100": [round(float(loss[max(0, s - 100):s].mean()), 4) for s in history["val_step"]],
            "final_val_loss": round(final, 4), "seconds": round(seconds, 1)}


def collect(runs_dir: Path, threads: int) -> dict:
    """Merge the per-run files into one result, in VARIANTS order, and draw the figure."""
    runs = [json.loads(p.read_text()) for p in sorted(runs_dir.glob("*_seed*.json"))]
    runs.sort(key=lambda r: (list(VARIANTS).index(r["variant"]), r["seed"]))
    result = {
        "command": "python benchmarks/bench_gpt_ablation.py",
        "date": datetime.date.today().isoformat(),
        "machine": describe(f"{threads} per run"),      # the machine that merged the runs; each run names its own
        "train_config": {k: v for k, v in vars(TRAIN).items() if k != "seed"},
        "final_eval_tokens": FINAL_EVAL_BATCHES * TRAIN.batch_size * GPTConfig().block_size,
        "runs": runs,
    }
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    plot(result, PNG)
    return result


def plot(result: dict, path: Path) -> None:
    """Validation curves of every run (one colour per variant, one line per seed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(11, 4.2))
    labelled = set()
    for r in result["runs"]:
        c = f"C{list(VARIANTS).index(r['variant'])}"
        label = None if r["variant"] in labelled else f"{LABELS[r['variant']]} ({r['parameters']:,} parameters)"
        labelled.add(r["variant"])
        for a in (ax, zoom):
            a.plot(r["val_step"], r["val_loss"], "o-", ms=2.5, lw=1, alpha=0.8, color=c, label=label)
    steps = result["train_config"]["steps"]
    seeds = len({r["seed"] for r in result["runs"]})
    fig.suptitle(f"tiny GPT ablation: 4 layers, d = 96, {steps:,} steps of 32 x 64 tokens, {seeds} seeds per variant "
                 "(one line each)", fontsize=11)
    ax.set(xlabel="optimizer step", ylabel="validation cross-entropy (nats / token)", title="every evaluation")
    zoom.set(xlabel="optimizer step", xlim=(steps * 0.45, steps + 20), ylim=_zoom_limits(result, steps * 0.45),
             title="the last half, zoomed in")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _zoom_limits(result: dict, from_step: float) -> tuple[float, float]:
    values = [v for r in result["runs"] for s, v in zip(r["val_step"], r["val_loss"]) if s >= from_step]
    pad = 0.05 * (max(values) - min(values))
    return min(values) - pad, max(values) + pad


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="folder for the per-run result files")
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--collect", action="store_true", help="merge the runs into the committed files")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = describe(f"{args.threads} per run")
    print(machine, flush=True)
    if args.collect:
        result = collect(args.runs, args.threads)
        for r in result["runs"]:
            print(f"{r['variant']:8s} seed {r['seed']}  final validation {r['final_val_loss']:.3f}  {r['seconds']:.0f} s")
        print("wrote", OUT, "and", PNG)
        return 0
    tokenizer, train_ids, val_ids = train_gpt.load_corpus(GPTConfig().vocab_size)
    args.runs.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for variant in args.only:
            r = {**run(variant, seed, tokenizer, train_ids, val_ids), "machine": machine}
            (args.runs / f"{variant}_seed{seed}.json").write_text(json.dumps(r) + "\n")
            print(f"{variant:8s} seed {seed}  final validation {r['final_val_loss']:.3f}  {r['seconds']:.0f} s",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
