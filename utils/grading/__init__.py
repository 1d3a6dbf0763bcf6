"""The grader, by stage (``python -m utils.grade`` is its command line; see :mod:`utils.grade`).

- :mod:`utils.grading.course`: the course model - which chapter a notebook is, the exercises it must have, the
  course's own check cells, and which learner cell answers which exercise;
- :mod:`utils.grading.sandbox`: the limits and namespaces a graded kernel runs in;
- :mod:`utils.grading.kernel`: one kernel in its sandbox - run a cell with a timeout, interrupt, restart;
- :mod:`utils.grading.notebook`: grade one notebook, exercise by exercise, containing each fault to its exercise;
- :mod:`utils.grading.judge`: run a check in the grader's process against the kernel; :mod:`utils.grading.probe`
  is its side in the kernel and :mod:`utils.grading.answers` reads what comes back, as plain data;
- :mod:`utils.grading.private`: an instructor's private checks;
- :mod:`utils.grading.results`: statuses, result records, the text and JSON reports;
- :mod:`utils.grading.batch`: a folder of submissions, each graded in its own process, to CSV + markdown;
- :mod:`utils.grading.points`, :mod:`utils.grading.export`: points per exercise, Gradescope and Canvas exports;
- :mod:`utils.grading.cli`: the command line.

Imports go one way only: cli -> (batch -> export, points, results), (notebook -> course, private, judge -> answers,
probe; kernel -> sandbox; results).
Batch mode runs ``python -m utils.grade PATH --json`` once per submission, so it needs no grading code itself.
"""
