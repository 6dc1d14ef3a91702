"""Training checkpoints: model and optimizer tensors in one safetensors file, the rest as JSON metadata.

One file, written atomically: a kill leaves the previous checkpoint intact. Nothing is pickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_safetensors

from jedi_play.cli.errors import UserError
from jedi_play.data.atomic import atomic_write_bytes


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, meta: dict[str, Any]) -> None:
    """Write model weights, optimizer state and ``meta`` (JSON-serialisable) to ``path`` atomically."""
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for idx, state in opt["state"].items():
        for name, value in state.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"optim.{idx}.{name}"] = t.detach().contiguous().cpu()
    metadata = {"meta": json.dumps(meta), "param_groups": json.dumps(opt["param_groups"])}
    atomic_write_bytes(path, save_safetensors(tensors, metadata=metadata))


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any]:
    """Restore a checkpoint written by ``save_checkpoint`` (strictly) and return its ``meta``."""
    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata()
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta, param_groups = json.loads(metadata["meta"]), json.loads(metadata["param_groups"])
    except (OSError, SafetensorError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"checkpoint {path} is damaged or unreadable ({e})") from None
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_state, strict=True)
    except RuntimeError as e:
        raise UserError(f"checkpoint {path} does not fit this model: {str(e).splitlines()[0]}") from None
    if optimizer is not None:
        state: dict[int, dict[str, torch.Tensor]] = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        optimizer.load_state_dict({"state": state, "param_groups": param_groups})
    return meta
