"""Which device the notebooks compute on: an NVIDIA GPU (CUDA), Apple's GPU (MPS), else the CPU.

    from utils.device import pick_device
    device = pick_device()          # "cuda", "mps" or "cpu"

Notebooks print results from the CPU (``.cpu()``), so what they print does not depend on the device. Set the
environment variable ``COURSE_DEVICE`` to ``cpu``, ``cuda`` or ``mps`` to choose yourself (``cpu`` also turns a GPU
off for the course). MPS has no float64: tensors that go to ``device`` should be float32 there.
"""
from __future__ import annotations

import os

DEVICES = ("cuda", "mps", "cpu")


def _mps_available(torch) -> bool:
    mps = getattr(getattr(torch, "backends", None), "mps", None)
    try:
        return bool(mps is not None and mps.is_available())
    except Exception:  # an old or unusual build: no MPS then
        return False


def pick_device() -> str:
    """``"cuda"`` when an NVIDIA GPU is usable, else ``"mps"`` on an Apple GPU, else ``"cpu"``; ``COURSE_DEVICE``
    overrides (a device that is not there is a one-line error)."""
    import torch

    available = {"cuda": torch.cuda.is_available(), "mps": _mps_available(torch), "cpu": True}
    wanted = os.environ.get("COURSE_DEVICE", "").strip().lower()
    if wanted:
        if wanted not in DEVICES:
            raise ValueError(f"COURSE_DEVICE={wanted!r}: use one of {', '.join(DEVICES)}")
        if not available[wanted]:
            raise RuntimeError(f"COURSE_DEVICE={wanted!r}, but this machine has no {wanted} device")
        return wanted
    return next(d for d in DEVICES if available[d])


def describe_device(device: str | None = None) -> str:
    """One line for the set-up check: the GPU's name, or that the CPU is used."""
    import torch

    device = device or pick_device()
    if device == "cuda":
        return f"CUDA GPU: {torch.cuda.get_device_name(0)}"
    if device == "mps":
        return "Apple GPU (MPS)"
    return "none (the CPU is enough for this course)"


def synchronize(device: str) -> None:
    """Wait for the GPU to finish queued work (for timing); nothing to do on the CPU."""
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()
