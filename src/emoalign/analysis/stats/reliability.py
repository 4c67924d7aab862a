"""Split-half reliability: how reproducible each model's emotion subspaces are, and a cross-model
overlap normalised by it — comparing like with like.

Per split, the prompts of an emotion are divided at random into halves A and B (the same split
in both models, prompts stay paired). With subspaces fitted on halves:

- ``source_split_half`` = overlap(S_A, S_B), ``target_split_half`` = overlap(T_A W, T_B W) (the
  target as "after" sees it: mapped);
- ``cross_half`` = mean of overlap(S_A, T_B W) and overlap(S_B, T_A W): the cross-model overlap on
  disjoint prompts, at the same sample size as the split-halves;
- ``normalised`` = cross_half / sqrt(source_split_half * target_split_half): 1 when the two models'
  subspaces agree as well as each agrees with itself (an exact twin), whatever the prompt noise.

The full-sample reliability of each model is the Spearman-Brown step-up of its split-half value,
``2 r / (1 + r)`` (Spearman 1910; Brown 1910) — an approximation for subspace overlaps, reported as
such. No value here is a ceiling: the full-sample overlap can exceed every half-sample quantity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from emoalign.analysis.cache import StatsCaches, pair_cache, source_cache
from emoalign.analysis.stats.common import (
    freeze_arrays,
    image_span,
    overlap_rows,
    pca_of_rows,
    row_span,
)
from emoalign.analysis.validation import check_int, check_weight, paired_groups
from emoalign.core.errors import EmoalignError


@dataclass(frozen=True, eq=False)
class ReliabilityResult:
    """Split-half reliabilities and the normalised cross-model overlap (see the module docstring).

    Attributes
    ----------
    emotions : tuple of str
    k : int
    source_split_half, target_split_half, cross_half : (E,) float64 arrays
        Means over splits (NaN where an emotion has fewer than 2(k+1) prompts; see ``reasons``).
    normalised : (E,) float64 array
        ``cross_half / sqrt(source_split_half * target_split_half)``.
    reliability_source, reliability_target : (E,) float64 arrays
        Spearman-Brown full-sample reliabilities ``2r / (1 + r)`` of the split-half values.
    splits : (n_splits, E, 3) float64 array
        Per split: source split-half, target split-half, cross-half.
    reasons : tuple of (str or None)
    n_splits : int
    seed : int
    """

    emotions: tuple[str, ...]
    k: int
    source_split_half: np.ndarray
    target_split_half: np.ndarray
    cross_half: np.ndarray
    normalised: np.ndarray
    reliability_source: np.ndarray
    reliability_target: np.ndarray
    splits: np.ndarray
    reasons: tuple[str | None, ...]
    n_splits: int
    seed: int

    def __post_init__(self) -> None:
        freeze_arrays(self)


def spearman_brown(r: np.ndarray | float, factor: float = 2.0) -> np.ndarray:
    """Spearman-Brown prophecy: reliability of a measure ``factor`` times longer, ``f r / (1 + (f - 1) r)``."""
    r = np.asarray(r, dtype=np.float64)
    return factor * r / (1.0 + (factor - 1.0) * r)


def split_half_reliability(
    source_vectors: Mapping[str, np.ndarray],
    target_vectors: Mapping[str, np.ndarray],
    weight: np.ndarray,
    k: int,
    *,
    n_splits: int = 50,
    seed: int = 0,
    context: str = "",
    caches: StatsCaches | None = None,
) -> ReliabilityResult:
    """Split-half reliabilities of both models and the normalised cross-model overlap.

    Parameters
    ----------
    source_vectors, target_vectors : mappings emotion -> (n_e, d_s) / (n_e, d_t) arrays, paired
    weight : (d_t, d_s) array or LinearMap
        Target -> source map.
    k : int
    n_splits : int
        Random splits (default 50); emotion e draws from ``SeedSequence(seed).spawn(E)[e]``.
    seed : int
    context : str
    caches : StatsCaches, optional
        Caches of spans and resample PCAs (:mod:`emoalign.analysis.cache`); None: nothing cached.
        They change the speed, never the result.

    Returns
    -------
    ReliabilityResult
    """
    n_splits = check_int(n_splits, "n_splits", 1)
    k = check_int(k, "k", 1)
    names, S, T = paired_groups(source_vectors, target_vectors, k, context)
    d_s, d_t = S[0].shape[1], T[0].shape[1]
    W = check_weight(weight, d_t, d_s, context)
    E = len(names)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(E)]
    splits = np.full((n_splits, E, 3), np.nan)
    reasons: list[str | None] = []
    for e, name in enumerate(names):
        n = S[e].shape[0]
        h = n // 2
        if k > h - 1:
            reasons.append(f"k={k} needs at least {k + 1} prompts per half, but {name!r} has {n} prompts")
            continue
        where = f"emotion {name!r}" + (f", {context}" if context else "")
        try:
            Cs, Bs = row_span(S[e], k, "the source emotion vectors", where, source_cache(caches))
            Ct, Bt = row_span(T[e], k, "the target emotion vectors", where, pair_cache(caches))
        except EmoalignError as exc:
            reasons.append(str(exc))
            continue
        Z, R = image_span(Bt @ W)
        P = Bs @ R.T
        perms = streams[e].permuted(np.tile(np.arange(n), (n_splits, 1)), axis=1)
        halves = (perms[:, :h], perms[:, h : 2 * h])  # equal halves: one odd prompt left out
        Vs = [pca_of_rows(Cs, idx, k, source_cache(caches)) for idx in halves]
        Vt = [pca_of_rows(Ct, idx, k) @ Z for idx in halves]
        M = Vs[0] @ np.swapaxes(Vs[1], 1, 2)
        splits[:, e, 0] = np.clip(np.einsum("bij,bij->b", M, M) / k, 0.0, 1.0)
        splits[:, e, 1] = overlap_rows(np.linalg.svd(Vt[0], full_matrices=False)[2], Vt[1], k, d_s)
        splits[:, e, 2] = 0.5 * (
            overlap_rows(Vs[0] @ P, Vt[1], k, d_s) + overlap_rows(Vs[1] @ P, Vt[0], k, d_s)
        )
        reasons.append(None)
    ok = np.array([reason is None for reason in reasons])
    means = np.full((E, 3), np.nan)
    means[ok] = splits[:, ok].mean(axis=0)
    source_half, target_half, cross = means.T
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = cross / np.sqrt(source_half * target_half)
    return ReliabilityResult(
        emotions=names,
        k=k,
        source_split_half=source_half,
        target_split_half=target_half,
        cross_half=cross,
        normalised=normalised,
        reliability_source=spearman_brown(source_half),
        reliability_target=spearman_brown(target_half),
        splits=splits,
        reasons=tuple(reasons),
        n_splits=n_splits,
        seed=int(seed),
    )
