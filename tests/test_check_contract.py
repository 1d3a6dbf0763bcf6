"""The check <-> grader contract (utils/checks/contract.py): what a check shows is what the readers read back,
for a real check run through the ``exercise`` decorator."""
import pytest

from utils.checks import REGISTRY, CheckFailed, contract, exercise, expect
from course_tools.grading import results


@pytest.fixture(scope="module")
def check():
    """A real check, registered as exercise 99.1 for this module only."""
    @exercise("99.1", "A contract test")
    def contract_test(answer):
        expect(answer == 3, "answer should be 3")
        return "well done"

    yield contract_test
    REGISTRY.pop("99", None)


def _ipython_error(exc):
    """The error output IPython saves for an exception (its ``_render_traceback_`` replaces the traceback)."""
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc),
            "traceback": exc._render_traceback_()}


def test_a_pass_is_printed_and_read_back(check, capsys):
    check(3)
    printed = capsys.readouterr().out
    assert printed == contract.pass_line("99.1", "A contract test", "well done") + "\n"
    assert printed == "✅ [99.1] A contract test: passed - well done\n"
    assert contract.read_outputs([{"output_type": "stream", "name": "stdout", "text": printed}]) == [
        ("99.1", "passed", "")]


@pytest.mark.parametrize("answer, status, message", [
    (4, "failed", "answer should be 3"),
    (..., "not attempted", "replace the `...` in the exercise cell with your answer, run it, then run this check"),
])
def test_a_failure_is_raised_shown_on_one_line_and_read_back(check, answer, status, message):
    with pytest.raises((contract.ExerciseFailed, contract.ExerciseNotAttempted)) as info:
        check(answer)
    exc = info.value
    assert (exc.ex_id, exc.message, str(exc)) == ("99.1", message, f"[99.1] {message}")
    mark = contract.FAIL_MARK if status == "failed" else contract.TODO_MARK
    assert exc._render_traceback_() == [f"{mark} {type(exc).__name__}: [99.1] {message}"]
    assert contract.read_outputs([_ipython_error(exc)]) == [("99.1", status, message)]


def test_only_the_contract_exceptions_and_real_pass_lines_count():
    outputs = [{"output_type": "error", "ename": "ValueError", "evalue": "[1.1] looks like a check"},
               {"output_type": "error", "ename": "ExerciseFailed", "evalue": "no id"},
               {"output_type": "stream", "name": "stdout", "text": "✅ [1.1] no status word\n[1.2] T: passed\n"},
               "not a dict", {"output_type": "display_data", "data": {"text/plain": "✅ [1.3] T: passed"}}]
    assert contract.read_outputs(outputs) == []
    assert contract.read_outputs(None) == []


def test_statuses_are_the_graders_and_the_package_re_exports_the_contract():
    assert (contract.PASSED, contract.FAILED, contract.NOT_ATTEMPTED) == (
        results.PASSED, results.FAILED, results.NOT_ATTEMPTED)
    import utils.checks as checks
    assert checks.ExerciseFailed is contract.ExerciseFailed and checks.PASS_MARK == contract.PASS_MARK
    assert contract.chapter_of_id("10.2") == "10" and contract.chapter_of_id("3.1") == "03"
    assert not issubclass(CheckFailed, contract.ExerciseFailed)
