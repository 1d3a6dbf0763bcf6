"""Turning what a learner gave into a value a check can compare: numbers, arrays, tensors, lists of ids.

Every coercer either returns a plain value (a float, a numpy array, a detached tensor, a list of ints) or raises
:class:`~utils.checks.CheckFailed` with one line saying what was expected instead. The chapter checks use these and
no private copies, so the same mistake (a missing ``return``, a tensor where a number was asked) reads the same in
every chapter. ``utils.checks`` re-exports the ones it has always offered (``scalar``, ``returned``, ``as_numpy``,
``expect_array``, ``expect_close``, ``is_torch``, ``CheckFailed``).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["CheckFailed", "is_torch", "returned", "scalar", "as_numpy", "as_array", "as_tensor", "as_ints",
           "as_whole_numbers", "as_indices", "close", "expect_close", "expect_array"]


class CheckFailed(Exception):
    """Raised inside a check body: the message is the one line the learner reads. Defined here, where the coercers
    raise it, so that this module imports nothing of ``utils.checks``; its public name is ``utils.checks.CheckFailed``.
    """


CheckFailed.__module__ = "utils.checks"


def is_torch(value) -> bool:
    """True for a torch tensor (or any torch object), without importing torch.

    >>> is_torch(np.zeros(2)), is_torch([1.0])
    (False, False)
    """
    return type(value).__module__.startswith("torch")


def returned(value, name: str, hint: str = "did you forget `return`?", *, verb: str = "returned"):
    """``value`` unchanged, or fail with ``"{name} {verb} None - {hint}"`` when it is None (a missing ``return`` is
    the usual reason). The one place that message is written.

    >>> returned(3, "f")
    3
    >>> returned(None, "get_pair_counts", "did you forget `return counts`?")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: get_pair_counts returned None - did you forget `return counts`?
    >>> returned(None, "X", "did you forget to `return` it?", verb="is")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: X is None - did you forget to `return` it?
    """
    if value is None:
        raise CheckFailed(f"{name} {verb} None - {hint}")
    return value


def _none_value(value, name: str):
    """``value``, or the missing-``return`` failure for a value that should have been computed."""
    return returned(value, name, "did you forget to `return` it?", verb="is")


def scalar(value, name: str, *, one: str = "{name} should be a single number, got shape {shape}",
           finite: str | None = None, many: str | None = None) -> float:
    """A Python / numpy / torch number, or a one-element array or tensor, as a float; anything else fails clearly.

    ``one`` is the message for an array of several numbers (it may use {name} and {shape}); with ``finite`` given,
    NaN and infinity fail with that message (it may use {name} and {value}); with ``many`` given, a list, a tuple or
    an array with an axis fails with that message (it may use {name} and {kind}, the type) even when it holds one
    number. None is a missing ``return``;
    booleans are not numbers here.

    >>> scalar(np.float32(0.5), "loss"), scalar(np.array([[2]]), "x")
    (0.5, 2.0)
    >>> scalar(np.zeros(3), "loss")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: loss should be a single number, got shape (3,)
    >>> scalar(True, "x")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: x should be a number, got bool
    >>> scalar([0.5], "recall", many="{name} should be ONE number, not one per query")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: recall should be ONE number, not one per query
    """
    _none_value(value, name)
    if many is not None and (isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) > 0):
        raise CheckFailed(many.format(name=name, kind=type(value).__name__))
    if is_torch(value):
        if value.numel() != 1:
            raise CheckFailed(one.format(name=name, shape=tuple(value.shape)))
        value = value.detach().reshape(-1)[0].item()       # .item(): also for bfloat16, which numpy lacks
    elif isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.size != 1:
            raise CheckFailed(one.format(name=name, shape=tuple(arr.shape)))
        if arr.dtype.kind not in "iuf":
            raise CheckFailed(f"{name} should be a number, got {arr.dtype}")
        value = arr.reshape(-1)[0].item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CheckFailed(f"{name} should be a number, got {type(value).__name__}")
    value = float(value)
    if finite is not None and not math.isfinite(value):
        raise CheckFailed(finite.format(name=name, value=value))
    return value


def as_numpy(value, name: str = "your answer", *, allow_torch: bool = True) -> np.ndarray:
    """A numpy array / torch tensor / (nested) list or tuple / number as a numpy array, or fail clearly.

    >>> as_numpy([[1, 2], [3, 4]]).shape
    (2, 2)
    >>> as_numpy(None, "X")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: X is None - did you forget to `return` it?
    >>> as_numpy({"a": 1}, "X")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: X should be an array, got dict
    """
    _none_value(value, name)
    if allow_torch and is_torch(value):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)) or np.isscalar(value) or isinstance(value, np.ndarray):
        try:
            return np.asarray(value)
        except (ValueError, TypeError):
            raise CheckFailed(f"{name} could not be turned into an array (ragged rows?)") from None
    raise CheckFailed(f"{name} should be an array, got {type(value).__name__}")


def as_array(value, name: str, *, kinds: str = "fiu", finite: bool = True, torch_hint: str | None = None,
             dtype=None) -> np.ndarray:
    """What the learner's function ``name`` returned, as a numpy array of numbers: not None, of a dtype kind in
    ``kinds`` ('f' float, 'i'/'u' integer, 'b' boolean), free of NaN and infinity unless ``finite`` is False, cast
    to ``dtype`` when given. With ``torch_hint``, only a torch tensor is accepted (not a tuple holding one), and the
    message for anything else ends with the hint.

    >>> as_array([1, 2], "f", dtype=np.float64)
    array([1., 2.])
    >>> as_array(np.array([1.0, np.nan]), "f")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: f returned NaN or infinity
    >>> as_array(np.ones(2), "softmax", torch_hint="stay in torch")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: softmax should return a torch tensor, got numpy.ndarray: stay in torch
    """
    returned(value, name)
    if torch_hint is not None:   # the exercise asks for a tensor: the code after it calls torch methods on it
        if isinstance(value, tuple):
            raise CheckFailed(f"{name} returned a tuple; return only the tensor")
        if not is_torch(value):
            raise CheckFailed(f"{name} should return a torch tensor, got {type(value).__module__}."
                              f"{type(value).__name__}: {torch_hint}")
    arr = as_numpy(value, f"the result of {name}")
    if arr.dtype.kind not in kinds:
        raise CheckFailed(f"{name} should return numbers, got dtype {arr.dtype}")
    if finite and not np.all(np.isfinite(arr)):
        raise CheckFailed(f"{name} returned NaN or infinity")
    return arr if dtype is None else arr.astype(dtype)


def as_tensor(value, name: str, shape=None, *, floating: bool = True, finite: bool | str = True,
              dtype: str = "float64"):
    """What the learner's function ``name`` returned, as a detached torch tensor of ``dtype``: a torch tensor, of
    floating-point numbers (unless ``floating`` is False), of ``shape`` when given, free of NaN and infinity unless
    ``finite`` is False (a string: the message for them).

    >>> import torch
    >>> as_tensor(torch.ones(2), "f").dtype
    torch.float64
    >>> as_tensor(torch.ones(2, 3), "f", (3, 2))
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: f should return shape (3, 2), got (2, 3)
    >>> as_tensor([1.0], "f")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: f should return a torch tensor, got list
    """
    import torch

    returned(value, name)
    if not isinstance(value, torch.Tensor):
        raise CheckFailed(f"{name} should return a torch tensor, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise CheckFailed(f"{name} should return floating-point numbers, got {value.dtype}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise CheckFailed(f"{name} should return shape {tuple(shape)}, got {tuple(value.shape)}")
    if finite and not torch.isfinite(value).all():
        raise CheckFailed(finite if isinstance(finite, str) else f"{name} returned NaN or infinity")
    return value.detach().to(getattr(torch, dtype))


def as_ints(value, name: str) -> list[int]:
    """A list or tuple of Python ints (token ids), or the bytes of a ``bytes`` object, as a list; nothing looser.

    >>> as_ints((3, 1), "ids"), as_ints(b"hi", "ids")
    ([3, 1], [104, 105])
    >>> as_ints([1.0, 2], "ids")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: ids should hold ints (token ids), got ['float', 'int']...
    """
    _none_value(value, name)
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if not isinstance(value, (list, tuple)):
        raise CheckFailed(f"{name} should be a list of ints, got {type(value).__name__}")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in value):
        raise CheckFailed(f"{name} should hold ints (token ids), got {[type(x).__name__ for x in value][:3]}...")
    return list(value)


def as_whole_numbers(value, name: str, what: str, example: str, *, strings: str = "give numbers") -> list[int]:
    """Several whole numbers written by hand - a list, tuple, set (sorted), 1-D array or tensor, ``2.0`` counting as
    ``2`` - as a list of ints. ``what`` and ``example`` say what was asked (``"token ids"``, ``"[3, 0, 2]"``);
    ``strings`` is what to give instead when the value holds strings.

    >>> as_whole_numbers({2, 0}, "rows", "row ids", "{0, 6}"), as_whole_numbers(np.array([5.0, 4.0]), "s", "sizes", "")
    ([0, 2], [5, 4])
    >>> as_whole_numbers(7, "rows", "row ids", "{0, 6}")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: rows should hold several row ids, written like {0, 6}, got the single number 7
    """
    if isinstance(value, (set, frozenset)):
        value = sorted(value, key=lambda v: (str(type(v)), v))
    if (is_torch(value) and not isinstance(value, tuple)) or isinstance(value, np.ndarray):   # torch.Size: a tuple
        value = as_numpy(value, name).tolist()
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        raise CheckFailed(f"{name} should hold several {what}, written like {example}, got the single number {value}")
    if not isinstance(value, (list, tuple)):
        raise CheckFailed(f"{name} should hold {what}, written like {example}, got {type(value).__name__}")
    if any(isinstance(v, str) for v in value):
        raise CheckFailed(f"{name} holds strings ({[v for v in value if isinstance(v, str)][:3]}): {strings}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or float(v) != int(v):
            raise CheckFailed(f"{name} should hold whole numbers ({what}), got {v!r}")
        out.append(int(v))
    return out


def as_indices(value, name: str = "the result") -> list[int]:
    """Row indices a search returned - a list, 1-D array or tensor of whole numbers - as a list of ints; scores
    (numbers with a fraction) fail with a hint.

    >>> as_indices(np.array([3, 1])), as_indices([2.0, 0.0])
    ([3, 1], [2, 0])
    >>> as_indices([0.91, 0.5])
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: the result holds non-integer numbers [0.91, 0.5]: return row INDICES, not the scores
    """
    arr = as_numpy(value, name)
    if arr.ndim != 1:
        raise CheckFailed(f"{name} should be a 1-D list of row indices, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        raise CheckFailed(f"{name} holds non-integer numbers {np.round(arr, 3).tolist()}: return row INDICES, "
                          "not the scores")
    return arr.astype(int).tolist()


def close(got, want, atol: float = 1e-5, rtol: float = 1e-5) -> bool:
    """True when ``got`` and ``want`` (numbers, arrays or tensors) have the same shape and every value of ``got`` is
    within ``atol + rtol * |want|`` of ``want``; NaN is never close.

    >>> close(0.96, 0.96000001), close([1.0, 2.0], [1.0, 2.0, 3.0]), close(float("nan"), 1.0)
    (True, False, False)
    """
    a, b = (np.asarray(x.detach().cpu() if is_torch(x) else x, dtype=np.float64) for x in (got, want))
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=rtol))


def expect_close(got, want: float, message: str, tol: float = 1e-6) -> None:
    """Compare two scalars with a relative/absolute tolerance; ``message`` may use {got} and {want}.

    >>> expect_close(0.5000001, 0.5, "got {got}, want {want}")
    >>> expect_close(0.6, 0.5, "got {got}, want {want}")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: got 0.6, want 0.5
    """
    try:
        got_f = float(got)
    except (TypeError, ValueError):
        raise CheckFailed(f"expected a number, got {type(got).__name__}") from None
    if math.isnan(got_f) or not math.isclose(got_f, want, rel_tol=tol, abs_tol=tol):
        raise CheckFailed(message.format(got=f"{got_f:.6g}", want=f"{want:.6g}"))


def expect_array(value, *, name: str, shape=None, module: str | None = None, dtype_kind: str | None = None):
    """Check type (``module`` = "numpy" or "torch"), shape and dtype kind ('f' float, 'i' integer); return numpy.

    >>> expect_array([[1.0, 2.0]], name="X", shape=(1, 2)).dtype
    dtype('float64')
    >>> expect_array([[1.0, 2.0]], name="X", shape=(2, 1))
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: X should have shape (2, 1), got (1, 2)
    """
    if module == "numpy" and not isinstance(value, np.ndarray):
        raise CheckFailed(f"{name} should be a numpy array, got {type(value).__module__}.{type(value).__name__}")
    if module == "torch" and not is_torch(value):
        raise CheckFailed(f"{name} should be a torch tensor, got {type(value).__module__}.{type(value).__name__}")
    arr = as_numpy(value, name)
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise CheckFailed(f"{name} should have shape {tuple(shape)}, got {tuple(arr.shape)}")
    if dtype_kind is not None:
        kinds = {"f": "floating-point", "i": "integer", "b": "boolean"}
        actual = "i" if arr.dtype.kind in "iu" else arr.dtype.kind
        if actual != dtype_kind:
            raise CheckFailed(f"{name} should hold {kinds[dtype_kind]} numbers, got dtype {arr.dtype}")
    return arr
