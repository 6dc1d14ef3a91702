"""Karras noise schedule and the Euler / Heun samplers (Karras et al. 2022, eq. 5 and Algorithm 1)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

DenoiseFn = Callable[[Tensor, Tensor], Tensor]  # (x, sigma of shape (B,)) -> denoised x
StepCallback = Callable[[int, Tensor, Tensor, Tensor], None]  # (step, sigma, x, denoised)


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0, device: str | torch.device = "cpu") -> Tensor:
    """``n`` noise levels from ``sigma_max`` down to ``sigma_min`` (eq. 5), followed by a final 0."""
    if n < 1:
        raise ValueError("at least one sampling step is needed")
    ramp = torch.linspace(0, 1, n, device=device) if n > 1 else torch.zeros(1, device=device)
    max_inv, min_inv = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    sigmas = (max_inv + ramp * (min_inv - max_inv)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)])


@torch.no_grad()
def sample_euler(denoise: DenoiseFn, x: Tensor, sigmas: Tensor, callback: StepCallback | None = None) -> Tensor:
    """Euler steps of the probability-flow ODE ``dx/dsigma = (x - D(x; sigma)) / sigma``, no churn.

    ``x`` is the initial noise already scaled by ``sigmas[0]``; one network call per step.
    """
    for i in range(len(sigmas) - 1):
        sigma = sigmas[i].expand(x.shape[0])
        denoised = denoise(x, sigma)
        if callback is not None:
            callback(i, sigmas[i], x, denoised)
        d = (x - denoised) / sigmas[i]
        x = x + d * (sigmas[i + 1] - sigmas[i])
    return x


@torch.no_grad()
def sample_heun(denoise: DenoiseFn, x: Tensor, sigmas: Tensor, callback: StepCallback | None = None) -> Tensor:
    """Heun's second-order correction (Algorithm 1); the last step to sigma = 0 is plain Euler."""
    for i in range(len(sigmas) - 1):
        sigma = sigmas[i].expand(x.shape[0])
        denoised = denoise(x, sigma)
        if callback is not None:
            callback(i, sigmas[i], x, denoised)
        d = (x - denoised) / sigmas[i]
        dt = sigmas[i + 1] - sigmas[i]
        x_next = x + d * dt
        if sigmas[i + 1] > 0:
            d_next = (x_next - denoise(x_next, sigmas[i + 1].expand(x.shape[0]))) / sigmas[i + 1]
            x_next = x + (d + d_next) / 2 * dt
        x = x_next
    return x
