"""``jedi-bench``: JEDI and DIAMOND side by side on this device (DESIGN.md, "Benchmarks")."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jedi_play.cli.errors import UserError, run_main
from jedi_play.cli.parser import CliParser, add_dataclass_args, dataclass_from_args

PROG = "jedi-bench"


@dataclass
class BenchConfig:
    """Measure training updates/s, peak training memory and dream frames/s for both world models."""

    json: Path | None = field(default=None, metadata={"help": "write the figures to FILE", "metavar": "FILE"})


def build_parser() -> CliParser:
    parser = CliParser(prog=PROG, description="Benchmark the JEDI and DIAMOND world models on this device.")
    add_dataclass_args(parser, BenchConfig)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    def body() -> int:
        dataclass_from_args(BenchConfig, build_parser().parse_args(argv))
        raise UserError("benchmarks are not available in this version yet")

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
