"""``jedi-play`` end to end headless: --max-frames, --screenshot, --record, the model it says it loaded, and bad input.

Runs that need their own environment (the Hub offline, no display, the bundled fallback) go through the
installed console script; the others call ``main`` in this process.
"""

import os
import re
import shutil
import subprocess
import sys

import pygame
import pytest

from cli_helpers import assert_one_line_error, script
from jedi_play.app.cli import main
from jedi_play.app.window import HUD_HEIGHT
from jedi_play.data.store import EpisodeStore, read_facts


def run_play(*args, **env):
    """The installed ``jedi-play`` with the SDL dummy driver, one thread, no Hub access, no compiling (unless
    ``--compile`` is given), and ``env`` on top."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    full.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    full.update(env)
    full = {k: v for k, v in full.items() if v is not None}
    args = args if "--compile" in args else (*args, "--compile", "off")
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
    assert re.search(r"; [1-5] stepped the game, at [0-9.]+ game steps per second$", lines[2]), lines[2]
    assert "Traceback" not in result.stderr
    assert pygame.image.load(str(shot)).get_size() == (96, 96 + HUD_HEIGHT)


@pytest.mark.parametrize("mode", ["compare", "versus"])
def test_two_pane_modes_in_process(mode, asterix_folder, tmp_path, capsys):
    shot = tmp_path / f"{mode}.png"
    assert main(["--model", str(asterix_folder), "--mode", mode, "--max-frames", "3", "--fps", "0", "--size", "80", "--screenshot", str(shot), "--compile", "off"]) == 0
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
    assert_main_error(capsys, ["--threads", "0"], "--threads must be at least 1")
    with pytest.raises(SystemExit) as stop:
        main(["--compile", "sometimes"])
    assert_one_line_error(subprocess.CompletedProcess([], stop.value.code, "", capsys.readouterr().err), "--compile", "invalid choice")


def test_threads_flag_reaches_the_thread_choice(asterix_folder, monkeypatch, capsys):
    """--threads N is handed to ``configure_threads`` (tested in ``test_device``); not run with 2 threads here:
    on a busy 2-core machine that is what makes play crawl."""
    from jedi_play import device

    asked = []
    monkeypatch.setattr(device, "configure_threads", lambda n: asked.append(n) or "")
    assert main(["--model", str(asterix_folder), "--max-frames", "1", "--fps", "0", "--size", "64", "--threads", "3", "--compile", "off"]) == 0
    assert main(["--model", str(asterix_folder), "--max-frames", "1", "--fps", "0", "--size", "64", "--compile", "off"]) == 0
    assert asked == [3, None] and capsys.readouterr().out.startswith("device: cpu (1 threads)\n")


def test_quitting_while_compiling_in_the_background(asterix_folder, tmp_path):
    """--max-frames (as Esc) during the compile quits at once, eager all along."""
    result = run_play("--model", str(asterix_folder), "--max-frames", "3", "--fps", "0", "--size", "64", "--compile", "on", HF_HOME=str(tmp_path / "hf"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2] == "torch.compile: compiling the dream's networks in the background; playing eager meanwhile"
    assert lines[3] == "torch.compile: still compiling at quit; the dream played eager" and lines[4].startswith("played 3 frames")
    assert "Traceback" not in result.stderr


def test_record_saves_the_episode_played(asterix_folder, tmp_path, capsys):
    out = tmp_path / "recordings"
    argv = ["--model", str(asterix_folder), "--record", str(out), "--max-frames", "4", "--fps", "0", "--size", "64", "--compile", "off"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("played 4 frames") and lines[-1] == f"recorded 1 episode into {out}"
    store = EpisodeStore.open(out)
    assert store.game == "Asterix" and [len(e) for e in store] == [4]  # the episode in progress at quit
    assert main([*argv, "--mode", "compare", "--max-frames", "2"]) == 0  # the same folder is extended
    assert [len(e) for e in store] == [4, 2, 2]
    assert [read_facts(p)["world"] for p in store.paths()] == ["dream", "real", "dream"]


def test_bad_record_folders_are_one_line_and_untouched(capsys, asterix_folder, tmp_path, episode_factory):
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    assert_main_error(capsys, ["--record", str(a_file)], "--record", "not a folder")
    breakout = EpisodeStore.create(tmp_path / "breakout", "Breakout", ["NOOP", "FIRE", "RIGHT", "LEFT"])
    breakout.append(episode_factory(3))
    argv = ["--model", str(asterix_folder), "--record", str(breakout.root)]
    assert_main_error(capsys, argv, "--record", "holds Breakout episodes, not Asterix")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    assert_main_error(capsys, ["--record", str(tmp_path / "notes")], "--record", "not an episode folder")
    assert a_file.read_text() == "mine" and len(breakout) == 1 and os.listdir(tmp_path / "notes") == ["todo.txt"]


def test_the_app_never_imports_trainer_and_replay_needs_no_torch():
    code = (
        "import sys\n"
        "import jedi_play.app.cli, jedi_play.app.replay_window, jedi_play.app.video\n"
        "assert 'torch' not in sys.modules, 'replay and export-video import torch'\n"
        "import jedi_play.app.session, jedi_play.app.window, jedi_play.app.recorder, jedi_play.data.store\n"
        "assert 'torch' in sys.modules\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'trainer'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={**os.environ, "SDL_VIDEODRIVER": "dummy"}, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
