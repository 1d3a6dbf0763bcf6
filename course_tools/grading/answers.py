"""What comes back from the learner's kernel, on the grader's side: the plain data a probe wrote
(:func:`course_tools.grading.probe.encode`) turned back into values (:func:`decode`), without pickle; the learner's objects
that cannot be data, as :class:`Remote` stand-ins whose every use is one more probe; the learner's exceptions, by name;
and in-place changes copied into the check's own arguments (:func:`apply_in_place`). Used by
:mod:`course_tools.grading.judge`.

>>> decode({"t": "list", "v": [{"t": "int", "v": 1}, {"t": "ellipsis"}]}, {}, None)
[1, Ellipsis]
"""
from __future__ import annotations

import builtins
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

from course_tools.grading import codec
from course_tools.grading.probe import JSON_KEY, MAX_BYTES
from utils.checks import CheckFailed, global_used, gradients, source_of

MAX_FILE = MAX_BYTES + 16 * 2**20


_EXCEPTIONS: dict[str, type] = {}


def _exception(spec: dict) -> BaseException:
    """An exception like the one the learner's code raised: the builtin class itself, else one of the same name."""
    name = str(spec.get("type", "Exception"))
    cls = getattr(builtins, name, None) if spec.get("builtin") else None
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        safe = name if name.isidentifier() else "Exception"
        cls = _EXCEPTIONS.setdefault(safe, type(safe, (Exception,), {"__module__": "learner"}))
    return cls(str(spec.get("message", "")))


def decode(node, arrays, judge):
    """The value ``node`` (written by :func:`course_tools.grading.probe.encode`) describes: data, or a stand-in
    (:class:`Remote`) for an object that stays in the kernel; ValueError for anything no probe writes."""
    return codec.decode(node, arrays, lambda ref: _remote_class(str(ref["type"]), str(ref["module"]),
                                                              bool(ref.get("callable")))(judge, ref))


def apply_in_place(original, new) -> None:
    """Give ``original`` (an argument the check passed) the contents the learner's function left in it."""
    torch = sys.modules.get("torch")
    if isinstance(original, np.ndarray) and isinstance(new, np.ndarray):
        if original.shape == new.shape and original.flags.writeable:
            np.copyto(original, new, casting="unsafe")
    elif torch is not None and isinstance(original, torch.Tensor) and isinstance(new, torch.Tensor):
        with torch.no_grad():
            if original.shape == new.shape:
                original.copy_(new)
        original.grad = new.grad
    elif torch is not None and isinstance(original, torch.nn.Module) and isinstance(new, torch.nn.Module):
        mine, theirs = dict(original.named_parameters()), dict(new.named_parameters())
        for name, p in mine.items():
            if name in theirs:
                apply_in_place(p, theirs[name])
        buffers = dict(new.named_buffers())
        for name, b in original.named_buffers():
            if name in buffers:
                apply_in_place(b, buffers[name])
        original.train(new.training)
    elif torch is not None and isinstance(original, torch.Generator) and isinstance(new, torch.Generator):
        original.set_state(new.get_state())
    elif isinstance(original, list) and isinstance(new, list):
        original[:] = new
    elif isinstance(original, dict) and isinstance(new, dict):
        original.clear()
        original.update(new)


# ---------------------------------------------------------------------------------------------- learner objects
class Remote:
    """An object that stays in the learner's kernel (their function, an instance of their class): every use is a
    probe. ``_node["source"]`` is the source of a learner's function (the judge puts there the one in the submitted
    notebook), for the checks that look at how an answer is written (:func:`utils.checks.source_of`)."""

    def __init__(self, judge, node):
        object.__setattr__(self, "_judge", judge)
        object.__setattr__(self, "_node", node)
        object.__setattr__(self, "__name__", node.get("name") or node.get("type"))

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._judge.apply(self, "getattr", name)

    def __len__(self):
        return self._judge.apply(self, "len")

    def __iter__(self):
        return self._judge.apply(self, "iter")

    def __next__(self):
        return self._judge.apply(self, "next")

    def __getitem__(self, key):
        return self._judge.apply(self, "getitem", key)

    def __contains__(self, item):
        return self._judge.apply(self, "contains", item)

    def __bool__(self):
        return self._judge.apply(self, "bool")

    def __str__(self):
        return self._judge.apply(self, "str")

    def __repr__(self):
        return str(self._node.get("repr", "<learner object>"))


class RemoteFunction(Remote):
    """A learner's function (or class, or any callable of theirs): calling it is a probe."""

    def __call__(self, *args, **kwargs):
        return self._judge.call(self, args, kwargs)


# the checks' two questions about a learner's function (utils.checks.source_of / global_used), answered for one that
# stays in the learner's kernel
@source_of.register
def _remote_source(fn: Remote) -> str | None:
    source = fn._node.get("source")
    return source if isinstance(source, str) else None


@source_of.register
def _remote_function_source(fn: RemoteFunction) -> str | None:
    source = fn._node.get("source")
    if source is None:  # graded, and the notebook has no `def` of it in the exercise cell (built with exec, a lambda)
        raise CheckFailed(f"the grader cannot see how {getattr(fn, '__name__', 'your function')} is written: "
                          "define it with `def` in its exercise cell")
    return source if isinstance(source, str) else None


@global_used.register
def _remote_global(fn: Remote, name: str):
    return None


@global_used.register
def _remote_function_global(fn: RemoteFunction, name: str):
    """The learner's ``name`` as this function sees it, asked of the kernel (the same lookup, made there)."""
    return fn._judge.apply(fn, "helper", name)


@gradients.register
def _remote_gradients(fn: RemoteFunction, args, wrt):
    """The gradients made in the kernel (the probe's "grad": the graph never leaves it). Whatever comes back is
    checked to be what :func:`utils.checks.gradients` returns - a result and, per input of ``wrt``, None or a tensor
    of that input's shape and dtype - or the exercise fails with a message; the gradients come back detached."""
    import torch

    answer = fn._judge.apply(fn, "grad", list(args), list(wrt))
    if not (isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[1], list)
            and len(answer[1]) == len(wrt)):
        raise CheckFailed(f"the grader got {_kind(answer)} back from your kernel instead of your function's result "
                          f"and one gradient per input ({len(wrt)}): leave the grader's code in the kernel as it is")
    result, grads = answer
    for i, g in zip(wrt, grads):
        want = args[i]
        if g is not None and not (isinstance(g, torch.Tensor) and g.shape == want.shape and g.dtype == want.dtype):
            raise CheckFailed(f"the gradient of argument {i} that came back from your kernel is {_kind(g)}, not a "
                              f"tensor of shape {tuple(want.shape)} and dtype {want.dtype}: leave the grader's code "
                              f"in the kernel as it is")
    return result, [None if g is None else g.detach() for g in grads]


def _kind(x) -> str:
    """What came back, for a message: 'a list', 'a float32 tensor of shape (2, 3)'."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        return f"a {str(x.dtype).removeprefix('torch.')} tensor of shape {tuple(x.shape)}"
    return f"a {type(x).__name__}"


_REMOTE_CLASSES: dict[tuple[str, str, bool], type] = {}


def _remote_class(name: str, module: str, is_callable: bool) -> type:
    """A subclass of Remote named like the learner's type, so that messages ("got Foo") read as in JupyterLab."""
    key = (name, module, is_callable)
    if key not in _REMOTE_CLASSES:
        cls = type(name if name.isidentifier() else "Remote", (RemoteFunction if is_callable else Remote,), {})
        cls.__module__ = "learner" if module.startswith(("torch", "numpy")) else module
        _REMOTE_CLASSES[key] = cls
    return _REMOTE_CLASSES[key]


def _stored_within(data: bytes, limit: int) -> bool:
    """True when the zip ``data`` (an answer is ``np.savez``: stored, not compressed) holds only stored members whose
    sizes add up to at most ``limit``: a compressed member could inflate 1 MB into gigabytes in the grader."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return (all(m.compress_type == zipfile.ZIP_STORED and m.file_size == m.compress_size for m in members)
            and sum(m.file_size for m in members) <= limit)


def _read_answer(path: Path):
    """The probe's answer file as (JSON structure, arrays), or None when it is missing or unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if os.fstat(f.fileno()).st_size > MAX_FILE:
            return None
        data = f.read()
    if not _stored_within(data, MAX_FILE):
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        answer = json.loads(arrays.pop(JSON_KEY).tobytes().decode())
    except Exception:
        return None
    return (answer, arrays) if isinstance(answer, dict) else None
