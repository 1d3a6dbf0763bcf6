"""The course's tooling: the generator, the notebook format, the grader, the workspace and progress commands.

What notebooks import to learn from is the reference library, :mod:`utils`; this package serves the people who
make, run and grade the course (``python -m course_tools.generate``, ``python -m course_tools.grade``...).
"""
