"""A tiny CLIP (notebook 12): an image encoder and a text encoder trained so that a picture and its caption land on
the same direction, with notebook 11's symmetric InfoNCE.

- :class:`ImageEncoder` - :class:`~utils.vision.PatchEmbedding` + notebook 08's attention blocks + mean pooling;
- :class:`TextEncoder` - the course's BPE (notebook 03) ids -> token embeddings (04) + positions (06) + attention
  blocks (08) + masked mean pooling (11); :class:`BagOfWordsEncoder` - the same embeddings averaged, no positions,
  no attention: it cannot see word order at all (the baseline);
- :class:`TinyCLIP` - both encoders, unit-length outputs; :func:`clip_loss` - symmetric InfoNCE over the
  (images x texts) cosine matrix; :func:`train_clip` - the loop;
- :func:`retrieval_recall` - text->image and image->text recall@k; :func:`zero_shot_predict` - a class per image
  from prompt embeddings; :func:`binding_accuracy` - does the true caption beat the colour-swapped one?

>>> torch.manual_seed(0) and None
>>> img, txt = torch.randn(4, 8), torch.randn(4, 8)
>>> bool(clip_loss(img, img) < clip_loss(img, txt))     # matching pairs give the lower loss
True
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from utils import bpe, scenes
from utils.attention import MultiHeadAttention
from utils.contrastive import info_nce
from utils.pooling import mean_pool
from utils.positional import sinusoidal_positions
from utils.vision import PatchEmbedding

__all__ = ["Block", "ImageEncoder", "TextEncoder", "BagOfWordsEncoder", "CaptionTokenizer", "TinyCLIP", "clip_loss",
           "train_clip", "retrieval_recall", "zero_shot_predict", "binding_accuracy", "scene_data"]


def clip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """CLIP's loss: row i of ``image_emb`` (B, D) belongs with row i of ``text_emb`` (B, D). The (B, B) cosine
    matrix over ``temperature`` is classified along its rows (each image picks its caption) and along its columns
    (each caption picks its image); the loss is the mean of the two cross-entropies - notebook 11's symmetric
    :func:`~utils.contrastive.info_nce` with the images as queries.
    """
    return info_nce(image_emb, text_emb, temperature=temperature, symmetric=True)


class Block(nn.Module):
    """A pre-norm transformer block without a causal mask: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, n_heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), mask=mask)          # (B, T, d)
        return x + self.mlp(self.ln2(x))                   # (B, T, d)


class ImageEncoder(nn.Module):
    """Images (B, 3, S, S) -> (B, out_dim): patch tokens with 2-D positions, ``depth`` blocks, mean over patches."""

    def __init__(self, size: int = scenes.IMAGE_SIZE, patch: int = 8, dim: int = 64, depth: int = 1, n_heads: int = 4,
                 out_dim: int = 64, channels: int = 3):
        super().__init__()
        self.embed = PatchEmbedding(channels, size, patch, dim)
        self.blocks = nn.ModuleList(Block(dim, n_heads) for _ in range(depth))
        self.ln = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, out_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.embed(images)                             # (B, N, d)
        for block in self.blocks:
            x = block(x)
        return self.proj(self.ln(x).mean(dim=1))          # (B, out_dim)


class TextEncoder(nn.Module):
    """Token ids (B, T) with a padding mask -> (B, out_dim): embeddings + sinusoidal positions, ``depth`` blocks
    (padding hidden from attention), masked mean pooling."""

    def __init__(self, vocab_size: int, max_len: int = 32, dim: int = 64, depth: int = 1, n_heads: int = 4,
                 out_dim: int = 64):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.register_buffer("pos", sinusoidal_positions(max_len, dim), persistent=False)   # (max_len, d)
        self.blocks = nn.ModuleList(Block(dim, n_heads) for _ in range(depth))
        self.ln = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, out_dim)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.tokens(ids) + self.pos[: ids.shape[1]]    # (B, T, d)
        keys = mask[:, None, None, :].bool()               # (B, 1, 1, T): padding is never attended to
        for block in self.blocks:
            x = block(x, mask=keys)
        return self.proj(mean_pool(self.ln(x), mask))      # (B, out_dim)


class BagOfWordsEncoder(nn.Module):
    """Token ids (B, T) -> (B, out_dim): the mean of the token embeddings, then a linear map. No positions and no
    attention: "red circle left of blue square" and "blue circle left of red square" get the same vector."""

    def __init__(self, vocab_size: int, dim: int = 64, out_dim: int = 64, **_):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.proj = nn.Linear(dim, out_dim)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.proj(mean_pool(self.tokens(ids), mask))   # (B, out_dim)


class CaptionTokenizer:
    """The course's BPE (notebook 03) trained on captions, plus one padding id: texts -> (ids, mask) tensors.

    >>> tok = CaptionTokenizer(["a red circle", "a blue square"], vocab_size=280)
    >>> tok.bpe.pieces("a red circle")                # merges never cross a word boundary
    ['a', ' red', ' circle']
    >>> ids, mask = tok(["a red circle", "a blue"])
    >>> ids.shape == mask.shape, mask.sum(1).tolist() == [len(tok.bpe.encode(t)) for t in ["a red circle", "a blue"]]
    (True, True)
    """

    def __init__(self, texts, vocab_size: int = 400):
        # GPT-2's split rule keeps merges inside words: swapping two words never changes the bag of tokens
        self.bpe = bpe.train_bpe(" ".join(sorted(set(texts))), vocab_size, pattern=bpe.GPT2_PATTERN)
        self.pad = len(self.bpe)
        self.vocab_size = self.pad + 1
        self._cache: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        if text not in self._cache:                        # captions repeat: encode each one once
            self._cache[text] = self.bpe.encode(text)
        return self._cache[text]

    def __call__(self, texts) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = [self.encode(t) for t in texts]
        T = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), T), self.pad, dtype=torch.long)   # (B, T)
        mask = torch.zeros(len(encoded), T, dtype=torch.long)             # (B, T) 1 = real token
        for i, e in enumerate(encoded):
            ids[i, :len(e)] = torch.tensor(e)
            mask[i, :len(e)] = 1
        return ids, mask


class TinyCLIP(nn.Module):
    """An image encoder and a text encoder ("transformer" or "bag") whose outputs are unit vectors of one space."""

    def __init__(self, tokenizer: CaptionTokenizer, text: str = "transformer", dim: int = 64, out_dim: int = 64,
                 depth: int = 1, patch: int = 8):
        super().__init__()
        if text not in ("transformer", "bag"):
            raise ValueError(f"text must be 'transformer' or 'bag', got {text!r}")
        self.tokenizer = tokenizer
        self.image = ImageEncoder(patch=patch, dim=dim, depth=depth, out_dim=out_dim)
        cls = TextEncoder if text == "transformer" else BagOfWordsEncoder
        self.text = cls(tokenizer.vocab_size, dim=dim, depth=depth, out_dim=out_dim)

    def encode_images(self, images) -> torch.Tensor:
        images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        return F.normalize(self.image(images), dim=-1)      # (B, out_dim), unit rows

    def encode_texts(self, texts) -> torch.Tensor:
        ids, mask = self.tokenizer(list(texts))
        return F.normalize(self.text(ids, mask), dim=-1)    # (B, out_dim), unit rows

    @torch.no_grad()
    def embed(self, images=None, texts=None, batch: int = 512):
        """Unit embeddings in evaluation mode, as float32 numpy arrays (images, texts; either may be None)."""
        self.eval()
        img = None if images is None else np.concatenate(
            [self.encode_images(images[i:i + batch]).numpy() for i in range(0, len(images), batch)])
        txt = None if texts is None else np.concatenate(
            [self.encode_texts(texts[i:i + batch]).numpy() for i in range(0, len(texts), batch)])
        return img, txt


def scene_data(n: int, seed: int = 0, two_share: float = 0.7):
    """``n`` random scenes -> (scenes, images float32 (n, 3, 32, 32), captions)."""
    ss = scenes.random_scenes(n, seed=seed, two_share=two_share)
    return ss, scenes.render_batch(ss), [scenes.caption(s) for s in ss]


def train_clip(images, captions, text: str = "transformer", steps: int = 300, batch_size: int = 128,
               lr: float = 3e-3, temperature: float = 0.07, seed: int = 0, hard_negatives: bool = False,
               foils=None, tokenizer: CaptionTokenizer | None = None, threads: int | None = 1,
               **model_kw) -> tuple[TinyCLIP, list[float]]:
    """Train a :class:`TinyCLIP` on paired images (n, 3, S, S) and captions -> (model in eval mode, losses).

    Each step draws ``batch_size`` pairs (a fresh permutation per epoch, seeded) and minimises :func:`clip_loss`.
    ``hard_negatives`` with ``foils`` (one foil caption per pair, e.g. the colour-swapped caption, or None) adds
    the batch's foils as extra captions every image must rank below its own (notebook 11's hard negatives).
    ``threads``: torch threads while training (1 by default: a model this small loses time synchronising threads,
    badly so on a busy machine); None keeps the current setting.
    """
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(images, captions, text, steps, batch_size, lr, temperature, seed, hard_negatives, foils,
                      tokenizer, model_kw)
    finally:
        torch.set_num_threads(old_threads)


def _train(images, captions, text, steps, batch_size, lr, temperature, seed, hard_negatives, foils, tokenizer,
           model_kw):
    torch.manual_seed(seed)
    X = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    captions = list(captions)
    tokenizer = tokenizer or CaptionTokenizer(captions)
    model = TinyCLIP(tokenizer, text=text, **model_kw)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    generator = torch.Generator().manual_seed(seed)
    order, cursor, losses = torch.randperm(len(X), generator=generator), 0, []
    model.train()
    for _ in range(steps):
        if cursor + batch_size > len(X):
            order, cursor = torch.randperm(len(X), generator=generator), 0
        idx = order[cursor:cursor + batch_size].tolist()
        cursor += batch_size
        img = model.encode_images(X[idx])                                 # (B, D)
        txt = model.encode_texts([captions[i] for i in idx])              # (B, D)
        if hard_negatives:
            extra = [foils[i] for i in idx if foils[i] is not None]
            negatives = model.encode_texts(extra) if extra else None     # (M, D)
            loss = info_nce(img, txt, temperature=temperature, symmetric=True, negatives=negatives)
        else:
            loss = clip_loss(img, txt, temperature)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
    return model.eval(), losses


def retrieval_recall(image_emb, text_emb, ks=(1, 5)) -> dict[str, float]:
    """Row i of both (n, D) unit-vector arrays is a matching pair (every caption different). Returns
    ``text->image R@k`` (each caption searches the images) and ``image->text R@k`` (each image searches the
    captions): the share of queries whose partner is in their first k results.

    >>> e = np.eye(3, dtype=np.float32)
    >>> retrieval_recall(e, e, ks=(1,))
    {'text->image R@1': 1.0, 'image->text R@1': 1.0}
    """
    S = np.asarray(image_emb, dtype=np.float64) @ np.asarray(text_emb, dtype=np.float64).T   # (n, n) images x texts
    n = len(S)
    out = {}
    for name, M in (("text->image", S.T), ("image->text", S)):
        # rank of the partner = how many candidates score strictly higher (ties count in the query's favour)
        rank = (M > np.diag(M)[:, None]).sum(axis=1)                                        # (n,)
        for k in ks:
            out[f"{name} R@{k}"] = round(float((rank < k).mean()), 4)
    assert M.shape == (n, n)
    return out


def zero_shot_predict(image_emb, prompt_emb) -> np.ndarray:
    """Class index per image: the prompt (one per class, e.g. "a red circle") with the highest cosine.

    >>> zero_shot_predict(np.array([[1., 0.], [0., 1.]]), np.array([[0., 2.], [3., 0.]])).tolist()
    [1, 0]
    """
    img = np.asarray(image_emb, dtype=np.float64)
    P = np.asarray(prompt_emb, dtype=np.float64)
    img = img / np.linalg.norm(img, axis=1, keepdims=True)
    P = P / np.linalg.norm(P, axis=1, keepdims=True)
    return np.argmax(img @ P.T, axis=1)                                   # (n_images,)


def binding_accuracy(model: TinyCLIP, scene_list) -> dict[str, float]:
    """For two-object scenes with two different colours: how often the image scores higher with its own caption
    than with the colour-swapped caption (same words). 0.5 is a coin; a bag of words ties every time (counted
    as 0.5 each, so it scores exactly 0.5)."""
    pairs = [s for s in scene_list if len(s.things) == 2 and s.things[0].colour != s.things[1].colour]
    if not pairs:
        raise ValueError("need two-object scenes with two different colours")
    images = scenes.render_batch(pairs)
    img, own = model.embed(images, [scenes.caption(s) for s in pairs])
    _, swapped = model.embed(None, [scenes.caption(scenes.swap_colours(s)) for s in pairs])
    a, b = (img * own).sum(1), (img * swapped).sum(1)                     # (n,) cosines
    tie = np.isclose(a, b, rtol=0, atol=1e-6)
    wins = np.where(tie, 0.5, (a > b).astype(float))
    return {"pairs": len(pairs), "accuracy": round(float(wins.mean()), 4), "ties": int(tie.sum())}


def throughput(model: nn.Module, images, captions, batch_size: int = 128, steps: int = 5) -> float:
    """Training pairs per second of ``steps`` optimisation steps (the benchmark's measure)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    X = torch.as_tensor(np.asarray(images[:batch_size]), dtype=torch.float32)
    caps = list(captions[:batch_size])
    start = time.perf_counter()
    for _ in range(steps):
        loss = clip_loss(model.encode_images(X), model.encode_texts(caps))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * batch_size / (time.perf_counter() - start)
