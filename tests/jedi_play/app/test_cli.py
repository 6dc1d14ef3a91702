"""``jedi-play`` end to end headless: --max-frames, --screenshot, the model it says it loaded, and bad input.

Runs that need their own environment (the Hub offline, no display, the bundled fallback) go through the
installed console script; the others call ``main`` in this process.
"""

import os
import shutil
import subprocess

import pygame
import pytest

from cli_helpers import assert_one_line_error, script
from jedi_play.app.cli import main
from jedi_play.app.window import HUD_HEIGHT


def run_play(*args, **env):
    """The installed ``jedi-play`` with the SDL dummy driver, one thread, no Hub access, and ``env`` on top."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    full.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    full.update(env)
    full = {k: v for k, v in full.items() if v is not None}
    return subprocess.run([script("jedi-play"), *args], capture_output=True, text=True, timeout=300, env=full)


def assert_main_error(capsys, argv, *fragments):
    """``main(argv)`` in this process: exit code 2 and one line on stderr holding every fragment."""
    code = main(argv)
    err = capsys.readouterr().err
    assert_one_line_error(subprocess.CompletedProcess(argv, code, "", err), *fragments)


def test_max_frames_and_screenshot_through_the_console_script(asterix_folder, tmp_path):
    shot = tmp_path / "dream.png"
    result = run_play("--model", str(asterix_folder), "--max-frames", "5", "--fps", "0", "--size", "96", "--screenshot", str(shot), HF_HOME=str(tmp_path / "hf"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "device: cpu (1 threads)"
    assert lines[1] == f"loaded the local folder {asterix_folder}: a jedi world model of Asterix, with its agent"
    assert lines[2].startswith("played 5 frames in") and "frames per second on average" in lines[2]
    assert "Traceback" not in result.stderr
    assert pygame.image.load(str(shot)).get_size() == (96, 96 + HUD_HEIGHT)


@pytest.mark.parametrize("mode", ["compare", "versus"])
def test_two_pane_modes_in_process(mode, asterix_folder, tmp_path, capsys):
    shot = tmp_path / f"{mode}.png"
    assert main(["--model", str(asterix_folder), "--mode", mode, "--max-frames", "3", "--fps", "0", "--size", "80", "--screenshot", str(shot)]) == 0
    assert "played 3 frames" in capsys.readouterr().out
    assert pygame.image.load(str(shot)).get_size() == (160, 80 + HUD_HEIGHT)


def test_without_model_offline_it_plays_the_bundled_copy(asterix_folder, tmp_path):
    assets = tmp_path / "assets"
    shutil.copytree(asterix_folder, assets / "asterix")
    result = run_play("--max-frames", "2", "--fps", "0", "--size", "64", JEDI_PLAY_ASSETS=str(assets), HF_HOME=str(tmp_path / "hf"))
    assert result.returncode == 0, result.stderr
    assert f"loaded the bundled model {assets / 'asterix'} (offline: HF_HUB_OFFLINE is set)" in result.stdout


def test_hub_error_is_one_line(tmp_path):
    result = run_play("--model", "nobody/no-such-model", HF_HOME=str(tmp_path / "hf"))
    assert_one_line_error(result, "cannot download nobody/no-such-model", "offline")
    empty = tmp_path / "no_assets"
    empty.mkdir()
    result = run_play("--game", "Pong", JEDI_PLAY_ASSETS=str(empty), HF_HOME=str(tmp_path / "hf"))
    assert_one_line_error(result, "no model for Pong", "pass --model")


def test_no_display_is_one_line(asterix_folder):
    result = run_play("--model", str(asterix_folder), SDL_VIDEODRIVER="x11", DISPLAY=None, WAYLAND_DISPLAY=None)
    assert_one_line_error(result, "cannot open a window", "SDL_VIDEODRIVER=dummy")


def test_model_errors_are_one_line(capsys, asterix_folder, breakout_folder, no_agent_folder, tmp_path):
    assert_main_error(capsys, ["--game", "Astrix"], "unknown game 'Astrix'")
    assert_main_error(capsys, ["--model", str(breakout_folder)], "is for Breakout, not Asterix")
    corrupt = shutil.copytree(asterix_folder, tmp_path / "corrupt")
    (corrupt / "world_model.safetensors").write_bytes(b"\x00" * 64)
    assert_main_error(capsys, ["--model", str(corrupt)], "world_model.safetensors", "damaged")
    missing = shutil.copytree(asterix_folder, tmp_path / "missing")
    (missing / "config.json").unlink()
    assert_main_error(capsys, ["--model", str(missing)], "config.json is missing")
    assert_main_error(capsys, ["--model", str(tmp_path / "nowhere")], "no folder", "not a Hub repo id")
    assert_main_error(capsys, ["--model", str(no_agent_folder), "--mode", "versus"], "--mode versus needs an agent")


def test_option_errors_are_one_line(capsys, tmp_path):
    assert_main_error(capsys, ["--fps", "-1"], "--fps")
    assert_main_error(capsys, ["--steps", "0"], "--steps")
    assert_main_error(capsys, ["--size", "10"], "--size")
    assert_main_error(capsys, ["--max-frames", "0"], "--max-frames")
    assert_main_error(capsys, ["--screenshot", str(tmp_path / "no" / "x.png")], "--screenshot", "does not exist")
    assert_main_error(capsys, ["--record", str(tmp_path)], "--record", "not available")
