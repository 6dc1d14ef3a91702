"""The measurements behind ``jedi-bench``, on synthetic batches with paper-size models (18 actions) and
the ``cpu`` preset's JEDI world model.

Training speed and peak memory are measured in a fresh child process per world model, so that one
model's allocations do not count toward the other's: peak RSS minus the RSS after importing torch
(CPU), or ``torch.cuda.max_memory_allocated`` (CUDA).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from typing import Any

import torch

from jedi_play.device import resolve_precision
from jedi_play.dream.dream_env import DreamEnv
from jedi_play.models.compiled import compile_for_inference
from jedi_play.models.factory import build_world_model
from jedi_play.models.world_model import Batch, WorldModel
from trainer.agent.presets import CPU
from trainer.world_model.train import world_model_optimizer, world_model_update

# How world-model training runs: ``default`` as jedi-train runs it now (bf16 autocast where the device has bf16
# units, fused AdamW), ``fp32`` as it ran before those (float32, AdamW over per-parameter loops): the baseline.
TRAINING_PATHS = ("default", "fp32")

NUM_ACTIONS = 18

# The world models jedi-bench times, by name: (kind, config fields). The papers' two at their sizes, and the
# `cpu` preset's JEDI world model (mean predictor, 96-channel denoiser, reward model reading the regressed next
# latent), the bundled models' architecture.
BENCH_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "jedi": ("jedi", {}),
    "diamond": ("diamond", {}),
    "jedi_cpu": ("jedi", dict(CPU.jedi_options)),
}


def synthetic_batch(batch_size: int, steps: int, device: torch.device) -> Batch:
    g = torch.Generator().manual_seed(0)
    return Batch(
        frames=(torch.rand(batch_size, steps + 1, 3, 64, 64, generator=g) * 2 - 1).to(device),
        actions=torch.randint(0, NUM_ACTIONS, (batch_size, steps), generator=g).to(device),
        rewards=torch.randint(-1, 2, (batch_size, steps), generator=g).float().to(device),
        ends=torch.zeros(batch_size, steps, dtype=torch.bool, device=device),
        mask=torch.ones(batch_size, steps + 1, dtype=torch.bool, device=device),
    )


def bench_model(name: str, device: torch.device) -> WorldModel:
    """The world model ``BENCH_MODELS[name]``, untrained, with 18 actions."""
    kind, options = BENCH_MODELS[name]
    return build_world_model(kind, {"num_actions": NUM_ACTIONS, **options}).to(device)


def _status_mb(field: str) -> float | None:
    """``VmRSS`` or ``VmHWM`` (the peak) of this process from ``/proc/self/status``, in MB; None off Linux."""
    try:
        with open("/proc/self/status") as f:
            line = next((x for x in f if x.startswith(field + ":")), None)
    except OSError:
        return None
    return None if line is None else int(line.split()[1]) / 1024  # kB


def _start_peak_rss() -> float:
    """The RSS now, from which ``_peak_rss_mb`` counts. On Linux the kernel's peak is reset here (``clear_refs``):
    ``ru_maxrss`` would carry the parent's peak across fork and exec, and the parent holds models."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        now = _status_mb("VmRSS")
        if now is not None:
            return now
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _peak_rss_mb() -> float:
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_training(name: str, device: torch.device, batch_size: int, updates: int, warmup: int = 1, path: str = "default") -> dict[str, Any]:
    """Updates per second and peak memory of world-model training along ``path`` (``TRAINING_PATHS``; run this in a
    fresh process): ``world_model_update`` as the trainers call it, learning rate warmed up, gradients clipped."""
    baseline = _start_peak_rss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model = bench_model(name, device)
    precision = resolve_precision("auto", device) if path == "default" else "fp32"
    optimizer = world_model_optimizer(model, 1e-4, 1e-2, fused=path == "default")
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    batch = synthetic_batch(batch_size, model.num_cond_steps + 1, device)

    def update() -> None:
        world_model_update(model, optimizer, base_lrs, batch, 100, 100, 1.0, precision=precision)

    for _ in range(warmup):
        update()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(updates):
        update()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = _peak_rss_mb() - baseline
    return {"train_updates_per_s": updates / (time.perf_counter() - start), "train_peak_mem_mb": peak, "train_precision": precision}


@torch.inference_mode()
def measure_dream(name: str, device: torch.device, batch_size: int, steps: int, denoising_steps: int = 3, compiled: bool = False) -> float:
    """Dream steps per second (frames decoded to pixels included) at ``batch_size``.

    ``compiled``: first compile the per-frame networks (``compile_for_inference``; not timed).
    """
    model = bench_model(name, device).eval()
    env = DreamEnv(model, denoising_steps)
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (batch_size, model.num_cond_steps, 64, 64, 3), dtype=torch.uint8, generator=g).numpy()
    actions = torch.zeros(batch_size, model.num_cond_steps, dtype=torch.long)
    if compiled:
        compile_for_inference(model, torch.from_numpy(frames).to(device), actions.to(device))
    env.reset(frames, actions.numpy())
    actions = [0] * batch_size
    env.step(actions)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        env.step(actions)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return steps / (time.perf_counter() - start)


def _worker() -> None:
    """``python -m trainer.bench.measure NAME DEVICE BATCH UPDATES [PATH]``: print training figures as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("name", choices=BENCH_MODELS)
    parser.add_argument("device")
    parser.add_argument("batch_size", type=int)
    parser.add_argument("updates", type=int)
    parser.add_argument("path", nargs="?", choices=TRAINING_PATHS, default="default")
    args = parser.parse_args()
    result = measure_training(args.name, torch.device(args.device), args.batch_size, args.updates, path=args.path)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    _worker()
