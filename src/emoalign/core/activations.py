"""The activation data model: what an extraction produces and the analysis reads.

Shared by :mod:`emoalign.extract` (which fills it from a model) and :mod:`emoalign.analysis` (which
reads it); it depends on neither. Build one from plain arrays with :func:`emoalign.from_arrays`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emoalign.core.errors import EmoalignError
from emoalign.io.storage import load_artifact, save_arrays

__all__ = ["FORMAT_VERSION", "ActivationSet"]

FORMAT_VERSION = 1


@dataclass
class ActivationSet:
    """Activations of one model on one dataset, at the requested layers (float32, CPU).

    ``prompt_acts[l, i]`` is prompt ``i``'s pooled emotion-word activation at ``layers[l]`` (for
    reference prompts, and emotion prompts without a matched word, the last content token).
    ``word_acts[l, j]`` is the activation at the last sub-token of reference word ``j``; word ``j``
    is whitespace word ``word_position[j]`` of prompt ``word_prompt[j]``, so words pair 1:1 across
    models with different tokenizers.
    """

    model: dict[str, Any]
    dataset: dict[str, Any]
    layers: tuple[int, ...]
    texts: tuple[str, ...]
    labels: tuple[str, ...]
    reference_label: str
    position_policy: str
    prompt_acts: np.ndarray
    word_acts: np.ndarray
    word_prompt: np.ndarray
    word_position: np.ndarray
    fallback: np.ndarray
    matched_tokens: tuple[tuple[str, ...], ...]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def emotion_labels(self) -> tuple[str, ...]:
        """Labels other than the reference, in first-appearance order."""
        return tuple(dict.fromkeys(lab for lab in self.labels if lab != self.reference_label))

    def layer_row(self, layer: int) -> int:
        """Row of ``layer`` in the activation arrays; an absent layer is an error naming it."""
        if layer not in self.layers:
            raise EmoalignError(
                f"layer {layer} was not extracted for {self.model.get('name')} "
                f"(extracted: {', '.join(map(str, self.layers))})"
            )
        return self.layers.index(layer)

    def label_mask(self, label: str) -> np.ndarray:
        """Boolean mask of the prompts carrying ``label``."""
        return np.asarray(self.labels) == label

    def acts(self, label: str, layer: int) -> np.ndarray:
        """(n_label, d) prompt activations of ``label`` at ``layer``."""
        return self.prompt_acts[self.layer_row(layer)][self.label_mask(label)]

    def match_rates(self) -> dict[str, float]:
        """Fraction of prompts per emotion label whose emotion word was found (no fallback)."""
        return {
            label: float(1.0 - self.fallback[self.label_mask(label)].mean()) for label in self.emotion_labels
        }

    def fallback_counts(self) -> dict[str, int]:
        """Number of emotion prompts per label that fell back to the last content token."""
        return {label: int(self.fallback[self.label_mask(label)].sum()) for label in self.emotion_labels}

    def save(self, path: str | Path) -> Path:
        """Write one safetensors file (atomic, with integrity digest)."""
        arrays = {
            "prompt_acts": self.prompt_acts,
            "word_acts": self.word_acts,
            "word_prompt": self.word_prompt.astype(np.int64),
            "word_position": self.word_position.astype(np.int64),
            "fallback": self.fallback.astype(np.uint8),
        }
        metadata = {
            "kind": "activations",
            "format_version": FORMAT_VERSION,
            "model": self.model,
            "dataset": self.dataset,
            "layers": list(self.layers),
            "texts": list(self.texts),
            "labels": list(self.labels),
            "reference_label": self.reference_label,
            "position_policy": self.position_policy,
            "matched_tokens": [list(tokens) for tokens in self.matched_tokens],
            "extra": self.extra,
        }
        return save_arrays(path, arrays, metadata)

    @classmethod
    def load(cls, path: str | Path) -> ActivationSet:
        """Read a file written by :meth:`save` (integrity-checked)."""
        def build(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> ActivationSet:
            if meta["format_version"] != FORMAT_VERSION:
                raise EmoalignError(
                    f"{path}: activations of format version {meta['format_version']!r}; this emoalign reads "
                    f"{FORMAT_VERSION} (extract again)"
                )
            return cls.from_artifact(arrays, meta)

        return load_artifact(path, "activations", build)

    @classmethod
    def from_artifact(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> ActivationSet:
        """Rebuild from the contents of an activations artifact."""
        return cls(
            model=meta["model"],
            dataset=meta["dataset"],
            layers=tuple(meta["layers"]),
            texts=tuple(meta["texts"]),
            labels=tuple(meta["labels"]),
            reference_label=meta["reference_label"],
            position_policy=meta["position_policy"],
            prompt_acts=arrays["prompt_acts"],
            word_acts=arrays["word_acts"],
            word_prompt=arrays["word_prompt"],
            word_position=arrays["word_position"],
            fallback=arrays["fallback"].astype(bool),
            matched_tokens=tuple(tuple(tokens) for tokens in meta["matched_tokens"]),
            extra=meta.get("extra", {}),
        )
