"""Verdicts in three steps, per cell, per layer pair and per model pair, in words.

(a) correspondence — the map carries cross-model correspondence: the overlap beats maps fitted
    on shuffled pairs (pairing null);
(b) beyond vocabulary — overlap AND specificity beat random-weight copies of both models that read
    the same prompts (the vocabulary baseline; prediction bound, BH across cells);
(c) emotion, not any prompt group — the emotion grouping aligns better than random prompt groups
    relabelled identically in both models (joint-relabelling null). A planted twin shares every
    grouping and fails (c) by design: it is context, not part of the headline.

The headline of a cell or a pair is (a)+(b). Only (a)+(b)+(c) together earn "emotion-specific".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emoalign.analysis.linalg import TIE_TOL
from emoalign.analysis.stats import benjamini_hochberg, prediction_test

BEYOND_VOCABULARY = "shared beyond vocabulary"
VOCABULARY_ONLY = "not beyond vocabulary"
NO_CORRESPONDENCE = "no cross-model correspondence"
VOCABULARY_UNCHECKED = "correspondence; vocabulary not ruled out (no baseline)"
NOT_TESTED = "not tested"
LEGACY_NO_VERDICT = "no verdict (legacy metric)"


def _bh_pass(p_values: pd.Series, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    q = benjamini_hochberg(p_values.to_numpy(dtype=np.float64))
    return q, np.nan_to_num(q, nan=1.0) < alpha


def cell_verdict(correspondence: bool, beyond: bool | None) -> str:
    """Headline of one cell from steps (a) and (b) (``beyond`` None: no baseline was run)."""
    if not correspondence:
        return NO_CORRESPONDENCE
    if beyond is None:
        return VOCABULARY_UNCHECKED
    return BEYOND_VOCABULARY if beyond else VOCABULARY_ONLY


def add_verdicts(cells: pd.DataFrame, layers: pd.DataFrame, *, alpha: float = 0.05, metric: str = "bounded") -> None:
    """q-values (BH across all cells of the pair) of every step, the cell verdicts and the per-layer
    counts, in place. Legacy numbers carry no verdict (the statistics stay, computed on the bounded
    overlap of the same subspaces)."""
    tested = "p_pairing" in cells and cells["p_pairing"].notna().any()
    has_baseline = "p_baseline" in cells
    for step, column in (("pairing", "p_pairing"), ("group", "p_group"), ("emotion", "p_emotion"),
                         ("baseline", "p_baseline")):
        if column in cells:
            cells[f"q_{step}"], cells[f"_{step}_pass"] = _bh_pass(cells[column], alpha)
    if not tested:
        cells["verdict"] = NOT_TESTED
        cells["emotion_specific"] = False
    else:
        cells["correspondence"] = cells.pop("_pairing_pass")
        cells["beyond_vocabulary"] = cells.pop("_baseline_pass") if has_baseline else np.nan
        cells["emotion_not_any_group"] = cells.pop("_emotion_pass")
        cells.pop("_group_pass")
        cells["verdict"] = [
            cell_verdict(a, b if has_baseline else None)
            for a, b in zip(cells["correspondence"], cells["beyond_vocabulary"])
        ]
        cells["emotion_specific"] = (cells["verdict"] == BEYOND_VOCABULARY) & cells["emotion_not_any_group"]
    if metric == "legacy":
        cells["verdict"] = LEGACY_NO_VERDICT
        cells["emotion_specific"] = False
    keys = list(zip(layers["layer"], layers["target_layer"]))
    grouped = cells.groupby(["layer", "target_layer"], sort=False)
    n_emotions = cells["emotion"].nunique()
    for column, flag in (("n_correspondence", "correspondence"), ("n_beyond_vocabulary", "beyond_vocabulary"),
                         ("n_emotion_specific", "emotion_specific")):
        if flag in cells and cells[flag].notna().all():
            counts = grouped[flag].sum()
            layers[column] = [int(counts[key]) for key in keys]
    if metric == "legacy":
        layers["verdict"] = LEGACY_NO_VERDICT
    elif not tested:
        layers["verdict"] = NOT_TESTED
    elif has_baseline:
        layers["verdict"] = [f"{n} of {n_emotions} beyond vocabulary" for n in layers["n_beyond_vocabulary"]]
    else:
        layers["verdict"] = [f"{n} of {n_emotions} with correspondence (no baseline)" for n in layers["n_correspondence"]]


def pair_summary(
    cells: pd.DataFrame,
    *,
    alpha: float = 0.05,
    metric: str = "bounded",
    pairing_null_means: np.ndarray | None = None,
    baseline_means: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, object]:
    """One verdict for the model pair, in words, from pair-level tests of (a) and (b).

    ``pairing_null_means``: (N,) mean overlap over all cells for each pairing shuffle (the shuffles
    are shared across layer pairs). ``baseline_means``: the copies' mean overlap and mean
    specificity over all cells, (N,) each.
    """
    n_cells = len(cells)
    counts = {
        flag: int(cells[flag].sum()) if flag in cells and cells[flag].notna().all() else None
        for flag in ("correspondence", "beyond_vocabulary", "emotion_specific")
    }
    summary: dict[str, object] = {"n_cells": n_cells, "alpha": alpha, **{f"n_{k}": v for k, v in counts.items()}}
    if metric == "legacy":
        summary.update(verdict=LEGACY_NO_VERDICT, summary="legacy numbers carry no verdict; rerun with --metric bounded")
        return summary
    if "p_pairing" not in cells or cells["p_pairing"].isna().all() or pairing_null_means is None:
        reason = "statistics were off (--permutations 0)" if "p_group" not in cells else (
            "the pairing null was off (--pairing-permutations 0), so step (a) was not tested")
        summary.update(verdict=NOT_TESTED, summary=reason)
        return summary
    observed_mean = float(cells["overlap_after"].mean())
    null = np.asarray(pairing_null_means, dtype=np.float64)
    p_pairing = float((1 + np.sum(null >= observed_mean - TIE_TOL)) / (1 + null.size))  # ties: linalg.TIE_TOL
    correspondence = p_pairing < alpha
    summary.update(p_pairing=p_pairing, correspondence=bool(correspondence))
    beyond: bool | None = None
    if baseline_means is not None:
        overlap = prediction_test(np.array(observed_mean), baseline_means[0])
        specificity = prediction_test(np.array(float(cells["specificity"].mean())), baseline_means[1])
        p_baseline = float(max(overlap.p_values, specificity.p_values))
        beyond = p_baseline < alpha
        summary.update(
            p_baseline=p_baseline,
            beyond_vocabulary=bool(beyond),
            baseline_overlap_mean=float(overlap.mean),
            baseline_overlap_bound=float(overlap.bound),
            baseline_specificity_bound=float(specificity.bound),
            baseline_z=float(overlap.z),
            n_baseline_copies=overlap.n_copies,
        )
    verdict = cell_verdict(correspondence, beyond)
    parts = [
        f"map correspondence p = {p_pairing:.3g} ({'beats' if correspondence else 'does not beat'} shuffled pairs)"
    ]
    if beyond is not None:
        parts.append(
            f"vs {summary['n_baseline_copies']} random-weight copies p = {summary['p_baseline']:.3g} "
            f"({'beyond' if beyond else 'not beyond'} vocabulary)"
        )
    if counts["emotion_specific"] is not None:
        parts.append(f"emotion-specific (all three steps) in {counts['emotion_specific']} of {n_cells} cells")
    summary.update(verdict=verdict, summary="; ".join(parts))
    return summary
