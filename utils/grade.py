"""Moved to :mod:`course_tools.grade` (the course's tooling left the learner package). Kept so that scripts that call
``python -m utils.grade ...`` still work; new ones should say ``python -m course_tools.grade``."""
from course_tools.grade import main

if __name__ == "__main__":
    raise SystemExit(main(isolate=True))
