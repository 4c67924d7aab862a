"""Statistics attached to every alignment cell: label null, pairing null, bootstrap CI, noise
ceiling, multiple testing and verdicts (DESIGN §4: an overlap without a null means nothing)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from emoalign.analysis.maps import LinearMap
from emoalign.analysis.stats import (
    NOT_DISTINGUISHABLE,
    NOT_TESTED,
    SPECIFIC,
    benjamini_hochberg,
    bootstrap_overlap_ci,
    grid_max_null,
    label_permutation_null,
    pairing_null,
    split_half_ceiling,
)


def cell_statistics(
    source_vectors: Mapping[str, np.ndarray],
    target_vectors: Mapping[str, np.ndarray],
    fit_target: np.ndarray,
    fit_source: np.ndarray,
    linear_map: LinearMap,
    k: int,
    *,
    n_permutations: int,
    n_bootstrap: int,
    n_pairing_permutations: int,
    seed: int,
    context: str = "",
) -> tuple[dict[str, dict[str, float]], dict[str, float], np.ndarray]:
    """Per-emotion statistics of one layer pair, the layer-level CI, and the label-null array (N, E).

    The label null permutes emotion labels among the target's emotion prompts (the source subspace
    stays fixed); the pairing null shuffles the map's fit pairs; the bootstrap resamples prompts
    (pairs kept) within each emotion; the ceiling is each model's split-half overlap with itself.
    """
    emotions = list(source_vectors)
    label = label_permutation_null(
        source_vectors, target_vectors, linear_map.weight, k, n_permutations=n_permutations, seed=seed,
        context=context,
    )
    boot = bootstrap_overlap_ci(
        source_vectors, target_vectors, linear_map.weight, k, n_bootstrap=n_bootstrap, seed=seed, context=context
    )
    map_kwargs = {"alphas": [linear_map.params["alpha"]]} if linear_map.method == "ridge" else {}
    pairing = (
        pairing_null(
            fit_target, fit_source, source_vectors, target_vectors, k, method=linear_map.method,
            n_permutations=n_pairing_permutations, seed=seed, map_seed=seed, context=context, **map_kwargs,
        )
        if n_pairing_permutations > 0
        else None
    )
    ceiling_source = split_half_ceiling(source_vectors, k, seed=seed, context=context)
    # the target's subspaces as "after" sees them: mapped (a map that drops nuisance directions
    # also drops their split-half noise)
    ceiling_target = split_half_ceiling(target_vectors, k, seed=seed, context=context, weight=linear_map.weight)
    per_emotion: dict[str, dict[str, float]] = {}
    for i, emotion in enumerate(emotions):
        ceiling = float(np.sqrt(ceiling_source.mean[i] * ceiling_target.mean[i]))
        per_emotion[emotion] = {
            "null_mean": float(label.null_mean[i]),
            "null_p95": float(label.null_p95[i]),
            "p_label": float(label.p_values[i]),
            "ci_low": float(boot.ci_low[i]),
            "ci_high": float(boot.ci_high[i]),
            "bootstrap_bias": float(boot.bias[i]),
            "ceiling_source": float(ceiling_source.mean[i]),
            "ceiling_target": float(ceiling_target.mean[i]),
            "ceiling": ceiling,
            "pairing_null_mean": float(pairing.null_mean[i]) if pairing else float("nan"),
            "p_pairing": float(pairing.p_values[i]) if pairing else float("nan"),
        }
    # CI of the layer's mean overlap: the same resamples averaged over emotions.
    mean_boot = np.nanmean(boot.bootstrap, axis=1)
    tail = (1 - boot.confidence) / 2 * 100
    layer_level = {
        "ci_low": float(np.nanpercentile(mean_boot, tail)),
        "ci_high": float(np.nanpercentile(mean_boot, 100 - tail)),
        "null_p95": float(np.percentile(label.null.mean(axis=1), 95)),
        "ceiling": float(np.nanmean([per_emotion[e]["ceiling"] for e in emotions])),
    }
    return per_emotion, layer_level, label.null


def emotion_identity_p(cross_overlap: np.ndarray, *, max_exact: int = 7, n_sampled: int = 5000, seed: int = 0) -> float:
    """Exact, structure-preserving test of the emotion correspondence: the p-value of the identity
    assignment (source e <-> target e) among all assignments of target emotions to source emotions.

    ``cross_overlap`` is (E, E) — or (P, E, E) for one assignment shared by P layer pairs. The
    statistic is the summed matched overlap; p = #{assignments scoring >= identity} / #assignments.
    Unlike the label null it leaves each model's emotion structure intact, so it stays exact when
    the target has strong emotion structure of its own; its price is resolution: the smallest
    p-value is 1/E! (1/6 with three emotions). More than ``max_exact`` emotions: sampled assignments.
    """
    cross = np.asarray(cross_overlap, dtype=np.float64)
    cross = cross[None] if cross.ndim == 2 else cross
    n_emotions = cross.shape[-1]
    summed = cross.sum(axis=0)  # (E, E): the same assignment applies at every layer pair
    if n_emotions <= max_exact:
        assignments = np.array(list(itertools.permutations(range(n_emotions))))
    else:
        rng = np.random.default_rng(seed)
        assignments = np.vstack([np.arange(n_emotions), [rng.permutation(n_emotions) for _ in range(n_sampled)]])
    scores = summed[np.arange(n_emotions), assignments].sum(axis=1)
    identity = np.trace(summed)
    return float(np.mean(scores >= identity - 1e-12))


def cell_verdict(q: float, specificity: float, alpha: float = 0.05) -> str:
    """``emotion-specific`` needs the label null beaten (BH q < alpha) AND the same-emotion overlap
    above the mean cross-emotion overlap (specificity > 0); otherwise not distinguishable."""
    if np.isnan(q):
        return NOT_TESTED
    return SPECIFIC if q < alpha and specificity > 0 else NOT_DISTINGUISHABLE


def add_verdicts(cells: pd.DataFrame, layers: pd.DataFrame, alpha: float = 0.05) -> None:
    """BH q-values across all cells of a pair, the cell verdicts, and per-layer counts (in place)."""
    tested = "p_label" in cells
    cells["q_label"] = benjamini_hochberg(cells["p_label"].to_numpy()) if tested else np.nan
    cells["verdict"] = [cell_verdict(q, s, alpha) for q, s in zip(cells["q_label"], cells["specificity"])]
    counts = cells.groupby(["layer", "target_layer"], sort=False)["verdict"].agg(
        lambda v: int((v == SPECIFIC).sum())
    )
    n_emotions = cells["emotion"].nunique()
    layers["n_emotion_specific"] = [counts[(s, t)] for s, t in zip(layers["layer"], layers["target_layer"])]
    layers["verdict"] = [
        NOT_TESTED if not tested else f"{n} of {n_emotions} emotion-specific" for n in layers["n_emotion_specific"]
    ]


def pair_summary(
    cells: pd.DataFrame, alpha: float = 0.05, cross_overlap: np.ndarray | None = None
) -> dict[str, object]:
    """One verdict for the model pair, in words (plus the pair-level emotion-identity p-value when
    the (P, E, E) cross-overlap stack is given)."""
    n_cells = len(cells)
    n_specific = int((cells["verdict"] == SPECIFIC).sum())
    n_tested = int((cells["verdict"] != NOT_TESTED).sum())
    if n_tested == 0:
        label = "not tested"
    elif n_specific == 0:
        label = NOT_DISTINGUISHABLE
    elif n_specific == n_tested:
        label = SPECIFIC
    else:
        label = "partly emotion-specific"
    return {
        "verdict": label,
        "summary": f"emotion-specific in {n_specific} of {n_tested} tested cells (BH q < {alpha} and specificity > 0)",
        "n_specific": n_specific,
        "n_tested": n_tested,
        "n_cells": n_cells,
        "alpha": alpha,
        **({"p_identity": emotion_identity_p(cross_overlap)} if cross_overlap is not None else {}),
    }


def grid_maximum(cells: pd.DataFrame, label_nulls: Sequence[np.ndarray]) -> dict[str, dict[str, object]]:
    """Per emotion, the best layer pair of a grid and a p-value from the null of the same maximum
    (every permutation's maximum over the grid; the permutations are shared across layer pairs)."""
    emotions = list(dict.fromkeys(cells["emotion"]))
    stacked = np.stack(label_nulls)  # (P, N, E)
    out: dict[str, dict[str, object]] = {}
    for i, emotion in enumerate(emotions):
        rows = cells[cells["emotion"] == emotion].reset_index(drop=True)
        best = int(rows["overlap_after"].to_numpy().argmax())
        observed = float(rows["overlap_after"][best])
        out[emotion] = {
            "layer": int(rows["layer"][best]),
            "target_layer": int(rows["target_layer"][best]),
            "max_overlap_after": observed,
            "p_max": float(grid_max_null(stacked[:, :, i].T, observed)),
        }
    return out
