"""Split-half noise ceiling of a model's own emotion subspaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from emoalign.analysis.maps import _thin_svd
from emoalign.analysis.stats._common import (
    _check_int,
    _freeze,
    _image_span,
    _overlap_rows,
    _pca_batched,
    _vector_groups,
)
from emoalign.analysis.vectors import _where
from emoalign.errors import EmoalignError


@dataclass(frozen=True, eq=False)
class CeilingResult:
    """Split-half noise ceiling of one model's own emotion subspaces.

    Attributes
    ----------
    emotions : tuple of str
    k : int
    chance : float
        ``k / d``.
    mean : (E,) float64 array
        Mean split-half overlap (NaN where not computable; see ``reasons``).
    splits : (n_splits, E) float64 array
        Overlap of the two halves' subspaces per split (NaN column where not computable).
    half_size : (E,) int array
        Size of the smaller half, ``n_e // 2``.
    reasons : tuple of (str or None)
        Why an emotion's ceiling is NaN; None where it was computed.
    n_splits : int
    seed : int

    Notes
    -----
    Each half holds about n_e / 2 prompts, so this is the reproducibility of a subspace
    estimated from n_e / 2 prompts: a conservative (low) ceiling for subspaces fitted on n_e.
    """

    emotions: tuple[str, ...]
    k: int
    chance: float
    mean: np.ndarray
    splits: np.ndarray
    half_size: np.ndarray
    reasons: tuple[str | None, ...]
    n_splits: int
    seed: int

    def __post_init__(self) -> None:
        _freeze(self)


def _split_permutations(n: int, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permuted(np.tile(np.arange(n), (n_splits, 1)), axis=1)


def split_half_ceiling(
    vectors: Mapping[str, np.ndarray],
    k: int,
    *,
    n_splits: int = 50,
    seed: int = 0,
    context: str = "",
    weight: np.ndarray | None = None,
) -> CeilingResult:
    """Split-half noise ceiling of one model's emotion subspaces.

    With ``weight`` (d, d_out), each half's subspace is mapped (``basis @ weight``) and
    re-orthonormalised before the comparison — the reproducibility of the target's subspaces as
    the "after" overlap sees them (a map that discards nuisance directions also discards their
    split-half noise).

    Per emotion, the prompts are split at random into halves of ``n_e // 2`` and
    ``n_e - n_e // 2``; each half's k-subspace is fitted and the two are compared. The mean over
    splits says how high any overlap with this model's subspace can get given prompt noise
    (for subspaces of about n_e / 2 prompts, so it understates the full-sample reproducibility).

    An emotion with ``k > n_e // 2 - 1`` (or k > d) gets NaN and a reason instead of an error,
    so a pipeline can report it; a bad ``k`` type or a non-mapping input still raises.

    Parameters
    ----------
    vectors : mapping emotion -> (n_e, d) array
        One model's emotion vectors at one layer.
    k : int
    n_splits : int
        Number of random splits (default 50).
    seed : int
        Each emotion draws from ``SeedSequence(seed).spawn(E)[e]``.
    context : str

    Returns
    -------
    CeilingResult
    """
    n_splits = _check_int(n_splits, "n_splits", 1)
    k = _check_int(k, "k", 1)
    names, groups = _vector_groups(vectors, "emotion vectors", context)
    E = len(names)
    d = groups[0].shape[1]
    if weight is not None:
        weight = np.asarray(weight, dtype=np.float64)
        if weight.ndim != 2 or weight.shape[0] != d:
            raise EmoalignError(f"weight must be ({d}, d_out), got shape {weight.shape}{_where(context)}")
    d_out = d if weight is None else weight.shape[1]
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(E)]
    splits = np.full((n_splits, E), np.nan)
    half = np.array([X.shape[0] // 2 for X in groups], dtype=np.int64)
    reasons: list[str | None] = []
    for e, (name, X) in enumerate(zip(names, groups)):
        h = int(half[e])
        if k > h - 1:
            reasons.append(
                f"k={k} needs at least {k + 1} prompts per half, but {name!r} has {X.shape[0]} prompts "
                f"(halves of {h})"
            )
            continue
        if k > d:
            reasons.append(f"k={k} exceeds the dimension d={d}")
            continue
        U, sv, Vt = _thin_svd(X)
        C = U * sv  # coordinates in an orthonormal basis of the span (overlaps are invariant)
        if C.shape[1] < k:
            reasons.append(f"the vectors of {name!r} span only {C.shape[1]} dimension(s) < k={k}")
            continue
        perms = _split_permutations(X.shape[0], n_splits, streams[e])
        V1 = _pca_batched(C[perms[:, :h]], k)
        V2 = _pca_batched(C[perms[:, h:]], k)
        if weight is None:
            M = V1 @ np.swapaxes(V2, 1, 2)
            splits[:, e] = np.clip(np.einsum("bij,bij->b", M, M) / k, 0.0, 1.0)
        else:
            Z, _ = _image_span(Vt @ weight)  # the mapped span: Vt W = Z R, R orthonormal rows
            H1 = np.linalg.svd(V1 @ Z, full_matrices=False)[2]
            splits[:, e] = _overlap_rows(H1, V2 @ Z, k, d_out)
        reasons.append(None)
    ok = ~np.isnan(splits[0])
    mean = np.full(E, np.nan)
    mean[ok] = splits[:, ok].mean(axis=0)
    return CeilingResult(
        emotions=names,
        k=k,
        chance=float(k) / d_out,
        mean=mean,
        splits=splits,
        half_size=half,
        reasons=tuple(reasons),
        n_splits=n_splits,
        seed=int(seed),
    )


# ----------------------------------------------------------------------------------------------
# multiple comparisons, grid max, verdicts


