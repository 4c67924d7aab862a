"""Emotion lexicon: per-label word patterns and whole-word span search.

Patterns are regular expressions for one word (or a short fixed phrase such as ``fed\\s+up``),
matched case-insensitively and as whole words: ``mad`` never matches inside ``made``,
``sorry`` never inside ``sorrycat``. Spans are character offsets, the unit the extractor
maps onto tokens through the tokenizer's offset mapping.

The built-in patterns run on :mod:`re`, as they always have. Any other pattern (a lexicon file, a
mapping given to the Python API) is the user's: it runs on the ``regex`` package (the same syntax
for word patterns) with a time limit per prompt, so a pattern that backtracks catastrophically
(``(a|aa)+$``) stops the study with one line naming it instead of hanging it.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import regex

from emoalign.core.errors import EmoalignError
from emoalign.core.text import check_text, printable, read_user_text

__all__ = [
    "DEFAULT_LEXICON",
    "MAX_LEXICON_BYTES",
    "PATTERN_TIMEOUT",
    "LexiconPatterns",
    "compile_patterns",
    "find_emotion_word_spans",
    "lexicon_with_source",
    "load_lexicon",
]

#: The largest lexicon file read: a lexicon is a few hundred word patterns.
MAX_LEXICON_BYTES = 2**20
#: Seconds one user pattern may take on one prompt (a word pattern takes microseconds on the
#: longest prompt, 4,000 characters).
PATTERN_TIMEOUT = 1.0

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


#: The built-in patterns: known to match in linear time, they keep running on :mod:`re`.
_BUILTIN_PATTERNS = frozenset(p for patterns in DEFAULT_LEXICON.values() for p in patterns)


class LexiconPatterns(tuple):
    """The patterns of one label, a tuple of strings that remembers where they came from (the
    lexicon file and the label), for the error naming a pattern that runs too long."""

    source: str | None
    label: str | None

    def __new__(cls, patterns: Sequence[str], source: str | None = None, label: str | None = None):
        made = super().__new__(cls, patterns)
        made.source, made.label = source, label
        return made

    def __reduce__(self):  # pickled (a Ray task) with its origin
        return (LexiconPatterns, (tuple(self), self.source, self.label))


def lexicon_with_source(lexicon: Mapping[str, Sequence[str]], source: str) -> dict[str, LexiconPatterns]:
    """``lexicon`` with each label's patterns remembering ``source`` (e.g. ``"lexicon"`` for a
    mapping given to the Python API) and their label, for the error naming a slow pattern."""
    return {label: LexiconPatterns(tuple(patterns), source, str(label)) for label, patterns in lexicon.items()}


def _is_builtin(pattern: str) -> bool:
    return pattern in _BUILTIN_PATTERNS


def _whole_word(pattern: str) -> str:
    return rf"(?<!\w)(?:{pattern})(?!\w)"


def _compile_one(pattern: str) -> Any:
    """A whole-word, case-insensitive regex of ``pattern``: :mod:`re` for a built-in pattern, the
    ``regex`` package (which can stop a search after a time limit) for any other."""
    if _is_builtin(pattern):
        return re.compile(_whole_word(pattern), re.IGNORECASE)
    # the pattern alone must compile: "a)|(b" compiles once wrapped, and would escape the whole-word guard
    regex.compile(pattern, regex.VERSION0)
    return regex.compile(_whole_word(pattern), regex.IGNORECASE | regex.VERSION0)


@functools.lru_cache(maxsize=256)
def _compile_cached(patterns: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(_compile_one(p) for p in patterns)


def _invalid(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid regular expression (None if it is)."""
    try:
        if _is_builtin(pattern):
            re.compile(pattern)
        else:
            regex.compile(pattern, regex.VERSION0)
    except (re.error, regex.error) as exc:
        return str(exc)
    except (RecursionError, OverflowError, MemoryError, ValueError) as exc:
        return f"too large or too deeply nested ({type(exc).__name__})"
    return None


def compile_patterns(patterns: Sequence[str]) -> tuple[Any, ...]:
    """Compile word patterns to case-insensitive whole-word regexes (cached): built-in patterns with
    :mod:`re`, any other with the ``regex`` package.

    Raises EmoalignError naming the first pattern that is not a valid regular expression.
    """
    if isinstance(patterns, str):
        raise EmoalignError(f"lexicon patterns must be a list of strings, got the string {patterns!r}")
    pats = tuple(patterns)
    for p in pats:
        if not isinstance(p, str):
            raise EmoalignError(f"lexicon pattern must be a string, got {type(p).__name__}: {p!r}")
        check_text(p, f"lexicon pattern {p!r}")
    try:
        return _compile_cached(pats)
    except Exception:  # noqa: BLE001 - named below
        for p in pats:  # name the culprit
            reason = _invalid(p)
            if reason is not None:
                raise EmoalignError(f"lexicon pattern {p!r} is not a valid regular expression: {reason}") from None
        raise


def _origin(patterns: Sequence[str], source: str | None, label: str | None) -> str:
    source = source or getattr(patterns, "source", None)
    label = label or getattr(patterns, "label", None)
    where = printable(source) if source else "lexicon"
    return f"{where}: label {label!r}" if label else where


def find_emotion_word_spans(
    text: str, patterns: Sequence[str], *, source: str | None = None, label: str | None = None
) -> list[tuple[int, int]]:
    """Character spans ``[start, end)`` of every whole word in ``text`` matching any pattern.

    Case-insensitive. Spans are sorted; overlapping matches (two patterns hitting the same
    word) are merged, so the result never overlaps. Empty matches are ignored.

    A user pattern (not a built-in one) that runs longer than :data:`PATTERN_TIMEOUT` seconds on
    ``text`` raises EmoalignError naming the lexicon (``source``, or where ``patterns`` came
    from, see :class:`LexiconPatterns`), the ``label`` and the pattern.
    """
    compiled = compile_patterns(patterns)
    spans: list[tuple[int, int]] = []
    for pattern, rx in zip(tuple(patterns), compiled):
        if isinstance(rx, re.Pattern):
            spans.extend((m.start(), m.end()) for m in rx.finditer(text) if m.end() > m.start())
            continue
        try:
            spans.extend((m.start(), m.end()) for m in rx.finditer(text, timeout=PATTERN_TIMEOUT)
                         if m.end() > m.start())
        except TimeoutError:
            raise EmoalignError(
                f"{_origin(patterns, source, label)} pattern {pattern!r} took more than {PATTERN_TIMEOUT:g} s "
                f"(time limit) on the prompt {text[:40]!r}{'...' if len(text) > 40 else ''}: it backtracks "
                "catastrophically (nested repeats such as (a+)+ or (a|aa)+); rewrite it"
            ) from None
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

    Raises EmoalignError (one line naming the file and the label) when the file is missing, is not
    a regular file (a pipe, a folder, a device), is larger than :data:`MAX_LEXICON_BYTES`, is not
    UTF-8 or not valid JSON, is not an object of non-empty string lists, holds a lone surrogate, or
    a pattern does not compile or matches the empty string. Each label's patterns are a
    :class:`LexiconPatterns` remembering the file, for the error naming a pattern that runs too long.
    """
    p = Path(path)
    name = printable(p)
    text = read_user_text(p, limit=MAX_LEXICON_BYTES, what="lexicon")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EmoalignError(
            f"{name}:{exc.lineno}: malformed JSON in lexicon ({exc.msg}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise EmoalignError(f"{name}: lexicon JSON nested too deeply (expected {{label: [patterns...]}})") from None
    if not isinstance(raw, dict) or not raw:
        raise EmoalignError(f"{name}: lexicon must be a non-empty JSON object {{label: [patterns...]}}")
    lexicon: dict[str, tuple[str, ...]] = {}
    for label, pats in raw.items():
        if not label.strip():
            raise EmoalignError(f"{name}: lexicon has an empty label name")
        check_text(label, f"{name}: label {label!r}", controls=True)
        if not isinstance(pats, list) or not pats:
            raise EmoalignError(f"{name}: label {label!r} must map to a non-empty list of pattern strings")
        for i, pat in enumerate(pats):
            if not isinstance(pat, str) or not pat.strip():
                raise EmoalignError(
                    f"{name}: label {label!r} pattern [{i}] must be a non-empty string, got {pat!r}"
                )
            check_text(pat, f"{name}: label {label!r} pattern [{i}] {pat!r}")
            reason = _invalid(pat)
            if reason is not None:
                raise EmoalignError(
                    f"{name}: label {label!r} pattern {pat!r} is not a valid regular expression: {reason}"
                )
            if _matches_empty(pat, name, label):
                raise EmoalignError(f"{name}: label {label!r} pattern {pat!r} matches the empty string")
        lexicon[label] = LexiconPatterns(pats, str(p), label)
    return lexicon


def _matches_empty(pattern: str, where: str, label: str) -> bool:
    if _is_builtin(pattern):
        return re.fullmatch(pattern, "") is not None
    try:
        return regex.fullmatch(pattern, "", regex.VERSION0, timeout=PATTERN_TIMEOUT) is not None
    except TimeoutError:
        raise EmoalignError(
            f"{where}: label {label!r} pattern {pattern!r} took more than {PATTERN_TIMEOUT:g} s (time limit) on "
            "the empty string; rewrite it"
        ) from None
