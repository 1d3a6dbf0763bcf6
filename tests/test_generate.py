"""The generator: solution regions become stubs, outputs go, check cells keep Run All going, --check catches drift."""
import json
import shutil

import nbformat
import pytest

from course_tools import generate
from course_tools.course_format import BEGIN, END
from course_tools.generate import SourceError, learner_version, stub_source

ROOT = generate.ROOT


def test_function_body_becomes_raise():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    y = 2 * x\n    return y\n    ### END SOLUTION\n"
    out = stub_source(src)
    assert "2 * x" not in out
    assert '    raise NotImplementedError("Exercise not attempted yet' in out
    assert out.startswith("def f(x):\n")


def test_top_level_region_assigns_ellipsis_to_every_name():
    src = "import numpy as np\n### BEGIN SOLUTION\nx = np.zeros(3)\ny, z = 1, 2\nx += 1\n### END SOLUTION\nprint(x)\n"
    out = stub_source(src)
    assert out == ("import numpy as np\nx = ...  # YOUR CODE HERE\ny = ...  # YOUR CODE HERE\n"
                   "z = ...  # YOUR CODE HERE\nprint(x)\n")


def test_top_level_region_without_assignment_raises():
    out = stub_source("### BEGIN SOLUTION\nprint('hi')\n### END SOLUTION\n")
    assert "raise NotImplementedError" in out and "print('hi')" not in out


@pytest.mark.parametrize("src, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "without END"),
    ("x = 1\n### END SOLUTION\n", "without BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx=1\n### END SOLUTION\n", "nested"),
    ("### BEGIN SOLUTION\nx = (\n### END SOLUTION\n", "does not parse"),
])
def test_broken_markers_are_named(src, message):
    with pytest.raises(SourceError, match=message):
        stub_source(src)


def _solution(cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python", "version": "3.11.7"}}
    nb.cells = cells
    return nb


def _code(source, tags=(), outputs=()):
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=o) for o in outputs]
    cell.execution_count = 1
    return cell


def test_learner_version_strips_outputs_and_tags_checks():
    nb = _solution([
        nbformat.v4.new_markdown_cell("# Title"),
        _code("x = 1\nprint(x)", outputs=["1\n"]),
        _code("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", tags=["exercise"]),
        _code("check(answer)", tags=["check"], outputs=["passed\n"]),
    ])
    nb.cells[1].metadata["collapsed"] = True
    learner = learner_version(nb, "03_demo.ipynb")
    code = [c for c in learner.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert code[0].metadata == {}  # only tags survive
    assert code[1].source == "answer = ...  # YOUR CODE HERE\n"
    assert code[2].metadata["tags"] == ["check", "raises-exception"]
    assert learner.metadata["course"] == {"chapter": "03", "source": "solutions/03_demo.ipynb"}
    assert learner.metadata["language_info"] == {"name": "python"}
    assert [c.id for c in learner.cells] == [c.id for c in nb.cells]  # ids kept for the grader
    assert nb.cells[1].outputs  # the solution itself is not modified


@pytest.mark.parametrize("cells, message", [
    ([_code("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")], "no 'exercise' tag"),
    ([_code("x = 1", tags=["exercise"]), _code("check(x)", tags=["check"])], "no '### BEGIN SOLUTION'"),
    ([_code("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", tags=["exercise"]), _code("print(x)")], "not followed"),
])
def test_validate_names_the_broken_rule(cells, message):
    with pytest.raises(SourceError, match=message):
        generate.validate(_solution(cells), "05_demo.ipynb")


def test_notebook_names_must_start_with_their_number():
    with pytest.raises(SourceError, match="start with their number"):
        generate.learner_version(_solution([]), "tensors.ipynb")


def test_repository_notebooks_are_in_sync():
    assert generate.main(["--check"]) == 0


def test_check_mode_reports_drift_and_write_mode_fixes_it(tmp_path, capsys):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    shutil.copy(ROOT / "solutions" / "01_scalars_to_tensors.ipynb", solutions)
    assert generate.main(["--check", "--solutions", str(solutions), "--notebooks", str(notebooks)]) == 1
    assert "out of sync" in capsys.readouterr().out
    assert generate.main(["--solutions", str(solutions), "--notebooks", str(notebooks)]) == 0
    assert generate.main(["--check", "--solutions", str(solutions), "--notebooks", str(notebooks)]) == 0
    # a hand edit of a learner notebook in the repo is drift too
    path = notebooks / "01_scalars_to_tensors.ipynb"
    data = json.loads(path.read_text())
    data["cells"][0]["source"] = "edited by hand"
    path.write_text(json.dumps(data))
    assert generate.main(["--check", "--solutions", str(solutions), "--notebooks", str(notebooks)]) == 1
    # a learner notebook whose solution is gone is reported
    (notebooks / "99_orphan.ipynb").write_text("{}")
    capsys.readouterr()
    generate.main(["--check", "--solutions", str(solutions), "--notebooks", str(notebooks)])
    assert "no solution for" in capsys.readouterr().out


def test_broken_solution_gives_one_line_error(tmp_path, capsys):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    (solutions / "01_bad.ipynb").write_text("{not json")
    assert generate.main(["--solutions", str(solutions), "--notebooks", str(tmp_path / "nb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


def test_solutions_have_no_stub_and_learner_notebooks_no_solution():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        assert BEGIN not in text and END not in text, path.name
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert generate.STUB_MESSAGE not in path.read_text(encoding="utf-8"), path.name
        # committed executed: nbval only compares cells that have an execution count
        assert all(c.execution_count is not None for c in code), f"{path.name} is not committed executed"
