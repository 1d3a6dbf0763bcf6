"""The plan of a submission (course_tools/grading/planning.py), on bad input that needs no kernel: cells deleted,
reordered, duplicated, check cells removed, another chapter's notebook; and what the check cells it inserts do."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

from course_tools.course_format import is_check, is_exercise
from course_tools.grading.planning import plan
from course_tools.grading.judge import parse_check_call
from course_tools.grading.notebook import read_notebook
from course_tools.manifest import Course

ROOT = Path(__file__).resolve().parent.parent
LEARNER = ROOT / "notebooks" / "01_scalars_to_tensors.ipynb"
ALL_CH01 = [f"1.{k}" for k in range(1, 9)]
CH01 = Course().chapter("01")


def learner():
    return nbformat.read(LEARNER, as_version=4)


def exercise_cells(nb):
    return [c for c in nb.cells if is_exercise(c)]


def checked_after(nb) -> dict[str, str]:
    """Exercise id -> source of the learner cell its course check runs after."""
    steps = plan(nb, CH01).steps
    return {s.exercise: steps[i - 1].source for i, s in enumerate(steps) if s.kind == "check"}


def test_deleted_exercise_cell_is_reported_not_guessed():
    nb = learner()
    nb.cells.remove(exercise_cells(nb)[2])
    the_plan = plan(nb, CH01)
    assert the_plan.missing == {"1.3": "no exercise cell found for it (deleted, or its names changed?)"}
    assert [s.exercise for s in the_plan.steps if s.kind == "check"] == [i for i in ALL_CH01 if i != "1.3"]


def test_check_cells_removed_or_moved_change_nothing():
    nb = learner()
    expected = checked_after(nb)
    checks = [c for c in nb.cells if is_check(c)]
    nb.cells = [c for c in nb.cells if c not in checks]
    assert checked_after(nb) == expected
    nb.cells = checks[::-1] + nb.cells  # moved to the top, in reverse
    assert checked_after(nb) == expected


def test_duplicated_exercise_cell_the_later_copy_answers(tmp_path):
    raw = json.loads(LEARNER.read_text(encoding="utf-8"))
    i = next(k for k, c in enumerate(raw["cells"]) if is_exercise(c))
    copy_of = copy.deepcopy(raw["cells"][i])
    copy_of["source"] = "# my second try\n" + "".join(copy_of["source"])
    raw["cells"].insert(i + 2, copy_of)  # after the check cell, same id
    path = tmp_path / "01_dup.ipynb"
    path.write_text(json.dumps(raw), encoding="utf-8")
    nb, problem = read_notebook(path)
    assert problem is None
    assert checked_after(nb)["1.1"].startswith("# my second try")


def test_a_notebook_of_another_chapter_is_graded_as_that_chapter(tmp_path):
    nb = learner()
    assert Course().identify(nb, tmp_path / "02_norms_distances_similarity.ipynb") == "01"


def test_check_steps_carry_the_course_check_call_and_the_learner_answer():
    nb = learner()
    steps = plan(nb, CH01).steps
    checks = [(i, s) for i, s in enumerate(steps) if s.kind == "check"]
    assert [s.exercise for _, s in checks] == ALL_CH01
    for i, s in checks:
        name, args, kwargs = parse_check_call(s.source)    # what the judge runs: one call of the course's check
        assert s.source.startswith("check.") and args and kwargs == {}
        assert s.answer == steps[i - 1].source             # the answer cell, for reading a function's source


def test_a_check_cell_is_one_call():
    assert parse_check_call("check.stack_tokens(X, [v[w] for w in s])") == (
        "stack_tokens", ["X", "[v[w] for w in s]"], {})
    assert parse_check_call("check.f(a, k=b)\n") == ("f", ["a"], {"k": "b"})
    for bad in ("x = 1", "check.f(a)\ncheck.g(b)", "print(1)"):
        try:
            parse_check_call(bad)
        except (ValueError, SyntaxError):
            continue
        raise AssertionError(bad)
