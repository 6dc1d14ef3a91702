"""EDM maths: scalings by hand, the schedule by hand, and sampling a learned 2-D Gaussian mixture."""

import math

import pytest
import torch
from torch import nn

from jedi_play.diffusion import Denoiser, EDMConfig, karras_sigmas, precondition, sample_euler, sample_heun


def test_scalings_without_offset():
    c = precondition(torch.tensor([1.0]), sigma_data=0.5)
    # c_in = 1/sqrt(1 + 0.25), c_skip = 0.25/1.25, c_out = 1*0.5/sqrt(1.25), c_noise = ln(1)/4
    assert c.c_in.item() == pytest.approx(1 / math.sqrt(1.25))
    assert c.c_skip.item() == pytest.approx(0.2)
    assert c.c_out.item() == pytest.approx(0.5 / math.sqrt(1.25))
    assert c.c_noise.item() == pytest.approx(0.0)


def test_scalings_with_offset_noise():
    c = precondition(torch.tensor([0.4]), sigma_data=0.5, sigma_offset=0.3)
    # s = sqrt(0.16 + 0.09) = 0.5: c_in = 1/sqrt(0.5), c_skip = 0.5, c_out = 0.25/sqrt(0.5), c_noise = ln(0.5)/4
    assert c.c_in.item() == pytest.approx(1 / math.sqrt(0.5))
    assert c.c_skip.item() == pytest.approx(0.5)
    assert c.c_out.item() == pytest.approx(0.25 / math.sqrt(0.5))
    assert c.c_noise.item() == pytest.approx(math.log(0.5) / 4)


def test_karras_schedule_diamond_settings():
    sigmas = karras_sigmas(3, sigma_min=2e-3, sigma_max=5.0, rho=7.0)
    mid = ((5.0 ** (1 / 7) + 2e-3 ** (1 / 7)) / 2) ** 7
    assert sigmas.tolist() == pytest.approx([5.0, mid, 2e-3, 0.0], rel=1e-5)
    assert karras_sigmas(1, 2e-3, 5.0).tolist() == pytest.approx([5.0, 0.0])


def test_training_sigmas_are_log_normal_and_clipped():
    d = Denoiser(nn.Identity(), EDMConfig())
    torch.manual_seed(0)
    s = d.sample_sigma(200_000, "cpu")
    assert s.min() >= 2e-3 and s.max() <= 20.0
    assert s.log().median().item() == pytest.approx(-0.4, abs=0.02)
    q84 = s.log().quantile(0.8413).item()
    assert q84 - (-0.4) == pytest.approx(1.2, abs=0.03)


def test_offset_noise_is_constant_per_channel():
    d = Denoiser(nn.Identity(), EDMConfig(sigma_offset=0.3))
    torch.manual_seed(0)
    x0 = torch.zeros(64, 3, 8, 8)
    noisy = d.add_noise(x0, torch.full((64,), 1e-6))  # ~no white noise: only the offset remains
    per_channel = noisy.flatten(2)
    assert (per_channel.std(dim=2) < 1e-4).all()
    assert per_channel.mean(dim=2).std().item() == pytest.approx(0.3, abs=0.05)


def test_denoiser_perfect_inner_network_recovers_x0():
    """If F outputs the training target exactly, D(x; sigma) == x0 (the loss target and D agree)."""
    x0 = torch.randn(4, 3, 8, 8) * 0.5
    d = Denoiser(nn.Identity(), EDMConfig(sigma_offset=0.3))
    sigma = torch.tensor([0.01, 0.5, 2.0, 10.0])
    noisy = d.add_noise(x0, sigma)
    c = d.conditioners(sigma)
    e = lambda t: t.view(-1, 1, 1, 1)  # noqa: E731
    target = (x0 - e(c.c_skip) * noisy) / e(c.c_out)

    class Oracle(nn.Module):
        def forward(self, x, c_noise):
            return target

    torch.testing.assert_close(Denoiser(Oracle(), d.config)(noisy, sigma), x0, atol=1e-5, rtol=1e-5)


# ---- a toy distribution learned and sampled with the project's own code ----------------------------------

MEANS = torch.tensor([[-1.0, -0.5], [1.0, -0.5], [0.0, 1.0]])
WEIGHTS = torch.tensor([0.5, 0.3, 0.2])
STD = 0.08


def sample_mixture(n: int, generator: torch.Generator) -> torch.Tensor:
    k = torch.multinomial(WEIGHTS, n, replacement=True, generator=generator)
    return MEANS[k] + STD * torch.randn(n, 2, generator=generator)


class TinyInner(nn.Module):
    def __init__(self, width: int = 128) -> None:
        super().__init__()
        self.freqs = nn.Parameter(torch.randn(16), requires_grad=False)
        self.net = nn.Sequential(nn.Linear(2 + 32, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, 2))

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        f = c_noise[:, None] * self.freqs[None] * 2 * math.pi
        return self.net(torch.cat([x, f.cos(), f.sin()], dim=1))


@pytest.fixture(scope="module")
def trained_toy_denoiser():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    denoiser = Denoiser(TinyInner(), EDMConfig(sigma_data=0.8))
    opt = torch.optim.Adam(denoiser.parameters(), lr=2e-3)
    for step in range(2500):
        loss, _, _ = denoiser.loss(sample_mixture(512, g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return denoiser.eval()


@pytest.mark.parametrize("sampler,steps", [(sample_heun, 12), (sample_euler, 30)])
def test_sampler_reproduces_the_mixture(trained_toy_denoiser, sampler, steps):
    torch.manual_seed(1)
    sigmas = karras_sigmas(steps, sigma_min=2e-3, sigma_max=10.0)
    calls = []
    x = sampler(
        lambda x, s: trained_toy_denoiser(x, s), torch.randn(6000, 2) * sigmas[0], sigmas,
        callback=lambda i, sigma, x, den: calls.append(i),
    )
    assert calls == list(range(steps))
    dist = torch.cdist(x, MEANS)
    nearest = dist.argmin(dim=1)
    weights = torch.bincount(nearest, minlength=3).float() / len(x)
    torch.testing.assert_close(weights, WEIGHTS, atol=0.04, rtol=0)
    close = dist.min(dim=1).values < 4 * STD
    assert close.float().mean() > 0.9  # samples sit on the modes, not between them
    for k in range(3):
        pts = x[(nearest == k) & close]
        torch.testing.assert_close(pts.mean(0), MEANS[k], atol=0.05, rtol=0)
        assert 0.4 * STD < pts.std(0).mean() < 1.6 * STD  # neither collapsed onto the mean nor smeared
