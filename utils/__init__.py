"""The course's reference library: what the notebooks import to learn from and to compare with, and the checks.

One module per idea (``vectors``, ``bpe``, ``embedding``, ``word2vec``, ``positional``, ``retrieval``, ``attention``,
``gpt``, ``rag``...); the notebooks import from here so that later cells never depend on a learner's unfinished
exercise. ``utils.checks`` holds each chapter's exercise checks. The tools that make, run and grade the course (the
generator, the grader, the workspace and progress commands) are a separate package, :mod:`course_tools`.
"""
