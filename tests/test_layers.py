"""The course's layers, read from the source (no imports run): the reference library the notebooks teach never
depends on the course's tooling or on the checks; no module imports itself back in a cycle at import time; a module
longer than 400 lines says at its top why it is one module.

Layers, lowest first (a module may import its own layer and the layers below it):
- reference: ``utils``, what notebooks import to learn from and to compare with (``utils.vectors``, ``utils.bpe``...);
- checks: ``utils.checks`` (they take right answers from the reference);
- tooling: ``course_tools``, the generator, the notebook format, the grader, the workspace and progress commands.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("utils", "course_tools")
TOOLING = ("course_tools",)
CHECKS = ("utils.checks",)
LONG = 400
LONG_REASON = "Why one long module:"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for package in PACKAGES for p in sorted((root / package).rglob("*.py"))
            if "__pycache__" not in p.parts}


def layer(name: str) -> int:
    if name.startswith(TOOLING):
        return 2
    if name.startswith(CHECKS):
        return 1
    return 0


def imports(path: Path, name: str, top_level_only: bool, known=None) -> set[str]:
    """The course modules a file imports (``from utils.x import y`` counts as utils.x and, if it is one, utils.x.y)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # imports at module level, also inside if/try blocks there
        nodes = [n for stmt in tree.body for n in ast.walk(stmt)
                 if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    known = modules() if known is None else known
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PACKAGES))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".rstrip(".")
            if base.startswith(PACKAGES):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known)
    return {f for f in found if f in known and f != name}


def layer_violations(root: Path = ROOT) -> list[str]:
    known = modules(root)
    return [f"{name} -> {target}" for name, path in known.items()
            for target in sorted(imports(path, name, False, known)) if layer(target) > layer(name)]


def test_the_reference_library_never_imports_checks_or_tooling():
    wrong = layer_violations()
    assert wrong == [], "a lower layer imports a higher one: " + ", ".join(wrong)


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """The first cycle in an import graph (module -> modules it imports), as a path; None when there is none.

    >>> import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}), import_cycle({"a": {"b"}, "b": set()})
    (['a', 'b', 'c', 'a'], None)
    """
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, trail + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            found = visit(name, [name])
            if found:
                return found
    return None


def test_no_import_cycles_at_import_time():
    cycle = import_cycle({name: imports(path, name, top_level_only=True) for name, path in modules().items()})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_tooling_has_no_cycle_even_through_imports_inside_functions():
    """An import moved into a function hides a cycle from the test above, not from a reader."""
    tooling = {name: path for name, path in modules().items() if name.startswith(TOOLING)}
    graph = {name: {t for t in imports(path, name, top_level_only=False) if t in tooling}
             for name, path in tooling.items()}
    cycle = import_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_long_modules_say_why_at_their_top():
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > LONG:
            doc = ast.get_docstring(ast.parse(text)) or ""
            assert LONG_REASON in doc, f"{path.relative_to(ROOT)} has over {LONG} lines: say why ({LONG_REASON!r})"


def test_the_layer_check_itself_finds_a_violation(tmp_path):
    """A test of the test: a reference module that imports the grader (lazily, inside a function) is caught."""
    (tmp_path / "utils").mkdir()
    (tmp_path / "course_tools" / "grading").mkdir(parents=True)
    for name in ("utils/__init__.py", "course_tools/grading/__init__.py", "course_tools/grading/results.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "utils" / "vectors.py").write_text("def f():\n    from course_tools.grading.results import PASSED\n")
    assert layer_violations(tmp_path) == ["utils.vectors -> course_tools.grading.results"]


def test_contributing_map_points_at_real_definitions():
    """Every `path`: `name` in CONTRIBUTING's map exists, so the one-hop answers stay true."""
    import re

    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines()
            if line.startswith("| ") and ("`utils/" in line or "`course_tools/" in line) and ": `" in line]
    assert len(rows) >= 7
    for row in rows:
        for path, names in re.findall(r"`((?:utils|course_tools)/[\w/]+\.py)`: ((?:`[\w.]+`(?:, | and )?)+)", row):
            source = (ROOT / path).read_text(encoding="utf-8")
            for name in re.findall(r"`([\w.]+)`", names):
                last = name.split(".")[-1]
                assert re.search(rf"^\s*(def|class) {last}\b|^{last} = ", source, re.M), (path, name)


def test_both_packages_are_installed():
    """The editable install maps only the packages pyproject names: a kernel started outside the repository (JupyterLab
    in my-work/, the grader's sandbox) imports ``course_tools`` only if pyproject includes it."""
    import fnmatch
    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in PACKAGES:
        assert any(fnmatch.fnmatch(package, pattern) for pattern in include), (package, include)
