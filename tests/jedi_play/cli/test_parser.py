"""The dataclass-driven command line: repeatable flags, and one-line errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jedi_play.cli.parser import CliParser, add_dataclass_args, dataclass_from_args


@dataclass
class Example:
    model: list[str] = field(default_factory=list, metadata={"help": "a model"})
    results: list[Path] = field(default_factory=list, metadata={"help": "a file"})
    episodes: int = field(default=100, metadata={"help": "episodes"})


def _parse(*argv: str) -> Example:
    parser = CliParser(prog="example")
    add_dataclass_args(parser, Example)
    return dataclass_from_args(Example, parser.parse_args(list(argv)))


def test_repeatable_flags_collect_in_order() -> None:
    config = _parse("--model", "a", "--results", "x.json", "--model", "b")
    assert config.model == ["a", "b"] and config.results == [Path("x.json")] and config.episodes == 100


def test_repeatable_flags_default_to_fresh_empty_lists() -> None:
    first, second = _parse(), _parse()
    assert first.model == [] and first.results == []
    first.model.append("x")
    assert second.model == []


def test_bad_value_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        _parse("--episodes", "many")
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
