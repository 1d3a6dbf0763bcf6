"""Batch grading for instructors: ``python -m course_tools.grade SUBMISSIONS_DIR --out report.csv [--workers N]``.

Every ``*.ipynb`` under the folder (recursively; hidden folders such as ``.ipynb_checkpoints`` are skipped) is graded
``--workers`` at a time, each by its own grading process (:mod:`course_tools.grading.worker`) with its own
sandboxed kernel, so one submission cannot slow or break another beyond its own limits: a grading process that runs
past the notebook's time limit (plus a margin for kernel starts) is stopped and that submission reported as such,
and a result is believed only from a grading process that ended normally. The submissions are only read, links
among them are not followed, and the kernels do not see the submissions' folders.

Outputs:
- ``report.csv``: one row per submission and exercise, columns :data:`COLUMNS`; status is ``passed``, ``failed``,
  ``not attempted`` or ``error`` (the notebook stopped before the check: the time limit for the whole notebook; or it
  could not be graded at all: invalid JSON, unknown chapter - then one row with an empty exercise);
- ``report.md`` (or ``--summary PATH``): pass rate per exercise, the most common failure messages, per-exercise
  statistics (each exercise's failure messages grouped and counted, the exercises most often left unattempted),
  the submissions that could not be graded completely, and one line per submission;
- with ``--gradescope DIR``: one Gradescope ``results.json`` per submission; with ``--canvas FILE.csv``: a Canvas
  gradebook (see :mod:`course_tools.grading.gradescope`, :mod:`course_tools.grading.canvas`), points from ``--points FILE.json`` (:mod:`course_tools.grading.points`).

Files under the folders that are not notebooks are listed (one line each) and skipped. No existing output is
replaced without ``--force``: the command says which and stops before grading.

Exit code 0 when the report was written (whatever the learners' results), 1 when there was nothing to grade or an
output exists already, 2 when the points file or roster cannot be used.
"""
from __future__ import annotations

import csv
import re
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path, PurePath

from course_tools.grading.results import FAILED, NOT_ATTEMPTED, NOT_RUN, PASSED, NotebookResult, spreadsheet_safe
from course_tools.grading.settings import Settings
from course_tools.grading.worker import grade_in_process
from course_tools.manifest import ExerciseId

ERROR = "error"
COLUMNS = ["submission", "chapter", "exercise", "title", "status", "message", "problem", "seconds"]
STATUS_ORDER = [PASSED, FAILED, NOT_ATTEMPTED, ERROR]
MARGIN_S = 120  # on top of a notebook's time limit: kernel starts and restarts, reading, writing


def find_submissions(paths: list[Path]) -> list[tuple[Path, str]]:
    """``(path, name in the report)`` for every notebook under the given folders/files, sorted."""
    found: list[tuple[Path, str]] = []
    for root in paths:
        root = Path(root)
        if root.is_dir():
            for p in sorted(root.rglob("*.ipynb")):
                rel = p.relative_to(root)
                if not any(part.startswith(".") for part in rel.parts) and not _linked(root, rel):
                    found.append((p, str(Path(root.name) / rel) if len(paths) > 1 else str(rel)))
        else:
            found.append((root, str(root)))
    return found


def _linked(root: Path, rel: Path) -> bool:
    """True when ``root/rel`` or a folder on the way is a symbolic link: a submission is what its folder holds, not
    what a link in it points to (another learner's notebook, a solution)."""
    path = root
    for part in rel.parts:
        path = path / part
        if path.is_symlink():
            return True
    return False


def _visible(rel: Path) -> bool:
    return not any(part.startswith(".") for part in rel.parts)


def find_other_files(paths: list[Path]) -> list[str]:
    """Files under the given folders that are not notebooks (hidden ones and folders of hidden names skipped), named
    as :func:`find_submissions` names notebooks: what batch mode reports as skipped."""
    found = []
    for root in map(Path, paths):
        if root.is_dir():
            for p in sorted(root.rglob("*")):
                rel = p.relative_to(root)
                linked = _linked(root, rel)
                if (linked or (p.is_file() and p.suffix != ".ipynb")) and _visible(rel) \
                        and not any(_linked(root, Path(*rel.parts[:k])) for k in range(1, len(rel.parts))):
                    found.append(str(Path(root.name) / rel) if len(paths) > 1 else str(rel))
    return found


def submission_learners(paths: list[Path]) -> dict[str, tuple[str, str]]:
    """Submission name -> (group, learner): the learner is the first folder under the folder given
    (``submissions/alice/01.ipynb`` -> alice), or the file name without .ipynb for a notebook directly in it or
    given as a file; the group is the folder given when there are several (else "")."""
    learners = {}
    for root in map(Path, paths):
        group = root.name if len(paths) > 1 else ""
        if root.is_dir():
            for p in sorted(root.rglob("*.ipynb")):
                rel = p.relative_to(root)
                if _visible(rel):
                    name = str(Path(root.name) / rel) if len(paths) > 1 else str(rel)
                    learners[name] = (group, rel.parts[0] if len(rel.parts) > 1 else rel.stem)
        else:
            learners[str(root)] = (group, PurePath(root).stem)
    return learners


def grade_batch(submissions: list[tuple[Path, str]], *, settings: Settings = Settings(), workers: int = 2,
                log=sys.stderr, hide=()) -> list[NotebookResult]:
    """Grade every submission with ``settings``, ``workers`` at a time (each in its own grading process and kernel),
    in input order; the kernels do not see the folders of ``hide`` (the class's submissions)."""
    options = settings.options()
    for folder in hide:
        options += ["--hide", str(Path(folder).resolve())]
    limit = settings.notebook_timeout + MARGIN_S
    results: dict[int, NotebookResult] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(grade_in_process, path, name, options, limit): i
                   for i, (path, name) in enumerate(submissions)}
        for done, future in enumerate(as_completed(futures), 1):
            result = future.result()
            results[futures[future]] = result
            if log is not None:
                n = sum(e.status == PASSED for e in result.exercises)
                state = result.problem or f"{n}/{len(result.exercises)} passed"
                print(f"[{done}/{len(submissions)}] {result.path}: {state} ({result.seconds:.1f} s)", file=log,
                      flush=True)
    return [results[i] for i in range(len(submissions))]


def report_rows(results: list[NotebookResult]) -> list[dict]:
    """One row per submission and exercise (one row with an empty exercise when there is nothing to list)."""
    rows = []
    for r in results:
        base = {"submission": r.path, "chapter": r.chapter or "", "problem": r.problem or "",
                "seconds": f"{r.seconds:.1f}"}
        if not r.exercises:
            why = r.problem or ("could not tell which chapter this notebook belongs to" if r.chapter is None
                                else f"no exercises known for chapter {r.chapter}")
            rows.append({**base, "exercise": "", "title": "", "status": ERROR, "message": why})
        for e in r.exercises:
            status = ERROR if e.status == NOT_RUN else e.status
            rows.append({**base, "exercise": e.id, "title": e.title, "status": status,
                         "message": "" if status == PASSED else e.message})
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _ex_order(key: tuple[str, str]):
    return key[0], ExerciseId.sort_key(key[1])


def _group_key(message: str) -> str:
    """Messages that differ only in their numbers are one group: "n_elements is 2" and "n_elements is 3"."""
    return re.sub(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", "#", " ".join(message.split()))


def exercise_statistics(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """Per exercise ``(chapter, id)``: its title, status counts, and its failure messages grouped (messages that
    differ only in numbers go together), each group ``(count, most frequent wording, number of wordings)``, most
    frequent first."""
    stats: dict[tuple[str, str], dict] = {}
    for row in rows:
        if not row["exercise"]:
            continue
        s = stats.setdefault((row["chapter"], row["exercise"]),
                             {"title": row["title"], "counts": Counter(), "messages": {}})
        s["counts"][row["status"]] += 1
        if row["status"] == FAILED:
            s["messages"].setdefault(_group_key(row["message"]), Counter())[" ".join(row["message"].split())] += 1
    for s in stats.values():
        groups = [(sum(c.values()), c.most_common(1)[0][0], len(c)) for c in s["messages"].values()]
        s["groups"] = sorted(groups, key=lambda g: (-g[0], g[1]))
        s["total"] = sum(s["counts"].values())
    return stats


def _bar(share: float, width: int = 10) -> str:
    full = round(share * width)
    return "█" * full + "░" * (width - full)


def statistics_markdown(rows: list[dict], top_messages: int = 5) -> list[str]:
    """The per-exercise statistics of report.md: the exercises most often left unattempted, then each exercise's
    pass rate with its failure messages grouped and counted (to project after a lab session)."""
    stats = exercise_statistics(rows)
    lines = ["## Exercises most often left unattempted", ""]
    skipped = sorted(((s["counts"][NOT_ATTEMPTED], key) for key, s in stats.items() if s["counts"][NOT_ATTEMPTED]),
                     key=lambda t: (-t[0], _ex_order(t[1])))
    if skipped:
        lines += ["| exercise | title | not attempted | share of submissions |", "|---|---|---:|---|"]
        for n, key in skipped:
            share = n / stats[key]["total"]
            lines.append(f"| {key[1]} | {_cell(stats[key]['title'])} | {n} of {stats[key]['total']} | "
                         f"{_bar(share)} {100 * share:.0f}% |")
    else:
        lines.append("Every exercise was attempted in every submission.")
    lines += ["", "## Per exercise: pass rate and failure messages", ""]
    for key in sorted(stats, key=_ex_order):
        s = stats[key]
        c, total = s["counts"], s["total"]
        lines.append(f"### {key[1]} {s['title']}: {_bar(c[PASSED] / total)} {100 * c[PASSED] / total:.0f}% passed")
        lines.append("")
        lines.append(f"{c[PASSED]} passed, {c[FAILED]} failed, {c[NOT_ATTEMPTED]} not attempted, {c[ERROR]} error "
                     f"(of {total})")
        if s["groups"]:
            lines += ["", "| failed | message |", "|---:|---|"]
            for count, text, wordings in s["groups"][:top_messages]:
                more = f" (and {wordings - 1} similar wording(s))" if wordings > 1 else ""
                lines.append(f"| {count} | {_cell(text)}{more} |")
            if len(s["groups"]) > top_messages:
                rest = sum(g[0] for g in s["groups"][top_messages:])
                lines.append(f"| {rest} | {len(s['groups']) - top_messages} other message(s) |")
        lines.append("")
    return lines


def summary_markdown(results: list[NotebookResult], rows: list[dict], *, wall_s: float, workers: int,
                     top: int = 15, skipped: list[str] = ()) -> str:
    """The instructor's one-page summary of a batch (``skipped``: files that are not notebooks)."""
    n_full = sum(r.all_passed for r in results)
    lines = ["# Grading report", "",
             f"- {len(results)} submission(s) graded in {wall_s:.1f} s with {workers} worker(s)",
             f"- {n_full} submission(s) passed every exercise",
             f"- {sum(bool(r.problem) for r in results)} submission(s) could not be run to the end"]
    if skipped:
        lines.append(f"- {len(skipped)} file(s) skipped: not notebooks (.ipynb)")
    lines.append("")
    per_ex: dict[tuple[str, str], Counter] = {}
    titles: dict[tuple[str, str], str] = {}
    for row in rows:
        if row["exercise"]:
            key = (row["chapter"], row["exercise"])
            per_ex.setdefault(key, Counter())[row["status"]] += 1
            titles[key] = row["title"]
    lines += ["## Pass rate per exercise", "",
              "| exercise | title | passed | failed | not attempted | error | pass rate |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for key in sorted(per_ex, key=_ex_order):
        c = per_ex[key]
        total = sum(c.values())
        lines.append(f"| {key[1]} | {_cell(titles[key])} | {c[PASSED]} | {c[FAILED]} | {c[NOT_ATTEMPTED]} | "
                     f"{c[ERROR]} | {100 * c[PASSED] / total:.0f}% |")
    failures = Counter((row["exercise"], row["message"]) for row in rows if row["status"] == FAILED)
    lines += ["", "## Most common failure messages", ""]
    if failures:
        lines += ["| exercise | message | submissions |", "|---|---|---:|"]
        lines += [f"| {ex} | {_cell(msg)} | {n} |" for (ex, msg), n in failures.most_common(top)]
    else:
        lines.append("No failed checks.")
    lines += ["", *statistics_markdown(rows)]
    problems = [r for r in results if r.problem or not r.exercises]
    lines += ["## Submissions that could not be graded completely", ""]
    if problems or skipped:
        lines += ["| submission | problem |", "|---|---|"]
        for r in problems:
            why = r.problem or next(row["message"] for row in rows if row["submission"] == r.path)
            lines.append(f"| {_cell(r.path)} | {_cell(why)} |")
        lines += [f"| {_cell(name)} | not a notebook (.ipynb): skipped |" for name in skipped]
    else:
        lines.append("None.")
    lines += ["", "## Per submission", "", "| submission | chapter | passed | failed | not attempted | error | s |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        c = Counter(row["status"] for row in rows if row["submission"] == r.path and row["exercise"])
        lines.append(f"| {_cell(r.path)} | {r.chapter or '?'} | {c[PASSED]} | {c[FAILED]} | {c[NOT_ATTEMPTED]} | "
                     f"{c[ERROR] + (0 if r.exercises else 1)} | {r.seconds:.1f} |")
    return "\n".join(lines) + "\n"
