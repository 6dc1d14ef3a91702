"""The Atari 100k environment (REFERENCE.md section 1).

``AtariEnv`` wraps ALE's ``ALE/<Game>-v5`` with the protocol's settings: no sticky actions, the minimal
action set, frame skip 4 with a max-pool of the last two screens, 1..30 no-ops at reset, 64x64 RGB uint8
observations and a 108k-frame episode cap. The training env ends an episode when a life is lost; the
evaluation env plays all lives. Both flag a lost life in ``info["life_loss"]``.
"""

from __future__ import annotations

from typing import Any

import ale_py
import gymnasium as gym
import numpy as np
from gymnasium import spaces

from jedi_play.env.frames import area_resize, max_pool
from jedi_play.env.games import Game, get_game

gym.register_envs(ale_py)
ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no banner on stderr: errors stay one line

FRAME_SIZE = 64
FRAME_SKIP = 4
NOOP_MAX = 30
MAX_EPISODE_FRAMES = 108_000


class AtariEnv(gym.Env[np.ndarray, np.int64]):
    """One Atari 100k game as a gymnasium env with (64, 64, 3) uint8 observations.

    Args:
        game: one of the 26 Atari 100k games (case-insensitive).
        terminate_on_life_loss: end the episode when a life is lost (training env).
        frame_size, frame_skip, noop_max, max_episode_frames: the protocol's settings, overridable.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        game: str,
        *,
        terminate_on_life_loss: bool = False,
        frame_size: int = FRAME_SIZE,
        frame_skip: int = FRAME_SKIP,
        noop_max: int = NOOP_MAX,
        max_episode_frames: int = MAX_EPISODE_FRAMES,
        render_mode: str | None = None,
    ) -> None:
        self.game: Game = get_game(game)
        self.terminate_on_life_loss = terminate_on_life_loss
        self.frame_size = frame_size
        self.frame_skip = frame_skip
        self.noop_max = noop_max
        self.render_mode = render_mode
        self._env = gym.make(
            self.game.env_id,
            frameskip=1,
            repeat_action_probability=0.0,
            full_action_space=False,
            max_num_frames_per_episode=max_episode_frames,
        )
        self.ale: ale_py.ALEInterface = self._env.unwrapped.ale
        self.action_meanings: list[str] = list(self._env.unwrapped.get_action_meanings())
        assert self.action_meanings[0] == "NOOP", self.action_meanings
        self.action_space = spaces.Discrete(len(self.action_meanings))
        self.observation_space = spaces.Box(0, 255, (frame_size, frame_size, 3), dtype=np.uint8)
        h, w, c = self._env.observation_space.shape
        self._screens = np.zeros((2, h, w, c), dtype=np.uint8)  # last two raw screens of a frame-skip
        self._lives = 0

    # -- gymnasium API ---------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        screen, info = self._env.reset(seed=seed)
        noops = int(self.np_random.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(noops):
            screen, _, terminated, truncated, info = self._env.step(0)
            if terminated or truncated:  # the game ended during the no-ops: start over
                screen, info = self._env.reset()
        self._screens[0] = screen
        self._screens[1] = screen
        self._lives = self.ale.lives()
        return self._observation(), self._info(info, life_loss=False, noops=noops)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        total_reward = 0.0
        terminated = truncated = False
        info: dict = {}
        for t in range(self.frame_skip):
            screen, reward, terminated, truncated, info = self._env.step(int(action))
            total_reward += float(reward)
            if t == self.frame_skip - 2:
                self._screens[0] = screen
            elif t == self.frame_skip - 1:
                self._screens[1] = screen
            if terminated or truncated:
                self._screens[:] = screen
                break
        if self.frame_skip == 1:
            self._screens[0] = self._screens[1]
        lives = self.ale.lives()
        life_loss = lives < self._lives
        self._lives = lives
        game_over = terminated
        if self.terminate_on_life_loss and life_loss:
            terminated = True
        info = self._info(info, life_loss=life_loss, game_over=game_over)
        return self._observation(), total_reward, bool(terminated), bool(truncated), info

    def render(self) -> np.ndarray:
        """The last full-resolution (210, 160, 3) screen, max-pooled like the observation."""
        return max_pool(self._screens[0], self._screens[1])

    def close(self) -> None:
        self._env.close()

    # -- state for lockstep comparison -----------------------------------------------------------

    def clone_state(self) -> tuple[ale_py.ALEState, int, np.ndarray]:
        """Snapshot the emulator (including its RNG) and this wrapper's state."""
        return self.ale.cloneState(include_rng=True), self._lives, self._screens.copy()

    def restore_state(self, state: tuple[ale_py.ALEState, int, np.ndarray]) -> np.ndarray:
        """Restore a snapshot from ``clone_state`` and return its observation."""
        ale_state, self._lives, screens = state
        self.ale.restoreState(ale_state)
        self._screens[:] = screens
        return self._observation()

    # -- helpers ---------------------------------------------------------------------------------

    def _observation(self) -> np.ndarray:
        return area_resize(max_pool(self._screens[0], self._screens[1]), self.frame_size)  # (64, 64, 3)

    def _info(self, info: dict, **extra: Any) -> dict:
        return {
            "lives": self._lives,
            "episode_frame_number": int(info.get("episode_frame_number", self.ale.getEpisodeFrameNumber())),
            **extra,
        }


def make_train_env(game: str, **kwargs: Any) -> AtariEnv:
    """The training env: a lost life ends the episode (and is flagged in ``info["life_loss"]``)."""
    return AtariEnv(game, terminate_on_life_loss=True, **kwargs)


def make_eval_env(game: str, **kwargs: Any) -> AtariEnv:
    """The evaluation env: all lives are played, up to the 108k-frame cap."""
    return AtariEnv(game, terminate_on_life_loss=False, **kwargs)
