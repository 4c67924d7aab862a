"""Token positions from character offsets (never from token strings: BPE tokens carry 'Ġ',
SentencePiece tokens '▁', so matching 'thank' against token text fails for non-initial words)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

Span = tuple[int, int]
PositionPolicy = Literal["all", "first", "last"]
POSITION_POLICIES: tuple[str, ...] = ("all", "first", "last")


def whitespace_word_spans(text: str) -> list[Span]:
    """Character spans of the whitespace-separated words of ``text``."""
    return [match.span() for match in re.finditer(r"\S+", text)]


def tokens_overlapping(offsets: Sequence[Span], span: Span) -> list[int]:
    """Indices of tokens whose (non-empty) character span overlaps ``span``.

    Special tokens (BOS, [CLS], [SEP], padding) have empty offsets and never match.
    """
    start, end = span
    return [i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start]


def last_content_token(offsets: Sequence[Span]) -> int:
    """Index of the last token that covers text (skips EOS/[SEP]/padding, whose offsets are empty)."""
    for i in range(len(offsets) - 1, -1, -1):
        s, e = offsets[i]
        if e > s:
            return i
    raise ValueError("no token of this prompt covers any character")


def emotion_token_positions(
    offsets: Sequence[Span], word_spans: Sequence[Span], policy: PositionPolicy = "all"
) -> list[int]:
    """Token indices to pool for the emotion words at ``word_spans``.

    ``all`` takes every sub-token of each word, ``first`` / ``last`` one sub-token per word.
    Returns sorted unique indices; empty when no word maps to a token.
    """
    if policy not in POSITION_POLICIES:
        raise ValueError(f"unknown position policy {policy!r} (use {', '.join(POSITION_POLICIES)})")
    chosen: set[int] = set()
    for span in word_spans:
        tokens = tokens_overlapping(offsets, span)
        if not tokens:
            continue
        if policy == "all":
            chosen.update(tokens)
        else:
            chosen.add(tokens[0] if policy == "first" else tokens[-1])
    return sorted(chosen)


def word_last_tokens(offsets: Sequence[Span], word_spans: Sequence[Span]) -> list[int | None]:
    """For each word, the index of its last sub-token (``None`` if no token covers it)."""
    result: list[int | None] = []
    for span in word_spans:
        tokens = tokens_overlapping(offsets, span)
        result.append(tokens[-1] if tokens else None)
    return result
