"""The command line of the grader (``python -m course_tools.grade``; the documentation is :mod:`course_tools.grade`'s)."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from course_tools.grading.notebook import grade_notebook
from course_tools.grading.results import format_json, format_text
from course_tools.grading.grader_process import cap_grader_memory, enter_private_tmp, undumpable
from course_tools.grading.sandbox import DEFAULT_MEMORY_MB
from course_tools.grading.settings import Settings


def main(argv: list[str] | None = None, description: str = "Grade notebooks by running them.",
         isolate: bool = False) -> int:
    """The grader's command line. ``isolate`` (the command itself, not a library call): grading notebooks runs in a
    mount namespace of its own where this machine allows, its folders on a private, bounded tmpfs that no other
    grading (and no other submission's kernel) can see, with a bounded address space (:mod:`grader_process`)."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = build_parser(description).parse_args(argv)
    if args.timeout <= 0:
        raise SystemExit("error: --timeout must be a positive number of seconds")
    if args.workers < 1:
        raise SystemExit("error: --workers must be at least 1")
    if args.private_checks is not None and not args.private_checks.is_dir():
        raise SystemExit(f"error: --private-checks {args.private_checks}: no such folder")
    settings = Settings.from_args(args)  # the grader's limits, made once: everything below is handed these
    if isolate and args.paths and str(args.paths[0]) != "bundle" and not any(p.is_dir() for p in args.paths):
        enter_private_tmp(["-m", "course_tools.grade", *argv],
                          keep_fds=() if args.result_fd is None else (args.result_fd,))
        cap_grader_memory(settings.memory_mb)
        undumpable()
    if argv and argv[0] == "bundle":  # a folder named bundle is graded as ./bundle
        return run_bundle(args, settings)
    if (args.out is not None or args.gradescope is not None or args.canvas is not None
            or any(p.is_dir() for p in args.paths)):
        return run_batch(args, settings)
    # stopped from outside (a batch over its limit, Ctrl+C): unwind, so the running kernel is shut down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = []
    for path in args.paths:
        result = grade_notebook(path, settings=settings, hide=args.hide)
        results.append(result)
        if not args.json:
            print(format_text(result), flush=True)
    if args.result_fd is not None:  # batch mode's channel: a pipe only the batch coordinator reads
        with os.fdopen(args.result_fd, "w", encoding="utf-8") as channel:
            channel.write(format_json(results))
        return 0  # the results were written: whatever they say, this run of the grader worked
    if args.json:
        print(format_json(results))
    return 0 if results and all(r.all_passed for r in results) else 1


def run_bundle(args, settings: Settings) -> int:
    """``python -m course_tools.grade bundle --gradescope autograder.zip [--points points.json]``: the Gradescope
    autograder zip (see :mod:`course_tools.grading.gradescope`)."""
    from course_tools.grading.gradescope import build_bundle
    from course_tools.grading.points import PointsError, course_exercise_table, load_points

    if len(args.paths) != 1 or args.gradescope is None or args.gradescope.suffix != ".zip" or not args.chapter:
        print("usage: python -m course_tools.grade bundle --gradescope OUT.zip --chapter NN [--points points.json] "
              "[--timeout S] [--memory-mb MB] [--force]   (one bundle per assignment: the chapter it grades)",
              file=sys.stderr)
        return 2
    from course_tools.manifest import Course
    chapter = args.chapter.zfill(2)
    if not getattr(Course().chapter(chapter), "exercises", None):
        print(f"error: --chapter {args.chapter}: the course has no chapter {chapter} with exercises", file=sys.stderr)
        return 2
    try:
        points = load_points(args.points, course_exercise_table())
    except PointsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in points.warnings:
        print(f"warning: {line}", file=sys.stderr)
    if args.gradescope.exists() and not args.force:
        print(f"not overwriting {args.gradescope}: pass --force to replace it", file=sys.stderr)
        return 1
    names = build_bundle(args.gradescope, points_path=args.points,
                         settings={"chapter": chapter, **settings.to_json()})
    size = args.gradescope.stat().st_size / 1e6
    print(f"wrote {args.gradescope} ({len(names)} files, {size:.1f} MB): upload it as the assignment's autograder "
          "on Gradescope")
    return 0


def build_parser(description: str = "Grade notebooks by running them.") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_tools.grade", description=description)
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="notebook(s) to grade, or a folder of submissions (batch mode)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one cell may run (default 300)")
    parser.add_argument("--notebook-timeout", type=float, default=None,
                        help="seconds a whole notebook may run, restarts included (default 2 x --timeout + 60)")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                        help="address-space limit of each notebook's kernel in MiB, 0 = none "
                             f"(default {DEFAULT_MEMORY_MB})")
    parser.add_argument("--allow-network", action="store_true",
                        help="do not cut the kernel off the network (by default it gets none where the OS allows)")
    parser.add_argument("--out", type=Path, default=None,
                        help="batch mode: write one CSV row per submission and exercise here (+ a .md summary)")
    parser.add_argument("--summary", type=Path, default=None, help="batch mode: markdown summary path "
                        "(default: --out with .md)")
    parser.add_argument("--workers", type=int, default=2, help="batch mode: notebooks graded at once (default 2)")
    parser.add_argument("--private-checks", type=Path, default=None, metavar="DIR",
                        help="a folder of your own checks (chNN.py, see course_tools/grading/private.py) run after the "
                             "course's; reported as private")
    parser.add_argument("--result-fd", type=int, default=None, help=argparse.SUPPRESS)  # batch mode's result pipe
    parser.add_argument("--hide", type=Path, action="append", default=[], help=argparse.SUPPRESS)  # its folders
    lms = parser.add_argument_group("LMS exports (batch mode; see docs/instructors.md)")
    lms.add_argument("--points", type=Path, default=None,
                     help="JSON file of points per exercise / per notebook (default: 1 point per exercise)")
    lms.add_argument("--gradescope", type=Path, default=None, metavar="DIR",
                     help="write one Gradescope results.json per submission under DIR "
                          "(with 'bundle': the autograder zip to write)")
    lms.add_argument("--canvas", type=Path, default=None, metavar="FILE.csv",
                     help="write a Canvas gradebook CSV: one row per learner, one column per notebook")
    lms.add_argument("--canvas-per-exercise", action="store_true",
                     help="with --canvas: one column per exercise instead of per notebook")
    lms.add_argument("--roster", type=Path, default=None, metavar="FILE.csv",
                     help="with --canvas: a Canvas gradebook export whose ID, SIS and Section columns fill in the "
                          "learners' rows (matched on their folder name)")
    lms.add_argument("--chapter", default=None, metavar="NN",
                     help="with 'bundle': the chapter the assignment grades (only that notebook is graded)")
    lms.add_argument("--force", action="store_true", help="replace outputs that exist already")
    return parser


def _existing(paths: list[Path]) -> str | None:
    """One line naming the outputs that exist already (None when none does)."""
    there = [str(p) for p in paths if p.exists()]
    if not there:
        return None
    shown = ", ".join(there[:3]) + (f" and {len(there) - 3} more" if len(there) > 3 else "")
    return f"not overwriting {shown}: pass --force to replace (nothing was graded)"


def run_batch(args, settings: Settings) -> int:
    """``python -m course_tools.grade DIR --out report.csv``: parsed arguments come from :mod:`course_tools.grading.cli`,
    the grader's limits from them once (``settings``)."""
    from course_tools.grading import canvas, gradescope
    from course_tools.grading.batch import (find_other_files, find_submissions, grade_batch, report_rows,
                                            summary_markdown, write_csv)
    from course_tools.grading.points import PointsError, course_exercise_table, load_points

    log = sys.stderr
    gradescope_dir = getattr(args, "gradescope", None)
    canvas_csv = getattr(args, "canvas", None)
    try:
        points = load_points(getattr(args, "points", None), course_exercise_table())
        roster = canvas.read_roster(args.roster) if getattr(args, "roster", None) else None
    except PointsError as exc:
        print(f"error: {exc}", file=log)
        return 2
    for line in points.warnings:
        print(f"warning: {line}", file=log)
    submissions = find_submissions(args.paths)
    skipped = find_other_files(args.paths)
    for name in skipped:
        print(f"skipped {name}: not a notebook (.ipynb)", file=log)
    if not submissions:
        print("no notebooks (*.ipynb) found under: " + ", ".join(map(str, args.paths)), file=log)
        return 1
    summary_path = (args.summary or args.out.with_suffix(".md")) if args.out is not None else args.summary
    targets = [p for p in (args.out, summary_path, canvas_csv) if p is not None]
    if gradescope_dir is not None:
        targets += [gradescope.gradescope_path(gradescope_dir, name) for _, name in submissions]
    refused = None if getattr(args, "force", False) else _existing(targets)
    if refused:
        print(refused, file=log)
        return 1
    from course_tools.grading.sandbox import describe
    print(f"sandbox: {describe(settings.limits())}", file=log)
    start = time.perf_counter()
    results = grade_batch(submissions, settings=settings, workers=args.workers,
                          hide=[p for p in args.paths if Path(p).is_dir()])
    wall = time.perf_counter() - start
    rows = report_rows(results)
    summary = summary_markdown(results, rows, wall_s=wall, workers=args.workers, skipped=skipped)
    written = []
    if args.out is not None:
        write_csv(rows, args.out)
        written.append(str(args.out))
    if summary_path is not None:
        summary_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(summary, encoding="utf-8")
        written.append(str(summary_path))
    written += _write_exports(args, results, points, roster, log)
    if written:
        print(f"graded {len(results)} submission(s) in {wall:.1f} s with {args.workers} worker(s): "
              + ", ".join(written))
    else:
        print(summary)
    return 0


def _write_exports(args, results, points, roster, log) -> list[str]:
    """Write the LMS exports asked for (``--gradescope``, ``--canvas``); what was written, one phrase each."""
    from course_tools.grading import canvas, gradescope
    from course_tools.grading.batch import submission_learners

    written = []
    if getattr(args, "gradescope", None) is not None:
        gradescope.write_gradescope(results, args.gradescope, points)
        written.append(f"{len(results)} results.json under {args.gradescope}")
    if getattr(args, "canvas", None) is not None:
        labels, warnings = canvas.learner_labels(submission_learners(args.paths))
        table, more = canvas.canvas_table(results, labels, points, per_exercise=args.canvas_per_exercise,
                                          roster=roster, titles=canvas.notebook_titles())
        for line in warnings + more:
            print(f"warning: {line}", file=log)
        canvas.write_canvas(table, args.canvas)
        written.append(f"{args.canvas} ({len(table) - 2} learner(s))")
    return written
