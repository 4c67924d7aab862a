"""Model registry, loading and the decoder-block lookup."""

from emoalign.models.blocks import find_blocks
from emoalign.models.loading import (
    LoadedModel,
    load_model,
    resolve_device,
    resolve_dtype,
)
from emoalign.models.registry import PRESETS, ModelSpec, resolve_model

__all__ = [
    "PRESETS",
    "LoadedModel",
    "ModelSpec",
    "find_blocks",
    "load_model",
    "resolve_device",
    "resolve_dtype",
    "resolve_model",
]
