"""Every console script is installed and answers --help; bad input is one line and exit code 2."""

import pytest

from cli_helpers import assert_one_line_error, run_script


@pytest.mark.parametrize("name", ["jedi-play", "jedi-train", "jedi-eval", "jedi-bench"])
def test_help(name):
    result = run_script(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {name}")


@pytest.mark.parametrize(
    "argv",
    [
        ("jedi-play", "--game", "Astrix"),
        ("jedi-train", "--game", "Astrix", "--out", "x"),
        ("jedi-train", "collect", "--game", "Astrix", "--steps", "5", "--out", "x"),
    ],
)
def test_unknown_game(argv, tmp_path):
    assert_one_line_error(run_script(*argv), "unknown game 'Astrix'", "Asterix", "Breakout", "UpNDown")


def test_bad_flag_value_is_one_line():
    assert_one_line_error(run_script("jedi-train", "collect", "--game", "Pong", "--steps", "many", "--out", "x"), "--steps")
