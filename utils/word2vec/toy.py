"""Gradient descent on one number (notebook 05, section 2): the smallest training loop, before any embedding.
"""
from __future__ import annotations

import math

import numpy as np


def gradient_descent_1d(grad, x0: float, lr: float, steps: int) -> np.ndarray:
    """Plain gradient descent on a 1-D function: x <- x - lr * grad(x). Returns all ``steps + 1`` positions.

    >>> gradient_descent_1d(lambda x: 2 * (x - 3), x0=0.0, lr=0.25, steps=3).tolist()   # f = (x - 3)^2
    [0.0, 1.5, 2.25, 2.625]
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    xs = [float(x0)]
    for _ in range(steps):
        g = float(grad(xs[-1]))
        xs.append(xs[-1] - lr * g if math.isfinite(g) else math.nan)
    return np.array(xs)
