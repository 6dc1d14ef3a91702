"""EDM denoiser wrapper: preconditioning, training noise levels and the loss (Karras et al. 2022, Table 1).

The inner network ``F`` sees ``c_in * x`` and ``c_noise`` and the denoiser is
``D(x; sigma) = c_skip * x + c_out * F(c_in * x, c_noise)`` (eq. 7). Training minimises
``|F - (x0 - c_skip * x) / c_out|^2`` (eq. 8, with EDM's weighting folded into the target).
DIAMOND's offset noise adds a per-image, per-channel constant of scale ``sigma_offset`` to the
training noise; the preconditioning then uses ``s = sqrt(sigma^2 + sigma_offset^2)`` (REFERENCE.md s3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class EDMConfig:
    """Noise settings of one denoiser (DIAMOND's values by default)."""

    sigma_data: float = 0.5
    sigma_offset: float = 0.0  # DIAMOND uses 0.3
    p_mean: float = -0.4  # ln(sigma) ~ N(p_mean, p_std^2) during training
    p_std: float = 1.2
    sigma_min_train: float = 2e-3
    sigma_max_train: float = 20.0


class Preconditioning(NamedTuple):
    c_in: Tensor
    c_skip: Tensor
    c_out: Tensor
    c_noise: Tensor


def precondition(sigma: Tensor, sigma_data: float, sigma_offset: float = 0.0) -> Preconditioning:
    """EDM's scalings for noise level ``sigma`` (shape ``(B,)``), with offset noise folded in."""
    s2 = sigma**2 + sigma_offset**2
    c_in = 1 / (s2 + sigma_data**2).sqrt()
    c_skip = sigma_data**2 / (s2 + sigma_data**2)
    c_out = s2.sqrt() * sigma_data / (s2 + sigma_data**2).sqrt()
    c_noise = s2.sqrt().log() / 4
    return Preconditioning(c_in, c_skip, c_out, c_noise)


class InnerNetwork(Protocol):
    """``F(c_in * x, c_noise, **cond)`` of the same shape as ``x``."""

    def __call__(self, x: Tensor, c_noise: Tensor, **cond: Any) -> Tensor: ...


def _expand(t: Tensor, like: Tensor) -> Tensor:
    return t.reshape(-1, *([1] * (like.ndim - 1)))


class Denoiser(nn.Module):
    """Wraps an inner network with EDM preconditioning; ``forward`` is ``D(x; sigma)``."""

    def __init__(self, inner: nn.Module, config: EDMConfig) -> None:
        super().__init__()
        self.inner = inner
        self.config = config

    def conditioners(self, sigma: Tensor) -> Preconditioning:
        return precondition(sigma, self.config.sigma_data, self.config.sigma_offset)

    def forward(self, x: Tensor, sigma: Tensor, **cond: Any) -> Tensor:
        """The denoised estimate of ``x`` at noise level ``sigma`` (``(B,)``)."""
        c = self.conditioners(sigma)
        out = self.inner(_expand(c.c_in, x) * x, c.c_noise, **cond)
        return _expand(c.c_skip, x) * x + _expand(c.c_out, x) * out

    def sample_sigma(self, n: int, device: torch.device | str) -> Tensor:
        """Training noise levels: log-normal, clipped to ``[sigma_min_train, sigma_max_train]``."""
        cfg = self.config
        sigma = (torch.randn(n, device=device) * cfg.p_std + cfg.p_mean).exp()
        return sigma.clamp(cfg.sigma_min_train, cfg.sigma_max_train)

    def add_noise(self, x0: Tensor, sigma: Tensor) -> Tensor:
        """``x0 + sigma_offset * eps_offset + sigma * eps``, eps_offset constant over each image channel."""
        noisy = x0 + _expand(sigma, x0) * torch.randn_like(x0)
        if self.config.sigma_offset > 0:
            offset = torch.randn(*x0.shape[:-2], 1, 1, device=x0.device, dtype=x0.dtype)
            noisy = noisy + self.config.sigma_offset * offset
        return noisy

    def loss(self, x0: Tensor, sigma: Tensor | None = None, **cond: Any) -> tuple[Tensor, dict[str, float], Tensor]:
        """EDM loss on clean targets ``x0``; returns ``(loss, metrics, denoised)``.

        ``denoised`` is ``D(x; sigma)`` at the sampled noise levels (used by JEDI's random switching).
        """
        if sigma is None:
            sigma = self.sample_sigma(x0.shape[0], x0.device)
        noisy = self.add_noise(x0, sigma)
        c = self.conditioners(sigma)
        out = self.inner(_expand(c.c_in, noisy) * noisy, c.c_noise, **cond)
        target = (x0 - _expand(c.c_skip, noisy) * noisy) / _expand(c.c_out, noisy)
        loss = nn.functional.mse_loss(out, target)
        denoised = _expand(c.c_skip, noisy) * noisy + _expand(c.c_out, noisy) * out
        return loss, {"denoise_loss": loss.item()}, denoised
