"""``jedi-play``: the command-line contract of the app (DESIGN.md, "Command-line contracts").

Order of work: check the options, open pygame's display (no display is one line, before any download),
pick the device, find and load the model (one line says what was loaded from where), start the real game
whose first frames seed the dream, then open the window: play starts on its first frame.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jedi_play.cli.errors import UserError, run_main
from jedi_play.cli.parser import CliParser, add_dataclass_args, dataclass_from_args
from jedi_play.env.games import get_game

PROG = "jedi-play"
MIN_SIZE, MAX_SIZE = 64, 4096


@dataclass
class PlayConfig:
    """Options of the play window."""

    game: str = field(default="Asterix", metadata={"help": "Atari 100k game"})
    model: str | None = field(default=None, metadata={"help": "Hub repo id or local model folder", "metavar": "REPO_ID_OR_PATH"})
    revision: str | None = field(default=None, metadata={"help": "Hub revision (branch, tag or commit) to pin"})
    mode: Literal["dream", "agent", "compare", "versus"] = field(default="dream", metadata={"help": "what to show"})
    fps: int = field(default=15, metadata={"help": "frame cap, 0 for none"})
    size: int = field(default=640, metadata={"help": "game pane size in pixels", "metavar": "PX"})
    steps: int = field(default=3, metadata={"help": "denoising steps per frame", "metavar": "N"})
    device: Literal["auto", "cpu", "cuda", "mps"] = field(default="auto", metadata={"help": "torch device"})
    record: Path | None = field(default=None, metadata={"help": "folder to record episodes into", "metavar": "DIR"})
    max_frames: int | None = field(default=None, metadata={"help": "quit after N frames", "metavar": "N"})
    screenshot: Path | None = field(default=None, metadata={"help": "save the window to FILE on quit", "metavar": "FILE"})


def build_parser() -> CliParser:
    parser = CliParser(prog=PROG, description="Play Atari inside a JEDI diffusion world model.")
    add_dataclass_args(parser, PlayConfig)
    return parser


def check_config(config: PlayConfig) -> None:
    """Refuse options that cannot work, before anything slow happens."""
    from jedi_play.app.session import MAX_DENOISING_STEPS

    get_game(config.game)
    if config.fps < 0:
        raise UserError(f"--fps must be 0 (no cap) or more, not {config.fps}")
    if not MIN_SIZE <= config.size <= MAX_SIZE:
        raise UserError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels, not {config.size}")
    if not 1 <= config.steps <= MAX_DENOISING_STEPS:
        raise UserError(f"--steps must be between 1 and {MAX_DENOISING_STEPS}, not {config.steps}")
    if config.max_frames is not None and config.max_frames < 1:
        raise UserError(f"--max-frames must be at least 1, not {config.max_frames}")
    if config.screenshot is not None and not config.screenshot.parent.is_dir():
        raise UserError(f"--screenshot: the folder {config.screenshot.parent} does not exist")
    if config.record is not None:
        raise UserError("--record: recording episodes is not available in this version yet")


def play(config: PlayConfig) -> int:
    """Run the app with ``config``; returns the exit code."""
    # torch, pygame and the Hub client are imported here, so that --help answers at once
    from jedi_play.app.session import AGENT_MODES, Session
    from jedi_play.app.window import Window, close_display, open_display
    from jedi_play.device import describe_device, resolve_device
    from jedi_play.hub.download import locate_model
    from jedi_play.hub.model_folder import load_model_folder

    check_config(config)
    open_display()
    try:
        device = resolve_device(config.device)
        print(f"device: {describe_device(device)}", flush=True)
        source = locate_model(config.model, config.game, config.revision)
        loaded = load_model_folder(source.folder, config.game, device)
        agent = "with its agent" if loaded.agent is not None else "without an agent"
        print(f"{source.description}: a {loaded.kind} world model of {loaded.game}, {agent}", flush=True)
        if config.mode in AGENT_MODES and loaded.agent is None:
            raise UserError(f"--mode {config.mode} needs an agent, and this model has none; try --mode dream or compare")
        session = Session(loaded, mode=config.mode, denoising_steps=config.steps)
        try:
            window = Window(
                session, pane_size=config.size, fps=config.fps, max_frames=config.max_frames, screenshot=config.screenshot
            )
            window.open()
            stats = window.run()
        finally:
            session.close()
    finally:
        close_display()
    print(f"played {stats.advanced} frames in {stats.seconds:.1f} s: {stats.mean_fps:.1f} frames per second on average")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    def body() -> int:
        return play(dataclass_from_args(PlayConfig, build_parser().parse_args(argv)))

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
