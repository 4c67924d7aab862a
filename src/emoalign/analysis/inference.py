"""Statistics attached to every alignment cell: the pairing null, the prompt-group null, the
joint-relabelling null, bootstrap CIs and split-half reliability (an overlap without a null
means nothing). The vocabulary baseline needs other models' activations: see
:mod:`emoalign.analysis.baseline`; the verdicts that combine them: :mod:`emoalign.analysis.verdict`."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emoalign.analysis.cache import StatsCaches
from emoalign.analysis.linalg import TIE_TOL
from emoalign.analysis.maps import LinearMap
from emoalign.analysis.stats import (
    bootstrap_overlap_ci,
    grid_max_null,
    joint_relabel_null,
    label_permutation_null,
    pairing_null,
    split_half_reliability,
)
from emoalign.analysis.stats.label_null import ASSIGNMENT_MAX_EXACT, ASSIGNMENT_SAMPLES


@dataclass(frozen=True)
class LayerNulls:
    """The null distributions of one layer pair, (N, E) each; rows are shared across layer pairs
    (same seed and sizes), so a pair-level or grid-level statistic can combine them row by row."""

    group: np.ndarray
    pairing: np.ndarray | None
    joint: np.ndarray


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
    caches: StatsCaches | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, float], LayerNulls]:
    """Per-emotion statistics of one layer pair, the layer-level CI, and the null arrays.

    Pairing null: the map's fit pairs shuffled (does the map carry any correspondence?).
    Prompt-group null: labels permuted among the target's emotion prompts only. Joint null:
    the same relabelling in both models (emotion vs any prompt group). Bootstrap: BCa over
    prompt pairs within each emotion. Reliability: split-half overlaps and the normalised
    cross-half overlap.

    ``caches``: the spans and resample PCAs the statistics share (:class:`~emoalign.analysis.cache.StatsCaches`,
    e.g. the source side kept across targets by the caller); None: a fresh pair for this call only.
    They change the speed, never the numbers.
    """
    caches = StatsCaches() if caches is None else caches
    emotions = list(source_vectors)
    group = label_permutation_null(
        source_vectors, target_vectors, linear_map.weight, k, n_permutations=n_permutations, seed=seed,
        context=context, caches=caches,
    )
    joint = joint_relabel_null(
        source_vectors, target_vectors, linear_map.weight, k, n_permutations=n_permutations, seed=seed,
        context=context, caches=caches,
    )
    boot = bootstrap_overlap_ci(
        source_vectors, target_vectors, linear_map.weight, k, n_bootstrap=n_bootstrap, seed=seed, context=context,
        caches=caches,
    )
    map_kwargs = {"alphas": [linear_map.params["alpha"]]} if linear_map.method == "ridge" else {}
    pairing = (
        pairing_null(
            fit_target, fit_source, source_vectors, target_vectors, k, method=linear_map.method,
            n_permutations=n_pairing_permutations, seed=seed, map_seed=seed, context=context, caches=caches,
            **map_kwargs,
        )
        if n_pairing_permutations > 0
        else None
    )
    reliability = split_half_reliability(source_vectors, target_vectors, linear_map.weight, k, seed=seed,
                                         context=context, caches=caches)
    per_emotion: dict[str, dict[str, float]] = {}
    for i, emotion in enumerate(emotions):
        per_emotion[emotion] = {
            "pairing_null_mean": float(pairing.null_mean[i]) if pairing else float("nan"),
            "p_pairing": float(pairing.p_values[i]) if pairing else float("nan"),
            "group_null_mean": float(group.null_mean[i]),
            "group_null_p95": float(group.null_p95[i]),
            "p_group": float(group.p_values[i]),
            "emotion_null_mean": float(joint.null_mean[i]),
            "emotion_null_p95": float(joint.null_p95[i]),
            "p_emotion": float(joint.p_values[i]),
            "ci_low": float(boot.ci_low[i]),
            "ci_high": float(boot.ci_high[i]),
            "bootstrap_bias": float(boot.bias[i]),
            "reliability_source": float(reliability.reliability_source[i]),
            "reliability_target": float(reliability.reliability_target[i]),
            "cross_half_overlap": float(reliability.cross_half[i]),
            "normalised_overlap": float(reliability.normalised[i]),
        }
    # CI of the layer's mean overlap: percentile of the same resamples averaged over emotions.
    complete = np.isfinite(boot.bootstrap).all(axis=1)  # resamples that every emotion could use
    mean_boot = boot.bootstrap[complete].mean(axis=1)
    tail = (1 - boot.confidence) / 2 * 100
    low, high = np.percentile(mean_boot, [tail, 100 - tail]) if mean_boot.size else (np.nan, np.nan)
    layer_level = {
        "ci_low": float(low),
        "ci_high": float(high),
        "group_null_p95": float(np.percentile(group.null.mean(axis=1), 95)),
        "normalised_overlap": _mean_or_nan(reliability.normalised),
    }
    nulls = LayerNulls(group=group.null, pairing=pairing.null if pairing else None, joint=joint.null)
    return per_emotion, layer_level, nulls


def _mean_or_nan(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def group_assignment_p(
    cross_overlap: np.ndarray, *, max_exact: int = ASSIGNMENT_MAX_EXACT, n_sampled: int = ASSIGNMENT_SAMPLES,
    seed: int = 0,
) -> float:
    """Exact, structure-preserving test of prompt-group correspondence: the p-value of the identity
    assignment (source e <-> target e) among all assignments of target emotions to source emotions.

    ``cross_overlap`` is (E, E) — or (P, E, E) for one assignment shared by P layer pairs. The
    statistic is the summed matched overlap; p = #{assignments scoring >= identity} / #assignments
    (scores within :data:`~emoalign.analysis.linalg.TIE_TOL` of the identity's count as ties).
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
    return float(np.mean(scores >= identity - TIE_TOL))


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
