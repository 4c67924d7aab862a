"""Permutation p-values, Benjamini-Hochberg q-values and the null of a grid maximum."""

from __future__ import annotations

import numpy as np

from emoalign.analysis.linalg import TIE_TOL
from emoalign.core.errors import EmoalignError


def permutation_p_value(null: np.ndarray, observed: np.ndarray | float) -> np.ndarray:
    """``(1 + #{null >= observed}) / (1 + N)`` along axis 0; null values within
    :data:`~emoalign.analysis.linalg.TIE_TOL` (1e-5) of the observed one count as ties (>=): overlaps
    from float32 activations are not resolved more finely, so round-off never makes a value "larger".

    Parameters
    ----------
    null : (N, ...) array
    observed : (...) array or float

    Returns
    -------
    (...) float64 array (NaN where observed is NaN)
    """
    N = np.asarray(null, dtype=np.float64)
    obs = np.asarray(observed, dtype=np.float64)
    valid = np.isfinite(N)
    count = np.sum(valid & (N >= obs - TIE_TOL), axis=0)
    total = np.sum(valid, axis=0)
    p = (1.0 + count) / (1.0 + total)
    return np.where(np.isnan(obs), np.nan, p)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up FDR adjustment).

    Parameters
    ----------
    p_values : array of any shape
        p-values in [0, 1]; NaN entries are passed through and not counted in m.

    Returns
    -------
    float64 array of the same shape: ``q_(i) = min_{j >= i} m p_(j) / j``, capped at 1,
    monotone in p: ``scipy.stats.false_discovery_control(p, method="bh")`` over the non-NaN
    entries (scipy would count NaN in m).
    """
    from scipy.stats import false_discovery_control

    p = np.asarray(p_values, dtype=np.float64)
    flat = p.reshape(-1)
    valid = ~np.isnan(flat)
    pv = flat[valid]
    if np.any((pv < 0) | (pv > 1)):
        raise EmoalignError(f"p-values must lie in [0, 1], got values from {pv.min()} to {pv.max()}")
    q = np.full(flat.shape, np.nan)
    if pv.size:
        q[valid] = false_discovery_control(pv, method="bh")
    return q.reshape(p.shape)


def grid_max_null(null_by_cell: np.ndarray, observed_max: float) -> float:
    """p-value of a maximum over cells (e.g. a layer grid) against the null of the maximum.

    Parameters
    ----------
    null_by_cell : (N, n_cells) array
        Null values per permutation and cell; row n must come from the same permutation in
        every cell (as :func:`label_permutation_null` guarantees for equal seeds).
    observed_max : float
        The maximum of the observed values over the same cells.

    Returns
    -------
    float: ``(1 + #{max_c null[n, c] >= observed_max}) / (1 + N)``.
    """
    N = np.asarray(null_by_cell, dtype=np.float64)
    if N.ndim != 2 or N.shape[1] == 0:
        raise EmoalignError(f"null_by_cell must be a (permutations x cells) array, got shape {N.shape}")
    return float(permutation_p_value(N.max(axis=1), float(observed_max)))
