"""JEDI's training loss reuses the two predictions' regressed means for the reward model's window: the same
inputs as running the mean predictor again on every step of the window."""

from __future__ import annotations

import pytest
import torch

from jedi_play.models.jedi import JEDIConfig, JEDIWorldModel
from jedi_play.models.world_model import Batch


def cpu_preset_like(switch_prob: float) -> JEDIWorldModel:
    cfg = JEDIConfig(
        num_actions=6, denoiser_channels=(32,), mean_predictor_channels=(32,), decoder_channels=(32, 16, 8), reward_end_lstm=32,
        latent_norm=True, predict_delta=True, reward_reads_mean=True, reward_reads_standardized=True, switch_prob=switch_prob,
    )
    return JEDIWorldModel(cfg)


def test_known_means_give_the_window_the_regression_would() -> None:
    torch.manual_seed(0)
    model = cpu_preset_like(0.0)
    n, b = model.num_cond_steps, 3
    z = torch.randn(b, n + 2, 16, 8, 8)
    actions = torch.randint(0, 6, (b, n + 1))
    model.update_latent_stats(z)
    obs1, obs2 = z[:, :n], z[:, 1 : n + 1]
    known = {n - 1: (model.mean_prediction(model.diffusion_inputs(obs1), actions[:, :n]), obs1),
             n: (model.mean_prediction(model.diffusion_inputs(obs2), actions[:, 1:]), obs2)}
    _, _, full = model._reward_window_inputs(z, actions)
    _, _, reused = model._reward_window_inputs(z, actions, known)
    assert full.shape == reused.shape == (b, n + 1, 16, 8, 8)
    torch.testing.assert_close(reused, full, rtol=1e-5, atol=1e-5)
    _, _, partly = model._reward_window_inputs(z, actions, {n - 1: known[n - 1]})  # a switched batch knows one step
    torch.testing.assert_close(partly, full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("switch_prob", [0.0, 1.0])
def test_training_loss_matches_the_window_it_would_recompute(switch_prob: float, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(1)
    model = cpu_preset_like(switch_prob)
    n, b = model.num_cond_steps, 4
    batch = Batch(
        frames=torch.rand(b, n + 2, 3, 64, 64) * 2 - 1, actions=torch.randint(0, 6, (b, n + 1)),
        rewards=torch.randint(-1, 2, (b, n + 1)).float(), ends=torch.zeros(b, n + 1, dtype=torch.bool), mask=torch.ones(b, n + 2, dtype=torch.bool),
    )
    torch.manual_seed(2)
    loss, metrics = model.training_loss(batch)
    recompute = JEDIWorldModel._reward_window_inputs
    monkeypatch.setattr(JEDIWorldModel, "_reward_window_inputs", lambda self, states, actions, known=None: recompute(self, states, actions))
    torch.manual_seed(2)
    model.latent_stats_updates.zero_()  # the first batch sets the statistics again, as in the first call
    again, metrics_again = model.training_loss(batch)
    assert metrics["reward_loss"] == pytest.approx(metrics_again["reward_loss"], rel=1e-5)
    assert loss.item() == pytest.approx(again.item(), rel=1e-5)
