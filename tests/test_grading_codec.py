"""The grader's wire format, one table (course_tools/grading/codec.py): every kind of value the probe writes in the
learner's kernel is read back by the grader as the same value; every tag the table has is written and read; what no
probe writes (forged tags, dtypes, layers, nesting) is refused with ValueError. No kernel here: the probe's encoder
runs in this process.
"""
from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from course_tools.grading import answers, codec, probe
from utils.checks import same_value

ROOT = Path(__file__).resolve().parent.parent
Pair = collections.namedtuple("Pair", "left right")


def _tensor_with_grad():
    t = torch.tensor([1.0, -2.0], requires_grad=True)
    t.grad = torch.tensor([0.5, 0.25])
    return t


#: one value of each kind, by the tag it is written with
SAMPLES = {
    "none": None, "ellipsis": Ellipsis, "bool": True, "npscalar": np.float32(1.5), "int": -2**70,
    "float": float("inf"), "complex": 1 - 2j, "str": "tëxt", "bytes": b"\x00\xff",
    "ndarray": np.arange(6, dtype=np.int16).reshape(2, 3), "objarray": np.array([[1, "a"], [None, 2.5]], dtype=object),
    "npdtype": np.dtype("<f4"), "tensor": _tensor_with_grad(), "size": torch.Size([2, 3]), "tdtype": torch.bfloat16,
    "device": torch.device("cpu"), "generator": torch.Generator().manual_seed(7), "module": torch.nn.Linear(2, 3),
    "named": Pair(1, [2]), "list": [1, [2]], "tuple": (1, "a"), "set": {1, 2}, "frozenset": frozenset({"x"}),
    "dict": {"a": 1, (1, 2): [3]}, "range": range(2, 9, 3), "slice": slice(1, None, 2), "ref": object(),
}


def _send(value):
    """What the grader reads of ``value`` written by the probe (through JSON, as the answer file carries it)."""
    arrays = {}
    node = json.loads(json.dumps(probe.encode(value, arrays)))
    return node, answers.decode(node, arrays, judge=None)


def _tags(node) -> set[str]:
    """Every tag in an encoded structure."""
    if isinstance(node, dict):
        return {node["t"]} | {t for v in node.values() for t in _tags(v)}
    if isinstance(node, list):
        return {t for v in node for t in _tags(v)}
    return set()


def _same(tag, sent, got) -> bool:
    if tag == "ref":
        return isinstance(got, answers.Remote) and not callable(got)
    if tag == "generator":
        return isinstance(got, torch.Generator) and torch.equal(got.get_state(), sent.get_state())
    if tag == "named":
        return tuple(got) == tuple(sent) and got._fields == sent._fields and type(got).__name__ == "Pair"
    if tag == "tensor":
        return (same_value(sent, got) and got.requires_grad and same_value(sent.grad, got.grad))
    return same_value(sent, got)


@pytest.mark.parametrize("tag", list(codec.KINDS))
def test_every_kind_comes_back_as_it_was_sent(tag):
    node, got = _send(SAMPLES[tag])
    assert node["t"] == tag
    assert _same(tag, SAMPLES[tag], got), (tag, got)


def test_encode_and_decode_cover_the_same_tags():
    """Each tag of the table is written by the probe for its sample and read by the grader; none is left over."""
    assert set(SAMPLES) == set(codec.KINDS)
    written = set().union(*(_tags(_send(value)[0]) for value in SAMPLES.values()))
    assert written == set(codec.KINDS)
    for tag, kind in codec.KINDS.items():
        assert callable(kind.test) and callable(kind.write) and callable(kind.read), tag
    with pytest.raises(ValueError, match="unknown kind of value 'pickle'"):
        answers.decode({"t": "pickle", "v": "x"}, {}, None)


def _nested(depth: int, inner: dict) -> dict:
    for _ in range(depth):
        inner = {"t": "list", "v": [inner]}
    return inner


@pytest.mark.parametrize("node, message", [
    ({"t": ["list"], "v": []}, "unknown kind of value"),
    ({"t": "__class__"}, "unknown kind of value"),
    ({"t": "tdtype", "v": "manual_seed"}, "unknown torch dtype"),
    ({"t": "tensor", "k": "a0", "dtype": "load", "requires_grad": False, "param": False}, "unknown torch dtype"),
    ({"t": "module", "cls": "Parameter", "v": {"t": "dict", "v": []}}, "unknown torch.nn layer"),
    ({"t": "module", "cls": "functional", "v": {"t": "dict", "v": []}}, "unknown torch.nn layer"),
    ({"t": "module", "cls": "os.system", "v": {"t": "dict", "v": []}}, "unknown torch.nn layer"),
    (_nested(codec.MAX_READ_DEPTH + 1, {"t": "none"}), "nested deeper"),
])
def test_what_no_probe_writes_is_refused(node, message):
    with pytest.raises(ValueError, match=message):
        answers.decode(node, {"a0": np.zeros(2, dtype=np.float32)}, None)


def test_the_deepest_values_a_probe_writes_are_read():
    """Nesting past MAX_DEPTH is sent as a reference, so the deepest honest answer stays within MAX_READ_DEPTH."""
    deep = layer = torch.nn.Linear(1, 1)
    deep.weight.grad = torch.ones(1, 1)
    for _ in range(codec.MAX_DEPTH + 20):
        deep = [deep, torch.Generator()]
    node, got = _send(deep)
    for _ in range(codec.MAX_DEPTH):
        assert type(got) is list and isinstance(got[1], torch.Generator)
        got = got[0]
    assert type(got) is list and all(isinstance(item, answers.Remote) for item in got)   # the rest stayed there
    assert [type(item).__name__ for item in got] == ["list", "Generator"]
    node, got = _send([[[layer]]] * 2)
    assert torch.equal(got[1][0][0].weight.grad, torch.ones(1, 1))
    assert answers.decode(_nested(codec.MAX_READ_DEPTH - 1, {"t": "int", "v": 3}), {}, None) is not None


def test_the_probe_never_imports_torch_for_the_learner():
    code = ("import sys, numpy as np, course_tools.grading.probe as p\n"
            "p.encode([1, np.zeros(2), {'a': object()}], {})\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
