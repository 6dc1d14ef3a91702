"""Keyboard to action mapping built from a game's minimal action meanings.

WASD or the arrow keys give directions, space is FIRE; two directions together give the diagonal, and
any of these with space gives the FIRE combination. Keys are named as ``pygame.key.name`` names them.
When the exact combination is not in the game's action set, the largest action contained in it is
used (the most recently pressed key breaks ties), so held keys never map to an unrelated action.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

ATOMS = ("UP", "DOWN", "LEFT", "RIGHT", "FIRE")
KEY_TO_ATOM: dict[str, str] = {
    "w": "UP",
    "up": "UP",
    "s": "DOWN",
    "down": "DOWN",
    "a": "LEFT",
    "left": "LEFT",
    "d": "RIGHT",
    "right": "RIGHT",
    "space": "FIRE",
}
_ATOM_KEY_LABEL = {"UP": "W", "DOWN": "S", "LEFT": "A", "RIGHT": "D", "FIRE": "Space"}
_OPPOSITE = {"UP": "DOWN", "DOWN": "UP", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def meaning_atoms(meaning: str) -> frozenset[str]:
    """``"UPRIGHTFIRE"`` -> ``{"UP", "RIGHT", "FIRE"}``; ``"NOOP"`` -> ``{}``."""
    atoms = frozenset(a for a in ATOMS if a in meaning)
    if not atoms and meaning != "NOOP":
        raise ValueError(f"unknown action meaning {meaning!r}")
    return atoms


class Keymap:
    """Maps the set of held keys to an index into the game's minimal action set."""

    def __init__(self, action_meanings: Sequence[str]) -> None:
        self.action_meanings = list(action_meanings)
        self._atoms = [meaning_atoms(m) for m in self.action_meanings]
        self._exact = {atoms: i for i, atoms in enumerate(self._atoms)}
        self._noop = self._exact.get(frozenset(), 0)

    def action_for_keys(self, pressed: Iterable[str]) -> int:
        """Action index for the held keys, given in the order they were pressed (last = newest)."""
        order: list[str] = []
        for key in pressed:
            atom = KEY_TO_ATOM.get(key.lower())
            if atom is not None:
                if atom in order:
                    order.remove(atom)
                order.append(atom)
        held = {a for a in order if _OPPOSITE.get(a) not in order}  # opposite directions cancel
        exact = self._exact.get(frozenset(held))
        if exact is not None:
            return exact
        rank = {a: i for i, a in enumerate(order)}
        candidates = [i for i, atoms in enumerate(self._atoms) if atoms <= held]
        if not candidates:
            return self._noop
        return max(candidates, key=lambda i: (len(self._atoms[i]), max((rank[a] for a in self._atoms[i]), default=-1)))

    def keys_for_action(self, action: int) -> tuple[str, ...]:
        """The WASD/space key names that produce ``action`` (empty for NOOP)."""
        return tuple(k for k in ("w", "s", "a", "d", "space") if KEY_TO_ATOM[k] in self._atoms[action])

    def help_lines(self) -> list[str]:
        """One ``"W+D+Space  UPRIGHTFIRE"`` line per action, for the on-screen help overlay."""
        lines = []
        for i, meaning in enumerate(self.action_meanings):
            label = "+".join(_ATOM_KEY_LABEL[a] for a in ATOMS if a in self._atoms[i]) or "(no key)"
            lines.append(f"{label:<12} {meaning}")
        return lines
