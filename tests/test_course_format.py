"""The course's notebook format (course_tools/course_format.py) on the real notebooks: every exercise has its check, the
chapter in a learner notebook's metadata agrees with its file name, the site's marker removal leaves the solution.
The worked examples in the module's docstrings are run by tests/test_doctests.py."""
import importlib
from pathlib import Path

import nbformat
import pytest

from course_tools import course_format as fmt
from utils.checks import REGISTRY
from course_tools.generate import course_metadata, stub_source

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9]*_*.ipynb"))


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_every_exercise_of_a_solution_has_its_check_and_the_learner_copy_its_chapter(path):
    nb = nbformat.read(path, as_version=4)
    pairs = fmt.exercise_check_pairs(nb.cells)
    assert pairs and all(check is not None for _, check in pairs), "an exercise cell without its check cell"
    chapter = fmt.chapter_of(path, required=True)
    called = [name for _, check in pairs for name in fmt.called_checks(nb.cells[check].source)]
    assert len(called) == len(pairs), "each check cell calls one check"
    module = importlib.import_module(f"utils.checks.ch{chapter}")
    assert sorted(getattr(module, name).ex_id for name in called) == sorted(REGISTRY[chapter])  # order may differ
    learner = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
    assert learner.metadata[fmt.METADATA_KEY] == course_metadata(path.name)
    assert fmt.chapter_of("renamed.ipynb", learner) == chapter
    for i, _ in pairs:
        source = nb.cells[i].source
        stripped = fmt.strip_markers(source)
        assert fmt.BEGIN not in stripped and fmt.END not in stripped
        assert len(stripped.splitlines()) == len(source.splitlines()) - 2 * source.count(fmt.BEGIN)
        # every name a top-level solution assigns is still defined by the learner's stub, so the check can run
        assert fmt.defined_names(source) <= fmt.defined_names(stub_source(source)) | fmt.defined_names(stripped)


def test_chapter_of_keeps_both_callers_behaviour():
    """The generator needs a number in the name (error); the grader falls back to None and then to the file name."""
    with pytest.raises(fmt.SourceError, match="start with their number"):
        fmt.chapter_of("tensors.ipynb", required=True)
    assert fmt.chapter_of("tensors.ipynb") is None
    bad = {"metadata": {"course": {"chapter": "one"}}}
    assert fmt.chapter_of("05_x.ipynb", bad) == "05"        # metadata that is not a number is ignored
    assert fmt.chapter_of("05_x.ipynb", {"metadata": {"course": {"chapter": 7}}}) == "07"
    assert fmt.chapter_of(Path("a/b/12_x.ipynb")) == "12"


def test_markers_are_matched_as_whole_lines():
    assert fmt.is_begin("    ### BEGIN SOLUTION  \n") and fmt.is_end("### END SOLUTION")
    assert not fmt.is_begin("# ### BEGIN SOLUTION")
    source = "x = 1\n\t### BEGIN SOLUTION\ny = 2\n### END SOLUTION"
    assert fmt.strip_markers(source) == "x = 1\ny = 2\n"


def test_defined_names_of_cells_with_magics_and_classes():
    source = "%matplotlib inline\n!echo hi\nclass A:\n    pass\nasync def g():\n    pass\nn: int = 3\n"
    assert fmt.defined_names(source) == {"A", "g", "n"}
    assert fmt.parse_cell("def (") is None
