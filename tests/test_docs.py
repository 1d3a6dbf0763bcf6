"""The commands the README and the instructor guide tell people to type are ones the tools accept."""
import re
import shlex
from pathlib import Path

import pytest

from course_tools import grade

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "docs" / "instructors.md"]
GRADE_CMD = re.compile(r"python -m course_tools\.grade ([^`\n#]+)")


def _grade_commands():
    found = []
    for doc in DOCS:
        for match in GRADE_CMD.finditer(doc.read_text(encoding="utf-8")):
            found.append((doc.name, match.group(1).strip()))
    return found


def test_docs_show_grader_commands():
    names = {doc for doc, _ in _grade_commands()}
    assert names == {"README.md", "instructors.md"}, names


@pytest.mark.parametrize("doc,args", _grade_commands())
def test_documented_grader_command_parses(doc, args):
    parsed = grade.build_parser().parse_args(shlex.split(args))
    assert parsed.paths, (doc, args)


def test_parser_rejects_an_unknown_flag(capsys):
    with pytest.raises(SystemExit):
        grade.build_parser().parse_args(["x.ipynb", "--wokers", "2"])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_instructor_guide_is_filled_in():
    text = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    assert "RUN_TIMES_TABLE" not in text and "BATCH_TIMING" not in text, "placeholders left in the guide"
    for notebook in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        assert notebook.stem in text, f"{notebook.stem} missing from the run-time table"
    for heading in ("Schedules", "One day", "Two days", "JupyterHub", "Binder", "Common learner errors", "Grading"):
        assert heading in text, heading
