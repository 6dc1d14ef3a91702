"""The dream as a ``gymnasium.Env``, registered per game as ``JEDIPlay/<Game>-dream-v0``.

``gymnasium.make("JEDIPlay/Asterix-dream-v0", model="path/to/model_folder")`` gives an env whose
observations are dreamed 64x64 RGB frames. Each reset starts from real context: the real game is reset
(with its no-op start) and played ``num_cond_steps`` random steps, so any RL library can train in the
dream from real starting states.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from jedi_play.dream.dream_env import DreamEnv
from jedi_play.env.atari import make_train_env
from jedi_play.env.games import GAMES
from jedi_play.hub.model_folder import LoadedModel, load_model_folder


class DreamGymEnv(gym.Env[np.ndarray, np.int64]):
    """One game inside a world model; ``max_episode_steps`` truncates dreams that never predict an end."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        game: str,
        model: str | Path | LoadedModel,
        denoising_steps: int | None = None,
        max_episode_steps: int = 1000,
        render_mode: str | None = None,
    ) -> None:
        self.loaded = model if isinstance(model, LoadedModel) else load_model_folder(model, game)
        self.real = make_train_env(self.loaded.game)
        self.dream = DreamEnv(self.loaded.world_model, denoising_steps)
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(len(self.loaded.action_meanings))
        self.observation_space = spaces.Box(0, 255, (64, 64, 3), dtype=np.uint8)
        self._frame = np.zeros((64, 64, 3), np.uint8)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self.dream.seed(seed)
        n = self.dream.n
        frame, _ = self.real.reset(seed=int(self.np_random.integers(2**31)))  # the dream's seed drives the real start
        frames, actions = [frame], []
        while len(frames) < n:
            a = int(self.np_random.integers(self.action_space.n))
            frame, _, terminated, truncated, _ = self.real.step(a)
            actions.append(a)
            frames.append(frame)
            if terminated or truncated:  # rare: the game ended inside the context, start again
                frame, _ = self.real.reset()
                frames, actions = [frame], []
        actions.append(0)  # the action on the last context frame is the first step's
        self._frame = self.dream.reset(np.stack(frames)[None], np.array(actions)[None])[0]
        self._t = 0
        return self._frame, {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        frames, rewards, ends = self.dream.step([int(action)])
        self._frame = frames[0]
        self._t += 1
        return self._frame, float(rewards[0]), bool(ends[0]), self._t >= self.max_episode_steps, {}

    def render(self) -> np.ndarray:
        return self._frame

    def close(self) -> None:
        self.real.close()


def register_dream_envs() -> None:
    """Register ``JEDIPlay/<Game>-dream-v0`` for the 26 games (a ``model`` keyword is required at make)."""
    for name in GAMES:
        env_id = f"JEDIPlay/{name}-dream-v0"
        if env_id not in gym.registry:
            gym.register(env_id, entry_point="jedi_play.dream.gym_env:DreamGymEnv", kwargs={"game": name})
