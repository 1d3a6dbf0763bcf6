"""The grader's side of a check: the course's check runs here, in the grader's own process, where no learner code
ever runs; every value it reads from the learner and every call of a learner's function is a probe sent to the graded
kernel (:mod:`utils.grading.probe`).

A course check cell is ``check.some_check(a, b)``. :class:`Judge` loads the chapter's check module from its file,
evaluates ``a`` and ``b`` in the learner's kernel and receives them as data (numbers, strings, containers, numpy
arrays, torch tensors, torch.nn layers). A learner's function (or any object that is not plain data) arrives as a
:class:`Remote`: calling it sends the check's arguments to the kernel, runs the learner's function there, and brings
back its return value, the exception it raised (as an exception of the same name, so the check's message is the same
as in JupyterLab), and the new contents of any argument it changed in place. The verdict is then what the check
function did: returned (passed), raised ExerciseFailed / ExerciseNotAttempted. Nothing printed by the learner's code is
read, and nothing it does to numpy, builtins or the check modules in its own process reaches the check.

>>> decode({"t": "list", "v": [{"t": "int", "v": 1}, {"t": "ellipsis"}]}, {}, None)
[1, Ellipsis]
"""
from __future__ import annotations

import ast
import builtins
import collections
import contextlib
import importlib.util
import io
import json
import os
import pickle
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cloudpickle
import numpy as np

from utils.checks import ExerciseFailed, ExerciseNotAttempted
from utils.grading.probe import JSON_KEY, MAX_BYTES, PROBE_CELL, with_grad

MAX_FILE = MAX_BYTES + 16 * 2**20


class ProbeFault(BaseException):
    """The kernel timed out or died while a probe ran; ``run`` says how (a BaseException: no check catches it)."""

    def __init__(self, run):
        super().__init__(run.state)
        self.run = run


class ProbeBroken(BaseException):
    """A probe brought back no readable answer (the learner's code broke the kernel's side of the grader)."""


@dataclass
class Verdict:
    status: str            # "passed", "failed", "not attempted"
    message: str = ""
    fault: object = None   # the CellRun of a probe that timed out / killed the kernel (the runner recovers)
    printed: str = ""      # what the check printed (its pass line, with the check's remark)


# ---------------------------------------------------------------------------------------------- data from the kernel
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
    """The value ``node`` (written by :func:`utils.grading.probe.encode`) describes."""
    t = node["t"]
    v = node.get("v")
    if t == "none":
        return None
    if t == "ellipsis":
        return Ellipsis
    if t in ("bool", "str"):
        return {"bool": bool, "str": str}[t](v)
    if t == "int":
        return int(v)
    if t == "float":
        return float(v)
    if t == "complex":
        return complex(float(v[0]), float(v[1]))
    if t == "npscalar":
        return arrays[node["k"]][()]
    if t == "bytes":
        return arrays[node["k"]].tobytes()
    if t == "ndarray":
        return np.array(arrays[node["k"]])
    if t == "objarray":
        out = np.empty(len(v), dtype=object)
        for i, item in enumerate(v):
            out[i] = decode(item, arrays, judge)
        return out.reshape([int(n) for n in node["shape"]])
    if t == "npdtype":
        return np.dtype(str(v))
    if t in ("list", "tuple", "set", "frozenset"):
        items = [decode(item, arrays, judge) for item in v]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[t](items)
    if t == "named":
        cls = collections.namedtuple(str(node["name"]) if str(node["name"]).isidentifier() else "result",
                                     [f if f.isidentifier() else f"f{i}" for i, f in enumerate(node["fields"])],
                                     rename=True)
        return cls(*[decode(item, arrays, judge) for item in v])
    if t == "dict":
        return {decode(k, arrays, judge): decode(val, arrays, judge) for k, val in v}
    if t == "range":
        return range(*[int(n) for n in v])
    if t == "slice":
        return slice(*[decode(item, arrays, judge) for item in v])
    if t == "ref":
        return _remote_class(str(node["type"]), str(node["module"]), bool(node.get("callable")))(judge, node)
    import torch
    if t == "tensor":
        data = torch.from_numpy(np.array(arrays[node["k"]]))
        data = data.to(getattr(torch, str(node["dtype"])))
        if node.get("param"):
            data = torch.nn.Parameter(data, requires_grad=bool(node.get("requires_grad")))
        elif node.get("requires_grad") and (data.is_floating_point() or data.is_complex()):
            data.requires_grad_(True)
        if "grad" in node:
            data.grad = decode(node["grad"], arrays, judge)
        return data
    if t == "size":
        return torch.Size([int(n) for n in v])
    if t == "tdtype":
        dtype = getattr(torch, str(v), None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown torch dtype {v!r}")
        return dtype
    if t == "device":
        return torch.device(str(v))
    if t == "generator":
        g = torch.Generator()
        g.set_state(decode(node["state"], arrays, judge))
        return g
    if t == "module":
        cls = getattr(torch.nn, str(node["cls"]), None)
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise ValueError(f"unknown torch.nn layer {node['cls']!r}")
        module = cls.__new__(cls)
        torch.nn.Module.__init__(module)
        for key, value in decode(v, arrays, judge).items():
            if key in ("_parameters", "_buffers", "_modules"):
                getattr(module, key).update(value)
            else:
                module.__dict__[key] = value
        return module
    raise ValueError(f"unknown kind of value {t!r}")


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
    probe. ``__grader_source__`` is the source of a learner's function (from the submitted notebook when the grader
    can find it there), for the checks that look at how an answer is written."""

    def __init__(self, judge, node):
        object.__setattr__(self, "_judge", judge)
        object.__setattr__(self, "_node", node)
        object.__setattr__(self, "__grader_source__", node.get("source"))
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

    def __grader_lookup__(self, name: str):
        """The learner's ``name`` as this function sees it, when it uses that name; else None (see
        :func:`utils.checks.learner_helper`)."""
        return self._judge.apply(self, "helper", name)


_REMOTE_CLASSES: dict[tuple[str, str, bool], type] = {}


def _remote_class(name: str, module: str, is_callable: bool) -> type:
    """A subclass of Remote named like the learner's type, so that messages ("got Foo") read as in JupyterLab."""
    key = (name, module, is_callable)
    if key not in _REMOTE_CLASSES:
        cls = type(name if name.isidentifier() else "Remote", (RemoteFunction if is_callable else Remote,), {})
        cls.__module__ = "learner" if module.startswith(("torch", "numpy")) else module
        _REMOTE_CLASSES[key] = cls
    return _REMOTE_CLASSES[key]


class _Pickler(cloudpickle.CloudPickler):
    """Pickles a request: the check's own functions and classes by value (the kernel never imports the check
    module), the learner's objects as their handles."""

    def persistent_id(self, obj):
        return ("h", obj._node["h"]) if isinstance(obj, Remote) else None

    def reducer_override(self, obj):
        # a pickled tensor leaves out .grad; a check that calls a training step twice needs the stale gradient there
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, torch.Tensor) and obj.grad is not None and obj.is_leaf:
            if isinstance(obj, torch.nn.Parameter):
                bare = torch.nn.Parameter(obj.data, requires_grad=obj.requires_grad)
            else:
                bare = obj.detach().requires_grad_(obj.requires_grad)
            return with_grad, (bare, obj.grad)
        return super().reducer_override(obj)


# ---------------------------------------------------------------------------------------------- the judge
def load_check_module(path: Path, chapter: str):
    """The chapter's check module, loaded from its file under a private name (objects it defines travel to the
    kernel by value, so the kernel never needs to import it)."""
    name = f"_grader_checks_ch{chapter}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    cloudpickle.register_pickle_by_value(module)
    return module


def parse_check_call(source: str):
    """``check.name(a, b, key=c)`` -> ("name", ["a", "b"], {"key": "c"}) (the argument expressions as text)."""
    tree = ast.parse(source.strip())
    if (len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr) or not isinstance(tree.body[0].value, ast.Call)
            or not isinstance(tree.body[0].value.func, ast.Attribute)):
        raise ValueError(f"a check cell should be one call check.name(...), not {source.strip()[:80]!r}")
    call = tree.body[0].value
    return (call.func.attr, [ast.unparse(a) for a in call.args],
            {k.arg: ast.unparse(k.value) for k in call.keywords})


def function_source(cell_source: str, name: str) -> str | None:
    """The source of ``def name`` in a cell, as written (None when the cell does not define it)."""
    try:
        tree = ast.parse(cell_source)
    except (SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return ast.get_source_segment(cell_source, node)
    return None


class Judge:
    """Runs course checks against one graded kernel. ``workdir`` is a folder both sides can read and write (the
    kernel's own working folder)."""

    def __init__(self, kernel, workdir: Path):
        self.kernel = kernel
        self.workdir = Path(workdir)
        self.deadline = 0.0
        self.timeout = 0.0
        self.probes = 0

    # ------------------------------------------------------------------------------------------ one probe
    def _probe(self, request: dict):
        left = self.deadline - time.monotonic()
        if left <= 0:
            from utils.grading.kernel import CellRun
            raise ProbeFault(CellRun(state="timeout"))
        token = secrets.token_hex(8)
        req, resp = self.workdir / f".probe-{token}.pkl", self.workdir / f".probe-{token}.npz"
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(request)
        except Exception as exc:  # the check passed something that cannot travel: a course bug, said as such
            raise ProbeBroken(f"the grader could not send the check's inputs ({type(exc).__name__}: {exc})") from None
        req.write_bytes(buffer.getvalue())
        self.probes += 1
        try:
            run = self.kernel.run(PROBE_CELL.format(request=str(req), response=str(resp)), left)
            if run.state in ("timeout", "died"):
                raise ProbeFault(run)
            answer = _read_answer(resp)
            if answer is None:
                why = f"{run.ename}: {run.evalue}".strip(": ") if run.state == "error" else "no answer written"
                raise ProbeBroken(f"the grader could not reach your code in the kernel ({why})")
            return answer
        finally:
            for path in (req, resp):
                with contextlib.suppress(OSError):
                    path.unlink()

    def _value(self, answer: dict, arrays):
        if "error" in answer:
            raise _exception(answer["error"])
        try:
            return decode(answer["value"], arrays, self)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise ProbeBroken(f"the grader could not read your answer ({type(exc).__name__}: {exc})") from None

    def evaluate(self, expression: str):
        answer, arrays = self._probe({"op": "eval", "expr": expression})
        return self._value(answer, arrays)

    def call(self, remote: Remote, args, kwargs):
        answer, arrays = self._probe({"op": "call", "h": remote._node["h"], "args": list(args),
                                      "kwargs": dict(kwargs)})
        value = self._value(answer, arrays)
        for key, node in (answer.get("changed") or {}).items():
            try:
                original = args[int(key)] if key.isdigit() else kwargs[key]
                apply_in_place(original, decode(node, arrays, self))
            except (KeyError, IndexError, ValueError, TypeError, RuntimeError, AttributeError):
                continue  # what cannot be copied back stays as the check made it
        return value

    def apply(self, remote: Remote, op: str, *args):
        answer, arrays = self._probe({"op": op, "h": remote._node["h"], "args": list(args)})
        return self._value(answer, arrays)

    # ------------------------------------------------------------------------------------------ one check
    def check(self, module, check_source: str, timeout: float, answer_source: str = "", check=None) -> Verdict:
        """Run the course check ``check_source`` (a check cell, ``check.name(args)``) against the kernel's current
        state; ``check`` given: run that function instead (an instructor's private check), on the same arguments."""
        from utils.grading.results import FAILED, NOT_ATTEMPTED, PASSED
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        try:
            name, arg_texts, kwarg_texts = parse_check_call(check_source)
            check = check or getattr(module, name)
        except (ValueError, SyntaxError, AttributeError) as exc:
            return Verdict(FAILED, f"the grader could not read the course's check cell ({exc})")
        try:
            args = [self._argument(text, answer_source) for text in arg_texts]
            kwargs = {k: self._argument(text, answer_source) for k, text in kwarg_texts.items()}
        except ProbeFault as fault:
            return Verdict(FAILED, "", fault.run)
        except ProbeBroken as exc:
            return Verdict(FAILED, str(exc))
        except Exception as exc:  # a name the learner never defined, an answer cell that failed...
            return Verdict(FAILED, "the check could not run: " + f"{type(exc).__name__}: {exc}".strip().rstrip(":"),
                           None)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                check(*args, **kwargs)
        except ExerciseFailed as exc:
            return Verdict(FAILED, exc.message)
        except ExerciseNotAttempted as exc:
            return Verdict(NOT_ATTEMPTED, exc.message)
        except ProbeFault as fault:
            return Verdict(FAILED, "", fault.run)
        except ProbeBroken as exc:
            return Verdict(FAILED, str(exc))
        except Exception as exc:  # the check itself broke on what came back: a course bug, said as such
            return Verdict(FAILED, f"the check could not run: {type(exc).__name__}: {exc}".strip().rstrip(":"))
        return Verdict(PASSED, printed=printed.getvalue())

    def _argument(self, expression: str, answer_source: str):
        value = self.evaluate(expression)
        if isinstance(value, Remote) and expression.isidentifier() and answer_source:
            # how the answer is written, read from the notebook rather than from the learner's kernel
            source = function_source(answer_source, expression)
            if source is not None:
                object.__setattr__(value, "__grader_source__", source)
        return value


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
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        answer = json.loads(arrays.pop(JSON_KEY).tobytes().decode())
    except Exception:
        return None
    return (answer, arrays) if isinstance(answer, dict) else None
