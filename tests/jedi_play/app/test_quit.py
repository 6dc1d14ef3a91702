"""Quitting ``jedi-play``: every way out (``--max-frames``, Esc and a closed window take the same path, Ctrl-C,
SIGTERM) exits 0 with the closing lines, whatever the background compile is doing, and saves the recordings.

Each test runs the installed console script headless on the tiny model, as a user's process: a crash at
exit (a segmentation fault or an abort while inductor's threads run) shows only there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import IO

import pytest

from cli_helpers import script
from jedi_play.app import background_compile
from jedi_play.data.store import EpisodeStore

needs_compiler = pytest.mark.skipif(background_compile.cxx_compiler() is None, reason="torch.compile needs a C++ compiler")
STILL_COMPILING = "torch.compile: still compiling at quit; the dream played eager"


def app_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return env


def signal_app(args: list[str], wait: Callable[[IO[str]], None], signum: int) -> tuple[int, str]:
    """Start ``jedi-play ARGS`` headless, call ``wait(stdout)``, send ``signum``; returns the exit code and the
    rest of stdout."""
    command = [script("jedi-play"), *args, "--size", "64"]
    app = subprocess.Popen(command, env=app_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None
        wait(app.stdout)
        app.send_signal(signum)
        out, err = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
    assert "Traceback" not in err, err
    return app.returncode, out


def compiling_for_a_while(stdout: IO[str]) -> None:
    """Until the app says it compiles, then two seconds of play."""
    for _ in range(5):
        if stdout.readline().startswith("torch.compile: compiling"):
            time.sleep(2.0)
            return
    pytest.fail("the app did not start compiling")


def assert_closing_lines(out: str) -> None:
    assert STILL_COMPILING in out and "played " in out and "game steps per second" in out.splitlines()[-1], out


@needs_compiler
def test_quitting_during_the_compile_exits_0_ten_times_in_a_row(asterix_folder) -> None:
    command = [script("jedi-play"), "--model", str(asterix_folder), "--compile", "on", "--max-frames", "10", "--fps", "0", "--size", "64"]
    for attempt in range(10):
        result = subprocess.run(command, env=app_env(), capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (attempt, result.returncode, result.stderr[-2000:])
        assert_closing_lines(result.stdout)
        assert "terminate called" not in result.stderr and "Traceback" not in result.stderr


@needs_compiler
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_during_the_compile_exit_0(asterix_folder, signum: int) -> None:
    code, out = signal_app(["--model", str(asterix_folder), "--compile", "on", "--fps", "30"], compiling_for_a_while, signum)
    assert code == 0, out
    assert_closing_lines(out)


def test_sigterm_saves_the_episode_being_recorded(asterix_folder, tmp_path) -> None:
    out_dir = tmp_path / "recordings"

    def some_frames_played(stdout: IO[str]) -> None:
        assert "loaded the local folder" in stdout.readline() + stdout.readline()
        time.sleep(2.0)

    args = ["--model", str(asterix_folder), "--record", str(out_dir), "--fps", "30", "--compile", "off"]
    code, out = signal_app(args, some_frames_played, signal.SIGTERM)
    assert code == 0 and "played " in out and f"recorded 1 episode into {out_dir}" in out, out
    (episode,) = EpisodeStore.open(out_dir).load_all()
    assert len(episode) >= 1 and episode.truncated[-1] and not episode.terminated.any()
    assert not [p.name for p in out_dir.iterdir() if ".tmp-" in p.name]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_while_the_model_loads_stops_the_app(asterix_folder, signum: int, code: int) -> None:
    # before the window plays there is nothing to close: 143 (SIGTERM) or 130 (Ctrl-C), as a batch tool does;
    # pygame's SDL would otherwise turn the SIGTERM into a quit event

    def display_open(stdout: IO[str]) -> None:
        assert stdout.readline().startswith("device:")

    assert signal_app(["--model", str(asterix_folder), "--compile", "off"], display_open, signum)[0] == code
