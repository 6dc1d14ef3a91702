"""``jedi-eval ranking``: real states restored exactly, dreamed returns per action, and the summary's figures."""

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
from trainer.eval.action_ranking import dream_returns, real_returns, spearman, summarize
from trainer.eval.start_states import random_start_states

BREAKOUT_ACTIONS = ["NOOP", "FIRE", "RIGHT", "LEFT"]


def test_spearman_by_hand() -> None:
    assert spearman(np.array([1.0, 2.0, 3.0]), np.array([30.0, 20.0, 10.0])) == pytest.approx(-1.0)
    # ties share their mean rank: ranks (0.5, 0.5, 2) against (0, 1, 2) give 1.5 / (sqrt(1.5) sqrt(2))
    assert spearman(np.array([1.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0])) == pytest.approx(1.5 / np.sqrt(3.0))
    assert spearman(np.zeros(3), np.array([1.0, 2.0, 3.0])) is None


def test_summary_of_a_right_and_of_a_reversed_dream() -> None:
    real = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    ends = np.zeros_like(real)
    right = summarize(real, real * 0.1, ends, ends, ["A", "B", "C"])
    assert right["rank_correlation_per_state"] == pytest.approx(1.0)
    assert right["states_with_distinct_real_returns"] == 2  # the third state's actions all score 1
    assert right["real_return"]["dream_choice"] == pytest.approx(right["real_return"]["best_action"]) == pytest.approx(6 / 3)
    assert right["actions"]["A"] == {"real": pytest.approx(4 / 3), "dream": pytest.approx(0.4 / 3), "real_end": 0.0, "dream_end": 0.0}
    reversed_ = summarize(real, -real, ends, ends, ["A", "B", "C"])
    assert reversed_["rank_correlation_per_state"] == pytest.approx(-1.0)
    assert reversed_["real_return"]["dream_choice"] == pytest.approx(np.mean([0.0, 0.0, 1.0]))
    assert reversed_["real_return"]["random_action"] == pytest.approx(real.mean())


def test_real_states_are_restored_exactly() -> None:
    env = make_train_env("Breakout")
    try:
        states = random_start_states(env, 3, 4, seed=7)
        assert len(states) == 3
        for state in states:
            assert state.frames.shape == (4, 64, 64, 3) and state.actions.shape == (4,)
            assert np.array_equal(env.restore_state(state.snapshot), state.frames[-1])
        first, first_ends = real_returns(env, states, 20)
        again, again_ends = real_returns(env, states, 20)
    finally:
        env.close()
    assert first.shape == (3, 4) and np.array_equal(first, again) and np.array_equal(first_ends, again_ends)


class ActionRewards(torch.nn.Module):
    """A reward/termination model that rewards action 2 on every step and ends the game on action 1."""

    cfg = RewardEndConfig(1, 4)
    window_inputs = RewardEndModel.window_inputs
    step_inputs = RewardEndModel.step_inputs

    def forward(self, x: torch.Tensor, actions: torch.Tensor, next_x: torch.Tensor, state: object = None) -> tuple:
        no, yes = torch.tensor([-9.0, 9.0, -9.0]), torch.tensor([-9.0, -9.0, 9.0])
        reward_logits = torch.where((actions == 2)[..., None], yes, no)  # (B, T, 3)
        end_logits = torch.where((actions == 1)[..., None], torch.tensor([-9.0, 9.0]), torch.tensor([9.0, -9.0]))
        return reward_logits, end_logits, state


class StillWorld(torch.nn.Module):
    """A world model whose dream stands still and whose outcomes depend on the action alone."""

    num_cond_steps = 4
    reward_window_inputs = WorldModel.reward_window_inputs  # what the reward model reads: the default
    reward_step_inputs = WorldModel.reward_step_inputs

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))
        self.reward_end = ActionRewards()

    def to_states(self, frames: torch.Tensor) -> torch.Tensor:
        return frames[..., :1, :1, :1].float().movedim(-1, -3)  # (B, T, 1, 1, 1)

    def to_frames(self, states: torch.Tensor) -> torch.Tensor:
        return states.movedim(-3, -1).expand(-1, 8, 8, 3).to(torch.uint8)

    def sample_next(self, states: torch.Tensor, actions: torch.Tensor, steps: int | None = None, generator: object = None) -> tuple[torch.Tensor, None]:
        return states[:, -1], None


def test_dream_returns_follow_the_dreamed_outcomes() -> None:
    env = make_train_env("Breakout")
    try:
        states = random_start_states(env, 5, 4, seed=3)
    finally:
        env.close()
    returns, ends = dream_returns(StillWorld(), states, 4, 6, steps=1, batch_size=7, seed=0, progress=False)  # batches cut across states
    assert returns[:, 2] == pytest.approx(np.full(5, 6.0), abs=1e-3)  # rewarded on each of the 6 steps
    assert np.abs(returns[:, [0, 1, 3]]).max() < 1e-3
    assert ends[:, 1] == pytest.approx(np.ones(5)) and ends[:, [0, 2, 3]].max() < 1e-3


def test_command_writes_its_table(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "model", "Breakout", BREAKOUT_ACTIONS)
    out = tmp_path / "ranking.json"
    result = run_script("jedi-eval", "ranking", "--model", str(folder), "--states", "3", "--horizon", "4", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "Breakout jedi world model, 3 real states, each action held 4 steps" in result.stdout
    saved = json.loads(out.read_text())
    assert list(saved["actions"]) == BREAKOUT_ACTIONS and saved["states"] == 3
    bad = run_script("jedi-eval", "ranking", "--model", str(folder), "--horizon", "0")
    assert_one_line_error(bad, "--horizon must be at least 1")
