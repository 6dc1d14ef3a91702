"""``jedi-bench app``: the play window's speed over its first frames, as a user meets it.

Each ``--compile`` setting runs in a fresh process (``python -m trainer.bench.app_speed``), so that no
compile, cache in memory or warm-up carries over: it loads the model, opens a headless window (SDL's dummy
driver) at the frame cap, and a scripted person holds one direction after another (``PersonScript``) for
``--frames`` frames. For each span of frames it reports the game steps per second: the frames that stepped
a game, over the time from the frame before to each of them, as ``RunStats.steps_per_second`` counts them
(a finished episode on show does not count). A benchmark, not a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jedi_play.cli.errors import UserError

SPANS = ((0, 90), (90, 300), (300, 600))  # frames [start, end) reported by default
HOLD_FRAMES = 45  # a direction held for 3 s at 15 frames per second, as a person moves
DIRECTIONS = ("right", "down", "left", "up")


@dataclass
class AppSpeedConfig:
    """What ``jedi-bench app`` measures."""

    model: str = field(default="assets/asterix", metadata={"help": "model folder to play", "metavar": "PATH"})
    game: str = field(default="Asterix", metadata={"help": "its game"})
    mode: Literal["dream", "agent", "compare", "versus"] = field(default="dream", metadata={"help": "app mode"})
    frames: int = field(default=600, metadata={"help": "frames to play", "metavar": "N"})
    fps: int = field(default=15, metadata={"help": "the app's frame cap (its default), 0 for none"})
    compile: list[str] = field(default_factory=lambda: ["auto", "off"], metadata={"help": "--compile settings, each in a fresh process"})
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (default: the app's own choice)", "metavar": "N"})
    json: Path | None = field(default=None, metadata={"help": "write the figures to FILE", "metavar": "FILE"})


class PersonScript:
    """Keys as a person presses them: each direction held for ``HOLD_FRAMES`` frames in turn, FIRE tapped
    at each change, and a new episode (Backspace) a little after one ends."""

    def __init__(self) -> None:
        self.held: str | None = None

    def keys_at(self, frame: int) -> tuple[list[str], list[str]]:
        """(keys to release, keys to press) at the start of ``frame``."""
        if frame % HOLD_FRAMES:
            return [], []
        release = [self.held] if self.held else []
        self.held = DIRECTIONS[(frame // HOLD_FRAMES) % len(DIRECTIONS)]
        return release, [self.held, "space"]


def steps_per_second(stamps: list[tuple[float, int]], start: int, end: int) -> float | None:
    """Game steps per second over frames [start, end) of ``stamps`` (time and game steps after each frame)."""
    steps, seconds = 0, 0.0
    for i in range(max(start, 1), min(end, len(stamps))):
        if stamps[i][1] > stamps[i - 1][1]:
            steps += stamps[i][1] - stamps[i - 1][1]
            seconds += stamps[i][0] - stamps[i - 1][0]
    return steps / seconds if seconds > 0 else None


def measure_one(config: AppSpeedConfig, compile_setting: str) -> dict:
    """In this process: play ``config.frames`` frames with ``--compile compile_setting``; the figures."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    import pygame
    import torch

    from jedi_play.app.background_compile import compile_plan
    from jedi_play.app.session import Session
    from jedi_play.app.window import Window, close_display, open_display
    from jedi_play.device import configure_threads
    from jedi_play.hub.model_folder import load_model_folder

    why_threads = configure_threads(config.threads)
    open_display()
    loaded = load_model_folder(Path(config.model), config.game, torch.device("cpu"))
    plan = compile_plan(compile_setting, torch.device("cpu"), config.fps)  # type: ignore[arg-type]
    session = Session(
        loaded, mode=config.mode, seed=0, background_compile=plan.when != "never",
        compile_below_fps=plan.fps if plan.when == "below_cap" else None,
    )
    stamps: list[tuple[float, int]] = []
    compile_frames: dict[str, int] = {}
    person, ended_at = PersonScript(), None

    def on_frame(window: Window, frame: int) -> None:
        nonlocal ended_at
        stamps.append((time.perf_counter(), session.game_steps))
        status = session.hud(0.0).compile
        if status and status not in compile_frames:
            compile_frames[status] = frame
        release, press = person.keys_at(frame)
        for name in release:
            pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.key.key_code(name)))
        for name in press:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.key.key_code(name)))
        if "space" in window.held and frame % HOLD_FRAMES == 2:
            pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.key.key_code("space")))

    window = Window(session, pane_size=640, fps=config.fps, max_frames=config.frames + 1, on_frame=on_frame)
    try:
        window.open()
        stats = window.run()
    finally:
        session.close()
        close_display()
    spans = [(a, b) for a, b in SPANS if a < config.frames] or [(0, config.frames)]
    return {
        "compile": compile_setting,
        "threads": torch.get_num_threads(),
        "threads_why": why_threads,
        "frames": stats.frames,
        "game_steps": stats.game_steps,
        "steps_per_second": {f"{a + 1}-{min(b, config.frames)}": steps_per_second(stamps, a + 1, b + 1) for a, b in spans},
        "compile_status_from_frame": compile_frames,
        "compile_log": session.compile_log,
    }


def run_app_speed(config: AppSpeedConfig) -> dict:
    """Each ``--compile`` setting in a fresh process; the figures of all."""
    if config.frames < 2:
        raise UserError(f"--frames must be at least 2, not {config.frames}")
    if not (Path(config.model) / "config.json").is_file():
        raise UserError(f"--model {config.model} is not a model folder (no config.json)")
    results = []
    for setting in config.compile:
        if setting not in ("auto", "on", "off"):
            raise UserError(f"--compile takes auto, on or off, not {setting!r}")
        print(f"app: {config.frames} frames with --compile {setting}...", file=sys.stderr)
        argv = [sys.executable, "-m", "trainer.bench.app_speed", json.dumps({**vars(config), "json": None}), setting]
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            raise UserError(f"the app benchmark with --compile {setting} failed: {proc.stderr.strip().splitlines()[-1:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {"model": config.model, "game": config.game, "mode": config.mode, "fps_cap": config.fps, "runs": results}


def format_app_speed(result: dict) -> str:
    spans = list(result["runs"][0]["steps_per_second"])
    lines = [f"app: {result['game']} ({result['model']}), {result['mode']} mode, frame cap {result['fps_cap'] or 'none'}",
             f"{'--compile':<12}{'threads':>8}" + "".join(f"{'frames ' + s:>18}" for s in spans)]
    for run in result["runs"]:
        cells = "".join(f"{'n/a' if v is None else f'{v:.1f}':>18}" for v in run["steps_per_second"].values())
        lines.append(f"{run['compile']:<12}{run['threads']:>8}{cells}")
    lines.append("(game steps per second)")
    return "\n".join(lines)


def _child(argv: Sequence[str]) -> None:
    """``python -m trainer.bench.app_speed CONFIG_JSON SETTING``: one measurement, printed as JSON."""
    fields = json.loads(argv[0])
    config = AppSpeedConfig(**{**fields, "json": None})
    print(json.dumps(measure_one(config, argv[1])), flush=True)
    from jedi_play.app.background_compile import compile_running

    if compile_running():  # as jedi-play's console script: no finalising under a running compile
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    _child(sys.argv[1:])
