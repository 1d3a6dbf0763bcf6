"""The learner's side of a check, run inside the graded kernel: read the value of an answer, or call the learner's
function on the inputs the check chose, and write down what came back as plain data.

The check itself never runs here. :mod:`course_tools.grading.judge` runs it in the grader's own process, where no learner
code has run, and sends each request as a small cell (:data:`PROBE_CELL`) calling :func:`serve`. A request is a pickle
written by the grader (the kernel trusts the grader, never the other way round); the answer is an ``.npz`` file that
the grader reads with ``allow_pickle=False``: JSON for the structure plus the arrays' raw data
(:mod:`course_tools.grading.codec`), so nothing the learner's code returns can run code in the grader. What cannot be written as data (the learner's functions, objects of their
own classes) stays here and is referred to by a number (a *handle*); calling it or reading an attribute of it is one
more request.

Learner code can change anything in this module; that only changes what its own answers look like to the check,
which is the learner's to decide anyway.

>>> arrays = {}
>>> encode([1, "a", (None, 2.5)], arrays)
{'t': 'list', 'v': [{'t': 'int', 'v': 1}, {'t': 'str', 'v': 'a'}, {'t': 'tuple', 'v': [{'t': 'none'}, {'t': 'float', 'v': 2.5}]}]}
"""
from __future__ import annotations

import builtins
import hashlib
import io
import json
import operator
import os
import pickle
import sys

import numpy as np

from course_tools.grading import codec

JSON_KEY = "__json__"
MAX_BYTES = 256 * 2**20          # an answer larger than this is not sent (the grader says so)
PROBE_CELL = "__import__('course_tools.grading.probe', fromlist=['serve']).serve({request!r}, {response!r})\n"

_HANDLES: list = []              # objects the grader refers to by position


def _handle(obj) -> int:
    _HANDLES.append(obj)
    return len(_HANDLES) - 1


def _torch():
    return sys.modules.get("torch")  # only when the learner's session already has it: never import it for them


def encode(x, arrays: dict, depth: int = 0) -> dict:
    """``x`` as JSON-ready data (:mod:`course_tools.grading.codec`); arrays go into ``arrays`` (name -> ndarray)."""
    return codec.encode(x, arrays, _keep, depth)


def _keep(x) -> dict:
    """A reference to ``x``, which stays here: its handle, and what the grader shows of it."""
    try:
        text = repr(x)[:200]
    except Exception:
        text = f"<{type(x).__name__}>"
    try:
        source = _source(x) if callable(x) else None
    except Exception:
        source = None
    return {"h": _handle(x), "type": type(x).__name__, "module": str(type(x).__module__),
            "callable": callable(x), "repr": text, "name": str(getattr(x, "__name__", "")), "source": source}


def _source(fn):
    import inspect
    return inspect.getsource(fn)


def _digest(x) -> bytes | None:
    """A fingerprint of an argument, to send it back only when the learner's function changed it in place
    (gradients included: a pickled tensor or layer leaves out ``.grad``)."""
    h = hashlib.blake2b(digest_size=16)
    try:
        h.update(pickle.dumps(x, protocol=5))
        torch = _torch()
        if torch is not None:
            tensors = (list(x.parameters()) if isinstance(x, torch.nn.Module)
                       else [x] if isinstance(x, torch.Tensor) else [])
            for t in tensors:
                h.update(b"-" if t.grad is None else t.grad.detach().cpu().contiguous().numpy().tobytes())
    except Exception:
        return None
    return h.digest()


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        return _HANDLES[pid[1]]


def with_grad(tensor, grad):
    """A tensor with its ``.grad`` (how the grader sends a tensor whose gradient the check set)."""
    tensor.grad = grad
    return tensor


def _helper(fn, name: str):
    """The global ``name`` that function ``fn`` uses, or None (as :func:`utils.checks.global_used` does)."""
    code = getattr(fn, "__code__", None)
    if code is None or name not in code.co_names:
        return None
    return getattr(fn, "__globals__", {}).get(name)


def _gradients(fn, args, wrt):
    """:func:`utils.checks.gradients`, made here: the learner's function and the autograd graph it builds stay in the
    kernel, and only the result and the gradients go back, as data (the grader checks what they are)."""
    from utils.checks import gradients  # torch-free at import; the request's tensors have already imported torch
    return gradients(fn, args, wrt)


_APPLY = {"helper": _helper, "grad": _gradients, "getattr": getattr, "len": len, "iter": iter, "next": next,
          "getitem": operator.getitem, "contains": operator.contains, "bool": bool, "str": str}


def serve(request_path: str, response_path: str) -> None:
    """Answer one request of the grader: ``{"op": "eval", "expr": ...}``, ``{"op": "call", "h": ..., "args": ...,
    "kwargs": ...}`` or ``{"op": <a key of _APPLY>, "h": ..., "args": ...}``."""
    with open(request_path, "rb") as f:
        request = _Unpickler(f).load()
    os.remove(request_path)
    arrays: dict = {}
    out: dict = {}
    try:
        op = request["op"]
        if op == "eval":
            namespace = get_ipython().user_ns  # noqa: F821 - defined in every IPython kernel
            value = eval(compile(request["expr"], "<check>", "eval"), namespace)
        elif op == "call":
            args, kwargs = list(request["args"]), dict(request["kwargs"])
            before = [_digest(a) for a in args], {k: _digest(v) for k, v in kwargs.items()}
            value = _HANDLES[request["h"]](*args, **kwargs)
            changed = {str(i): encode(a, arrays) for i, a in enumerate(args)
                       if before[0][i] is not None and _digest(a) != before[0][i]}
            changed.update({k: encode(v, arrays) for k, v in kwargs.items()
                            if before[1][k] is not None and _digest(v) != before[1][k]})
            out["changed"] = changed
        else:
            value = _APPLY[op](_HANDLES[request["h"]], *request.get("args", ()))
        out["value"] = encode(value, arrays)
    except (Exception, SystemExit) as exc:
        out = {"error": {"type": type(exc).__name__, "builtin": type(exc).__module__ == "builtins"
                         and isinstance(getattr(builtins, type(exc).__name__, None), type),
                         "message": _message(exc)}}
        arrays = {}
    structure = json.dumps(out).encode()
    size = len(structure) + sum(a.nbytes for a in arrays.values())
    if size > MAX_BYTES:
        out, arrays = {"error": {"type": "AnswerTooLarge", "builtin": False,
                                 "message": f"the answer is {size / 2**20:.0f} MB; the grader reads at most "
                                            f"{MAX_BYTES // 2**20} MB"}}, {}
        structure = json.dumps(out).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **{JSON_KEY: np.frombuffer(structure, dtype=np.uint8)}, **arrays)
    partial = response_path + ".part"
    with open(partial, "wb") as f:
        f.write(buffer.getvalue())
    os.replace(partial, response_path)


def _message(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:
        return ""
