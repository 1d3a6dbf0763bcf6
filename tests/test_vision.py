"""utils.vision: patches round-trip, reading order, 2-D positions, the patch embedding's shapes and counts."""
import pytest
import torch

from utils import vision


def test_patchify_round_trip_and_order():
    x = torch.randn(3, 3, 8, 12)
    p = vision.patchify(x, 4)                                  # (3, 6, 48)
    assert p.shape == (3, 6, 48)
    assert torch.equal(vision.unpatchify(p, 4, (8, 12)), x)
    assert torch.equal(p[:, 1], x[:, :, 0:4, 4:8].reshape(3, -1))   # patch 1 = first row, second column
    assert torch.equal(p[:, 3], x[:, :, 4:8, 0:4].reshape(3, -1))   # patch 3 = second row, first column
    assert torch.equal(p, torch.nn.functional.unfold(x, 4, stride=4).transpose(1, 2))   # torch's own unfold agrees


def test_bad_input():
    with pytest.raises(ValueError, match="divide"):
        vision.patchify(torch.zeros(1, 1, 5, 4), 2)
    with pytest.raises(ValueError, match="batch, channels"):
        vision.patchify(torch.zeros(5, 4), 2)
    with pytest.raises(ValueError, match="multiple of 4"):
        vision.positions_2d(2, 2, 6)


def test_positions_2d_rows_and_columns():
    p = vision.positions_2d(3, 4, 16)
    assert p.shape == (12, 16)
    assert torch.equal(p[1, :8], p[2, :8]) and not torch.equal(p[1, 8:], p[2, 8:])   # same row, other column
    assert torch.equal(p[0, 8:], p[4, 8:]) and not torch.equal(p[0, :8], p[4, :8])   # same column, other row


def test_patch_embedding():
    torch.manual_seed(0)
    layer = vision.PatchEmbedding(3, 32, 8, 64, cls_token=True)
    assert layer(torch.zeros(2, 3, 32, 32)).shape == (2, 17, 64)
    assert layer.proj.weight.numel() + layer.proj.bias.numel() == vision.patch_parameter_count(3, 8, 64)
    assert vision.patch_parameter_count(3, 16, 768) == 768 * 768 + 768
