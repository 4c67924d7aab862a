"""Activation extraction: token positions, hooks, pooled activation sets and their cache.

The package is also callable: ``emoalign.extract(model, tokenizer, ...)`` is
:func:`emoalign.extract.loaded.extract` (activations of a model you have already loaded).
"""

from emoalign.core.activations import ActivationSet
from emoalign.core.callable_module import make_callable
from emoalign.extract.activations import (
    extract_activations,
    validate_layers,
)
from emoalign.extract.loaded import extract
from emoalign.extract.positions import POSITION_POLICIES

__all__ = ["POSITION_POLICIES", "ActivationSet", "extract", "extract_activations", "validate_layers"]

make_callable(__name__, "extract")
