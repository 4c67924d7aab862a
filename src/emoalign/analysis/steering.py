"""The causal transfer test's arithmetic (pure, numpy): the vectors to add, and the statistics of
the shifts they cause. The forward passes are :mod:`emoalign.extract.steer`'s; the stage that joins
them is :mod:`emoalign.study.steer`.

A vector of emotion e is carried from the source into the target by the linear part of a
source→target map fitted on the neutral word pairs: a difference of two activations maps through
``W`` alone (the affine offset cancels), ``u_e = v_e @ W``. Every condition is added at the same
norm, a fraction ("scale") of the target's median residual norm at that layer, so a condition
wins by its direction only.

The effect of a vector on emotion f at one prompt is the shift of the log probability mass of f's
first tokens at the next position (``log Σ p_steered − log Σ p``). Two nulls judge the transferred
vector: random directions (is it better than any direction of that norm?) and the source vector
carried through maps fitted on shuffled pairs (does the map's correspondence matter?). Their
p-values are family-wise over every cell (layer pair × emotion) of the study: the null of the
maximum of the studentised effects (Westfall & Young's max-T), the same draw index in every cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emoalign.analysis.maps import LinearMap, fit_map, variance_weighted_r2
from emoalign.core.errors import EmoalignError

__all__ = [
    "LayerShifts",
    "fit_transfer_map",
    "shuffled_transfer_weights",
    "carry",
    "at_norm",
    "random_directions",
    "bootstrap_mean_ci",
    "bootstrap_ratio_ci",
    "max_t_pvalues",
    "cell_verdict",
    "steering_tables",
    "toward_own",
    "heldout_r2",
]


def fit_transfer_map(
    source_fit: np.ndarray, target_fit: np.ndarray, method: str, *, seed: int = 0, context: str = ""
) -> LinearMap:
    """A source→target map on paired neutral activations (the study's maps run target→source;
    this one is fitted the other way round, with its own held-out R²). ``weight`` is (d_s, d_t)."""
    return fit_map(method, source_fit, target_fit, seed=seed, context=context)  # type: ignore[arg-type]


def shuffled_transfer_weights(
    source_fit: np.ndarray, target_fit: np.ndarray, linear_map: LinearMap, n: int, *, seed: int = 0,
    context: str = "",
) -> list[np.ndarray]:
    """The linear parts of ``n`` maps fitted like ``linear_map`` on pairs whose source rows are
    shuffled (ridge keeps the real map's alpha, as the study's pairing null does)."""
    rng = np.random.default_rng(seed)
    options = {"alphas": [linear_map.params["alpha"]]} if linear_map.method == "ridge" else {}
    weights = []
    for _ in range(n):
        shuffled = source_fit[rng.permutation(len(source_fit))]
        weights.append(fit_map(linear_map.method, shuffled, target_fit, heldout_fraction=0.0,  # type: ignore[arg-type]
                               seed=seed, context=context, **options).weight)
    return weights


def carry(vectors: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Difference vectors (E, d_s) carried by a map's linear part (d_s, d_t): (E, d_t)."""
    return np.asarray(vectors, dtype=np.float64) @ np.asarray(weight, dtype=np.float64)


def at_norm(vectors: np.ndarray, norm: float, *, context: str = "") -> np.ndarray:
    """Each row rescaled to length ``norm``; a zero row (no direction) is an error naming ``context``."""
    vectors = np.asarray(vectors, dtype=np.float64)
    lengths = np.linalg.norm(vectors, axis=-1, keepdims=True)
    if np.any(lengths <= 1e-12 * max(1.0, float(lengths.max(initial=0.0)))):
        raise EmoalignError(f"{context or 'steering'}: a vector to add is zero (it has no direction to steer along)")
    return vectors / lengths * norm


def random_directions(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``n`` directions drawn uniformly on the unit sphere of dimension ``dim`` (seeded): (n, dim)."""
    draws = np.random.default_rng(seed).standard_normal((n, dim))
    return draws / np.linalg.norm(draws, axis=1, keepdims=True)


def _resamples(n: int, n_bootstrap: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, n))


def bootstrap_mean_ci(
    values: np.ndarray, *, n_bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of per-prompt ``values`` and its percentile bootstrap interval over prompts."""
    values = np.asarray(values, dtype=np.float64)
    means = values[_resamples(len(values), n_bootstrap, seed)].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)


def bootstrap_ratio_ci(
    numerator: np.ndarray, denominator: np.ndarray, *, n_bootstrap: int = 1000, confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``mean(numerator) / mean(denominator)`` over paired prompts and its percentile bootstrap
    interval (the same prompts resampled on both sides); NaN where the denominator's mean is not
    positive (no effect to divide by)."""
    numerator, denominator = (np.asarray(a, dtype=np.float64) for a in (numerator, denominator))
    if denominator.mean() <= 0:
        return float("nan"), float("nan"), float("nan")
    rows = _resamples(len(numerator), n_bootstrap, seed)
    top, bottom = numerator[rows].mean(axis=1), denominator[rows].mean(axis=1)
    ratios = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(ratios, [tail, 100 - tail]) if np.isfinite(ratios).any() else (np.nan, np.nan)
    return float(numerator.mean() / denominator.mean()), float(low), float(high)


def max_t_pvalues(observed: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-sided p-values of ``observed`` (C cells) against ``null`` (N draws × C cells, draw n the
    same random direction or shuffle index in every cell): per cell, ``(1 + #{null ≥ obs}) / (1 + N)``,
    and family-wise by the null of the maximum of studentised values (max-T): each cell is centred
    and scaled by the mean and standard deviation of all N + 1 values (the observed one included, so
    the N + 1 rows stay exchangeable under the null and the test is exact), and
    ``p = (1 + #{max_c t_null[n, c] ≥ t_obs}) / (1 + N)``. Returns (family-wise, per cell)."""
    observed = np.asarray(observed, dtype=np.float64)
    null = np.asarray(null, dtype=np.float64)
    if null.ndim != 2 or null.shape[1] != observed.shape[0] or null.shape[0] < 2:
        raise EmoalignError(f"a steering null needs (draws ≥ 2, {observed.shape[0]} cells), got {null.shape}")
    n = null.shape[0]
    per_cell = (1 + (null >= observed[None, :]).sum(axis=0)) / (1 + n)
    rows = np.vstack([observed[None, :], null])
    centre, spread = rows.mean(axis=0), rows.std(axis=0, ddof=1)
    spread = np.where(spread > 0, spread, 1.0)
    t_null = ((null - centre) / spread).max(axis=1)
    t_observed = (observed - centre) / spread
    family = (1 + (t_null[:, None] >= t_observed[None, :]).sum(axis=0)) / (1 + n)
    return family, per_cell


def cell_verdict(p_own_random: float, p_random: float, p_shuffled: float, alpha: float = 0.05) -> str:
    """The verdict key of a cell (:data:`emoalign.core.steering.VERDICTS`): a transfer needs the
    transferred vector beyond both nulls; without an own effect beyond random there is nothing to
    transfer (unless the transferred vector passes both nulls on its own)."""
    beyond_random, beyond_shuffled = p_random <= alpha, p_shuffled <= alpha
    if beyond_random and beyond_shuffled:
        return "transfers"
    if p_own_random > alpha:
        return "own_does_not_steer"
    return "beyond_random_only" if beyond_random else "no_better_than_random"


@dataclass(frozen=True)
class LayerShifts:
    """The per-prompt shifts of one layer pair (steered minus unsteered log mass), P prompts, E emotions.

    ``own``, ``transferred``: (S, E, P, E) — scale, vector's emotion, prompt, emotion read.
    ``random``: per scale (n_s, P, E); ``shuffled``: per scale (n_s, E, P, E) — draws of the nulls
    (all ``n`` at the test scale, fewer at the others where the caller chose so).
    """

    layer: int
    target_layer: int
    own: np.ndarray
    transferred: np.ndarray
    random: Sequence[np.ndarray]
    shuffled: Sequence[np.ndarray]
    map_r2: float | None = None
    map_r2_prompts: float | None = None
    residual_norm: float = float("nan")
    n_fit_pairs: int = 0
    cosine_own_transferred: float = float("nan")


def toward_own(block: np.ndarray) -> np.ndarray:
    """The shifts of each emotion's vector toward that same emotion: (..., E, P, E) -> (..., E, P)."""
    return np.einsum("...epe->...ep", block)


def steering_tables(
    shifts: Sequence[LayerShifts], emotions: Sequence[str], scales: Sequence[float], test_index: int, *,
    alpha: float = 0.05, n_bootstrap: int = 1000, seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """The ``cells``, ``dose``, ``matrices`` and ``layers`` tables of
    :class:`~emoalign.core.steering.SteeringResult` from every layer pair's shifts."""
    emotions = list(emotions)
    n_emotions = len(emotions)

    cells, dose, matrices, layers = [], [], [], []
    observed, own_observed, random_null, shuffled_null = [], [], [], []
    for pair in shifts:
        own_t = toward_own(pair.own[test_index])  # (E, P)
        transferred_t = toward_own(pair.transferred[test_index])
        random_t = pair.random[test_index].mean(axis=1)  # (N, E): per draw, mean over prompts
        shuffled_t = toward_own(pair.shuffled[test_index]).mean(axis=-1)  # (N_s, E)
        for e, emotion in enumerate(emotions):
            context_seed = seed + 7919 * len(cells)
            own_mean, own_low, own_high = bootstrap_mean_ci(own_t[e], n_bootstrap=n_bootstrap, seed=context_seed)
            tr_mean, tr_low, tr_high = bootstrap_mean_ci(transferred_t[e], n_bootstrap=n_bootstrap, seed=context_seed)
            eff, eff_low, eff_high = bootstrap_ratio_ci(transferred_t[e], own_t[e], n_bootstrap=n_bootstrap,
                                                        seed=context_seed)
            own_row = pair.own[test_index, e].mean(axis=0)  # (E,): vector e read at every emotion
            tr_row = pair.transferred[test_index, e].mean(axis=0)
            others = np.arange(n_emotions) != e
            cells.append({
                "layer": pair.layer, "target_layer": pair.target_layer, "emotion": emotion,
                "effect_own": own_mean, "own_ci_low": own_low, "own_ci_high": own_high,
                "effect_transferred": tr_mean, "transferred_ci_low": tr_low, "transferred_ci_high": tr_high,
                "efficiency": eff, "efficiency_ci_low": eff_low, "efficiency_ci_high": eff_high,
                "specificity_own": float(own_row[e] - own_row[others].mean()) if others.any() else float("nan"),
                "specificity_transferred": float(tr_row[e] - tr_row[others].mean()) if others.any() else float("nan"),
                "random_mean": float(random_t[:, e].mean()), "random_p95": float(np.percentile(random_t[:, e], 95)),
                "shuffled_mean": float(shuffled_t[:, e].mean()),
                "shuffled_p95": float(np.percentile(shuffled_t[:, e], 95)),
            })
            observed.append(tr_mean)
            own_observed.append(own_mean)
            for condition, row in (("own", own_row), ("transferred", tr_row)):
                matrices.extend({
                    "layer": pair.layer, "target_layer": pair.target_layer, "condition": condition,
                    "vector_emotion": emotion, "toward_emotion": toward, "mean_shift": float(row[f]),
                } for f, toward in enumerate(emotions))
        random_null.append(random_t)
        shuffled_null.append(shuffled_t)
        for s, scale in enumerate(scales):
            for e, emotion in enumerate(emotions):
                base = {"layer": pair.layer, "target_layer": pair.target_layer, "emotion": emotion, "scale": float(scale)}
                for condition, block in (("own", pair.own), ("transferred", pair.transferred)):
                    mean, low, high = bootstrap_mean_ci(toward_own(block[s])[e], n_bootstrap=n_bootstrap, seed=seed + s)
                    dose.append({**base, "condition": condition, "mean_shift": mean, "ci_low": low, "ci_high": high,
                                 "n_draws": 1})
                for condition, draws in (("random", pair.random[s].mean(axis=1)[:, e]),
                                         ("shuffled", toward_own(pair.shuffled[s]).mean(axis=-1)[:, e])):
                    if len(draws):
                        dose.append({**base, "condition": condition, "mean_shift": float(draws.mean()),
                                     "ci_low": float(np.percentile(draws, 5)),
                                     "ci_high": float(np.percentile(draws, 95)), "n_draws": len(draws)})
        layers.append({
            "layer": pair.layer, "target_layer": pair.target_layer,
            "map_r2": np.nan if pair.map_r2 is None else float(pair.map_r2),
            "map_r2_prompts": np.nan if pair.map_r2_prompts is None else float(pair.map_r2_prompts),
            "residual_norm": pair.residual_norm,
            "n_fit_pairs": pair.n_fit_pairs, "cosine_own_transferred": pair.cosine_own_transferred,
        })
    random_null_cells = np.concatenate(random_null, axis=1)  # (N, cells): draw n in every cell
    shuffled_null_cells = np.concatenate(shuffled_null, axis=1)
    p_random, p_random_cell = max_t_pvalues(np.array(observed), random_null_cells)
    p_shuffled, p_shuffled_cell = max_t_pvalues(np.array(observed), shuffled_null_cells)
    p_own, _ = max_t_pvalues(np.array(own_observed), random_null_cells)
    for i, cell in enumerate(cells):
        cell.update({
            "p_own_random": float(p_own[i]), "p_random": float(p_random[i]), "p_shuffled": float(p_shuffled[i]),
            "p_random_cell": float(p_random_cell[i]), "p_shuffled_cell": float(p_shuffled_cell[i]),
        })
        cell["verdict"] = cell_verdict(cell["p_own_random"], cell["p_random"], cell["p_shuffled"], alpha)
    cells_frame = pd.DataFrame(cells)
    layers_frame = pd.DataFrame(layers)
    layers_frame["n_transfers"] = [
        int(((cells_frame["layer"] == row.layer) & (cells_frame["target_layer"] == row.target_layer)
             & (cells_frame["verdict"] == "transfers")).sum())
        for row in layers_frame.itertuples()
    ]
    return {"cells": cells_frame, "dose": pd.DataFrame(dose), "matrices": pd.DataFrame(matrices),
            "layers": layers_frame}


def heldout_r2(linear_map: LinearMap, source: np.ndarray, target: np.ndarray) -> float:
    """Variance-weighted R² of the source→target map on pairs it was not fitted on."""
    return variance_weighted_r2(target, linear_map.transform(source))
