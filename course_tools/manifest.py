"""The course written down once: ``notebooks/course.json``, the manifest.

The generator (:mod:`course_tools.generate`) writes it next to the learner notebooks it makes, from the solutions
and the check modules; ``generate --check`` fails when it is stale. Everything downstream - the grader, progress,
points, the LMS exports, the site, notebook 00 - reads the course from it through :class:`Course`, and nothing
downstream opens ``solutions/`` or lists the notebooks folder itself.

Per chapter it records its number, title, learner notebook and solution files, the id and a fingerprint of every
cell of the learner notebook (how the grader recognises a renamed submission, and tells a cell the learner changed
from one as the course wrote it); per exercise its id, title, the check that grades it, the names its cell defines,
its exercise and check cell ids, the check cell's source, the ``utils.*`` names its solution uses itself (allowed),
the reference it mirrors (forbidden), and its default points.

>>> ExerciseId.parse("12.3").chapter, ExerciseId.parse("2.4p1").private
('12', 1)
>>> sorted(["10.1", "2.10", "2.9", "2.4p1", "2.4"], key=ExerciseId.sort_key)
['2.4', '2.4p1', '2.9', '2.10', '10.1']
"""
from __future__ import annotations

import hashlib
import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from course_tools.course_format import (called_checks, chapter_of, defined_names, exercise_check_pairs,
                                        is_exercise)

ROOT = Path(__file__).resolve().parent.parent
NAME = "course.json"
FORMAT = 1
MIRRORS = re.compile(r"Mirrors (utils(?:\.\w+)+)\.")


class ManifestError(ValueError):
    """The manifest is missing or not one this code can read (the message is one line)."""


# ------------------------------------------------------------------------------------------------ exercise ids
@dataclass(frozen=True)
class ExerciseId:
    """An exercise id: ``"2.4"`` (chapter 2, exercise 4); ``"2.4p1"`` the first private check of exercise 2.4."""
    chapter: str
    number: int
    private: int = 0

    _PATTERN = re.compile(r"(\d{1,3})\.(\d{1,3})(?:p(\d{1,3}))?")

    @classmethod
    def parse(cls, text: str) -> "ExerciseId":
        match = cls._PATTERN.fullmatch(str(text).strip())
        if not match:
            raise ValueError(f"not an exercise id: {str(text)[:40]!r} (expected e.g. 2.4)")
        return cls(match.group(1).zfill(2), int(match.group(2)), int(match.group(3) or 0))

    @classmethod
    def sort_key(cls, text: str) -> tuple:
        """Course order; text that is not an id sorts after every id, by itself."""
        try:
            ex = cls.parse(text)
        except ValueError:
            return (1, 0, 0, 0, str(text))
        return (0, int(ex.chapter), ex.number, ex.private, "")


# ------------------------------------------------------------------------------------------------ the model
@dataclass(frozen=True)
class Exercise:
    """One exercise as the course defines it: its exercise cell, and the check cell that follows it."""
    id: str
    title: str
    check: str                      # the check function's name in utils/checks/chNN.py
    names: frozenset[str]           # what the exercise cell defines (how a learner's cell is found without its id)
    exercise_cell: str              # cell ids
    check_cell: str
    check_source: str               # the check cell as the course wrote it (run instead of the learner's copy)
    references: frozenset[str]      # utils.* names the solution's cell uses itself: allowed in the answer
    mirrors: tuple[str, ...] = ()   # the reference the exercise asks the learner to write ("Mirrors utils.x.f.")
    points: float = 1.0


@dataclass(frozen=True)
class Chapter:
    number: str                     # "02"
    title: str
    notebook: Path                  # the learner notebook
    solution: str                   # the solution's path relative to the course root (never opened downstream)
    cells: dict                     # cell id -> fingerprint of the learner notebook's cell
    exercises: tuple[Exercise, ...]

    @property
    def expected(self) -> dict[str, str]:
        """Exercise id -> title, in the notebook's order."""
        return {ex.id: ex.title for ex in self.exercises}

    def unchanged(self, cell) -> bool:
        """True when ``cell`` (a dict with an id and a source) is the course's cell as the course wrote it."""
        return self.cells.get(cell.get("id")) == fingerprint(cell.get("source", ""))


class Course:
    """The course as its manifest describes it. ``Course()`` is this checkout's; tests load small synthetic ones
    (:func:`build` then :meth:`from_data`)."""

    def __init__(self, path: Path | None = None, *, data: dict | None = None, root: Path | None = None):
        self.path = Path(path) if path else ROOT / "notebooks" / NAME
        self.root = Path(root) if root else self.path.parent.parent
        if data is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ManifestError(f"no course manifest at {self.path}: run `python -m course_tools.generate`") \
                    from None
            except (OSError, ValueError) as exc:
                raise ManifestError(f"cannot read the course manifest {self.path} ({type(exc).__name__})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ManifestError(f"{self.path}: not a course manifest of format {FORMAT}: run "
                                "`python -m course_tools.generate`")
        self._chapters = tuple(_chapter(c, self.path.parent) for c in data["chapters"])

    @classmethod
    def from_data(cls, data: dict, root: Path) -> "Course":
        return cls(Path(root) / "notebooks" / NAME, data=data, root=root)

    def chapters(self) -> tuple[Chapter, ...]:
        return self._chapters

    def chapter(self, number: str | None) -> Chapter | None:
        return next((c for c in self._chapters if c.number == number), None) if number else None

    @property
    def solutions(self) -> Path:
        """The folder a graded kernel must not see (it is hidden from it, never read)."""
        return self.root / "solutions"

    def check_module(self, number: str | None) -> Path | None:
        path = self.root / "utils" / "checks" / f"ch{number}.py"
        return path if number and self.chapter(number) and path.exists() else None

    def identify(self, nb, path) -> str | None:
        """The chapter of a submission: the course notebook sharing the most cell ids with it (ids survive renaming
        and editing; at least two), else the chapter in its metadata, else the number its file name starts with."""
        ids = {c.get("id") for c in nb.get("cells", []) if isinstance(c, dict) and c.get("id")}
        best, overlap = None, 1
        for chapter in self._chapters:
            shared = len(ids & set(chapter.cells))
            if shared > overlap:
                best, overlap = chapter.number, shared
        return best or chapter_of(path, nb)


def _chapter(c: dict, folder: Path) -> Chapter:
    """A chapter of the manifest; its learner notebook sits beside the manifest, in ``folder``."""
    exercises = tuple(Exercise(e["id"], e["title"], e["check"], frozenset(e["names"]), e["exercise_cell"],
                               e["check_cell"], e["check_source"], frozenset(e["references"]),
                               tuple(e["mirrors"]), float(e["points"])) for e in c["exercises"])
    return Chapter(c["chapter"], c["title"], folder / Path(c["notebook"]).name, c["solution"], dict(c["cells"]),
                   exercises)


def fingerprint(source: str) -> str:
    """A short digest of a cell's source: ``fingerprint("x = 1")`` -> ``'a4c3a1bc3a0e0a43'``-like 16 hex digits."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------ writing it
def build(solutions: dict, learners: dict, root: Path = ROOT) -> dict:
    """The manifest's data for solution notebooks ``solutions`` and the learner notebooks made from them
    (``learners``), both {file name: notebook}. Each chapter's checks come from ``utils.checks.chNN``."""
    from course_tools.grading.references import reference_uses  # the analysis the grader applies to answers

    chapters = []
    for name in sorted(solutions):
        solution, learner = solutions[name], learners[name]
        number = chapter_of(name, required=True)
        functions = _check_functions(number)
        code = [c for c in learner.cells if c.cell_type == "code"]
        solution_code = [c for c in solution.cells if c.cell_type == "code"]
        answers = {c.get("id"): ([d.source for d in solution_code[:i]], c.source)
                   for i, c in enumerate(solution_code) if is_exercise(c)}
        exercises = []
        for i, j in exercise_check_pairs(code):
            if j is None:
                continue
            cell, check = code[i], code[j]
            called = [functions[n] for n in called_checks(check.source) if n in functions]
            if not called:
                continue
            check_name, ex_id, title = called[0]
            before, answer = answers[cell.get("id")]
            exercises.append({"id": ex_id, "title": title, "check": check_name,
                              "names": sorted(defined_names(cell.source)), "exercise_cell": cell.get("id"),
                              "check_cell": check.get("id"), "check_source": check.source,
                              "references": reference_uses(before, answer), "mirrors": MIRRORS.findall(cell.source),
                              "points": 1})
        title = learner.cells[0].source.splitlines()[0].lstrip("#").strip() if learner.cells else name
        chapters.append({"chapter": number, "title": title, "notebook": f"notebooks/{name}",
                         "solution": f"solutions/{name}", "exercises": exercises,
                         "cells": {c.get("id"): fingerprint(c.source) for c in learner.cells if c.get("id")}})
    return {"format": FORMAT, "chapters": chapters}


def _check_functions(number: str) -> dict[str, tuple[str, str, str]]:
    """Check name -> (name, exercise id, title), from the chapter's check module."""
    try:
        module = importlib.import_module(f"utils.checks.ch{number}")
    except ModuleNotFoundError:
        return {}
    return {name: (name, fn.ex_id, fn.title) for name, fn in vars(module).items()
            if callable(fn) and hasattr(fn, "ex_id") and not getattr(fn, "private", False)}


def render(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
