"""Private checks: an instructor's own checks for graded work, kept outside the course's repository.

``python -m course_tools.grade submissions/ --private-checks DIR`` loads ``DIR/chNN.py`` for a notebook of chapter NN. Such a
module defines checks with :func:`utils.checks.private_check`; each takes the same arguments as the course's check of
its exercise and runs in the grader's process right after it (:mod:`course_tools.grading.judge`), so learners' notebooks
never contain or import it. Its result is its own line, ``2.4p1`` for the first private check of exercise 2.4, marked
private. A module that does not load, or a check naming an exercise the chapter does not have, is one line in the
notebook's report; everything else is graded as usual.

An example ``DIR/ch02.py``::

    from utils.checks import expect, private_check

    @private_check("2.4", "Cosine of vectors you have not seen")
    def cosine_hidden(fn):
        expect(abs(fn([3.0, 4.0], [4.0, 3.0]) - 0.96) < 1e-6, "cosine([3, 4], [4, 3]) should be 0.96")
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from course_tools.grading.judge import load_check_module


@dataclass
class PrivateChecks:
    by_exercise: dict[str, list[tuple[str, object]]] = field(default_factory=dict)  # ex id -> [(result id, check)]
    titles: dict[str, str] = field(default_factory=dict)                              # result id -> title
    problems: list[str] = field(default_factory=list)


def load_private_checks(folder: Path | None, chapter: str | None, exercise_ids) -> PrivateChecks:
    """The private checks of ``chapter`` in ``folder`` (``chNN.py``), for the course's ``exercise_ids``."""
    found = PrivateChecks()
    if folder is None or chapter is None:
        return found
    path = Path(folder) / f"ch{chapter}.py"
    if not path.is_file():
        return found
    try:
        module = load_check_module(path, f"{chapter}_private")
    except BaseException as exc:  # SyntaxError, ImportError, a SystemExit at import...
        text = str(exc).strip().splitlines()[0][:150] if str(exc).strip() else ""
        found.problems.append(f"the private checks {path.name} could not be loaded "
                              f"({type(exc).__name__}{': ' + text if text else ''}); graded without them")
        return found
    known = set(exercise_ids)
    for name, check in vars(module).items():
        if not (callable(check) and getattr(check, "private", False)):
            continue
        if check.ex_id not in known:
            found.problems.append(f"private check {name} in {path.name} names exercise {check.ex_id}, which "
                                  f"chapter {chapter} does not have; not run")
            continue
        checks = found.by_exercise.setdefault(check.ex_id, [])
        result_id = f"{check.ex_id}p{len(checks) + 1}"
        checks.append((result_id, check))
        found.titles[result_id] = f"{check.title} (private check)"
    return found
