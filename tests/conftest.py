"""Shared pytest fixtures: tiny random-weight models and tokenizers built locally (no network)."""

from __future__ import annotations

import contextlib
import io
import os

# No model hub is reachable here: fail fast instead of retrying for ~25 s (read at import time).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from collections.abc import Callable
from pathlib import Path

import pytest

try:  # tests/ is on sys.path (rootdir-relative import, no tests/__init__.py)
    from tiny_models import DEFAULT_TOKENIZER, build_tiny_model, save_tokenizer
except ImportError:  # pragma: no cover - tests/ as a package
    from .tiny_models import DEFAULT_TOKENIZER, build_tiny_model, save_tokenizer


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Callable[..., Path]:
    """Factory ``tiny_model_path(family, tokenizer=None, seed=0) -> Path``.

    Builds a tiny random-weight model folder (config + safetensors + tokenizer) with
    ``tiny_models.build_tiny_model``; each (family, tokenizer, seed) is built once per session.
    Treat the folder as read-only.
    """
    cache: dict[tuple[str, str, int], Path] = {}

    def factory(family: str, tokenizer: str | None = None, seed: int = 0) -> Path:
        kind = tokenizer or DEFAULT_TOKENIZER[family]
        key = (family, kind, int(seed))
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"tiny-{family}-{kind}-s{seed}", numbered=True)
            # transformers' "Writing model shards" bar would land in the stderr of whichever test
            # builds the model first, and tests assert one-line error output
            with contextlib.redirect_stderr(io.StringIO()):
                cache[key] = build_tiny_model(family, folder, tokenizer=kind, seed=seed)
        return cache[key]

    return factory


@pytest.fixture(scope="session")
def tiny_tokenizer_path(tmp_path_factory) -> Callable[[str], Path]:
    """Factory ``tiny_tokenizer_path(kind) -> Path``: a folder holding only a saved tokenizer.

    ``kind`` is one of ``tiny_models.TOKENIZER_KINDS`` (``"bpe"``, ``"bpe_untrimmed"``,
    ``"sentencepiece"``, ``"wordpiece"``); each kind is trained and saved once per session.
    """
    cache: dict[str, Path] = {}

    def factory(kind: str) -> Path:
        if kind not in cache:
            cache[kind] = save_tokenizer(kind, tmp_path_factory.mktemp(f"tok-{kind}", numbered=True))
        return cache[kind]

    return factory
