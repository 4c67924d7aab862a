"""Result records of a study and their artifacts (safetensors + JSON metadata; never pickle)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.core.activations import ActivationSet
from emoalign.analysis.alignment import AlignConfig, LayerPairAlignment, layer_row
from emoalign.analysis.baseline import (
    BaselineCopies,
    baseline_cell_columns,
    baseline_pair_means,
    k_profile_table,
)
from emoalign.analysis.diagnostics import NORM_RATIO_BOUND, PC1_DOMINANCE
from emoalign.analysis.inference import grid_maximum, group_assignment_p
from emoalign.analysis.verdict import add_verdicts, pair_summary
from emoalign.core.errors import EmoalignError
from emoalign.io.paths import safe_component
from emoalign.core.provenance import provenance
from emoalign.io.storage import load_artifact, read_metadata, save_arrays

ALIGNMENT_KIND = "alignment"

#: Settings that change an alignment's numbers or verdicts: an artifact holding other values is a
#: different analysis, which a rerun may not silently replace, nor `compare` silently mix.
ANALYSIS_SETTINGS: tuple[str, ...] = (
    "n_components", "map_method", "fit_data", "metric", "reference", "layer_match", "seed", "heldout_fraction",
    "n_permutations", "n_bootstrap", "n_pairing_permutations", "alpha", "baseline_seeds", "k_profile",
)


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
            k_profile=pd.DataFrame(meta.get("k_profile", {})),
            floor_cells=pd.DataFrame(meta.get("floor", {}).get("cells", {})),
            floor_layer=pd.DataFrame(meta.get("floor", {}).get("layer", {})),
        )


def build_alignment_result(
    source: ActivationSet,
    target: ActivationSet,
    pairs: Sequence[LayerPairAlignment],
    config: AlignConfig,
    *,
    baseline: BaselineCopies | None = None,
    command: str | None = None,
    floor: LayerPairAlignment | None = None,
) -> AlignmentResult:
    """Collect per-pair alignments (and the random-weight copies of the baseline, and the lexical
    ``floor``: the embedding-layer pair) into tables, verdicts and stacked arrays."""
    emotions = list(source.emotion_labels)
    k = config.n_components
    profile_ks = list(pairs[0].profile_ks)
    if baseline is not None and tuple(profile_ks) != baseline.ks:
        raise EmoalignError(f"baseline copies were aligned at k = {baseline.ks}, the pair at k = {profile_ks}")
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
        "cross_overlap_by_k": np.stack([p.profile for p in pairs]),
    }
    extraction = {
        role: {
            "match_rates": acts.match_rates(),
            "fallbacks": acts.fallback_counts(),
            "position_policy": acts.position_policy,
            "start_token": acts.extra.get("start_token", "not recorded"),
            "layers": list(acts.layers),
        }
        for role, acts in (("source", source), ("target", target))
    }
    cells = pd.DataFrame([cell for p in pairs for cell in p.cells])
    if baseline is not None:
        for column, values in baseline_cell_columns(arrays["cross_overlap"], baseline, k).items():
            cells[column] = values
        arrays["baseline_cross_overlap_by_k"] = baseline.cross
        arrays["baseline_seeds"] = np.array(baseline.seeds, dtype=np.int64).reshape(-1, 2)
    layers = pd.DataFrame([layer_row(p, config) for p in pairs])
    if baseline is not None:
        bounds = cells.groupby(["layer", "target_layer"], sort=False)["baseline_overlap_bound"].mean()
        layers["baseline_overlap_bound"] = [bounds[(s, t)] for s, t in zip(layers["layer"], layers["target_layer"])]
    add_verdicts(cells, layers, alpha=config.alpha, metric=config.metric)
    pairing_means = None
    if config.with_statistics:
        arrays["group_null"] = np.stack([p.nulls.group for p in pairs])  # type: ignore[union-attr]
        arrays["emotion_null"] = np.stack([p.nulls.joint for p in pairs])  # type: ignore[union-attr]
        if all(p.nulls.pairing is not None for p in pairs):  # type: ignore[union-attr]
            arrays["pairing_null"] = np.stack([p.nulls.pairing for p in pairs])  # type: ignore[union-attr]
            pairing_means = arrays["pairing_null"].mean(axis=(0, 2))
    summary = pair_summary(
        cells, alpha=config.alpha, metric=config.metric, pairing_null_means=pairing_means,
        baseline_means=baseline_pair_means(baseline, k) if baseline is not None else None,
    )
    summary["p_group_assignment"] = group_assignment_p(arrays["cross_overlap"])
    if config.with_statistics and config.layer_match == "grid":
        summary["grid"] = grid_maximum(cells, [p.nulls.group for p in pairs])  # type: ignore[union-attr]
    k_profile = k_profile_table(
        arrays["cross_overlap_by_k"], baseline, profile_ks, alpha=config.alpha
    )
    floor_cells, floor_layer = pd.DataFrame(), pd.DataFrame()
    if floor is not None:
        floor_cells = pd.DataFrame(floor.cells)
        floor_k = floor.source_subspaces[emotions[0]].k
        floor_layer = pd.DataFrame([{**layer_row(floor, config), "n_components": floor_k}])
        layers["beyond_static_meaning"] = beyond_static_meaning(layers["mean_overlap_after"], floor_layer)
    summary["readout"] = readout_summary(cells, layers)
    return AlignmentResult(
        config={**asdict(config), "emotions": emotions, "profile_ks": profile_ks,
                "baseline_copies": 0 if baseline is None else len(baseline.seeds)},
        source=source.model,
        target=target.model,
        dataset=source.dataset,
        cells=cells,
        layers=layers,
        arrays=arrays,
        extraction=extraction,
        provenance=provenance(command),
        summary=summary,
        k_profile=k_profile,
        floor_cells=floor_cells,
        floor_layer=floor_layer,
    )


def beyond_static_meaning(layer_overlaps: pd.Series, floor_layer: pd.DataFrame) -> list[float]:
    """Per layer pair, 1.0 when its mean overlap after the map lies above the lexical floor's 95 %
    interval (the embedding pair's ``ci_high``), 0.0 when not, NaN without a floor interval."""
    high = float(floor_layer["ci_high"].iloc[0]) if "ci_high" in floor_layer else float("nan")
    if not np.isfinite(high):
        return [float("nan")] * len(layer_overlaps)
    return [float(value > high) for value in layer_overlaps]


def readout_summary(cells: pd.DataFrame, layers: pd.DataFrame) -> dict[str, Any]:
    """Where a readout is dominated by one direction or by outlying vectors (see
    :mod:`emoalign.analysis.diagnostics`): one record per (model, layer, emotion) at fault."""
    flagged = []
    for role, layer_column in (("source", "layer"), ("target", "target_layer")):
        if f"{role}_pc1" not in cells:
            continue
        for _, cell in cells.iterrows():
            dominated = cell[f"{role}_pc1"] >= PC1_DOMINANCE
            outlying = str(cell.get(f"{role}_outlying_prompts") or "").split()
            if dominated or outlying:
                flagged.append({
                    "role": role, "layer": int(cell[layer_column]), "emotion": cell["emotion"],
                    "pc1": float(cell[f"{role}_pc1"]), "norm_ratio": float(cell[f"{role}_norm_ratio"]),
                    "outlying_prompts": [int(i) for i in outlying],
                })
    fit = []
    for role in ("source", "target"):
        column = f"{role}_fit_norm_ratio"
        if column in layers:
            for _, row in layers[layers[column] > NORM_RATIO_BOUND].iterrows():
                fit.append({"role": role, "layer": int(row["layer" if role == "source" else "target_layer"]),
                            "norm_ratio": float(row[column]), "n_dropped": int(row["n_fit_pairs_dropped"])})
    return {"pc1_bound": PC1_DOMINANCE, "norm_ratio_bound": NORM_RATIO_BOUND, "cells": flagged, "fit": fit}


def load(path: str | Path) -> Any:
    """Reload any emoalign artifact (activations, alignment, vectors, subspaces) by its kind."""
    def build(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
        if meta["kind"] == ALIGNMENT_KIND:
            return AlignmentResult.from_artifact(arrays, meta)
        return {"arrays": arrays, "metadata": meta}

    try:
        is_activations = read_metadata(path).get("kind") == "activations"
    except Exception:  # noqa: BLE001 - damaged or missing: load_artifact below names the fault
        is_activations = False
    if is_activations:
        return ActivationSet.load(path)
    return load_artifact(path, (ALIGNMENT_KIND, "emotion_vectors", "emotion_subspaces"), build)
