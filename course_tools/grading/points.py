"""Points per exercise and per notebook for the LMS exports (``--points points.json``); standard library only.

The file is JSON; every key is optional (keys starting with ``_`` are comments and are ignored)::

    {"default": 1, "exercises": {"1.1": 2, "1.8": 0.5}, "notebooks": {"02": 20}, "visibility": "visible"}

- ``default``: the points of an exercise not listed (default 1);
- ``exercises``: the points of single exercises, by id (``"2.4p1"``: the first private check of exercise 2.4);
- ``notebooks``: a notebook's total: its exercises' points are scaled to add up to it;
- ``visibility``: the Gradescope visibility of the tests: visible, after_due_date, after_published or hidden.

A notebook can be named by its chapter (``"02"``, ``"2"``) or its file name (``"02_norms_distances_similarity"``).
Without the file, every exercise is worth 1 point and a notebook is worth as many points as it has exercises.

>>> p = Points(exercises={"1.1": 3}, notebooks={"02": 18})
>>> p.exercise_points("01", ["1.1", "1.2"])
{'1.1': 3.0, '1.2': 1.0}
>>> sum(p.exercise_points("02", [f"2.{k}" for k in range(1, 10)]).values())
18.0
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
KEYS = ("default", "exercises", "notebooks", "visibility")


class PointsError(ValueError):
    """A points file that cannot be used at all (the message is one line)."""


@dataclass
class Points:
    default: float = 1.0
    exercises: dict[str, float] = field(default_factory=dict)
    notebooks: dict[str, float] = field(default_factory=dict)  # chapter ("02") -> total points
    visibility: str = "visible"
    warnings: list[str] = field(default_factory=list)

    def exercise_points(self, chapter: str | None, exercise_ids: list[str]) -> dict[str, float]:
        """Points of each exercise of a notebook: listed or default, scaled to the notebook's total when it has one."""
        raw = {ex: float(self.exercises.get(ex, self.default)) for ex in exercise_ids}
        total = self.notebooks.get(chapter) if chapter else None
        if total is None:
            return raw
        weight = sum(raw.values())
        if weight == 0:  # every exercise weighs 0: the total is shared equally
            return {ex: total / len(raw) for ex in raw} if raw else {}
        return {ex: round(total * w / weight, 6) for ex, w in raw.items()}


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise PointsError(f"{where} must be a number of points >= 0, not {json.dumps(value)}")
    return float(value)


def _chapter_key(key: str) -> str | None:
    """``"2"``, ``"02"``, ``"02_norms_distances_similarity"``, ``"02_norms.ipynb"`` -> ``"02"``; None otherwise."""
    match = re.fullmatch(r"(\d{1,3})(?:_[\w-]*)?(?:\.ipynb)?", key.strip())
    return match.group(1).zfill(2) if match else None


def parse_points(data, known: dict[str, dict[str, str]] | None = None, source: str = "points file") -> Points:
    """A :class:`Points` from parsed JSON. ``known`` (chapter -> {exercise id: title}, the course's) is what names
    are checked against: unknown chapters and exercise ids become one warning line each (naming them all)."""
    if not isinstance(data, dict):
        raise PointsError(f"{source}: expected a JSON object like {{\"default\": 1, \"exercises\": {{\"1.1\": 2}}}}")
    points = Points()
    extra = sorted(k for k in data if k not in KEYS and not str(k).startswith("_"))
    if extra:
        points.warnings.append(f"{source}: ignored unknown key(s) {', '.join(extra)} "
                               f"(known: {', '.join(KEYS)})")
    if "default" in data:
        points.default = _number(data["default"], f"{source}: \"default\"")
    for section in ("exercises", "notebooks"):
        if not isinstance(data.get(section, {}), dict):
            raise PointsError(f"{source}: \"{section}\" must be an object of name: points")
    for ex_id, value in data.get("exercises", {}).items():
        points.exercises[str(ex_id).strip()] = _number(value, f"{source}: exercise {ex_id}")
    bad_names = []
    for key, value in data.get("notebooks", {}).items():
        chapter = _chapter_key(str(key))
        if chapter is None:
            bad_names.append(str(key))
            continue
        points.notebooks[chapter] = _number(value, f"{source}: notebook {key}")
    visibility = data.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise PointsError(f"{source}: \"visibility\" must be one of {', '.join(VISIBILITIES)}, not "
                          f"{json.dumps(visibility)}")
    points.visibility = visibility
    if known is not None:
        all_ids = {ex for exercises in known.values() for ex in exercises}
        # "2.4p1": an instructor's private check of exercise 2.4 (course_tools/grading/private.py)
        unknown_ex = [ex for ex in points.exercises if re.sub(r"p\d+$", "", ex) not in all_ids]
        unknown_nb = bad_names + [ch for ch in points.notebooks if ch not in known]
        if unknown_ex:
            points.warnings.append(f"{source}: unknown exercise id(s) {', '.join(unknown_ex)} "
                                   "(not in the course): their points are not used")
        if unknown_nb:
            points.warnings.append(f"{source}: unknown notebook(s) {', '.join(unknown_nb)} "
                                   "(no such chapter in the course): their totals are not used")
    elif bad_names:
        points.warnings.append(f"{source}: unknown notebook(s) {', '.join(bad_names)}: their totals are not used")
    return points


def load_points(path: Path | None, known: dict[str, dict[str, str]] | None = None) -> Points:
    """The points file at ``path`` (the defaults when None); :class:`PointsError` with a one-line reason when it
    cannot be read."""
    if path is None:
        return Points()
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PointsError(f"points file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PointsError(f"cannot read the points file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PointsError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return parse_points(data, known, source=str(path))


def course_exercise_table(course=None) -> dict[str, dict[str, str]]:
    """Chapter -> {exercise id: title} for every chapter of the course (from its manifest)."""
    from course_tools.manifest import Course

    return {chapter.number: chapter.expected for chapter in (course or Course()).chapters()}
