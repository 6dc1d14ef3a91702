"""``jedi-eval playability``'s figures, each on a tiny hand-built case, and the command end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from app_helpers import write_model
from cli_helpers import assert_one_line_error, run_script

from jedi_play.env.atari import make_train_env
from jedi_play.models.reward_end import RewardEndConfig, RewardEndModel
from jedi_play.models.world_model import WorldModel
from trainer.eval.action_response import action_pairs, action_response, effect_maps, real_branches, response_figures
from trainer.eval.open_loop_tallies import MovingPixelTally, OutcomeTally, matched_events
from trainer.eval.start_states import random_start_states

BREAKOUT_ACTIONS = ["NOOP", "FIRE", "RIGHT", "LEFT"]


def test_action_pairs_are_the_opposites_the_game_has() -> None:
    assert action_pairs(BREAKOUT_ACTIONS) == [(2, 3), (1, 0)]
    asterix = ["NOOP", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT", "DOWNLEFT"]
    assert action_pairs(asterix) == [(2, 3), (1, 4)]


def test_response_figures_by_hand() -> None:
    real = torch.zeros(2, 4, 4)
    real[0, 1, 1], real[1, 2, 3] = 0.5, 0.25  # where two actions' frames differ
    assert response_figures(real, real) == pytest.approx({"correlation": 1.0, "magnitude_ratio": 1.0})
    assert response_figures(real, real / 2) == pytest.approx({"correlation": 1.0, "magnitude_ratio": 0.5})
    ignores = response_figures(real, torch.zeros_like(real))  # the branches never differ
    assert ignores == {"correlation": 0.0, "magnitude_ratio": 0.0}
    elsewhere = torch.zeros_like(real)
    elsewhere[0, 3, 0] = 0.5  # the same amount of change, in the wrong place
    assert response_figures(real, elsewhere)["correlation"] < 0
    assert response_figures(torch.zeros_like(real), real) == {"correlation": None, "magnitude_ratio": None}


class NothingHappens(torch.nn.Module):
    """A reward/termination model that never predicts a reward or an end."""

    cfg = RewardEndConfig(3, 8)
    window_inputs = RewardEndModel.window_inputs
    step_inputs = RewardEndModel.step_inputs

    def forward(self, x: torch.Tensor, actions: torch.Tensor, next_x: torch.Tensor, state: object = None) -> tuple:
        return torch.zeros(*actions.shape, 3), torch.zeros(*actions.shape, 2), state


class NoiseWorld(torch.nn.Module):
    """A dream that ignores the actions: each next frame (its state) is the sampler's noise alone."""

    num_cond_steps = 4
    reward_window_inputs = WorldModel.reward_window_inputs
    reward_step_inputs = WorldModel.reward_step_inputs

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # the device is read from the parameters
        self.reward_end = NothingHappens()

    def to_states(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.float()

    def to_frames(self, states: torch.Tensor) -> torch.Tensor:
        return states.round().to(torch.uint8)

    def sample_next(self, states: torch.Tensor, actions: torch.Tensor, steps: int | None = None, generator: object = None) -> tuple[torch.Tensor, None]:
        noise = torch.randn(states[:, -1].shape, generator=generator)
        return (noise * 40 + 128).clamp(0, 255), None


def test_the_real_game_answers_its_keys_and_a_dream_that_ignores_them_does_not() -> None:
    env = make_train_env("Breakout")
    try:
        states = random_start_states(env, 4, 4, seed=5)
        pairs = action_pairs(env.action_meanings)
        real = effect_maps(real_branches(env, states, pairs, [1, 4, 8]))
        again = effect_maps(real_branches(env, states, pairs, [1, 4, 8]))  # restored states replay exactly
        dream = action_response(NoiseWorld(), env, states, steps=1, batch_size=3, seed=0)  # batches cut across states
    finally:
        env.close()
    assert real.shape == (4, 2, 3, 64, 64) and torch.equal(real, again)
    assert real[:, 0, 2].sum() > 0  # the paddle moves: RIGHT and LEFT differ after 8 steps
    assert response_figures(real, again)["correlation"] == pytest.approx(1.0)
    assert dream["pairs"] == ["RIGHT/LEFT", "FIRE/NOOP"] and dream["states"] == 4
    for k in ("1", "4", "8"):  # same noise in both branches: the picture never depends on the key
        assert dream[k]["correlation"] == 0.0 and dream[k]["magnitude_ratio"] == 0.0


def test_moving_pixel_psnr_looks_only_where_the_game_moves() -> None:
    before = torch.zeros(1, 8, 8, 3)
    real = before.clone()
    real[0, 2, 3] = 1.0  # a sprite appears: the only moving pixel
    keeps_sprite = real.clone()
    keeps_sprite[0, 6:, :] = 0.5  # but smears the still background
    tally = MovingPixelTally()
    tally.add(keeps_sprite, real, before, before)
    figures = tally.result()
    assert figures["pixels"] == 1 and figures["psnr"] == float("inf")
    assert figures["psnr_copy_last"] == pytest.approx(0.0)  # copy-last shows black where the sprite is white
    loses_sprite = MovingPixelTally()
    loses_sprite.add(before, real, before, before)
    assert loses_sprite.result()["psnr"] == pytest.approx(0.0)
    assert MovingPixelTally().result() == {"psnr": None, "psnr_copy_last": None, "pixels": 0}


def test_events_match_within_the_tolerance() -> None:
    real = torch.tensor([[0, 0, 0, 1, 0, 0, 0, 0, 0, -1]])
    dream = torch.tensor([[0, 0, 0, 0, 1, 0, 0, 1, 0, 1]])  # one step late; one invented; the wrong sign
    valid = torch.ones_like(real, dtype=torch.bool)
    assert matched_events(real, dream, valid, 1).tolist() == [[False] * 3 + [True] + [False] * 6]
    assert not matched_events(real, dream, valid, 0).any()
    tally = OutcomeTally(tolerance=1)
    ends = torch.zeros_like(valid)
    real_end, dream_end = ends.clone(), ends.clone()
    real_end[0, 9], dream_end[0, 8] = True, True
    tally.add(real.float(), dream.float(), real_end, dream_end, valid)
    figures = tally.result()
    assert figures["rewards"] == {"real_events": 2, "dream_events": 3, "recall": 0.5, "precision": pytest.approx(1 / 3)}
    assert figures["life_losses"] == {"real_events": 1, "dream_events": 1, "recall": 1.0, "precision": 1.0}
    past_the_end = valid.clone()
    past_the_end[0, 9] = False  # the real episode ended before the last step: nothing there counts
    tally = OutcomeTally(tolerance=1)
    tally.add(real.float(), dream.float(), real_end, dream_end, past_the_end)
    assert tally.result()["rewards"]["real_events"] == 1 and tally.result()["life_losses"]["recall"] is None


def test_command_prints_and_saves_the_figures(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "model", "Breakout", BREAKOUT_ACTIONS)
    out = tmp_path / "playability.json"
    result = run_script("jedi-eval", "playability", "--model", str(folder), "--game", "breakout", "--episodes", "1", "--states", "2", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "Breakout jedi world model, 1 held-out episodes (person)" in result.stdout
    assert "action response (RIGHT/LEFT, FIRE/NOOP from 2 real states)" in result.stdout
    saved = json.loads(out.read_text())
    assert saved["policy"] == "person" and set(saved["action_response"]) >= {"pairs", "states", "1", "4", "8"}
    assert set(saved["moving_psnr"]["1"]) == {"psnr", "psnr_copy_last", "pixels"}
    assert set(saved["outcomes"]) == {"rewards", "life_losses", "tolerance_steps"}
    fidelity = tmp_path / "fidelity.json"
    result = run_script("jedi-eval", "fidelity", "--model", str(folder), "--episodes", "1", "--states", "0", "--json", str(fidelity))
    assert result.returncode == 0, result.stderr
    saved = json.loads(fidelity.read_text())
    assert saved["policy"] == "random" and "action_response" not in saved and "outcomes" in saved
    assert_one_line_error(run_script("jedi-eval", "playability", "--model", str(folder), "--states", "-1"), "--states must be at least 0")
    assert_one_line_error(run_script("jedi-eval", "playability", "--model", str(folder), "--game", "Pong"), "is for Breakout, not Pong")
