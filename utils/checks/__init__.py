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
import sys
import textwrap
from typing import Callable

import numpy as np

from utils.checks.contract import (FAIL_MARK, PASS_MARK, TODO_MARK, ExerciseFailed, ExerciseNotAttempted,  # noqa: F401
                                   chapter_of_id, pass_line)
from utils.checks.values import (CheckFailed, as_numpy, expect_array, expect_close, is_torch, returned,  # noqa: F401
                                 scalar)

__all__ = [
    "CheckFailed", "ExerciseFailed", "ExerciseNotAttempted", "exercise", "quiz", "Quiz", "private_check", "REGISTRY",
    "PASS_MARK", "FAIL_MARK", "TODO_MARK", "expect", "expect_close", "as_numpy", "expect_array", "expect_choice",
    "is_stub", "calls", "source_tree", "source_of", "global_used", "learner_helper", "is_torch", "returned", "scalar",
    "call_on_copies", "same_value", "expect_unchanged", "gradients",
]

#: chapter ("01") -> ordered {exercise id: title}; filled as the chapter's check module is imported.
REGISTRY: dict[str, dict[str, str]] = {}




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


def quiz(ex_id: str, title: str, *, correct: str, options: str, why_wrong: dict[str, str], explanation: str) -> "Quiz":
    """The check of a multiple-choice quiz, written as data: registered as :func:`exercise` registers a check, it
    takes the learner's letter (see :func:`expect_choice`) and prints the explanation on its pass line.

    >>> quiz_norm = quiz("99.1", "Quiz: a norm", correct="b", options="abc",
    ...                  why_wrong={"a": "a norm is never negative"}, explanation="the L2 norm of [3, 4] is 5")
    >>> quiz_norm("B")
    ✅ [99.1] Quiz: a norm: passed - the L2 norm of [3, 4] is 5
    >>> quiz_norm("a")
    Traceback (most recent call last):
    ...
    utils.checks.contract.ExerciseFailed: [99.1] 'a' is not right: a norm is never negative
    >>> quiz_norm.ex_id, quiz_norm.__name__, REGISTRY.pop("99")
    ('99.1', 'quiz_norm', {'99.1': 'Quiz: a norm'})
    """
    return Quiz(ex_id, title, correct=correct, options=options, why_wrong=why_wrong, explanation=explanation,
                where=sys._getframe(1).f_globals)


class Quiz:
    """A quiz's check (made by :func:`quiz`): called with the learner's letter, like any check. Its name is the one
    it is bound to in its module (``quiz_dimension = quiz(...)``), which is how a check cell calls it."""

    def __init__(self, ex_id: str, title: str, *, correct: str, options: str, why_wrong: dict[str, str],
                 explanation: str, where: dict):
        if correct not in options or correct in why_wrong or not set(why_wrong) <= set(options):
            raise ValueError(f"quiz {ex_id}: the right answer {correct!r} must be one of {options!r}, and every hint "
                             "must be for one of the other letters")
        self.correct, self.options, self.why_wrong, self.explanation = correct, options, dict(why_wrong), explanation
        self._where = where                       # the globals of the module that binds it: where its name is
        self.__module__ = where.get("__name__", "")
        self._check = exercise(ex_id, title)(self._answer)
        self.ex_id, self.title = ex_id, title

    def _answer(self, answer) -> str:
        return expect_choice(answer, correct=self.correct, options=self.options, why_wrong=self.why_wrong,
                             explanation=self.explanation)

    def __call__(self, answer) -> None:
        self._check(answer)

    @property
    def __name__(self) -> str:
        return next((name for name, value in self._where.items() if value is self), "quiz")

    def __repr__(self) -> str:
        return f"<quiz {self.ex_id} {self.title!r}>"


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


@functools.singledispatch
def gradients(fn, args, wrt):
    """Call ``fn(*args)`` on copies of ``args``, the tensors at the positions ``wrt`` requiring a gradient, and return
    ``(result, grads)``: the gradient of ``result.sum()`` with respect to each of them, None for an input the result
    is not computed from (all None when the result is not a tensor that requires a gradient). A loss that only copies
    the inputs' ``requires_grad`` flag gets None. Other kinds of function (the grader's stand-in for one in the
    learner's kernel, where the autograd graph stays) register their own way, as for :func:`source_of`.

    >>> import torch
    >>> x, y = torch.tensor([1.0, 2.0]), torch.tensor([3.0])
    >>> result, (gx, gy) = gradients(lambda a, b: (a * a).sum(), (x, y), wrt=(0, 1))
    >>> result.item(), gx.tolist(), gy, x.requires_grad
    (5.0, [2.0, 4.0], None, False)
    >>> result, (gx,) = gradients(lambda a, b: (a * b.add_(1)).sum(), (x, y), wrt=(0,))   # b changed: a copy
    >>> result.item(), gx.tolist(), y.tolist()
    (12.0, [4.0, 4.0], [3.0])
    >>> gradients(lambda a, b: torch.tensor(5.0, requires_grad=a.requires_grad), (x, y), wrt=(0,))[1]
    [None]
    """
    import torch

    for i in wrt:
        if not (isinstance(args[i], torch.Tensor) and args[i].is_floating_point()):
            raise TypeError(f"gradients: argument {i} should be a floating-point tensor, got {type(args[i]).__name__}")
    inputs = [a.detach().clone().requires_grad_(True) if i in wrt else copy.deepcopy(a) for i, a in enumerate(args)]
    result = fn(*inputs)
    leaves = [inputs[i] for i in wrt]
    if not (isinstance(result, torch.Tensor) and result.requires_grad):
        return result, [None] * len(leaves)
    return result, list(torch.autograd.grad(result.sum(), leaves, allow_unused=True))


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
