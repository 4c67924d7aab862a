"""Hugging Face helpers every model module shares (a leaf: it imports no other emoalign.models
module): the dtypes by name, the language-model part of a config, quiet progress bars and logs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["DTYPES", "hf_quiet", "text_config"]

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def text_config(config: Any) -> Any:
    """The language-model part of a (possibly multimodal) config."""
    getter = getattr(config, "get_text_config", None)
    return getter() if getter is not None else config


@contextlib.contextmanager
def hf_quiet(*, progress: bool = True, logs: bool = False) -> Iterator[None]:
    """Inside the block, hide Hugging Face progress bars (``progress``) and log lines below
    errors (``logs``); the previous settings come back afterwards."""
    from transformers.utils import logging as hf_logging

    bars_were_enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    if progress:
        hf_logging.disable_progress_bar()
    if logs:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        if progress and bars_were_enabled:
            hf_logging.enable_progress_bar()
        if logs:
            hf_logging.set_verbosity(verbosity)
