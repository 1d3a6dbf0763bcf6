"""LMS exports of batch grading (course_tools/grading/gradescope.py, canvas.py, points.py, batch.py): the points file, Gradescope
results.json files and autograder bundle, the Canvas gradebook CSV, the per-exercise statistics of report.md, and
--force. The formats are checked against the published field lists (Gradescope's autograder specifications; the
identity columns of a Canvas gradebook export).

Almost everything runs on made-up NotebookResults (batch grading's own tests grade real notebooks); one slow test
runs autograder/run_autograder for real on the chapter-01 solution, with temporary folders standing in for
/autograder.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from course_tools import grade
from course_tools.grading import batch, canvas, gradescope
from course_tools.grading.points import VISIBILITIES, Points, PointsError, course_exercise_table, load_points, parse_points
from course_tools.grading.results import FAILED, NOT_ATTEMPTED, NOT_RUN, PASSED, ExerciseResult, NotebookResult

ROOT = Path(__file__).resolve().parent.parent
KNOWN = course_exercise_table()
CH01 = KNOWN["01"]

# Gradescope's autograder specifications: the keys results.json may have, at the top level and per test
GS_TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
          "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GS_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
           "visibility", "extra_data"}
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def ch01_result(path: str, statuses: dict[str, str], *, problem=None, seconds=4.0) -> NotebookResult:
    """A chapter-01 result: exercises not named in ``statuses`` passed."""
    exercises = []
    for ex_id, title in CH01.items():
        status = statuses.get(ex_id, PASSED)
        message = {PASSED: "", FAILED: f"wrong answer to {ex_id}", NOT_ATTEMPTED: "the stub is still there",
                   NOT_RUN: "not reached"}[status]
        exercises.append(ExerciseResult(ex_id, title, status, message))
    return NotebookResult(path, chapter="01", problem=problem, exercises=exercises,
                          seconds=seconds)


def assert_gradescope_valid(doc: dict) -> None:
    """results.json as Gradescope documents it: known keys, types, visibility values, scores that add up."""
    json.dumps(doc)  # serialisable
    assert set(doc) <= GS_TOP, set(doc) - GS_TOP
    assert isinstance(doc["tests"], list)
    assert isinstance(doc["score"], float)
    assert isinstance(doc.get("execution_time", 0), int)
    assert isinstance(doc.get("output", ""), str)
    for key in ("visibility", "stdout_visibility"):
        if key in doc:
            assert doc[key] in VISIBILITIES, doc[key]
    for test in doc["tests"]:
        assert set(test) <= GS_TEST, set(test) - GS_TEST
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["number"], str)
        assert isinstance(test["output"], str)
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert (test["status"] == "passed") == (test["score"] == test["max_score"] > 0 or
                                                (test["max_score"] == 0 and test["output"] == "passed"))
        assert test["visibility"] in VISIBILITIES
    assert doc["score"] == pytest.approx(sum(t["score"] for t in doc["tests"]))


# ---------------------------------------------------------------------------------------------- points file
def test_points_default_one_per_exercise():
    points = load_points(None)
    assert points.exercise_points("01", list(CH01)) == {ex: 1.0 for ex in CH01}
    assert points.visibility == "visible" and points.warnings == []


def test_points_overrides_and_notebook_totals(tmp_path):
    path = tmp_path / "points.json"
    path.write_text(json.dumps({"_comment": "ignored", "default": 2, "exercises": {"1.1": 5, "1.2": 0},
                                "notebooks": {"2": 18, "03_tokenization": 4}, "visibility": "after_published"}))
    points = load_points(path, KNOWN)
    assert points.warnings == []
    ch01 = points.exercise_points("01", list(CH01))
    assert ch01["1.1"] == 5 and ch01["1.2"] == 0 and ch01["1.3"] == 2 and sum(ch01.values()) == 5 + 0 + 6 * 2
    ch02 = points.exercise_points("02", list(KNOWN["02"]))
    assert sum(ch02.values()) == pytest.approx(18) and len(set(ch02.values())) == 1  # 9 x default 2, scaled to 18
    ch03 = points.exercise_points("03", list(KNOWN["03"]))
    assert sum(ch03.values()) == pytest.approx(4)
    assert points.visibility == "after_published"


def test_points_unknown_ids_are_one_warning_each_kind():
    points = parse_points({"exercises": {"1.1": 3, "1.99": 2, "zz": 1}, "notebooks": {"42": 5, "nope": 1, "01": 8},
                           "colour": "red"}, KNOWN)
    assert len(points.warnings) == 3, points.warnings
    unknown_ex = next(w for w in points.warnings if "unknown exercise id" in w)
    assert "1.99" in unknown_ex and "zz" in unknown_ex and "1.1" not in unknown_ex.split("id(s)")[1]
    unknown_nb = next(w for w in points.warnings if "unknown notebook" in w)
    assert "42" in unknown_nb and "nope" in unknown_nb and "01" not in unknown_nb.split("notebook(s)")[1]
    assert any("colour" in w for w in points.warnings)
    assert all("\n" not in w for w in points.warnings)
    # the known parts still count
    assert points.exercise_points("01", list(CH01))["1.1"] == pytest.approx(8 * 3 / 10)


@pytest.mark.parametrize("text,fragment", [
    ("{not json", "not valid JSON (line 1"),
    ('{"default": -1}', "\"default\" must be a number of points >= 0"),
    ('{"exercises": {"1.1": "two"}}', "exercise 1.1 must be a number"),
    ('{"exercises": ["1.1"]}', "\"exercises\" must be an object"),
    ('{"visibility": "sometimes"}', "\"visibility\" must be one of visible, after_due_date"),
    ("[1, 2]", "expected a JSON object"),
])
def test_points_file_that_cannot_be_used_is_one_line(tmp_path, text, fragment):
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(PointsError) as info:
        load_points(path, KNOWN)
    assert fragment in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------- Gradescope
def test_gradescope_result_follows_the_spec():
    r = ch01_result("alice/01.ipynb", {"1.2": FAILED, "1.5": NOT_ATTEMPTED, "1.8": NOT_RUN},
                    problem="timed out: the notebook ran longer than 60 s in all", seconds=12.6)
    doc = gradescope.gradescope_result(r, Points())
    assert_gradescope_valid(doc)
    assert doc["score"] == 5.0 and sum(t["max_score"] for t in doc["tests"]) == 8.0
    assert doc["execution_time"] == 13
    by_number = {t["number"]: t for t in doc["tests"]}
    assert list(by_number) == list(CH01)
    assert by_number["1.2"]["status"] == "failed" and by_number["1.2"]["output"] == "failed: wrong answer to 1.2"
    assert by_number["1.5"]["output"].startswith("not attempted")
    assert by_number["1.1"]["name"] == f"1.1 {CH01['1.1']}" and by_number["1.1"]["output"] == "passed"
    assert "timed out" in doc["output"] and "5/8 exercises passed" in doc["output"]


def test_gradescope_points_and_visibility_from_the_config():
    points = parse_points({"exercises": {"1.1": 4}, "notebooks": {"01": 22}, "visibility": "after_due_date"}, KNOWN)
    doc = gradescope.gradescope_result(ch01_result("a.ipynb", {"1.3": FAILED}), points)
    assert_gradescope_valid(doc)
    assert sum(t["max_score"] for t in doc["tests"]) == pytest.approx(22)
    assert doc["tests"][0]["max_score"] == pytest.approx(8.0)  # 4 of 11 weight units of 22 points
    assert doc["score"] == pytest.approx(22 - 2)
    assert {t["visibility"] for t in doc["tests"]} == {"after_due_date"} == {doc["visibility"]}


def test_gradescope_for_a_file_that_is_no_notebook():
    doc = gradescope.gradescope_result(NotebookResult("x.ipynb", problem="not a valid notebook (NotJSONError: x)"),
                                   Points())
    assert_gradescope_valid(doc)
    assert doc["score"] == 0.0 and doc["tests"] == [] and "not a valid notebook" in doc["output"]
    empty = gradescope.gradescope_merged([], Points(), ["Ignored essay.pdf: not a notebook (.ipynb)."])
    assert_gradescope_valid(empty)
    assert "essay.pdf" in empty["output"] and "No notebook" in empty["output"]


def test_gradescope_merged_several_notebooks():
    doc = gradescope.gradescope_merged([ch01_result("a.ipynb", {}), ch01_result("b.ipynb", {"1.1": FAILED})], Points())
    assert_gradescope_valid(doc)
    assert doc["score"] == 15.0 and len(doc["tests"]) == 16
    assert doc["tests"][8]["name"].startswith("b.ipynb: 1.1")


def test_gradescope_paths_stay_inside_the_folder(tmp_path):
    assert gradescope.gradescope_path(tmp_path, "alice/01_x.ipynb") == tmp_path / "alice" / "01_x" / "results.json"
    assert gradescope.gradescope_path(tmp_path, "../../etc/x.ipynb") == tmp_path / "etc" / "x" / "results.json"


# ---------------------------------------------------------------------------------------------- Canvas
def test_canvas_table_layout_and_scores():
    results = [ch01_result("alice/01.ipynb", {"1.2": FAILED}), ch01_result("bob/01.ipynb", {}),
               NotebookResult("bob/02.ipynb", chapter="02", exercises=[
                   ExerciseResult(ex, t, PASSED if ex == "2.1" else FAILED, "") for ex, t in KNOWN["02"].items()])]
    labels = {"alice/01.ipynb": "alice", "bob/01.ipynb": "bob", "bob/02.ipynb": "bob"}
    rows, warnings = canvas.canvas_table(results, labels, Points(), titles=canvas.notebook_titles())
    assert warnings == []
    assert rows[0] == CANVAS_IDENTITY + ["01_scalars_to_tensors", "02_norms_distances_similarity"]
    assert rows[1] == ["Points Possible", "", "", "", "", "8", "9"]
    assert rows[2] == ["alice", "", "", "", "", "7", ""]   # no notebook 02 handed in: left empty
    assert rows[3] == ["bob", "", "", "", "", "8", "1"]
    assert len(rows) == 2 + 2


def test_canvas_per_exercise_columns(tmp_path):
    rows, _ = canvas.canvas_table([ch01_result("a.ipynb", {"1.8": FAILED})], {"a.ipynb": "a"}, Points(),
                                  per_exercise=True)
    assert rows[0][:5] == CANVAS_IDENTITY and rows[0][5:] == [f"{ex} {t}" for ex, t in CH01.items()]
    assert rows[1][5:] == ["1"] * 8 and rows[2][5:] == ["1"] * 7 + ["0"]
    path = tmp_path / "canvas.csv"
    canvas.write_canvas(rows, path)
    with open(path, newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == rows


def test_duplicate_learner_names_are_warned_and_kept_apart():
    learners = {"classA/alice/01.ipynb": ("classA", "alice"), "classB/alice/01.ipynb": ("classB", "alice"),
                "classA/Bob/01.ipynb": ("classA", "Bob"), "classB/bob/01.ipynb": ("classB", "bob"),
                "classA/carol/01.ipynb": ("classA", "carol")}
    labels, warnings = canvas.learner_labels(learners)
    assert labels["classA/alice/01.ipynb"] == "alice (classA)" and labels["classB/alice/01.ipynb"] == "alice (classB)"
    assert labels["classA/Bob/01.ipynb"] == "Bob" and labels["classB/bob/01.ipynb"] == "bob"
    assert labels["classA/carol/01.ipynb"] == "carol"
    assert len(warnings) == 2 and all("duplicate learner name" in w and "\n" not in w for w in warnings)
    results = [ch01_result(name, {}) for name in learners]
    rows, _ = canvas.canvas_table(results, labels, Points())
    assert len(rows) == 2 + 5 and len({r[0] for r in rows[2:]}) == 5


def test_twice_handed_in_and_unplaceable_submissions():
    results = [ch01_result("a/01_v1.ipynb", {"1.3": FAILED}),  # the better one first
               ch01_result("a/01_v2.ipynb", {"1.1": FAILED, "1.2": FAILED}),
               NotebookResult("a/notes.ipynb", problem="not a valid notebook (NotJSONError: x)")]
    labels = {r.path: "a" for r in results}
    rows, warnings = canvas.canvas_table(results, labels, Points())
    assert rows[2][5:] == ["7"]
    assert len(warnings) == 2
    assert any("more than once" in w and "01_v1" in w and "01_v2" in w for w in warnings)
    assert any("a/notes.ipynb" in w and "not a valid notebook" in w for w in warnings)


def test_roster_fills_the_identity_columns(tmp_path):
    roster = tmp_path / "gradebook.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1\n"
                      "    Points Possible,,,,,10\n"
                      "\"Liddell, Alice\",101,S-1,alice,Lab A,7\n", encoding="utf-8")
    rows, warnings = canvas.canvas_table([ch01_result("alice/01.ipynb", {}), ch01_result("zed/01.ipynb", {})],
                                         {"alice/01.ipynb": "alice", "zed/01.ipynb": "zed"}, Points(),
                                         roster=canvas.read_roster(roster))
    assert rows[2][:5] == ["Liddell, Alice", "101", "S-1", "alice", "Lab A"]
    assert rows[3][:5] == ["zed", "", "", "", ""]
    assert len(warnings) == 1 and "zed" in warnings[0] and "roster" in warnings[0]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,score\nx,1\n")
    with pytest.raises(PointsError, match="not a roster"):
        canvas.read_roster(bad)


def test_learner_names_from_the_folder_layout(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "01_x.ipynb").write_text("{}")
    (tmp_path / "bob.ipynb").write_text("{}")
    (tmp_path / "alice" / "essay.pdf").write_text("pdf")
    (tmp_path / ".hidden.txt").write_text("x")
    assert batch.submission_learners([tmp_path]) == {"alice/01_x.ipynb": ("", "alice"), "bob.ipynb": ("", "bob")}
    assert batch.find_other_files([tmp_path]) == ["alice/essay.pdf"]


# ---------------------------------------------------------------------------------------------- report.md
def stats_rows():
    results = [ch01_result(f"s{i}.ipynb", statuses) for i, statuses in enumerate([
        {"1.2": FAILED, "1.7": NOT_ATTEMPTED, "1.8": NOT_ATTEMPTED},
        {"1.2": FAILED, "1.8": NOT_ATTEMPTED},
        {"1.2": FAILED},
        {"1.8": NOT_ATTEMPTED},
    ])]
    rows = batch.report_rows(results)
    # three wordings of one mistake (numbers differ) and one other message
    messages = iter(["n_elements is 2, expected 6", "n_elements is 3, expected 12", "shape mismatch"])
    for row in rows:
        if row["exercise"] == "1.2" and row["status"] == FAILED:
            row["message"] = next(messages)
    return results, rows


def test_exercise_statistics_group_and_count():
    _, rows = stats_rows()
    stats = batch.exercise_statistics(rows)
    s12 = stats[("01", "1.2")]
    assert s12["counts"][FAILED] == 3 and s12["counts"][PASSED] == 1 and s12["total"] == 4
    assert s12["groups"] == [(2, "n_elements is 2, expected 6", 2), (1, "shape mismatch", 1)]
    assert stats[("01", "1.8")]["counts"][NOT_ATTEMPTED] == 3


def test_report_md_has_the_statistics_most_frequent_first():
    results, rows = stats_rows()
    md = batch.summary_markdown(results, rows, wall_s=1.0, workers=2, skipped=["alice/essay.pdf"])
    unattempted = md.split("## Exercises most often left unattempted")[1].split("##")[0]
    lines = [line for line in unattempted.splitlines() if line.startswith("| 1.")]
    assert [line.split("|")[1].strip() for line in lines] == ["1.8", "1.7"]
    assert "3 of 4" in lines[0] and "75%" in lines[0]
    section = md.split("### 1.2 ")[1].split("###")[0]
    assert "25% passed" in section and "1 passed, 3 failed, 0 not attempted, 0 error (of 4)" in section
    table = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert table == ["| 2 | n_elements is 2, expected 6 (and 1 similar wording(s)) |", "| 1 | shape mismatch |"]
    assert "### 1.1 " in md and "100% passed" in md.split("### 1.1 ")[1].split("\n")[0]
    assert "| alice/essay.pdf | not a notebook (.ipynb): skipped |" in md
    assert "1 file(s) skipped" in md


# ---------------------------------------------------------------------------------------------- the command
@pytest.fixture
def fake_grading(monkeypatch):
    """Batch grading without kernels: every notebook found gets a made-up chapter-01 result."""
    graded = []

    def fake(submissions, **_):
        graded.extend(name for _, name in submissions)
        return [ch01_result(name, {"1.2": FAILED} if "alice" in name else {"1.5": NOT_ATTEMPTED})
                for _, name in submissions]
    monkeypatch.setattr(batch, "grade_batch", fake)
    return graded


def make_class(folder: Path) -> Path:
    for learner in ("alice", "bob"):
        (folder / learner).mkdir(parents=True)
        (folder / learner / "01_scalars_to_tensors.ipynb").write_text("{}")
    (folder / "bob" / "notes.txt").write_text("not a notebook")
    return folder


def test_batch_writes_every_export(tmp_path, fake_grading, capsys):
    subs = make_class(tmp_path / "subs")
    points = tmp_path / "points.json"
    points.write_text(json.dumps({"exercises": {"1.1": 2, "9.9": 1}}))
    out = tmp_path / "out"
    code = grade.main([subs, "--out", out / "report.csv", "--gradescope", out / "gs", "--canvas",
                       out / "canvas.csv", "--points", points])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "skipped bob/notes.txt: not a notebook (.ipynb)" in err
    assert sum("unknown exercise id(s) 9.9" in line for line in err.splitlines()) == 1
    for learner, score in (("alice", 8.0), ("bob", 8.0)):
        doc = json.loads((out / "gs" / learner / "01_scalars_to_tensors" / "results.json").read_text())
        assert_gradescope_valid(doc)
        assert doc["score"] == score and sum(t["max_score"] for t in doc["tests"]) == 9.0
    with open(out / "canvas.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == [CANVAS_IDENTITY + ["01_scalars_to_tensors"], ["Points Possible", "", "", "", "", "9"],
                    ["alice", "", "", "", "", "8"], ["bob", "", "", "", "", "8"]]
    md = (out / "report.md").read_text()
    assert "## Per exercise: pass rate and failure messages" in md and "bob/notes.txt" in md


def test_nothing_is_overwritten_without_force(tmp_path, fake_grading, capsys):
    subs = make_class(tmp_path / "subs")
    out = tmp_path / "out"
    args = [subs, "--out", out / "report.csv", "--gradescope", out / "gs", "--canvas", out / "canvas.csv"]
    assert grade.main(args) == 0
    capsys.readouterr()
    (out / "canvas.csv").write_text("mine")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    n_graded = len(fake_grading)
    assert grade.main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    refusal = [line for line in err if "not overwriting" in line]
    assert len(refusal) == 1 and "--force" in refusal[0] and "report.csv" in refusal[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert len(fake_grading) == n_graded  # refused before grading anything
    # only the Gradescope files exist: still refused
    for name in ("report.csv", "report.md", "canvas.csv"):
        (out / name).unlink()
    assert grade.main(args) == 1 and "results.json" in capsys.readouterr().err
    assert grade.main([*args, "--force"]) == 0
    assert (out / "canvas.csv").read_text().startswith("Student,ID")


def test_bad_points_file_stops_before_grading(tmp_path, fake_grading, capsys):
    subs = make_class(tmp_path / "subs")
    bad = tmp_path / "points.json"
    bad.write_text('{"default": "lots"}')
    assert grade.main([subs, "--canvas", tmp_path / "c.csv", "--points", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "default" in err[0]
    assert fake_grading == [] and not (tmp_path / "c.csv").exists()


# ---------------------------------------------------------------------------------------------- the bundle
def test_bundle_zip(tmp_path, capsys):
    points = tmp_path / "points.json"
    points.write_text('{"default": 2}')
    out = tmp_path / "autograder.zip"
    assert grade.main(["bundle", "--gradescope", out, "--chapter", "1", "--points", points, "--timeout", "90"]) == 0
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        infos = {i.filename: i for i in zf.infolist()}
        settings = json.loads(zf.read("settings.json"))
        assert zf.read("points.json") == points.read_bytes()
        assert zf.read("run_autograder") == (ROOT / "autograder" / "run_autograder").read_bytes()
    for script in ("setup.sh", "run_autograder"):  # at the root of the zip, executable
        assert script in names and (infos[script].external_attr >> 16) & stat.S_IXUSR, script
    for needed in ("course/requirements.txt", "course/pyproject.toml", "course/course_tools/grade.py",
                   "course/course_tools/grading/gradescope.py", "course/notebooks/01_scalars_to_tensors.ipynb",
                   "course/notebooks/course.json", "course/utils/checks/ch01.py", "course/LICENSE", "course/NOTICE"):
        assert needed in names, needed
    assert not [n for n in names if "__pycache__" in n or n.startswith("course/data/cache/") or "/." in n]
    assert not [n for n in names if n.startswith("course/solutions/")]  # learners' code runs on that image
    assert settings["timeout"] == 90 and settings["chapter"] == "01"
    # never replaced without --force
    stamp = out.read_bytes()
    capsys.readouterr()
    assert grade.main(["bundle", "--gradescope", out, "--chapter", "01"]) == 1
    assert "not overwriting" in capsys.readouterr().err and out.read_bytes() == stamp
    assert grade.main(["bundle", "--gradescope", out, "--chapter", "01", "--force"]) == 0
    with zipfile.ZipFile(out) as zf:
        assert "points.json" not in zf.namelist()


def test_bundle_needs_a_zip_name_and_its_chapter(tmp_path, capsys):
    assert grade.main(["bundle", "--gradescope", tmp_path / "x", "--chapter", "01"]) == 2
    assert "usage" in capsys.readouterr().err
    assert grade.main(["bundle", "--gradescope", tmp_path / "x.zip"]) == 2  # which notebook does it grade?
    assert "--chapter NN" in capsys.readouterr().err
    assert grade.main(["bundle", "--gradescope", tmp_path / "x.zip", "--chapter", "77"]) == 2
    assert "no chapter 77" in capsys.readouterr().err


def test_setup_script_installs_the_pinned_course():
    text = (ROOT / "autograder" / "setup.sh").read_text()
    assert "install -r \"$COURSE/requirements.txt\"" in text and "install --no-deps -e \"$COURSE\"" in text
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(ROOT / "autograder" / script)], check=True)


# ---------------------------------------------------------------------------------------------- on Gradescope
def autograder_env(tmp_path: Path) -> dict[str, str]:
    root = tmp_path / "autograder"
    for sub in ("submission", "source", "results"):
        (root / sub).mkdir(parents=True)
    return {"AUTOGRADER_ROOT": str(root)}


def test_autograde_writes_results_json(tmp_path, fake_grading):
    env = autograder_env(tmp_path)
    root = Path(env["AUTOGRADER_ROOT"])
    (root / "submission" / "01_scalars_to_tensors.ipynb").write_text("{}")
    (root / "submission" / "essay.pdf").write_text("pdf")
    (root / "source" / "points.json").write_text('{"notebooks": {"01": 16}}')
    (root / "source" / "settings.json").write_text('{"timeout": 30}')
    (root / "results" / "results.json").write_text("old")
    assert gradescope.autograde(env, log=open(os.devnull, "w")) == 0
    doc = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_valid(doc)
    assert doc["score"] == 14.0 and sum(t["max_score"] for t in doc["tests"]) == 16.0
    assert "Ignored essay.pdf: not a notebook (.ipynb)." in doc["output"]
    assert fake_grading == ["01_scalars_to_tensors.ipynb"]


def test_autograde_without_a_notebook(tmp_path, fake_grading):
    env = autograder_env(tmp_path)
    root = Path(env["AUTOGRADER_ROOT"])
    (root / "submission" / "answers.py").write_text("x = 1")
    gradescope.autograde(env, log=open(os.devnull, "w"))
    doc = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_valid(doc)
    assert doc["score"] == 0.0 and "No notebook (.ipynb)" in doc["output"] and "answers.py" in doc["output"]


@pytest.mark.slow
def test_run_autograder_grades_a_real_submission(tmp_path):
    """The script Gradescope runs, for real: the chapter-01 solution in the submission folder earns every point."""
    env = autograder_env(tmp_path)
    root = Path(env["AUTOGRADER_ROOT"])
    shutil.copy(ROOT / "solutions" / "01_scalars_to_tensors.ipynb", root / "submission" / "my answers.ipynb")
    env.update(AUTOGRADER_COURSE=str(ROOT), AUTOGRADER_PYTHON=sys.executable, PATH=os.environ["PATH"],
               HOME=os.environ.get("HOME", str(tmp_path)))
    proc = subprocess.run(["bash", str(ROOT / "autograder" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_valid(doc)
    assert len(doc["tests"]) == 8 and doc["score"] == 8.0, doc
    assert "wrote" in proc.stdout


def test_run_autograder_reports_a_broken_grader(tmp_path):
    env = autograder_env(tmp_path)
    root = Path(env["AUTOGRADER_ROOT"])
    env.update(AUTOGRADER_COURSE=str(ROOT), AUTOGRADER_PYTHON="/bin/false", PATH=os.environ["PATH"])
    proc = subprocess.run(["bash", str(ROOT / "autograder" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    doc = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_valid(doc)
    assert doc["score"] == 0.0 and "exit code 1" in doc["output"]
