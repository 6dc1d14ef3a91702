"""``PersonPolicy``: held directions with FIRE taps, over the game's own actions, reproducible from its seed."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.data.person_policy import PersonPolicy

BOXING = ["NOOP", "FIRE", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT", "DOWNLEFT", "UPFIRE", "RIGHTFIRE",
          "LEFTFIRE", "DOWNFIRE", "UPRIGHTFIRE", "UPLEFTFIRE", "DOWNRIGHTFIRE", "DOWNLEFTFIRE"]


def play(policy: PersonPolicy, steps: int) -> np.ndarray:
    frame = np.zeros((64, 64, 3), np.uint8)
    return np.array([policy(frame) for _ in range(steps)])


def test_it_holds_directions_and_taps_fire() -> None:
    actions = play(PersonPolicy(BOXING, seed=0), 5000)
    meanings = [BOXING[a] for a in actions]
    runs = np.diff(np.flatnonzero(np.diff(actions) != 0))
    assert runs.mean() > 3  # a uniform policy over 18 actions changes almost every step
    moving = sum(any(d in m for d in ("UP", "DOWN", "LEFT", "RIGHT")) for m in meanings) / len(meanings)
    assert 0.6 < moving < 0.9
    combos = [m for m in meanings if "FIRE" in m and m != "FIRE"]
    assert 0.03 < len(combos) / len(meanings) < 0.15  # a direction's FIRE combination, tapped now and then
    assert set(actions) <= set(range(len(BOXING)))
    assert np.array_equal(actions, play(PersonPolicy(BOXING, seed=0), 5000))
    assert not np.array_equal(actions, play(PersonPolicy(BOXING, seed=1), 5000))


def test_games_without_fire_combinations_or_directions() -> None:
    asterix = ["NOOP", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT", "DOWNLEFT"]
    assert set(play(PersonPolicy(asterix, seed=2), 2000)) == set(range(9))
    fire_only = play(PersonPolicy(["NOOP", "FIRE"], seed=3), 500)
    assert set(fire_only) == {0, 1}
    with pytest.raises(ValueError, match="mean_hold"):
        PersonPolicy(asterix, mean_hold=0.5)
