"""Images as tokens (notebook 12): a Vision Transformer (ViT) cuts an image into square patches, flattens each patch
into a vector and multiplies it by one matrix - the patch "embedding matrix" - then adds a position vector per patch.
From there on the patches are tokens, and notebook 08's attention runs on them unchanged.

- :func:`patchify` / :func:`unpatchify` - ``(B, C, H, W) <-> (B, N, C*P*P)`` with reshape + permute (a plain reshape
  mixes pixels of different patches: the head-splitting lesson of notebook 08 again);
- :func:`positions_2d` - 2-D sinusoidal positions: half the features say the patch's row, half its column (notebook
  06's table, once per axis);
- :class:`PatchEmbedding` - patchify, one ``nn.Linear`` (the projection), optional [CLS] token, positions;
- :func:`patch_parameter_count` - how many numbers that projection holds, next to a text embedding table's.

>>> x = torch.arange(2 * 3 * 4 * 4.0).reshape(2, 3, 4, 4)       # 2 RGB images of 4 x 4 pixels
>>> patchify(x, 2).shape                                         # 4 patches of 3 * 2 * 2 = 12 numbers each
torch.Size([2, 4, 12])
>>> torch.equal(unpatchify(patchify(x, 2), 2, (4, 4)), x)
True
"""
from __future__ import annotations

import torch
from torch import nn

from utils.positional import sinusoidal_positions

__all__ = ["patchify", "unpatchify", "positions_2d", "PatchEmbedding", "patch_parameter_count"]


def _check_images(x, patch: int) -> tuple[int, int, int, int]:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"images must be a torch tensor (batch, channels, height, width), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    if isinstance(patch, bool) or not isinstance(patch, int) or patch < 1:
        raise ValueError(f"patch must be a positive int, got {patch!r}")
    B, C, H, W = x.shape
    if H % patch or W % patch:
        raise ValueError(f"patch {patch} must divide the image size {H} x {W}")
    return B, C, H, W


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """``(B, C, H, W) -> (B, N, C * patch * patch)`` with N = (H / patch) * (W / patch), patches in reading order
    (left to right, then top to bottom); each row holds one patch's pixels, channel by channel.

    >>> img = torch.arange(16.0).reshape(1, 1, 4, 4)                # one 4 x 4 grey image, pixels 0..15
    >>> patchify(img, 2)[0, 0]                                       # the top-left 2 x 2 square
    tensor([0., 1., 4., 5.])
    """
    B, C, H, W = _check_images(x, patch)
    h, w = H // patch, W // patch
    x = x.reshape(B, C, h, patch, w, patch)                  # (B, C, h, P, w, P): split each axis in two
    x = x.permute(0, 2, 4, 1, 3, 5)                          # (B, h, w, C, P, P): the patch grid first
    return x.reshape(B, h * w, C * patch * patch)            # (B, N, C*P*P)


def unpatchify(patches: torch.Tensor, patch: int, size: tuple[int, int], channels: int | None = None) -> torch.Tensor:
    """The inverse of :func:`patchify`: ``(B, N, C * patch * patch) -> (B, C, H, W)`` for ``size`` = (H, W).

    >>> unpatchify(torch.tensor([[[0., 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]]), 2, (4, 4))[0, 0]
    tensor([[ 0.,  1.,  2.,  3.],
            [ 4.,  5.,  6.,  7.],
            [ 8.,  9., 10., 11.],
            [12., 13., 14., 15.]])
    """
    if not isinstance(patches, torch.Tensor) or patches.ndim != 3:
        raise ValueError(f"patches must be a torch tensor (batch, n_patches, patch_dim), got "
                         f"{getattr(patches, 'shape', type(patches).__name__)}")
    H, W = size
    if H % patch or W % patch:
        raise ValueError(f"patch {patch} must divide the image size {H} x {W}")
    B, N, D = patches.shape
    h, w = H // patch, W // patch
    C = channels if channels is not None else D // (patch * patch)
    if N != h * w or D != C * patch * patch:
        raise ValueError(f"{N} patches of {D} numbers do not make a {C} x {H} x {W} image with patch {patch}")
    x = patches.reshape(B, h, w, C, patch, patch)            # (B, h, w, C, P, P)
    x = x.permute(0, 3, 1, 4, 2, 5)                          # (B, C, h, P, w, P)
    return x.reshape(B, C, H, W)


def positions_2d(rows: int, cols: int, dim: int) -> torch.Tensor:
    """2-D sinusoidal positions ``(rows * cols, dim)`` in :func:`patchify`'s order: the first ``dim / 2`` features
    are notebook 06's table for the patch's row, the last ``dim / 2`` the table for its column.

    >>> p = positions_2d(2, 3, 8)
    >>> p.shape, torch.equal(p[0, :4], p[2, :4]), torch.equal(p[0, 4:], p[3, 4:])   # same row / same column
    (torch.Size([6, 8]), True, True)
    """
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4 (sine/cosine pairs for rows and for columns), got {dim}")
    row = sinusoidal_positions(rows, dim // 2)               # (rows, dim/2)
    col = sinusoidal_positions(cols, dim // 2)               # (cols, dim/2)
    return torch.cat([row[:, None, :].expand(rows, cols, dim // 2),
                      col[None, :, :].expand(rows, cols, dim // 2)], dim=-1).reshape(rows * cols, dim)


def patch_parameter_count(channels: int, patch: int, dim: int, bias: bool = True) -> int:
    """Numbers in the patch projection: (channels * patch * patch) * dim weights (+ dim biases).

    ViT-B/16 on RGB: 3 * 16 * 16 = 768 inputs per patch, to 768 features -> 590,592, about 1/30 of GPT-2's token
    embedding table (50,257 x 768 = 38.6 M): an image "vocabulary" is continuous, so it needs no row per token.

    >>> patch_parameter_count(3, 16, 768)
    590592
    """
    return channels * patch * patch * dim + (dim if bias else 0)


class PatchEmbedding(nn.Module):
    """Images ``(B, C, H, W)`` -> patch tokens ``(B, N (+1), dim)``: patchify, one linear projection (the patch
    embedding matrix, shared by every patch, as a token table is shared by every position), optional learned
    [CLS] token in front, plus 2-D sinusoidal positions (the [CLS] token gets none).

    >>> torch.manual_seed(0) and None
    >>> PatchEmbedding(channels=1, size=8, patch=4, dim=16, cls_token=True)(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(self, channels: int, size: int, patch: int, dim: int, cls_token: bool = False):
        super().__init__()
        if size % patch:
            raise ValueError(f"patch {patch} must divide the image size {size}")
        self.patch, self.grid = patch, size // patch
        self.proj = nn.Linear(channels * patch * patch, dim)                    # the patch "embedding matrix"
        self.register_buffer("pos", positions_2d(self.grid, self.grid, dim), persistent=False)  # (N, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim)) if cls_token else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.proj(patchify(images, self.patch)) + self.pos                  # (B, N, dim)
        if self.cls is not None:
            x = torch.cat([self.cls.expand(len(x), -1, -1), x], dim=1)          # (B, 1 + N, dim)
        return x
