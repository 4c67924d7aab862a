"""Prompt data: built-in profiles, user datasets and the emotion-word lexicon."""

from emoalign.data.dataset import (
    PROFILE_SIZES,
    PROFILES,
    Prompt,
    PromptDataset,
    load_dataset,
    load_profile,
)
from emoalign.data.lexicon import (
    DEFAULT_LEXICON,
    compile_patterns,
    find_emotion_word_spans,
    load_lexicon,
)

__all__ = [
    "DEFAULT_LEXICON",
    "PROFILES",
    "PROFILE_SIZES",
    "Prompt",
    "PromptDataset",
    "compile_patterns",
    "find_emotion_word_spans",
    "load_dataset",
    "load_lexicon",
    "load_profile",
]
