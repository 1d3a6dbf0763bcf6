"""Checks for notebook 12 (embeddings beyond text: image patches, a tiny CLIP, OCR chunks, graph walks).

Every right answer comes from the reference library (utils.vision, utils.clip, utils.ocr, utils.graph_walks),
computed on the check's own inputs BEFORE the learner's function is called; the learner's function only ever sees
copies (:func:`utils.checks.call_on_copies`).
"""
from __future__ import annotations

import numpy as np

from utils.checks import CheckFailed, call_on_copies, exercise, expect, expect_unchanged, quiz
from utils.checks.values import as_numpy, as_tensor, returned, scalar


# ---------------------------------------------------------------------------------------------------------------
# 12.1 patchify, 12.2 unpatchify

@exercise("12.1", "Cut images into patches")
def patchify(fn):
    """``fn(images (B, C, H, W), patch)`` -> (B, N, C * patch * patch), patches in reading order."""
    import torch
    from utils import vision
    images = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)   # (B, C, H, W), 2 x 3 grid
    want = vision.patchify(images, 2)                                                 # (2, 6, 12)
    got, (after, _) = call_on_copies(fn, images, 2)
    got = as_tensor(got, "patchify", floating=False, finite=False, dtype="float32")
    expect_unchanged(images, after, "images", "reshape and permute return new tensors; do not write into images")
    if tuple(got.shape) == (2, 6, 2, 2, 3) or tuple(got.shape) == (2, 6, 3, 2, 2):
        raise CheckFailed(f"shape {tuple(got.shape)}: flatten each patch into ONE row of C * patch * patch = 12 "
                          "numbers, (B, N, 12)")
    expect(tuple(got.shape) == (2, 6, 12), f"2 images of 3 x 4 x 6 with patch 2 give (B, N, C*P*P) = (2, 6, 12), "
                                           f"got {tuple(got.shape)}")
    if torch.equal(got, images.reshape(2, 6, 12)):
        raise CheckFailed("a plain reshape without permute: each 'patch' row mixes pixels of different patches "
                          "(whole image rows, across channels); split H and W into (grid, patch), permute the grid "
                          "axes in front, then flatten")
    B, C, H, W = images.shape
    x = images.reshape(B, C, 2, 2, 3, 2)
    if torch.equal(got, x.permute(0, 2, 4, 3, 5, 1).reshape(2, 6, 12)):
        raise CheckFailed("the right pixels, but channel LAST inside each patch: keep the channel axis before the "
                          "two patch axes, permute(0, 2, 4, 1, 3, 5), so a patch is channel by channel")
    if torch.equal(got, x.permute(0, 4, 2, 1, 3, 5).reshape(2, 6, 12)):
        raise CheckFailed("the patches are in column order (top to bottom first): reading order goes left to right "
                          "along a row of patches, then the next row - put the row-grid axis before the column-grid "
                          "axis")
    if torch.equal(got, x.permute(0, 2, 4, 1, 5, 3).reshape(2, 6, 12)):
        raise CheckFailed("each patch is transposed (its pixels column by column): keep the patch's row axis before "
                          "its column axis")
    expect(torch.equal(got, want), "the patches differ from the reference: patch n should hold the square at grid "
                                   "row n // (W / patch), column n % (W / patch), channel by channel")
    odd = torch.zeros(1, 1, 5, 4)
    try:
        fn(odd.clone(), 2)
    except ValueError:
        return None
    except Exception as err:  # noqa: BLE001 - reshape's own error does not tell the caller what is wrong
        raise CheckFailed(f"for an image of height 5 and patch 2 your code raised {type(err).__name__}: check the "
                          "sizes first and raise a ValueError that names them (patch 2 does not divide 5 x 4)"
                          ) from None
    raise CheckFailed("an image of height 5 cannot be cut into 2 x 2 patches: raise an error (ValueError) instead "
                      "of returning something")


@exercise("12.2", "Put the patches back together")
def unpatchify(fn):
    """``fn(patches (B, N, C*P*P), patch, size=(H, W))`` -> (B, C, H, W), the inverse of patchify."""
    import torch
    from utils import vision
    images = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    patches = vision.patchify(images, 2)                                              # (2, 6, 12)
    got, (after, *_) = call_on_copies(fn, patches, 2, (4, 6))
    got = as_tensor(got, "unpatchify", floating=False, finite=False, dtype="float32")
    expect_unchanged(patches, after, "patches")
    expect(tuple(got.shape) == (2, 3, 4, 6), f"(2, 6, 12) patches of 2 x 2 make images (B, C, H, W) = (2, 3, 4, 6), "
                                             f"got {tuple(got.shape)}")
    if torch.equal(got, patches.reshape(2, 3, 4, 6)):
        raise CheckFailed("a plain reshape without permute mixes pixels of different patches: reshape to (B, h, w, C, "
                          "P, P), permute to (B, C, h, P, w, P), then reshape to (B, C, H, W)")
    expect(torch.equal(got, images), "unpatchify(patchify(x)) should give x back exactly; the pixels are in other "
                                     "places - check the order of the axes in your permute")


# ---------------------------------------------------------------------------------------------------------------
# 12.3 symmetric CLIP loss

@exercise("12.3", "The symmetric CLIP loss")
def clip_loss(fn):
    """``fn(image_emb (B, D), text_emb (B, D), temperature)`` -> one number: mean of the two cross-entropies."""
    import torch
    from torch.nn import functional as F

    from utils import clip
    g = torch.Generator().manual_seed(12)
    img = torch.randn(5, 8, generator=g) * torch.tensor([1.0, 2, 3, 0.5, 4])[:, None]   # rows of different length
    txt = img[[0, 1, 2, 3, 4]] + torch.randn(5, 8, generator=g)
    txt[0] = torch.randn(8, generator=g) * 5                                            # an asymmetric batch
    t = 0.1
    want = float(clip.clip_loss(img, txt, t))
    got, (img_after, txt_after, _) = call_on_copies(fn, img, txt, t)
    got = scalar(returned(got, "clip_loss"), "clip_loss", one="clip_loss should return ONE number (the mean over "
                 "the batch and both directions), got shape {shape}", finite="clip_loss returned {value}")
    expect_unchanged(img, img_after, "image_emb", "F.normalize returns a new tensor; do not normalise in place")
    expect_unchanged(txt, txt_after, "text_emb", "F.normalize returns a new tensor; do not normalise in place")
    a, b = F.normalize(img, dim=-1), F.normalize(txt, dim=-1)
    labels = torch.arange(5)
    logits = a @ b.T / t
    i2t, t2i = float(F.cross_entropy(logits, labels)), float(F.cross_entropy(logits.T, labels))
    if np.isclose(got, i2t, atol=1e-5):
        raise CheckFailed("your loss equals the image->text cross-entropy alone: the second direction (each caption "
                          "picks its image) needs the logits TRANSPOSED, cross_entropy(logits.T, labels) - the same "
                          "matrix twice gives one direction")
    if np.isclose(got, t2i, atol=1e-5):
        raise CheckFailed("your loss equals the text->image cross-entropy alone: average it with the image->text "
                          "direction, cross_entropy(logits, labels)")
    if np.isclose(got, i2t + t2i, atol=1e-5):
        raise CheckFailed("you added the two directions: CLIP's loss is their MEAN, (a + b) / 2")
    raw = img @ txt.T / t
    if np.isclose(got, float((F.cross_entropy(raw, labels) + F.cross_entropy(raw.T, labels)) / 2), atol=1e-4):
        raise CheckFailed("embeddings not normalised: the logits must be COSINES over the temperature - "
                          "F.normalize both sets of rows first")
    if np.isclose(got, float((F.cross_entropy(a @ b.T, labels) + F.cross_entropy(b @ a.T, labels)) / 2), atol=1e-5):
        raise CheckFailed("temperature missing: divide the cosines by the temperature before the softmax")
    if np.isclose(got, float((F.cross_entropy(a @ b.T * t, labels) + F.cross_entropy(b @ a.T * t, labels)) / 2),
                  atol=1e-5):
        raise CheckFailed("you multiplied by the temperature: divide the cosines by it (0.1 makes them 10x larger)")
    expect(np.isclose(got, want, atol=1e-4), f"the loss should be {want:.4f} on this batch, got {got:.4f}")


# ---------------------------------------------------------------------------------------------------------------
# 12.4 zero-shot classification

@exercise("12.4", "Zero-shot classification from prompt embeddings")
def zero_shot_predict(fn):
    """``fn(image_emb (n, D), prompt_emb (k, D))`` -> (n,) class indices: the prompt with the highest cosine."""
    from utils import clip
    image_emb = np.array([[1.0, 0.35, 0.0], [0.0, 1.0, 0.2], [0.6, 0.0, 0.8], [0.1, 0.9, 0.0]])
    image_emb /= np.linalg.norm(image_emb, axis=1, keepdims=True)                     # unit images, as CLIP gives
    # prompts of different lengths, not orthogonal: the longest one wins by dot product, and dividing by the norms
    # of the COLUMNS (axis 0) instead of the rows gives yet another answer
    prompt_emb = np.array([[0.2, 0.0, 0.0], [0.0, 4.0, 0.0], [0.5, 0.0, 1.0]])        # right [0, 1, 2, 1];
    # unnormalised [1, 1, 2, 1]; columns normalised [2, 1, 2, 1]; every best cosine ahead of the next by > 0.38
    want = clip.zero_shot_predict(image_emb, prompt_emb).tolist()                     # [0, 1, 2, 1]
    got, (img_after, prompt_after) = call_on_copies(fn, image_emb, prompt_emb)
    returned(got, "zero_shot_predict")
    expect_unchanged(image_emb, img_after, "image_emb")
    expect_unchanged(prompt_emb, prompt_after, "prompt_emb", "divide into a new array instead of changing "
                                                             "prompt_emb in place")
    arr = as_numpy(got, "zero_shot_predict's result")
    if arr.shape == (4, 3):
        raise CheckFailed("you returned the (images x prompts) score matrix: return the INDEX of the best prompt per "
                          "image, argmax over the prompts (axis 1)")
    expect(arr.shape == (4,), f"4 images should give 4 class indices, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise CheckFailed("return class INDICES (integers), not scores")
    got = arr.astype(int).tolist()
    if got == (image_emb @ prompt_emb.T).argmax(1).tolist() and got != want:
        raise CheckFailed("prompts not normalised: the prompt with the longest vector wins by dot product; divide "
                          "each prompt embedding by its norm so you compare cosines")
    columns = prompt_emb / np.linalg.norm(prompt_emb, axis=0, keepdims=True)
    if got == (image_emb @ columns.T).argmax(1).tolist() and got != want:
        raise CheckFailed("prompts normalised over the wrong axis: divide each prompt (ROW) by its own norm, "
                          "np.linalg.norm(prompt_emb, axis=1, keepdims=True), not each column")
    if got == (image_emb @ prompt_emb.T).argmax(0).tolist():
        raise CheckFailed("argmax over the wrong axis: you picked the best image per prompt; pick the best prompt "
                          "per image (axis 1)")
    expect(got == want, f"the best prompt by cosine for each image is {want}, got {got}")


# ---------------------------------------------------------------------------------------------------------------
# 12.5 an OCR chunk with its citation

def _lines():
    from utils.ocr import TextLine
    return [TextLine("embedding matrix of a", (52, 160, 480, 184), 0.93),       # given out of reading order
            TextLine("Each patch is a token:", (50, 120, 430, 146), 0.88),
            TextLine("ViT projects patches.", (50, 200, 455, 224), 0.97)]


@exercise("12.5", "An OCR chunk that cites its page and region")
def ocr_chunk(fn):
    """``fn(lines, source, page)`` -> ``ocr.ImageChunk`` with index 0, the lines' text in reading order, doc type
    "scan", the page, and the region box around all the lines."""
    from utils.ocr import ImageChunk
    lines = _lines()
    want = ImageChunk("scan.pdf", 0, "Each patch is a token: embedding matrix of a ViT projects patches.", "scan",
                      page=3, region=(50, 120, 480, 224))
    got, (after, *_) = call_on_copies(fn, lines, "scan.pdf", 3)
    returned(got, "ocr_chunk")
    expect_unchanged(lines, after, "lines", "sorted(lines, ...) returns a new list; lines.sort() changes the input")
    # under the grader the chunk stays in the learner's kernel: judge it by its class and its fields, read once
    expect(isinstance(got, ImageChunk) or (type(got).__name__ == "ImageChunk"
                                           and type(got).__module__ == "utils.ocr"),
           f"return an ocr.ImageChunk(...), got {type(got).__name__}")
    fields = {k: getattr(got, k) for k in ("source", "index", "text", "doc_type", "page", "region")}
    region = fields["region"]
    try:
        fields["region"] = None if region is None else tuple(int(v) for v in region)
    except (TypeError, ValueError):
        raise CheckFailed(f"region should be four integers (x0, y0, x1, y1), got {region!r}") from None
    got = ImageChunk(**fields)                                      # the course's class computes the citation
    text = str(got.text)
    if text != " ".join(text.split()) and " ".join(text.split()) == want.text:
        raise CheckFailed(f"the right lines in the right order, but joined with {text[22:23]!r}: join the lines' "
                          "texts with single spaces, ' '.join(...)")
    if text == "embedding matrix of a Each patch is a token: ViT projects patches.":
        raise CheckFailed("the text is in the order the engine listed the lines: sort the lines top to bottom "
                          "(by box[1], the top edge) before joining them")
    if text == "ViT projects patches. embedding matrix of a Each patch is a token:":
        raise CheckFailed("the text is ordered by confidence: sort the lines by their top edge, box[1]")
    expect(text == want.text, f"the chunk's text should be the three lines top to bottom: {want.text!r}, got {text!r}")
    if got.page == 2:
        raise CheckFailed("page 2 for page=3: pages are cited 1-based, as a reader counts them - keep the page "
                          "number you were given")
    if got.page == 4:
        raise CheckFailed("page 4 for page=3: the page number you are given is already 1-based, as a reader counts "
                          "- keep it as it is, do not add 1")
    expect(got.page == 3, f"the chunk should cite page 3, got {got.page!r}")
    region = got.region
    if region == (50, 120, 430, 146):
        raise CheckFailed("the region is the first line's box only: take the box around ALL the lines (min x0, "
                          "min y0, max x1, max y1)")
    if region == (50, 120, 430, 104):
        raise CheckFailed("the region holds a width and height (430, 104): regions are corners (x0, y0, x1, y1)")
    expect(region == want.region, f"the region should be the box around all the lines, {want.region}, got {region}")
    expect(got.index == 0, f"the chunk's index should be 0, got {got.index!r}")
    expect(got.doc_type == "scan", f"the chunk's doc_type should be 'scan', got {got.doc_type!r}")
    expect(got.source == "scan.pdf", f"the chunk's source should be 'scan.pdf', got {got.source!r}")
    expect(got.citation() == want.citation(), f"citation {got.citation()!r} should be {want.citation()!r}")


# ---------------------------------------------------------------------------------------------------------------
# 12.6 random walks

def _graph():
    # a star (hub 0 with 5 leaves) plus a path 5-6-7
    edges = [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (5, 6), (6, 7)]
    adj: dict = {}
    for u, v in edges:
        adj.setdefault(u, set()).add(v)
        adj.setdefault(v, set()).add(u)
    return adj


@exercise("12.6", "Random walks over a graph")
def random_walks(fn):
    """``fn(adj, walks_per_node, length, seed)`` -> list of walks (lists of nodes): from every node
    ``walks_per_node`` walks of ``length`` nodes, each step to a neighbour drawn at random."""
    adj = _graph()
    got, (after, *_) = call_on_copies(fn, adj, 20, 6, 0)
    returned(got, "random_walks")
    expect_unchanged(adj, after, "adj", "read the neighbour sets; do not pop from them")
    expect(isinstance(got, list) and all(isinstance(w, (list, tuple)) for w in got),
           "return a list of walks, each a list of nodes")
    expect(len(got) == 20 * len(adj), f"8 nodes x 20 walks per node should give 160 walks, got {len(got)}")
    lengths = {len(w) for w in got}
    if lengths == {5}:
        raise CheckFailed("walks of 5 nodes for length=6: length counts the NODES of a walk (the start included), "
                          "so a walk takes length - 1 steps")
    if lengths == {7}:
        raise CheckFailed("walks of 7 nodes for length=6: length counts the nodes, start included")
    expect(lengths == {6}, f"every walk should hold length=6 nodes, got lengths {sorted(lengths)}")
    starts = [w[0] for w in got]
    expect(all(starts.count(n) == 20 for n in adj), "every node should start walks_per_node = 20 walks")
    for walk in got:
        for a, b in zip(walk, walk[1:]):
            if b not in adj[a]:
                raise CheckFailed(f"a walk jumps from {a} to {b}, which are not linked: every step must follow an "
                                  f"edge - draw the next node from the neighbours of the current one, adj[node]")
    again = fn(_graph(), 20, 6, 0)
    expect([list(w) for w in again] == [list(w) for w in got], "the same seed should give the same walks: make "
                                                              "your generator from the seed")
    from_hub = {w[1] for w in got if w[0] == 0}
    if len(from_hub) == 1:
        raise CheckFailed("every walk from the hub takes the same first step: draw the neighbour at random (with "
                          "your generator), not the first one")
    other = fn(_graph(), 20, 6, 1)
    expect([list(w) for w in other] != [list(w) for w in got], "seed=1 gave the same walks as seed=0: make your "
                                                              "generator from the seed argument, "
                                                              "np.random.default_rng(seed), not from a fixed number")
    # at the hub, a uniform step goes back to the node the walk came from 1 time in 5; over the ~250 such steps of
    # 160 walks, never going back has odds below 1e-10 (0.8 ** 100), whatever the generator
    via_hub = [(w[i - 2], w[i]) for w in got for i in range(2, len(w)) if w[i - 1] == 0]
    if len(via_hub) >= 100 and not any(a == b for a, b in via_hub):
        raise CheckFailed("your walks never step back to the node they just came from: a uniform step draws from ALL "
                          "the neighbours of the current node, the previous one included (no visited list, no "
                          "exclusions)")
    # 20 uniform draws from 5 neighbours reach at least 3 of them but for odds of about 1e-7, whatever the generator
    expect(len(from_hub) >= 3, f"20 walks from the hub should reach most of its 5 neighbours at random, got "
                               f"{sorted(from_hub)}")


# ---------------------------------------------------------------------------------------------------------------
# 12.7 link-prediction AUC

@exercise("12.7", "Link-prediction AUC")
def auc(fn):
    """``fn(positive_scores, negative_scores)`` -> P(random positive > random negative), ties counting 1/2."""
    from utils import graph_walks
    # one tied pair (0.4, 0.4): breaking ties either way (sorting, ranks without averaging) is 1/12 off; 4 positives
    # and 3 negatives: comparing only pairs i with i (zip) gives 1.0
    pos = np.array([0.9, 0.7, 0.4, 0.35])
    neg = np.array([0.8, 0.4, 0.3])
    want = graph_walks.auc(pos, neg)                                   # (7 wins + 1 tie / 2) / 12 = 0.625
    got, (pos_after, neg_after) = call_on_copies(fn, pos, neg)
    got = scalar(returned(got, "auc"), "auc", finite="auc returned {value}")
    expect_unchanged(pos, pos_after, "positive_scores")
    expect_unchanged(neg, neg_after, "negative_scores")
    if np.isclose(got, 1 - want, atol=1e-4):
        raise CheckFailed(f"{got:.4f} = 1 - AUC: positives and negatives swapped - count the pairs where the "
                          "POSITIVE scores higher")
    strict = float((pos[:, None] > neg[None, :]).mean())
    if np.isclose(got, strict, atol=1e-4):
        raise CheckFailed("ties ignored: a positive and a negative with the same score (0.4 and 0.4) count 1/2, "
                          "as a coin would decide them (ranks from a sort must give tied scores their average rank)")
    if np.isclose(got, float((pos[:, None] >= neg[None, :]).mean()), atol=1e-4):
        raise CheckFailed("ties counted as wins: a tie (0.4 and 0.4) counts 1/2")
    if np.isclose(got, 1.0, atol=1e-4):
        raise CheckFailed("1.0 here, where the AUC is 0.625: compare EVERY positive with EVERY negative (4 x 3 = 12 "
                          "pairs), not positive i with negative i (zip)")
    if np.isclose(got, float(pos.mean() - neg.mean()), atol=1e-4):
        raise CheckFailed("you compared the mean scores: AUC compares EVERY positive with EVERY negative and counts "
                          "the share of pairs the positive wins")
    expect(np.isclose(got, want, atol=1e-4), f"AUC should be {want:.4f} here, got {got:.4f}")
    expect(np.isclose(scalar(fn(np.array([1.0, 2.0]), np.array([0.0])), "auc"), 1.0),
           "positives all above the negatives should give AUC 1.0")


# ---------------------------------------------------------------------------------------------------------------
# 12.8 quiz

quiz_binding = quiz(
    "12.8", "Quiz: what a bag of words cannot see",
    correct="c", options="abcd",
    why_wrong={
        "a": "a longer training run changes the vectors of the words, not what the encoder can see: the mean of "
             "the same token vectors is the same vector, however well trained",
        "b": "normalising divides both captions by the same length: two equal vectors stay equal",
        "d": "a larger dimension gives each word a longer vector, but the mean of the same words is still one "
             "vector for both captions",
    },
    explanation="the two captions hold the same tokens, so their means are equal whatever the token vectors "
                "are; only an encoder that sees positions (and mixes tokens, as attention does) can tell "
                "which colour goes with which shape")
