"""emoalign's messages (warnings, notes on long steps) go through :mod:`logging`, logger ``emoalign``.

The logger has one handler of its own, writing to the current ``sys.stderr`` as
``emoalign: warning: <message>`` (``emoalign: <message>`` below warnings), and does not propagate,
so messages read the same from the CLI and the Python API. Quieten it with
``logging.getLogger("emoalign").setLevel("WARNING")`` (the CLI's ``--log-level warning``), or route it
elsewhere by replacing its handlers and setting ``propagate = True``.
Results (tables, file lists) are printed to stdout by the CLI, not logged.
"""

from __future__ import annotations

import logging
import sys

from emoalign.core.text import printable

__all__ = ["LOG_LEVELS", "get_logger", "set_level"]

LOG_LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")
_ROOT = "emoalign"


class _StderrHandler(logging.StreamHandler):
    """A stream handler bound to whatever ``sys.stderr`` is when a record is emitted."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D401 - a property, not a function
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ assigns it
        pass


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = printable(record.getMessage())  # user data (names, labels) never acts on the terminal
        if record.levelno >= logging.WARNING:
            return f"emoalign: {record.levelname.lower()}: {message}"
        return f"emoalign: {message}"


def _root() -> logging.Logger:
    logger = logging.getLogger(_ROOT)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Formatter())
        logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    return logger


def get_logger(name: str) -> logging.Logger:
    """The logger of module ``name`` (a child of ``emoalign``, whose handler is set up on first use)."""
    _root()
    return logging.getLogger(name if name.startswith(_ROOT) else f"{_ROOT}.{name}")


def set_level(level: str) -> None:
    """Show messages at ``level`` and above: debug, info (default), warning or error."""
    if level.lower() not in LOG_LEVELS:
        raise ValueError(f"log level {level!r}: use {', '.join(LOG_LEVELS)}")
    _root().setLevel(level.upper())
