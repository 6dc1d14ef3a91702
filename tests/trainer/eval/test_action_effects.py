"""``jedi-eval ranking``'s action effects: the figures by hand, and real next frames from restored states."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from jedi_play.env.atari import make_train_env
from trainer.eval.action_effects import effect_figures, real_next_frames
from trainer.eval.start_states import random_start_states


def _real() -> torch.Tensor:
    # 2 states, 3 actions, 2 state elements: deviations from the mean over actions are +-1 and 0
    return torch.tensor([[[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]], [[0.0, 2.0], [0.0, 1.0], [0.0, 0.0]]])


def test_a_dream_that_moves_with_the_action_as_the_game_does() -> None:
    real = _real()
    noise = torch.tensor([0.5, -0.5])[None, None, :, None]  # two samples, +-0.5 around the real next state
    figures = effect_figures(real, real[:, :, None] + noise)
    assert figures["alignment"] == pytest.approx(1.0) and figures["explained"] == pytest.approx(1.0)
    assert figures["real_spread"] == pytest.approx(figures["dream_spread"]) == pytest.approx(math.sqrt(4 / 12))
    assert figures["dream_noise"] == pytest.approx(math.sqrt(0.25 * 2))  # unbiased: k / (k - 1) = 2


def test_a_reversed_and_an_action_blind_dream() -> None:
    real = _real()
    reversed_ = effect_figures(real, (-real)[:, :, None].expand(-1, -1, 2, -1))
    assert reversed_["alignment"] == pytest.approx(-1.0) and reversed_["explained"] == pytest.approx(-3.0)
    assert reversed_["dream_noise"] == 0.0
    blind = effect_figures(real, torch.randn(2, 1, 4, 2).expand(-1, 3, -1, -1))  # the same samples for every action
    assert blind["dream_spread"] == 0.0 and blind["explained"] == pytest.approx(0.0) and math.isnan(blind["alignment"])


def test_real_next_frames_follow_each_action_from_the_restored_state() -> None:
    env = make_train_env("Breakout")
    try:
        states = random_start_states(env, 2, 4, seed=3)
        frames = real_next_frames(env, states)
        again = real_next_frames(env, states)
    finally:
        env.close()
    assert frames.shape == (2, 4, 64, 64, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames, again)
