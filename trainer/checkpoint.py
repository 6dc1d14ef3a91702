"""Training checkpoints: models' and optimizers' tensors in one safetensors file, the rest as JSON metadata.

One file, written atomically: a kill leaves the previous checkpoint intact. Nothing is pickled. Each
model and optimizer is stored under a name (``model.<param>``, ``optim.<index>.<state>``), so one file
holds the world model, the agent and both optimizers of a whole-agent run.
"""

from __future__ import annotations

import json
import lzma
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from jedi_play.cli.errors import UserError
from jedi_play.data.atomic import atomic_write_bytes

RUN_AGENT_FILE = "run_agent.safetensors"  # a whole-agent run's agent as it was before its final agent's updates
WEIGHTS_FILE = "weights.safetensors.xz"  # a run's weights only, bf16, xz-compressed: small enough to commit and resume elsewhere


def save_checkpoints(
    path: Path, models: Mapping[str, torch.nn.Module], optimizers: Mapping[str, torch.optim.Optimizer], meta: dict[str, Any]
) -> None:
    """Write named models' weights, named optimizers' states and ``meta`` (JSON-serialisable) atomically."""
    tensors: dict[str, torch.Tensor] = {}
    metadata = {"meta": json.dumps(meta)}
    for name, model in models.items():
        tensors.update({f"{name}.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()})
    for name, optimizer in optimizers.items():
        opt = optimizer.state_dict()
        for idx, state in opt["state"].items():
            for key, value in state.items():
                t = value if torch.is_tensor(value) else torch.tensor(value)
                tensors[f"{name}.{idx}.{key}"] = t.detach().contiguous().cpu()
        metadata[f"{name}.param_groups"] = json.dumps(opt["param_groups"])
    atomic_write_bytes(path, save_safetensors(tensors, metadata=metadata))


def load_checkpoints(
    path: Path, models: Mapping[str, torch.nn.Module], optimizers: Mapping[str, torch.optim.Optimizer] | None = None
) -> dict[str, Any]:
    """Restore what ``save_checkpoints`` (or ``save_weights``: a ``.xz`` file) wrote into ``models`` (strictly) and
    ``optimizers``; return ``meta``."""
    try:
        if path.suffix == ".xz":
            metadata, tensors = _safetensors_from_bytes(lzma.decompress(path.read_bytes()))
        else:
            with safe_open(path, framework="pt") as f:
                metadata = f.metadata()
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = json.loads(metadata["meta"])
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, lzma.LZMAError) as e:
        raise UserError(f"checkpoint {path} is damaged or unreadable ({e})") from None
    for name, model in models.items():
        state = {k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(f"{name}.")}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise UserError(f"checkpoint {path} does not fit this {name}: {str(e).splitlines()[0]}") from None
    for name, optimizer in (optimizers or {}).items():
        # "param_groups" is where checkpoints of the first version kept their one optimizer's groups
        groups = metadata.get(f"{name}.param_groups", metadata.get("param_groups"))
        if groups is None:
            raise UserError(f"checkpoint {path} holds no optimizer state for {name}")
        opt_state: dict[int, dict[str, torch.Tensor]] = {}
        for k, v in tensors.items():
            if k.startswith(f"{name}."):
                _, idx, key = k.split(".", 2)
                opt_state.setdefault(int(idx), {})[key] = v
        optimizer.load_state_dict({"state": opt_state, "param_groups": json.loads(groups)})
    return meta


def _safetensors_from_bytes(data: bytes) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The metadata and tensors of a safetensors file held in memory (its header: 8-byte length, then JSON)."""
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    return header.get("__metadata__", {}), load_safetensors(data)


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, meta: dict[str, Any]) -> None:
    """One model and its optimizer (``jedi-train world-model``)."""
    save_checkpoints(path, {"model": model}, {"optim": optimizer}, meta)


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any]:
    """Restore a checkpoint written by ``save_checkpoint`` (strictly) and return its ``meta``."""
    return load_checkpoints(path, {"model": model}, {"optim": optimizer} if optimizer is not None else None)


def save_weights(path: Path, model: torch.nn.Module, meta: dict[str, Any], dtype: torch.dtype = torch.bfloat16) -> None:
    """``model``'s weights alone, floating tensors in ``dtype``, with ``meta``, as safetensors compressed by xz
    (bf16: 15 MB for the `cpu` preset's JEDI, an eighth of a checkpoint with its optimizer);
    ``load_checkpoint(path, model)`` restores them (cast back to the model's dtype)."""
    small = {k: v.to(dtype) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in small.items()}
    data = save_safetensors(tensors, metadata={"meta": json.dumps(meta), "weights_only": "1"})
    atomic_write_bytes(path, lzma.compress(data, preset=1))  # preset 1: 3 s for 21 MB, within 4% of preset 6's size

