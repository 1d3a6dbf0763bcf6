"""Which of the course's reference implementations (``utils.*``) a cell uses: the rule that an answer must be the
learner's own code, not a call to the reference it mirrors. The generator records what each solution uses itself
(allowed, in the manifest); the grader compares a submission's answer cells against that.

>>> reference_uses(["import utils.vectors as vec"], "def cos(a, b):\\n    return vec.cosine_similarity(a, b)")
['utils.vectors.cosine_similarity']
"""
from __future__ import annotations

import ast
import importlib
import re

from course_tools.course_format import parse_cell

REFERENCE = re.compile(r"^utils(\.|$)")
NOT_REFERENCE = re.compile(r"^utils\.checks(\.|$)|^utils$")


def _utils_bindings(tree) -> dict[str, str]:
    """Names that imports bind to the course's package: ``import utils.vectors as vec`` -> {"vec": "utils.vectors"}."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if REFERENCE.match(alias.name):
                    bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "utils"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and REFERENCE.match(node.module):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _dotted(node) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _exempt(name: str) -> bool:
    """Names an answer may use: the package itself, the check modules and their checks. What a check module itself
    imports (``check.vectors.cosine_similarity``) is the reference reached the long way round."""
    if not NOT_REFERENCE.match(name):
        return False
    parts = name.split(".")
    if len(parts) <= 3:
        return True
    try:
        module = importlib.import_module(".".join(parts[:3]))
    except Exception:
        return False
    return hasattr(getattr(module, parts[3], None), "ex_id")


def reference_uses(before: list[str], source: str) -> list[str]:
    """The ``utils.*`` names (not ``utils.checks``) that a cell uses: imported in it, or imported by the cells
    ``before`` it and used in it, or spelled in a string (``importlib.import_module("utils.vectors")``). A docstring
    is not a use: the exercises' docstrings name the reference they mirror.

    >>> reference_uses([], "def f(a, b):\\n    'Mirrors utils.vectors.cosine_similarity.'\\n    return a @ b")
    []
    """
    tree = parse_cell(source)
    if tree is None:
        return []
    bound: dict[str, str] = {}
    for earlier in before:
        earlier_tree = parse_cell(earlier)
        if earlier_tree is not None:
            bound.update(_utils_bindings(earlier_tree))
    own = _utils_bindings(tree)
    shadowed = {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    shadowed |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound = {k: v for k, v in bound.items() if k not in shadowed}
    bound.update(own)
    found = set(own.values())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)  # "Mirrors utils.x.f." names a reference, uses none
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)) and isinstance(getattr(node, "ctx", None), ast.Load):
            parts = _dotted(node)
            if parts and parts[0] in bound:
                found.add(".".join([bound[parts[0]], *parts[1:]]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.update(re.findall(r"\butils\.\w+(?:\.\w+)*", node.value))
    # a chain a.b.c is also walked as a.b and a: keep only the longest of each
    found = {f for f in found if REFERENCE.match(f) and not _exempt(f)}
    return sorted(f for f in found if not any(g != f and g.startswith(f + ".") for g in found))
