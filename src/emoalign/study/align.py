"""Align two extracted models and collect the result: every layer pair (and the lexical floor) on
an executor, judged against the random-weight copies, into one :class:`AlignmentResult`.

No extraction here, and no torch: :func:`emoalign.analyze` (arrays you already hold) runs this
and nothing of :mod:`emoalign.extract`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from emoalign.analysis.alignment import (
    LayerPairAlignment,
    layer_row,
    lexical_floor_config,
)
from emoalign.analysis.baseline import (
    BaselineCopies,
    baseline_cell_columns,
    baseline_pair_means,
    k_profile_table,
)
from emoalign.analysis.diagnostics import NORM_RATIO_BOUND, PC1_DOMINANCE
from emoalign.analysis.inference import grid_maximum, group_assignment_p
from emoalign.analysis.verdict import add_verdicts, pair_summary
from emoalign.core.activations import ActivationSet
from emoalign.core.errors import EmoalignError
from emoalign.core.layers import EMBEDDING_LAYER, layer_name
from emoalign.core.log import get_logger
from emoalign.core.provenance import provenance
from emoalign.core.results import AlignmentResult
from emoalign.core.settings import AlignConfig
from emoalign.execution import Executor
from emoalign.study.parallel import align_activation_sets, baseline_cross_overlaps

log = get_logger(__name__)

__all__ = ["align_study", "readout_warnings", "build_alignment_result"]


def align_study(
    source_acts: ActivationSet,
    target_acts: ActivationSet,
    pairs: Sequence[tuple[int, int]],
    config: AlignConfig,
    *,
    baseline_copies: Sequence[tuple[ActivationSet, ActivationSet]] = (),
    command: str | None = None,
    control: str | None = None,
    quiet: bool = True,
    workers: int = 1,
    executor: Executor | None = None,
) -> AlignmentResult:
    """Align two extracted models over ``pairs`` and collect the result, judged against the
    random-weight ``baseline_copies`` (source copy, target copy) when given (``control`` marks a
    control run). The layer pairs (and the copies) run as tasks of ``executor`` (default: the local
    one with ``workers`` processes, 0: one per CPU core), with the same result on every executor."""
    pairs = [pair for pair in pairs if EMBEDDING_LAYER not in pair]
    floor_config = lexical_floor_config(source_acts, target_acts, config)
    aligned = align_activation_sets(
        source_acts, target_acts, pairs, config, quiet=quiet, workers=workers, executor=executor
    )
    floor = (
        align_activation_sets(source_acts, target_acts, [(EMBEDDING_LAYER, EMBEDDING_LAYER)], floor_config,
                              executor=executor, workers=1)[0]
        if floor_config is not None else None
    )
    baseline = (
        baseline_cross_overlaps(
            baseline_copies, pairs, config, aligned[0].profile_ks, quiet=quiet, workers=workers, executor=executor
        )
        if baseline_copies
        else None
    )
    result = build_alignment_result(
        source_acts, target_acts, aligned, config, baseline=baseline, command=command, floor=floor
    )
    if control is not None:
        result.config["control"] = control
    for message in readout_warnings(result, source_acts, target_acts):
        log.warning(message)
    return result


def readout_warnings(result: AlignmentResult, source_acts: ActivationSet, target_acts: ActivationSet) -> list[str]:
    """One line per (model, layer, emotion) whose readout is one direction or holds outlying
    vectors, naming the prompts at fault; one per layer whose map-fit activations hold outliers."""
    readout = result.summary.get("readout", {})
    messages = []
    for flag in readout.get("cells", []):
        acts = source_acts if flag["role"] == "source" else target_acts
        texts = [text for text, label in zip(acts.texts, acts.labels) if label == flag["emotion"]]
        prompts = "; ".join(repr(texts[i][:50]) for i in flag["outlying_prompts"][:3])
        more = len(flag["outlying_prompts"]) - 3
        messages.append(
            f"{acts.model['name']} layer {layer_name(flag['layer'])} {flag['emotion']!r}: first principal component "
            f"{flag['pc1']:.3f} of the variance, largest emotion vector {flag['norm_ratio']:.1f}x the median norm"
            + (f"; outlying prompts: {prompts}" + (f" (+{more} more)" if more > 0 else "") if prompts else "")
            + " (a readout on an attention sink, e.g. position 0 of a model without a start token? see --bos)"
        )
    for flag in readout.get("fit", []):
        acts = source_acts if flag["role"] == "source" else target_acts
        messages.append(
            f"{acts.model['name']} layer {layer_name(flag['layer'])}: map-fit activations up to "
            f"{flag['norm_ratio']:.1f}x the median norm; {flag['n_dropped']} outlying word pairs left out of the "
            "map fit"
        )
    return messages


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


