"""argparse built from ``@dataclass`` configs (one config per concern, CleanRL style).

A field's help text comes from ``field(metadata={"help": ...})``; ``choices`` and ``positional`` may be
given there too. Booleans become ``--flag/--no-flag``.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from jedi_play.cli.errors import EXIT_USAGE

T = TypeVar("T")


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit code 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one flag per field of the dataclass ``cls`` (``snake_case`` -> ``--kebab-case``)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, optional = _unwrap_optional(hints[f.name])
        meta = dict(f.metadata)
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        kwargs: dict[str, Any] = {"help": meta.get("help", "")}
        if has_default and default is not None:
            kwargs["help"] += f" (default: {default})"
        if typing.get_origin(tp) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(tp))
            tp = type(kwargs["choices"][0])
        if "choices" in meta:
            kwargs["choices"] = meta["choices"]
        if meta.get("positional"):
            parser.add_argument(f.name, type=tp, metavar=meta.get("metavar", f.name.upper()), **kwargs)
            continue
        flag = "--" + f.name.replace("_", "-")
        if typing.get_origin(tp) is list:  # a repeatable flag: --model A --model B
            (item,) = typing.get_args(tp)
            kwargs["help"] = kwargs["help"].replace(" (default: [])", "") + " (repeatable)"
            parser.add_argument(flag, dest=f.name, action="append", type=item, metavar=meta.get("metavar", f.name.upper()), default=None, **{k: v for k, v in kwargs.items() if k == "help"})
            continue
        if tp is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default, **kwargs)
            continue
        kwargs["type"] = tp if tp in (int, float, str, Path) else str
        if "choices" not in kwargs or "metavar" in meta:
            kwargs["metavar"] = meta.get("metavar", f.name.split("_")[-1].upper())
        if has_default:
            parser.add_argument(flag, dest=f.name, default=default, **kwargs)
        else:
            parser.add_argument(flag, dest=f.name, required=not optional, **kwargs)


def dataclass_from_args(cls: type[T], ns: argparse.Namespace) -> T:
    """Build ``cls`` from the parsed namespace (fields only; other attributes are ignored)."""
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = getattr(ns, f.name)
        if value is None and f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()  # a repeatable flag given no time
        values[f.name] = value
    return cls(**values)
