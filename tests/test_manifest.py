"""The course manifest (notebooks/course.json): written by the generator, checked by ``generate --check``, and the only
place the tooling learns the course from - no module under course_tools/ lists the notebooks folder or opens
solutions/ (the generator, which writes the manifest, excepted)."""
from __future__ import annotations

import ast
import importlib
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from course_tools import generate, manifest
from course_tools.course_format import chapter_of, is_check, is_exercise
from course_tools.manifest import Course, ExerciseId, ManifestError
from utils.checks import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
WRITERS = {"course_tools.generate", "course_tools.manifest"}


def test_every_chapter_and_exercise_is_in_the_manifest():
    course = Course()
    chapters = {c.number: c for c in course.chapters()}
    solutions = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(chapters) == [chapter_of(p) for p in solutions]
    for path in solutions:
        chapter = chapters[chapter_of(path)]
        assert chapter.notebook == ROOT / "notebooks" / path.name and chapter.solution == f"solutions/{path.name}"
        importlib.import_module(f"utils.checks.ch{chapter.number}")  # registers its checks
        assert chapter.expected == REGISTRY[chapter.number], chapter.number  # every registered check, in order
        nb = nbformat.read(chapter.notebook, as_version=4)
        assert chapter.title == nb.cells[0].source.splitlines()[0].lstrip("# ")
        by_id = {c.get("id"): c for c in nb.cells}
        for ex in chapter.exercises:
            assert is_exercise(by_id[ex.exercise_cell]) and is_check(by_id[ex.check_cell])
            assert by_id[ex.check_cell].source == ex.check_source and ex.check_source.startswith(f"check.{ex.check}(")
            assert ex.names and ex.points == 1.0
        assert all(chapter.unchanged(c) for c in nb.cells)


def test_ids_parse_and_sort_in_course_order():
    assert ExerciseId.parse(" 3.10 ") == ExerciseId("03", 10)
    with pytest.raises(ValueError, match="not an exercise id"):
        ExerciseId.parse("3")
    ids = ["10.1", "2.10", "x", "2.9", "2.4p1", "2.4"]
    assert sorted(ids, key=ExerciseId.sort_key) == ["2.4", "2.4p1", "2.9", "2.10", "10.1", "x"]


def test_a_missing_or_foreign_manifest_is_one_line(tmp_path):
    with pytest.raises(ManifestError, match="no course manifest at .*: run `python -m course_tools.generate`"):
        Course(tmp_path / "course.json")
    (tmp_path / "course.json").write_text('{"format": 0}')
    with pytest.raises(ManifestError, match="not a course manifest of format 1"):
        Course(tmp_path / "course.json")


def test_generate_check_fails_on_a_stale_manifest(tmp_path, capsys):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    shutil.copy(ROOT / "solutions" / "02_norms_distances_similarity.ipynb", solutions)
    assert generate.main(["--solutions", str(solutions), "--notebooks", str(notebooks)]) == 0
    course = Course(notebooks / manifest.NAME)
    assert [c.number for c in course.chapters()] == ["02"] and len(course.chapter("02").exercises) == 9
    data = json.loads((notebooks / manifest.NAME).read_text())
    data["chapters"][0]["exercises"][0]["references"] = ["utils.vectors.cosine_similarity"]  # a hand edit
    (notebooks / manifest.NAME).write_text(json.dumps(data))
    capsys.readouterr()
    assert generate.main(["--check", "--solutions", str(solutions), "--notebooks", str(notebooks)]) == 1
    assert f"out of sync: notebooks/{manifest.NAME}" in capsys.readouterr().out


def test_a_submission_is_recognised_by_its_cell_ids_not_its_name(tmp_path):
    course = Course()
    nb = nbformat.read(course.chapter("05").notebook, as_version=4)
    nb.metadata.pop("course", None)
    assert course.identify(nb, tmp_path / "homework 3.ipynb") == "05"
    assert course.identify(nb, tmp_path / "02_norms.ipynb") == "05"
    assert course.identify(nbformat.v4.new_notebook(), tmp_path / "07_x.ipynb") == "07"
    assert course.identify(nbformat.v4.new_notebook(), tmp_path / "notes.ipynb") is None


def _course_modules():
    for path in sorted((ROOT / "course_tools").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if name not in WRITERS:
            yield name, ast.parse(path.read_text(encoding="utf-8"))


def reads_around_the_manifest(tree) -> list[str]:
    """What in a module's code (not its prose) lists the notebooks or names the solutions folder."""
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if "solutions" in node.value.split("/") or "[0-9]" in node.value:
                found.append(repr(node.value))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("glob", "rglob", "iterdir", "listdir") \
                and "notebooks" in ast.unparse(node.func.value):
            found.append(ast.unparse(node))
    return found


def test_no_tool_lists_the_notebooks_or_opens_the_solutions():
    found = [f"{name}: {what}" for name, tree in _course_modules() for what in reads_around_the_manifest(tree)]
    assert found == [], found


def test_the_guard_sees_a_tool_that_lists_the_notebooks():
    bad = ast.parse('for p in sorted(Path(course.notebooks).glob("[0-9]*_*.ipynb")):\n'
                    '    open(ROOT / "solutions" / p.name)\n')
    assert sorted(reads_around_the_manifest(bad)) == ["'[0-9]*_*.ipynb'", "'solutions'",
                                                      "Path(course.notebooks).glob('[0-9]*_*.ipynb')"]
