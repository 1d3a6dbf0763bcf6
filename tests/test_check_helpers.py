"""The helpers every chapter's checks share (utils/checks/__init__.py): is_torch, returned, scalar."""
import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, is_torch, returned, scalar


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
    (None, "x should be a number, got NoneType"),
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
