"""Result records of a study and their artifacts (safetensors + JSON metadata; never pickle)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.core.activations import ActivationSet
from emoalign.core.errors import EmoalignError
from emoalign.core.settings import ANALYSIS_SETTINGS
from emoalign.io.paths import safe_component
from emoalign.io.storage import load_artifact, read_metadata, save_arrays

ALIGNMENT_KIND = "alignment"
#: The schema of an alignment artifact's tables, written with it. 0: artifacts written before the
#: version was recorded (readers infer their schema from the columns present); 1: the three-step
#: verdict, the readout diagnostics and the lexical floor (``floor``).
ALIGNMENT_FORMAT_VERSION = 1



def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def settings_differences(metadata: Mapping, config: Mapping, dataset_hash: str | None) -> list[str]:
    """``name old -> new`` for each analysis setting (and the prompt set) where an artifact's
    metadata differs from ``config``."""
    old = metadata.get("config", {})
    differences = [
        f"{name} {_plain(old.get(name))!r} -> {_plain(config.get(name))!r}"
        for name in ANALYSIS_SETTINGS
        if name in config and _plain(old.get(name)) != _plain(config.get(name))
    ]
    if dataset_hash is not None and metadata.get("dataset", {}).get("hash") != dataset_hash:
        differences.append("the prompts differ")
    return differences


def check_comparable(results: Sequence[AlignmentResult], paths: Sequence[str | Path]) -> None:
    """Alignments compared side by side must share their source, prompts and analysis settings; the
    first that differs from the first file is one error line naming it and the settings."""
    first, first_path = results[0], paths[0]
    for result, path in zip(results[1:], paths[1:]):
        differences = settings_differences(
            {"config": result.config, "dataset": result.dataset}, first.config, first.dataset.get("hash")
        )
        if result.source.get("id") != first.source.get("id"):
            differences.insert(0, f"source {first.source.get('name')!r} -> {result.source.get('name')!r}")
        if differences:
            raise EmoalignError(
                f"{path}: not comparable with {first_path} ({'; '.join(differences[:4])}); compare analyses "
                "of one source, one prompt set and the same settings"
            )


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
    k_profile: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the lexical floor: the input-embedding pair (layer -1) analysed like a layer pair, as a
    #: reference (no verdict); empty where there is none (legacy metric, activations without it)
    floor_cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    floor_layer: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the artifact schema (:data:`ALIGNMENT_FORMAT_VERSION`; 0 for a file written before it was recorded)
    format_version: int = ALIGNMENT_FORMAT_VERSION

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
            path = path / f"{safe_component(self.pair_name)}_token_based_full.safetensors"
        metadata = {
            "kind": ALIGNMENT_KIND,
            "format_version": self.format_version,  # a result read from an older file keeps its schema
            "config": self.config,
            "source": self.source,
            "target": self.target,
            "dataset": self.dataset,
            "cells": _frame_to_json(self.cells),
            "layers": _frame_to_json(self.layers),
            "extraction": self.extraction,
            "provenance": self.provenance,
            "summary": self.summary,
            "k_profile": _frame_to_json(self.k_profile),
            "floor": {"cells": _frame_to_json(self.floor_cells), "layer": _frame_to_json(self.floor_layer)},
        }
        return save_arrays(path, self.arrays, metadata)

    @classmethod
    def from_artifact(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> AlignmentResult:
        """Rebuild from the contents of an alignment artifact (one written by a newer emoalign, in a
        schema this one does not know, is an error)."""
        version = int(meta.get("format_version", 0))
        if version > ALIGNMENT_FORMAT_VERSION:
            raise EmoalignError(
                f"alignment format {version}, written by a newer emoalign (this one reads up to "
                f"{ALIGNMENT_FORMAT_VERSION}); upgrade emoalign to read it"
            )
        return cls(
            format_version=version,
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
            k_profile=pd.DataFrame(meta.get("k_profile", {})),
            floor_cells=pd.DataFrame(meta.get("floor", {}).get("cells", {})),
            floor_layer=pd.DataFrame(meta.get("floor", {}).get("layer", {})),
        )


def load(path: str | Path) -> Any:
    """Reload any emoalign artifact (activations, alignment, vectors, subspaces) by its kind."""
    def build(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
        if meta["kind"] == ALIGNMENT_KIND:
            try:
                return AlignmentResult.from_artifact(arrays, meta)
            except EmoalignError as exc:
                raise EmoalignError(f"{path}: {exc}") from None
        return {"arrays": arrays, "metadata": meta}

    try:
        is_activations = read_metadata(path).get("kind") == "activations"
    except Exception:  # noqa: BLE001 - damaged or missing: load_artifact below names the fault
        is_activations = False
    if is_activations:
        return ActivationSet.load(path)
    return load_artifact(path, (ALIGNMENT_KIND, "emotion_vectors", "emotion_subspaces"), build)
