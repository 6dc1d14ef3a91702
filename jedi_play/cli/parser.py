"""argparse built from ``@dataclass`` configs (one config per concern, CleanRL style).

A field's help text comes from ``field(metadata={"help": ...})``; ``choices`` and ``positional`` may be
given there too. Booleans become ``--flag/--no-flag``. Fields marked ``"experimental": True`` get no flag
of their own: they are set through one repeatable door, ``--experimental KEY=VALUE`` (the field's name as
KEY), so that ``--help`` shows what a user chooses and the research knobs stay reachable.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from jedi_play.cli.errors import EXIT_USAGE, UserError

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
        if f.metadata.get("experimental"):
            continue
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
    experimental = experimental_fields(cls)
    if experimental:
        keys = ", ".join(f.name for f in experimental)
        parser.add_argument(
            "--experimental", dest=EXPERIMENTAL_DEST, action="append", default=None, metavar="KEY=VALUE",
            help=f"a research setting, not a user's choice; repeatable (docs/training.md). Keys: {keys}",
        )


EXPERIMENTAL_DEST = "experimental_settings"
TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def experimental_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` set through ``--experimental KEY=VALUE``."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("experimental")]


def experimental_value(cls: type, setting: str) -> tuple[str, Any]:
    """``"agent_lr=3e-4"`` -> ``("agent_lr", 0.0003)``, typed by the field; ``UserError`` for a bad one."""
    key, sep, text = setting.partition("=")
    key = key.strip().replace("-", "_")
    known = {f.name: f for f in experimental_fields(cls)}
    if not sep or key not in known:
        raise UserError(f"--experimental takes KEY=VALUE with KEY one of {', '.join(known)}; got {setting!r}")
    tp, optional = _unwrap_optional(typing.get_type_hints(cls)[key])
    text = text.strip()
    if optional and text.lower() == "none":
        return key, None
    if typing.get_origin(tp) is typing.Literal:
        choices = [str(c) for c in typing.get_args(tp)]
        if text in choices:
            return key, text
        raise UserError(f"--experimental {key} takes one of {', '.join(choices)}, not {text!r}")
    if tp is bool:
        if text.lower() in TRUE_WORDS + FALSE_WORDS:
            return key, text.lower() in TRUE_WORDS
        raise UserError(f"--experimental {key} takes true or false, not {text!r}")
    try:
        return key, tp(text) if tp in (int, float, str, Path) else text
    except ValueError:
        article = "an" if tp.__name__[0] in "aeiou" else "a"
        raise UserError(f"--experimental {key} takes {article} {tp.__name__}, not {text!r}") from None


def option_text(cls: type, name: str) -> str:
    """How the command line names field ``name`` of ``cls``: ``--experimental name`` or ``--kebab-name``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    return f"--experimental {name}" if fields[name].metadata.get("experimental") else "--" + name.replace("_", "-")


def experimental_flags(name: str, value: Any) -> list[str]:
    """The command line that sets field ``name`` to ``value`` through the door: ``["--experimental", "k=v"]``."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return ["--experimental", f"{name}={text}"]


def dataclass_from_args(cls: type[T], ns: argparse.Namespace) -> T:
    """Build ``cls`` from the parsed namespace (fields only; other attributes are ignored), with the
    ``--experimental`` settings given; ``UserError`` for a bad one."""
    values = {}
    settings = dict(experimental_value(cls, s) for s in (getattr(ns, EXPERIMENTAL_DEST, None) or []))
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.metadata.get("experimental"):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            values[f.name] = settings.get(f.name, default)
            continue
        value = getattr(ns, f.name)
        if value is None and f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()  # a repeatable flag given no time
        values[f.name] = value
    return cls(**values)
