"""The Canvas gradebook CSV of a batch grading: the columns of a Canvas gradebook export (``Student``, ``ID``,
``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per notebook, or per exercise), a ``Points Possible``
row, one row per learner. Points come from :mod:`course_tools.grading.points` (1 per exercise by default); a roster
(a Canvas export) fills the identity columns.

>>> from course_tools.grading.results import ExerciseResult, NotebookResult
>>> r = NotebookResult("ana/01.ipynb", chapter="01", exercises=[ExerciseResult("1.1", "Shapes", "passed", ""),
...                                                              ExerciseResult("1.2", "Axes", "failed", "swapped")])
>>> rows, warnings = canvas_table([r], {"ana/01.ipynb": "Ana"}, Points(), titles={"01": "01_tensors"})
>>> rows[0][5:], rows[1][5:], rows[2]
(['01_tensors'], ['2'], ['Ana', '', '', '', '', '1'])
"""
from __future__ import annotations

import csv
from pathlib import Path

from course_tools.grading.points import Points, PointsError
from course_tools.grading.results import PASSED, NotebookResult, spreadsheet_safe
from course_tools.manifest import ExerciseId

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "Points Possible"


def learner_labels(learners: dict[str, tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Submission name -> the learner's name in the gradebook, from ``{name: (group, learner)}`` (group: the folder
    given on the command line when there were several). Learners whose names collide get one warning line and
    stay apart: exact twins from different folders get the folder appended, names that differ only in case are
    kept as they are."""
    keys = sorted(set(learners.values()))
    by_lower: dict[str, list[tuple[str, str]]] = {}
    for key in keys:
        by_lower.setdefault(key[1].casefold(), []).append(key)
    label = {key: key[1] for key in keys}
    warnings = []
    for same in by_lower.values():
        if len(same) < 2:
            continue
        exact: dict[str, list[tuple[str, str]]] = {}
        for key in same:
            exact.setdefault(key[1], []).append(key)
        for twins in exact.values():
            if len(twins) > 1:
                for key in twins:
                    label[key] = f"{key[1]} ({key[0]})"
        shown = ", ".join(repr(label[k]) for k in same)
        warnings.append(f"duplicate learner name {same[0][1]!r}: {len(same)} learners ({shown}) are kept as "
                        "separate rows; check which is which before importing")
    return {name: label[key] for name, key in learners.items()}, warnings


def read_roster(path: Path) -> list[dict[str, str]]:
    """The rows of a Canvas gradebook export (or any CSV with some of its identity columns), used to fill ``ID``,
    ``SIS User ID``, ``SIS Login ID`` and ``Section`` of learners whose folder is named like one of those (or like
    ``Student``); :class:`PointsError` with a one-line reason when it cannot be used."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise PointsError(f"cannot read the roster {path}: {exc}") from None
    if not rows or not any(c in rows[0] for c in CANVAS_COLUMNS):
        raise PointsError(f"{path}: not a roster: it needs a header with some of {', '.join(CANVAS_COLUMNS)}")
    return [r for r in rows if (r.get("Student") or "").strip() not in (POINTS_POSSIBLE, "")
            or (r.get("ID") or "").strip()]


def _roster_index(roster: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    index = {}
    for column in ("Student", "ID", "SIS User ID", "SIS Login ID"):  # later columns win: logins are the surest
        for row in roster:
            value = (row.get(column) or "").strip().casefold()
            if value:
                index[value] = row
    return index


def canvas_table(results: list[NotebookResult], labels: dict[str, str], points: Points, *,
                 per_exercise: bool = False, roster: list[dict[str, str]] | None = None,
                 titles: dict[str, str] | None = None) -> tuple[list[list[str]], list[str]]:
    """The rows of the Canvas CSV (header, ``Points Possible``, one per learner) and the warning lines.

    A learner's cell is the points of the exercises that passed; empty when they handed in nothing for that
    notebook. A learner with two submissions of one notebook gets the better one (one warning line). A submission
    whose notebook is unknown cannot be placed in a column (one warning line)."""
    titles = titles or {}
    warnings: list[str] = []
    columns: dict[str, float] = {}     # column name -> points possible
    order: dict[str, tuple] = {}
    cells: dict[str, dict[str, float]] = {}
    source: dict[tuple[str, str], str] = {}
    for r in results:
        learner = labels.get(r.path, Path(r.path).stem)
        cells.setdefault(learner, {})
        if not r.chapter or not r.exercises:
            why = r.problem or "not one of the course's notebooks"
            warnings.append(f"not in the Canvas gradebook: {r.path} ({why})")
            continue
        pts = points.exercise_points(r.chapter, [e.id for e in r.exercises])
        if per_exercise:
            got = {}
            for e in r.exercises:
                col = f"{e.id} {e.title}"
                columns[col] = pts[e.id]
                order[col] = (r.chapter, ExerciseId.sort_key(e.id))
                got[col] = pts[e.id] if e.status == PASSED else 0.0
        else:
            col = titles.get(r.chapter) or f"notebook {r.chapter}"
            columns[col] = sum(pts.values())
            order[col] = (r.chapter, ())
            got = {col: sum(pts[e.id] for e in r.exercises if e.status == PASSED)}
        mine = cells[learner]
        key = (learner, r.chapter)
        if key in source:
            warnings.append(f"{learner} handed in notebook {r.chapter} more than once ({source[key]}, {r.path}): "
                            "the better score of each column is kept")
        else:
            source[key] = r.path
        for col, score in got.items():
            mine[col] = max(mine.get(col, score), score)
    header = CANVAS_COLUMNS + sorted(columns, key=lambda c: order[c])
    rows = [header, [POINTS_POSSIBLE, "", "", "", ""] + [_fmt(columns[c]) for c in header[5:]]]
    index = _roster_index(roster) if roster else {}
    unmatched = []
    for learner in sorted(cells, key=str.casefold):
        ident = ["", "", "", ""]
        if roster is not None:
            row = index.get(learner.casefold())
            if row is None:
                unmatched.append(learner)
            else:
                learner_shown = (row.get("Student") or learner).strip()
                ident = [(row.get(c) or "").strip() for c in CANVAS_COLUMNS[1:]]
                rows.append([learner_shown, *ident] + [_fmt(cells[learner].get(c)) for c in header[5:]])
                continue
        rows.append([learner, *ident] + [_fmt(cells[learner].get(c)) for c in header[5:]])
    if unmatched:
        warnings.append(f"not in the roster (their ID columns are empty; Canvas matches rows by ID or name): "
                        f"{', '.join(unmatched)}")
    return rows, warnings


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    value = round(float(value), 4)
    return str(int(value)) if value == int(value) else f"{value:g}"


def write_canvas(rows: list[list[str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([spreadsheet_safe(v) for v in row] for row in rows)


def notebook_titles(course=None) -> dict[str, str]:
    """Chapter -> the course notebook's file name without .ipynb (the Canvas column of that notebook)."""
    from course_tools.manifest import Course

    return {chapter.number: chapter.notebook.stem for chapter in (course or Course()).chapters()}
