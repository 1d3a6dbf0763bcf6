"""utils.tensors agrees with numpy's own shape rules."""
import itertools

import numpy as np
import pytest
import torch

from utils.tensors import broadcast_shape, describe, matmul_shape

SHAPES = [(), (1,), (3,), (2, 3), (3, 1), (1, 4), (2, 1, 4), (5, 2, 3), (0, 3), (1, 0)]


@pytest.mark.parametrize("a, b", list(itertools.product(SHAPES, SHAPES)))
def test_broadcast_shape_matches_numpy(a, b):
    try:
        expected = tuple(np.broadcast_shapes(a, b))
    except ValueError:
        expected = None
    assert broadcast_shape(a, b) == expected


@pytest.mark.parametrize("a, b", [((2, 3), (3, 4)), ((8, 5, 4), (4, 3)), ((8, 5, 4), (8, 4, 2)),
                                  ((2, 1, 3, 4), (5, 4, 2)), ((2, 3), (4, 3)), ((3, 2, 4), (2, 4, 1))])
def test_matmul_shape_matches_torch(a, b):
    try:
        expected = tuple((torch.zeros(a) @ torch.zeros(b)).shape)
    except RuntimeError:
        expected = None
    assert matmul_shape(a, b) == expected


def test_describe_numpy_and_torch():
    assert describe(np.zeros((2, 3), dtype=np.float32)) == "numpy ndarray  ndim=2  shape=(2, 3)  size=6  dtype=float32"
    assert describe(torch.zeros(4, 1, 2)) == "torch Tensor  ndim=3  shape=(4, 1, 2)  size=8  dtype=float32"
    assert describe(np.float64(1.5) * np.ones(())) .endswith("ndim=0  shape=()  size=1  dtype=float64")
