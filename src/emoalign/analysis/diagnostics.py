"""Readout diagnostics: is a subspace one direction, are a few vectors far larger than the rest?

A readout on a decoder's attention sink (position 0 of a model without a start token) gives a
handful of vectors with norms ~100x the median (Qwen2.5-1.5B: ~2,800 against ~34); their PCA is
one direction (first component ~0.999) and random-weight copies, which have no sink, cannot see
it. These pure functions measure that, so every study can show its readouts are sound.
"""

from __future__ import annotations

import numpy as np

from emoalign.analysis.validation import as_matrix

__all__ = [
    "PC1_DOMINANCE",
    "NORM_RATIO_BOUND",
    "row_norm_ratio",
    "outlying_rows",
    "first_component_share",
    "robust_fit_mask",
]

#: A subspace whose first principal component holds at least this share of the variance is
#: reported as one-directional: its other k - 1 directions are noise next to it.
PC1_DOMINANCE = 0.9
#: A row whose norm exceeds this multiple of the median row norm is an outlier. Healthy emotion
#: vectors and word activations stay within ~2-5x of their median; the attention sink is at ~80x.
NORM_RATIO_BOUND = 10.0


def _row_norms(X: np.ndarray, context: str) -> np.ndarray:
    return np.linalg.norm(as_matrix(X, "vectors", context), axis=1)


def row_norm_ratio(X: np.ndarray, *, context: str = "") -> float:
    """max / median of the row norms of ``X`` (n, d); ``inf`` when the median norm is 0."""
    norms = _row_norms(X, context)
    median = float(np.median(norms))
    return float(norms.max() / median) if median > 0 else float("inf")


def outlying_rows(X: np.ndarray, bound: float = NORM_RATIO_BOUND, *, context: str = "") -> np.ndarray:
    """Indices of the rows whose norm exceeds ``bound`` × the median row norm (sorted)."""
    norms = _row_norms(X, context)
    return np.flatnonzero(norms > bound * np.median(norms))


def first_component_share(X: np.ndarray, *, context: str = "") -> float:
    """Share of the centred variance of ``X`` (n, d) held by its first principal component."""
    centred = as_matrix(X, "vectors", context)
    centred = centred - centred.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    total = float(np.sum(s**2))
    return float(s[0] ** 2 / total) if total > 0 else float("nan")


def robust_fit_mask(X_t: np.ndarray, X_s: np.ndarray, bound: float = NORM_RATIO_BOUND) -> np.ndarray:
    """Boolean mask of the fit pairs to keep: a pair is dropped when its activation in either model
    has a norm above ``bound`` × that model's median (a least-squares map is a sum of squares, so a
    few pairs at ~80x the median norm would decide it alone)."""
    keep = np.ones(np.asarray(X_t).shape[0], dtype=bool)
    for X in (X_t, X_s):
        keep[outlying_rows(X, bound)] = False
    return keep
