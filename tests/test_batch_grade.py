"""Batch grading (``python -m course_tools.grade DIR --out report.csv``): hostile submissions are graded correctly and do not
stop the batch; submissions are never modified; a generated batch of 30 is graded with 2 workers.

Submissions are generated from the course's own notebooks by tests/fixtures/submissions.py (nothing committed).
"""
from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from fixtures.submissions import generated_batch, hostile_submissions
from course_tools import grade
from course_tools.grading import batch as batch_grade

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = 15


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_cli(folder: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "course_tools.grade", str(folder), "--out", str(out), "--workers", "2",
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    return proc, time.perf_counter() - start


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile") / "submissions"
    cases = hostile_submissions(folder)
    before = snapshot(folder)
    out = folder.parent / "report.csv"
    proc, wall = run_cli(folder, out, "--timeout", str(CELL_TIMEOUT), "--memory-mb", "4096")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = read_rows(out)
    return {"cases": cases, "rows": rows, "before": before, "after": snapshot(folder), "out": out,
            "summary": out.with_suffix(".md").read_text(encoding="utf-8"), "wall": wall, "stdout": proc.stdout}


def rows_of(rows, name):
    return [r for r in rows if r["submission"] == name]


@pytest.mark.slow
def test_hostile_submissions_are_never_modified(hostile):
    assert hostile["after"] == hostile["before"]


@pytest.mark.slow
def test_every_hostile_submission_is_reported(hostile):
    names = {r["submission"] for r in hostile["rows"]}
    assert names == set(hostile["cases"])
    assert list(hostile["rows"][0]) == batch_grade.COLUMNS


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_crash.ipynb", "01_loop.ipynb", "01_prints.ipynb", "01_deletes.ipynb",
                                  "01_memory.ipynb", "01_invalid.ipynb", "01_edited_checks.ipynb",
                                  "01_deleted_checks.ipynb", "my homework (final) v2.ipynb", "01_reordered.ipynb",
                                  "01_patched_module.ipynb", "01_patched_numpy.ipynb", "notes.ipynb"])
def test_hostile_case_graded_correctly(hostile, name):
    want = hostile["cases"][name]
    rows = rows_of(hostile["rows"], name)
    assert rows, name
    if want["problem"]:
        assert all(want["problem"] in r["problem"] for r in rows), rows
    else:
        assert all(r["problem"] == "" for r in rows), rows
    by_ex = {r["exercise"]: r for r in rows}
    for ex, status in want["status"].items():
        expected = "error" if status == "not run" else status
        assert by_ex[ex]["status"] == expected, (ex, by_ex[ex])
    for ex, fragment in want["message"].items():
        assert fragment in by_ex[ex]["message"], (ex, by_ex[ex])
    if want["status"] and not want["problem"]:
        assert len(by_ex) == 8 and all(r["chapter"] == "01" for r in rows)
    if "row_message" in want:
        assert rows[0]["status"] == "error" and want["row_message"] in rows[0]["message"]


@pytest.mark.slow
def test_loop_respects_the_timeout(hostile):
    [seconds] = {float(r["seconds"]) for r in rows_of(hostile["rows"], "01_loop.ipynb")}
    assert seconds < CELL_TIMEOUT + 60


@pytest.mark.slow
def test_huge_prints_are_cut(hostile, tmp_path):
    # the report itself stays small: outputs never reach it, and the executed copy was cut to a bounded size
    assert hostile["out"].stat().st_size < 50_000


@pytest.mark.slow
def test_summary_markdown(hostile):
    summary = hostile["summary"]
    assert summary.startswith("# Grading report")
    assert "13 submission(s) graded" in summary and "2 worker(s)" in summary
    assert "## Pass rate per exercise" in summary and "| 1.1 |" in summary
    assert "## Most common failure messages" in summary and "n_elements is 2" in summary
    assert "01_invalid.ipynb" in summary.split("## Submissions that could not be graded completely")[1]


@pytest.mark.slow
def test_generated_batch_of_30_with_2_workers(tmp_path):
    folder = tmp_path / "class"
    expected = generated_batch(folder, n=30, seed=1)
    before = snapshot(folder)
    out = tmp_path / "report.csv"
    proc, wall = run_cli(folder, out, "--timeout", "60")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"\n30 submissions graded with 2 workers in {wall:.1f} s (wall time)")
    rows = read_rows(out)
    assert len(rows) == 30 * 8
    assert snapshot(folder) == before
    for row in rows:
        status, fragment = expected[row["submission"]][row["exercise"]]
        assert row["status"] == status, row
        assert fragment in row["message"], row
    assert "30 submission(s) graded" in out.with_suffix(".md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- no kernel needed
def test_find_submissions_skips_checkpoints(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "01_x.ipynb").write_text("{}")
    (tmp_path / "a" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "a" / ".ipynb_checkpoints" / "01_x-checkpoint.ipynb").write_text("{}")
    (tmp_path / "readme.txt").write_text("hi")
    assert batch_grade.find_submissions([tmp_path]) == [(tmp_path / "a" / "01_x.ipynb", "a/01_x.ipynb")]


def test_rows_and_summary_from_results():
    results = [
        grade.NotebookResult("a.ipynb", chapter="01", seconds=3.0, exercises=[
            grade.ExerciseResult("1.1", "First", grade.PASSED, ""),
            grade.ExerciseResult("1.2", "Second", grade.FAILED, "n_elements is 2 | oops")]),
        grade.NotebookResult("b.ipynb", chapter="01", problem="the kernel died", exercises=[
            grade.ExerciseResult("1.1", "First", grade.FAILED, "n_elements is 2 | oops"),
            grade.ExerciseResult("1.2", "Second", grade.NOT_RUN, "not reached: the kernel died")]),
        grade.NotebookResult("c.ipynb", problem="not a valid notebook (NotJSONError: x)"),
    ]
    rows = batch_grade.report_rows(results)
    assert [(r["submission"], r["exercise"], r["status"]) for r in rows] == [
        ("a.ipynb", "1.1", "passed"), ("a.ipynb", "1.2", "failed"), ("b.ipynb", "1.1", "failed"),
        ("b.ipynb", "1.2", "error"), ("c.ipynb", "", "error")]
    md = batch_grade.summary_markdown(results, rows, wall_s=1.0, workers=2)
    assert "| 1.1 | First | 1 | 1 | 0 | 0 | 50% |" in md
    assert "| 1.2 | n_elements is 2 \\| oops | 1 |" in md
    assert "| c.ipynb | not a valid notebook" in md


def test_empty_folder_exit_1(tmp_path, capsys):
    assert grade.main([str(tmp_path), "--out", str(tmp_path / "r.csv")]) == 1


def test_unknown_chapter_not_run(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise SystemExit")])
    nbformat.write(nb, tmp_path / "notes.ipynb")
    start = time.perf_counter()
    result = grade.grade_notebook(tmp_path / "notes.ipynb")
    assert result.chapter is None and result.exercises == [] and result.problem is None
    assert time.perf_counter() - start < 5  # nothing to grade: no kernel started


def test_a_grading_process_past_its_limit_is_stopped(tmp_path):
    """Batch mode grades each submission in its own process and stops one that overruns its limit, so it cannot
    hold a worker (or its kernel) for longer than that."""
    learner = ROOT / "notebooks" / "01_scalars_to_tensors.ipynb"
    start = time.perf_counter()
    result = batch_grade.grade_in_process(learner, "slow.ipynb", ["--timeout", "60"], limit=1.0)
    assert result.path == "slow.ipynb" and result.problem == "timed out: its grading ran longer than 1 s"
    assert time.perf_counter() - start < 20
