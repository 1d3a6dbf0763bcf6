"""The wire format of the values a check reads from the learner's kernel, written once: :data:`KINDS` maps each tag
to how a value of that kind is recognised, written as JSON plus arrays (:func:`encode`, which the probe runs in the
kernel) and read back (:func:`decode`, which the grader runs). Objects that are not data (the learner's functions,
instances of their classes) are the ``ref`` kind: each side says how it keeps them (the probe: a handle) and how it
stands for them (the grader: a :class:`course_tools.grading.answers.Remote`).

Both sides import this module, so it imports nothing heavy: torch is looked up in ``sys.modules`` to encode (never
imported for the learner) and imported only when the grader decodes a torch value. Decoding trusts no byte: an
unknown tag, a torch dtype or a layer that is not torch's own, nesting deeper than any encoding writes are all
refused with ValueError, and nothing is ever unpickled.

>>> arrays = {}
>>> node = encode((1, "a"), arrays, keep=None)
>>> node, decode(node, arrays, remote=None)
({'t': 'tuple', 'v': [{'t': 'int', 'v': 1}, {'t': 'str', 'v': 'a'}]}, (1, 'a'))
"""
from __future__ import annotations

import collections
import sys
from typing import Callable, NamedTuple

import numpy as np

MAX_DEPTH = 40                    # a value nested deeper is sent as a reference (it stays in the kernel)
MAX_READ_DEPTH = MAX_DEPTH + 8    # no encoding nests deeper than MAX_DEPTH + 2: a deeper answer is forged


class Kind(NamedTuple):
    test: Callable    # (value, torch module) -> bool; encode writes a value as the first kind whose test holds
    write: Callable   # (value, writer, depth) -> the node's fields besides its tag "t"
    read: Callable    # (node, reader, depth) -> the value
    torch: bool = False  # tried only when the learner's session has imported torch


class _Writer:
    def __init__(self, arrays: dict, keep: Callable):
        self.arrays, self.keep = arrays, keep

    def value(self, x, depth: int) -> dict:
        if depth > MAX_DEPTH:
            return {"t": "ref", **self.keep(x)}
        torch = sys.modules.get("torch")
        for tag, kind in KINDS.items():
            if (torch is not None or not kind.torch) and kind.test(x, torch):
                return {"t": tag, **kind.write(x, self, depth)}
        raise AssertionError("the ref kind takes every value")

    def items(self, xs, depth: int) -> list:
        return [self.value(x, depth + 1) for x in xs]

    def array(self, a: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = a
        return key


class _Reader:
    def __init__(self, arrays: dict, remote: Callable):
        self.arrays, self.remote = arrays, remote

    def value(self, node, depth: int):
        if depth > MAX_READ_DEPTH:
            raise ValueError(f"the answer is nested deeper than {MAX_READ_DEPTH} levels")
        tag = node["t"]
        kind = KINDS.get(tag) if isinstance(tag, str) else None
        if kind is None:
            raise ValueError(f"unknown kind of value {tag!r}")
        return kind.read(node, self, depth)

    def items(self, nodes, depth: int) -> list:
        return [self.value(node, depth + 1) for node in nodes]


def encode(x, arrays: dict, keep: Callable, depth: int = 0) -> dict:
    """``x`` as JSON-ready data; arrays go into ``arrays`` (name -> ndarray) and are referred to by name. ``keep(x)``
    gives the fields of a reference to an object that is not data."""
    return _Writer(arrays, keep).value(x, depth)


def decode(node, arrays: dict, remote: Callable):
    """The value ``node`` (written by :func:`encode`) describes; ``remote(node)`` stands for a reference."""
    return _Reader(arrays, remote).value(node, 0)


# ---------------------------------------------------------------------------------------------- the kinds
def _is(*types) -> Callable:
    return lambda x, torch: isinstance(x, types)


def _ndarray(kinds: str) -> Callable:
    return lambda x, torch: isinstance(x, np.ndarray) and x.dtype.kind in kinds


def _read_objarray(node, r, depth):
    items = r.items(node.get("v"), depth)
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out.reshape([int(n) for n in node["shape"]])


def _named_fields(x, torch):
    """The field names of a namedtuple or a structseq (torch.return_types...), else None."""
    fields = getattr(type(x), "_fields", None) or getattr(type(x), "__match_args__", None)
    return fields if isinstance(x, tuple) and isinstance(fields, tuple) and len(fields) == len(x) else None


def _read_named(node, r, depth):
    name, fields = str(node["name"]), node["fields"]
    cls = collections.namedtuple(name if name.isidentifier() else "result",
                                 [f if f.isidentifier() else f"f{i}" for i, f in enumerate(fields)], rename=True)
    return cls(*r.items(node.get("v"), depth))


def _torch():
    import torch  # the grader's side only: encoding never imports it
    return torch


def _torch_dtype(name):
    torch = _torch()
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown torch dtype {name!r}")
    return dtype


def _write_tensor(x, w, depth) -> dict:
    torch = sys.modules["torch"]
    data = x.detach().cpu()
    dtype = str(data.dtype).removeprefix("torch.")
    if data.dtype == torch.bfloat16:
        data = data.float()  # numpy has no bfloat16: sent as float32 (exact), turned back on arrival
    out = {"k": w.array(data.contiguous().numpy()), "dtype": dtype, "requires_grad": bool(x.requires_grad),
           "param": isinstance(x, torch.nn.Parameter)}
    if x.is_leaf and x.grad is not None and depth < MAX_DEPTH:   # only a leaf keeps .grad (asking a non-leaf warns)
        out["grad"] = {"t": "tensor", **_write_tensor(x.grad, w, depth + 1)}
    return out


def _read_tensor(node, r, depth):
    torch = _torch()
    data = torch.from_numpy(np.array(r.arrays[node["k"]])).to(_torch_dtype(node["dtype"]))
    if node.get("param"):
        data = torch.nn.Parameter(data, requires_grad=bool(node.get("requires_grad")))
    elif node.get("requires_grad") and (data.is_floating_point() or data.is_complex()):
        data.requires_grad_(True)
    if "grad" in node:
        data.grad = r.value(node["grad"], depth + 1)
    return data


def _read_generator(node, r, depth):
    torch = _torch()
    g = torch.Generator()
    g.set_state(r.value(node["state"], depth + 1))
    return g


def _torch_layer(x, torch) -> bool:
    """True when ``x`` is one of torch.nn's own layers (rebuilt from data on the grader's side)."""
    return isinstance(x, torch.nn.Module) and getattr(torch.nn, type(x).__name__, None) is type(x)


def _read_layer(node, r, depth):
    torch = _torch()
    cls = getattr(torch.nn, str(node["cls"]), None)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ValueError(f"unknown torch.nn layer {node['cls']!r}")
    module = cls.__new__(cls)
    torch.nn.Module.__init__(module)
    for key, value in r.value(node["v"], depth + 1).items():
        if key in ("_parameters", "_buffers", "_modules"):
            getattr(module, key).update(value)
        else:
            module.__dict__[key] = value
    return module


def _container(cls) -> Kind:
    return Kind(_is(cls), lambda x, w, d: {"v": w.items(x, d)}, lambda n, r, d: cls(r.items(n.get("v"), d)))


#: tag -> Kind, in the order encode tries them (bool before numpy scalars and int, torch.Size before tuple...)
KINDS: dict[str, Kind] = {
    "none": Kind(lambda x, torch: x is None, lambda x, w, d: {}, lambda n, r, d: None),
    "ellipsis": Kind(lambda x, torch: x is Ellipsis, lambda x, w, d: {}, lambda n, r, d: Ellipsis),
    "bool": Kind(_is(bool, np.bool_), lambda x, w, d: {"v": bool(x)}, lambda n, r, d: bool(n.get("v"))),
    "npscalar": Kind(_is(np.generic), lambda x, w, d: {"k": w.array(np.asarray(x))},
                     lambda n, r, d: r.arrays[n["k"]][()]),
    "int": Kind(_is(int), lambda x, w, d: {"v": int(x)}, lambda n, r, d: int(n.get("v"))),
    "float": Kind(_is(float), lambda x, w, d: {"v": float(x)}, lambda n, r, d: float(n.get("v"))),
    "complex": Kind(_is(complex), lambda x, w, d: {"v": [x.real, x.imag]},
                    lambda n, r, d: complex(float(n.get("v")[0]), float(n.get("v")[1]))),
    "str": Kind(_is(str), lambda x, w, d: {"v": str.__str__(x)}, lambda n, r, d: str(n.get("v"))),
    "bytes": Kind(_is(bytes, bytearray), lambda x, w, d: {"k": w.array(np.frombuffer(bytes(x), dtype=np.uint8))},
                  lambda n, r, d: r.arrays[n["k"]].tobytes()),
    "ndarray": Kind(_ndarray("biufcmMSU"), lambda x, w, d: {"k": w.array(np.ascontiguousarray(np.asarray(x)))},
                    lambda n, r, d: np.array(r.arrays[n["k"]])),
    "objarray": Kind(_ndarray("O"), lambda x, w, d: {"shape": list(x.shape), "v": w.items(x.reshape(-1).tolist(), d)},
                     _read_objarray),
    "npdtype": Kind(_is(np.dtype), lambda x, w, d: {"v": x.str}, lambda n, r, d: np.dtype(str(n.get("v")))),
    "tensor": Kind(lambda x, torch: isinstance(x, torch.Tensor), _write_tensor, _read_tensor, torch=True),
    "size": Kind(lambda x, torch: isinstance(x, torch.Size), lambda x, w, d: {"v": [int(n) for n in x]},
                 lambda n, r, d: _torch().Size([int(k) for k in n.get("v")]), torch=True),
    "tdtype": Kind(lambda x, torch: isinstance(x, torch.dtype), lambda x, w, d: {"v": str(x).removeprefix("torch.")},
                   lambda n, r, d: _torch_dtype(n.get("v")), torch=True),
    "device": Kind(lambda x, torch: isinstance(x, torch.device), lambda x, w, d: {"v": str(x)},
                   lambda n, r, d: _torch().device(str(n.get("v"))), torch=True),
    "generator": Kind(lambda x, torch: isinstance(x, torch.Generator),
                      lambda x, w, d: {"state": {"t": "tensor", **_write_tensor(x.get_state(), w, d)}},
                      _read_generator, torch=True),
    "module": Kind(_torch_layer, lambda x, w, d: {
        "cls": type(x).__name__, "v": w.value({k: v for k, v in vars(x).items() if "hook" not in k}, d + 1)},
        _read_layer, torch=True),
    "named": Kind(lambda x, torch: _named_fields(x, torch) is not None,
                  lambda x, w, d: {"name": type(x).__name__, "fields": [str(f) for f in _named_fields(x, None)],
                                   "v": w.items(x, d)}, _read_named),
    "list": _container(list),
    "tuple": _container(tuple),
    "set": _container(set),
    "frozenset": _container(frozenset),
    "dict": Kind(_is(dict), lambda x, w, d: {"v": [[w.value(k, d + 1), w.value(v, d + 1)] for k, v in x.items()]},
                 lambda n, r, d: {r.value(k, d + 1): r.value(v, d + 1) for k, v in n.get("v")}),
    "range": Kind(_is(range), lambda x, w, d: {"v": [x.start, x.stop, x.step]},
                  lambda n, r, d: range(*[int(k) for k in n.get("v")])),
    "slice": Kind(_is(slice), lambda x, w, d: {"v": w.items([x.start, x.stop, x.step], d)},
                  lambda n, r, d: slice(*r.items(n.get("v"), d))),
    "ref": Kind(lambda x, torch: True, lambda x, w, d: w.keep(x), lambda n, r, d: r.remote(n)),
}
