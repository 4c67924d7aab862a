"""The pairing null: the map refitted on shuffled fit pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from emoalign.analysis.cache import (
    StatsCaches,
    cached_subspace,
    pair_cache,
    source_cache,
)
from emoalign.analysis.linalg import row_spectrum as _ridge_spectrum
from emoalign.analysis.linalg import thin_svd as _thin_svd
from emoalign.analysis.maps import fit_map
from emoalign.analysis.stats.common import freeze_arrays, null_summary, overlap_rows
from emoalign.analysis.stats.pvalues import permutation_p_value
from emoalign.analysis.validation import check_int, paired_groups
from emoalign.analysis.validation import check_pairs as _check_pairs
from emoalign.analysis.validation import where as _where
from emoalign.core.errors import EmoalignError


@dataclass(frozen=True, eq=False)
class PairingNullResult:
    """Pairing null: fit pairs shuffled before fitting the map.

    Attributes
    ----------
    emotions : tuple of str
    k : int
    method : str
        Map method (``fit_map`` name).
    observed : (E,) float64 array
        Overlap with the map fitted on the true pairs.
    null : (N, E) float64 array
        Overlap with maps fitted on shuffled pairs (rows of ``fit_source`` permuted).
    p_values : (E,) float64 array
        ``(1 + #{null >= observed}) / (1 + N)``.
    null_mean, null_p95 : (E,) float64 arrays
    n_permutations : int
    seed : int
    fast_path : bool
        True when one SVD of the fit data served every shuffle (lstsq, ridge with one alpha);
        False when the map was refitted with ``fit_map`` per shuffle.
    """

    emotions: tuple[str, ...]
    k: int
    method: str
    observed: np.ndarray
    null: np.ndarray
    p_values: np.ndarray
    null_mean: np.ndarray
    null_p95: np.ndarray
    n_permutations: int
    seed: int
    fast_path: bool

    def __post_init__(self) -> None:
        freeze_arrays(self)


_RIDGE_FAST_KEYS = {"alphas", "n_folds", "seed"}


def _single_alpha(map_kwargs: Mapping[str, Any]) -> float | None:
    alphas = map_kwargs.get("alphas")
    if alphas is None:
        return None
    grid = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if grid.size != 1 or not np.isfinite(grid[0]) or grid[0] <= 0:
        return None
    return float(grid[0])


def pairing_null(
    fit_target: np.ndarray,
    fit_source: np.ndarray,
    source_vectors: Mapping[str, np.ndarray],
    target_vectors: Mapping[str, np.ndarray],
    k: int,
    *,
    method: str,
    n_permutations: int = 50,
    seed: int = 0,
    map_seed: int = 0,
    context: str = "",
    caches: StatsCaches | None = None,
    **map_kwargs: Any,
) -> PairingNullResult:
    """Pairing null: does the map capture any cross-model correspondence at all?

    The rows of ``fit_source`` are shuffled (breaking the pairing with ``fit_target``), the map
    is refitted, and the mapped same-emotion overlaps are recomputed; the observed overlaps use
    the map fitted on the true pairs with the same method and options.

    Cost: ``lstsq`` (no options) and ``ridge`` with a single alpha (``alphas=[a]``) reuse one
    SVD of the centred ``fit_target`` for every shuffle (``W = V diag(f(s)) U^T P Y``), so a
    shuffle costs one (E k x n) @ (n x d_s) product. Every other case (procrustes, cca, ridge
    with cross-validated alpha, which is re-selected per shuffle) calls :func:`fit_map` once per
    shuffle: N + 1 full fits (each an SVD of the fit data; ridge-CV: n_folds + 1 of them).
    The default N = 50 (fewer than the label null's 200) keeps the slow path affordable; the
    smallest attainable p is then 1/51.

    Parameters
    ----------
    fit_target : (n, d_t) array
        Target reference activations the map is fitted on.
    fit_source : (n, d_s) array
        Source reference activations, paired row by row with ``fit_target``.
    source_vectors, target_vectors : mappings emotion -> (n_e, d_s) / (n_e, d_t) arrays
    k : int
        Subspace dimension.
    method : {"lstsq", "ridge", "procrustes", "cca"}
    n_permutations : int
        Number of shuffles N (default 50).
    seed : int
        Seed of the shuffles.
    map_seed : int
        ``seed`` passed to :func:`fit_map` (ridge CV folds) on the slow path (``seed`` is the
        shuffle seed). No held-out split is made (``heldout_fraction=0``).
    context : str
        Phrase used in error messages.
    caches : StatsCaches, optional
        Caches of spans and resample PCAs (:mod:`emoalign.analysis.cache`); None: nothing cached.
        They change the speed, never the result.
    **map_kwargs
        Options of the map method (``alphas``, ``n_folds``, ``n_components``, ``reduce_to``).

    Returns
    -------
    PairingNullResult
    """
    n_permutations = check_int(n_permutations, "n_permutations", 0)
    names, S, T = paired_groups(source_vectors, target_vectors, k, context)
    Xt, Xs = _check_pairs(fit_target, fit_source, context)
    d_s, d_t = S[0].shape[1], T[0].shape[1]
    if Xt.shape[1] != d_t or Xs.shape[1] != d_s:
        raise EmoalignError(
            f"map fit data have d_t={Xt.shape[1]}, d_s={Xs.shape[1]} but the emotion vectors have "
            f"d_t={d_t}, d_s={d_s}{_where(context)}"
        )
    E, n = len(names), Xt.shape[0]
    # the alignment fitted the same subspaces (through the same caches)
    Qs = np.stack([cached_subspace(X, k, source_cache(caches), context).basis for X in S])  # (E, k, d_s)
    Ut = np.stack([cached_subspace(X, k, pair_cache(caches), context).basis for X in T])  # (E, k, d_t)
    Ut_flat = Ut.reshape(E * k, d_t)

    alpha = _single_alpha(map_kwargs) if method == "ridge" else None
    fast = (method == "lstsq" and not map_kwargs) or (
        method == "ridge" and alpha is not None and set(map_kwargs) <= _RIDGE_FAST_KEYS
    )
    if fast:
        Xc = Xt - Xt.mean(axis=0)
        Yc = Xs - Xs.mean(axis=0)
        if method == "lstsq":
            U, s, Vt = _thin_svd(Xc)
            L = ((Ut_flat @ Vt.T) / s) @ U.T  # (E k, n): target bases through pinv(Xc)
        elif n <= d_t:  # ridge, dual form exactly as fit_ridge_map
            U, ev, _ = _ridge_spectrum(gram=Xc @ Xc.T)
            L = ((Ut_flat @ Xc.T) @ U / (ev + alpha)) @ U.T
        else:  # ridge, primal form
            U, ev, Vt = _ridge_spectrum(Xc=Xc)
            L = ((Ut_flat @ Vt.T) * (np.sqrt(ev) / (ev + alpha))) @ U.T  # type: ignore[union-attr]

        def mapped(perm: np.ndarray) -> np.ndarray:
            return (L @ Yc[perm]).reshape(E, k, d_s)

    else:

        def mapped(perm: np.ndarray) -> np.ndarray:
            kw = {**map_kwargs, "seed": map_seed, "heldout_fraction": 0.0}
            lm = fit_map(method, Xt, Xs[perm], context=context, **kw)  # type: ignore[arg-type]
            return Ut @ lm.weight

    observed = overlap_rows(Qs, mapped(np.arange(n)), k, d_s)
    rng = np.random.default_rng(seed)
    null = np.empty((n_permutations, E))
    for i in range(n_permutations):
        null[i] = overlap_rows(Qs, mapped(rng.permutation(n)), k, d_s)
    p = permutation_p_value(null, observed)
    mean, p95 = null_summary(null)
    return PairingNullResult(
        emotions=names,
        k=int(k),
        method=str(method),
        observed=observed,
        null=null,
        p_values=p,
        null_mean=mean,
        null_p95=p95,
        n_permutations=n_permutations,
        seed=int(seed),
        fast_path=bool(fast),
    )
