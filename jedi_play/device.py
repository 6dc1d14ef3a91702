"""Choosing the torch device: ``auto`` takes CUDA, then Apple's MPS, then the CPU, and says which."""

from __future__ import annotations

import shutil

import torch

from jedi_play.cli.errors import UserError

DEVICES = ("auto", "cpu", "cuda", "mps")


def cpu_only_torch_on_gpu_machine() -> bool:
    """True when an NVIDIA driver is present but this torch build has no CUDA support."""
    return torch.version.cuda is None and shutil.which("nvidia-smi") is not None


def resolve_device(name: str = "auto") -> torch.device:
    """The device ``name`` stands for; refuses one this machine or this torch build cannot use."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA device is visible"
        raise UserError(f"--device cuda: {why}")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps: Apple's MPS backend is not available here")
    if name not in DEVICES:
        raise UserError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """One line for the log: the device, its name, and a hint when a GPU sits unused."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    line = f"cpu ({torch.get_num_threads()} threads)"
    if cpu_only_torch_on_gpu_machine():
        line += "; this machine has an NVIDIA GPU but this torch is a CPU-only build: install a CUDA build of torch to use it"
    return line
