"""Exercise checks: the shared machinery every chapter's checks are built on.

A check is a function decorated with :func:`exercise`. It receives the learner's answer (a value, or a function they
wrote), raises :class:`CheckFailed` with ONE line naming the likely mistake, or returns quietly when all is well. The
decorator turns that into what the learner sees under the check cell:

    ✅ [1.2] Build tensors of given shapes: passed
    ❌ ExerciseFailed: [1.2] b should have shape (2, 3), got (3, 2) - rows and columns swapped?
    ⏳ ExerciseNotAttempted: [1.2] replace the `...` in the exercise cell with your answer, run it, then run this check

Stubs in learner notebooks are either ``x = ...`` (top-level answers) or ``raise NotImplementedError`` (inside a
function the learner writes); both count as "not attempted". The format of these lines, the two exceptions and the
function that reads results back from a notebook's saved outputs are the check <-> grader contract,
:mod:`utils.checks.contract`. The grader (``python -m course_tools.grade``) does not read these lines: it runs each check
itself (:mod:`course_tools.grading.judge`) and takes the exception it raises.
"""
from __future__ import annotations

import ast
import copy
import functools
import inspect
import math
import textwrap
from typing import Callable

import numpy as np

from utils.checks.contract import (FAIL_MARK, PASS_MARK, TODO_MARK, ExerciseFailed, ExerciseNotAttempted,  # noqa: F401
                                   chapter_of_id, pass_line)

__all__ = [
    "CheckFailed", "ExerciseFailed", "ExerciseNotAttempted", "exercise", "private_check", "REGISTRY", "PASS_MARK",
    "expect", "expect_close", "as_numpy", "expect_array", "expect_choice", "is_stub", "calls", "source_tree",
    "source_of", "global_used", "learner_helper", "is_torch", "returned", "scalar", "call_on_copies", "same_value",
    "expect_unchanged",
]

#: chapter ("01") -> ordered {exercise id: title}; filled as the chapter's check module is imported.
REGISTRY: dict[str, dict[str, str]] = {}


class CheckFailed(Exception):
    """Raised inside a check body: the message is the one line the learner reads."""


def is_stub(value) -> bool:
    """True for the placeholder a learner notebook starts with: ``...`` (Ellipsis)."""
    return value is Ellipsis


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def exercise(ex_id: str, title: str) -> Callable:
    """Register a check for exercise ``ex_id`` (e.g. "1.2", chapter = the part before the dot, zero-padded).

    The wrapped check prints a pass line, or raises ExerciseNotAttempted / ExerciseFailed with one readable line.
    """
    chapter = chapter_of_id(ex_id)

    def decorate(body: Callable) -> Callable:
        chapter_registry = REGISTRY.setdefault(chapter, {})
        if ex_id in chapter_registry and chapter_registry[ex_id] != title:
            raise ValueError(f"exercise id {ex_id} registered twice")
        chapter_registry[ex_id] = title
        return _wrap(body, ex_id, title)

    return decorate


def private_check(ex_id: str, title: str) -> Callable:
    """A check an instructor keeps outside the course (``python -m course_tools.grade --private-checks DIR``): it takes the
    same arguments as the course's check of exercise ``ex_id``, runs after it when grading, and is reported as its
    own line, marked private. Not registered: the course's exercises do not change.

    >>> @private_check("0.1", "Codes of accented letters")
    ... def accents(fn):
    ...     expect(fn("é") == [233], "é is one code point, 233")
    >>> accents(lambda word: [ord(c) for c in word])
    ✅ [0.1] Codes of accented letters: passed
    >>> accents.private, accents.ex_id
    (True, '0.1')
    """
    def decorate(body: Callable) -> Callable:
        check = _wrap(body, ex_id, title)
        check.private = True
        return check

    return decorate


def _wrap(body: Callable, ex_id: str, title: str) -> Callable:
    @functools.wraps(body)
    def check(*args, **kwargs):
        if any(is_stub(a) for a in args) or any(is_stub(v) for v in kwargs.values()):
            raise ExerciseNotAttempted(
                ex_id, "replace the `...` in the exercise cell with your answer, run it, then run this check")
        try:
            detail = body(*args, **kwargs)
        except NotImplementedError:
            raise ExerciseNotAttempted(
                ex_id, "your function still raises NotImplementedError: write its body, run the cell, "
                       "then run this check") from None
        except CheckFailed as failure:
            raise ExerciseFailed(ex_id, str(failure)) from None
        except (ExerciseFailed, ExerciseNotAttempted):
            raise
        except Exception as exc:  # the learner's code crashed while we called it
            raise ExerciseFailed(ex_id, f"your code raised {_short(exc)}") from None
        print(pass_line(ex_id, title, detail))

    check.ex_id = ex_id
    check.title = title
    return check


# ----------------------------------------------------------------------------------------------------------------
# Small assertion helpers used by chapter checks. Each raises CheckFailed with the message given.

def expect(condition: bool, message: str) -> None:
    """``expect(x == 3, "x should be 3")`` - fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def expect_close(got, want: float, message: str, tol: float = 1e-6) -> None:
    """Compare two scalars with a relative/absolute tolerance; ``message`` may use {got} and {want}."""
    try:
        got_f = float(got)
    except (TypeError, ValueError):
        raise CheckFailed(f"expected a number, got {type(got).__name__}") from None
    if math.isnan(got_f) or not math.isclose(got_f, want, rel_tol=tol, abs_tol=tol):
        raise CheckFailed(message.format(got=_fmt(got_f), want=_fmt(want)))


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def as_numpy(value, name: str = "your answer", *, allow_torch: bool = True) -> np.ndarray:
    """Convert a numpy array / torch tensor / nested list to a float-or-int numpy array, or fail clearly."""
    if value is None:
        raise CheckFailed(f"{name} is None - did you forget to `return` it?")
    if allow_torch and type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)) or np.isscalar(value) or isinstance(value, np.ndarray):
        try:
            return np.asarray(value)
        except (ValueError, TypeError):
            raise CheckFailed(f"{name} could not be turned into an array (ragged rows?)") from None
    raise CheckFailed(f"{name} should be an array, got {type(value).__name__}")


def expect_array(value, *, name: str, shape=None, module: str | None = None, dtype_kind: str | None = None):
    """Check type (``module`` = "numpy" or "torch"), shape and dtype kind ('f' float, 'i' integer); return numpy."""
    if module == "numpy" and not isinstance(value, np.ndarray):
        raise CheckFailed(f"{name} should be a numpy array, got {type(value).__module__}.{type(value).__name__}")
    if module == "torch" and not type(value).__module__.startswith("torch"):
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


def expect_choice(answer, *, correct: str, options: str, why_wrong: dict[str, str], explanation: str) -> str:
    """Multiple-choice quiz: ``answer`` is one letter of ``options``. Wrong letters fail with their own hint.

    Returns the explanation, which the pass line prints, so the learner reads why the answer is right.
    """
    if not isinstance(answer, str) or len(answer.strip()) != 1 or answer.strip().lower() not in options:
        choices = ", ".join(repr(o) for o in options)
        raise CheckFailed(f"answer with one letter as a string: one of {choices} (got {answer!r})")
    letter = answer.strip().lower()
    if letter != correct:
        raise CheckFailed(f"'{letter}' is not right: {why_wrong.get(letter, 'think again about the definition')}")
    return explanation


@functools.singledispatch
def source_of(fn) -> str | None:
    """How the learner wrote ``fn``: its source, or None when it is not available (a builtin, a lambda typed at a
    prompt). Other kinds of function (the grader's stand-in for one in the learner's kernel) register their own way.

    >>> def double(x):
    ...     return 2 * x
    >>> source_of(double).split(":")[0], source_of(len)
    ('def double(x)', None)
    """
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return None


@functools.singledispatch
def global_used(fn, name: str):
    """The global ``name`` where ``fn`` was defined, when ``fn``'s code uses that name; else None (other kinds of
    function register their own way, as for :func:`source_of`)."""
    code = getattr(fn, "__code__", None)
    if code is None or name not in code.co_names:
        return None
    return getattr(fn, "__globals__", {}).get(name)


def source_tree(fn):
    """The parsed source of ``fn`` (from :func:`source_of`), or None when it is not available."""
    source = source_of(fn)
    try:
        return ast.parse(textwrap.dedent(source)) if isinstance(source, str) else None
    except (SyntaxError, IndentationError, ValueError):
        return None


def learner_helper(fn, name: str):
    """The learner's own function ``name`` that their function ``fn`` uses (an earlier exercise's answer, looked up
    where ``fn`` was defined, by :func:`global_used`), or None when ``fn`` does not use that name.

    >>> def helper(x):
    ...     return x
    >>> def answer(x):
    ...     return helper(x) + 1
    >>> learner_helper(answer, "helper") is helper, learner_helper(answer, "other")
    (True, None)
    """
    tree = source_tree(fn)
    if tree is not None and not any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(tree)):
        return None  # ``bpe.merge(...)`` is the reference's merge, not the learner's own ``merge``
    return global_used(fn, name)


def calls(fn, *names: str) -> str | None:
    """The first of ``names`` that the source of ``fn`` uses, matched on the end of a dotted name, else None.

    For exercises that forbid a library shortcut: ``calls(f, "linalg.norm")`` finds ``np.linalg.norm(x)`` and
    ``numpy.linalg.norm``. None when the source is not available (a lambda typed at a prompt, a builtin).

    >>> def f(x):
    ...     return np.linalg.norm(x)
    >>> calls(f, "linalg.norm"), calls(f, "one_hot")
    ('linalg.norm', None)
    """
    tree = source_tree(fn)
    if tree is None:
        return None
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)):
            parts = []
            while isinstance(node, ast.Attribute):
                parts.append(node.attr)
                node = node.value
            if isinstance(node, ast.Name):
                parts.append(node.id)
            used.add(".".join(reversed(parts)))
    for name in names:
        if any(u == name or u.endswith("." + name) for u in used):
            return name
    return None


# ----------------------------------------------------------------------------------------------------------------
# Helpers every chapter's checks share: what kind of value the learner returned, and turning it into a number.

def is_torch(value) -> bool:
    """True for a torch tensor (or any torch object), without importing torch.

    >>> is_torch(np.zeros(2)), is_torch([1.0])
    (False, False)
    """
    return type(value).__module__.startswith("torch")


def returned(value, name: str, hint: str = "did you forget `return`?"):
    """``value`` unchanged, or fail with ``"{name} returned None - {hint}"`` when the learner's function returned
    None (a missing ``return`` is the usual reason).

    >>> returned(3, "f")
    3
    >>> returned(None, "get_pair_counts", "did you forget `return counts`?")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: get_pair_counts returned None - did you forget `return counts`?
    """
    if value is None:
        raise CheckFailed(f"{name} returned None - {hint}")
    return value


def scalar(value, name: str, *, one: str = "{name} should be a single number, got shape {shape}",
           finite: str | None = None) -> float:
    """A Python / numpy / torch number, or a one-element array or tensor, as a float; anything else fails clearly.

    ``one`` is the message for an array of several numbers (it may use {name} and {shape}); with ``finite`` given,
    NaN and infinity fail with that message (it may use {name} and {value}). Booleans are not numbers here.

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
    """
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


# ----------------------------------------------------------------------------------------------------------------
# A check never trusts what the learner's function did to its inputs: it passes copies and compares them.

def call_on_copies(fn, *args, **kwargs):
    """Call the learner's ``fn`` on deep copies of its arguments: ``(result, copies)``, ``copies`` being the
    positional arguments as ``fn`` left them (the grader copies in-place changes back into them). The check's own
    objects stay as they were, so what it computes from them is right whatever ``fn`` does.

    >>> sneaky, data = lambda xs: xs.append(4) or len(xs), [1, 2, 3]     # a function that changes its input
    >>> call_on_copies(sneaky, data), data
    ((4, [[1, 2, 3, 4]]), [1, 2, 3])
    """
    copies, kw = copy.deepcopy((list(args), kwargs))
    return fn(*copies, **kw), copies


def same_value(a, b) -> bool:
    """True when ``b`` holds what ``a`` holds: same type; arrays and tensors by shape, dtype and values (NaN equals
    NaN); torch layers by parameters, buffers and settings; containers item by item; other objects by attributes.

    >>> same_value([np.array([1.0, np.nan])], [np.array([1.0, np.nan])]), same_value({"a": (1, 2)}, {"a": [1, 2]})
    (True, False)
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if is_torch(a):
        import torch
        if isinstance(a, torch.Tensor):
            a, b = a.detach().cpu(), b.detach().cpu()
            return a.shape == b.shape and a.dtype == b.dtype and bool(
                ((a == b) | (a.isnan() & b.isnan()) if a.is_floating_point() else a == b).all())
        if isinstance(a, torch.nn.Module):   # parameters and buffers, then settings (eps, training...) of each layer
            cfg = [[{k: v for k, v in vars(s).items() if not k.startswith("_")} for s in m.modules()] for m in (a, b)]
            return same_value(a.state_dict(), b.state_dict()) and same_value(*cfg)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if hasattr(a, "__dict__") and not callable(a):
        return same_value(vars(a), vars(b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - a value that cannot say whether it is equal counts as changed
        return False


def expect_unchanged(original, after, name: str, hint: str = "leave your inputs as they were") -> None:
    """Fail with "your function changed its input `name` in place: <hint>" unless ``after`` (the learner's copy of an
    input, from :func:`call_on_copies`) holds what ``original`` holds.

    >>> expect_unchanged([1, 2], [1, 2], "ids")
    >>> expect_unchanged([1, 2], [], "ids")
    Traceback (most recent call last):
    ...
    utils.checks.CheckFailed: your function changed its input `ids` in place: leave your inputs as they were...
    """
    if not same_value(original, after):
        raise CheckFailed(f"your function changed its input `{name}` in place: {hint}")
