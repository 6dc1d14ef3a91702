"""Data-parallel training under ``torchrun``: torch.distributed DDP, NCCL on GPUs and gloo on CPUs.

One run, several processes. Rank 0 plays the real game, owns the run folder (replay, checkpoints,
metrics) and evaluates; every rank holds a replica of the world model and the agent, samples its own
batches from the same replay (rank 0 sends each finished episode to the others), and DDP averages the
gradients, so the replicas take identical optimizer steps. With ``torchrun --nproc_per_node P`` each
update sees ``P`` times the preset's batch; the budget of real steps is unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from jedi_play.cli.errors import UserError


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the run: ``world_size == 1`` is a plain single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> tuple[DistributedContext, torch.device]:
    """Join the process group ``torchrun`` set up (if any); returns the context and this rank's device.

    NCCL when ``device`` is CUDA (each rank on GPU ``LOCAL_RANK``), gloo otherwise.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext(), device
    ctx = DistributedContext(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        if ctx.local_rank >= torch.cuda.device_count():
            raise UserError(f"rank {ctx.rank} wants GPU {ctx.local_rank} but this node has {torch.cuda.device_count()}")
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        # rank 0 evaluates in the real game while the others wait at the next collective: a long timeout
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(hours=2))
    return ctx, device


def shutdown_distributed(*, wait_for_others: bool = False) -> None:
    """Leave the process group; ``wait_for_others`` first waits at a barrier for every rank to get here.

    Only a rank that finished normally should wait: after an error the others may never arrive.
    The barrier makes the ranks leave together: once in CI, a rank that left while rank 0 was still
    writing its last checkpoint was aborted on exit (``terminate called without an active exception``).
    """
    if dist.is_initialized():
        if wait_for_others:
            dist.barrier()
        dist.destroy_process_group()


def data_parallel(module: nn.Module, ctx: DistributedContext, device: torch.device) -> nn.Module:
    """``module`` wrapped in DDP (its weights broadcast from rank 0), or itself in a single-process run."""
    if not ctx.enabled:
        return module
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def broadcast(obj: Any, ctx: DistributedContext) -> Any:
    """Rank 0's ``obj`` on every rank (pickled between this run's own processes, never from outside)."""
    if not ctx.enabled:
        return obj
    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool, ctx: DistributedContext, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any (a stop signal seen by one stops all)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def parameter_digest(module: nn.Module) -> Tensor:
    """Two float64 numbers that change with any weight: the sum and a position-weighted sum."""
    total = torch.zeros(2, dtype=torch.float64)
    for p in module.parameters():
        flat = p.detach().double().flatten().cpu()
        total[0] += flat.sum()
        total[1] += (flat * torch.arange(1, flat.numel() + 1, dtype=torch.float64).remainder(97)).sum()
    return total


def check_replicas_identical(modules: dict[str, nn.Module], ctx: DistributedContext, device: torch.device) -> None:
    """Raise if any rank's weights differ from rank 0's (DDP keeps them equal; a bug would not)."""
    if not ctx.enabled:
        return
    for name, module in modules.items():
        mine = parameter_digest(module).to(device)
        digests = [torch.zeros_like(mine) for _ in range(ctx.world_size)]
        dist.all_gather(digests, mine)
        if any(not torch.equal(d, digests[0]) for d in digests):
            raise RuntimeError(f"the replicas of the {name} differ between ranks: {[d.tolist() for d in digests]}")


class Objective(nn.Module):
    """``forward(*args) = loss_fn(module, *args)``: the whole loss as one module call, which is what DDP wraps.

    DDP averages gradients for the parameters a forward used; the world model's and the agent's losses
    are methods that call their networks several times, so this puts them behind one ``forward``.
    """

    def __init__(self, module: nn.Module, loss_fn) -> None:
        super().__init__()
        self.module = module
        self.loss_fn = loss_fn

    def forward(self, *args: Any) -> Any:
        return self.loss_fn(self.module, *args)
