"""The evaluation protocol: the agent plays full games (all lives) in the real env; one score per episode."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from jedi_play.agent.player import AgentPlayer
from jedi_play.env.atari import make_eval_env
from jedi_play.env.games import human_normalized_score


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
    def hns(self) -> float:
        return human_normalized_score(self.game, self.mean_score)

    def to_dict(self) -> dict:
        return {
            "game": self.game,
            "episodes": len(self.scores),
            "mean_score": self.mean_score,
            "std_score": self.std_score,
            "hns": self.hns,
            "scores": list(self.scores),
            "steps": self.steps,
        }


def evaluate_agent(
    player: AgentPlayer, game: str, episodes: int, *, seed: int = 0, max_steps: int | None = None, progress: bool = True
) -> EvalResult:
    """Play ``episodes`` evaluation episodes (seeds ``seed``, ``seed + 1``, ...); ``max_steps`` cuts each one short."""
    env = make_eval_env(game)
    scores: list[float] = []
    steps = 0
    with tqdm(total=episodes, desc=f"evaluate {game}", unit="ep", disable=not progress, dynamic_ncols=True) as bar:
        for i in range(episodes):
            frame, _ = env.reset(seed=seed + i)
            player.reset()
            score, done, t = 0.0, False, 0
            while not done and (max_steps is None or t < max_steps):
                frame, reward, terminated, truncated, _ = env.step(player(frame))
                score += reward
                done = terminated or truncated
                t += 1
            scores.append(score)
            steps += t
            bar.update(1)
            bar.set_postfix(mean=f"{np.mean(scores):.1f}")
    env.close()
    return EvalResult(env.game.name, scores, steps)
