"""GPT speed (notebook 09 and after it): generation with/without the KV cache and training, ours vs ``transformers``.

Two models, each against its ``transformers`` twin with the same weights (same logits to 1e-5), so both sides compute
the same function:

- ``gpt2``: notebook 09's ``utils.gpt.GPT``, copied from a random ``GPT2LMHeadModel`` with ``GPT.from_gpt2``;
- ``modern``: ``utils.llama.ModernGPT`` (RMSNorm, SwiGLU, RoPE, grouped-query attention with ``--kv-heads`` key/value
  heads), copied from a random ``LlamaForCausalLM`` with ``ModernGPT.from_llama``.

For each: greedy tokens/s from a 1-token prompt at 128, 256, 512 and 1024 new tokens for ours with the KV cache, ours
without it, and ``transformers``' ``generate(use_cache=True)`` (and a check that all produce the same tokens);
training tokens/s of full optimizer steps (forward, backward, AdamW) for ours in fp32, ours under bf16 autocast and
``transformers`` in fp32, same batch and optimizer.

    .venv/bin/python benchmarks/bench_gpt.py [--model gpt2|modern|both] [--layers 4] [--dim 128] [--heads 4]
                                             [--kv-heads 2] [--threads 2] [--lengths ...]

Goals: ours cached >= 5x ours uncached at 512 tokens; ours cached >= transformers cached; our fp32 training
>= 0.9x transformers'. Timings are the best of ``--repeats`` runs, in wall-clock seconds, or with ``--clock cpu`` in
this process's CPU seconds (steadier on a shared machine, where other jobs take the cores away; with ``--threads 1``
the two agree on a quiet one). Offline; CPU unless ``--device cuda``.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table

CLOCK = time.perf_counter                   # --clock cpu: time.process_time


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = CLOCK()
        fn()
        times.append(CLOCK() - t0)
    return min(times)


def build(kind: str, a, ctx: int):
    """(transformers model, ours copied from it, a function making a fresh pair for training, a title)."""
    if kind == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        from utils.gpt import GPT

        hf = GPT2LMHeadModel(GPT2Config(vocab_size=a.vocab, n_positions=ctx, n_embd=a.dim, n_layer=a.layers,
                                        n_head=a.heads, bos_token_id=0, eos_token_id=0, resid_pdrop=0.0,
                                        embd_pdrop=0.0, attn_pdrop=0.0))
        fresh = lambda: (GPT.from_gpt2(hf), GPT2LMHeadModel(hf.config))  # noqa: E731
        return hf, GPT.from_gpt2(hf), fresh, f"GPT-2 ({a.heads} heads)", "transformers GPT-2"
    from transformers import LlamaConfig, LlamaForCausalLM

    from utils.llama import ModernGPT

    # no bos/eos ids: generate must not stop early (or be kept from stopping, which changes its argmax)
    hf = LlamaForCausalLM(LlamaConfig(vocab_size=a.vocab, hidden_size=a.dim, intermediate_size=a.intermediate,
                                      num_hidden_layers=a.layers, num_attention_heads=a.heads,
                                      num_key_value_heads=a.kv_heads, max_position_embeddings=ctx,
                                      bos_token_id=None, eos_token_id=None, pad_token_id=0))
    fresh = lambda: (ModernGPT.from_llama(hf), LlamaForCausalLM(hf.config))  # noqa: E731
    return (hf, ModernGPT.from_llama(hf), fresh,
            f"modern: RMSNorm, SwiGLU {a.intermediate}, RoPE, {a.heads} query / {a.kv_heads} KV heads",
            "transformers Llama")


def bench(kind: str, a) -> None:
    from utils.gpt import generate
    from utils import train_gpt
    from utils.train_gpt import autocast, lm_loss, make_optimizer, TrainConfig

    dev = a.device
    torch.manual_seed(0)
    ctx = max(max(a.lengths) + 1, a.seq)
    hf, ours, fresh, title, hf_name = build(kind, a, ctx)
    hf, ours = hf.to(dev).eval(), ours.to(dev).eval()
    print(f"\n# {kind} -- {title}: {a.layers} layers, d={a.dim}, vocab {a.vocab}, context {ctx}; "
          f"{ours.num_params():,} parameters; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {a.clock} clock")
    # bf16 is native only with these (else emulated, slower than fp32): a table means little without them
    wanted = {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "bf16", "asimd"}
    print(f"# CPU flags that decide bf16: {', '.join(sorted(train_gpt.cpu_flags() & wanted)) or 'none found'}; "
          f"--precision auto picks {train_gpt.auto_precision(dev)[0]} here")

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
        model.to(dev)
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

    rows = {}
    for _ in range(a.train_rounds):                                       # interleaved rounds: load hits both sides
        ours_fp32, hf_fp32 = fresh()
        for name, tps in (("ours fp32", bench_train(ours_fp32, lambda m, t: m(t), "fp32")),
                          (f"{hf_name} fp32", bench_train(hf_fp32, lambda m, t: m(t).logits, "fp32"))):
            rows[name] = max(rows.get(name, 0.0), tps)
    rows["ours bf16 autocast"] = bench_train(fresh()[0], lambda m, t: m(t), "bf16")
    ref = rows[f"{hf_name} fp32"]
    print("| model | tokens/s | vs transformers |")
    print("|---|---:|---:|")
    for name in ("ours fp32", "ours bf16 autocast", f"{hf_name} fp32"):
        print(f"| {name} | {rows[name]:,.0f} | {rows[name] / ref:.2f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["gpt2", "modern", "both"], default="both")
    # the benchmark's own size, one for both models (GPTConfig has no KV heads or SwiGLU width): benchmarks/README.md's
    # tables were measured at these defaults, so they stay fixed when notebook 09's model (GPTConfig's defaults) changes
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2, help="modern only: key/value heads (grouped-query attention)")
    p.add_argument("--intermediate", type=int, default=344, help="modern only: SwiGLU width (about 8/3 x dim)")
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024])
    p.add_argument("--uncached-max", type=int, default=1024, help="skip ours-uncached above this length")
    p.add_argument("--batch", type=int, default=32, help="training batch (sequences)")
    p.add_argument("--seq", type=int, default=64, help="training sequence length")
    p.add_argument("--train-steps", type=int, default=10)
    p.add_argument("--train-rounds", type=int, default=1, help="alternate ours / transformers this many times")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="cpu: this process's CPU seconds")
    a = p.parse_args()
    global CLOCK
    if a.clock == "cpu":
        if a.device != "cpu":
            p.error("--clock cpu measures the CPU only: use the wall clock with --device cuda")
        CLOCK = time.process_time
    if a.threads:
        torch.set_num_threads(a.threads)
    print(describe(a.threads or None))
    for kind in (["gpt2", "modern"] if a.model == "both" else [a.model]):
        bench(kind, a)


if __name__ == "__main__":
    main()
