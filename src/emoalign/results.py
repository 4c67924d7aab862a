"""Result records of a study and their artifacts (safetensors + JSON metadata; never pickle)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.analysis.alignment import AlignConfig, LayerPairAlignment, layer_row
from emoalign.analysis.inference import add_verdicts, grid_maximum, pair_summary
from emoalign.errors import EmoalignError
from emoalign.extract.activations import ActivationSet
from emoalign.provenance import provenance
from emoalign.storage import load_arrays, save_arrays

ALIGNMENT_KIND = "alignment"


def _frame_to_json(frame: pd.DataFrame) -> dict[str, list]:
    return {column: frame[column].tolist() for column in frame.columns}


@dataclass
class AlignmentResult:
    """One source/target pair: per-cell and per-layer tables plus the subspace bases.

    ``cells`` has one row per (layer pair, emotion); ``layers`` one row per layer pair whose first
    four columns are the original study's ``layer, mean_overlap_before, mean_overlap_after, delta``.
    """

    config: dict[str, Any]
    source: dict[str, Any]
    target: dict[str, Any]
    dataset: dict[str, Any]
    cells: pd.DataFrame
    layers: pd.DataFrame
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    extraction: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def layer_table(self) -> pd.DataFrame:
        """Per-layer table (copy)."""
        return self.layers.copy()

    def cell_table(self) -> pd.DataFrame:
        """Per-(layer pair, emotion) table (copy)."""
        return self.cells.copy()

    @property
    def pair_name(self) -> str:
        """``<source>_vs_<target>``, the stem of this pair's file names."""
        return f"{self.source['name']}_vs_{self.target['name']}"

    def save(self, path: str | Path) -> Path:
        """Write the alignment artifact (one safetensors file; a folder gets the default name)."""
        path = Path(path)
        if path.suffix != ".safetensors":
            path = path / f"{self.pair_name}_token_based_full.safetensors"
        metadata = {
            "kind": ALIGNMENT_KIND,
            "config": self.config,
            "source": self.source,
            "target": self.target,
            "dataset": self.dataset,
            "cells": _frame_to_json(self.cells),
            "layers": _frame_to_json(self.layers),
            "extraction": self.extraction,
            "provenance": self.provenance,
            "summary": self.summary,
        }
        return save_arrays(path, self.arrays, metadata)

    @classmethod
    def from_artifact(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> AlignmentResult:
        """Rebuild from the contents of an alignment artifact."""
        return cls(
            config=meta["config"],
            source=meta["source"],
            target=meta["target"],
            dataset=meta["dataset"],
            cells=pd.DataFrame(meta["cells"]),
            layers=pd.DataFrame(meta["layers"]),
            arrays=arrays,
            extraction=meta.get("extraction", {}),
            provenance=meta.get("provenance", {}),
            summary=meta.get("summary", {}),
        )


def build_alignment_result(
    source: ActivationSet,
    target: ActivationSet,
    pairs: Sequence[LayerPairAlignment],
    config: AlignConfig,
    *,
    command: str | None = None,
) -> AlignmentResult:
    """Collect per-pair alignments into tables and stacked basis arrays."""
    emotions = list(source.emotion_labels)
    arrays = {
        "layer_pairs": np.array([[p.source_layer, p.target_layer] for p in pairs], dtype=np.int64),
        "source_bases": np.stack([[p.source_subspaces[e].basis for e in emotions] for p in pairs]),
        "target_bases": np.stack([[p.target_subspaces[e].basis for e in emotions] for p in pairs]),
        "mapped_target_bases": np.stack([[p.mapped_bases[e] for e in emotions] for p in pairs]),
        "source_explained_variance": np.stack(
            [[p.source_subspaces[e].explained_variance_ratio for e in emotions] for p in pairs]
        ),
        "target_explained_variance": np.stack(
            [[p.target_subspaces[e].explained_variance_ratio for e in emotions] for p in pairs]
        ),
        "cross_overlap": np.stack([p.cross_overlap for p in pairs]),
        "principal_angles_degrees": np.stack([p.angles_degrees for p in pairs]),
    }
    extraction = {
        role: {
            "match_rates": acts.match_rates(),
            "fallbacks": acts.fallback_counts(),
            "position_policy": acts.position_policy,
            "layers": list(acts.layers),
        }
        for role, acts in (("source", source), ("target", target))
    }
    cells = pd.DataFrame([cell for p in pairs for cell in p.cells])
    layers = pd.DataFrame([layer_row(p, config) for p in pairs])
    add_verdicts(cells, layers, config.alpha)
    summary = pair_summary(cells, config.alpha, arrays["cross_overlap"])
    if config.with_statistics:
        arrays["label_null"] = np.stack([p.label_null for p in pairs])
        if config.layer_match == "grid":
            summary["grid"] = grid_maximum(cells, [p.label_null for p in pairs])
    return AlignmentResult(
        config={**asdict(config), "emotions": emotions},
        source=source.model,
        target=target.model,
        dataset=source.dataset,
        cells=cells,
        layers=layers,
        arrays=arrays,
        extraction=extraction,
        provenance=provenance(command),
        summary=summary,
    )


def load(path: str | Path) -> Any:
    """Reload any emoalign artifact (activations, alignment, vectors, subspaces) by its kind."""
    arrays, meta = load_arrays(path)
    kind = meta.get("kind")
    if kind == ALIGNMENT_KIND:
        return AlignmentResult.from_artifact(arrays, meta)
    if kind == "activations":
        return ActivationSet.from_artifact(arrays, meta)
    if kind in ("emotion_vectors", "emotion_subspaces"):
        return {"arrays": arrays, "metadata": meta}
    raise EmoalignError(f"{path}: unknown artifact kind {kind!r}")
