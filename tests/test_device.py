"""utils.device.pick_device on simulated machines: CUDA first, then Apple's MPS, else the CPU; COURSE_DEVICE wins."""
import pytest
import torch

from utils import device as dev


@pytest.fixture
def machine(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)

    def simulate(cuda=False, mps=False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    return simulate


@pytest.mark.parametrize("cuda, mps, expected", [(True, False, "cuda"), (True, True, "cuda"), (False, True, "mps"),
                                                 (False, False, "cpu")])
def test_pick_device(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert dev.pick_device() == expected


def test_course_device_overrides(machine, monkeypatch):
    machine(cuda=True, mps=False)
    monkeypatch.setenv("COURSE_DEVICE", "CPU")
    assert dev.pick_device() == "cpu"
    monkeypatch.setenv("COURSE_DEVICE", "mps")
    with pytest.raises(RuntimeError, match="no mps device"):
        dev.pick_device()
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="use one of cuda, mps, cpu"):
        dev.pick_device()


def test_torch_without_mps_backend_means_no_mps(machine, monkeypatch):
    machine(cuda=False)
    monkeypatch.delattr(torch.backends, "mps")
    assert dev.pick_device() == "cpu"


def test_describe_device(machine, monkeypatch):
    machine(cuda=False, mps=True)
    assert dev.describe_device() == "Apple GPU (MPS)"
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "NVIDIA H200")
    assert dev.describe_device("cuda") == "CUDA GPU: NVIDIA H200"
    assert dev.describe_device("cpu").startswith("none")


def test_synchronize_calls_the_right_backend(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: calls.append("cuda"))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("mps"))
    for d in ("cpu", "cuda", "mps"):
        dev.synchronize(d)
    assert calls == ["cuda", "mps"]
