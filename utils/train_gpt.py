"""Training pipeline for the tiny GPT of notebook 09 (``python -m utils.train_gpt --help``).

Why one long module: like nanoGPT's ``train.py``, the whole pipeline (batches, optimizer groups, schedule, one step,
evaluation, checkpoints, the command and its DDP launch) reads top to bottom in one file; each part is a small
function the notebook and the tests call on its own.

One optimizer step = ``accum_steps`` micro-batches, each loss divided by ``accum_steps`` before ``backward`` so the
summed gradient is the gradient of the mean loss over the whole batch; then clipping, the learning rate of the
schedule (linear warm-up, cosine decay to ``min_lr``) and one AdamW update (weight decay only on the 2-D matrices of
the blocks: not on embeddings, norms or biases).

- mixed precision: ``precision="bf16"`` runs the forward pass under ``torch.autocast`` (CPU or CUDA); ``"fp16"``
  (CUDA only) adds a gradient scaler so small fp16 gradients do not flush to zero. The weights and the optimizer
  state stay fp32 ("master weights") either way. The command's ``--precision auto`` picks bf16 only where the
  hardware computes it natively (:func:`auto_precision`: CUDA GPUs, CPUs with AVX512_BF16 or AMX); elsewhere bf16 is
  emulated and slower than fp32, so it trains in fp32;
- checkpoints hold the model, optimizer, scaler, step, batch-sampler state and history, written to a temporary file
  and renamed, so an interrupted run never leaves a half-written file; a resumed run continues exactly;
- data parallel: under ``torchrun`` each process draws its own batches, DDP averages the gradients (gloo on CPU,
  NCCL on GPUs) and ``no_sync`` skips that all-reduce on every micro-batch but the last.

    >>> cfg = TrainConfig(steps=100, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    >>> [round(lr_at(s, cfg), 6) for s in (0, 9, 10, 55, 100)]
    [0.0001, 0.001, 0.001, 0.00055, 0.0001]
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch.nn import functional as F

from utils.gpt import GPT, POSITIONS, GPTConfig, generate

__all__ = ["TrainConfig", "PRECISIONS", "CORPUS_CHARS", "corpus_lines", "load_corpus", "get_batch", "lm_loss",
           "ngram_baselines", "lr_at", "param_groups", "make_optimizer", "autocast", "cpu_flags", "auto_precision",
           "train_step", "evaluate", "sample", "save_checkpoint", "load_checkpoint", "CheckpointError", "train",
           "plot_history", "configs_from_args", "main"]

#: the precisions :class:`TrainConfig` accepts; the command adds "auto" (:func:`auto_precision` picks one of these)
PRECISIONS = ("fp32", "bf16", "fp16")

#: characters of WordNet glosses :func:`load_corpus` reads by default, and the command with it: notebook 09's
#: corpus, the one data/tiny_gpt/model.pt was trained on
CORPUS_CHARS = 2_000_000


@dataclass
class TrainConfig:
    """Optimisation settings. ``batch_size`` counts the sequences of one optimizer step in ONE process.

    The one place they and their defaults are written: the command's training options are built from these fields.
    """

    steps: int = 1000
    batch_size: int = 64
    accum_steps: int = 1
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 50
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    precision: str = "fp32"       # "fp32", "bf16" (autocast, CPU or CUDA) or "fp16" (CUDA, with a gradient scaler)
    eval_every: int = 100
    eval_batches: int = 8
    seed: int = 0

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be 'fp32', 'bf16' or 'fp16', got {self.precision!r}")
        if self.accum_steps < 1 or self.batch_size % self.accum_steps:
            raise ValueError(f"accum_steps ({self.accum_steps}) must be >= 1 and divide batch_size ({self.batch_size})")
        if self.steps < 1 or self.warmup_steps < 0:
            raise ValueError("steps must be >= 1 and warmup_steps >= 0")


# ------------------------------------------------------------------------------------------------------------ data
def corpus_lines(seed: int = 0) -> list[str]:
    """WordNet glosses as text, one ``"lemma: definition"`` line per synset, in a seeded random order.

    >>> corpus_lines()[0].count(":") >= 1
    True
    """
    from utils.wordnet import load_synsets
    lines = [f"{s.lemmas[0].replace('_', ' ')}: {s.definition}" for s in load_synsets()]
    random.Random(seed).shuffle(lines)                                       # topics mixed before the split
    return lines


def load_corpus(vocab_size: int = GPTConfig.vocab_size, n_chars: int = CORPUS_CHARS, val_fraction: float = 0.1,
                seed: int = 0, tokenizer=None):
    """Train the course's BPE (03) on the training text and encode both splits -> (tokenizer, train_ids, val_ids).

    The first ``n_chars`` characters of the shuffled glosses; the last ``val_fraction`` of the lines is validation.
    """
    from utils.bpe import GPT2_PATTERN, train_bpe
    lines, text_len, chosen = corpus_lines(seed), 0, []
    for line in lines:
        if text_len >= n_chars:
            break
        chosen.append(line)
        text_len += len(line) + 1
    n_val = max(1, int(len(chosen) * val_fraction))
    train_text, val_text = "\n".join(chosen[:-n_val]) + "\n", "\n".join(chosen[-n_val:]) + "\n"
    tok = tokenizer or train_bpe(train_text, vocab_size, pattern=GPT2_PATTERN)
    as_ids = lambda t: torch.tensor(tok.encode(t), dtype=torch.long)        # noqa: E731
    return tok, as_ids(train_text), as_ids(val_text)


def get_batch(data: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator):
    """Random windows of ``data``: inputs ``x (B, T)`` and next-token targets ``y`` = the same windows shifted by one.

    >>> x, y = get_batch(torch.arange(10), 2, 4, torch.Generator().manual_seed(0))
    >>> torch.equal(x[:, 1:], y[:, :-1])
    True
    """
    if len(data) <= block_size:
        raise ValueError(f"the data has {len(data)} tokens: need more than block_size={block_size}")
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)   # (B,)
    offsets = torch.arange(block_size)                                                   # (T,)
    x = data[starts[:, None] + offsets]                                                  # (B, T)
    y = data[starts[:, None] + offsets + 1]                                              # (B, T): next tokens
    return x, y


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits (B, T, V)`` against ``targets (B, T)`` (computed in fp32), in nats per token."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))


def ngram_baselines(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int, prior: float = 10.0):
    """Validation cross-entropy (nats/token) of a unigram and a bigram model counted on the training ids.

    Unigram: add-one smoothed frequencies. Bigram: ``P(b | a) = (count(a, b) + prior * P(b)) / (count(a) + prior)``,
    so a rare context falls back to the unigram.

    >>> uni, bi = ngram_baselines(torch.tensor([0, 1] * 50), torch.tensor([0, 1, 0, 1]), 2)
    >>> round(uni, 3), bi < 0.2
    (0.693, True)
    """
    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1.0
    p_uni = counts / counts.sum()                                                        # (V,)
    pair = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    pair.index_put_((train_ids[:-1], train_ids[1:]), torch.ones(len(train_ids) - 1, dtype=torch.float64),
                    accumulate=True)                                                     # (V, V) counts
    p_bi = (pair + prior * p_uni) / (pair.sum(1, keepdim=True) + prior)                  # rows sum to 1
    uni = -p_uni[val_ids].log().mean().item()
    bi = -p_bi[val_ids[:-1], val_ids[1:]].log().mean().item()
    return uni, bi


# ------------------------------------------------------------------------------------------------------- optimizer
def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up from ``lr / warmup_steps`` to ``lr``, then a cosine down to ``min_lr`` at ``cfg.steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - cfg.min_lr)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: decay for the 2-D weight matrices (the blocks', an untied head's); none for embeddings
    (wte, wpe), norms and biases.

    Shrinking an embedding row every step would pull rare tokens (few gradient updates) towards zero; norm gains
    and biases are few and have no "size" to regularise.

    >>> m = GPT(GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=1, n_embd=4))
    >>> [len(g["params"]) for g in param_groups(m, 0.1)]      # 4 matrices | wte, wpe, 4 biases, 3 norms x 2
    [4, 12]
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_embedding = name.split(".")[-2] in ("wte", "wpe", "embed_tokens")   # GPT's, ModernGPT's (utils.llama)
        (decay if p.ndim >= 2 and not is_embedding else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def autocast(device: str | torch.device, precision: str):
    """The forward-pass context for ``precision``: nothing for fp32, ``torch.autocast`` for bf16/fp16."""
    kind = torch.device(device).type
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and kind != "cuda":
        raise ValueError("fp16 training needs a CUDA GPU (and a gradient scaler); on CPU use precision='bf16'")
    return torch.autocast(kind, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


#: CPU flags (as Linux's /proc/cpuinfo names them) of instructions that compute bf16 products natively: Intel/AMD
#: AVX512_BF16, Intel AMX, and the Arm BF16 extension.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags: from ``cpuinfo`` (the text of /proc/cpuinfo) when given, else from this machine
    (Linux: /proc/cpuinfo; macOS: ``sysctl hw.optional.arm.FEAT_BF16``); an empty set when they cannot be read.

    >>> sorted(cpu_flags("processor : 0\\nflags : fpu avx2 avx512_bf16 amx_bf16\\n"))
    ['amx_bf16', 'avx2', 'avx512_bf16', 'fpu']
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            import platform
            import subprocess
            if platform.system() != "Darwin":
                return set()
            try:
                out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True,
                                     timeout=5).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                return set()
            return {"bf16"} if out == "1" else set()
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):                   # x86 "flags", Arm "Features"
            flags.update(value.split())
    return flags


def auto_precision(device: str | torch.device, flags: set[str] | None = None,
                   cuda_capability: tuple[int, int] | None = None) -> tuple[str, str]:
    """``(precision, reason)`` for ``--precision auto``: bf16 where the hardware computes it natively, else fp32.

    bf16 autocast pays on GPUs with bf16 tensor cores (CUDA compute capability 8.0 and later; older CUDA GPUs get
    fp16 with a gradient scaler) and on CPUs with AVX512_BF16, AMX or Arm's BF16 instructions. Without them the CPU
    emulates bf16 in fp32 arithmetic plus conversions, which is slower than plain fp32, so the answer is fp32.
    ``flags`` and ``cuda_capability`` default to this machine's.

    >>> auto_precision("cpu", flags={"avx2", "fma"})[0], auto_precision("cpu", flags={"avx2", "amx_bf16"})[0]
    ('fp32', 'bf16')
    >>> auto_precision("cuda", cuda_capability=(9, 0))[0], auto_precision("cuda", cuda_capability=(7, 5))[0]
    ('bf16', 'fp16')
    """
    kind = torch.device(device).type
    if kind == "cuda":
        major, minor = cuda_capability or torch.cuda.get_device_capability(torch.device(device))
        if major >= 8:
            return "bf16", f"CUDA GPU with compute capability {major}.{minor}: bf16 tensor cores"
        return "fp16", f"CUDA GPU with compute capability {major}.{minor}: no bf16 tensor cores, fp16 with a scaler"
    if kind == "cpu":
        native = sorted(set(NATIVE_BF16_FLAGS) & (cpu_flags() if flags is None else set(flags)))
        if native:
            return "bf16", f"the CPU computes bf16 natively ({', '.join(native)})"
        return "fp32", ("the CPU has no AVX512_BF16, AMX or Arm BF16 instructions: bf16 would be emulated and "
                        "slower than fp32")
    return "fp32", f"device {kind!r}: fp32 (bf16 autocast is chosen automatically only on CUDA and CPUs)"


def _unwrap(model):
    return model.module if hasattr(model, "module") else model                           # DDP keeps it in .module


def train_step(model, optimizer, micro_batches, cfg: TrainConfig, step: int, scaler=None) -> float:
    """One optimizer step over a list of ``(x, y)`` micro-batches; returns the mean loss (a float).

    Each micro-batch loss is divided by the number of micro-batches, so the accumulated gradient equals the gradient
    of one batch that holds them all. Under DDP only the last backward all-reduces the gradients (``no_sync``).
    """
    k = len(micro_batches)
    device = next(model.parameters()).device
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for i, (x, y) in enumerate(micro_batches):
        last = i == k - 1
        sync = contextlib.nullcontext() if last or not hasattr(model, "no_sync") else model.no_sync()
        with sync:
            with autocast(device, cfg.precision):
                loss = lm_loss(model(x.to(device)), y.to(device)) / k                    # scaled for accumulation
            (scaler.scale(loss) if scaler is not None else loss).backward()
        total += loss.item()
    if scaler is not None:
        scaler.unscale_(optimizer)                                                       # clip the true gradients
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    for group in optimizer.param_groups:
        group["lr"] = lr_at(step, cfg)
    if scaler is not None:
        scaler.step(optimizer)                                                           # skipped on inf/nan
        scaler.update()
    else:
        optimizer.step()
    return total


@torch.no_grad()
def evaluate(model, data: torch.Tensor, cfg: TrainConfig, batch_size: int | None = None) -> float:
    """Mean validation loss over ``cfg.eval_batches`` batches drawn with a FIXED seed (the same windows each time)."""
    net = _unwrap(model)
    was_training = net.training
    net.eval()
    g = torch.Generator().manual_seed(1234)
    device = next(net.parameters()).device
    losses = []
    for _ in range(cfg.eval_batches):
        x, y = get_batch(data, batch_size or cfg.batch_size, net.cfg.block_size, g)
        with autocast(device, cfg.precision):
            losses.append(lm_loss(net(x.to(device)), y.to(device)).item())
    net.train(was_training)
    return sum(losses) / len(losses)


# ----------------------------------------------------------------------------------------------------- checkpoints
class CheckpointError(ValueError):
    """A checkpoint that cannot be used: corrupt, not a checkpoint, or made for another model configuration."""


def save_checkpoint(path, model, optimizer=None, scaler=None, *, step: int = 0, train_cfg: TrainConfig | None = None,
                    sampler: torch.Generator | None = None, history: dict | None = None, tokenizer=None) -> Path:
    """Write everything a run needs to continue to ``path``: first to ``path.tmp``, then an atomic rename."""
    net = _unwrap(model)
    state = {
        "format": "course-tiny-gpt-1",
        "model_config": net.cfg.to_dict(),
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "step": step,
        "train_config": asdict(train_cfg) if train_cfg is not None else None,
        "sampler": sampler.get_state() if sampler is not None else None,
        "history": history,
        "tokenizer": None if tokenizer is None else {"merges": [[a, b, z] for (a, b), z in tokenizer.merges],
                                                     "pattern": tokenizer.pattern},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)                                          # readers see the old file or the new one, never half
    return path


def load_checkpoint(path, model=None, optimizer=None, scaler=None, map_location="cpu") -> dict:
    """Read a checkpoint (and load it into ``model``/``optimizer``/``scaler`` when given); returns the state dict.

    Raises :class:`CheckpointError` with one line for a missing, corrupt or foreign file, or another configuration.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:                                       # truncated zip, random bytes, pickle errors ...
        raise CheckpointError(f"{path} is corrupt or not a checkpoint ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != "course-tiny-gpt-1":
        raise CheckpointError(f"{path} is not a tiny-GPT checkpoint of this course")
    if model is not None:
        net = _unwrap(model)
        want, got = net.cfg.to_dict(), state["model_config"]
        diff = {k: (got.get(k), v) for k, v in want.items() if k != "fast_attention" and got.get(k) != v}
        if diff:
            k, (saved, now) = next(iter(diff.items()))
            raise CheckpointError(f"{path} was saved for another model: {k}={saved} there, {k}={now} here")
        net.load_state_dict(state["model"])
    if optimizer is not None and state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and state["scaler"] is not None:
        scaler.load_state_dict(state["scaler"])
    return state


#: The model notebook 09 loads (found from any working folder); data/tiny_gpt/train_log.txt holds the command that
#: trained it and that command's printout.
SHOWCASE_CHECKPOINT = Path(__file__).resolve().parent.parent / "data" / "tiny_gpt" / "model.pt"


def model_from_checkpoint(path, map_location="cpu"):
    """(model, tokenizer, state) rebuilt from a checkpoint saved with a tokenizer (as the command does)."""
    from utils.bpe import BPETokenizer
    state = load_checkpoint(path, map_location=map_location)
    model = GPT(GPTConfig(**state["model_config"]))
    load_checkpoint(path, model, map_location=map_location)
    t = state["tokenizer"]
    tok = None if t is None else BPETokenizer([((a, b), z) for a, b, z in t["merges"]], t["pattern"])
    return model.eval(), tok, state


# --------------------------------------------------------------------------------------------------------- training
def _is_main() -> bool:
    return not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0


def train(model, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig, *, checkpoint=None,
          resume: bool = False, stop_after: int | None = None, progress: bool = True, tokenizer=None,
          max_seconds: float | None = None, sample_at=()) -> dict:
    """Train ``model`` for ``cfg.steps`` optimizer steps (or until ``stop_after`` / ``max_seconds``) -> history.

    ``history`` holds lists ``step``, ``train_loss``, ``lr``, ``val_step``, ``val_loss``. With ``checkpoint`` the
    state is saved at every evaluation and at the end; ``resume=True`` continues from it exactly. After each step
    in ``sample_at`` (0 = before the first) ``history["samples"]`` gets ``{step: text}``, a :func:`sample` of the
    model; it draws from its own generator, so the run is the same with or without it.
    """
    from tqdm.auto import tqdm
    net = _unwrap(model)
    device = next(net.parameters()).device
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    optimizer = make_optimizer(model, cfg)
    scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" else None
    sampler = torch.Generator().manual_seed(cfg.seed + 1000 * rank)                     # each process its own data
    if sample_at and tokenizer is None:
        raise ValueError("sample_at needs the tokenizer (tokenizer=...) to write the samples as text")
    history = {"step": [], "train_loss": [], "lr": [], "val_step": [], "val_loss": []}
    start = 0
    if resume:
        state = load_checkpoint(checkpoint, model, optimizer, scaler, map_location=device)
        start, history = state["step"], state["history"]
        sampler.set_state(state["sampler"])
    if sample_at:
        history.setdefault("samples", {})          # a resumed run keeps the samples it already wrote
    micro = cfg.batch_size // cfg.accum_steps
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    began = time.perf_counter()
    bar = tqdm(range(start, end), disable=not (progress and _is_main()), desc="training", unit="step")
    if 0 in sample_at and start == 0:
        history["samples"][0] = sample(net, tokenizer, cfg.seed)
    model.train()
    step = start
    for step in bar:
        batches = [get_batch(train_ids, micro, net.cfg.block_size, sampler) for _ in range(cfg.accum_steps)]
        loss = train_step(model, optimizer, batches, cfg, step, scaler)
        history["step"].append(step + 1)
        history["train_loss"].append(loss)
        history["lr"].append(lr_at(step, cfg))
        if step + 1 in sample_at:
            history["samples"][step + 1] = sample(net, tokenizer, cfg.seed)
            model.train()
        last = step + 1 == end or (max_seconds is not None and time.perf_counter() - began > max_seconds)
        if (step + 1) % cfg.eval_every == 0 or last:
            history["val_step"].append(step + 1)
            history["val_loss"].append(evaluate(model, val_ids, cfg))
            bar.set_postfix(train=f"{loss:.3f}", val=f"{history['val_loss'][-1]:.3f}")
            if checkpoint is not None and _is_main():
                save_checkpoint(checkpoint, model, optimizer, scaler, step=step + 1, train_cfg=cfg, sampler=sampler,
                                history=history, tokenizer=tokenizer)
        if last:
            break
    bar.close()
    return history


def sample(model, tokenizer, seed: int = 0, prompt: str = "dog:") -> str:
    """The run's sample: ``prompt`` continued to the full context (temperature 0.8, top-k 40, generator ``seed``).

    The prompt ends without a space: in the training text a space starts the next token (notebook 09, section 5).
    """
    ids = tokenizer.encode(prompt)
    model.eval()
    ids = generate(model, ids, model.cfg.block_size - len(ids), temperature=0.8, top_k=40,
                   generator=torch.Generator().manual_seed(seed))
    return tokenizer.decode(ids)


def plot_history(history: dict, path=None, baselines: dict | None = None, title: str = "tiny GPT on WordNet glosses"):
    """Train/validation curves (and horizontal baseline lines); saved as PNG when ``path`` is given."""
    import matplotlib
    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(history["step"], history["train_loss"], lw=0.8, alpha=0.7, label="train (one batch)")
    ax.plot(history["val_step"], history["val_loss"], "o-", label="validation")
    for (name, value), style in zip((baselines or {}).items(), ("--", ":", "-.")):
        ax.axhline(value, ls=style, color="gray", label=f"{name} baseline {value:.2f}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


# -------------------------------------------------------------------------------------------------------- command
#: GPTConfig's field the command does not offer: the attention kernel changes the speed, not the numbers
_NOT_ON_COMMAND_LINE = ("fast_attention",)
_CHOICES = {"positions": POSITIONS, "precision": PRECISIONS + ("auto",)}
_HELP = {
    "vocab_size": "tokens in the vocabulary: the BPE trained on the corpus and the model's embedding table",
    "block_size": "context length",
    "n_layer": "transformer blocks",
    "n_head": "attention heads per block",
    "n_embd": "model width d, a multiple of n_head",
    "tie_head": "the output head reuses the token embedding wte",
    "steps": "optimizer steps",
    "batch_size": "sequences per optimizer step, in each process",
    "accum_steps": "micro-batches per optimizer step (divides batch_size)",
    "eval_every": "steps between validation losses and checkpoints",
    "precision": "auto: bf16 on CUDA GPUs and on CPUs with AVX512_BF16/AMX (native bf16), fp16 on older CUDA GPUs, "
                 "fp32 elsewhere",
}


def _command_fields(config_cls) -> list[str]:
    """The fields of ``config_cls`` (GPTConfig or TrainConfig) that the command offers as options."""
    return [f.name for f in fields(config_cls) if f.name not in _NOT_ON_COMMAND_LINE]


def _add_config_options(group, config_cls) -> None:
    """One ``--option`` per field the command offers, its default the field's default."""
    defaults = config_cls()
    for name in _command_fields(config_cls):
        value = getattr(defaults, name)
        if isinstance(value, bool):                                 # --tie-head / --no-tie-head
            kwargs = {"action": argparse.BooleanOptionalAction}
        else:
            kwargs = {"choices": _CHOICES[name]} if name in _CHOICES else {"type": type(value)}
        help_text = f"{_HELP[name]} " if name in _HELP else ""
        group.add_argument(f"--{name.replace('_', '-')}", default=value, help=help_text + "(default: %(default)s)",
                           **kwargs)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m utils.train_gpt",
                                description="Train the course's tiny GPT on WordNet glosses tokenized with the "
                                            "course's BPE; writes ckpt.pt, curves.png and sample.txt to --out. "
                                            "Data parallel: torchrun --nproc_per_node N -m utils.train_gpt ...")
    p.add_argument("--out", default="runs/tiny_gpt", help="output folder (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/ckpt.pt")
    p.add_argument("--chars", type=int, default=CORPUS_CHARS, help="corpus size in characters (default: %(default)s)")
    _add_config_options(p.add_argument_group("model (utils.gpt.GPTConfig)"), GPTConfig)
    _add_config_options(p.add_argument_group("training (TrainConfig)"), TrainConfig)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--sample-at", type=int, nargs="*", default=[], metavar="STEP",
                   help="also write a sample after these steps (0 = before training) into the run's history")
    return p


def configs_from_args(args: argparse.Namespace) -> tuple[GPTConfig, TrainConfig]:
    """The model and training settings of parsed command-line ``args`` (``--precision auto`` already resolved).

    >>> model_cfg, train_cfg = configs_from_args(_parser().parse_args([]))
    >>> model_cfg == GPTConfig(), train_cfg == TrainConfig()
    (True, True)
    """
    return (GPTConfig(**{name: getattr(args, name) for name in _command_fields(GPTConfig)}),
            TrainConfig(**{name: getattr(args, name) for name in _command_fields(TrainConfig)}))


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = args.device
    if world > 1:
        backend = "nccl" if device.startswith("cuda") else "gloo"
        torch.distributed.init_process_group(backend)
        if backend == "nccl":
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
            torch.cuda.set_device(device)
    if args.threads:
        torch.set_num_threads(args.threads)
    why = "as asked"
    if args.precision == "auto":
        args.precision, why = auto_precision(device)
    mcfg, cfg = configs_from_args(args)
    out = Path(args.out)
    torch.manual_seed(cfg.seed)
    tok, train_ids, val_ids = load_corpus(mcfg.vocab_size, args.chars, seed=cfg.seed)
    model = GPT(mcfg).to(device)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        model = DistributedDataParallel(model, device_ids=[device] if device.startswith("cuda") else None)
    uni, bi = ngram_baselines(train_ids, val_ids, mcfg.vocab_size)
    if _is_main():
        print(f"corpus: {len(train_ids):,} train / {len(val_ids):,} validation tokens; model: "
              f"{_unwrap(model).num_params():,} parameters; baselines: unigram {uni:.3f}, bigram {bi:.3f} nats/token")
        print(f"precision: {cfg.precision} ({why})")
    began = time.perf_counter()
    history = train(model, train_ids, val_ids, cfg, checkpoint=out / "ckpt.pt", resume=args.resume,
                    progress=not args.no_progress, tokenizer=tok, sample_at=tuple(args.sample_at))
    seconds = time.perf_counter() - began
    if _is_main():
        plot_history(history, out / "curves.png", {"unigram": uni, "bigram": bi})
        net = _unwrap(model)
        text = sample(net, tok, cfg.seed)
        (out / "sample.txt").write_text(text + "\n")
        save_checkpoint(out / "model.pt", net, step=len(history["step"]), train_cfg=cfg, history=history,
                        tokenizer=tok)                                     # weights only: small enough to share
        tokens = (len(history["step"])) * cfg.batch_size * mcfg.block_size * world
        print(f"final validation loss {history['val_loss'][-1]:.3f} nats/token (bigram {bi:.3f}); "
              f"{tokens / seconds:,.0f} tokens/s this run")
        print(f"sample: {text!r}")
        print(f"wrote {out / 'ckpt.pt'}, {out / 'model.pt'} (no optimizer state), {out / 'curves.png'}, "
              f"{out / 'sample.txt'}")
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
