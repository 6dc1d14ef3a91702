"""Choosing the torch device (``auto`` takes CUDA, then Apple's MPS, then the CPU, and says which) and the
number of CPU threads (``configure_threads``: fewer on a busy machine), and subnormal floats flushed to zero
on the CPU (``flush_denormals``)."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import time

import torch

from jedi_play.cli.errors import UserError

DEVICES = ("auto", "cpu", "cuda", "mps")


def flush_denormals() -> bool:
    """Make CPU arithmetic treat subnormal floats as zero, where the CPU can (x86 with SSE3); returns whether it does.

    An operation on subnormals costs tens of times more, and the actor-critic's training makes them: ``jedi-train
    agent --rollouts real --batch-size 64 --epochs 4`` on Boxing went from 1.6 s an update to 4 to 9 s after about
    220 updates, and stayed at 1.55 s with them flushed, logging the same entropies and returns (docs/agents.md).
    """
    return torch.set_flush_denormal(True)


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


PRECISIONS = ("auto", "fp32", "bf16")


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions (Intel AMX or AVX512-BF16), read from ``/proc/cpuinfo``
    (False where there is none to read): there bf16 autocast makes convolutions about twice as fast."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(setting: str, device: torch.device) -> str:
    """``fp32`` or ``bf16`` for world-model training. ``auto``: bf16 autocast on a CUDA GPU with bf16 and on a CPU
    with bf16 instructions (``cpu_has_bf16``), float32 elsewhere. Weights, optimizer state, losses and
    normalisations stay float32 either way; only convolutions and matmuls run in bf16."""
    if setting not in PRECISIONS:
        raise UserError(f"unknown precision {setting!r}; choose one of {', '.join(PRECISIONS)}")
    if setting != "auto":
        return setting
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


def training_autocast(device: torch.device, precision: str | None = None) -> contextlib.AbstractContextManager:
    """bf16 autocast for training forwards: with ``precision`` (``resolve_precision``'s answer) as it says; without,
    on a CUDA GPU that has bf16 (Ampere and later) only.

    bf16 has float32's exponent range, so no loss scaling is needed. Autocast keeps losses, softmax and
    normalisations in float32; the networks' heads return float32 (see ``ActorCritic.forward``).
    """
    if precision is None:
        precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it, else all of them)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def busy_cores(sample_seconds: float = 0.2) -> float | None:
    """How many cores other processes keep busy now: on Linux, the CPU time all processes used over
    ``sample_seconds`` (``/proc/stat``; this process sleeps meanwhile); elsewhere the last minute's load
    average; None where the OS tells neither (Windows).

    Not the load average where it can be helped: that remembers the last minute, so a ``pip install`` or a
    run that has just ended would cost the app a core it now has free.
    """
    first = _cpu_times()
    if first is not None:
        time.sleep(sample_seconds)
        second = _cpu_times()
        if second is not None and second[1] > first[1]:
            busy, total = second[0] - first[0], second[1] - first[1]
            return (os.cpu_count() or 1) * busy / total
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _cpu_times() -> tuple[int, int] | None:
    """Busy and total CPU time of all cores since boot, in ticks (Linux's ``/proc/stat``), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError):
        return None
    if len(fields) < 8:
        return None
    total = sum(fields)
    return total - fields[3] - fields[4], total


def threads_for_load(cores: int, load: float | None) -> int:
    """Torch threads for ``cores`` cores when other processes keep ``load`` of them busy: the cores left free,
    ``max(1, cores - load rounded)`` (halves up), at most ``cores``; all the cores when the load is unknown.

    On a busy 2-core machine two threads are far slower than one (a dream at about 5 frames per second
    instead of 33 while another process used a core): threads that wait for a busy core stall the others.
    """
    cores = max(1, cores)
    if load is None:
        return cores
    return max(1, min(cores, cores - math.floor(load + 0.5)))


def configure_threads(requested: int | None) -> str:
    """Set torch's CPU threads: ``requested`` when given; else, unless ``OMP_NUM_THREADS`` is set, fewer than
    torch's default when the machine is busy (``threads_for_load``). Returns why, for the log ('' if nothing to say)."""
    if requested is not None:
        torch.set_num_threads(requested)
        return ""
    if os.environ.get("OMP_NUM_THREADS"):
        return ""
    cores, load = usable_cores(), busy_cores()
    threads = threads_for_load(cores, load)
    if threads >= torch.get_num_threads():
        return ""
    torch.set_num_threads(threads)
    if load is None:
        return f"the {cores} cores this process may use"
    return f"{threads} of {cores} cores, as other processes keep {load:.1f} busy; --threads N sets it"
