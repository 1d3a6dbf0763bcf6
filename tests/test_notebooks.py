"""Every notebook of the course keeps the rules of the product spec; every learner notebook runs to the end with each
check reporting "not attempted". Parametrised over the files, so a new chapter is covered the moment it exists."""
import importlib
import re
from pathlib import Path

import nbformat
import pytest

from course_tools import grade
from course_tools.manifest import Course
from utils.checks import REGISTRY, Quiz
from utils.checks.contract import PASSED, read_outputs
from course_tools.course_format import chapter_of, is_check

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
LEARNER = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _ids(paths):
    return [p.stem for p in paths]


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_notebook_has_the_parts_every_notebook_has(path):
    nb = nbformat.read(path, as_version=4)
    text = _markdown(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "the first cell is the title"
    for part in ("why this matters", "time", "prerequisite", "takeaways", "next"):
        assert part in text.lower(), f"no '{part}' in the prose"
    assert re.search(r"^#+ .*learn|^\*\*you will learn", text, re.I | re.M), "no learning objectives"
    assert re.search(r"^>.*misconception", text, re.I | re.M), "no 'common misconception' callout (a > blockquote)"
    assert re.search(r"^## 1\.", text, re.M), "sections are numbered (## 1. ...)"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any(c.source.startswith("# NBVAL_SKIP") for c in code), "no versions cell marked NBVAL_SKIP"
    first_code = next(c.source for c in code if not c.source.startswith("# NBVAL_SKIP"))
    assert "%matplotlib inline" in first_code and "seed" in first_code, "first code cell: %matplotlib inline + seeds"


@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_every_registered_exercise_is_in_its_notebook_and_passes(path):
    """The committed outputs of a solution show each of its chapter's exercises passing (nbval re-runs them)."""
    chapter = chapter_of(path, nbformat.read(path, as_version=4))
    module = importlib.import_module(f"utils.checks.ch{chapter}")
    expected = set(REGISTRY[chapter])
    assert expected, f"utils/checks/ch{chapter}.py registers no exercise"
    assert any(isinstance(v, Quiz) for v in vars(module).values()), f"chapter {chapter} has no auto-checked quiz"
    nb = nbformat.read(path, as_version=4)
    shown = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and is_check(cell):
            shown.update(ex_id for ex_id, status, _ in read_outputs(cell.outputs) if status == PASSED)
    assert shown == expected, f"passing checks in outputs {sorted(shown)} != registered {sorted(expected)}"


@pytest.mark.slow
@pytest.mark.parametrize("path", LEARNER, ids=_ids(LEARNER))
def test_learner_notebook_runs_to_the_end_with_every_check_not_attempted(path):
    result = grade.grade_notebook(path, timeout=300)
    assert result.problem is None, result.problem
    assert result.exercises, "no exercises found"
    for ex in result.exercises:
        # the check cell itself must have reported (not just be missing): its message is the stub's
        assert ex.status == "not attempted" and "never reported" not in ex.message, (ex.id, ex.status, ex.message)


@pytest.mark.parametrize("path", LEARNER, ids=_ids(LEARNER))
def test_a_renamed_learner_notebook_is_recognised_by_its_cell_ids(path):
    """The grader tells a submission's chapter by its cell ids, which survive renaming: a tool that renumbers ids
    ("0", "1", ... as nbstripout does without --keep-id) would make chapters indistinguishable."""
    nb = nbformat.read(path, as_version=4)
    assert Course().identify(nb, Path("submission.ipynb")) == path.name[:2]


@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_widget_outputs_keep_their_saved_state(path):
    """The site shows widgets in their saved state: a solution whose outputs show widgets must carry that state
    (tools like nbstripout delete it)."""
    nb = nbformat.read(path, as_version=4)
    views = {out.data["application/vnd.jupyter.widget-view+json"]["model_id"]
             for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in out.get("data", {})}
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    missing = views - set(state)
    assert not missing, f"{len(missing)} widget output(s) without saved state (re-execute; do not strip metadata)"
