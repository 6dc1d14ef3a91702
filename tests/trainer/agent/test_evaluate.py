"""Batched evaluation plays each episode exactly as it would be played alone."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import trainer.agent.evaluate as evaluate_module
from jedi_play.agent.player import AgentPlayer
from jedi_play.env.atari import make_eval_env
from jedi_play.models.factory import build_world_model
from trainer.agent.evaluate import evaluate_agent


class RecordingEnv:
    """A real eval env that records, per reset seed, the actions it was given."""

    def __init__(self, log: dict[int, list[int]], game: str) -> None:
        self.env, self.log, self.actions = make_eval_env(game), log, []

    def reset(self, seed: int) -> Any:
        self.actions = self.log.setdefault(seed, [])
        return self.env.reset(seed=seed)

    def step(self, action: int) -> Any:
        self.actions.append(action)
        return self.env.step(action)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


class CountingAgent(torch.nn.Module):
    """A stand-in actor-critic with ActorCritic's interface whose action depends on its memory of the episode.

    Its "LSTM state" sums the frames' pixel hashes since the episode began and picks the action from that
    sum, so a memory not zeroed at an episode start, or a row given to the wrong game, shows in the actions.
    """

    def __init__(self, num_actions: int) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.unused = torch.nn.Parameter(torch.zeros(1))  # AgentPlayer reads the device from the parameters

    def initial_state(self, batch_size: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(batch_size, 1, device=device), torch.zeros(batch_size, 1, device=device)

    def act(self, state: torch.Tensor, lstm_state: tuple[torch.Tensor, torch.Tensor], **_: Any) -> tuple[torch.Tensor, ...]:
        pixels = (state.flatten(1).sum(1, keepdim=True) * 1000).round() % 97  # (B, 1)
        memory = (lstm_state[0] + pixels + 1) % 9973
        actions = memory[:, 0].long() % self.num_actions
        return actions, torch.zeros(len(actions)), torch.zeros(len(actions)), (memory, lstm_state[1])


def _player() -> AgentPlayer:
    world_model = build_world_model("diamond", {"num_actions": 6, "denoiser_channels": (8,), "reward_end_channels": (8, 8, 8, 8), "reward_end_lstm": 16})
    return AgentPlayer(world_model.eval(), CountingAgent(6))  # type: ignore[arg-type]


def _play(monkeypatch: pytest.MonkeyPatch, parallel: int) -> tuple[dict[int, list[int]], list[float], int]:
    log: dict[int, list[int]] = {}
    monkeypatch.setattr(evaluate_module, "make_eval_env", lambda game: RecordingEnv(log, game))
    result = evaluate_agent(_player(), "Pong", 5, seed=7, max_steps=60, progress=False, parallel=parallel)
    return log, result.scores, result.steps


def test_batched_episodes_match_episodes_played_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    alone_log, alone_scores, alone_steps = _play(monkeypatch, parallel=1)
    batched_log, batched_scores, batched_steps = _play(monkeypatch, parallel=3)  # two envs play a second episode
    assert sorted(alone_log) == sorted(batched_log) == [7, 8, 9, 10, 11]
    assert len({tuple(a) for a in alone_log.values()}) > 1, "every episode got the same actions: the test cannot see a mix-up"
    for seed, actions in alone_log.items():
        assert batched_log[seed] == actions, f"episode seed {seed} was played differently in a batch"
    assert batched_scores == alone_scores and batched_steps == alone_steps == 5 * 60
