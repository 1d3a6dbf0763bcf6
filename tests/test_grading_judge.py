"""The probe/judge split of the grader (course_tools/grading/probe.py in the kernel, course_tools/grading/judge.py in the grader):
what the learner's kernel sends is read back as plain data, without pickle; what cannot be data stays in the kernel;
exceptions keep their names; in-place changes come back. No kernel here: the probe's encoder runs in this process.
"""
from __future__ import annotations

import io
import json
import pickle
from collections import namedtuple

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, calls, global_used, gradients, source_of
from course_tools.grading import answers, judge, probe


def round_trip(value):
    arrays = {}
    node = probe.encode(value, arrays)
    json.dumps(node)  # the structure is JSON, nothing else
    return answers.decode(json.loads(json.dumps(node)), arrays, judge=None)


@pytest.mark.parametrize("value", [
    None, Ellipsis, True, 3, -2**70, 2.5, float("inf"), 1 + 2j, "tëxt", b"\x00\x01", [1, [2, (3, None)]],
    (1, "a"), {"a": 1, (1, 2): [3]}, {1, 2}, frozenset({"x"}), range(2, 9, 3), slice(1, None, 2),
])
def test_plain_values_come_back_equal(value):
    got = round_trip(value)
    assert got == value and type(got) is type(value)


def test_arrays_and_numpy_scalars_keep_dtype_and_shape():
    for a in (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([True, False]), np.array(["ab", "c"]),
              np.zeros((0, 4), dtype=np.int16)):
        got = round_trip(a)
        assert got.dtype == a.dtype and got.shape == a.shape and np.array_equal(got, a)
    scalar = round_trip(np.float32(0.823))
    assert type(scalar) is np.float32 and scalar == np.float32(0.823)   # not turned into a Python float
    objects = round_trip(np.array([1, "a", None], dtype=object))
    assert objects.dtype == object and objects.tolist() == [1, "a", None]


def test_tensors_parameters_and_layers_come_back_as_torch_objects():
    t = torch.randn(3, 4).to(torch.bfloat16)
    got = round_trip(t)
    assert got.dtype == torch.bfloat16 and torch.equal(got, t)
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.full((2,), 0.5)
    got = round_trip(p)
    assert isinstance(got, torch.nn.Parameter) and got.requires_grad and torch.equal(got.grad, p.grad)
    layer = torch.nn.Embedding(6, 8)
    got = round_trip(layer)
    assert isinstance(got, torch.nn.Embedding) and (got.num_embeddings, got.embedding_dim) == (6, 8)
    assert torch.equal(got(torch.tensor([1, 2])), layer(torch.tensor([1, 2])))
    seq = round_trip(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh()))
    assert isinstance(seq[0], torch.nn.Linear) and seq(torch.ones(1, 2)).shape == (1, 3)
    g = torch.Generator().manual_seed(5)
    assert torch.equal(torch.rand(3, generator=round_trip(g)), torch.rand(3, generator=g))
    assert round_trip(torch.Size([2, 3])) == torch.Size([2, 3]) and round_trip(torch.float16) is torch.float16
    top = round_trip(torch.topk(torch.tensor([1.0, 3.0, 2.0]), 2))
    assert top.indices.tolist() == [1, 2] and top[0].tolist() == [3.0, 2.0]
    Pair = namedtuple("Pair", "a b")
    assert round_trip(Pair(1, 2)).b == 2


class Sneaky:
    """A learner's object that claims to equal everything."""

    def __eq__(self, other):
        return True


def test_objects_that_are_not_data_stay_in_the_kernel():
    arrays = {}
    node = probe.encode(Sneaky(), arrays)
    assert node["t"] == "ref" and not node["callable"] and node["type"] == "Sneaky"
    got = answers.decode(node, arrays, judge=None)
    assert isinstance(got, answers.Remote) and not callable(got)
    assert got != 1 and got != [1.0]             # its __eq__ never runs in the grader
    assert type(got).__name__ == "Sneaky"         # so that "got Sneaky" reads as in JupyterLab
    fn = answers.decode(probe.encode(lambda x: x, arrays), arrays, judge=None)
    assert callable(fn) and isinstance(fn, answers.RemoteFunction)


class AskedJudge:
    """Stands for the judge: records what a stand-in asks of the kernel."""

    def __init__(self):
        self.asked = []

    def apply(self, remote, op, *args):
        self.asked.append((op, *args))
        return len


def test_checks_ask_a_stand_in_how_the_learners_function_is_written():
    """utils.checks.source_of / global_used, answered for a function that stays in the kernel."""
    asked, arrays = AskedJudge(), {}
    fn = answers.decode(probe.encode(round_trip, arrays), arrays, judge=asked)
    assert source_of(fn).startswith("def round_trip(value):")
    assert global_used(fn, "len") is len and asked.asked == [("helper", "len")]   # the lookup is made in the kernel
    fn._node["source"] = None                    # the judge found no `def` of it in the exercise cell
    with pytest.raises(CheckFailed, match="^the grader cannot see how round_trip is written: define it with `def`"):
        source_of(fn)
    with pytest.raises(CheckFailed, match="cannot see how round_trip"):
        calls(fn, "linalg.norm")
    thing = answers.decode(probe.encode(Sneaky(), arrays), arrays, judge=asked)
    assert source_of(thing) is None and global_used(thing, "len") is None and len(asked.asked) == 1


def test_a_pickle_hidden_in_the_answer_file_is_not_loaded(tmp_path):
    """The answer file is read with allow_pickle=False: an object array (a pickle) makes it unreadable, not run."""
    path = tmp_path / "answer.npz"
    np.savez(path, **{probe.JSON_KEY: np.frombuffer(b'{"value": {"t": "none"}}', dtype=np.uint8),
                      "a0": np.array([Sneaky()], dtype=object)})
    assert answers._read_answer(path) is None
    np.savez(path, **{probe.JSON_KEY: np.frombuffer(b'{"value": {"t": "int", "v": 4}}', dtype=np.uint8)})
    answer, arrays = answers._read_answer(path)
    assert answers.decode(answer["value"], arrays, None) == 4
    link = tmp_path / "link.npz"
    link.symlink_to(path)
    assert answers._read_answer(link) is None       # never follows a link the kernel planted
    assert answers._read_answer(tmp_path / "missing.npz") is None


def test_unknown_kinds_are_refused():
    for node in ({"t": "pickle", "v": "x"}, {"t": "module", "cls": "os.system", "v": {"t": "dict", "v": []}},
                 {"t": "tdtype", "v": "manual_seed"}):
        with pytest.raises(ValueError):
            answers.decode(node, {}, None)


def test_exceptions_keep_their_name_but_never_become_the_checks_own():
    assert type(answers._exception({"type": "ValueError", "builtin": True, "message": "m"})) is ValueError
    assert type(answers._exception({"type": "NotImplementedError", "builtin": True})) is NotImplementedError
    fake = answers._exception({"type": "CheckFailed", "builtin": False, "message": "x"})
    assert type(fake).__name__ == "CheckFailed" and not isinstance(fake, CheckFailed)
    stop = answers._exception({"type": "KeyboardInterrupt", "builtin": True})   # not an Exception: no BaseException
    assert isinstance(stop, Exception) and type(stop).__name__ == "KeyboardInterrupt"


def test_in_place_changes_are_copied_into_the_checks_objects():
    a = np.zeros(3)
    answers.apply_in_place(a, np.ones(3))
    assert a.tolist() == [1, 1, 1]
    model = torch.nn.Linear(2, 2)
    other = torch.nn.Linear(2, 2)
    other.weight.grad = torch.ones(2, 2)
    answers.apply_in_place(model, round_trip(other))
    assert torch.equal(model.weight, other.weight) and torch.equal(model.weight.grad, torch.ones(2, 2))
    items = [1]
    answers.apply_in_place(items, [1, 2])
    assert items == [1, 2]


def test_requests_refer_to_kernel_objects_by_handle():
    arrays = {}
    fn = answers.decode(probe.encode(len, arrays), arrays, judge=None)
    buffer = io.BytesIO()
    judge._Pickler(buffer).dump({"args": [fn, 3]})
    buffer.seek(0)
    assert probe._Unpickler(buffer).load()["args"][0] is len


def test_check_source_is_read_from_the_notebook():
    cell = "import numpy as np\n\ndef norms(x):\n    return np.linalg.norm(x)\n\ny = 2\n"
    assert judge.function_source(cell, "norms") == "def norms(x):\n    return np.linalg.norm(x)"
    assert judge.function_source(cell, "y") is None and judge.function_source("def (:", "f") is None
    assert pickle.loads(pickle.dumps(1)) == 1


def test_an_answer_too_large_is_refused_in_the_kernel(tmp_path, monkeypatch):
    """serve() writes an AnswerTooLarge error instead of an answer over MAX_BYTES (arrays or JSON alike)."""
    import types

    monkeypatch.setattr(probe, "MAX_BYTES", 1000)
    for big in (np.zeros(1000), list(range(1000))):
        probe._HANDLES.clear()
        probe._HANDLES.append(lambda: big)
        request = tmp_path / "r.pkl"
        request.write_bytes(pickle.dumps({"op": "call", "h": 0, "args": [], "kwargs": {}}))
        response = tmp_path / "a.npz"
        monkeypatch.setitem(probe.__dict__, "get_ipython", lambda: types.SimpleNamespace(user_ns={}))
        probe.serve(str(request), str(response))
        answer, arrays = answers._read_answer(response)
        assert answer["error"]["type"] == "AnswerTooLarge" and arrays == {}


class ForgingJudge:
    """Stands for the judge: answers the "grad" probe with ``answer``, as a kernel whose probe was tampered with."""

    def __init__(self, answer):
        self.answer = answer

    def apply(self, remote, op, *args):
        assert op == "grad"
        return self.answer


def test_gradients_from_the_kernel_are_checked_before_a_check_sees_them():
    """utils.checks.gradients for a function in the kernel: what comes back must be a result and, per input, None
    or a tensor of that input's shape and dtype; anything else fails the exercise with a message."""
    x, y = torch.ones(2, 3), torch.ones(4)
    arrays = {}
    node = probe.encode(lambda a, b: a.sum(), arrays)

    def remote(answer):
        return answers.decode(node, arrays, judge=ForgingJudge(answer))

    honest = torch.full((2, 3), 0.5, requires_grad=True)
    result, grads = gradients(remote((6.0, [honest, None])), (x, y), (0, 1))
    assert result == 6.0 and torch.equal(grads[0], honest.detach()) and not grads[0].requires_grad
    assert grads[1] is None
    for forged, message in [
        (6.0, "got a float back from your kernel instead of your function's result and one gradient per input"),
        ((6.0, [honest]), "got a tuple back"),
        ((6.0, (honest, None)), "got a tuple back"),
        ((6.0, [honest.double(), None]), r"argument 0 .* is a float64 tensor of shape \(2, 3\), not a tensor of shape "
                                         r"\(2, 3\) and dtype torch.float32"),
        ((6.0, [honest, torch.ones(2)]), r"argument 1 .* is a float32 tensor of shape \(2,\)"),
        ((6.0, [[0.5] * 3] * 2 + [None]), "got a tuple back"),
        ((6.0, [np.full((2, 3), 0.5), None]), "argument 0 .* is a ndarray"),
        ((6.0, [remote(None), None]), "argument 0 .* is a"),
    ]:
        with pytest.raises(CheckFailed, match=message):
            gradients(remote(forged), (x, y), (0, 1))


def test_the_probe_makes_the_gradients_in_the_kernel(tmp_path, monkeypatch):
    """The "grad" op runs the learner's function there (its graph never leaves) and sends back data only."""
    probe._HANDLES.clear()
    probe._HANDLES.append(lambda a, b: (a * b).sum())
    request, response = tmp_path / "r.pkl", tmp_path / "a.npz"
    request.write_bytes(pickle.dumps({"op": "grad", "h": 0, "args": [[torch.tensor([1.0, 2.0]), torch.tensor(
        [3.0, 4.0])], [1]]}))
    probe.serve(str(request), str(response))
    answer, arrays = answers._read_answer(response)
    result, (grad,) = answers.decode(answer["value"], arrays, None)
    assert result.item() == 11.0 and result.requires_grad and grad.tolist() == [1.0, 2.0]
