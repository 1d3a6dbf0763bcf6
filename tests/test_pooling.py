"""Pooling with the attention mask and the anisotropy measure (utils/pooling.py)."""
import numpy as np
import pytest
import torch

from utils import pooling


def _batch():
    torch.manual_seed(0)
    hidden = torch.randn(3, 5, 4)                                   # (B, T, d)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    return hidden, mask


def test_mean_pool_ignores_padding():
    hidden, mask = _batch()
    got = pooling.mean_pool(hidden, mask)
    for i, n in enumerate(mask.sum(1).tolist()):
        assert torch.allclose(got[i], hidden[i, :n].mean(0))
    changed = hidden.clone()
    changed[0, 3:] = 100.0                                          # garbage on the padding changes nothing
    assert torch.allclose(pooling.mean_pool(changed, mask), got)


def test_cls_and_last_token():
    hidden, mask = _batch()
    assert torch.equal(pooling.cls_pool(hidden, mask), hidden[:, 0])
    last = pooling.last_token_pool(hidden, mask)
    assert torch.equal(last, torch.stack([hidden[0, 2], hidden[1, 4], hidden[2, 0]]))
    left = torch.tensor([[0, 0, 1, 1, 1]] * 3)                      # left padding: the last position
    assert torch.equal(pooling.last_token_pool(hidden, left), hidden[:, 4])


def test_pool_dispatch_and_errors():
    hidden, mask = _batch()
    assert torch.equal(pooling.pool(hidden, mask, "last"), pooling.last_token_pool(hidden, mask))
    with pytest.raises(ValueError, match="pooling must be"):
        pooling.pool(hidden, mask, "max")
    with pytest.raises(ValueError, match="mask must be"):
        pooling.mean_pool(hidden, mask[:, :3])
    with pytest.raises(ValueError, match="all zeros"):
        pooling.mean_pool(hidden, torch.zeros(3, 5))


def test_anisotropy():
    rng = np.random.default_rng(1)
    assert abs(pooling.anisotropy(rng.normal(size=(400, 32)))) < 0.05
    assert pooling.anisotropy(rng.normal(size=(400, 32)) + 5) > 0.9
    with pytest.raises(ValueError):
        pooling.anisotropy(np.zeros((1, 3)))
