"""What both world models share: the batch format, the sampler settings and the interface the dream env uses.

A world model works on *states*: latents for JEDI, frames in [-1, 1] for DIAMOND. The dream env only
needs ``to_states`` (frames -> states), ``predict_next`` (sample the next state from the last
``num_cond_steps`` states and actions), ``to_frames`` (states -> uint8 pixels) and ``reward_end`` with
the inputs ``reward_window_inputs`` and ``reward_step_inputs`` give it.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from jedi_play.diffusion import Denoiser, karras_sigmas, sample_euler, sample_heun
from jedi_play.models.reward_end import RewardEndModel


@dataclass(frozen=True)
class SamplerConfig:
    """DIAMOND's sampler: 3 Euler steps on a Karras schedule from 5 down to 2e-3, no churn."""

    steps: int = 3
    sigma_min: float = 2e-3
    sigma_max: float = 5.0
    rho: float = 7.0
    method: str = "euler"  # or "heun"


@dataclass
class Batch:
    """A training batch on the model's device: segments of ``L`` steps, ``L + 1`` frames."""

    frames: Tensor  # (B, L + 1, 3, 64, 64) float in [-1, 1]
    actions: Tensor  # (B, L) long
    rewards: Tensor  # (B, L) float
    ends: Tensor  # (B, L) bool: the step ended the (training) episode
    mask: Tensor  # (B, L + 1) bool: real frame (False on padding before the episode start)


C = TypeVar("C")


def config_from_dict(cls: type[C], d: dict[str, Any]) -> C:
    """Rebuild a frozen config dataclass from its ``asdict`` form (nested configs, lists back to tuples)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in d:
            continue
        value, tp = d[f.name], hints[f.name]
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            value = tp(**value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    unknown = set(d) - set(kwargs)
    if unknown:
        raise TypeError(f"unknown config fields {sorted(unknown)}")
    return cls(**kwargs)


class JSONConfig:
    """Mixin of the models' frozen config dataclasses: to and from ``config.json`` dictionaries."""

    num_actions: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        return config_from_dict(cls, d)


def frames_to_tensor(frames: Tensor) -> Tensor:
    """uint8 ``(..., H, W, 3)`` -> float ``(..., 3, H, W)`` in [-1, 1]."""
    return frames.movedim(-1, -3).float().div(127.5).sub(1)


def tensor_to_frames(x: Tensor) -> Tensor:
    """float ``(..., 3, H, W)`` in [-1, 1] -> uint8 ``(..., H, W, 3)``."""
    return x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).movedim(-3, -1)


class WorldModel(nn.Module):
    """Base class: a denoiser over states, a reward/termination model over states, and sampling."""

    cfg: JSONConfig
    num_cond_steps: int
    denoiser: Denoiser
    reward_end: RewardEndModel
    sampler: SamplerConfig

    def to_states(self, frames: Tensor) -> Tensor:
        """uint8 frames ``(B, T, H, W, 3)`` -> states ``(B, T, C, h, w)``."""
        raise NotImplementedError

    def to_frames(self, states: Tensor) -> Tensor:
        """States ``(B, C, h, w)`` -> uint8 frames ``(B, H, W, 3)``."""
        raise NotImplementedError

    def postprocess(self, state: Tensor) -> Tensor:
        """Applied to each sampled state (clamping / quantisation)."""
        return state

    def training_loss(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        raise NotImplementedError

    def after_update(self) -> None:
        """Called after each optimizer step (JEDI updates its EMA target encoder here)."""

    @torch.no_grad()
    def predict_next(
        self, states: Tensor, actions: Tensor, steps: int | None = None, callback=None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Sample the next state from ``states`` ``(B, n, C, h, w)`` and ``actions`` ``(B, n)``."""
        return self.sample_next(states, actions, steps, callback, generator)[0]

    @torch.no_grad()
    def sample_next(
        self, states: Tensor, actions: Tensor, steps: int | None = None, callback=None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """``predict_next``, and the regressed mean next state the sample was drawn around (``None`` without
        ``mean_prediction``), which ``reward_step_inputs`` may read without running the regression again."""
        cfg = self.sampler
        sigmas = karras_sigmas(steps or cfg.steps, cfg.sigma_min, cfg.sigma_max, cfg.rho, device=states.device)
        noise = torch.randn(states[:, -1].shape, generator=generator, device=states.device, dtype=states.dtype)
        x = noise * sigmas[0]
        sample = sample_heun if cfg.method == "heun" else sample_euler
        obs = self.diffusion_inputs(states)
        x = sample(lambda x, s: self.denoiser(x, s, obs=obs, actions=actions), x, sigmas, callback)
        mean = self.mean_prediction(obs, actions)
        if mean is None:
            return self.postprocess(self.next_from_diffusion(x, states)), None
        # the denoiser sampled the residual around the mean
        return self.postprocess(self.next_from_diffusion(x + mean, states)), self.postprocess(self.next_from_diffusion(mean, states))

    # The denoiser's space: the states themselves unless a model normalises them or predicts their change.

    def diffusion_inputs(self, states: Tensor) -> Tensor:
        """The conditioning states ``(B, n, ...)`` as the denoiser reads them."""
        return states

    def diffusion_target(self, next_state: Tensor, states: Tensor) -> Tensor:
        """What the denoiser learns to produce for ``next_state`` (B, ...) after ``states`` (B, n, ...)."""
        return next_state

    def next_from_diffusion(self, x: Tensor, states: Tensor) -> Tensor:
        """The inverse of ``diffusion_target``: the next state from the denoiser's output ``x``."""
        return x

    def mean_prediction(self, obs: Tensor, actions: Tensor) -> Tensor | None:
        """A regressed mean of the next state in the denoiser's space, from ``diffusion_inputs(states)`` and
        ``actions``; the denoiser then diffuses the residual around it. ``None``: it diffuses the state itself."""
        return None

    # What the reward/termination model reads: by default each step's transition into the next state.

    def reward_window_inputs(self, states: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The reward model's inputs over a window of ``states`` (B, T + 1, ...) and the ``T`` actions taken on the first ``T``."""
        return self.reward_end.window_inputs(states, actions)

    def reward_step_inputs(
        self, states: Tensor, actions: Tensor, next_state: Tensor, regressed: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The reward model's inputs of one step from ``states`` (B, n, ...), the ``actions`` (B, n) taken on
        them (the last is the step's) and the ``next_state`` (B, ...) it led to (in a dream, sampled);
        ``regressed``: ``sample_next``'s regressed mean of this step, when the caller has it."""
        return self.reward_end.step_inputs(states, actions[:, -1], next_state)

    def state_statistics(self) -> tuple[Tensor, Tensor] | None:
        """Running mean ``(C, h, w)`` and spread ``()`` of the states, for readers that standardise them
        (``ActorCritic``); ``None`` when the model keeps none."""
        return None

    def num_parameters(self) -> dict[str, int]:
        return {name: sum(p.numel() for p in m.parameters()) for name, m in self.named_children()}
