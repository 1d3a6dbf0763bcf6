"""Fault containment and tampering, on the real chapter-02 learner notebook with edited cells: an exercise cell that
loops, crashes the kernel, exhausts memory or floods its output, a learner function that loops or kills the kernel
when the check calls it, a fake pass line, a patched check module, the course's reference implementation - each
costs only its own exercise, with a message that says what happened, and every other exercise is graded.

One kernel run (about 40 s on 2 busy cores) is shared by the tests of this file.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_tools import grade
from course_tools.grading.planning import plan
from course_tools.grading.references import reference_uses
from course_tools.manifest import Course

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "02_norms_distances_similarity.ipynb"
LEARNER = ROOT / "notebooks" / "02_norms_distances_similarity.ipynb"
CELL_TIMEOUT = 8
MEMORY_MB = 4096
PATCH_CHECKS = '''
import importlib
import utils.checks.ch02 as _c
for _n in dir(_c):
    if hasattr(getattr(_c, _n), "ex_id"):
        _f = getattr(_c, _n)
        setattr(_c, _n, (lambda f: lambda *a, **k: print(f"\\u2705 [{f.ex_id}] {f.title}: passed"))(_f))
importlib.reload = lambda module: module
check = _c
'''
FAKE_PASS = 'print("\\u2705 [2.6] All pairwise cosine similarities without a loop: passed")'


def exercise_cells(nb):
    return [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]


def faulty_submission(path: Path) -> Path:
    """The learner notebook with every exercise answered right, then one fault per exercise."""
    nb = nbformat.read(LEARNER, as_version=4)
    cells, right = exercise_cells(nb), [c.source for c in exercise_cells(nbformat.read(SOLUTION, as_version=4))]
    for cell, source in zip(cells, right):
        cell.source = source
    cells[0].source = "while True:\n    pass\n"                                        # 2.1 loops
    cells[1].source = "import os\nos._exit(1)\n"                                       # 2.2 kills the kernel
    cells[2].source = "def distances(a, b):\n    import os\n    os._exit(7)\n"         # 2.3 kills it when checked
    cells[3].source = "def cosine_similarity(a, b):\n    return vectors.cosine_similarity(a, b)\n"  # 2.4 the reference
    cells[4].source = "hog = bytearray(6 * 2**30)\n" + right[4]                        # 2.5 more than the limit
    cells[5].source = f"def pairwise_cosine(A, B):\n    {FAKE_PASS}\n    return None\n"  # 2.6 prints a fake pass line
    cells[6].source = "def top_k_indices(query, M, k):\n    while True:\n        pass\n"  # 2.7 loops when checked
    cells[7].source = right[7] + "\nfor _ in range(3000):\n    print('y' * 1000)\n" + PATCH_CHECKS  # 2.8 right
    cells[8].source = 'answer_concentration = "a"\n'                                   # 2.9 wrong, check patched
    # and a learner's own check cell edited to print the pass line of 2.9
    nb.cells[nb.cells.index(cells[8]) + 1].source = 'print("\\u2705 [2.9] Quiz: distances in high dimensions: passed")'
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    path = faulty_submission(tmp_path_factory.mktemp("faults") / "02_faults.ipynb")
    before = path.read_bytes()
    result = grade.grade_notebook(path, timeout=CELL_TIMEOUT, memory_mb=MEMORY_MB)
    assert path.read_bytes() == before
    return result, {e.id: e for e in result.exercises}


@pytest.mark.slow
def test_every_exercise_is_graded_despite_the_faults(graded):
    result, by_id = graded
    assert result.chapter == "02" and result.problem is None, result.problem
    assert [e.id for e in result.exercises] == [f"2.{k}" for k in range(1, 10)]
    assert {i: e.status for i, e in by_id.items()} == {
        "2.1": "failed", "2.2": "failed", "2.3": "failed", "2.4": "failed", "2.5": "failed", "2.6": "failed",
        "2.7": "failed", "2.8": "passed", "2.9": "failed"}
    # the two loops cost about a cell timeout each, the three dead kernels a restart each
    assert result.seconds < 200, result.seconds


@pytest.mark.slow
@pytest.mark.parametrize("ex_id,message", [
    ("2.1", f"the exercise cell timed out after {CELL_TIMEOUT} s (an endless loop?)"),
    ("2.2", "the kernel died in the exercise cell (exit code 1)"),
    ("2.3", "the kernel died in the check of your code (exit code 7)"),
    ("2.4", "uses the course's reference implementation (utils.vectors.cosine_similarity) instead of your own code"),
    ("2.5", f"the exercise cell used more than {MEMORY_MB} MB of memory (MemoryError)"),
    ("2.7", f"the check timed out after {CELL_TIMEOUT} s: your code did not return (an endless loop?)"),
])
def test_each_fault_is_reported_as_what_happened(graded, ex_id, message):
    assert graded[1][ex_id].message == message


@pytest.mark.slow
def test_printed_pass_lines_and_a_patched_check_module_gain_nothing(graded):
    by_id = graded[1]
    assert "[2.6]" not in by_id["2.6"].message and "None" in by_id["2.6"].message   # the check's own message
    assert by_id["2.9"].message.startswith("'a' is not right")                       # checked by a fresh module


def test_reference_uses_are_found_statically():
    before = ["import numpy as np\nimport utils.vectors as vec\nfrom utils.minilm import encode"]
    assert reference_uses(before, "def cosine(a, b):\n    return vec.cosine_similarity(a, b)") == [
        "utils.vectors.cosine_similarity"]
    assert reference_uses(before, "def f(x):\n    from utils.vectors import cosine_similarity as c\n"
                                        "    return c(x, x)") == ["utils.vectors.cosine_similarity"]
    assert reference_uses(before, "import importlib\nm = importlib.import_module('utils.vectors')") == [
        "utils.vectors"]
    assert reference_uses(before, "def f(vec):\n    return vec.sum()") == []   # a parameter, not the module
    assert reference_uses(before, "def f(a):\n    return np.linalg.norm(a)") == []
    assert reference_uses(before, "import utils.checks.ch02 as c\nc.cosine_similarity(f)") == []  # checks are fine


def test_solutions_use_no_reference_beyond_what_they_allow():
    """The rule never fails a course's own answer: every solution cell's utils.* uses are its allowed set."""
    for chapter in Course().chapters():
        solution = nbformat.read(ROOT / chapter.solution, as_version=4)
        assert plan(solution, chapter).references == {}, chapter.solution


TAMPERED_00 = {
    # a list that claims to equal every list
    "0.1": "def char_codes(word):\n    class AlwaysEqual(list):\n        def __eq__(self, other):\n"
           "            return True\n    return AlwaysEqual()\n",
    # numpy's and math's comparisons made to agree with everything, and a float that equals everything
    "0.2": "import math\nimport numpy as np\nmath.isclose = np.isclose = np.allclose = lambda *a, **k: True\n"
           "class F(float):\n    def __eq__(self, other):\n        return True\ndistance = F(99)\n",
    # the check module patched to print pass lines, importlib.reload a no-op, and pass lines printed
    "0.3": PATCH_CHECKS.replace("ch02", "ch00") + "\nanswer = 'a'\n"
           + "".join(f'print("\\u2705 [0.{k}] x: passed")\n' for k in (1, 2, 3)),
}


def test_tampering_in_the_kernel_never_reaches_the_verdict(tmp_path):
    """The checks run in the grader's process: patched numpy/math/check modules, objects whose == says yes and
    printed pass lines leave every wrong answer failed, with the check's own message."""
    nb = nbformat.read(ROOT / "notebooks" / "00_welcome.ipynb", as_version=4)
    for cell, source in zip(exercise_cells(nb), TAMPERED_00.values()):
        cell.source = source
    path = tmp_path / "00_tampered.ipynb"
    nbformat.write(nb, path)
    by_id = {e.id: e for e in grade.grade_notebook(path, timeout=CELL_TIMEOUT, memory_mb=MEMORY_MB).exercises}
    assert {i: e.status for i, e in by_id.items()} == {"0.1": "failed", "0.2": "failed", "0.3": "failed"}
    assert by_id["0.1"].message == "'Hello' has 5 characters, your list has 0 numbers"
    assert by_id["0.2"].message == "|ord('H') - ord('W')| should be 15, got 99.0"
    assert by_id["0.3"].message.startswith("'a' is not right")

