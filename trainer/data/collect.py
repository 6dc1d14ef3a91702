"""Collecting real episodes into an ``EpisodeStore``: a policy-agnostic collector, the random policy, and
``make_policy`` (random or ``PersonPolicy``'s held directions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from tqdm import tqdm

from jedi_play.cli.errors import UserError
from jedi_play.data.episode import Episode, EpisodeBuilder
from jedi_play.env.atari import AtariEnv, make_train_env
from jedi_play.env.games import get_game
from trainer.data.person_policy import PersonPolicy
from trainer.data.store import EpisodeStore


class Policy(Protocol):
    """Chooses an action for a frame; ``reset`` is called when a new episode starts."""

    def __call__(self, frame: np.ndarray) -> int: ...

    def reset(self) -> None: ...


@dataclass
class CollectConfig:
    """``jedi-train collect``: fill an episode folder with play of the training env."""

    game: str = field(metadata={"help": "Atari 100k game, e.g. Asterix"})
    steps: int = field(metadata={"help": "number of agent steps (4 frames each) to collect"})
    out: Path = field(metadata={"help": "episode folder to create or extend", "metavar": "DIR"})
    seed: int = field(default=0, metadata={"help": "seed of the env's no-op starts and of the policy"})
    policy: Literal["random", "person"] = field(
        default="random", metadata={"help": "who plays: uniform random, or a person's held directions with occasional FIRE"}
    )


@dataclass
class CollectStats:
    steps: int = 0
    episodes: int = 0
    returns: list[float] = field(default_factory=list)


class RandomPolicy:
    """Uniform over the action set."""

    def __init__(self, num_actions: int, seed: int | None = None) -> None:
        self.num_actions = num_actions
        self.rng = np.random.default_rng(seed)

    def __call__(self, frame: np.ndarray) -> int:
        return int(self.rng.integers(self.num_actions))

    def reset(self) -> None:
        pass


def make_policy(name: str, action_meanings: list[str], seed: int) -> Policy:
    """``person`` (held directions, occasional FIRE: ``PersonPolicy``) or ``random`` (uniform)."""
    if name == "person":
        return PersonPolicy(action_meanings, seed)
    if name == "random":
        return RandomPolicy(len(action_meanings), seed)
    raise UserError(f"unknown policy {name!r}: choose person or random")


class Collector:
    """Steps an env with a policy and appends every finished episode to a store.

    An episode in progress is kept across ``run`` calls (the training loop collects a few steps per
    epoch); ``flush`` writes it out marked as truncated. ``on_episode`` is told of each stored episode.
    """

    def __init__(self, env: AtariEnv, store: EpisodeStore, seed: int | None = None, on_episode: Callable[[Episode], None] | None = None) -> None:
        self.env = env
        self.store = store
        self.on_episode = on_episode
        frame, _ = env.reset(seed=seed)
        self._episode = EpisodeBuilder(frame)

    def run(self, steps: int, policy: Policy, *, progress: bool = True, desc: str = "collect") -> CollectStats:
        stats = CollectStats()
        bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress, mininterval=0.5, dynamic_ncols=True)
        with bar:
            for _ in range(steps):
                frame = self._episode.frames[-1]
                action = policy(frame)
                next_frame, reward, terminated, truncated, info = self.env.step(action)
                self._episode.add(action, reward, next_frame, terminated, truncated, info["life_loss"])
                stats.steps += 1
                bar.update(1)
                if terminated or truncated:
                    self._finish(stats)
                    policy.reset()
                    bar.set_postfix(episodes=stats.episodes, last_return=stats.returns[-1])
        return stats

    @property
    def steps_in_progress(self) -> int:
        """Steps of the episode being played, not stored yet."""
        return len(self._episode)

    def flush(self) -> Path | None:
        """Write the episode in progress (if it has any step), its last step marked truncated."""
        if len(self._episode) == 0:
            return None
        episode = self._episode.build(cut=True)
        path = self.store.append(episode)
        if self.on_episode is not None:
            self.on_episode(episode)
        frame, _ = self.env.reset()
        self._episode = EpisodeBuilder(frame)
        return path

    def _finish(self, stats: CollectStats) -> None:
        episode = self._episode.build()
        self.store.append(episode)
        if self.on_episode is not None:
            self.on_episode(episode)
        stats.episodes += 1
        stats.returns.append(episode.episode_return)
        frame, _ = self.env.reset()
        self._episode = EpisodeBuilder(frame)


def collect_episodes(config: CollectConfig, *, progress: bool = True) -> CollectStats:
    """Run ``jedi-train collect``: the policy's play of the training env into ``config.out``."""
    game = get_game(config.game)
    if config.steps < 1:
        raise UserError(f"--steps must be at least 1, got {config.steps}")
    env = make_train_env(game.name)
    store = EpisodeStore.create(config.out, game.name, env.action_meanings)
    seed = config.seed + len(store)  # extending a folder continues with fresh no-op starts
    collector = Collector(env, store, seed=seed)
    stats = collector.run(config.steps, make_policy(config.policy, env.action_meanings, seed), progress=progress)
    if collector.flush() is not None:
        stats.episodes += 1
    env.close()
    return stats
