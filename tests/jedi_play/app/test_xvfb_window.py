"""A real X11 window: ``jedi-play`` under Xvfb, driven by xdotool key presses and filmed by ffmpeg's x11grab.

Nothing here goes through pygame's dummy driver: the keys travel through the X server (XTEST) and the
pictures are read back from the X server's screen, as a person would see them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from jedi_play.app.window import layout

TOOLS = ("Xvfb", "xdotool", "ffmpeg")
pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS), reason="needs Xvfb, xdotool and ffmpeg (apt-get install xvfb xdotool ffmpeg)"
)
SCREEN = (800, 600)


@pytest.fixture
def x_display() -> Iterator[str]:
    """A fresh Xvfb server on a display number it picks itself; yields ``":N"``."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    try:
        assert number.isdigit(), "Xvfb did not report its display"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def xdotool(display: str, *args: str) -> str:
    out = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"xdotool {' '.join(args)}: {out.stderr.strip()}"
    return out.stdout


def grab_screen(display: str) -> np.ndarray:
    """The X screen as (H, W, 3) uint8, captured by ffmpeg's x11grab."""
    out = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "x11grab", "-video_size", f"{SCREEN[0]}x{SCREEN[1]}", "-i", display,
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr.decode()
    return np.frombuffer(out.stdout, np.uint8).reshape(SCREEN[1], SCREEN[0], 3)


def test_real_window_game_area_changes_with_xdotool_keys(x_display: str, asterix_folder: Path, tmp_path: Path) -> None:
    env = {**os.environ, "DISPLAY": x_display, "SDL_VIDEODRIVER": "x11", "SDL_AUDIODRIVER": "dummy", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "jedi_play.app.cli", "--game", "Asterix", "--model", str(asterix_folder), "--size", "256", "--fps", "15", "--compile", "off"]
    app = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        # by process id: xdotool's --name does not read the UTF-8 title SDL sets
        window = xdotool(x_display, "search", "--sync", "--onlyvisible", "--pid", str(app.pid)).split()[0]
        deadline = time.monotonic() + 10  # SDL maps the window before it sets the title
        while "JEDI Play: Asterix" not in xdotool(x_display, "getwindowname", window):
            assert time.monotonic() < deadline, "the window never got its title"
            time.sleep(0.1)
        xdotool(x_display, "windowfocus", "--sync", window)
        geometry = dict(line.split("=") for line in xdotool(x_display, "getwindowgeometry", "--shell", window).split())
        x, y, w, h = (int(geometry[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
        area = layout((w, h), 1)[0]  # the dream pane inside the window

        def game_area() -> np.ndarray:
            return grab_screen(x_display)[y + area.top : y + area.bottom, x + area.left : x + area.right].astype(np.int16)

        time.sleep(1.0)  # the first frames are drawn
        xdotool(x_display, "key", "p")  # pause
        time.sleep(0.5)
        paused = game_area()
        time.sleep(0.5)
        assert np.array_equal(game_area(), paused), "the game area moved while paused"
        assert paused.std() > 1, "the window shows no picture"

        xdotool(x_display, "keydown", "Right")
        for _ in range(4):
            xdotool(x_display, "key", "n")  # single steps, with Right held
            time.sleep(0.2)
        xdotool(x_display, "keyup", "Right")
        time.sleep(0.5)
        stepped = game_area()
        assert np.abs(stepped - paused).mean() > 0.5, "the key presses did not change the game area"

        xdotool(x_display, "key", "Escape")
        output, _ = app.communicate(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
    assert app.returncode == 0, output
    assert "frames per second" in output
