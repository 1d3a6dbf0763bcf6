"""The grader, by stage (``python -m course_tools.grade`` is its command line; see :mod:`course_tools.grade`).

- :mod:`course_tools.manifest` (one level up): the course - its chapters, exercises and check cells;
- :mod:`course_tools.grading.planning`: the plan of a submission - which learner cell answers which exercise, where
  the course's check cells run, and the own-code rule (:mod:`course_tools.grading.references`);
- :mod:`course_tools.grading.sandbox`: the limits and namespaces a graded kernel runs in;
- :mod:`course_tools.grading.kernel`: one kernel in its sandbox - run a cell with a timeout, interrupt, restart;
- :mod:`course_tools.grading.notebook`: grade one notebook, exercise by exercise, containing each fault to its exercise;
- :mod:`course_tools.grading.judge`: run a check in the grader's process against the kernel; :mod:`course_tools.grading.probe`
  is its side in the kernel and :mod:`course_tools.grading.answers` reads what comes back, as plain data, in the one
  format both sides share (:mod:`course_tools.grading.codec`);
- :mod:`course_tools.grading.private`: an instructor's private checks;
- :mod:`course_tools.grading.results`: statuses, result records, the text and JSON reports;
- :mod:`course_tools.grading.batch`: a folder of submissions, each graded in its own process, to CSV + markdown;
- :mod:`course_tools.grading.points`: points per exercise; :mod:`course_tools.grading.gradescope`: Gradescope's
  results.json, its autograder bundle and what runs on it; :mod:`course_tools.grading.canvas`: the Canvas gradebook CSV;
- :mod:`course_tools.grading.cli`: the command line; :mod:`course_tools.grading.settings`: the grader's limits, made once
  from it and handed to every stage.

Imports go one way only: cli -> (gradescope -> batch, canvas, notebook, points), batch -> (worker, results, settings),
notebook -> (runner -> judge -> (answers, kernel, probe -> codec), planning -> references, private), kernel ->
(sandbox, cgroups), settings -> sandbox.
Batch mode runs ``python -m course_tools.grade PATH --json`` once per submission, so it needs no grading code itself.
"""
