"""``PersonPolicy``: play that moves like a person at the keyboard, for behaviour data and held-out episodes.

A uniformly random policy changes its action every step (4 frames), so the player jitters in place and
rarely reaches the places a person goes. A person holds a direction for a while, lets go, changes direction,
and taps FIRE now and then. This policy does that with the game's own minimal action set:

- it holds one *intent* for a duration drawn from a geometric distribution (mean ``mean_hold`` steps): a
  direction or a diagonal (``direction_share`` of the intents), FIRE alone, or nothing (NOOP);
- while it holds a direction it taps FIRE on a share ``fire_tap`` of the steps (the direction's FIRE
  combination where the game has one, else FIRE alone);
- a game without directions (no action moves) falls back to holding any action.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jedi_play.env.keymap import meaning_atoms

DIRECTIONS = frozenset({"UP", "DOWN", "LEFT", "RIGHT"})


class PersonPolicy:
    """Held directions with occasional FIRE, over ``action_meanings`` (the game's minimal set)."""

    def __init__(
        self,
        action_meanings: Sequence[str],
        seed: int | None = None,
        *,
        mean_hold: float = 8.0,
        direction_share: float = 0.75,
        fire_tap: float = 0.1,
    ) -> None:
        if mean_hold < 1:
            raise ValueError(f"mean_hold must be at least 1 step, got {mean_hold}")
        self.rng = np.random.default_rng(seed)
        self.mean_hold = mean_hold
        self.direction_share = direction_share
        self.fire_tap = fire_tap
        atoms = [meaning_atoms(m) for m in action_meanings]
        index = {a: i for i, a in enumerate(atoms)}
        self.noop = index.get(frozenset(), 0)
        self.fire = index.get(frozenset({"FIRE"}))
        # each direction (or diagonal) the game has, with its FIRE combination where there is one
        self.directions = [i for i, a in enumerate(atoms) if a and a <= DIRECTIONS]
        self.with_fire = {i: index.get(atoms[i] | {"FIRE"}, self.fire) for i in self.directions}
        self.num_actions = len(atoms)
        self._intent, self._left = self.noop, 0

    def reset(self) -> None:
        """A new episode: choose a new intent at the next step."""
        self._left = 0

    def __call__(self, frame: np.ndarray) -> int:
        if self._left <= 0:
            self._intent = self._choose_intent()
            self._left = int(self.rng.geometric(1.0 / self.mean_hold))
        self._left -= 1
        if self._intent in self.with_fire and self.rng.random() < self.fire_tap:
            tap = self.with_fire[self._intent]
            if tap is not None:
                return tap
        return self._intent

    def _choose_intent(self) -> int:
        if not self.directions:  # nothing moves: hold any action
            return int(self.rng.integers(self.num_actions))
        u = self.rng.random()
        if u < self.direction_share:
            return self.directions[int(self.rng.integers(len(self.directions)))]
        if self.fire is not None and u < (1 + self.direction_share) / 2:
            return self.fire
        return self.noop
