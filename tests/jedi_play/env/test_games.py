"""The game registry against REFERENCE.md section 2, and every game's env."""

import re
import statistics
from pathlib import Path

import pytest

from jedi_play.cli.errors import UserError
from jedi_play.env import AGENT_OPTIMAL, GAMES, HUMAN_OPTIMAL, get_game, human_normalized_score, make_eval_env

REFERENCE = Path(__file__).resolve().parents[3].parent / "shared" / "REFERENCE.md"

# A few rows retyped from REFERENCE.md, independent of the registry's own table.
SPOT_CHECKS = {
    "Alien": (18, 227.8, 7127.7, 744.1, "HO"),
    "Breakout": (4, 1.7, 30.5, 132.5, "AO"),
    "Freeway": (3, 0.0, 29.6, 33.3, "AO"),
    "Pong": (6, -20.7, 14.6, 20.4, "AO"),
    "PrivateEye": (18, 24.9, 69571.3, 114.3, "HO"),
    "UpNDown": (6, 533.4, 11693.2, 3856.3, "AO"),
}


def test_26_games_13_per_set():
    assert len(GAMES) == 26
    assert len(AGENT_OPTIMAL) == 13 and len(HUMAN_OPTIMAL) == 13
    assert set(AGENT_OPTIMAL).isdisjoint(HUMAN_OPTIMAL)
    assert {"BankHeist", "DemonAttack", "Hero", "BattleZone", "ChopperCommand", "Alien"} <= set(HUMAN_OPTIMAL)


@pytest.mark.parametrize("name", sorted(SPOT_CHECKS))
def test_spot_checked_rows(name):
    g = GAMES[name]
    assert (g.num_actions, g.random_score, g.human_score, g.diamond_score, g.game_set) == SPOT_CHECKS[name]


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared/REFERENCE.md is not beside this checkout")
def test_every_row_matches_reference_md():
    rows = re.findall(r"^\| (\w+) \| (\d+) \| ([-\d.]+) \| ([-\d.]+) \| ([-\d.]+) \| (AO|HO) \|$", REFERENCE.read_text(), re.M)
    assert len(rows) == 26
    for name, actions, rand, human, diamond, game_set in rows:
        g = GAMES[name]
        assert (g.num_actions, g.random_score, g.human_score, g.diamond_score, g.game_set) == (
            int(actions), float(rand), float(human), float(diamond), game_set
        ), name


def test_hns_definition():
    assert human_normalized_score("Pong", -20.7) == 0.0
    assert human_normalized_score("Pong", 14.6) == pytest.approx(1.0)
    assert GAMES["Asterix"].hns(3698.5) == pytest.approx((3698.5 - 210.0) / (8503.3 - 210.0))


def test_diamond_published_aggregates_reproduced():
    """DIAMOND's published mean 1.459 and median 0.373 HNS, and the AO/HO asymmetry (2.79 vs 0.13)."""
    hns = {n: g.hns(g.diamond_score) for n, g in GAMES.items()}
    assert statistics.mean(hns.values()) == pytest.approx(1.459, abs=0.002)
    assert statistics.median(hns.values()) == pytest.approx(0.373, abs=0.002)
    assert statistics.mean(hns[n] for n in AGENT_OPTIMAL) == pytest.approx(2.79, abs=0.01)
    assert statistics.mean(hns[n] for n in HUMAN_OPTIMAL) == pytest.approx(0.13, abs=0.01)
    assert sum(h >= 1 for h in hns.values()) == 11


def test_lookup_ignores_case_and_separators():
    assert get_game("asterix").name == "Asterix"
    assert get_game("ms_pacman").name == "MsPacman"
    assert get_game("Up-N-Down").name == "UpNDown"


def test_unknown_game_lists_valid_names():
    with pytest.raises(UserError) as e:
        get_game("Astrix")
    message = str(e.value)
    assert "\n" not in message and "'Astrix'" in message
    assert all(name in message for name in GAMES)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_every_game_env_builds_with_its_action_count(name):
    env = make_eval_env(name)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3)
    assert env.action_space.n == GAMES[name].num_actions
    env.step(env.action_space.n - 1)
    env.close()
