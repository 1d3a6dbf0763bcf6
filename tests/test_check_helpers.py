"""The helpers every chapter's checks share (utils/checks/__init__.py): is_torch, returned, scalar, call_on_copies,
same_value, expect_unchanged."""
import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, call_on_copies, expect_unchanged, is_torch, returned, same_value, scalar


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
