"""utils.scenes: deterministic scenes, captions that match the pictures, the colour swap keeps the words."""
import numpy as np

from utils import scenes


def test_deterministic_and_captions():
    a, b = scenes.random_scenes(50, seed=3), scenes.random_scenes(50, seed=3)
    assert a == b and np.array_equal(scenes.render_batch(a), scenes.render_batch(b))
    for s in a:
        words = scenes.caption(s).split()
        assert words.count("left") == len(s.things) - 1
        for t in s.things:
            assert t.colour in words and t.shape in words


def test_colour_of_pixels_matches_caption():
    s = scenes.Scene((scenes.Thing("square", "red", "large", 8, 16), scenes.Thing("circle", "blue", "large", 24, 16)))
    img = scenes.render(s)
    assert np.allclose(img[:, 16, 8], scenes.COLOURS["red"]) and np.allclose(img[:, 16, 24], scenes.COLOURS["blue"])
    swapped = scenes.swap_colours(s)
    assert sorted(scenes.caption(swapped).split()) == sorted(scenes.caption(s).split())
    assert np.allclose(scenes.render(swapped)[:, 16, 8], scenes.COLOURS["blue"])


def test_distinct_captions():
    test = scenes.distinct_captions(100, seed=1)
    assert len({scenes.caption(s) for s in test}) == 100
