"""Keyboard mapping on real games with 4, 9 and 18 actions."""

import pytest

from jedi_play.env import AtariEnv, Keymap


@pytest.fixture(scope="module", params=["Breakout", "Asterix", "Alien"])
def keymap(request):
    env = AtariEnv(request.param)
    km = Keymap(env.action_meanings)
    env.close()
    return km


def test_action_counts():
    assert [len(AtariEnv(g).action_meanings) for g in ("Breakout", "Asterix", "Alien")] == [4, 9, 18]


def test_every_action_is_reachable_by_its_keys(keymap):
    for action in range(len(keymap.action_meanings)):
        assert keymap.action_for_keys(keymap.keys_for_action(action)) == action


def test_arrows_equal_wasd(keymap):
    arrows = {"w": "up", "s": "down", "a": "left", "d": "right", "space": "space"}
    for action in range(len(keymap.action_meanings)):
        keys = [arrows[k] for k in keymap.keys_for_action(action)]
        assert keymap.action_for_keys(keys) == action


def test_nothing_pressed_is_noop(keymap):
    assert keymap.action_meanings[keymap.action_for_keys([])] == "NOOP"
    assert keymap.action_meanings[keymap.action_for_keys(["x", "return"])] == "NOOP"


def test_breakout_combinations_fall_back_to_what_exists():
    km = Keymap(AtariEnv("Breakout").action_meanings)  # NOOP, FIRE, RIGHT, LEFT
    name = lambda keys: km.action_meanings[km.action_for_keys(keys)]  # noqa: E731
    assert name(["space"]) == "FIRE"
    assert name(["d"]) == "RIGHT"
    assert name(["w", "d"]) == "RIGHT"  # no UP in Breakout
    assert name(["d", "space"]) == "FIRE"  # RIGHTFIRE is missing: the newest key wins the tie
    assert name(["space", "d"]) == "RIGHT"
    assert name(["w"]) == "NOOP"
    assert name(["a", "d"]) == "NOOP"  # opposite directions cancel


def test_asterix_diagonals_and_full_18():
    km = Keymap(AtariEnv("Asterix").action_meanings)
    name = lambda keys: km.action_meanings[km.action_for_keys(keys)]  # noqa: E731
    assert name(["w", "d"]) == "UPRIGHT"
    assert name(["down", "left"]) == "DOWNLEFT"
    assert name(["w", "d", "space"]) == "UPRIGHT"  # Asterix has no FIRE
    km18 = Keymap(AtariEnv("Alien").action_meanings)
    assert km18.action_meanings[km18.action_for_keys(["s", "a", "space"])] == "DOWNLEFTFIRE"
    assert km18.action_meanings[km18.action_for_keys(["w", "s", "space"])] == "FIRE"


def test_help_lines_list_every_action(keymap):
    lines = keymap.help_lines()
    assert len(lines) == len(keymap.action_meanings)
    assert all(line.split()[-1] == meaning for line, meaning in zip(lines, keymap.action_meanings))
