"""Paired bootstrap of the observed overlaps: BCa (default) or percentile intervals.

The sample overlap of two PCA subspaces is biased toward chance (prompt noise tilts each fitted
subspace), and a resample is noisier still, so a percentile interval sits below the population
overlap. BCa (Efron 1987) corrects for that bias (z0, from the share of resamples below the
observed value) and for skewness (the jackknife acceleration a); `benchmarks/validity.py`
measures its coverage of a known population overlap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from emoalign.analysis.cache import StatsCaches, pair_cache, source_cache
from emoalign.analysis.linalg import TIE_TOL
from emoalign.analysis.stats.common import (
    chunk_slices,
    freeze_arrays,
    image_span,
    overlap_rows,
    pca_batched,
    pca_resampled,
    row_span,
)
from emoalign.analysis.validation import check_int, check_weight, paired_groups
from emoalign.core.errors import EmoalignError

CI_METHODS: tuple[str, ...] = ("bca", "percentile")


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Paired bootstrap of the observed overlaps (prompts resampled within emotion), BCa or percentile.

    Attributes
    ----------
    emotions : tuple of str
    k : int
    observed : (E,) float64 array
    ci_low, ci_high : (E,) float64 arrays
        BCa or percentile interval at ``confidence`` (``method``; NaN if every resample was skipped).
    bootstrap : (B, E) float64 array
        Overlap per resample; NaN where a resample was skipped.
    bias : (E,) float64 array
        ``mean(bootstrap) - observed``: the bootstrap estimate of the estimator's bias. The
        percentile interval is shifted by about twice this relative to the population value, so
        when ``|bias|`` is not small against the interval width the interval is unreliable
        (typical when the k-th eigen-gap is weak: noisy subspaces pull overlaps toward chance).
    confidence : float
    n_bootstrap : int
    n_redrawn : (E,) int array
        Resamples redrawn because they held fewer than k + 1 distinct prompts.
    n_skipped : (E,) int array
        Resamples still short of k + 1 distinct prompts after the redraw rounds (left NaN).
    seed : int
    """

    emotions: tuple[str, ...]
    k: int
    observed: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    bootstrap: np.ndarray
    bias: np.ndarray
    confidence: float
    n_bootstrap: int
    n_redrawn: np.ndarray
    n_skipped: np.ndarray
    seed: int
    method: str = "bca"

    def __post_init__(self) -> None:
        freeze_arrays(self)


def bca_interval(
    bootstrap: np.ndarray, observed: float, jackknife: np.ndarray, confidence: float = 0.95
) -> tuple[float, float]:
    """Bias-corrected and accelerated interval from a bootstrap distribution (NaNs ignored) and
    the leave-one-out jackknife values (Efron & Tibshirani 1993, §14.3).

    A degenerate distribution (every resample within :data:`~emoalign.analysis.linalg.TIE_TOL` of
    the observed value, e.g. an exact twin, whose resamples differ by float32 round-off only) gives
    the point interval ``(observed, observed)``.
    """
    from scipy.stats import norm

    boot = np.asarray(bootstrap, dtype=np.float64)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return float("nan"), float("nan")
    if np.all(np.abs(boot - observed) <= TIE_TOL):
        return float(observed), float(observed)
    # share below, ties counted half: z0 = 0 when the distribution is centred on the observed value
    share = (np.sum(boot < observed) + 0.5 * np.sum(boot == observed)) / boot.size
    z0 = norm.ppf(np.clip(share, 0.5 / boot.size, 1 - 0.5 / boot.size))
    dev = np.mean(jackknife) - np.asarray(jackknife, dtype=np.float64)
    denom = 6.0 * np.sum(dev**2) ** 1.5
    accel = float(np.sum(dev**3) / denom) if denom > 0 else 0.0
    tails = norm.ppf([(1 - confidence) / 2, (1 + confidence) / 2])
    adjusted = norm.cdf(z0 + (z0 + tails) / (1 - accel * (z0 + tails)))
    low, high = np.quantile(boot, adjusted)
    return float(low), float(high)


def _distinct_counts(idx: np.ndarray) -> np.ndarray:
    srt = np.sort(idx, axis=1)
    return 1 + np.count_nonzero(np.diff(srt, axis=1), axis=1)


def _bootstrap_indices(
    n: int, n_bootstrap: int, min_distinct: int, rng: np.random.Generator, max_rounds: int = 50
) -> tuple[np.ndarray, int, np.ndarray]:
    """(B, n) resample indices; rows with < min_distinct distinct prompts are redrawn.

    Returns the indices, the number of redraws, and a mask of rows still short after
    ``max_rounds`` redraw rounds (to be skipped).
    """
    idx = rng.integers(0, n, size=(n_bootstrap, n))
    redrawn = 0
    bad = _distinct_counts(idx) < min_distinct if n_bootstrap else np.zeros(0, bool)
    for _ in range(max_rounds):
        if not bad.any():
            break
        redrawn += int(bad.sum())
        idx[bad] = rng.integers(0, n, size=(int(bad.sum()), n))
        bad = _distinct_counts(idx) < min_distinct
    return idx, redrawn, bad


def bootstrap_overlap_ci(
    source_vectors: Mapping[str, np.ndarray],
    target_vectors: Mapping[str, np.ndarray],
    weight: np.ndarray,
    k: int,
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    context: str = "",
    method: str = "bca",
    caches: StatsCaches | None = None,
) -> BootstrapResult:
    """Bootstrap CI (BCa by default) of each emotion's observed overlap, resampling prompt PAIRS.

    Within each emotion, prompts are drawn with replacement; the same indices are used for both
    models, both subspaces are refitted, the target one is mapped, and the overlap recomputed.
    A resample with fewer than k + 1 distinct prompts cannot support k components: it is redrawn
    (counted in ``n_redrawn``); after 50 redraw rounds any still short are skipped (NaN, counted
    in ``n_skipped``; only possible when n_e is barely above k).

    Parameters
    ----------
    source_vectors, target_vectors : mappings emotion -> (n_e, d_s) / (n_e, d_t) arrays, paired
    weight : (d_t, d_s) array or LinearMap
    k : int
    n_bootstrap : int
        Number of resamples B (default 1000).
    confidence : float
        Nominal coverage (default 0.95).
    seed : int
        Each emotion draws from its own stream ``SeedSequence(seed).spawn(E)[e]``.
    context : str
    method : {"bca", "percentile"}
        BCa (bias-corrected and accelerated; needs n_e leave-one-out refits per emotion) or the
        plain percentile interval.
    caches : StatsCaches, optional
        Caches of spans and resample PCAs (:mod:`emoalign.analysis.cache`); None: nothing cached.
        They change the speed, never the result.

    Returns
    -------
    BootstrapResult
    """
    if method not in CI_METHODS:
        raise EmoalignError(f"unknown interval method {method!r} (use {', '.join(CI_METHODS)})")
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", 1)
    if not 0.0 < float(confidence) < 1.0:
        raise EmoalignError(f"confidence must be in (0, 1), got {confidence!r}")
    names, S, T = paired_groups(source_vectors, target_vectors, k, context)
    d_s, d_t = S[0].shape[1], T[0].shape[1]
    W = check_weight(weight, d_t, d_s, context)
    E = len(names)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(E)]
    observed = np.empty(E)
    boot = np.full((n_bootstrap, E), np.nan)
    n_redrawn = np.zeros(E, dtype=np.int64)
    n_skipped = np.zeros(E, dtype=np.int64)
    bca = np.full((E, 2), np.nan)
    for e, name in enumerate(names):
        where = f"emotion {name!r}" + (f", {context}" if context else "")
        # The source side (span, resample PCAs) depends only on the source vectors, k and the
        # indices: cached across targets (the source cache); the target's span is reused by the reliability.
        Cs, Bs = row_span(S[e], k, "the source emotion vectors", where, source_cache(caches))
        Ct, Bt = row_span(T[e], k, "the target emotion vectors", where, pair_cache(caches))
        Z, R = image_span(Bt @ W)
        P = Bs @ R.T
        n = Cs.shape[0]
        Hobs = pca_batched(Cs[None], k) @ P
        observed[e] = overlap_rows(Hobs, pca_batched(Ct[None], k) @ Z, k, d_s)[0]
        idx, redrawn, skip = _bootstrap_indices(n, n_bootstrap, k + 1, streams[e])
        n_redrawn[e], n_skipped[e] = redrawn, int(skip.sum())
        rows = np.flatnonzero(~skip)
        for sl in chunk_slices(rows.size):
            sel = idx[rows[sl]]
            H = pca_resampled(Cs, sel, k, source_cache(caches)) @ P
            A = pca_resampled(Ct, sel, k) @ Z
            boot[rows[sl], e] = overlap_rows(H, A, k, d_s)
        if method == "bca" and np.isfinite(boot[:, e]).any():
            jack = np.array([np.delete(np.arange(n), i) for i in range(n)])
            jack_values = overlap_rows(
                pca_resampled(Cs, jack, k, source_cache(caches)) @ P, pca_resampled(Ct, jack, k) @ Z, k, d_s
            )
            bca[e] = bca_interval(boot[:, e], observed[e], jack_values, confidence)
    lo_q, hi_q = (1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0
    finite = np.isfinite(boot).any(axis=0)
    ci_low = np.full(E, np.nan)
    ci_high = np.full(E, np.nan)
    bias = np.full(E, np.nan)
    if finite.any():
        ci_low[finite] = np.nanquantile(boot[:, finite], lo_q, axis=0)
        ci_high[finite] = np.nanquantile(boot[:, finite], hi_q, axis=0)
        bias[finite] = np.nanmean(boot[:, finite], axis=0) - observed[finite]
    if method == "bca":
        ci_low, ci_high = bca[:, 0].copy(), bca[:, 1].copy()
    return BootstrapResult(
        emotions=names,
        k=int(k),
        observed=observed,
        ci_low=ci_low,
        ci_high=ci_high,
        bootstrap=boot,
        bias=bias,
        confidence=float(confidence),
        n_bootstrap=n_bootstrap,
        n_redrawn=n_redrawn,
        n_skipped=n_skipped,
        seed=int(seed),
        method=method,
    )
