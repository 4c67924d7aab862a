"""Self-contained HTML rendering of report blocks: inline CSS, figures as base64 data URIs, no
external asset or URL of any kind. Status marks (``[pass]``, ``[不合格]`` …) become styled text badges
that differ in words, colour and border, so they read without colour and without an emoji font; the
font stack names CJK fonts first (Japanese needs one installed, e.g. Debian's ``fonts-noto-cjk``)."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence

from emoalign.report.document import (
    MARKDOWN_SPECIAL,
    Block,
    BulletList,
    Code,
    Heading,
    Image,
    Paragraph,
    Table,
)
from emoalign.report.marks import MARK_PATTERN, STATUS_OF_WORD

FONT_STACK = ('-apple-system, "Segoe UI", "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", '
              '"Hiragino Kaku Gothic ProN", "Yu Gothic", "Meiryo", "Noto Sans", "DejaVu Sans", sans-serif')

CSS = """
body { font-family: FONT_STACK;
       max-width: 70em; margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #1b1f23; }
h1, h2, h3, h4 { line-height: 1.25; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; display: block; max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: .25em .6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f6f8fa; } td:first-child, th:first-child { text-align: left; }
code { background: #f6f8fa; padding: .1em .3em; border-radius: 3px; font-size: .9em; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; border-radius: 4px; }
pre code { background: none; padding: 0; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; } figcaption { font-style: italic; color: #57606a; }
:lang(ja) figcaption { font-style: normal; }
.badge { display: inline-block; padding: 0 .45em; margin-right: .2em; border-radius: 3px; font-size: .85em;
         font-weight: 600; line-height: 1.5; white-space: nowrap; border: 1px solid; }
.badge-pass { color: #0f5323; background: #dafbe1; border-color: #1a7f37; }
.badge-fail { color: #82071e; background: #ffebe9; border: 2px solid #cf222e; text-transform: uppercase; }
.badge-warn { color: #6a4500; background: #fff8c5; border-style: dashed; border-color: #9a6700; }
.badge-info { color: #0a3069; background: #ddf4ff; border-color: #54aeff; font-weight: 400; }
.badge-na { color: #57606a; background: #f6f8fa; border-style: dotted; border-color: #8c959f; font-weight: 400; }
""".strip().replace("FONT_STACK", FONT_STACK)

_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])[_*]([^_*]+)[_*](?![\w*])")


_ESCAPED = re.compile(f"\\\\([{MARKDOWN_SPECIAL}])")  # what report.document.md escapes
_KEPT = re.compile("\ue000(\\d+)\ue001")


def badge(word: str) -> str:
    """A status word (``pass``, ``不合格`` …) as a styled badge: ``<span class="badge badge-fail">``."""
    status = STATUS_OF_WORD[word]
    css = "na" if status == "n/a" else status
    return f'<span class="badge badge-{css}">{html.escape(word)}</span>'


def inline(text: str) -> str:
    """Escape ``text`` and turn ``**bold**``, ``_italic_`` / ``*italic*``, `` `code` `` and status marks
    (``[pass]``) into HTML; backslash-escaped characters (user data, see
    :func:`emoalign.report.document.md`) stay literal."""
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(match.group(1))
        return f"\ue000{len(kept) - 1}\ue001"

    parts = _CODE.split(_ESCAPED.sub(keep, text))
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            escaped = _ITALIC.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", html.escape(part)))
            out.append(MARK_PATTERN.sub(lambda match: badge(match.group(1)), escaped))
    return _KEPT.sub(lambda match: html.escape(kept[int(match.group(1))]), "".join(out))


def data_uri(image: Image) -> str:
    """The PNG of ``image`` as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(image.file.read_bytes()).decode("ascii")


_NUMBER = re.compile(r"[-+−]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?%?")


def _cell(text: str) -> str:
    """A table cell; numbers (and n/a) are right-aligned, text stays left-aligned."""
    numeric = bool(_NUMBER.fullmatch(text.strip())) or text.strip() in ("n/a", "")
    return f'<td class="num">{inline(text)}</td>' if numeric else f"<td>{inline(text)}</td>"


def render_block(block: Block) -> str:
    """One block as HTML."""
    if isinstance(block, Heading):
        return f"<h{block.level}>{inline(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{inline(block.text)}</p>"
    if isinstance(block, BulletList):
        tag = "ol" if block.ordered else "ul"
        return f"<{tag}>" + "".join(f"<li>{inline(item)}</li>" for item in block.items) + f"</{tag}>"
    if isinstance(block, Table):
        head = "".join(f"<th>{inline(h)}</th>" for h in block.header)
        body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Code):
        return f"<pre><code>{html.escape(block.text.rstrip())}</code></pre>"
    if isinstance(block, Image):
        alt = html.escape(_ESCAPED.sub(r"\1", block.caption))
        return f'<figure><img alt="{alt}" src="{data_uri(block)}"><figcaption>{inline(block.caption)}</figcaption></figure>'
    raise TypeError(type(block).__name__)  # pragma: no cover


def to_html(blocks: Sequence[Block], *, title: str, lang: str = "en") -> str:
    """A complete, self-contained HTML page."""
    body = "\n".join(render_block(block) for block in blocks)
    return (
        f'<!DOCTYPE html>\n<html lang="{html.escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
