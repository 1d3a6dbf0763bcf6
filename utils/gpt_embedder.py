"""Notebook 09's tiny GPT turned into a sentence embedder (notebook 11, section 3): ``python -m utils.gpt_embedder``.

An LLM becomes an embedder in three moves, the same at toy scale as for a 7B model:

1. drop the language-model head and keep the last hidden states ``(B, T, d)`` (:func:`hidden_states`);
2. pool them into one vector per text with the attention mask (:mod:`utils.pooling`);
3. fine-tune everything with InfoNCE on pairs that should be close (:func:`utils.contrastive.info_nce`).

Here the pairs are WordNet's (usage example, definition) of the same sense, taken from senses that are NOT in
notebook 07's labelled retrieval set, so the evaluation on that set stays honest. The command trains the committed
checkpoint ``data/tiny_gpt_embedder/model.pt`` (its settings and loss curve are saved inside it) in about ten CPU
minutes:

    python -m utils.gpt_embedder --out data/tiny_gpt_embedder

>>> from utils.train_gpt import SHOWCASE_CHECKPOINT, model_from_checkpoint
>>> model, tok, _ = model_from_checkpoint(SHOWCASE_CHECKPOINT)
>>> GPTEmbedder(model, tok).encode(["a dog", "a cat"]).shape
(2, 96)
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from utils.contrastive import info_nce
from utils.pooling import POOLINGS, pool

__all__ = ["CHECKPOINT", "hidden_states", "batch_ids", "GPTEmbedder", "training_pairs", "train_embedder",
           "load_embedder", "main"]

#: The embedder notebook 11 loads, trained by ``python -m utils.gpt_embedder --out data/tiny_gpt_embedder``.
CHECKPOINT = Path(__file__).resolve().parent.parent / "data" / "tiny_gpt_embedder" / "model.pt"


def hidden_states(model, ids: torch.Tensor) -> torch.Tensor:
    """The GPT's last hidden states (after the final LayerNorm), ``ids (B, T)`` -> ``(B, T, d)``: logits without the head.

    >>> from utils.gpt import GPT, GPTConfig
    >>> hidden_states(GPT(GPTConfig(vocab_size=20, n_embd=8, n_head=2)), torch.tensor([[1, 2, 3]])).shape
    torch.Size([1, 3, 8])
    """
    t = ids.shape[1]
    if t > model.cfg.block_size:
        raise ValueError(f"{t} tokens exceed the context length block_size={model.cfg.block_size}")
    x = model.wte(ids)                                                       # (B, T, d)
    if model.wpe is not None:
        x = x + model.wpe(torch.arange(t, device=ids.device))                # (T, d) broadcasts over B
    for block in model.h:
        x, _ = block(x)
    return model.ln_f(x)                                                     # (B, T, d)


def batch_ids(tokenizer, texts, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``(B, T)`` padded on the right with 0 and the attention mask ``(B, T)`` (1 = real token).

    Texts longer than ``max_len`` tokens are cut; T is the longest (cut) text of the batch.
    """
    if isinstance(texts, str) or not len(texts):
        raise ValueError("texts must be a non-empty list of strings")
    encoded = [tokenizer.encode(t)[:max_len] for t in texts]
    if any(not e for e in encoded):
        raise ValueError("an empty text has no tokens to embed")
    width = max(len(e) for e in encoded)
    ids = torch.zeros(len(encoded), width, dtype=torch.long)                 # (B, T): 0 is only a filler
    mask = torch.zeros(len(encoded), width, dtype=torch.long)                # (B, T)
    for i, e in enumerate(encoded):
        ids[i, :len(e)] = torch.tensor(e)
        mask[i, :len(e)] = 1
    return ids, mask


class GPTEmbedder:
    """Texts -> vectors with a :class:`utils.gpt.GPT`: hidden states, pooled with the mask (``"mean"``, ``"last"``
    or ``"cls"``). :meth:`embed` keeps gradients (for training); :meth:`encode` returns unit-length numpy rows."""

    def __init__(self, model, tokenizer, pooling: str = "mean", max_len: int | None = None):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.model, self.tokenizer, self.pooling = model, tokenizer, pooling
        self.max_len = model.cfg.block_size if max_len is None else min(max_len, model.cfg.block_size)

    def embed(self, texts) -> torch.Tensor:
        """(B, d) pooled vectors of ``texts`` (not normalised), on the model's device, with gradients."""
        device = next(self.model.parameters()).device
        ids, mask = batch_ids(self.tokenizer, texts, self.max_len)
        return pool(hidden_states(self.model, ids.to(device)), mask.to(device), self.pooling)

    def encode(self, texts, batch_size: int = 256) -> np.ndarray:
        """(n, d) float32 unit rows. Texts are batched by length (less padding); the order of the result is theirs."""
        return self.encode_poolings(texts, (self.pooling,), batch_size)[self.pooling]

    @torch.no_grad()
    def encode_poolings(self, texts, poolings=POOLINGS, batch_size: int = 256) -> dict[str, np.ndarray]:
        """One forward pass, several poolings: ``{pooling: (n, d) float32 unit rows}`` (what :meth:`encode` gives
        for each, at a third of the cost of three passes for three poolings)."""
        if any(how not in POOLINGS for how in poolings):
            raise ValueError(f"poolings must be among {POOLINGS}, got {tuple(poolings)!r}")
        was_training = self.model.training
        self.model.eval()
        device = next(self.model.parameters()).device
        lengths = [len(self.tokenizer.encode(t)) for t in texts]
        order = np.argsort(lengths, kind="stable")
        out = {how: np.zeros((len(texts), self.model.cfg.n_embd), dtype=np.float32) for how in poolings}
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            ids, mask = batch_ids(self.tokenizer, [texts[i] for i in rows], self.max_len)
            hidden = hidden_states(self.model, ids.to(device))                      # (b, T, d)
            for how in poolings:
                out[how][rows] = F.normalize(pool(hidden, mask.to(device), how), dim=-1).float().cpu().numpy()
        self.model.train(was_training)
        return out


def training_pairs(n_pairs: int = 20000, seed: int = 0, exclude=()) -> list[tuple[str, str]]:
    """(usage example, definition) pairs of WordNet senses, none of them in ``exclude`` (synset ids), shuffled.

    Senses qualify as in notebook 07's labelled set: at least one example and a definition of 4+ words.
    """
    from utils.wordnet import load_synsets
    skip = set(exclude)
    pool_ = [s for s in load_synsets() if s.examples and len(s.definition.split()) >= 4 and s.id not in skip]
    if n_pairs > len(pool_):
        raise ValueError(f"n_pairs must be at most {len(pool_)}, got {n_pairs}")
    order = np.random.default_rng(seed).permutation(len(pool_))[:n_pairs]
    return [(pool_[i].examples[0], pool_[i].definition) for i in order]


def train_embedder(embedder: GPTEmbedder, pairs, *, steps: int = 400, batch_size: int = 128,
                   temperature: float = 0.05, lr: float = 5e-4, seed: int = 0, progress: bool = False) -> list[float]:
    """Fine-tune the whole GPT with symmetric InfoNCE on ``pairs`` (query, document) -> the loss of every step.

    Batches follow a seeded permutation of the pairs (a new one each epoch); AdamW, linear warm-up over the first
    10% of the steps, then a constant rate.
    """
    if not 2 <= batch_size <= len(pairs):
        raise ValueError(f"batch_size must be between 2 and the number of pairs ({len(pairs)}), got {batch_size}")
    torch.manual_seed(seed)
    model = embedder.model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    warmup = max(1, steps // 10)
    rng = np.random.default_rng(seed)
    order, cursor, losses = rng.permutation(len(pairs)), 0, []
    for step in range(steps):
        if cursor + batch_size > len(pairs):
            order, cursor = rng.permutation(len(pairs)), 0
        batch = [pairs[i] for i in order[cursor:cursor + batch_size]]
        cursor += batch_size
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup)
        q = embedder.embed([a for a, _ in batch])                              # (B, d)
        d = embedder.embed([b for _, b in batch])                              # (B, d)
        loss = info_nce(q, d, temperature)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        if progress and (step % 50 == 0 or step == steps - 1):
            print(f"step {step:4d}  loss {losses[-1]:.3f}", flush=True)
    model.eval()
    return losses


def load_embedder(path=CHECKPOINT, map_location="cpu") -> tuple[GPTEmbedder, dict]:
    """The trained embedder and its saved settings/history (``{"settings": {...}, "loss": [...]}``)."""
    from utils.train_gpt import model_from_checkpoint
    model, tok, state = model_from_checkpoint(path, map_location=map_location)
    history = state.get("history") or {}
    if "settings" not in history:
        raise ValueError(f"{path} is a tiny-GPT checkpoint but not an embedder (no contrastive settings inside)")
    return GPTEmbedder(model, tok, pooling=history["settings"]["pooling"]), history


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m utils.gpt_embedder",
                                description="Fine-tune notebook 09's tiny GPT into a sentence embedder with InfoNCE on "
                                            "WordNet (example, definition) pairs; writes OUT/model.pt.")
    p.add_argument("--out", default="runs/tiny_gpt_embedder")
    p.add_argument("--pairs", type=int, default=20000)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.05)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--pooling", choices=POOLINGS, default="mean")
    p.add_argument("--max-len", type=int, default=32, help="tokens kept per text while training (cheaper batches)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    return p


def main(argv=None) -> int:
    from utils.retrieval import wordnet_retrieval_set
    from utils.train_gpt import SHOWCASE_CHECKPOINT, model_from_checkpoint, save_checkpoint
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    held_out = wordnet_retrieval_set(n_docs=2000, n_queries=500, seed=0).doc_ids   # notebook 07's set: never trained on
    pairs = training_pairs(args.pairs, seed=args.seed, exclude=held_out)
    model, tok, _ = model_from_checkpoint(SHOWCASE_CHECKPOINT)
    embedder = GPTEmbedder(model, tok, pooling=args.pooling, max_len=args.max_len)
    began = time.perf_counter()
    losses = train_embedder(embedder, pairs, steps=args.steps, batch_size=args.batch_size,
                            temperature=args.temperature, lr=args.lr, seed=args.seed, progress=True)
    settings = {k: getattr(args, k) for k in ("pairs", "steps", "batch_size", "temperature", "lr", "pooling",
                                          "max_len", "seed")}
    settings["seconds"] = round(time.perf_counter() - began, 1)
    path = save_checkpoint(Path(args.out) / "model.pt", model, tokenizer=tok, step=args.steps,
                           history={"settings": settings, "loss": losses})
    print(f"trained in {settings['seconds']} s; final loss {np.mean(losses[-20:]):.3f}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
