"""The grader's side of a check: the course's check runs here, in the grader's own process, where no learner code
ever runs; every value it reads from the learner and every call of a learner's function is a probe sent to the graded
kernel (:mod:`course_tools.grading.probe`).

A course check cell is ``check.some_check(a, b)``. :class:`Judge` loads the chapter's check module from its file,
evaluates ``a`` and ``b`` in the learner's kernel and receives them as data (numbers, strings, containers, numpy
arrays, torch tensors, torch.nn layers). A learner's function (or any object that is not plain data) arrives as a
:class:`Remote`: calling it sends the check's arguments to the kernel, runs the learner's function there, and brings
back its return value, the exception it raised (as an exception of the same name, so the check's message is the same
as in JupyterLab), and the new contents of any argument it changed in place. The verdict is then what the check
function did: returned (passed), raised ExerciseFailed / ExerciseNotAttempted. Nothing printed by the learner's code is
read, and nothing it does to numpy, builtins or the check modules in its own process reaches the check.

>>> parse_check_call("check.cosine(cosine, k=3)")
('cosine', ['cosine'], {'k': '3'})
"""
from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import pickle
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cloudpickle

from utils.checks import ExerciseFailed, ExerciseNotAttempted
from course_tools.grading.answers import Remote, _exception, _read_answer, apply_in_place, decode
from course_tools.grading.probe import PROBE_CELL, with_grad


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
    found = None
    for node in tree.body:  # the last definition: the one Python keeps
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            found = ast.get_source_segment(cell_source, node)
    return found


class Judge:
    """Runs course checks against one graded kernel; the probes' files go in the folder the kernel's current start
    shares with the grader (``kernel.exchange``)."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.deadline = 0.0
        self.timeout = 0.0
        self.probes = 0

    # ------------------------------------------------------------------------------------------ one probe
    def _probe(self, request: dict):
        left = self.deadline - time.monotonic()
        if left <= 0:
            from course_tools.grading.kernel import CellRun
            raise ProbeFault(CellRun(state="timeout"))
        token = secrets.token_hex(16)
        folder = Path(self.kernel.exchange)
        req, resp = folder / f".probe-{token}.pkl", folder / f".probe-{token}.npz"
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(request)
        except Exception as exc:  # the check passed something that cannot travel: a course bug, said as such
            raise ProbeBroken(f"the grader could not send the check's inputs ({type(exc).__name__}: {exc})") from None
        try:  # a new file, never through a link the kernel planted
            fd = os.open(req, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(buffer.getvalue())
        except OSError as exc:
            raise ProbeBroken(f"the grader could not write its request ({type(exc).__name__})") from None
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
    def check(self, module, check_source: str, timeout: float, answer_source: str = "", check=None,
              sources: dict[str, str] | None = None) -> Verdict:
        """Run the course check ``check_source`` (a check cell, ``check.name(args)``) against the kernel's current
        state; ``check`` given: run that function instead (an instructor's private check), on the same arguments.
        ``answer_source`` is the learner's cell that answers the exercise: how a function argument is written is read
        from there (``sources``: argument expression -> source, given directly, for tests that have no notebook)."""
        from course_tools.grading.results import FAILED, NOT_ATTEMPTED, PASSED
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        try:
            name, arg_texts, kwarg_texts = parse_check_call(check_source)
            check = check or getattr(module, name)
        except (ValueError, SyntaxError, AttributeError) as exc:
            return Verdict(FAILED, f"the grader could not read the course's check cell ({exc})")
        try:
            args = [self._argument(text, answer_source, sources) for text in arg_texts]
            kwargs = {k: self._argument(text, answer_source, sources) for k, text in kwarg_texts.items()}
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

    def _argument(self, expression: str, answer_source: str, sources: dict[str, str] | None = None):
        value = self.evaluate(expression)
        if isinstance(value, Remote):
            # how the answer is written is read from the notebook, never from the learner's kernel (whose
            # inspect.getsource the learner controls): a function with no `def` in its exercise cell has no source
            if sources is not None:
                source = sources.get(expression)
            else:
                source = function_source(answer_source, expression) if expression.isidentifier() else None
            value._node["source"] = source
        return value
