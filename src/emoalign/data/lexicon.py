"""Emotion lexicon: per-label word patterns and whole-word span search.

Patterns are regular expressions for one word (or a short fixed phrase such as ``fed\\s+up``),
matched case-insensitively and as whole words: ``mad`` never matches inside ``made``,
``sorry`` never inside ``sorrycat``. Spans are character offsets, the unit the extractor
maps onto tokens through the tokenizer's offset mapping.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from emoalign.core.errors import EmoalignError

__all__ = [
    "DEFAULT_LEXICON",
    "compile_patterns",
    "find_emotion_word_spans",
    "load_lexicon",
]

DEFAULT_LEXICON: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "gratitude": (
            r"thank\w*",  # thank, thanks, thanked, thankful, thank-you
            r"grateful\w*",
            r"gratitude",
            r"appreciat\w*",  # appreciate, appreciated, appreciation
            r"indebted",
        ),
        "anger": (
            r"anger\w*",  # anger, angered
            r"angr\w*",  # angry, angrier, angrily
            r"furious\w*",
            r"fury",
            r"frustrat\w*",
            r"annoy\w*",
            r"irritat\w*",
            r"outrag\w*",  # outrage, outraged, outrageous
            r"livid",
            r"mad(?:der|dest)?",
            r"madden\w*",
            r"rag(?:e[sd]?|ing)",
            r"enrag\w*",
            r"infuriat\w*",
            r"fed\s+up",
            r"fuming",
            r"seething",
            r"exasperat\w*",
            r"resent\w*",
            r"irate",
        ),
        "apology": (
            r"sorr(?:y|ier|iest)",
            r"apolog\w*",  # apology, apologies, apologize, apologise, apologetic
            r"regret\w*",
            r"forgiv\w*",
            r"my\s+(?:fault|mistake|bad)",
            r"pardon\w*",
            r"remorse\w*",
        ),
    }
)


@functools.lru_cache(maxsize=256)
def _compile_cached(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(rf"(?<!\w)(?:{p})(?!\w)", re.IGNORECASE) for p in patterns)


def compile_patterns(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """Compile word patterns to case-insensitive whole-word regexes (cached).

    Raises EmoalignError naming the first pattern that is not a valid regular expression.
    """
    if isinstance(patterns, str):
        raise EmoalignError(f"lexicon patterns must be a list of strings, got the string {patterns!r}")
    pats = tuple(patterns)
    for p in pats:
        if not isinstance(p, str):
            raise EmoalignError(f"lexicon pattern must be a string, got {type(p).__name__}: {p!r}")
    try:
        return _compile_cached(pats)
    except re.error:
        for p in pats:  # name the culprit
            try:
                re.compile(p)
            except re.error as exc:
                raise EmoalignError(f"lexicon pattern {p!r} is not a valid regular expression: {exc}") from None
        raise


def find_emotion_word_spans(text: str, patterns: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans ``[start, end)`` of every whole word in ``text`` matching any pattern.

    Case-insensitive. Spans are sorted; overlapping matches (two patterns hitting the same
    word) are merged, so the result never overlaps. Empty matches are ignored.
    """
    spans: list[tuple[int, int]] = []
    for rx in compile_patterns(patterns):
        spans.extend((m.start(), m.end()) for m in rx.finditer(text) if m.end() > m.start())
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def load_lexicon(path: str | os.PathLike[str]) -> dict[str, tuple[str, ...]]:
    """Read a lexicon JSON file ``{label: [pattern, ...]}`` and validate every pattern.

    Raises EmoalignError (one line naming the file and the label) when the file is missing,
    is not valid JSON, is not an object of non-empty string lists, or a pattern does not compile.
    """
    p = Path(path)
    if not p.is_file():
        raise EmoalignError(f"{p}: lexicon file does not exist")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EmoalignError(f"{p}:{exc.lineno}: malformed JSON in lexicon ({exc.msg}, column {exc.colno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EmoalignError(f"{p}: cannot read lexicon ({exc})") from None
    if not isinstance(raw, dict) or not raw:
        raise EmoalignError(f"{p}: lexicon must be a non-empty JSON object {{label: [patterns...]}}")
    lexicon: dict[str, tuple[str, ...]] = {}
    for label, pats in raw.items():
        if not label.strip():
            raise EmoalignError(f"{p}: lexicon has an empty label name")
        if not isinstance(pats, list) or not pats:
            raise EmoalignError(f"{p}: label {label!r} must map to a non-empty list of pattern strings")
        for i, pat in enumerate(pats):
            if not isinstance(pat, str) or not pat.strip():
                raise EmoalignError(f"{p}: label {label!r} pattern [{i}] must be a non-empty string, got {pat!r}")
            try:
                re.compile(pat)
            except re.error as exc:
                raise EmoalignError(f"{p}: label {label!r} pattern {pat!r} is not a valid regular expression: {exc}") from None
            if re.fullmatch(pat, ""):
                raise EmoalignError(f"{p}: label {label!r} pattern {pat!r} matches the empty string")
        lexicon[label] = tuple(pats)
    return lexicon
