"""How a model folder stores its weights: float32, float16, or int8 with a scale per output channel.

``int8`` is symmetric per-output-channel quantisation of every weight matrix and convolution kernel
(``w ~= q * scale``, ``q`` in [-127, 127], ``scale = max|w| / 127`` over all but the first dimension);
biases, norms and embeddings small enough not to matter are kept in float16. It is what lets a whole
agent (world model, decoder, reward/termination model and actor-critic, ~15M parameters) ship in the
20 MB the bundled models may take. Weights are decoded back to float32 on load, so the networks and
their speed are the same whatever the storage; only the rounding differs (measure it with
``jedi-eval fidelity`` on the exported folder).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

WeightsDType = Literal["float32", "float16", "int8"]
WEIGHTS_DTYPES: tuple[str, ...] = ("float32", "float16", "int8")
SCALE_SUFFIX = ":scale"  # the int8 tensor "name" has its float32 scales in "name:scale"
MIN_QUANTISED_SIZE = 1024  # smaller tensors are not worth the rounding


def encode_weights(state: dict[str, Tensor], dtype: WeightsDType) -> dict[str, Tensor]:
    """A state dict as tensors to write with safetensors, in storage ``dtype``."""
    if dtype not in WEIGHTS_DTYPES:
        raise ValueError(f"unknown weights dtype {dtype!r}; choose from {', '.join(WEIGHTS_DTYPES)}")
    out: dict[str, Tensor] = {}
    for name, t in state.items():
        t = t.detach().cpu()
        if not t.is_floating_point() or dtype == "float32":
            out[name] = t.contiguous()
        elif dtype == "int8" and t.dim() >= 2 and t.numel() >= MIN_QUANTISED_SIZE:
            out[name], out[name + SCALE_SUFFIX] = quantise_int8(t.float())
        else:
            out[name] = t.to(torch.float16).contiguous()
    return out


def decode_weights(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """Tensors read from a weights file -> a float32 state dict (the inverse of ``encode_weights``).

    Raises:
        ValueError: an int8 tensor without its scales, scales without their tensor, or mismatched shapes.
    """
    state: dict[str, Tensor] = {}
    for name, t in tensors.items():
        if name.endswith(SCALE_SUFFIX):
            if name[: -len(SCALE_SUFFIX)] not in tensors:
                raise ValueError(f"scales {name} have no int8 tensor")
            continue
        if t.dtype == torch.int8:
            scale = tensors.get(name + SCALE_SUFFIX)
            if scale is None:
                raise ValueError(f"int8 tensor {name} has no scales ({name + SCALE_SUFFIX})")
            state[name] = dequantise_int8(t, scale, name)
        elif t.is_floating_point():
            state[name] = t.float()
        else:
            state[name] = t
    return state


def quantise_int8(w: Tensor) -> tuple[Tensor, Tensor]:
    """``w`` (out, ...) -> int8 ``q`` of the same shape and float32 ``scale`` (out,), ``w ~= q * scale``."""
    scale = w.abs().flatten(1).amax(dim=1).clamp_min(1e-12) / 127  # (out,)
    q = torch.round(w / scale.view(-1, *([1] * (w.dim() - 1)))).clamp_(-127, 127).to(torch.int8)
    return q.contiguous(), scale.contiguous()


def dequantise_int8(q: Tensor, scale: Tensor, name: str = "tensor") -> Tensor:
    if scale.dim() != 1 or scale.shape[0] != q.shape[0]:
        raise ValueError(f"{name}: {scale.shape[0] if scale.dim() else 0} scales for {q.shape[0]} output channels")
    return q.float() * scale.float().view(-1, *([1] * (q.dim() - 1)))
