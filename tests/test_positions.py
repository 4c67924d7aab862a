import pytest

from emoalign.extract.positions import (
    emotion_token_positions,
    last_content_token,
    tokens_overlapping,
    whitespace_word_spans,
    word_last_tokens,
)

# "I am so sorry." tokenised as I | am | so | sor | ry | . with a BOS (0,0) and an EOS (0,0)
OFFSETS = [(0, 0), (0, 1), (2, 4), (5, 7), (8, 11), (11, 13), (13, 14), (0, 0)]


def test_whitespace_word_spans():
    assert whitespace_word_spans("I am  so sorry.") == [(0, 1), (2, 4), (6, 8), (9, 15)]


def test_tokens_overlapping_skips_special_tokens():
    assert tokens_overlapping(OFFSETS, (8, 13)) == [4, 5]
    assert tokens_overlapping(OFFSETS, (0, 1)) == [1]  # BOS (0,0) is empty, never matches


def test_byte_level_offsets_with_leading_space_still_overlap():
    # untrimmed byte-level offsets include the space before the word: 'Ġsorry' = (7, 13)
    assert tokens_overlapping([(0, 7), (7, 13)], (8, 13)) == [1]


@pytest.mark.parametrize(("policy", "expected"), [("all", [4, 5]), ("first", [4]), ("last", [5])])
def test_policies(policy, expected):
    assert emotion_token_positions(OFFSETS, [(8, 13)], policy) == expected


def test_unknown_policy():
    with pytest.raises(ValueError, match="position policy"):
        emotion_token_positions(OFFSETS, [(8, 13)], "middle")


def test_last_content_token_skips_eos_and_padding():
    assert last_content_token(OFFSETS + [(0, 0), (0, 0)]) == 6


def test_word_last_tokens():
    words = whitespace_word_spans("I am so sorry.")
    assert word_last_tokens(OFFSETS, words) == [1, 2, 3, 6]
