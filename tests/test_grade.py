"""The grader ``python -m course_tools.grade``: a solution passes, a learner notebook is "not attempted", a wrong answer fails
with the check's message, and broken inputs (missing file, invalid JSON, endless loop, dead kernel) are reported
without stopping the grading of the other notebooks given. Faults inside exercises: tests/test_grading_faults.py.

The notebooks are graded for real (a kernel per notebook), so the expensive runs are shared by module fixtures.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from course_tools import grade
from course_tools.course_format import defined_names
from course_tools.grading.planning import plan as make_plan
from course_tools.manifest import Course

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "01_scalars_to_tensors.ipynb"
LEARNER = ROOT / "notebooks" / "01_scalars_to_tensors.ipynb"
CELL_TIMEOUT = 8
ALL_CH01 = [f"1.{k}" for k in range(1, 9)]


def make_notebook(path: Path, *sources: str, chapter: str | None = None) -> Path:
    """A small notebook with one code cell per source (fixtures are built here, not committed)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if chapter:
        nb.metadata["course"] = {"chapter": chapter, "source": "test"}
    nbformat.write(nb, path)
    return path


def wrong_answer_copy(path: Path) -> Path:
    """The solution with exercise 1.2's answer replaced by a typical mistake: len(x) for the number of elements."""
    nb = nbformat.read(SOLUTION, as_version=4)
    cell = next(c for c in nb.cells if "n_elements = x.numel()" in c.source)
    cell.source = cell.source.replace("n_elements = x.numel()", "n_elements = len(x)")
    nbformat.write(nb, path)
    return path


def run_main(argv, capsys):
    code = grade.main([str(a) for a in argv])
    out = capsys.readouterr().out
    return code, out


@pytest.fixture(scope="module")
def solution_run(tmp_path_factory):
    capsys_free = tmp_path_factory.mktemp("solution")
    out_file = capsys_free / "out.json"
    # via the real command line: the exit code is part of the contract
    proc = subprocess.run([sys.executable, "-m", "course_tools.grade", str(SOLUTION), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    out_file.write_text(proc.stdout)
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """One call with many paths, several of them broken: every one is reported, in order."""
    d = tmp_path_factory.mktemp("mixed")
    invalid = d / "01_invalid.ipynb"
    invalid.write_text('{"cells": [ this is not json', encoding="utf-8")
    paths = {
        "missing": d / "01_does_not_exist.ipynb",
        "invalid": invalid,
        "learner": LEARNER,
        "wrong": wrong_answer_copy(d / "01_wrong.ipynb"),
        "loop": make_notebook(d / "01_loop.ipynb", "print('start')", "while True:\n    pass", "print('never')"),
        "kill": make_notebook(d / "01_kill.ipynb", "import os\nos._exit(1)", "print('never')"),
    }
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "course_tools.grade", *map(str, paths.values()), "--json",
                           "--timeout", str(CELL_TIMEOUT)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    payload = json.loads(proc.stdout)
    return proc.returncode, dict(zip(paths, payload)), wall, paths


def statuses(entry) -> dict[str, str]:
    return {e["id"]: e["status"] for e in entry["exercises"]}


@pytest.mark.slow
def test_solution_all_passed_exit_0(solution_run):
    code, payload = solution_run
    assert code == 0
    [entry] = payload
    assert entry["chapter"] == "01" and entry["problem"] is None and entry["all_passed"] is True
    assert statuses(entry) == {i: "passed" for i in ALL_CH01}


@pytest.mark.slow
def test_several_paths_broken_ones_do_not_stop_the_rest(mixed_run):
    code, by_name, _, paths = mixed_run
    assert code == 1
    assert [Path(e["path"]).name for e in by_name.values()] == [p.name for p in paths.values()]


@pytest.mark.slow
def test_learner_notebook_all_not_attempted(mixed_run):
    entry = mixed_run[1]["learner"]
    assert entry["problem"] is None and entry["all_passed"] is False
    assert statuses(entry) == {i: "not attempted" for i in ALL_CH01}


@pytest.mark.slow
def test_wrong_answer_fails_with_the_checks_message(mixed_run):
    entry = mixed_run[1]["wrong"]
    assert entry["problem"] is None
    by_id = {e["id"]: e for e in entry["exercises"]}
    assert by_id["1.2"]["status"] == "failed"
    assert "n_elements is 2" in by_id["1.2"]["message"] and "numel" in by_id["1.2"]["message"]
    assert all(by_id[i]["status"] == "passed" for i in ALL_CH01 if i != "1.2")


@pytest.mark.slow
def test_missing_file_and_invalid_json_reported(mixed_run):
    by_name = mixed_run[1]
    assert by_name["missing"]["problem"] == "file not found"
    assert by_name["missing"]["exercises"] == []
    assert by_name["invalid"]["problem"].startswith("not a valid notebook")
    assert by_name["invalid"]["all_passed"] is False


@pytest.mark.slow
def test_endless_loop_times_out_quickly(mixed_run):
    """A looping cell that is no exercise is interrupted after the cell timeout; the notebook's cells after it
    still run, and every exercise (none answered here: no exercise cell at all) is reported."""
    entry = mixed_run[1]["loop"]
    assert entry["problem"] == (f"cell 2 (not an exercise) timed out after {CELL_TIMEOUT} s (an endless loop?), "
                                "graded the rest")
    assert entry["seconds"] < CELL_TIMEOUT + 30, entry["seconds"]
    assert set(statuses(entry).values()) == {"failed"}
    assert all("no exercise cell found" in e["message"] for e in entry["exercises"])


@pytest.mark.slow
def test_dead_kernel_reported(mixed_run):
    entry = mixed_run[1]["kill"]
    assert entry["problem"] == "the kernel died in cell 1 (not an exercise) (exit code 1), graded the rest"
    assert set(statuses(entry).values()) == {"failed"}


@pytest.mark.slow
def test_json_shape(mixed_run, solution_run):
    for entry in [*mixed_run[1].values(), *solution_run[1]]:
        assert set(entry) == {"path", "chapter", "problem", "exercises", "all_passed", "seconds"}
        assert isinstance(entry["all_passed"], bool) and isinstance(entry["seconds"], (int, float))
        for e in entry["exercises"]:
            assert set(e) == {"id", "title", "status", "message", "private"} and e["private"] is False
            assert e["status"] in {"passed", "failed", "not attempted", "not run"}
            assert isinstance(e["message"], str)


def test_text_output_and_exit_code_without_a_kernel(tmp_path):
    """Text mode on inputs that need no kernel: one block per path, exit code 1."""
    bad = tmp_path / "broken.ipynb"
    bad.write_bytes(b"\x00\xff not a notebook")
    proc = subprocess.run([sys.executable, "-m", "course_tools.grade", str(tmp_path / "nope.ipynb"), str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "nope.ipynb" in proc.stdout and "file not found" in proc.stdout
    assert "broken.ipynb" in proc.stdout and "not a valid notebook" in proc.stdout


def test_format_text():
    result = grade.NotebookResult("x/01_a.ipynb", chapter="01", exercises=[
        grade.ExerciseResult("1.1", "First", grade.PASSED, ""),
        grade.ExerciseResult("1.2", "Second", grade.FAILED, "n_elements is 2"),
    ])
    text = grade.format_text(result)
    assert text.splitlines()[0] == "x/01_a.ipynb  (chapter 01)"
    assert "✅ 1.1 First: passed" in text and "❌ 1.2 Second: failed - n_elements is 2" in text
    assert text.splitlines()[-1].strip() == "1/2 passed"


def test_bad_arguments():
    with pytest.raises(SystemExit):
        grade.main(["x.ipynb", "--timeout", "0"])


def test_defined_names_and_chapter_identification(tmp_path):
    source = "def f(x):\n    return x\na, (b, c) = 1, (2, 3)\nd: int = 4\n"
    assert defined_names(source) == {"f", "a", "b", "c", "d"}
    assert "s" in defined_names("s = ...  # YOUR CODE HERE\nthis is not python(")
    learner = nbformat.read(LEARNER, as_version=4)
    renamed = tmp_path / "my homework.ipynb"
    learner.metadata.pop("course")
    assert Course().identify(learner, renamed) == "01"  # from the cell ids alone
    assert Course().identify(learner, tmp_path / "02_norms.ipynb") == "01"  # another chapter's name: ids win
    assert Course().identify(nbformat.v4.new_notebook(), tmp_path / "07_x.ipynb") == "07"


def test_plan_replaces_learner_check_cells():
    learner = nbformat.read(LEARNER, as_version=4)
    chapter = Course().chapter("01")
    exercises = chapter.exercises
    assert [e.id for e in exercises] == ALL_CH01
    for cell in learner.cells:
        if "check" in cell.metadata.get("tags", []):
            cell.source = "pass"
    plan = make_plan(learner, chapter)
    assert "pass" not in [s.source for s in plan.steps]
    checks = [s for s in plan.steps if s.kind == "check"]
    assert [s.exercise for s in checks] == ALL_CH01
    assert plan.missing == {} and plan.references == {}
    # each course check runs right after the learner's exercise cell with the same id
    by_id = {c.get("id"): i + 1 for i, c in enumerate(learner.cells)}
    for ex in exercises:
        i = next(i for i, s in enumerate(plan.steps) if s.cell == by_id[ex.exercise_cell])
        assert plan.steps[i + 1].kind == "check" and plan.steps[i + 1].exercise == ex.id
        assert plan.steps[i + 1].source == ex.check_source and plan.steps[i + 1].answer == plan.steps[i].source


def test_a_chapter_the_manifest_does_not_know_is_not_graded(tmp_path):
    """A notebook whose chapter the course has no exercises for is reported as such, never graded with its own
    check cells (a printed pass line is not a result)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('print("✅ [99.1] Build tensors: passed")')])
    nbformat.write(nb, tmp_path / "99_x.ipynb")
    result = grade.grade_notebook(tmp_path / "99_x.ipynb")
    assert result.chapter == "99" and result.exercises == [] and not result.all_passed
