"""Activation extraction: token positions, hooks, pooled activation sets and their cache."""

from emoalign.extract.activations import (
    ActivationSet,
    extract_activations,
    validate_layers,
)
from emoalign.extract.positions import POSITION_POLICIES

__all__ = ["POSITION_POLICIES", "ActivationSet", "extract_activations", "validate_layers"]
