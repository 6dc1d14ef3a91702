"""Shared fixtures: small synthetic episodes with recognisable contents."""

import numpy as np
import pytest

from jedi_play.data import Episode


def make_episode(length: int, tag: int = 0, size: int = 8, terminal: bool = True) -> Episode:
    """An episode whose frame t is filled with (tag * 50 + t) % 256, so slices can be checked by value."""
    frames = np.stack([np.full((size, size, 3), (tag * 50 + t) % 256, np.uint8) for t in range(length + 1)])
    terminated = np.zeros(length, bool)
    terminated[-1] = terminal
    return Episode(
        frames=frames,
        actions=np.arange(length) % 4,
        rewards=np.arange(length, dtype=np.float32) + 100 * tag,
        terminated=terminated,
        truncated=np.zeros(length, bool),
        life_loss=terminated.copy(),
    )


@pytest.fixture
def episode_factory():
    return make_episode
