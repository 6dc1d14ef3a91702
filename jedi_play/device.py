"""Choosing the torch device: ``auto`` takes CUDA, then Apple's MPS, then the CPU, and says which."""

from __future__ import annotations

import contextlib
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
            enable_tf32()
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
    if name == "cuda":
        enable_tf32()
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """One line for the log: the device, its name, and a hint when a GPU sits unused."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)}; {', '.join(cuda_precision())})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    line = f"cpu ({torch.get_num_threads()} threads)"
    if cpu_only_torch_on_gpu_machine():
        line += "; this machine has an NVIDIA GPU but this torch is a CPU-only build: install a CUDA build of torch to use it"
    return line


def enable_tf32() -> None:
    """TF32 for float32 matmuls and convolutions on CUDA: float32's range with a 10-bit mantissa, enough
    for these networks' activations; parameters, optimizer state and losses stay float32."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def cuda_precision() -> list[str]:
    """What the CUDA path uses, for the log line."""
    return (["bf16 autocast in training"] if torch.cuda.is_bf16_supported() else []) + ["TF32"]


def training_autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast for training forwards on a CUDA GPU that has bf16 (Ampere and later); float32 elsewhere.

    bf16 has float32's exponent range, so no loss scaling is needed. Autocast keeps losses, softmax and
    normalisations in float32; the networks' heads return float32 (see ``ActorCritic.forward``).
    """
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
