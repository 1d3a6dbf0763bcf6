"""The tiny CLIP's training throughput (notebook 12): ours (utils.vision + utils.attention blocks) vs a plain
PyTorch model of the same size (nn.Unfold patches + nn.TransformerEncoderLayer), same batches, same loss.

    .venv/bin/python benchmarks/bench_clip.py             # 1 and 2 torch threads

Both models: 32 x 32 RGB images in 16 patches of 8 x 8, width 64, one block of 4 heads, MLP 128, captions of the
course's BPE with a transformer text encoder of the same shape; symmetric InfoNCE (utils.clip.clip_loss), AdamW.
pairs/s = image-caption pairs per second of optimisation (forward, backward, step), median of 3 runs of 20 steps
after 3 warm-up steps. Also printed: the notebook's quality figures for the model trained with its settings.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from utils import clip, scenes
from utils.pooling import mean_pool
from utils.vision import positions_2d

from machine import describe  # this machine's CPU, flags, cores, versions and threads, printed before the table


class PlainCLIP(nn.Module):
    """The same computation written only with torch.nn's own layers."""

    def __init__(self, tokenizer, dim=64, out_dim=64):
        super().__init__()
        self.tokenizer = tokenizer
        self.unfold = nn.Unfold(8, stride=8)
        self.patch = nn.Linear(3 * 64, dim)
        self.register_buffer("pos", positions_2d(4, 4, dim))
        layer = dict(d_model=dim, nhead=4, dim_feedforward=2 * dim, dropout=0.0, activation="gelu",
                     batch_first=True, norm_first=True)
        self.img_block, self.txt_block = nn.TransformerEncoderLayer(**layer), nn.TransformerEncoderLayer(**layer)
        self.img_ln, self.txt_ln = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.img_proj, self.txt_proj = nn.Linear(dim, out_dim), nn.Linear(dim, out_dim)
        self.tokens = nn.Embedding(tokenizer.vocab_size, dim)
        self.register_buffer("tpos", clip.sinusoidal_positions(32, dim))

    def encode_images(self, x):
        h = self.img_block(self.patch(self.unfold(x).transpose(1, 2)) + self.pos)          # (B, 16, d)
        return F.normalize(self.img_proj(self.img_ln(h).mean(1)), dim=-1)

    def encode_texts(self, texts):
        ids, mask = self.tokenizer(list(texts))
        h = self.tokens(ids) + self.tpos[: ids.shape[1]]
        h = self.txt_block(h, src_key_padding_mask=mask == 0)                              # (B, T, d)
        return F.normalize(self.txt_proj(mean_pool(self.txt_ln(h), mask)), dim=-1)


def rate(model, X, caps, steps=20, batch=128) -> float:
    clip.throughput(model, X, caps, batch_size=batch, steps=3)
    return statistics.median(clip.throughput(model, X, caps, batch_size=batch, steps=steps) for _ in range(3))


def main(argv=None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)   # no options; --help explains
    _, X, caps = clip.scene_data(512, seed=0)
    tok = clip.CaptionTokenizer(caps)
    print(describe("1 then 2 (the threads column), 1 for training"))
    print(f"{datetime.date.today()} | CPython {platform.python_version()} | torch {torch.__version__} | "
          f"{platform.machine()} | batch 128")
    print(f"{'model':34} | {'threads':>7} | {'params':>7} | {'pairs/s':>8}")
    print("-" * 66)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, build in (("ours (utils.clip.TinyCLIP)", lambda: clip.TinyCLIP(tok)),
                            ("plain torch (TransformerEncoderLayer)", lambda: PlainCLIP(tok))):
            torch.manual_seed(0)
            model = build()
            n = sum(p.numel() for p in model.parameters())
            print(f"{name:34} | {threads:>7} | {n:>7,} | {rate(model, X, caps):8.0f}")
    torch.set_num_threads(1)
    _, X, caps = clip.scene_data(4000, seed=0)
    tok = clip.CaptionTokenizer(caps)
    test = scenes.distinct_captions(300, seed=1)
    for text in ("transformer", "bag"):
        start = time.perf_counter()
        model, losses = clip.train_clip(X, caps, text=text, steps=200, tokenizer=tok)
        took = time.perf_counter() - start
        img, txt = model.embed(scenes.render_batch(test), [scenes.caption(s) for s in test])
        print(f"{text:12} trained {took:5.1f} s | loss {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f} | "
              f"{clip.retrieval_recall(img, txt, ks=(1, 5))} | binding {clip.binding_accuracy(model, test)}")


if __name__ == "__main__":
    main()
