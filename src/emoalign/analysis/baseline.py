"""The vocabulary baseline of a study: the same pipeline on random-weight copies of both models.

Each copy pair (a random-weight source architecture and an independently seeded random-weight
target architecture, with the real tokenizers, prompts and layers) goes through the identical
vectors -> subspaces -> map -> overlap pipeline. A cell is "beyond vocabulary" when its overlap AND
its specificity exceed the copies' one-sided 95 % prediction bounds (BH across cells); see
:mod:`emoalign.analysis.stats.baseline` for the test and :mod:`emoalign.analysis.verdict` for how
it enters the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emoalign.analysis.stats import (
    benjamini_hochberg,
    beyond_baseline_p,
    prediction_test,
)
from emoalign.core.activations import ActivationSet


def diagonal_and_specificity(cross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From (..., E, E) cross overlaps: same-emotion overlaps (..., E) and specificities (..., E)
    (same-emotion overlap minus the mean overlap with the other emotions)."""
    n = cross.shape[-1]
    diag = np.diagonal(cross, axis1=-2, axis2=-1)
    if n < 2:
        return diag, np.full(diag.shape, np.nan)
    others = (cross.sum(axis=-1) - diag) / (n - 1)
    return diag, diag - others


@dataclass(frozen=True)
class BaselineCopies:
    """Cross overlaps of the copies, (N, P, K, E, E): copy, layer pair, k (``ks``), emotion x emotion."""

    cross: np.ndarray
    ks: tuple[int, ...]
    seeds: tuple[tuple[int, int], ...]  # (source seed, target seed) per copy pair


def assemble_baseline(
    flat: Sequence[np.ndarray],
    copies: Sequence[tuple[ActivationSet, ActivationSet]],
    n_pairs: int,
    ks: Sequence[int],
) -> BaselineCopies:
    """The :class:`BaselineCopies` of ``copies`` from their (K, E, E) cross overlaps ``flat``, one per
    (copy, layer pair) in that order (copy-major), as :func:`~emoalign.analysis.alignment.copy_cross_overlaps` gives them."""
    out = np.array(flat).reshape(len(copies), n_pairs, *np.shape(flat[0])) if flat else np.array([])
    seeds = tuple((copy_seed(s), copy_seed(t)) for s, t in copies)
    return BaselineCopies(out, tuple(ks), seeds)


def copy_seed(acts: ActivationSet) -> int:
    """The random seed a copy was built with (-1 if its metadata does not say)."""
    seed = acts.model.get("random_seed")
    return -1 if seed is None else int(seed)


def baseline_cell_columns(
    observed_cross: np.ndarray, baseline: BaselineCopies, k: int, confidence: float = 0.95
) -> dict[str, np.ndarray]:
    """Per-cell baseline columns at the study's k, cells in (layer pair, emotion) order.

    ``observed_cross``: (P, E, E) cross overlaps of the studied pair at k.
    """
    copies = baseline.cross[:, :, baseline.ks.index(k)]  # (N, P, E, E)
    obs_overlap, obs_spec = diagonal_and_specificity(observed_cross)
    copy_overlap, copy_spec = diagonal_and_specificity(copies)
    overlap = prediction_test(obs_overlap.ravel(), copy_overlap.reshape(copies.shape[0], -1), confidence=confidence)
    specificity = prediction_test(obs_spec.ravel(), copy_spec.reshape(copies.shape[0], -1), confidence=confidence)
    return {
        "baseline_overlap_mean": overlap.mean,
        "baseline_overlap_bound": overlap.bound,
        "baseline_specificity_mean": specificity.mean,
        "baseline_specificity_bound": specificity.bound,
        "baseline_z": overlap.z,
        "p_baseline": beyond_baseline_p(overlap, specificity),
    }


def baseline_pair_means(baseline: BaselineCopies, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The copies' mean overlap and mean specificity over all cells, (N,) each (pair-level test)."""
    overlap, specificity = diagonal_and_specificity(baseline.cross[:, :, baseline.ks.index(k)])
    n = overlap.shape[0]
    return overlap.reshape(n, -1).mean(axis=1), specificity.reshape(n, -1).mean(axis=1)


def k_profile_table(
    observed_profile: np.ndarray, baseline: BaselineCopies | None, ks: Sequence[int], alpha: float = 0.05
) -> pd.DataFrame:
    """The verdict as a curve over k: per k, mean overlap and specificity of the pair, the copies'
    mean and prediction bound of the same means, and the share of cells beyond vocabulary
    (BH across the cells of that k).

    ``observed_profile``: (P, K, E, E) cross overlaps of the studied pair at every k of ``ks``.
    """
    rows = []
    for i, k in enumerate(ks):
        obs_overlap, obs_spec = diagonal_and_specificity(observed_profile[:, i])
        row: dict[str, float | int] = {
            "k": int(k),
            "mean_overlap_after": float(obs_overlap.mean()),
            "mean_specificity": float(np.nanmean(obs_spec)),
            "n_cells": int(obs_overlap.size),
        }
        if baseline is not None:
            copies = baseline.cross[:, :, baseline.ks.index(k)]
            copy_overlap, copy_spec = diagonal_and_specificity(copies)
            n = copies.shape[0]
            cell_overlap = prediction_test(obs_overlap.ravel(), copy_overlap.reshape(n, -1))
            cell_spec = prediction_test(obs_spec.ravel(), copy_spec.reshape(n, -1))
            q = benjamini_hochberg(beyond_baseline_p(cell_overlap, cell_spec))
            mean_test = prediction_test(np.array(obs_overlap.mean()), copy_overlap.reshape(n, -1).mean(axis=1))
            row.update(
                baseline_overlap_mean=float(mean_test.mean),
                baseline_overlap_bound=float(mean_test.bound),
                share_beyond_vocabulary=float(np.mean(np.nan_to_num(q, nan=1.0) < alpha)),
            )
        rows.append(row)
    return pd.DataFrame(rows)
