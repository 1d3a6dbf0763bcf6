"""Gradescope: its ``results.json`` files, the autograder bundle it runs, and what runs on it.

- ``results.json`` (Gradescope's "autograder specifications"): one per submission with a top-level ``score``,
  ``execution_time``, ``output``, ``visibility``, ``stdout_visibility`` and one test per exercise (``name``,
  ``number``, ``score``, ``max_score``, ``status`` passed/failed, ``output``, ``visibility``); points come from
  :mod:`course_tools.grading.points` (1 per exercise by default).
- The bundle: ``python -m course_tools.grade bundle --gradescope autograder.zip`` builds the zip Gradescope runs:
  ``setup.sh`` installs the pinned course, ``run_autograder`` calls :func:`autograde`
  (``python -m course_tools.grading.gradescope autograde``), which grades the notebook(s) in
  ``/autograder/submission`` and writes ``/autograder/results/results.json``.

>>> from course_tools.grading.results import ExerciseResult, NotebookResult
>>> r = NotebookResult("a.ipynb", chapter="01", exercises=[ExerciseResult("1.1", "Shapes", "passed", ""),
...                                                         ExerciseResult("1.2", "Axes", "failed", "swapped")])
>>> g = gradescope_result(r, Points())
>>> g["score"], [(t["number"], t["score"], t["max_score"], t["status"]) for t in g["tests"]]
(1.0, [('1.1', 1.0, 1.0, 'passed'), ('1.2', 0.0, 1.0, 'failed')])
"""
from __future__ import annotations

import json
import os
import stat
import sys
import zipfile
from pathlib import Path, PurePath

from course_tools.grading.points import Points, PointsError, load_points
from course_tools.grading.results import PASSED, NotebookResult

ROOT = Path(__file__).resolve().parents[2]
AUTOGRADER_DIR = ROOT / "autograder"
# what the bundle carries of the course (folders walked, minus caches; files at the top level)
# never solutions/: an autograder image is a place learners' code runs (what the grader needs of them is in the
# course manifest, notebooks/course.json)
BUNDLE_FOLDERS = ("utils", "course_tools", "notebooks", "data", "licenses")
BUNDLE_FILES = ("pyproject.toml", "requirements.txt", "README.md", "LICENSE", "NOTICE")
BUNDLE_SKIP = ("__pycache__", ".ipynb_checkpoints", "cache", ".egg-info")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same course gives the same zip


def _num(x: float) -> float:
    return round(float(x), 4)


# ---------------------------------------------------------------------------------------------- results.json
def gradescope_result(result: NotebookResult, points: Points) -> dict:
    """The ``results.json`` document of one graded notebook: one test per exercise, full points for a pass."""
    pts = points.exercise_points(result.chapter, [e.id for e in result.exercises])
    tests = []
    for e in result.exercises:
        passed = e.status == PASSED
        tests.append({"name": f"{e.id} {e.title}", "number": e.id, "score": _num(pts[e.id] if passed else 0),
                      "max_score": _num(pts[e.id]), "status": "passed" if passed else "failed",
                      "output": "passed" if passed else f"{e.status}: {e.message}".rstrip(": "),
                      "visibility": points.visibility})
    n = sum(e.status == PASSED for e in result.exercises)
    lines = [f"{Path(result.path).name}" + (f" (notebook {result.chapter})" if result.chapter else "")]
    if result.problem:
        lines.append(f"Problem: {result.problem}")
    if result.exercises:
        lines.append(f"{n}/{len(result.exercises)} exercises passed.")
    elif not result.problem:
        lines.append("No exercises found: this is not one of the course's notebooks.")
    return {"score": _num(sum(t["score"] for t in tests)), "execution_time": int(round(result.seconds)),
            "output": "\n".join(lines), "visibility": points.visibility, "stdout_visibility": "hidden",
            "extra_data": {"submission": result.path, "chapter": result.chapter}, "tests": tests}


def gradescope_merged(results: list[NotebookResult], points: Points, notes: list[str] = ()) -> dict:
    """One ``results.json`` for a Gradescope submission of zero, one or several notebooks (tests then prefixed with
    the notebook's file name); ``notes`` (files that are not notebooks...) go first in the output."""
    if len(results) == 1:
        doc = gradescope_result(results[0], points)
        doc["output"] = "\n".join([*notes, doc["output"]])
        return doc
    if not results:
        return {"score": 0.0, "execution_time": 0, "visibility": points.visibility, "stdout_visibility": "hidden",
                "output": "\n".join([*notes, "No notebook (.ipynb) found in your submission: nothing was graded."]),
                "tests": []}
    docs = [gradescope_result(r, points) for r in results]
    tests = []
    for r, doc in zip(results, docs):
        for t in doc["tests"]:
            tests.append({**t, "name": f"{Path(r.path).name}: {t['name']}"})
    return {"score": _num(sum(d["score"] for d in docs)), "execution_time": sum(d["execution_time"] for d in docs),
            "output": "\n\n".join(["\n".join(notes)] * bool(notes) + [d["output"] for d in docs]),
            "visibility": points.visibility, "stdout_visibility": "hidden", "tests": tests}


def gradescope_path(out_dir: Path, name: str) -> Path:
    """Where the ``results.json`` of submission ``name`` goes: ``OUT/<name without .ipynb>/results.json``."""
    rel = PurePath(name)
    parts = [p for p in rel.with_suffix("").parts if p not in ("", "/", "..", ".")] if rel.suffix == ".ipynb" else \
        [p for p in rel.parts if p not in ("", "/", "..", ".")]
    return Path(out_dir, *parts, "results.json")


def write_gradescope(results: list[NotebookResult], out_dir: Path, points: Points) -> list[Path]:
    written = []
    for r in results:
        path = gradescope_path(out_dir, r.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(gradescope_result(r, points), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------- the bundle
def bundle_files(course_root: Path = ROOT) -> list[tuple[Path, str]]:
    """``(file, name in the zip)`` of the course as the autograder needs it: its package, notebooks (with the
    course manifest), data (without caches) and install files, under ``course/``."""
    found = []
    for folder in BUNDLE_FOLDERS:
        for p in sorted(Path(course_root, folder).rglob("*")):
            rel = p.relative_to(course_root)
            if not p.is_file() or any(part.startswith(".") or part in BUNDLE_SKIP or part.endswith(".egg-info")
                                      for part in rel.parts) or p.suffix == ".pyc":
                continue
            found.append((p, "course/" + rel.as_posix()))
    for name in BUNDLE_FILES:
        if Path(course_root, name).is_file():
            found.append((Path(course_root, name), "course/" + name))
    return found


def build_bundle(out: Path, *, points_path: Path | None, settings: dict, course_root: Path = ROOT) -> list[str]:
    """Write the Gradescope autograder zip: ``setup.sh`` and ``run_autograder`` at its root, ``settings.json``
    (the grader's limits), ``points.json`` (when given) and the course under ``course/``. Returns its names."""
    def add(zf, name: str, data: bytes, executable: bool = False):
        info = zipfile.ZipInfo(name, ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
        zf.writestr(info, data)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    names = []
    with zipfile.ZipFile(tmp, "w") as zf:
        for script in ("setup.sh", "run_autograder"):
            add(zf, script, (AUTOGRADER_DIR / script).read_bytes(), executable=True)
            names.append(script)
        add(zf, "settings.json", (json.dumps(settings, indent=2) + "\n").encode())
        names.append("settings.json")
        if points_path is not None:
            add(zf, "points.json", Path(points_path).read_bytes())
            names.append("points.json")
        for path, name in bundle_files(course_root):
            add(zf, name, path.read_bytes(), executable=os.access(path, os.X_OK))
            names.append(name)
    tmp.replace(out)
    return names


# ---------------------------------------------------------------------------------------------- on Gradescope
def assignment_notebook(found: list[tuple[Path, str]], chapter: str | None) -> tuple[list[tuple[Path, str]], list[str]]:
    """The one notebook a Gradescope submission is graded on, and a note for each other one: the first notebook of
    the assignment's ``chapter`` (a bundle pins it), or, when none is pinned, the first notebook. A second copy is
    never graded too (its points would add up), and a notebook of another chapter is not the assignment."""
    from course_tools.grading.notebook import read_notebook
    from course_tools.manifest import Course

    chosen, notes, course = [], [], Course()
    for path, name in found:
        nb, _ = read_notebook(path)
        of = course.identify(nb, path) if nb is not None else None
        if chapter is not None and of != chapter:
            notes.append(f"Ignored {name}: not the notebook of this assignment (chapter {chapter}).")
        elif chosen:
            notes.append(f"Ignored {name}: only one notebook is graded ({chosen[0][1]}).")
        else:
            chosen.append((path, name))
    if chapter is not None and not chosen:
        notes.append(f"No notebook of chapter {chapter} in your submission: upload the course's notebook {chapter}.")
    return chosen, notes



def autograde(environ=None, log=sys.stdout) -> int:
    """What ``run_autograder`` runs: grade every notebook in the submission folder, write ``results.json``.

    The folders are Gradescope's (``/autograder/...``) unless the environment says otherwise:
    ``AUTOGRADER_ROOT`` (the ``/autograder`` folder), ``AUTOGRADER_SUBMISSION``, ``AUTOGRADER_RESULTS``,
    ``AUTOGRADER_SOURCE`` (where the zip was unpacked: ``settings.json``, ``points.json``)."""
    from course_tools.grading.batch import find_other_files, find_submissions, grade_batch
    from course_tools.grading.settings import Settings

    env = os.environ if environ is None else environ
    root = Path(env.get("AUTOGRADER_ROOT", "/autograder"))
    submission = Path(env.get("AUTOGRADER_SUBMISSION", root / "submission"))
    results_dir = Path(env.get("AUTOGRADER_RESULTS", root / "results"))
    source = Path(env.get("AUTOGRADER_SOURCE", root / "source"))
    settings = {}
    if (source / "settings.json").exists():
        settings = json.loads((source / "settings.json").read_text(encoding="utf-8"))
    notes = []
    try:
        points = load_points(source / "points.json" if (source / "points.json").exists() else None)
    except PointsError as exc:
        print(f"warning: {exc}; using 1 point per exercise", file=log)
        points = Points()
    found = find_submissions([submission]) if submission.is_dir() else []
    for other in (find_other_files([submission]) if submission.is_dir() else []):
        notes.append(f"Ignored {other}: not a notebook (.ipynb).")
    found, more = assignment_notebook(found, settings.get("chapter"))
    notes += more
    results = grade_batch(found, settings=Settings.from_json(settings), workers=1, log=log) if found else []
    doc = gradescope_merged(results, points, notes)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "results.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
                                              encoding="utf-8")
    print(f"wrote {results_dir / 'results.json'}: score {doc['score']:g} "
          f"of {sum(t['max_score'] for t in doc['tests']):g}", file=log)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["autograde"]:
        sys.exit(autograde())
    print("usage: python -m course_tools.grading.gradescope autograde   (what the Gradescope run_autograder script runs)",
          file=sys.stderr)
    sys.exit(2)
