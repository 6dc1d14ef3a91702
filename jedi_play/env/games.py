"""The 26 Atari 100k games: reference scores, action counts and the Agent/Human-Optimal split.

Random and Human are the standard Atari-57 reference scores; ``diamond`` is the mean of DIAMOND's five
published seeds. ``AO`` / ``HO`` is JEDI's split: Agent-Optimal games are those where the mean HNS of
IRIS, TWM, DreamerV3 and STORM is above 0.75, Human-Optimal the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from jedi_play.cli.errors import UserError

GameSet = Literal["AO", "HO"]


@dataclass(frozen=True)
class Game:
    """One Atari 100k game and its reference figures."""

    name: str  # ALE name, e.g. "Asterix" -> "ALE/Asterix-v5"
    num_actions: int  # size of the minimal action set
    random_score: float
    human_score: float
    diamond_score: float
    game_set: GameSet

    @property
    def env_id(self) -> str:
        return f"ALE/{self.name}-v5"

    def hns(self, score: float) -> float:
        """Human-normalised score: (score - random) / (human - random)."""
        return human_normalized_score(self, score)


_TABLE = """
Alien          18   227.8   7127.7    744.1  HO
Amidar         10     5.8   1719.5    225.8  HO
Assault         7   222.4    742.0   1526.4  AO
Asterix         9   210.0   8503.3   3698.5  HO
BankHeist      18    14.2    753.1     19.7  HO
BattleZone     18  2360.0  37187.5   4702.0  HO
Boxing         18     0.1     12.1     86.9  AO
Breakout        4     1.7     30.5    132.5  AO
ChopperCommand 18   811.0   7387.8   1369.8  HO
CrazyClimber    9 10780.5  35829.4  99167.8  AO
DemonAttack     6   152.1   1971.0    288.1  HO
Freeway         3     0.0     29.6     33.3  AO
Frostbite      18    65.2   4334.7    274.1  HO
Gopher          8   257.6   2412.5   5897.9  AO
Hero           18  1027.0  30826.4   5621.8  HO
Jamesbond      18    29.0    302.8    427.4  AO
Kangaroo       18    52.0   3035.0   5382.2  AO
Krull          18  1598.0   2665.5   8610.1  AO
KungFuMaster   14   258.5  22736.3  18713.6  AO
MsPacman        9   307.3   6951.6   1958.2  HO
Pong            6   -20.7     14.6     20.4  AO
PrivateEye     18    24.9  69571.3    114.3  HO
Qbert           6   163.9  13455.0   4499.3  HO
RoadRunner     18    11.5   7845.0  20673.2  AO
Seaquest       18    68.4  42054.7    551.2  HO
UpNDown         6   533.4  11693.2   3856.3  AO
"""


def _parse_table(table: str) -> dict[str, Game]:
    games = {}
    for line in table.strip().splitlines():
        name, actions, rand, human, diamond, game_set = line.split()
        games[name] = Game(name, int(actions), float(rand), float(human), float(diamond), game_set)  # type: ignore[arg-type]
    return games


GAMES: dict[str, Game] = _parse_table(_TABLE)
AGENT_OPTIMAL: tuple[str, ...] = tuple(n for n, g in GAMES.items() if g.game_set == "AO")
HUMAN_OPTIMAL: tuple[str, ...] = tuple(n for n, g in GAMES.items() if g.game_set == "HO")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_KEY = {_key(n): g for n, g in GAMES.items()}


def get_game(name: str) -> Game:
    """Look a game up by name, ignoring case, spaces, dashes and underscores ("ms_pacman" works).

    Raises:
        UserError: with one line listing the valid names when the game is not one of the 26.
    """
    game = _BY_KEY.get(_key(name))
    if game is None:
        raise UserError(f"unknown game {name!r}; valid games: {', '.join(GAMES)}")
    return game


def human_normalized_score(game: Game | str, score: float) -> float:
    """HNS = (score - random) / (human - random), REFERENCE section 1."""
    g = get_game(game) if isinstance(game, str) else game
    return (score - g.random_score) / (g.human_score - g.random_score)
