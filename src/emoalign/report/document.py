"""A tiny document model (headings, paragraphs, lists, tables, code, images) rendered to Markdown;
:mod:`emoalign.report.html` renders the same blocks as a self-contained HTML page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union
from urllib.parse import quote

from emoalign.core.text import printable


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class BulletList:
    items: tuple[str, ...]
    ordered: bool = False


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Code:
    text: str
    language: str = "bash"


@dataclass(frozen=True)
class Image:
    """A figure: ``src`` is the path relative to the report, ``file`` where the PNG lies."""

    src: str
    caption: str
    file: Path = field(compare=False)


Block = Union[Heading, Paragraph, BulletList, Table, Code, Image]


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    """A :class:`Table` from any cell values (converted with ``str``)."""
    return Table(tuple(header), tuple(tuple(str(v) for v in row) for row in rows))


def bullets(items: Sequence[str], *, ordered: bool = False) -> BulletList:
    return BulletList(tuple(items), ordered)


MARKDOWN_SPECIAL = r"\\`*_\[\]<>|#"  # the characters md() escapes (a regex character class body)
_MARKDOWN_SPECIAL = re.compile(f"([{MARKDOWN_SPECIAL}])")


def md(text: object) -> str:
    """User data (a model, dataset or label name, a prompt) made inert in Markdown: its line breaks
    become spaces, its other control characters escapes (``\\x1b``, see
    :func:`emoalign.core.text.printable`), its markup characters are backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable(" ".join(str(text).splitlines())))


_BACKTICKS = re.compile(r"`+")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code_span(text: object) -> str:
    """Any string (a path, a command) as inline code that nothing in it can end: line breaks and
    control characters escaped (:func:`~emoalign.core.text.printable`), delimited by a backtick run
    longer than any inside it, padded with a space where it would touch a backtick or lose one."""
    text = printable(text)
    fence = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _code_text(text: str) -> str:
    """The text of a code block: each line with its control characters escaped (line breaks kept)."""
    return "\n".join(printable(line) for line in text.rstrip().split("\n"))


def code_fence(text: str) -> str:
    """The backtick fence of a code block holding ``text``: longer than any backtick run in it (at
    least three), so no line of it closes the block."""
    return "`" * max(3, _longest_backtick_run(text) + 1)


def _escape_cell(text: str) -> str:
    return re.sub(r"(?<!\\)\|", r"\\|", text).replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    """Render blocks as GitHub-flavoured Markdown."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, BulletList):
            out.append("\n".join(f"{f'{i}.' if block.ordered else '-'} {item}" for i, item in enumerate(block.items, 1)))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(_escape_cell(h) for h in block.header) + " |",
                     "|" + "---|" * len(block.header)]
            lines += ["| " + " | ".join(_escape_cell(c) for c in row) + " |" for row in block.rows]
            out.append("\n".join(lines))
        elif isinstance(block, Code):
            text = _code_text(block.text)
            fence = code_fence(text)
            language = block.language if re.fullmatch(r"[\w+.-]*", block.language) else ""
            out.append(f"{fence}{language}\n{text}\n{fence}")
        elif isinstance(block, Image):
            caption = " ".join(block.caption.splitlines())
            out.append(f"![{caption}]({quote(block.src, safe='/._-~')})\n\n*{caption}*")
        else:  # pragma: no cover - exhaustive
            raise TypeError(type(block).__name__)
    return "\n\n".join(out) + "\n"


def japanese_path(path: str | Path) -> Path:
    """Where the Japanese twin of the report at ``path`` goes: ``<stem>.ja.md`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.ja{path.suffix or '.md'}")
