"""User text made safe to show and to read: control characters escaped for the terminal, lone
surrogates found, and user files read with a size bound, never blocking on a pipe or a device."""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path

from emoalign.core.errors import EmoalignError

__all__ = ["printable", "surrogate_at", "control_at", "check_text", "read_user_file", "read_user_text"]

#: Format characters kept as they are: the zero-width (non-)joiners of emoji and many scripts.
_KEPT_FORMAT = frozenset("\u200c\u200d")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _unsafe(char: str) -> bool:
    category = unicodedata.category(char)
    return category in ("Cc", "Cs", "Zl", "Zp") or (category == "Cf" and char not in _KEPT_FORMAT)


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: object) -> str:
    """``text`` (``str()`` of anything) with every character that could act on a terminal or break a
    line escaped as Python writes it (``\\x1b``, ``\\n``, ``\\u202e``): control characters, line and
    paragraph separators, format characters (bidirectional overrides, zero-width spaces; the
    zero-width joiners of emoji kept) and lone surrogates. Everything else, any script, is kept.
    """
    text = str(text)
    if text.isprintable():  # the common case: nothing to escape (isprintable is stricter than _unsafe)
        return text
    return "".join(_escape(c) if _unsafe(c) else c for c in text)


def surrogate_at(text: str) -> int | None:
    """Index of the first lone surrogate (U+D800..U+DFFF) in ``text``, None if there is none. JSON
    ``"\\udc80"`` escapes and undecodable file names produce them; no encoder can write them."""
    for i, c in enumerate(text):
        if "\ud800" <= c <= "\udfff":
            return i
    return None


def control_at(text: str) -> int | None:
    """Index of the first control character (Unicode category Cc) in ``text``, None if there is none."""
    for i, c in enumerate(text):
        if unicodedata.category(c) == "Cc":
            return i
    return None


def check_text(text: str, where: str, *, controls: bool = False) -> None:
    """Raise EmoalignError (naming ``where``) when ``text`` holds a lone surrogate, or, with
    ``controls``, a control character (a label or a name, which ends up in file names and reports)."""
    if text.isprintable():  # the common case: neither can be there
        return
    i = surrogate_at(text)
    if i is not None:
        raise EmoalignError(
            f"{where} holds a lone surrogate {_escape(text[i])} at character {i + 1}, which is not text "
            "(a broken \\u escape or a file name that is not UTF-8)"
        )
    if controls:
        i = control_at(text)
        if i is not None:
            raise EmoalignError(f"{where} holds the control character {_escape(text[i])} at character {i + 1}")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 2**10:g} KiB" if n >= 2**10 else f"{n} bytes"


def read_user_file(path: str | os.PathLike[str], *, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    A missing file, a folder, a named pipe, a device or socket (which would block or never end), a
    file larger than ``limit`` and any read failure each raise EmoalignError naming ``path`` and
    ``what`` it should be ("dataset", "lexicon", ...). The file is opened without blocking and
    checked again once open, so a pipe swapped in between is refused too.
    """
    path = Path(path)
    name = printable(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise EmoalignError(f"{name}: {what} file does not exist") from None
    except (OSError, ValueError) as exc:
        raise EmoalignError(f"{name}: cannot read the {what} file ({exc})") from None
    if not stat.S_ISREG(mode):
        raise EmoalignError(f"{name}: the {what} must be a regular file, this is {_kind(mode)}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise EmoalignError(f"{name}: cannot read the {what} file ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise EmoalignError(f"{name}: the {what} must be a regular file, this is {_kind(info.st_mode)}")
        if info.st_size > limit:
            raise EmoalignError(
                f"{name}: the {what} file is {_size(info.st_size)}, more than the {_size(limit)} a {what} may have"
            )
        with os.fdopen(fd, "rb") as handle:
            fd = -1  # the file object closes it
            data = handle.read(limit + 1)
    except OSError as exc:
        raise EmoalignError(f"{name}: cannot read the {what} file ({exc.strerror or exc})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:  # it grew while being read
        raise EmoalignError(f"{name}: the {what} file is more than the {_size(limit)} a {what} may have")
    return data


def read_user_text(path: str | os.PathLike[str], *, limit: int, what: str) -> str:
    """:func:`read_user_file` decoded as UTF-8; bytes that are not UTF-8 raise EmoalignError naming
    the file, the line and the byte."""
    data = read_user_file(path, limit=limit, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise EmoalignError(
            f"{printable(path)}:{line}: the {what} file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
