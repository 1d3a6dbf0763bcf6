"""The learner's progress table (python -m course_tools.progress, make progress, notebook 00) on a synthetic half-finished
my-work/: passed / failed / not attempted / not checked per exercise, notebooks never run, not copied, unreadable."""
import json
import shutil
from pathlib import Path

import pytest

from course_tools import progress
from utils.checks import contract
from course_tools.manifest import Course
from course_tools.grading.results import FAILED, NOT_ATTEMPTED, PASSED, ExerciseResult, NotebookResult

ROOT = Path(__file__).resolve().parent.parent
CH00 = list(Course().chapter("00").expected)          # ["0.1", "0.2", "0.3"]
TOTAL = sum(len(chapter.exercises) for chapter in Course().chapters())


def code(count, *outputs, source="x = 1"):
    return {"cell_type": "code", "execution_count": count, "id": f"c{count}", "metadata": {}, "outputs": list(outputs),
            "source": source}


def passed(ex_id, title="Title"):
    """The output a passing check saves (what the ``exercise`` decorator prints)."""
    return {"output_type": "stream", "name": "stdout", "text": [contract.pass_line(ex_id, title) + "\n"]}


def error(ename, ex_id, message):
    """The output a failing check saves, as IPython writes it from the check's exception (``ename`` one of the
    contract's exceptions), or another exception whose value merely looks like one."""
    if ename not in contract.STATUS_OF_ERROR:
        return {"output_type": "error", "ename": ename, "evalue": f"[{ex_id}] {message}", "traceback": []}
    exc = getattr(contract, ename)(ex_id, message)
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc),
            "traceback": exc._render_traceback_()}


def write(path, *cells):
    path.write_text(json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
                    encoding="utf-8")


@pytest.fixture
def half_done(tmp_path):
    """00: 0.1 passed, 0.2 failed, 0.3 not attempted; 01: copied, never run; 02: only its first check run (passed),
    then re-run failing, then passing again; 03: not a notebook; the rest not copied."""
    work = tmp_path / "my-work"
    work.mkdir()
    write(work / "00_welcome.ipynb", code(1), code(2, passed(CH00[0], "Character codes of a word")),
          code(3, error("ExerciseFailed", CH00[1], "a distance is never negative - take abs(...)")),
          code(4, error("ExerciseNotAttempted", CH00[2], "replace the `...`")))
    shutil.copy(ROOT / "notebooks" / "01_scalars_to_tensors.ipynb", work)
    first = list(Course().chapter("02").expected)[0]
    write(work / "02_norms_distances_similarity.ipynb", code(7, passed(first)),
          code(5, error("ExerciseFailed", first, "older attempt")), code(1), code(None))
    (work / "03_tokenization.ipynb").write_text("{not json", encoding="utf-8")
    return work


def by_name(report):
    return {nb.name[:2]: nb for nb in report.notebooks}


def test_saved_results_read_pass_lines_and_check_errors():
    nb = {"cells": [code(2, passed("2.1")), code(3, error("ExerciseFailed", "2.2", "wrong sign")),
                    code(4, error("ExerciseNotAttempted", "2.3", "stub")), code(5, error("ValueError", "2.4", "x")),
                    {"cell_type": "markdown", "source": "✅ [2.5] T: passed"}]}
    assert progress.saved_results(nb) == {"2.1": (PASSED, ""), "2.2": (FAILED, "wrong sign"),
                                          "2.3": (NOT_ATTEMPTED, "stub")}


def test_the_check_run_last_wins():
    nb = {"cells": [code(9, passed("1.1")), code(4, error("ExerciseFailed", "1.1", "old"))]}
    assert progress.saved_results(nb)["1.1"] == (PASSED, "")
    nb = {"cells": [code(2, passed("1.1")), code(4, error("ExerciseFailed", "1.1", "new"))]}
    assert progress.saved_results(nb)["1.1"] == (FAILED, "new")


def test_half_finished_workspace(half_done):
    report = progress.collect(half_done)
    nbs = by_name(report)
    assert [e.status for e in nbs["00"].exercises] == [PASSED, FAILED, NOT_ATTEMPTED]
    assert nbs["00"].state == progress.RUN
    assert nbs["01"].state == progress.NEVER_RUN
    assert all(e.status == progress.NOT_CHECKED for e in nbs["01"].exercises)
    assert nbs["02"].exercises[0].status == PASSED
    assert {e.status for e in nbs["02"].exercises[1:]} == {progress.NOT_CHECKED}
    assert nbs["03"].state == progress.UNREADABLE and "JSONDecodeError" in nbs["03"].problem
    assert nbs["04"].state == progress.MISSING
    assert len(report.notebooks) == len(list((ROOT / "notebooks").glob("[0-9]*_*.ipynb")))
    assert report.total == TOTAL and report.count(PASSED) == 2
    assert report.count(FAILED) == 1 and report.count(NOT_ATTEMPTED) == 1


def test_table_says_what_each_notebook_needs(half_done):
    table = progress.format_table(progress.collect(half_done))
    lines = table.splitlines()
    row = {line.split()[0]: line for line in lines if line.startswith("  ") and line.split()[0][:2].isdigit()}
    assert row["00_welcome"].split()[1:] == ["1/3", "passed", "✅❌⏳"]
    assert "never run" in row["01_scalars_to_tensors"]
    assert "cannot read it" in row["03_tokenization"]
    assert "not in" in row["04_embedding_matrix"] and "yet" in row["04_embedding_matrix"]
    assert any("❌ 0.2" in line and "never negative" in line for line in lines)
    assert any(line.strip() == "⏳ not attempted: 0.3" for line in lines)
    overall = next(line for line in lines if line.startswith("Overall"))
    assert f"2/{TOTAL} exercises passed" in overall and "1 failed" in overall and "1 not attempted" in overall
    assert overall.count("█") == 2 * 30 // TOTAL
    brief = progress.format_table(progress.collect(half_done), details=False)
    assert "never negative" not in brief and "Overall" in brief


def test_missing_workspace_says_how_to_create_it(tmp_path):
    table = progress.format_table(progress.collect(tmp_path / "my-work"))
    assert "does not exist yet" in table and "make lab" in table and "py course.py lab" in table
    assert f"0/{TOTAL} exercises passed (0%)" in table


def test_bar():
    assert progress.bar(0, 10, 10) == "[░░░░░░░░░░]"
    assert progress.bar(5, 10, 10) == "[█████░░░░░]"
    assert progress.bar(10, 10, 10) == "[██████████]"
    assert progress.bar(0, 0, 4) == "[░░░░]"


def test_grade_mode_grades_copied_notebooks_only(half_done, monkeypatch):
    graded = []

    def fake_grade(path, timeout, course=None):
        graded.append(Path(path).name)
        chapter = Path(path).name[:2]
        return NotebookResult(str(path), chapter, exercises=[
            ExerciseResult(i, t, PASSED, "") for i, t in Course().chapter(chapter).expected.items()])

    import course_tools.grading.notebook
    monkeypatch.setattr(course_tools.grading.notebook, "grade_notebook", fake_grade)
    report = progress.collect(half_done, grade=True)
    assert graded == ["00_welcome.ipynb", "01_scalars_to_tensors.ipynb", "02_norms_distances_similarity.ipynb"]
    nbs = by_name(report)
    assert nbs["01"].state == progress.GRADED and all(e.status == PASSED for e in nbs["01"].exercises)
    assert nbs["03"].state == progress.UNREADABLE and nbs["04"].state == progress.MISSING
    assert "graded just now" in progress.format_table(report)


def test_cli(half_done, tmp_path, capsys):
    assert progress.main(["--workspace", str(half_done)]) == 0
    out = capsys.readouterr().out
    assert "00_welcome" in out and "Overall" in out
    assert progress.main(["--workspace", str(tmp_path / "typo")]) == 1
    assert capsys.readouterr().err.strip() == f"error: workspace folder {tmp_path / 'typo'} not found"
    assert progress.main(["--workspace", str(half_done), "--grade", "--timeout", "0"]) == 1
    assert "--timeout" in capsys.readouterr().err


def test_notebook_00_shows_the_table():
    nb = json.loads((ROOT / "solutions" / "00_welcome.ipynb").read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    cell = next(c for c in cells if "progress.show(" in c)
    assert cell.startswith("# NBVAL_IGNORE_OUTPUT")  # the learner's own my-work/ differs from machine to machine
