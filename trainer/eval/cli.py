"""``jedi-eval``: an agent's score in the real game, and ``jedi-eval fidelity`` for the world model."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jedi_play.cli.errors import UserError, run_main
from jedi_play.cli.parser import CliParser, add_dataclass_args, dataclass_from_args

PROG = "jedi-eval"


@dataclass
class EvalConfig:
    """Score an agent under the evaluation protocol (all lives, 108k-frame cap)."""

    model: str = field(metadata={"help": "Hub repo id or local model folder", "metavar": "REPO_ID_OR_PATH"})
    episodes: int = field(default=100, metadata={"help": "evaluation episodes", "metavar": "N"})
    json: Path | None = field(default=None, metadata={"help": "write the results to FILE", "metavar": "FILE"})


def build_parser() -> CliParser:
    parser = CliParser(
        prog=PROG,
        description="Evaluate a trained agent in the real game.",
        epilog="'jedi-eval fidelity --help' measures a world model's open-loop PSNR against the real game.",
    )
    add_dataclass_args(parser, EvalConfig)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)

    def body() -> int:
        dataclass_from_args(EvalConfig, build_parser().parse_args(args))
        raise UserError("agent evaluation is not available in this version yet")

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
