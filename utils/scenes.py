"""A tiny image-caption set the course draws itself (notebook 12): coloured shapes on a dark background, each
picture described by a caption made from the same scene, so every caption is right by construction.

A scene holds one or two objects. Each object has a shape (circle, square, triangle), a colour (red, green, blue,
yellow), a size (small, large) and a place; with two objects the first is on the left half, the second on the right
half, and the caption says so: "a large red circle left of a small blue square". Captions of two-object scenes
whose colours are swapped ("a large blue circle left of a small red square") hold exactly the same words - the
test of whether a text encoder sees more than a bag of words (the *binding* problem).

- :func:`random_scenes` - scenes drawn from a seed; :func:`caption` - the text of a scene;
- :func:`render` / :func:`render_batch` - scenes -> float32 images ``(3, size, size)`` in [0, 1] (numpy only);
- :func:`swap_colours` - the same scene with the two colours exchanged (its caption is the binding test's foil);
- :func:`distinct_captions` - a test set where no caption repeats (retrieval has exactly one right answer).

>>> s = Scene((Thing("circle", "red", "large", 8, 16), Thing("square", "blue", "small", 24, 14)))
>>> caption(s), caption(swap_colours(s))
('a large red circle left of a small blue square', 'a large blue circle left of a small red square')
>>> render(s).shape
(3, 32, 32)
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (0.9, 0.15, 0.1), "green": (0.15, 0.8, 0.2), "blue": (0.15, 0.3, 0.95), "yellow": (0.95, 0.85, 0.1)}
SIZES = {"small": 3.5, "large": 6.5}       # half the object's width, in pixels of a 32 x 32 image
IMAGE_SIZE = 32


@dataclass(frozen=True)
class Thing:
    """One object: shape, colour, size and the pixel (x, y) of its centre."""
    shape: str
    colour: str
    size: str
    x: float
    y: float

    def words(self) -> str:
        return f"{self.size} {self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    """One or two :class:`Thing` (left first)."""
    things: tuple[Thing, ...]


def caption(scene: Scene) -> str:
    """The scene in words: ``"a small green triangle"`` or ``"a ... left of a ..."``."""
    parts = [f"a {t.words()}" for t in scene.things]
    return " left of ".join(parts)


def swap_colours(scene: Scene) -> Scene:
    """The two objects exchange their colours (same words in the caption, another picture)."""
    if len(scene.things) != 2:
        raise ValueError("swap_colours needs a scene with two objects")
    a, b = scene.things
    return Scene((replace(a, colour=b.colour), replace(b, colour=a.colour)))


def _thing(rng: np.random.Generator, left: bool | None, size_px: int) -> Thing:
    shape = SHAPES[rng.integers(len(SHAPES))]
    colour = list(COLOURS)[rng.integers(len(COLOURS))]
    size = list(SIZES)[rng.integers(len(SIZES))]
    r = SIZES[size]
    if left is None:
        x = rng.uniform(r + 1, size_px - r - 1)
    else:
        half = size_px / 2
        lo, hi = (r + 1, half - r) if left else (half + r, size_px - r - 1)
        x = rng.uniform(lo, hi)
    y = rng.uniform(r + 1, size_px - r - 1)
    return Thing(shape, colour, size, round(float(x), 2), round(float(y), 2))


def random_scenes(n: int, seed: int = 0, two_share: float = 0.7, size: int = IMAGE_SIZE) -> list[Scene]:
    """``n`` scenes from ``seed``: a share ``two_share`` of them hold two objects, the rest one.

    >>> [caption(s) for s in random_scenes(2, seed=1)]
    ['a small yellow triangle left of a small yellow circle', 'a large red circle left of a large green triangle']
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(n):
        if rng.random() < two_share:
            scenes.append(Scene((_thing(rng, True, size), _thing(rng, False, size))))
        else:
            scenes.append(Scene((_thing(rng, None, size),)))
    return scenes


def distinct_captions(n: int, seed: int = 1, two_share: float = 0.7) -> list[Scene]:
    """``n`` scenes whose captions are all different (the first scene drawn for each new caption)."""
    seen, out, draw = set(), [], 0
    while len(out) < n:
        for scene in random_scenes(4 * n, seed=seed * 1000 + draw, two_share=two_share):
            if caption(scene) not in seen:
                seen.add(caption(scene))
                out.append(scene)
                if len(out) == n:
                    break
        draw += 1
        if draw > 50:
            raise ValueError(f"cannot find {n} distinct captions")
    return out


def render(scene: Scene, size: int = IMAGE_SIZE) -> np.ndarray:
    """One scene -> float32 image ``(3, size, size)``: shapes in their colour on a near-black background."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5                           # (size, size) pixel centres
    image = np.full((3, size, size), 0.05, dtype=np.float32)
    for t in scene.things:
        r = SIZES[t.size]
        dx, dy = xx - t.x, yy - t.y
        if t.shape == "circle":
            mask = dx ** 2 + dy ** 2 <= r ** 2
        elif t.shape == "square":
            mask = (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
        else:                                                         # triangle, point up
            mask = (dy <= r) & (dy >= -r) & (np.abs(dx) <= (dy + r) / 2)
        image[:, mask] = np.asarray(COLOURS[t.colour], dtype=np.float32)[:, None]
    return image


def render_batch(scenes, size: int = IMAGE_SIZE) -> np.ndarray:
    """Scenes -> float32 array ``(n, 3, size, size)``."""
    return np.stack([render(s, size) for s in scenes])
