"""One episode of play: frames, actions, rewards and end flags, stored as one compressed ``.npz`` file.

Step ``t`` is the action ``actions[t]`` taken on ``frames[t]``, which gave ``rewards[t]`` and the flags
``terminated[t]``, ``truncated[t]`` and ``life_loss[t]``, and led to ``frames[t + 1]``. So an episode of
``T`` steps holds ``T + 1`` frames: the last one is the frame its final action led to.
Files are written atomically and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from jedi_play.cli.errors import UserError
from jedi_play.data.atomic import atomic_write_bytes

_DTYPES = {
    "frames": np.uint8,
    "actions": np.int64,
    "rewards": np.float32,
    "terminated": np.bool_,
    "truncated": np.bool_,
    "life_loss": np.bool_,
}


class CorruptEpisodeError(UserError):
    """An episode file that cannot be read back or whose arrays do not fit together."""


@dataclass
class Episode:
    """A whole episode; see the module docstring for the indexing convention."""

    frames: np.ndarray  # (T + 1, H, W, 3) uint8
    actions: np.ndarray  # (T,) int64
    rewards: np.ndarray  # (T,) float32
    terminated: np.ndarray  # (T,) bool
    truncated: np.ndarray  # (T,) bool
    life_loss: np.ndarray  # (T,) bool

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, np.ascontiguousarray(getattr(self, f.name), dtype=_DTYPES[f.name]))
        self.validate()

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum())

    def validate(self) -> None:
        """Raise ``ValueError`` unless the arrays have consistent shapes."""
        t = len(self.actions)
        if t == 0:
            raise ValueError("an episode needs at least one step")
        if self.frames.ndim != 4 or self.frames.shape[0] != t + 1 or self.frames.shape[-1] != 3:
            raise ValueError(f"frames must be (T + 1, H, W, 3) with T = {t}, got {self.frames.shape}")
        for name in ("actions", "rewards", "terminated", "truncated", "life_loss"):
            if getattr(self, name).shape != (t,):
                raise ValueError(f"{name} must have shape ({t},), got {getattr(self, name).shape}")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the episode to ``path`` atomically (compressed npz)."""
        buf = io.BytesIO()
        np.savez_compressed(buf, **{f.name: getattr(self, f.name) for f in fields(self)})
        atomic_write_bytes(path, buf.getvalue())

    @staticmethod
    def read_length(path: str | os.PathLike[str]) -> int:
        """Number of steps in an episode file, without decompressing its frames."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return len(data["actions"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise CorruptEpisodeError(f"episode file {path} is damaged or not an episode ({e})") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Episode:
        """Read an episode written by ``save``; a damaged file raises ``CorruptEpisodeError``."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in _DTYPES}
            return cls(**arrays)
        except FileNotFoundError:
            raise CorruptEpisodeError(f"episode file {path} does not exist") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise CorruptEpisodeError(f"episode file {path} is damaged or not an episode ({e})") from None


class EpisodeBuilder:
    """Accumulates steps from an env loop and builds an ``Episode``."""

    def __init__(self, first_frame: np.ndarray) -> None:
        self.frames = [first_frame]
        self.actions: list[int] = []
        self.rewards: list[float] = []
        self.terminated: list[bool] = []
        self.truncated: list[bool] = []
        self.life_loss: list[bool] = []

    def __len__(self) -> int:
        return len(self.actions)

    def add(self, action: int, reward: float, next_frame: np.ndarray, terminated: bool, truncated: bool, life_loss: bool) -> None:
        self.actions.append(int(action))
        self.rewards.append(float(reward))
        self.frames.append(next_frame)
        self.terminated.append(bool(terminated))
        self.truncated.append(bool(truncated))
        self.life_loss.append(bool(life_loss))

    def build(self, *, cut: bool = False) -> Episode:
        """The episode so far; ``cut=True`` marks its last step truncated (collection stopped mid-episode)."""
        truncated = list(self.truncated)
        if cut and truncated and not self.terminated[-1]:
            truncated[-1] = True
        return Episode(
            frames=np.stack(self.frames),
            actions=np.array(self.actions),
            rewards=np.array(self.rewards),
            terminated=np.array(self.terminated),
            truncated=np.array(truncated),
            life_loss=np.array(self.life_loss),
        )
