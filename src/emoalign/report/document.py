"""A tiny document model (headings, paragraphs, lists, tables, code, images) rendered to Markdown;
:mod:`emoalign.report.html` renders the same blocks as a self-contained HTML page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union


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
    """User data (a model, dataset or label name, a prompt) made inert in Markdown: its markup
    characters are backslash-escaped, its line breaks become spaces."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


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
            out.append(f"```{block.language}\n{block.text.rstrip()}\n```")
        elif isinstance(block, Image):
            out.append(f"![{block.caption}]({block.src})\n\n*{block.caption}*")
        else:  # pragma: no cover - exhaustive
            raise TypeError(type(block).__name__)
    return "\n\n".join(out) + "\n"
