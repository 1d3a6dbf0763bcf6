"""The helpers every chapter's checks share: the value coercers (utils/checks/values.py: is_torch, returned, scalar,
as_array, as_tensor, as_ints, as_whole_numbers, as_indices, close), quiz, call_on_copies, same_value,
expect_unchanged."""
import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from utils.checks import (REGISTRY, CheckFailed, ExerciseFailed, ExerciseNotAttempted, Quiz, call_on_copies,
                          expect_unchanged, is_torch, quiz, returned, same_value, scalar)
from utils.checks.values import as_array, as_indices, as_ints, as_tensor, as_whole_numbers, close

CHECKS = Path(__file__).resolve().parent.parent / "utils" / "checks"


def test_is_torch():
    assert is_torch(torch.zeros(2)) and is_torch(torch.nn.Linear(2, 2))
    assert not is_torch(np.zeros(2)) and not is_torch([1.0]) and not is_torch(None)


def test_returned_passes_values_through_and_names_a_missing_return():
    assert returned(0, "f") == 0 and returned([], "f") == []              # only None fails, not falsy values
    with pytest.raises(CheckFailed, match=r"^one_hot returned None - did you forget `return`\?$"):
        returned(None, "one_hot")
    with pytest.raises(CheckFailed, match=r"^train_step returned None - return the loss as a float$"):
        returned(None, "train_step", "return the loss as a float")


@pytest.mark.parametrize("value, want", [(2, 2.0), (0.5, 0.5), (np.float32(0.25), 0.25), (np.int64(3), 3.0),
                                         (np.array([[1.5]]), 1.5), (torch.tensor(2.0), 2.0),
                                         (torch.tensor([[4]]), 4.0), (torch.tensor(0.5, dtype=torch.bfloat16), 0.5)])
def test_scalar_accepts_numbers_of_every_kind(value, want):
    got = scalar(value, "x")
    assert got == want and type(got) is float


@pytest.mark.parametrize("value, message", [
    (np.zeros(3), "x should be a single number, got shape (3,)"),
    (torch.zeros(2, 2), "x should be a single number, got shape (2, 2)"),
    (True, "x should be a number, got bool"),
    (torch.tensor(True), "x should be a number, got bool"),
    (np.array([True]), "x should be a number, got bool"),
    ("1.0", "x should be a number, got str"),
    (None, "x is None - did you forget to `return` it?"),
    ([1.0], "x should be a number, got list"),
])
def test_scalar_rejects_everything_else_in_one_line(value, message):
    with pytest.raises(CheckFailed) as info:
        scalar(value, "x")
    assert str(info.value) == message


def test_scalar_custom_messages_and_finite():
    with pytest.raises(CheckFailed, match=r"^loss should be one number, got shape \(2,\)$"):
        scalar(np.ones(2), "loss", one="{name} should be one number, got shape {shape}")
    assert scalar(float("nan"), "loss") != scalar(float("nan"), "loss")     # NaN passes unless `finite` is given
    for bad in (float("nan"), np.float32("inf"), torch.tensor(float("-inf"))):
        with pytest.raises(CheckFailed, match=r"^loss is (nan|inf|-inf): check for a division by zero$"):
            scalar(bad, "loss", finite="{name} is {value}: check for a division by zero")


def test_call_on_copies_keeps_the_checks_objects_as_they_were():
    table, ids, settings = torch.ones(3, 2), [0, 2], {"k": 3}

    def vandal(table, ids, settings):
        table.zero_()
        ids.append(1)
        settings["k"] = 0
        return "done"

    result, (table_after, ids_after) = call_on_copies(vandal, table, ids, settings=settings)
    assert result == "done"
    assert torch.equal(table, torch.ones(3, 2)) and ids == [0, 2] and settings == {"k": 3}   # the originals
    assert torch.equal(table_after, torch.zeros(3, 2)) and ids_after == [0, 2, 1]            # what fn left


def test_same_value_compares_what_objects_hold():
    layer = torch.nn.LayerNorm(4)
    other = torch.nn.LayerNorm(4)
    assert same_value(layer, other)
    with torch.no_grad():
        other.weight[0] = 2.0
    assert not same_value(layer, other)
    other = torch.nn.LayerNorm(4, eps=1.0)                       # same weights, another setting
    assert not same_value(layer, other)
    assert same_value(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, float("nan")]))
    assert not same_value(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    assert not same_value(np.zeros(2), np.zeros(3)) and not same_value([1, 2], (1, 2))
    assert same_value({"a": [np.ones(2)], "b": {1, 2}}, {"a": [np.ones(2)], "b": {2, 1}})

    class Chunk:
        def __init__(self, text):
            self.text = text
    assert same_value(Chunk("x"), Chunk("x")) and not same_value(Chunk("x"), Chunk("y"))


def test_expect_unchanged_names_the_input():
    expect_unchanged(torch.ones(2), torch.ones(2), "x")
    with pytest.raises(CheckFailed, match=r"^your function changed its input `mask` in place: read it only$"):
        expect_unchanged(torch.ones(2, dtype=torch.bool), torch.zeros(2, dtype=torch.bool), "mask", "read it only")


# ------------------------------------------------------------------------------------------------ the coercers
def test_the_missing_return_message_is_written_once():
    """Only values.returned spells out "did you forget": every chapter and helper goes through it."""
    for path in sorted(CHECKS.glob("*.py")):
        strings = [n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str) and " None - " in n.value]
        assert path.name == "values.py" or not strings, f"{path.name} writes its own missing-return message"


def test_chapters_keep_no_private_coercers():
    """The coercers the chapters used to copy (_number, _tensor, _result, _close, _as_int_list, _int_list, _indices,
    _scalar, _softmax, _rrf_reference) are gone: a chapter uses utils.checks.values and the course's library."""
    gone = {"_number", "_tensor", "_result", "_close", "_as_int_list", "_int_list", "_indices", "_scalar",
            "_softmax", "_rrf_reference", "_loss_fn"}
    for path in sorted(CHECKS.glob("ch*.py")):
        defined = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        assert not defined & gone, f"{path.name} defines {sorted(defined & gone)}"


def test_scalar_many_rejects_one_number_in_a_list():
    assert scalar(np.float64(0.5), "recall", many="{name}: ONE number") == 0.5
    for bad in ([0.5], (0.5,), np.array([0.5]), torch.tensor([0.5])):
        with pytest.raises(CheckFailed, match=r"^recall: ONE number, got (list|tuple|ndarray|Tensor)$"):
            scalar(bad, "recall", many="{name}: ONE number, got {kind}")


def test_as_array_checks_kind_finiteness_and_torch():
    assert as_array(torch.tensor([1, 2]), "f", dtype=np.float64).dtype == np.float64
    assert as_array(np.array([np.inf]), "f", finite=False)[0] == np.inf
    for value, message in [(None, "f returned None - did you forget `return`?"),
                           (np.array(["a"]), "f should return numbers, got dtype <U1"),
                           (np.array([True]), "f should return numbers, got dtype bool"),
                           (np.array([np.nan]), "f returned NaN or infinity")]:
        with pytest.raises(CheckFailed) as info:
            as_array(value, "f")
        assert str(info.value) == message
    assert as_array(torch.tensor([True]), "mask", kinds="fiub", torch_hint="x").dtype == bool
    with pytest.raises(CheckFailed, match=r"^f returned a tuple; return only the tensor$"):
        as_array((torch.ones(1),), "f", torch_hint="stay in torch")


def test_as_tensor_checks_type_dtype_shape_and_finiteness():
    got = as_tensor(torch.ones(2, 3, requires_grad=True), "f", (2, 3))
    assert got.dtype == torch.float64 and not got.requires_grad
    assert as_tensor(torch.arange(3), "f", floating=False, dtype="float32").dtype == torch.float32
    for value, kwargs, message in [
            (np.ones(2), {}, "f should return a torch tensor, got ndarray"),
            (torch.arange(2), {}, "f should return floating-point numbers, got torch.int64"),
            (torch.tensor([float("nan")]), {}, "f returned NaN or infinity"),
            (torch.tensor([float("inf")]), {"finite": "overflow: subtract the max"}, "overflow: subtract the max")]:
        with pytest.raises(CheckFailed) as info:
            as_tensor(value, "f", **kwargs)
        assert str(info.value) == message
    assert torch.isnan(as_tensor(torch.tensor([float("nan")]), "f", finite=False)).all()


def test_integer_coercers():
    assert as_ints([3, 1], "ids") == [3, 1] and as_ints(bytearray(b"a"), "ids") == [97]
    for bad, message in [(None, "ids is None - did you forget to `return` it?"),
                         ({1, 2}, "ids should be a list of ints, got set"),
                         ([True], "ids should hold ints (token ids), got ['bool']...")]:
        with pytest.raises(CheckFailed) as info:
            as_ints(bad, "ids")
        assert str(info.value) == message
    assert as_whole_numbers(torch.tensor([2, 0]), "r", "row ids", "{0, 6}") == [2, 0]
    assert as_whole_numbers(torch.Size([5, 4]), "s", "sizes", "(2, 3)") == [5, 4]
    with pytest.raises(CheckFailed, match=r"^r holds strings \(\['see'\]\): give ids$"):
        as_whole_numbers(["see", 1], "r", "row ids", "{0, 6}", strings="give ids")
    with pytest.raises(CheckFailed, match=r"^r should hold whole numbers \(row ids\), got 1.5$"):
        as_whole_numbers([1.5], "r", "row ids", "{0, 6}")
    assert as_indices(torch.tensor([4, 0])) == [4, 0]
    with pytest.raises(CheckFailed, match=r"should be a 1-D list of row indices, got shape \(1, 2\)"):
        as_indices([[1, 2]])


def test_close_compares_shapes_and_values_of_any_kind():
    assert close(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0 + 1e-6]))
    assert not close(torch.ones(2, 1), np.ones(2)) and not close([np.nan], [np.nan])
    assert close(100.0, 100.001, atol=0.0, rtol=1e-4) and not close(100.0, 100.001, atol=1e-4, rtol=0.0)


# ------------------------------------------------------------------------------------------------ quizzes
def test_a_quiz_is_registered_and_checked_like_an_exercise(capsys):
    quiz_colour = quiz("98.1", "Quiz: colours", correct="c", options="abc",
                       why_wrong={"a": "red is warm", "b": "orange is warm"}, explanation="blue is cold")
    try:
        assert isinstance(quiz_colour, Quiz)          # named by a module's global (see the chapter test below)
        assert (quiz_colour.ex_id, quiz_colour.title, quiz_colour.__module__) == ("98.1", "Quiz: colours", __name__)
        assert REGISTRY["98"] == {"98.1": "Quiz: colours"}
        quiz_colour(" C ")
        assert capsys.readouterr().out == "✅ [98.1] Quiz: colours: passed - blue is cold\n"
        with pytest.raises(ExerciseFailed, match=r"^\[98.1\] 'b' is not right: orange is warm$"):
            quiz_colour("b")
        with pytest.raises(ExerciseFailed, match=r"one of 'a', 'b', 'c' \(got 3\)"):
            quiz_colour(3)
        with pytest.raises(ExerciseNotAttempted):
            quiz_colour(...)
    finally:
        REGISTRY.pop("98", None)


def test_a_quiz_refuses_an_answer_key_that_cannot_be_right():
    with pytest.raises(ValueError, match="must be one of"):
        quiz("98.2", "Quiz", correct="e", options="abcd", why_wrong={}, explanation="")
    with pytest.raises(ValueError, match="must be one of"):
        quiz("98.2", "Quiz", correct="a", options="abcd", why_wrong={"a": "a hint for the right answer"},
             explanation="")
    REGISTRY.pop("98", None)


def test_every_chapter_quiz_is_a_quiz_named_as_its_check_cell_calls_it():
    import importlib
    for path in sorted(CHECKS.glob("ch*.py")):
        module = importlib.import_module(f"utils.checks.{path.stem}")
        quizzes = {name: v for name, v in vars(module).items() if isinstance(v, Quiz)}
        assert quizzes, f"{path.name} has no quiz"
        for name, check in quizzes.items():
            assert name.startswith("quiz_") and check.__name__ == name and check.__module__ == module.__name__
