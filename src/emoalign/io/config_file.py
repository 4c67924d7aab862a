"""Run configs: every option of a command from a TOML file (``--config run.toml``), and the fully
resolved options of a study written back as TOML beside its artifacts, so that
``emoalign run --config <that file>`` reproduces it.

Generic over argparse: any option a subcommand has (including ones added later) is a key, spelled
as its long flag (``n-components``, ``map``, ``baseline-seeds``) or its destination
(``n_components``, ``map_method``). Options typed on the command line override the file.
"""

from __future__ import annotations

import argparse
import math
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emoalign.core.errors import EmoalignError
from emoalign.core.text import printable, read_user_text

__all__ = [
    "CONFIG_COMMANDS", "MAX_CONFIG_BYTES", "subcommand_parsers", "option_actions", "read_config", "apply_config",
    "resolved_options", "dump_toml", "write_config",
]

#: The largest config file read: a resolved config is a few KiB.
MAX_CONFIG_BYTES = 2**20

#: Subcommands that take ``--config``.
CONFIG_COMMANDS: tuple[str, ...] = ("extract", "run", "align", "steer", "sweep")
#: Options never written to a resolved config (how it was read, not what it runs).
_NOT_RESOLVED = ("help", "config", "version", "log_level")


def _key(name: str) -> str:
    return name.lstrip("-").replace("-", "_")


def subcommand_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers of ``parser`` by name."""
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its subparsers here, and nowhere public
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return {}


def option_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Every option of ``parser`` by each of its names: destination and long flags (``_`` for ``-``)."""
    actions: dict[str, argparse.Action] = {}
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its options here, and nowhere public
        if not action.option_strings or action.dest in _NOT_RESOLVED or action.dest == argparse.SUPPRESS:
            continue
        actions.setdefault(action.dest, action)
        for flag in action.option_strings:
            if flag.startswith("--"):
                actions.setdefault(_key(flag), action)
    return actions


def read_config(path: str | Path) -> dict[str, Any]:
    """The options of a TOML config file (a flat table; one-line error if it cannot be read): a
    regular file (never a pipe or a device, which would block) of at most :data:`MAX_CONFIG_BYTES`,
    UTF-8 text, without tables and without arrays nested deeper than the parser can follow."""
    path = Path(path)
    name = printable(path)
    if not path.exists() and not path.is_symlink():
        raise EmoalignError(f"--config {name}: no such file")
    try:
        text = read_user_text(path, limit=MAX_CONFIG_BYTES, what="config")
        data = tomllib.loads(text)
    except EmoalignError as exc:
        raise EmoalignError(f"--config {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise EmoalignError(f"--config {name}: not a readable TOML file ({printable(exc)})") from None
    except RecursionError:
        raise EmoalignError(f"--config {name}: not a readable TOML file (arrays nested too deeply)") from None
    nested = [key for key, value in data.items() if isinstance(value, dict)]
    if nested:
        raise EmoalignError(
            f"--config {name}: [{printable(nested[0])}]: use a flat list of options (key = value), no tables"
        )
    return data


def _is_flag(action: argparse.Action) -> bool:
    return action.nargs == 0


def _convert_one(action: argparse.Action, value: Any, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise EmoalignError(f"{where}: expected a value like the command line's, got {value!r}")
    convert = action.type if callable(action.type) else str
    if convert is int and not (isinstance(value, int) or isinstance(value, str)):
        raise EmoalignError(f"{where}: expected an integer, got {value!r}")
    try:
        converted = convert(value) if isinstance(value, str) or convert in (int, float) else convert(str(value))
    except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
        raise EmoalignError(f"{where}: cannot read {value!r} ({exc})") from None
    if action.choices is not None and converted not in action.choices:
        raise EmoalignError(f"{where}: {value!r} is not one of {', '.join(map(str, action.choices))}")
    return converted


def convert_value(action: argparse.Action, value: Any, where: str) -> Any:
    """A TOML value as the option's parsed value (the same types and checks as on the command line)."""
    if _is_flag(action):
        if not isinstance(value, bool):
            raise EmoalignError(f"{where}: expected true or false, got {value!r}")
        return value if action.const is True or action.const is None else not value
    if action.nargs in ("+", "*") or isinstance(action.nargs, int):
        values = list(value) if isinstance(value, list) else [value]
        if action.nargs == "+" and not values:
            raise EmoalignError(f"{where}: give at least one value")
        return [_convert_one(action, v, where) for v in values]
    if action.nargs == "?" and isinstance(value, bool):
        if value is False:
            return None
        return action.const
    return _convert_one(action, value, where)


def apply_config(parser: argparse.ArgumentParser, options: Mapping[str, Any], source: str | Path) -> None:
    """Make ``options`` the defaults of ``parser`` (so flags typed on the command line still win);
    an option the file sets is no longer required on the command line."""
    actions = option_actions(parser)
    defaults: dict[str, Any] = {}
    for key, value in options.items():
        action = actions.get(_key(key))
        if action is None:
            raise EmoalignError(f"--config {source}: unknown option {key!r} for `{parser.prog}`")
        defaults[action.dest] = convert_value(action, value, f"--config {source}: {key}")
        action.required = False
    parser.set_defaults(**defaults)


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def resolved_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """Every option of ``parser`` with its value in ``args`` (defaults included; unset ones left out),
    keyed by long flag, in the parser's order: what the file needs to reproduce the invocation."""
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for key, action in option_actions(parser).items():
        if action.dest in seen or not hasattr(args, action.dest):
            continue
        seen.add(action.dest)
        value = getattr(args, action.dest)
        if value is None:
            continue
        long = next((flag for flag in action.option_strings if flag.startswith("--")), "--" + key)
        if _is_flag(action) and action.const is False:
            value = not value  # a store_false option: the file holds what the flag means
        out[long[2:]] = _plain(value)
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)  # shortest repr: reads back to the same float
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"
                          for c in escaped)
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def dump_toml(options: Mapping[str, Any], header: Sequence[str] = ()) -> str:
    """A flat TOML document of ``options`` (strings, numbers, booleans, lists), with comment lines."""
    lines = [f"# {line}" for line in header]
    lines += [f'"{key}" = {_toml_value(value)}' if not key.replace("-", "").replace("_", "").isalnum()
              else f"{key} = {_toml_value(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def write_config(path: str | Path, options: Mapping[str, Any], *, command: str) -> Path:
    """Write the resolved ``options`` of ``emoalign <command>`` to ``path`` (atomic)."""
    from emoalign.io.storage import write_text_atomic

    path = Path(path)
    text = dump_toml(options, header=(
        f"emoalign {command}: every option of this study, resolved (defaults included).",
        f"Reproduce it with: emoalign {command} --config {path.name}  (options typed after it override these)",
    ))
    write_text_atomic(path, text)
    return path
