"""``jedi-play``: the command-line contract of the app (DESIGN.md, "Command-line contracts")."""

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


def main(argv: Sequence[str] | None = None) -> int:
    def body() -> int:
        config = dataclass_from_args(PlayConfig, build_parser().parse_args(argv))
        get_game(config.game)
        raise UserError("the play window is not available in this version yet")

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
