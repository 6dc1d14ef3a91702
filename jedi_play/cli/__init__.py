"""Command-line plumbing shared by every console script: one-line errors and dataclass-typed flags."""

from jedi_play.cli.errors import UserError, run_main
from jedi_play.cli.parser import CliParser, add_dataclass_args, dataclass_from_args

__all__ = ["CliParser", "UserError", "add_dataclass_args", "dataclass_from_args", "run_main"]
