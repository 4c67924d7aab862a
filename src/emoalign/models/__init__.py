"""Model registry, loading and the decoder-block lookup.

The names below are imported on first use, so ``emoalign.models.registry`` (model presets, GGUF
inspection) stays free of torch: only loading a model (or finding its blocks) imports it.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module that defines it (imported on first use)
_API: dict[str, str] = {
    "PRESETS": "emoalign.models.registry",
    "LoadedModel": "emoalign.models.loading",
    "ModelSpec": "emoalign.models.registry",
    "find_blocks": "emoalign.models.blocks",
    "load_model": "emoalign.models.loading",
    "resolve_device": "emoalign.models.loading",
    "resolve_dtype": "emoalign.models.loading",
    "resolve_model": "emoalign.models.registry",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        try:  # a submodule not imported yet (emoalign.models.<name>)
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
