"""The command line of the grader (``python -m utils.grade``; the documentation is :mod:`utils.grade`'s)."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from utils.grading.notebook import grade_notebook
from utils.grading.results import format_json, format_text
from utils.grading.sandbox import DEFAULT_MEMORY_MB


def main(argv: list[str] | None = None, description: str = "Grade notebooks by running them.") -> int:
    args = build_parser(description).parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.timeout <= 0:
        raise SystemExit("error: --timeout must be a positive number of seconds")
    if args.workers < 1:
        raise SystemExit("error: --workers must be at least 1")
    if args.out is not None or any(p.is_dir() for p in args.paths):
        from utils.grading.batch import run_batch  # only batch mode needs it

        return run_batch(args)
    # stopped from outside (a batch over its limit, Ctrl+C): unwind, so the running kernel is shut down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = []
    for path in args.paths:
        result = grade_notebook(path, timeout=args.timeout, memory_mb=args.memory_mb,
                                notebook_timeout=args.notebook_timeout, network=args.allow_network)
        results.append(result)
        if not args.json:
            print(format_text(result), flush=True)
    if args.json:
        print(format_json(results))
    return 0 if results and all(r.all_passed for r in results) else 1


def build_parser(description: str = "Grade notebooks by running them.") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m utils.grade", description=description)
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
    return parser
