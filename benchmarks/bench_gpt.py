"""Tiny-GPT speed (notebook 09): generation with/without the KV cache vs ``transformers`` GPT-2; training throughput.

One configuration, one set of weights: a random ``transformers`` ``GPT2LMHeadModel`` is built offline and copied into
our ``utils.gpt.GPT`` with ``GPT.from_gpt2`` (same logits to 1e-5), so both sides compute the same function.

- generation: greedy tokens/s from a 1-token prompt at 128, 256, 512 and 1024 new tokens for ours with the KV cache,
  ours without it, and ``transformers``' ``generate(use_cache=True)`` (and a check that all produce the same tokens);
- training: tokens/s of full optimizer steps (forward, backward, AdamW) for ours in fp32, ours under bf16 autocast and
  ``transformers`` GPT-2 in fp32, same batch and optimizer.

    .venv/bin/python benchmarks/bench_gpt.py [--layers 4] [--dim 128] [--heads 4] [--threads 2] [--lengths ...]

Goals (issue 20): ours cached >= 5x ours uncached at 512 tokens; ours cached >= transformers cached; our fp32 training
>= 0.9x transformers'. Timings are the best of ``--repeats`` runs. Offline; CPU unless ``--device cuda``.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from utils.gpt import GPT, generate
    from utils.train_gpt import lm_loss, make_optimizer, TrainConfig, autocast

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024])
    p.add_argument("--uncached-max", type=int, default=1024, help="skip ours-uncached above this length")
    p.add_argument("--batch", type=int, default=32, help="training batch (sequences)")
    p.add_argument("--seq", type=int, default=64, help="training sequence length")
    p.add_argument("--train-steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = a.device
    torch.manual_seed(0)
    ctx = max(max(a.lengths) + 1, a.seq)
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=a.vocab, n_positions=ctx, n_embd=a.dim, n_layer=a.layers,
                                    n_head=a.heads, bos_token_id=0, eos_token_id=0, resid_pdrop=0.0,
                                    embd_pdrop=0.0, attn_pdrop=0.0)).to(dev).eval()
    ours = GPT.from_gpt2(hf).to(dev).eval()
    print(f"# bench_gpt: {a.layers} layers, d={a.dim}, {a.heads} heads, vocab {a.vocab}, context {ctx}; "
          f"{ours.num_params():,} parameters; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")

    print("\n## generation (greedy, 1-token prompt, batch 1): tokens/s")
    print("| new tokens | ours + KV cache | ours, no cache | transformers + cache | cache speed-up | ours / HF | "
          "same tokens |")
    print("|---:|---:|---:|---:|---:|---:|:---:|")
    prompt = torch.tensor([[1]], device=dev)
    for n in a.lengths:
        out = {}
        t_c = best_of(lambda: out.__setitem__("c", generate(ours, prompt, n, temperature=0)), a.repeats)
        t_h = best_of(lambda: out.__setitem__("h", hf.generate(prompt, max_new_tokens=n, min_new_tokens=n,
                                                                do_sample=False, use_cache=True, pad_token_id=0)),
                      a.repeats)
        same = torch.equal(out["c"], out["h"])
        if n <= a.uncached_max:
            t_u = best_of(lambda: out.__setitem__("u", generate(ours, prompt, n, temperature=0, use_cache=False)), 1)
            same = same and torch.equal(out["c"], out["u"])
            unc, speed = f"{n / t_u:,.0f}", f"{t_u / t_c:.1f}x"
        else:
            unc, speed = "(skipped)", "-"
        print(f"| {n} | {n / t_c:,.0f} | {unc} | {n / t_h:,.0f} | {speed} | {t_h / t_c:.2f} | {same} |")

    print(f"\n## training (batch {a.batch} x {a.seq} tokens, AdamW, forward + backward + step): tokens/s")
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g).to(dev)
    y = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g).to(dev)

    def bench_train(model, forward, precision):
        cfg = TrainConfig(precision=precision)
        opt = make_optimizer(model, cfg)
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            with autocast(dev, precision):
                loss = lm_loss(forward(model, x), y)
            loss.backward()
            opt.step()

        step()                                                            # warm-up
        return a.batch * a.seq * a.train_steps / best_of(lambda: [step() for _ in range(a.train_steps)], a.repeats)

    rows = {
        "ours fp32": bench_train(GPT.from_gpt2(hf), lambda m, t: m(t), "fp32"),
        "ours bf16 autocast": bench_train(GPT.from_gpt2(hf), lambda m, t: m(t), "bf16"),
        "transformers GPT-2 fp32": bench_train(GPT2LMHeadModel(hf.config).to(dev), lambda m, t: m(t).logits, "fp32"),
    }
    ref = rows["transformers GPT-2 fp32"]
    print("| model | tokens/s | vs transformers |")
    print("|---|---:|---:|")
    for name, tps in rows.items():
        print(f"| {name} | {tps:,.0f} | {tps / ref:.2f} |")


if __name__ == "__main__":
    main()
