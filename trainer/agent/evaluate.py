"""The evaluation protocol: the agent plays full games (all lives) in the real env; one score per episode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from jedi_play.env.atari import make_eval_env
from jedi_play.env.games import human_normalized_score
from jedi_play.models.actor_critic import LSTMState


@dataclass
class EvalResult:
    game: str
    scores: list[float]
    steps: int  # agent steps played in all

    @property
    def mean_score(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std_score(self) -> float:
        return float(np.std(self.scores))

    @property
    def ci95(self) -> float:
        """Half-width of the mean score's 95% confidence interval (normal approximation)."""
        return 1.96 * self.std_score / max(1, len(self.scores) - 1) ** 0.5

    @property
    def hns(self) -> float:
        return human_normalized_score(self.game, self.mean_score)

    def to_dict(self) -> dict:
        return {
            "game": self.game,
            "episodes": len(self.scores),
            "mean_score": self.mean_score,
            "std_score": self.std_score,
            "ci95": self.ci95,
            "hns": self.hns,
            "scores": list(self.scores),
            "steps": self.steps,
        }


class BatchPolicy(Protocol):
    """What evaluation needs of a player (``AgentPlayer`` is one): actions for a batch of games with memory."""

    device: torch.device

    def initial_state(self, batch_size: int) -> LSTMState: ...

    def act_batch(self, frames: np.ndarray, lstm_state: LSTMState) -> tuple[np.ndarray, LSTMState]: ...


class UniformRandomPolicy:
    """The random baseline under the same protocol: each action uniform over the game's actions."""

    device = torch.device("cpu")

    def __init__(self, num_actions: int, seed: int = 0) -> None:
        self.num_actions = num_actions
        self.rng = np.random.default_rng(seed)

    def initial_state(self, batch_size: int) -> LSTMState:
        return torch.zeros(batch_size, 1), torch.zeros(batch_size, 1)

    def act_batch(self, frames: np.ndarray, lstm_state: LSTMState) -> tuple[np.ndarray, LSTMState]:
        return self.rng.integers(self.num_actions, size=len(frames)), lstm_state


def evaluate_agent(
    player: BatchPolicy,
    game: str,
    episodes: int,
    *,
    seed: int = 0,
    max_steps: int | None = None,
    progress: bool = True,
    parallel: int = 16,
) -> EvalResult:
    """Play ``episodes`` evaluation episodes (seeds ``seed``, ``seed + 1``, ...); ``max_steps`` cuts each one short.

    Up to ``parallel`` episodes run at once, one env each, and the agent acts on all of them in one batch;
    each episode keeps its own LSTM state, zeroed when it starts.
    """
    envs = [make_eval_env(game) for _ in range(max(1, min(parallel, episodes)))]
    lstm_state = player.initial_state(len(envs))  # rows: envs
    frames: list[np.ndarray | None] = [None] * len(envs)
    playing: list[int | None] = [None] * len(envs)  # the episode each env plays
    scores, lengths = [0.0] * episodes, [0] * episodes
    finished: list[float] = []
    next_episode = 0

    def start(slot: int) -> None:
        nonlocal next_episode
        if next_episode == episodes:
            playing[slot] = None
            return
        frames[slot], _ = envs[slot].reset(seed=seed + next_episode)
        lstm_state[0][slot], lstm_state[1][slot] = 0.0, 0.0
        playing[slot], next_episode = next_episode, next_episode + 1

    for slot in range(len(envs)):
        start(slot)
    with tqdm(total=episodes, desc=f"evaluate {game}", unit="ep", disable=not progress, dynamic_ncols=True) as bar:
        while active := [slot for slot, episode in enumerate(playing) if episode is not None]:
            rows = torch.as_tensor(active, device=player.device)
            actions, (h, c) = player.act_batch(np.stack([frames[slot] for slot in active]), (lstm_state[0][rows], lstm_state[1][rows]))
            lstm_state[0][rows], lstm_state[1][rows] = h, c
            for slot, action in zip(active, actions.tolist()):
                episode = playing[slot]
                assert episode is not None
                frames[slot], reward, terminated, truncated, _ = envs[slot].step(action)
                scores[episode] += reward
                lengths[episode] += 1
                if terminated or truncated or (max_steps is not None and lengths[episode] >= max_steps):
                    finished.append(scores[episode])
                    start(slot)
                    bar.update(1)
                    bar.set_postfix(mean=f"{np.mean(finished):.1f}")
    name = envs[0].game.name
    for env in envs:
        env.close()
    return EvalResult(name, scores, sum(lengths))
