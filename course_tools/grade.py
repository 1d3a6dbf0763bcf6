"""Grade notebooks by running them: ``python -m course_tools.grade PATH... [--json] [--timeout SECONDS]``.

Batch mode (a folder of submissions, see :mod:`course_tools.grading.batch`; LMS exports in :mod:`course_tools.grading.gradescope` and :mod:`course_tools.grading.canvas`)::

    python -m course_tools.grade SUBMISSIONS_DIR --out report.csv [--workers N] [--timeout S] [--memory-mb MB]
        [--private-checks DIR] [--points points.json] [--gradescope DIR] [--canvas grades.csv] [--force]
    python -m course_tools.grade bundle --gradescope autograder.zip      # a Gradescope autograder

Every exercise of the notebook's chapter is reported as

    passed          the course's check, run by the grader in its own process, found nothing wrong
    failed          the check's one-line message, or what went wrong: the exercise cell timed out, the kernel
                    died, it used more than the memory limit, it uses the course's reference implementation
    not attempted   the stub is still there
    not run         grading stopped before the check (the limit for the whole notebook, a kernel that never starts)

How a notebook is graded (the stages live in :mod:`course_tools.grading`):

- The chapter is identified from the cell ids the generator writes (they survive renaming the file), else from
  ``metadata.course.chapter``, else from the file name.
- The learner's own check cells are dropped, whatever they were edited to. The course's check cells, read from
  the course manifest ``notebooks/course.json``, run right after the learner's matching exercise cell (matched by cell id, else by the
  names the exercise defines). The check itself runs in the grader's process, where no learner code runs
  (:mod:`course_tools.grading.judge`): it reads the learner's answers from the kernel as plain data and calls the
  learner's functions there, one probe at a time. Patching ``utils.checks``, numpy or builtins in the notebook, or
  printing a fake pass line, changes nothing. With ``--private-checks DIR`` an instructor's own checks
  (:mod:`course_tools.grading.private`) run after the course's.
- One fault costs one exercise: a cell past the per-cell ``--timeout`` is interrupted (or its kernel restarted), a
  dead kernel is restarted, the earlier cells are run again, and grading goes on with the next exercise.
- The kernel runs in a sandbox (:mod:`course_tools.grading.sandbox`): a private temporary folder as its working directory
  and HOME, limits on memory (``--memory-mb``), CPU time, file size, open files and processes, and IPC sockets
  instead of TCP to talk to the grader. Where Linux lets ``unshare`` make namespaces it also gets no network, a
  read-only file system with a small private tmpfs to write to, and no process that outlives it. The file you
  pass is only read, never written.
- A missing file, a file that is not a notebook and a notebook of no known chapter are reported as such, and the
  other notebooks given are still graded.

How far a hostile notebook is contained depends on the machine (Linux namespaces, root or not, a container): see the
threat model in docs/instructors.md. In every setting a learner's code could compute an answer some other way than
the exercise asks.
Exit code 0 only when every exercise of every notebook passed.
"""
from __future__ import annotations

import sys

from course_tools.grading.cli import build_parser as _build_parser
from course_tools.grading.cli import main as _main
from course_tools.grading.notebook import grade_notebook
from course_tools.grading.results import (FAILED, NOT_ATTEMPTED, NOT_RUN, PASSED, ExerciseResult, NotebookResult,
                                          format_text)

__all__ = ["main", "build_parser", "grade_notebook", "format_text", "NotebookResult", "ExerciseResult", "PASSED",
           "FAILED", "NOT_ATTEMPTED", "NOT_RUN"]


def build_parser():
    return _build_parser(__doc__.splitlines()[0])


def main(argv: list[str] | None = None, isolate: bool = False) -> int:
    return _main(argv, __doc__.splitlines()[0], isolate=isolate)


if __name__ == "__main__":
    sys.exit(main(isolate=True))
