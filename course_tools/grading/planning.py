"""The plan that runs a submission: its cells in order, each course check cell right after the learner's cell that
answers it, and the rules an answer must keep (its own code, one definition). The course side - which exercises a
chapter has, their check cells, what each solution uses - comes from the manifest (:mod:`course_tools.manifest`);
the submission gives only the learner's cells. Nothing here starts a kernel.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from course_tools.course_format import defined_names, is_check, parse_cell
from course_tools.grading.references import reference_uses
from course_tools.manifest import Chapter, Exercise


# ---------------------------------------------------------------------------------------------- the plan
@dataclass
class PlanStep:
    """One cell the grader runs: a learner cell (``kind="cell"``; ``exercise`` set when it answers one) or a course
    check cell the grader inserts (``kind="check"``)."""
    kind: str
    source: str
    exercise: str | None = None
    cell: int | None = None     # position of a learner cell in the submission (1-based, all cells counted)
    answer: str = ""             # check steps: the source of the learner's cell that answers the exercise


@dataclass
class Plan:
    steps: list[PlanStep]
    missing: dict[str, str]             # exercise id -> why it cannot be run (no exercise cell found)
    references: dict[str, list[str]]    # exercise id -> utils.* names its cell uses that the solution does not
    rules: dict[str, str] = field(default_factory=dict)  # exercise id -> how its answer breaks the writing rules


def answer_cells(nb, exercises) -> dict[str, int]:
    """Exercise id -> index of the learner cell that answers it: the (last) cell with the course's cell id, else the
    last cell defining the exercise's names. Check cells never count."""
    found = {}
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not is_check(c)]
    check_ids = {e.check_cell for e in exercises}
    code = [(i, c) for i, c in code if c.get("id") not in check_ids]
    for ex in exercises:
        by_id = [i for i, c in code if c.get("id") == ex.exercise_cell]
        by_names = [i for i, c in code if ex.names and ex.names & defined_names(c.source)]
        if by_id or by_names:
            found[ex.id] = (by_id or by_names)[-1]
    return found


def plan(nb, chapter: Chapter) -> Plan:
    """The steps that grade ``nb`` (which is not modified): every learner cell except its check cells, in order, and
    the course's check cell of each exercise right after the learner's cell that answers it (run by the judge,
    :mod:`course_tools.grading.judge`, not in the kernel)."""
    exercises = chapter.exercises
    where = answer_cells(nb, exercises)
    by_cell: dict[int, list[Exercise]] = {}
    for ex in exercises:
        if ex.id in where:
            by_cell.setdefault(where[ex.id], []).append(ex)
    check_ids = {e.check_cell for e in exercises}
    steps = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or is_check(cell) or cell.get("id") in check_ids:
            continue  # the learner's copy of a check cell: whatever it says now, the course's version replaces it
        answers = by_cell.get(i, [])
        steps.append(PlanStep("cell", cell.source, answers[0].id if answers else None, i + 1))
        for ex in answers:
            steps.append(PlanStep("check", ex.check_source, ex.id, answer=cell.source))
    missing = {ex.id: "no exercise cell found for it (deleted, or its names changed?)"
               for ex in exercises if ex.id not in where}
    references, rules = {}, {}
    allowed = {ex.exercise_cell: ex.references for ex in exercises}
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for ex in exercises:
        if ex.id not in where:
            continue
        at = where[ex.id]
        cells = [c.source for i, c in code if i < at]
        used = [r for r in reference_uses(cells, nb.cells[at].source) if r not in ex.references]
        # the reference the exercise mirrors, reached from any cell the learner wrote or changed before the answer
        # (a helper in another cell that calls it, an import kept in an earlier cell)
        for i, cell in code:
            if i < at and not chapter.unchanged(cell):
                earlier = [c.source for j, c in code if j < i]
                own = allowed.get(cell.get("id"), set())  # another exercise whose solution uses it itself
                used += [r for r in reference_uses(earlier, cell.source)
                         if r in ex.mirrors and r not in used and r not in own]
        if used:
            references[ex.id] = used
        twice = sorted(n for n, k in _definitions(nb.cells[at].source).items() if k > 1 and n in ex.names)
        if twice:
            rules[ex.id] = (f"its cell defines {', '.join(twice)} more than once: keep one definition, the one you "
                            "want graded")
    return Plan(steps, missing, references, rules)


def _definitions(source: str) -> dict[str, int]:
    """How many times each name is defined at the top level of a cell (def, class, assignment)."""
    tree = parse_cell(source)
    counts: dict[str, int] = {}
    for node in getattr(tree, "body", []):
        for name in defined_names(ast.unparse(node)) if not isinstance(node, (ast.If, ast.Try)) else ():
            counts[name] = counts.get(name, 0) + 1
    return counts


# The first cell the grader runs in a fresh kernel, before any learner cell: it loads what every probe needs, so that
# a kernel that cannot (numpy under too small a memory limit) is reported once, as the notebook's problem.
STARTUP = "import numpy, course_tools.grading.probe\n"
