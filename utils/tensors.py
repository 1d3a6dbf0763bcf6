"""Helpers for notebook 01 (scalars, vectors, matrices, tensors)."""
from __future__ import annotations

import numpy as np


def describe(x) -> str:
    """One line with what matters about an array or tensor (defined in notebook 01, section 1).

    >>> describe(np.zeros((2, 3)))
    'numpy ndarray  ndim=2  shape=(2, 3)  size=6  dtype=float64'
    """
    kind = "torch Tensor" if type(x).__module__.startswith("torch") else "numpy ndarray"
    shape = tuple(x.shape)
    size = int(np.prod(shape)) if shape else 1
    dtype = str(x.dtype).replace("torch.", "")
    return f"{kind}  ndim={len(shape)}  shape={shape}  size={size}  dtype={dtype}"


def broadcast_shape(a: tuple, b: tuple) -> tuple | None:
    """The shape of ``A + B`` for arrays of shapes ``a`` and ``b``, or None if they do not broadcast.

    Rules (notebook 01, section 5): align shapes on the right; two sizes match if equal or if one is 1.

    >>> broadcast_shape((3, 1), (1, 4))
    (3, 4)
    >>> broadcast_shape((2, 3), (3,))
    (2, 3)
    >>> broadcast_shape((2, 3), (2,)) is None
    True
    """
    result = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            return None
        result.append(max(x, y) if 0 not in (x, y) else 0)
    return tuple(reversed(result))


def matmul_shape(a: tuple, b: tuple) -> tuple | None:
    """Shape of ``A @ B`` (numpy/torch rules for ndim >= 2), or None when the inner sizes differ.

    >>> matmul_shape((8, 5, 4), (4, 3))
    (8, 5, 3)
    >>> matmul_shape((8, 5, 4), (8, 4, 2))
    (8, 5, 2)
    """
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
        return None
    batch = broadcast_shape(a[:-2], b[:-2])
    return None if batch is None else batch + (a[-2], b[-1])
