"""Status marks of the reports as words, never emoji: ``[pass]`` / ``[fail]`` / ``[warn]`` / ``[info]`` /
``[n/a]`` in Markdown (``[合格]`` … in Japanese), styled badges in HTML (:mod:`emoalign.report.html`).
The words are the catalog's ``mark_*`` messages (:mod:`emoalign.report.i18n`).

Emoji marks (✅ ❌ ⚠️) render as identical boxes without an emoji font, so pass and fail could not be
told apart; a word reads the same in every terminal, font and browser.
"""

from __future__ import annotations

import re

from emoalign.report.i18n import CATALOG, strings

PASS, WARN, FAIL, INFO, NA = "pass", "warn", "fail", "info", "n/a"

#: a status -> the catalog key of its word
MARK_KEYS: dict[str, str] = {PASS: "mark_pass", WARN: "mark_warn", FAIL: "mark_fail", INFO: "mark_info",
                             NA: "mark_na"}

# every status word of every language -> its status (for the HTML badges)
STATUS_OF_WORD: dict[str, str] = {table[key]: status for table in CATALOG.values()
                                  for status, key in MARK_KEYS.items()}

# a mark as written in Markdown: the word in square brackets (user data escapes "[" as "\[", so a
# model name such as "[pass]" can never be taken for a mark)
MARK_PATTERN = re.compile(r"(?<!\\)\[(" + "|".join(re.escape(w) for w in sorted(STATUS_OF_WORD, key=len,
                                                                                 reverse=True)) + r")\]")

# emoji and symbols that must never appear in a report (they need an emoji font)
FORBIDDEN_MARKS: tuple[str, ...] = ("✅", "❌", "⚠", "ℹ", "✔", "✖", "🎯", "📦", "🚀", "📄", "📊", "💡", "🔬", "📈",
                                    "🧮", "📝", "🧾", "🎓", "🔭")


def mark_word(status: str, lang: str = "en") -> str:
    """The plain word of ``status`` in ``lang`` (``pass``, ``合格`` …)."""
    return strings(lang)(MARK_KEYS[status])


def mark(status: str, lang: str = "en") -> str:
    """``status`` as a Markdown mark: its word in square brackets, e.g. ``[pass]`` or ``[不合格]``."""
    return f"[{mark_word(status, lang)}]"


def strip_mark(text: str) -> str:
    """``text`` without a leading mark (``[fail] not beyond vocabulary`` -> ``not beyond vocabulary``)."""
    return MARK_PATTERN.sub("", text, count=1).lstrip() if MARK_PATTERN.match(text) else text
