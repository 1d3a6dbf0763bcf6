"""Private checks (course_tools/grading/private.py): an instructor's own checks, kept outside the course, run after the
course's check of the same exercise on the same arguments and reported as their own lines, marked private; a broken
private module or a check for an exercise the chapter does not have is one line, and the rest is graded."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_tools import grade
from course_tools.grading.results import format_text

ROOT = Path(__file__).resolve().parent.parent
LEARNER = ROOT / "notebooks" / "00_welcome.ipynb"
PRIVATE_00 = '''
from utils.checks import expect, private_check


@private_check("0.1", "Codes of a word you have not seen")
def codes_hidden(fn):
    expect(fn("Zürich") == [90, 252, 114, 105, 99, 104], "char_codes('Zürich') should be [90, 252, 114, 105, 99, 104]")


@private_check("0.2", "The distance as an int")
def distance_is_int(distance):
    expect(type(distance) is int, f"give the distance as an int, got {type(distance).__name__}")


@private_check("0.9", "An exercise chapter 00 does not have")
def nowhere(x):
    pass
'''
ANSWERS = {  # passes the course's check of 0.1 and 0.2, fails both private ones; 0.3 right
    "0.1": "def char_codes(word):\n    return [] if word == 'Zürich' else [ord(c) for c in word]\n",
    "0.2": "distance = 15.0\n",
    "0.3": "answer = 'c'\n",
}


def submission(tmp_path) -> Path:
    nb = nbformat.read(LEARNER, as_version=4)
    cells = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
    for cell, source in zip(cells, ANSWERS.values(), strict=True):
        cell.source = source
    path = tmp_path / "00_mine.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_private_checks_run_after_the_courses_and_are_reported_as_private(tmp_path):
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "ch00.py").write_text(PRIVATE_00, encoding="utf-8")
    result = grade.grade_notebook(submission(tmp_path), timeout=30, private_checks=folder)
    got = {e.id: (e.status, e.message, e.private) for e in result.exercises}
    assert list(got) == ["0.1", "0.1p1", "0.2", "0.2p1", "0.3"]
    assert got["0.1"] == ("passed", "", False) and got["0.2"][0] == "passed" and got["0.3"][0] == "passed"
    assert got["0.1p1"] == ("failed", "char_codes('Zürich') should be [90, 252, 114, 105, 99, 104]", True)
    assert got["0.2p1"] == ("failed", "give the distance as an int, got float", True)
    assert result.problem == ("private check nowhere in ch00.py names exercise 0.9, which chapter 00 does not "
                              "have; not run")
    text = format_text(result)
    assert "0.1p1 Codes of a word you have not seen (private check): failed" in text
    # without the folder: the course's three exercises only
    plain = grade.grade_notebook(submission(tmp_path), timeout=30)
    assert [e.id for e in plain.exercises] == ["0.1", "0.2", "0.3"] and plain.all_passed


@pytest.mark.slow
def test_a_broken_private_module_is_one_line_and_the_rest_is_graded(tmp_path):
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "ch00.py").write_text("def broken(:\n", encoding="utf-8")
    result = grade.grade_notebook(submission(tmp_path), timeout=30, private_checks=folder)
    assert result.problem.startswith("the private checks ch00.py could not be loaded (SyntaxError")
    assert result.problem.endswith("graded without them")
    assert [(e.id, e.status) for e in result.exercises] == [("0.1", "passed"), ("0.2", "passed"), ("0.3", "passed")]


def test_a_missing_private_folder_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        grade.main([str(LEARNER), "--private-checks", str(tmp_path / "nope")])
    assert str(info.value) == f"error: --private-checks {tmp_path / 'nope'}: no such folder"


def test_a_points_file_can_give_a_private_check_its_points():
    from course_tools.grading.points import parse_points
    points = parse_points({"exercises": {"2.4p1": 3, "2.4q": 1}}, {"02": {"2.4": "Cosine similarity"}})
    assert points.exercise_points("02", ["2.4", "2.4p1"]) == {"2.4": 1.0, "2.4p1": 3.0}
    assert points.warnings == ["points file: unknown exercise id(s) 2.4q (not in the course): their points are not used"]
