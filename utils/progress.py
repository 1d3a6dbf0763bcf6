"""Moved to :mod:`course_tools.progress` (the course's tooling left the learner package). Kept so that a notebook 00
saved before the move, whose cell says ``from utils import progress``, and ``python -m utils.progress`` still work."""
from course_tools.progress import *  # noqa: F401,F403
from course_tools.progress import COURSE, main, show  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())
