"""Linear maps from a target model's activation space to the source model's (d_t -> d_s).

Every map is fitted on paired reference activations ``X_t`` (n, d_t) and ``X_s`` (n, d_s)
after centring both sides, and is stored as one affine map
``X_s_hat = (X_t - target_mean) @ weight + source_mean``. Emotion prompts are never used here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import scipy.linalg

from emoalign.analysis.linalg import row_spectrum as _ridge_spectrum
from emoalign.analysis.linalg import thin_svd as _thin_svd
from emoalign.analysis.validation import check_pairs as _check_pairs
from emoalign.analysis.validation import where as _where
from emoalign.core.errors import EmoalignError

__all__ = [
    "LinearMap",
    "MAP_METHODS",
    "fit_lstsq_map",
    "fit_ridge_map",
    "fit_procrustes_map",
    "fit_cca_map",
    "fit_map",
    "variance_weighted_r2",
]

MapMethod = Literal["lstsq", "ridge", "procrustes", "cca"]


@dataclass(frozen=True, eq=False)
class LinearMap:
    """An affine map from target activations (d_t) to source activations (d_s).

    Attributes
    ----------
    weight : (d_t, d_s) float64 array
        Linear part, acting on centred target activations (row vectors on the left).
    source_mean, target_mean : (d_s,), (d_t,) float64 arrays
        Means of the fit pairs; ``transform`` maps ``target_mean`` to ``source_mean``.
    method : str
        ``"lstsq"``, ``"ridge"``, ``"procrustes"`` or ``"cca"``.
    params : dict
        JSON-friendly fit details (chosen alpha, ranks, canonical correlations, split sizes ...).
    heldout_r2 : float or None
        Variance-weighted R² on pairs held out from a preliminary fit (set by :func:`fit_map`).
    """

    weight: np.ndarray
    source_mean: np.ndarray
    target_mean: np.ndarray
    method: str
    params: dict = field(default_factory=dict)
    heldout_r2: float | None = None

    def __post_init__(self) -> None:
        w = np.array(self.weight, dtype=np.float64)
        ms = np.array(self.source_mean, dtype=np.float64).reshape(-1)
        mt = np.array(self.target_mean, dtype=np.float64).reshape(-1)
        if w.ndim != 2 or w.shape != (mt.shape[0], ms.shape[0]):
            raise EmoalignError(
                f"inconsistent LinearMap: weight {w.shape}, target_mean {mt.shape}, "
                f"source_mean {ms.shape}"
            )
        for name, arr in (("weight", w), ("source_mean", ms), ("target_mean", mt)):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "params", dict(self.params))
        if self.heldout_r2 is not None:
            object.__setattr__(self, "heldout_r2", float(self.heldout_r2))

    @property
    def d_target(self) -> int:
        """Input dimension d_t."""
        return int(self.weight.shape[0])

    @property
    def d_source(self) -> int:
        """Output dimension d_s."""
        return int(self.weight.shape[1])

    def transform(self, X_t: np.ndarray) -> np.ndarray:
        """Map target activations to the source space (affine).

        Parameters
        ----------
        X_t : (n, d_t) or (d_t,) array

        Returns
        -------
        (n, d_s) or (d_s,) float64 array
        """
        X = np.asarray(X_t, dtype=np.float64)
        if X.shape[-1:] != (self.d_target,) or X.ndim not in (1, 2):
            raise EmoalignError(
                f"this {self.method} map expects target activations with d={self.d_target}, "
                f"got shape {X.shape}"
            )
        return (X - self.target_mean) @ self.weight + self.source_mean

    def map_directions(self, basis_t: np.ndarray) -> np.ndarray:
        """Map target directions (e.g. a subspace basis) to the source space.

        Directions carry no offset, so only the linear part applies: ``basis_t @ weight``.
        The rows are NOT re-orthonormalised.

        Parameters
        ----------
        basis_t : (k, d_t) or (d_t,) array

        Returns
        -------
        (k, d_s) or (d_s,) float64 array
        """
        B = np.asarray(basis_t, dtype=np.float64)
        if B.shape[-1:] != (self.d_target,) or B.ndim not in (1, 2):
            raise EmoalignError(
                f"this {self.method} map expects target directions with d={self.d_target}, "
                f"got shape {B.shape}"
            )
        return B @ self.weight


# ----------------------------------------------------------------------------------------------
# helpers


def _check_components(value: int | None, name: str, context: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise EmoalignError(f"{name} must be a positive integer or None, got {value!r}{_where(context)}")


def variance_weighted_r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """R² over all output dimensions, weighted by their variance (sklearn's ``variance_weighted``).

    ``1 - sum((y - y_hat)^2) / sum((y - mean(y))^2)``; NaN when ``y_true`` has no variance.

    Parameters
    ----------
    y_true, y_pred : (n, d) arrays

    Returns
    -------
    float
    """
    Y = np.asarray(y_true, dtype=np.float64)
    P = np.asarray(y_pred, dtype=np.float64)
    ss_res = float(np.sum((Y - P) ** 2))
    ss_tot = float(np.sum((Y - Y.mean(axis=0)) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - ss_res / ss_tot


# ----------------------------------------------------------------------------------------------
# the four maps


def fit_lstsq_map(X_t: np.ndarray, X_s: np.ndarray, *, context: str = "") -> LinearMap:
    """Minimum-norm least-squares map on centred pairs (the original study's map).

    Parameters
    ----------
    X_t : (n, d_t) array
        Target-model reference activations.
    X_s : (n, d_s) array
        Source-model reference activations, paired row by row with ``X_t``.
    context : str
        Phrase naming the model pair/layer, used in error messages.

    Returns
    -------
    LinearMap
        ``weight = pinv(X_t - mean) @ (X_s - mean)``; with d_t >> n it interpolates the fit pairs.
    """
    Xt, Xs = _check_pairs(X_t, X_s, context)
    mt, ms = Xt.mean(axis=0), Xs.mean(axis=0)
    W, _, rank, _ = np.linalg.lstsq(Xt - mt, Xs - ms, rcond=None)
    return LinearMap(W, ms, mt, "lstsq", {"rank": int(rank), "n_pairs": int(Xt.shape[0])})


_EXPANSION_TOL = 1e-6  # an expanded SSE below this share of ||R||^2 has lost digits: recompute it directly


def _check_folds(n_folds: object, context: str) -> int:
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise EmoalignError(f"n_folds must be an integer >= 2, got {n_folds!r}{_where(context)}")
    return int(n_folds)


def _ridge_grid(sum_sq: float, n: int, d_t: int, alphas: Sequence[float] | np.ndarray | None, context: str) -> np.ndarray:
    """The alphas to choose from: ``alphas``, or ``mean_eig * logspace(-6, 3, 19)`` with
    ``mean_eig = sum_sq / min(n - 1, d_t)`` (``sum_sq`` = trace of the centred Gram matrix)."""
    if alphas is None:
        mean_eig = sum_sq / max(min(n - 1, d_t), 1)
        if mean_eig <= 0:
            raise EmoalignError(f"target activations have no variance{_where(context)}; cannot fit a map")
        return mean_eig * np.logspace(-6, 3, 19)
    grid = np.asarray(alphas, dtype=np.float64).reshape(-1)
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise EmoalignError(f"alphas must be positive finite numbers, got {alphas!r}{_where(context)}")
    return grid


def _split_spectrum(
    X: np.ndarray | None, G: np.ndarray | None, tr: np.ndarray, val: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge spectrum of the rows ``tr`` centred on their mean, and the rows ``val`` in its coordinates.

    Returns (U, e, Q) with ``Xtr_c Xtr_c^T = U diag(e) U^T`` and ``Q = Xval_c Xtr_c^T U``, so that
    the prediction at alpha is ``Q diag(1 / (e + alpha)) U^T Ytr_c``. Dual form from any centring
    of the Gram matrix ``G`` of all rows (re-centred on the training mean), else primal from ``X``.
    """
    if G is not None:
        a = G[:, tr].mean(axis=1)
        c = a[tr].mean()
        Gc = G - a[:, None] - a[None, :] + c
        U, e, _ = _ridge_spectrum(gram=Gc[np.ix_(tr, tr)])
        return U, e, Gc[np.ix_(val, tr)] @ U
    assert X is not None
    x_mean = X[tr].mean(axis=0)
    U, e, Vt = _ridge_spectrum(Xc=X[tr] - x_mean)
    return U, e, ((X[val] - x_mean) @ Vt.T) * np.sqrt(e)  # type: ignore[union-attr]


def _split_sse(
    Q: np.ndarray, U: np.ndarray, e: np.ndarray, Y_tr: np.ndarray, Y_val: np.ndarray, grid: np.ndarray
) -> np.ndarray:
    """Squared validation error of the ridge fitted on one split, for every alpha of ``grid`` at once.

    With ``B = U^T (Y_tr - mean)``, ``R = Y_val - mean`` and ``d = 1 / (e + alpha)`` the prediction is
    ``Q diag(d) B``, so ``SSE = ||R||^2 - 2 d.c + d^T ((Q^T Q) * (B B^T)) d`` with ``c_j = (Q^T R B^T)_jj``:
    O(r^2) per alpha instead of a product with the outputs.
    """
    y_mean = Y_tr.mean(axis=0)
    B = U.T @ (Y_tr - y_mean)
    R = Y_val - y_mean
    D = 1.0 / (e[None, :] + grid[:, None])
    rr = float(np.sum(R**2))
    c = np.einsum("ij,ij->j", Q, R @ B.T)
    K = (Q.T @ Q) * (B @ B.T)
    sse = rr - 2.0 * (D @ c) + np.sum((D @ K) * D, axis=1)
    for i in np.flatnonzero(sse <= _EXPANSION_TOL * rr):
        sse[i] = float(np.sum((R - (Q / (e + grid[i])) @ B) ** 2))
    return sse


def _ridge_cv(
    X: np.ndarray | None, Y: np.ndarray, G: np.ndarray | None, grid: np.ndarray, n_folds: int, seed: int
) -> np.ndarray:
    """Summed k-fold validation SSE per alpha (one spectrum per fold serves every alpha)."""
    n = Y.shape[0]
    cv_sse = np.zeros(grid.size)
    for val in np.array_split(np.random.default_rng(seed).permutation(n), min(n_folds, n)):
        tr = np.setdiff1d(np.arange(n), val, assume_unique=True)
        U, e, Q = _split_spectrum(X, G, tr, val)
        cv_sse += _split_sse(Q, U, e, Y[tr], Y[val], grid)
    return cv_sse


def _fit_ridge(
    Xt: np.ndarray,
    Xs: np.ndarray,
    G: np.ndarray | None,
    alphas: Sequence[float] | np.ndarray | None,
    n_folds: int,
    seed: int,
    context: str,
) -> LinearMap:
    """:func:`fit_ridge_map` on checked pairs; ``G``: the centred Gram matrix (dual form) or None (primal)."""
    n, d_t = Xt.shape
    mt, ms = Xt.mean(axis=0), Xs.mean(axis=0)
    Xc, Yc = Xt - mt, Xs - ms
    if n <= d_t and G is None:
        G = Xc @ Xc.T
    grid = _ridge_grid(float(np.sum(Xc**2)), n, d_t, alphas, context)
    cv_sse = _ridge_cv(Xt, Xs, G, grid, n_folds, seed) if grid.size > 1 else np.zeros(1)
    alpha = float(grid[int(np.argmin(cv_sse))])
    U, e, Vt = _ridge_spectrum(Xc=Xc, gram=G)
    B = U.T @ Yc
    if G is not None:
        W = Xc.T @ ((U / (e + alpha)) @ B)
    else:
        W = (Vt.T * (np.sqrt(e) / (e + alpha))) @ B  # type: ignore[union-attr]
    params: dict[str, Any] = {
        "alpha": alpha,
        "alphas": grid.tolist(),
        "cv_mse": (cv_sse / (n * Xs.shape[1])).tolist() if grid.size > 1 else None,
        "n_folds": int(min(n_folds, n)) if grid.size > 1 else 0,
        "seed": int(seed),
        "n_pairs": int(n),
    }
    return LinearMap(W, ms, mt, "ridge", params)


def _ridge_heldout_r2(
    Xs: np.ndarray,
    G: np.ndarray,
    d_t: int,
    train: np.ndarray,
    test: np.ndarray,
    *,
    alphas: Sequence[float] | np.ndarray | None = None,
    n_folds: int = 5,
    seed: int = 0,
    context: str = "",
) -> float:
    """Held-out R² of the ridge fitted (with its own CV) on ``train``, from the centred Gram matrix
    ``G`` of all pairs: the fit on ``train`` and its prediction of ``test`` are one more split of ``G``."""
    n_folds = _check_folds(n_folds, context)
    G_train = G[np.ix_(train, train)]
    sum_sq = float(np.trace(G_train) - G_train.mean(axis=1).sum())  # trace of G_train centred on its mean
    grid = _ridge_grid(sum_sq, train.size, d_t, alphas, context)
    cv_sse = _ridge_cv(None, Xs[train], G_train, grid, n_folds, seed) if grid.size > 1 else np.zeros(1)
    alpha = grid[int(np.argmin(cv_sse))]
    U, e, Q = _split_spectrum(None, G, train, test)
    y_mean = Xs[train].mean(axis=0)
    pred = (Q / (e + alpha)) @ (U.T @ (Xs[train] - y_mean)) + y_mean
    return variance_weighted_r2(Xs[test], pred)


def fit_ridge_map(
    X_t: np.ndarray,
    X_s: np.ndarray,
    *,
    alphas: Sequence[float] | np.ndarray | None = None,
    n_folds: int = 5,
    seed: int = 0,
    context: str = "",
) -> LinearMap:
    """Ridge map on centred pairs, penalty chosen by k-fold cross-validation.

    Solves ``min ||Yc - Xc W||^2 + alpha ||W||^2`` (same as sklearn ``Ridge(fit_intercept=True)``)
    through the SVD / Gram (dual) form, so d_t = 4096 with a few hundred pairs is fast. One
    spectrum per CV fold scores every alpha at once (:func:`_split_sse`).

    Parameters
    ----------
    X_t : (n, d_t) array
        Target-model reference activations.
    X_s : (n, d_s) array
        Source-model reference activations, paired row by row.
    alphas : sequence of float, optional
        Absolute penalties to choose from. Default: ``mean_eig * logspace(-6, 3, 19)`` where
        ``mean_eig = trace(Xc^T Xc) / min(n - 1, d_t)`` is the mean non-zero eigenvalue of the
        centred target Gram matrix. A single value skips the cross-validation.
    n_folds : int
        Number of CV folds (capped at n); the summed squared error over folds picks alpha.
    seed : int
        Seed of the fold assignment.
    context : str
        Phrase used in error messages.

    Returns
    -------
    LinearMap
        ``params`` holds ``alpha`` (chosen), ``alphas`` (grid) and ``cv_mse`` (per alpha).
    """
    Xt, Xs = _check_pairs(X_t, X_s, context)
    return _fit_ridge(Xt, Xs, None, alphas, _check_folds(n_folds, context), seed, context)


def fit_procrustes_map(
    X_t: np.ndarray,
    X_s: np.ndarray,
    *,
    n_components: int | None = None,
    context: str = "",
) -> LinearMap:
    """Scaled orthogonal Procrustes map after PCA of both sides to a common dimension.

    Both sides are reduced to ``r = min(n - 1, d_s, d_t, n_components)`` principal directions
    (``P_t``: (d_t, r), ``Q_s``: (d_s, r)); the rotation ``R`` and the global ``scale`` minimise
    ``||scale * Z_t R - Z_s||`` on the PCA scores; the map is ``weight = P_t R Q_s^T * scale``.
    It recovers any similarity transform ``X_s = c X_t Q + b`` exactly, nothing more general.

    Parameters
    ----------
    X_t : (n, d_t) array
    X_s : (n, d_s) array
    n_components : int, optional
        Upper bound on the common dimension r.
    context : str
        Phrase used in error messages.

    Returns
    -------
    LinearMap
        ``params`` holds ``n_components`` (r) and ``scale``.
    """
    Xt, Xs = _check_pairs(X_t, X_s, context)
    _check_components(n_components, "n_components", context)
    n, d_t = Xt.shape
    d_s = Xs.shape[1]
    r = min(n - 1, d_s, d_t, n_components if n_components is not None else d_t)
    mt, ms = Xt.mean(axis=0), Xs.mean(axis=0)
    Xtc, Xsc = Xt - mt, Xs - ms
    _, st, vtt = _thin_svd(Xtc)
    _, ss, vts = _thin_svd(Xsc)
    for side, sv in (("target", st), ("source", ss)):
        if sv.size == 0:
            raise EmoalignError(f"{side} activations have no variance{_where(context)}; cannot fit a map")
    r = min(r, st.size, ss.size)
    P_t, Q_s = vtt[:r].T, vts[:r].T
    Z_t, Z_s = Xtc @ P_t, Xsc @ Q_s
    R, sv_sum = scipy.linalg.orthogonal_procrustes(Z_t, Z_s)
    scale = float(sv_sum) / float(np.sum(Z_t**2))
    W = (P_t @ R @ Q_s.T) * scale
    return LinearMap(W, ms, mt, "procrustes", {"n_components": int(r), "scale": scale, "n_pairs": int(n)})


def fit_cca_map(
    X_t: np.ndarray,
    X_s: np.ndarray,
    *,
    n_components: int | None = None,
    reduce_to: int | None = None,
    context: str = "",
) -> LinearMap:
    """CCA map on PCA-reduced data: regression of the source on the target through canonical variates.

    Each side is reduced by PCA to ``p = min(reduce_to, d, n - 1)`` dimensions (default
    ``reduce_to = min(n // 2, 50, d)`` per side) and whitened; canonical directions come from the
    SVD of the cross-product of the whitened scores (correlations ``rho``). The map predicts each
    source canonical variate as ``rho_i`` times the target one and maps back to source coordinates:
    ``weight = V_t S_t^-1 A diag(rho) B^T S_s V_s^T``. With all components this equals least
    squares on the reduced data; fewer components give a reduced-rank map.

    Parameters
    ----------
    X_t : (n, d_t) array
    X_s : (n, d_s) array
    n_components : int, optional
        Number of canonical pairs kept (default: all, ``min(p_t, p_s)``).
    reduce_to : int, optional
        PCA dimension per side before CCA (capped at d and n - 1).
    context : str
        Phrase used in error messages.

    Returns
    -------
    LinearMap
        ``params`` holds ``canonical_correlations``, ``n_components``, ``reduce_to_target`` and
        ``reduce_to_source``.
    """
    Xt, Xs = _check_pairs(X_t, X_s, context)
    _check_components(n_components, "n_components", context)
    _check_components(reduce_to, "reduce_to", context)
    n = Xt.shape[0]
    mt, ms = Xt.mean(axis=0), Xs.mean(axis=0)
    Xtc, Xsc = Xt - mt, Xs - ms

    def reduce(Xc: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d = Xc.shape[1]
        p = min(reduce_to if reduce_to is not None else min(max(n // 2, 1), 50, d), d, n - 1)
        U, s, Vt = _thin_svd(Xc)
        if s.size == 0:
            raise EmoalignError(f"{side} activations have no variance{_where(context)}; cannot fit a map")
        return U[:, :p], s[:p], Vt[:p]

    U_t, s_t, Vt_t = reduce(Xtc, "target")
    U_s, s_s, Vt_s = reduce(Xsc, "source")
    A, rho, Bt = np.linalg.svd(U_t.T @ U_s, full_matrices=False)
    rho = np.clip(rho, 0.0, 1.0)
    m_max = rho.size
    if n_components is not None and n_components > m_max:
        raise EmoalignError(
            f"n_components={n_components} exceeds the {m_max} canonical pairs available "
            f"(PCA dims: target {s_t.size}, source {s_s.size}){_where(context)}"
        )
    m = m_max if n_components is None else int(n_components)
    W = ((Vt_t.T / s_t) @ (A[:, :m] * rho[:m])) @ (Bt[:m] * s_s) @ Vt_s
    params = {
        "canonical_correlations": rho[:m].tolist(),
        "n_components": int(m),
        "reduce_to_target": int(s_t.size),
        "reduce_to_source": int(s_s.size),
        "n_pairs": int(n),
    }
    return LinearMap(W, ms, mt, "cca", params)


_FITTERS: dict[str, Callable[..., LinearMap]] = {
    "lstsq": fit_lstsq_map,
    "ridge": fit_ridge_map,
    "procrustes": fit_procrustes_map,
    "cca": fit_cca_map,
}
MAP_METHODS: tuple[str, ...] = tuple(_FITTERS)


def fit_map(
    method: MapMethod,
    X_t: np.ndarray,
    X_s: np.ndarray,
    *,
    heldout_fraction: float = 0.2,
    seed: int = 0,
    context: str = "",
    **kw: Any,
) -> LinearMap:
    """Fit a target->source map, report its held-out R², and return the map refitted on all pairs.

    Parameters
    ----------
    method : {"lstsq", "ridge", "procrustes", "cca"}
    X_t : (n, d_t) array
        Target-model reference activations.
    X_s : (n, d_s) array
        Source-model reference activations, paired row by row.
    heldout_fraction : float
        Fraction of pairs (at least 2) held out of a preliminary fit to measure R²
        (variance-weighted over all source dimensions); 0 skips it (``heldout_r2=None``).
    seed : int
        Seed of the split (and of ridge's CV folds).
    context : str
        Phrase naming the model pair/layer, used in error messages.
    **kw
        Options of the chosen fitter (``alphas``, ``n_folds``, ``n_components``, ``reduce_to``).

    Returns
    -------
    LinearMap
        Fitted on all n pairs, with ``heldout_r2`` set and the split recorded in ``params``.
    """
    if method not in _FITTERS:
        raise EmoalignError(f"unknown map method {method!r}; known methods: {', '.join(MAP_METHODS)}")
    fitter = _FITTERS[method]
    accepted = {
        name
        for name, p in inspect.signature(fitter).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "context"
    }
    unknown = sorted(set(kw) - accepted)
    if unknown:
        raise EmoalignError(
            f"map method {method!r} has no option(s) {', '.join(unknown)}; "
            f"its options: {', '.join(sorted(accepted)) or 'none'}"
        )
    if method == "ridge":
        kw.setdefault("seed", seed)
    Xt, Xs = _check_pairs(X_t, X_s, context)
    n = Xt.shape[0]
    f = float(heldout_fraction)
    if not 0.0 <= f < 1.0:
        raise EmoalignError(f"heldout_fraction must be in [0, 1), got {heldout_fraction!r}")

    # Ridge in dual form: one Gram matrix serves the held-out fit, every CV fold and the final fit.
    gram = None
    if method == "ridge" and n <= Xt.shape[1]:
        Xc = Xt - Xt.mean(axis=0)
        gram = Xc @ Xc.T
    r2: float | None = None
    n_test = 0
    if f > 0:
        n_test = max(2, int(round(f * n)))
        if n - n_test < 2:
            raise EmoalignError(
                f"a held-out R² needs at least 4 paired activations (2 to fit, 2 to test), "
                f"got {n}{_where(context)}; pass heldout_fraction=0 to skip it"
            )
        perm = np.random.default_rng(seed).permutation(n)
        test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
        if gram is not None:
            r2 = _ridge_heldout_r2(Xs, gram, Xt.shape[1], train, test, context=context, **kw)
        else:
            prelim = fitter(Xt[train], Xs[train], context=context, **kw)
            r2 = variance_weighted_r2(Xs[test], prelim.transform(Xt[test]))

    if gram is not None:
        ridge_kw = {"alphas": None, "n_folds": 5, **kw}
        full = _fit_ridge(
            Xt, Xs, gram, ridge_kw["alphas"], _check_folds(ridge_kw["n_folds"], context), ridge_kw["seed"], context
        )
    else:
        full = fitter(Xt, Xs, context=context, **kw)
    params = dict(full.params)
    params.update({"heldout_fraction": f, "n_heldout": int(n_test), "split_seed": int(seed)})
    return replace(full, params=params, heldout_r2=r2)
