"""Every exercise of notebook 12: right answer passes, stub is 'not attempted', typical mistakes are named."""
import numpy as np
import torch
from torch.nn import functional as F

from check_helpers import assert_not_attempted, assert_passes, assert_rejects, stub_function
from utils import clip, graph_walks, vision
from utils.checks import ch12
from utils.ocr import ImageChunk


# ---------------------------------------------------------------- 12.1 patchify, 12.2 unpatchify
def _patchify(order, flat=True):
    def fn(x, p):
        B, C, H, W = x.shape
        if H % p or W % p:
            raise ValueError("patch must divide the image")
        y = x.reshape(B, C, H // p, p, W // p, p).permute(*order)
        return y.reshape(B, (H // p) * (W // p), C * p * p) if flat else y.reshape(B, (H // p) * (W // p), C, p, p)
    return fn


def test_patchify():
    assert_passes(ch12.patchify, vision.patchify)
    assert_passes(ch12.patchify, _patchify((0, 2, 4, 1, 3, 5)))
    def unfolded(x, p):
        if x.shape[-2] % p or x.shape[-1] % p:
            raise ValueError(f"patch {p} does not divide {tuple(x.shape[-2:])}")
        return torch.nn.functional.unfold(x, p, stride=p).transpose(1, 2)
    assert_passes(ch12.patchify, unfolded)
    assert_not_attempted(ch12.patchify, stub_function)
    assert_rejects(ch12.patchify, lambda x, p: x.reshape(x.shape[0], -1, x.shape[1] * p * p), match="without permute")
    assert_rejects(ch12.patchify, _patchify((0, 2, 4, 3, 5, 1)), match="channel LAST")
    assert_rejects(ch12.patchify, _patchify((0, 4, 2, 1, 3, 5)), match="column order")
    assert_rejects(ch12.patchify, _patchify((0, 2, 4, 1, 5, 3)), match="transposed")
    assert_rejects(ch12.patchify, _patchify((0, 2, 4, 1, 3, 5), flat=False), match="ONE row")
    assert_rejects(ch12.patchify, lambda x, p: vision.patchify(x, p).numpy(), match="torch tensor")
    assert_rejects(ch12.patchify, lambda x, p: None, match="return")


def test_patchify_must_refuse_bad_sizes():
    def no_check(x, p):
        B, C, H, W = x.shape
        return x[:, :, :H // p * p, :W // p * p].reshape(B, C, H // p, p, W // p, p).permute(
            0, 2, 4, 1, 3, 5).reshape(B, -1, C * p * p)
    assert_rejects(ch12.patchify, no_check, match="raise an error")

    def reshape_error(x, p):                     # no size check: reshape's RuntimeError says nothing of the patch
        B, C, H, W = x.shape
        return x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, -1, C * p * p)
    assert_rejects(ch12.patchify, reshape_error, match="raised RuntimeError: .*raise a ValueError")


def test_patchify_in_place():
    def sneaky(x, p):
        out = vision.patchify(x.clone(), p)
        x.zero_()
        return out
    assert_rejects(ch12.patchify, sneaky, match="changed its input `images`")


def test_unpatchify():
    assert_passes(ch12.unpatchify, vision.unpatchify)
    assert_passes(ch12.unpatchify, lambda q, p, s: torch.nn.functional.fold(q.transpose(1, 2), s, p, stride=p))
    assert_not_attempted(ch12.unpatchify, stub_function)
    assert_rejects(ch12.unpatchify, lambda q, p, s: q.reshape(q.shape[0], -1, *s), match="without permute")
    assert_rejects(ch12.unpatchify, lambda q, p, s: q.reshape(q.shape[0], s[0] // p, s[1] // p, -1, p, p).permute(
        0, 3, 2, 4, 1, 5).reshape(q.shape[0], -1, *s), match="order of the axes")
    assert_rejects(ch12.unpatchify, lambda q, p, s: q.reshape(q.shape[0], -1, s[1], s[0]), match="got \\(2, 3, 6, 4\\)")


# ---------------------------------------------------------------- 12.3 CLIP loss
def _loss(normalise=True, temp="divide", second="transpose", combine="mean"):
    def fn(img, txt, t):
        a, b = (F.normalize(img, dim=-1), F.normalize(txt, dim=-1)) if normalise else (img, txt)
        logits = a @ b.T
        logits = logits / t if temp == "divide" else logits * t if temp == "multiply" else logits
        labels = torch.arange(len(img))
        one = F.cross_entropy(logits, labels)
        if second == "none":
            return one
        two = F.cross_entropy(logits.T if second == "transpose" else logits, labels)
        return (one + two) / 2 if combine == "mean" else one + two
    return fn


def test_clip_loss():
    assert_passes(ch12.clip_loss, clip.clip_loss)
    assert_passes(ch12.clip_loss, _loss())
    assert_not_attempted(ch12.clip_loss, stub_function)
    assert_rejects(ch12.clip_loss, _loss(second="same"), match="TRANSPOSED")
    assert_rejects(ch12.clip_loss, _loss(second="none"), match="TRANSPOSED")
    assert_rejects(ch12.clip_loss, lambda i, t, T: F.cross_entropy(
        (F.normalize(i, dim=-1) @ F.normalize(t, dim=-1).T / T).T, torch.arange(len(i))), match="text->image")
    assert_rejects(ch12.clip_loss, _loss(combine="sum"), match="MEAN")
    assert_rejects(ch12.clip_loss, _loss(normalise=False), match="not normalised")
    assert_rejects(ch12.clip_loss, _loss(temp="none"), match="temperature missing")
    assert_rejects(ch12.clip_loss, _loss(temp="multiply"), match="multiplied")
    assert_rejects(ch12.clip_loss, lambda i, t, T: torch.stack([_loss()(i, t, T)] * 2), match="ONE number")

    def in_place(img, txt, t):
        img /= img.norm(dim=-1, keepdim=True)
        return _loss()(img, txt, t)
    assert_rejects(ch12.clip_loss, in_place, match="changed its input `image_emb`")


# ---------------------------------------------------------------- 12.4 zero-shot
def test_zero_shot_predict():
    assert_passes(ch12.zero_shot_predict, clip.zero_shot_predict)
    assert_passes(ch12.zero_shot_predict, lambda i, p: torch.tensor(i @ (p / np.linalg.norm(p, axis=1,
                                                                                            keepdims=True)).T).argmax(1))
    assert_not_attempted(ch12.zero_shot_predict, stub_function)
    assert_rejects(ch12.zero_shot_predict, lambda i, p: np.argmax(i @ p.T, axis=1), match="prompts not normalised")
    assert_rejects(ch12.zero_shot_predict, lambda i, p: i @ (p / np.linalg.norm(p, axis=1, keepdims=True)).T,
                   match="score matrix")
    assert_rejects(ch12.zero_shot_predict, lambda i, p: np.argmax(
        i @ (p / np.linalg.norm(p, axis=1, keepdims=True)).T, axis=0), match="wrong axis|4 class indices")
    assert_rejects(ch12.zero_shot_predict, lambda i, p: np.argmax(i @ (p / np.linalg.norm(p, axis=0, keepdims=True)).T,
                                                                  axis=1), match="wrong axis: divide each prompt")
    assert_rejects(ch12.zero_shot_predict, lambda i, p: np.argmin(((i[:, None] - p[None]) ** 2).sum(-1), axis=1),
                   match="best prompt by cosine")             # nearest by distance, prompts not normalised
    assert_rejects(ch12.zero_shot_predict, lambda i, p: np.argmin(
        i @ (p / np.linalg.norm(p, axis=1, keepdims=True)).T, axis=1), match="best prompt by cosine")

    def in_place(i, p):
        p /= np.linalg.norm(p, axis=1, keepdims=True)
        return np.argmax(i @ p.T, axis=1)
    assert_rejects(ch12.zero_shot_predict, in_place, match="changed its input `prompt_emb`")


# ---------------------------------------------------------------- 12.5 OCR chunk
def _ocr_chunk(order="top", box="all", page_shift=0, corners=True, sep=" "):
    def fn(lines, source, page):
        if order == "top":
            ordered = sorted(lines, key=lambda ln: ln.box[1])
        elif order == "score":
            ordered = sorted(lines, key=lambda ln: -ln.score)
        else:
            ordered = list(lines)
        boxes = [ln.box for ln in (ordered if box == "all" else ordered[:1])]
        x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        region = (x0, y0, x1, y1) if corners else (x0, y0, x1 - x0, y1 - y0)
        return ImageChunk(source, 0, sep.join(ln.text for ln in ordered), "scan", page=page + page_shift,
                          region=region)
    return fn


def test_ocr_chunk():
    assert_passes(ch12.ocr_chunk, _ocr_chunk())
    assert_not_attempted(ch12.ocr_chunk, stub_function)
    assert_rejects(ch12.ocr_chunk, _ocr_chunk(order="given"), match="order the engine listed")
    assert_rejects(ch12.ocr_chunk, _ocr_chunk(order="score"), match="confidence")
    assert_rejects(ch12.ocr_chunk, _ocr_chunk(box="first"), match="first line's box")
    assert_rejects(ch12.ocr_chunk, _ocr_chunk(corners=False), match="width and height")
    assert_rejects(ch12.ocr_chunk, _ocr_chunk(page_shift=-1), match="1-based")
    assert_rejects(ch12.ocr_chunk, _ocr_chunk(page_shift=1), match="do not add 1")
    assert_rejects(ch12.ocr_chunk, _ocr_chunk(sep="\n"), match="single spaces")
    assert_rejects(ch12.ocr_chunk, _ocr_chunk(sep=""), match="top to bottom")
    assert_rejects(ch12.ocr_chunk, lambda lines, s, p: ImageChunk(s, 0, _ocr_chunk()(lines, s, p).text, "scan", page=p),
                   match="box around all the lines")       # no region: the citation would not say where
    assert_rejects(ch12.ocr_chunk, lambda lines, s, p: {"text": "x", "page": p}, match="ImageChunk")

    def sorts_in_place(lines, source, page):
        lines.sort(key=lambda ln: ln.box[1])
        return _ocr_chunk()(lines, source, page)
    assert_rejects(ch12.ocr_chunk, sorts_in_place, match="changed its input `lines`")


# ---------------------------------------------------------------- 12.6 random walks
def _walker(kind="ok"):
    def fn(adj, walks_per_node, length, seed):
        rng = np.random.default_rng(seed)
        nodes = sorted(adj)
        out = []
        for _ in range(walks_per_node):
            for n in nodes:
                walk = [n]
                steps = {"ok": length, "short": length - 1, "long": length + 1}.get(kind, length)
                while len(walk) < steps:
                    if kind == "teleport":
                        walk.append(nodes[rng.integers(len(nodes))])
                    elif kind == "first":
                        walk.append(sorted(adj[walk[-1]])[0])
                    elif kind in ("no-back", "self-avoiding"):   # not uniform: the previous (or any seen) node excluded
                        seen = walk[-2:-1] if kind == "no-back" else walk
                        options = [x for x in sorted(adj[walk[-1]]) if x not in seen] or sorted(adj[walk[-1]])
                        walk.append(options[rng.integers(len(options))])
                    else:
                        options = sorted(adj[walk[-1]])
                        walk.append(options[rng.integers(len(options))])
                out.append(walk)
        return out
    return fn


def test_random_walks():
    assert_passes(ch12.random_walks, graph_walks.random_walks)
    assert_passes(ch12.random_walks, _walker())
    assert_not_attempted(ch12.random_walks, stub_function)
    assert_rejects(ch12.random_walks, _walker("teleport"), match="not linked")
    assert_rejects(ch12.random_walks, _walker("first"), match="same first step")
    assert_rejects(ch12.random_walks, _walker("short"), match="length counts the NODES")
    assert_rejects(ch12.random_walks, _walker("long"), match="start included")
    assert_rejects(ch12.random_walks, lambda a, w, l, s: _walker()(a, w, l, np.random.randint(1 << 30)),
                   match="same seed")
    assert_rejects(ch12.random_walks, lambda a, w, l, s: _walker()(a, 1, l, s), match="160 walks")
    assert_rejects(ch12.random_walks, lambda a, w, l, s: _walker()(a, w, l, 0), match="seed=1 gave the same walks")
    assert_rejects(ch12.random_walks, _walker("no-back"), match="never step back")
    assert_rejects(ch12.random_walks, _walker("self-avoiding"), match="never step back")

    def pops(adj, w, l, s):
        walks = _walker()(adj, w, l, s)
        adj[0].pop()
        return walks
    assert_rejects(ch12.random_walks, pops, match="changed its input `adj`")


# ---------------------------------------------------------------- 12.7 AUC
def test_auc():
    assert_passes(ch12.auc, graph_walks.auc)
    assert_passes(ch12.auc, lambda p, n: np.mean([(a > b) + 0.5 * (a == b) for a in p for b in n]))
    assert_not_attempted(ch12.auc, stub_function)
    assert_rejects(ch12.auc, lambda p, n: graph_walks.auc(n, p), match="swapped")
    assert_rejects(ch12.auc, lambda p, n: np.mean([a > b for a in p for b in n]), match="ties ignored")
    assert_rejects(ch12.auc, lambda p, n: np.mean([a >= b for a in p for b in n]), match="ties counted as wins")
    assert_rejects(ch12.auc, lambda p, n: np.mean(p) - np.mean(n), match="mean scores")
    assert_rejects(ch12.auc, lambda p, n: np.mean([(a > b) + 0.5 * (a == b) for a, b in zip(p, n)]), match="zip")

    def ranks_without_ties(p, n):                # Mann-Whitney from a plain argsort: a tie is broken, not halved
        ranks = np.argsort(np.argsort(np.r_[p, n], kind="stable"), kind="stable")
        return (ranks[:len(p)].sum() - len(p) * (len(p) - 1) / 2) / (len(p) * len(n))
    assert_rejects(ch12.auc, ranks_without_ties, match="ties")
    assert_rejects(ch12.auc, lambda p, n: [(a > b) for a in p for b in n], match="number")


# ---------------------------------------------------------------- 12.8 quiz
def test_quiz_binding():
    assert_passes(ch12.quiz_binding, "c")
    assert_not_attempted(ch12.quiz_binding, ...)
    for wrong in "abd":
        assert_rejects(ch12.quiz_binding, wrong, match="not right")
    assert_rejects(ch12.quiz_binding, "e", match="one letter")
