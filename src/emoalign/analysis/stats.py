"""Statistics for cross-model subspace overlaps: nulls, bootstrap CIs, noise ceilings, FDR, verdicts.

Setting: source model A (d_s) and target model B (d_t) read the same prompts; for each emotion e,
``source_vectors[e]`` (n_e, d_s) and ``target_vectors[e]`` (n_e, d_t) are PAIRED row by row.
A map ``weight`` (d_t, d_s) sends target directions into source space. The observed overlap of
emotion e is ``subspace_overlap(PCA_k(S[e]), PCA_k(T[e]) @ weight)`` (mean cos² of the principal
angles after re-orthonormalising the mapped basis; directions the map annihilates count as
orthogonal, and a fully annihilated basis gives 0 rather than an error).

Speed: every subspace that any permutation, bootstrap or split can produce lies in the span of
the vectors involved (at most n_total dimensions, e.g. 210, even when d_t = 4096). Each function
takes an orthonormal basis of that span once (thin SVD), works on the (n, r) coordinates, maps
the target span once (``B_t @ weight``, then an orthonormal basis ``R`` of its image in source
space), and expresses source bases in ``R`` coordinates too. The overlaps are then products of
(k x r) matrices, and the PCAs are batched eigen-decompositions of small Gram/covariance matrices.
The result equals the full-dimensional computation (checked to 1e-8 in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Sequence

import numpy as np

from emoalign.analysis.maps import _check_pairs, _ridge_spectrum, _thin_svd, fit_map
from emoalign.analysis.subspace import _check_k, fit_subspace
from emoalign.analysis.vectors import _as_matrix, _where
from emoalign.errors import EmoalignError

__all__ = [
    "LabelNullResult",
    "PairingNullResult",
    "BootstrapResult",
    "CeilingResult",
    "label_permutations",
    "label_permutation_null",
    "pairing_null",
    "bootstrap_overlap_ci",
    "split_half_ceiling",
    "benjamini_hochberg",
    "permutation_p_value",
    "grid_max_null",
    "SPECIFIC",
    "NOT_DISTINGUISHABLE",
    "NOT_TESTED",
]

_EPS = np.finfo(np.float64).eps
_TIE_TOL = 1e-12  # null values within this of the observed one count as ties (>=), conservatively
_CHUNK = 512  # batch size of the stacked PCAs (memory: chunk * n * r floats)

SPECIFIC = "emotion-specific"
NOT_DISTINGUISHABLE = "not distinguishable from null"
NOT_TESTED = "not tested"


# ----------------------------------------------------------------------------------------------
# result types


def _freeze(obj: Any) -> None:
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray):
            value = np.array(value)
            value.flags.writeable = False
            object.__setattr__(obj, f.name, value)


@dataclass(frozen=True, eq=False)
class LabelNullResult:
    """Emotion-label permutation null (target labels permuted; source subspaces fixed).

    Attributes
    ----------
    emotions : tuple of str
        Emotion labels, in the order of ``source_vectors``; index every array below.
    k : int
        Subspace dimension.
    chance : float
        ``k / d_s``: overlap of random k-subspaces of the source space.
    observed : (E,) float64 array
        Overlap of source e with mapped target e.
    null : (N, E) float64 array
        Overlap of source e with the mapped target subspace of the prompts that carry label e
        after relabelling n. Column e is emotion e's null; row n is permutation n, the same
        relabelling for every emotion and every layer pair called with the same seed and group
        sizes (so a max over cells can take the row-wise max).
    p_values : (E,) float64 array
        ``(1 + #{null >= observed}) / (1 + N)``.
    null_mean, null_p95 : (E,) float64 arrays
        Mean and 95th percentile of each null.
    cross_overlap : (E, E) float64 array
        ``cross_overlap[e, f]`` = overlap of source e with mapped target f (diagonal = observed).
    specificity : (E,) float64 array
        ``cross_overlap[e, e] - mean_{f != e} cross_overlap[e, f]``.
    n_permutations : int
    seed : int
    """

    emotions: tuple[str, ...]
    k: int
    chance: float
    observed: np.ndarray
    null: np.ndarray
    p_values: np.ndarray
    null_mean: np.ndarray
    null_p95: np.ndarray
    cross_overlap: np.ndarray
    specificity: np.ndarray
    n_permutations: int
    seed: int

    def __post_init__(self) -> None:
        _freeze(self)

    def null_of(self, emotion: str) -> np.ndarray:
        """The (N,) null of one emotion."""
        return self.null[:, self.emotions.index(emotion)]


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
        _freeze(self)


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Paired percentile bootstrap of the observed overlaps (prompts resampled within emotion).

    Attributes
    ----------
    emotions : tuple of str
    k : int
    observed : (E,) float64 array
    ci_low, ci_high : (E,) float64 arrays
        Percentile interval at ``confidence`` (NaN if every resample was skipped).
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

    def __post_init__(self) -> None:
        _freeze(self)


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


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise EmoalignError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _vector_groups(
    vectors: Mapping[str, np.ndarray], what: str, context: str, order: Sequence[str] | None = None
) -> tuple[tuple[str, ...], list[np.ndarray]]:
    if not isinstance(vectors, Mapping) or len(vectors) == 0:
        raise EmoalignError(f"{what} must be a non-empty mapping emotion -> (n, d) array{_where(context)}")
    names = tuple(vectors) if order is None else tuple(order)
    groups: list[np.ndarray] = []
    dim: int | None = None
    for name in names:
        X = _as_matrix(vectors[name], f"{what} of {name!r}", context)
        if dim is not None and X.shape[1] != dim:
            raise EmoalignError(
                f"{what} of {name!r} have d={X.shape[1]}, other emotions have d={dim}{_where(context)}"
            )
        dim = X.shape[1]
        groups.append(X)
    return names, groups


def _paired_groups(
    source_vectors: Mapping[str, np.ndarray],
    target_vectors: Mapping[str, np.ndarray],
    k: int,
    context: str,
) -> tuple[tuple[str, ...], list[np.ndarray], list[np.ndarray]]:
    names, S = _vector_groups(source_vectors, "source emotion vectors", context)
    if not isinstance(target_vectors, Mapping) or set(target_vectors) != set(names):
        got = sorted(target_vectors) if isinstance(target_vectors, Mapping) else type(target_vectors).__name__
        raise EmoalignError(
            f"source and target emotion vectors must have the same emotions, got {sorted(names)} "
            f"and {got}{_where(context)}"
        )
    _, T = _vector_groups(target_vectors, "target emotion vectors", context, order=names)
    for name, Xs, Xt in zip(names, S, T):
        if Xs.shape[0] != Xt.shape[0]:
            raise EmoalignError(
                f"emotion {name!r} has {Xs.shape[0]} source and {Xt.shape[0]} target vectors; they must be "
                f"paired prompt by prompt{_where(context)}"
            )
        where = f"emotion {name!r}" + (f", {context}" if context else "")
        _check_k(k, Xs.shape[0], Xs.shape[1], where + " (source)")
        _check_k(k, Xt.shape[0], Xt.shape[1], where + " (target)")
    return names, S, T


def _check_weight(weight: Any, d_t: int, d_s: int, context: str) -> np.ndarray:
    W = getattr(weight, "weight", weight)  # a LinearMap works too
    W = _as_matrix(W, "map weight", context)
    if W.shape != (d_t, d_s):
        raise EmoalignError(
            f"map weight has shape {W.shape}, expected (d_t, d_s) = ({d_t}, {d_s}) "
            f"(target -> source){_where(context)}"
        )
    return W


# ----------------------------------------------------------------------------------------------
# reduced-coordinate kernels


def _span(X: np.ndarray, k: int, what: str, context: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates C (n, r) and orthonormal basis B (r, d) of the row span of X: X = C @ B."""
    U, s, Vt = _thin_svd(X)
    if s.size < k:
        raise EmoalignError(
            f"{what} span only {s.size} dimension(s); k={k} components are undefined{_where(context)}"
        )
    return U * s, Vt


def _image_span(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """M (r, d) = Z (r, r') @ R (r', d) with R orthonormal rows (numerical rank r'; may be 0)."""
    U, s, Vt = _thin_svd(M)
    return U * s, Vt


def _top_k_rows(Xc: np.ndarray, k: int) -> np.ndarray:
    """Top-k right singular directions of every (m, r) slice of Xc (B, m, r) -> (B, k, r).

    Eigen-decomposes the smaller of the Gram (m x m) and covariance (r x r) matrices; slices whose
    top-k spectrum is badly graded (a component <= 1e-6 of the first) are redone by SVD.
    Rows are orthonormal; signs are arbitrary (overlaps do not depend on them).
    """
    m, r = Xc.shape[1:]
    if m <= r:
        w, v = np.linalg.eigh(Xc @ np.swapaxes(Xc, 1, 2))
        w = w[:, ::-1][:, :k]
        v = v[:, :, ::-1][:, :, :k]
        basis = (np.swapaxes(v, 1, 2) @ Xc) / np.sqrt(np.clip(w, 1e-300, None))[:, :, None]
    else:
        w, v = np.linalg.eigh(np.swapaxes(Xc, 1, 2) @ Xc)
        w = w[:, ::-1][:, :k]
        basis = np.ascontiguousarray(np.swapaxes(v[:, :, ::-1][:, :, :k], 1, 2))
    top = w[:, :1]
    weak = np.flatnonzero(np.any(w <= 1e-6 * top, axis=1) | (top[:, 0] <= 0))
    if weak.size:
        _, _, vt = np.linalg.svd(Xc[weak], full_matrices=False)
        basis[weak] = vt[:, :k, :]
    return basis


def _pca_batched(X: np.ndarray, k: int) -> np.ndarray:
    """Top-k centred-PCA directions of every (n, r) slice of X (B, n, r) -> (B, k, r), orthonormal rows."""
    return _top_k_rows(X - X.mean(axis=1, keepdims=True), k)


def _pca_resampled(C: np.ndarray, idx: np.ndarray, k: int) -> np.ndarray:
    """Centred-PCA directions of the resamples ``C[idx[b]]`` (with repeats) -> (B, k, r).

    A resample with counts c_i over its m distinct rows has the same scatter matrix as the
    weighted rows ``sqrt(c_i) (x_i - mean)``, so the Gram matrix is m x m instead of n x n
    (m is about 0.63 n for a bootstrap): about 4x less eigen-decomposition work. Resamples are
    grouped by m so every group is one stacked decomposition.
    """
    B, n = idx.shape
    N = C.shape[0]
    counts = np.bincount((np.arange(B)[:, None] * N + idx).ravel(), minlength=B * N).reshape(B, N)
    present = counts > 0
    m_of = present.sum(axis=1)
    out = np.empty((B, k, C.shape[1]))
    for m in np.unique(m_of):
        sel = np.flatnonzero(m_of == m)
        cols = np.nonzero(present[sel])[1].reshape(sel.size, m)  # sorted distinct rows
        w = np.take_along_axis(counts[sel], cols, axis=1).astype(np.float64)
        X = C[cols]  # (b, m, r)
        mean = np.einsum("bm,bmr->br", w, X) / n
        out[sel] = _top_k_rows(np.sqrt(w)[:, :, None] * (X - mean[:, None, :]), k)
    return out


def _overlap_rows(H: np.ndarray, A: np.ndarray, k: int, d: int) -> np.ndarray:
    """Overlap of orthonormal bases H (..., k, r) with the row spaces of A (..., k, r).

    A is orthonormalised (SVD, rows with ``s <= max(k, d) * eps * s_max`` dropped, as
    :func:`orthonormal_basis` does); lost directions count as orthogonal (denominator k).
    ``d`` is the dimension of the ambient space (for the rank tolerance).
    """
    if A.shape[-1] == 0:
        return np.zeros(np.broadcast_shapes(H.shape[:-2], A.shape[:-2]))
    _, s, vh = np.linalg.svd(A, full_matrices=False)
    keep = s > s[..., :1] * (max(A.shape[-2], d) * _EPS)
    M = H @ np.swapaxes(vh, -1, -2)
    value = np.einsum("...ij,...ij->...", M * M, np.broadcast_to(keep[..., None, :], M.shape)) / k
    return np.clip(value, 0.0, 1.0)


def _chunks(n: int, size: int = _CHUNK) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def permutation_p_value(null: np.ndarray, observed: np.ndarray | float) -> np.ndarray:
    """``(1 + #{null >= observed}) / (1 + N)`` along axis 0 (values within 1e-12 count as ties).

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
    count = np.sum(valid & (N >= obs - _TIE_TOL), axis=0)
    total = np.sum(valid, axis=0)
    p = (1.0 + count) / (1.0 + total)
    return np.where(np.isnan(obs), np.nan, p)


def _null_summary(null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if null.shape[0] == 0:
        nan = np.full(null.shape[1:], np.nan)
        return nan, nan
    return np.mean(null, axis=0), np.percentile(null, 95, axis=0)


# ----------------------------------------------------------------------------------------------
# emotion-label null


def label_permutations(n_total: int, n_permutations: int, seed: int = 0) -> np.ndarray:
    """The relabellings used by :func:`label_permutation_null`.

    Parameters
    ----------
    n_total : int
        Number of pooled emotion prompts (sum of group sizes).
    n_permutations : int
    seed : int

    Returns
    -------
    (n_permutations, n_total) int array
        Row n is a permutation of ``range(n_total)``; emotion e (in mapping order, occupying
        pooled positions ``offset_e : offset_e + n_e``) receives the prompts
        ``perm[offset_e : offset_e + n_e]``. Depends only on (n_total, n_permutations, seed).
    """
    n_total = _check_int(n_total, "n_total", 1)
    n_permutations = _check_int(n_permutations, "n_permutations", 0)
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(n_total), (n_permutations, 1)), axis=1)


def label_permutation_null(
    source_vectors: Mapping[str, np.ndarray],
    target_vectors: Mapping[str, np.ndarray],
    weight: np.ndarray,
    k: int,
    *,
    n_permutations: int = 200,
    seed: int = 0,
    context: str = "",
) -> LabelNullResult:
    """Emotion-label permutation test of emotion-specific alignment (labels permuted in the target only).

    The source subspace of e stays fixed. Each permutation relabels the pooled target emotion
    vectors (group sizes kept); the target subspace of "e" is refitted on the prompts that now
    carry label e, mapped, and compared with the source subspace of e. Permuting both models
    jointly would keep the prompt pairing and let a perfect twin score ~1 under the null.

    Parameters
    ----------
    source_vectors : mapping emotion -> (n_e, d_s) array
        Source-model emotion vectors; the mapping order fixes the emotion order and the pooling.
    target_vectors : mapping emotion -> (n_e, d_t) array
        Target-model emotion vectors, same emotions, rows paired with the source's.
    weight : (d_t, d_s) array or LinearMap
        Target -> source map (linear part).
    k : int
        Subspace dimension (<= n_e - 1, d_s, d_t).
    n_permutations : int
        N (default 200). The relabellings are :func:`label_permutations` ``(n_total, N, seed)``:
        identical across emotions and across layer pairs with the same seed and group sizes.
    seed : int
    context : str
        Phrase naming the model pair/layers, used in error messages.

    Returns
    -------
    LabelNullResult
    """
    n_permutations = _check_int(n_permutations, "n_permutations", 0)
    names, S, T = _paired_groups(source_vectors, target_vectors, k, context)
    if len(names) < 2:
        raise EmoalignError(
            f"the emotion-label null needs at least two emotions to permute labels among, "
            f"got {list(names)}{_where(context)}"
        )
    d_s, d_t = S[0].shape[1], T[0].shape[1]
    W = _check_weight(weight, d_t, d_s, context)
    E = len(names)
    sizes = [X.shape[0] for X in S]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    groups = [np.arange(offsets[i], offsets[i + 1]) for i in range(E)]

    Cs, Bs = _span(np.vstack(S), k, "the pooled source emotion vectors", context)
    Ct, Bt = _span(np.vstack(T), k, "the pooled target emotion vectors", context)
    Z, R = _image_span(Bt @ W)  # mapped target span: B_t W = Z R
    P = Bs @ R.T  # source coordinates -> R coordinates

    Vs = np.stack([_pca_batched(Cs[g][None], k)[0] for g in groups])  # (E, k, r_s)
    H = Vs @ P  # (E, k, r'): source bases projected on the mapped-target span
    Vt = np.stack([_pca_batched(Ct[g][None], k)[0] for g in groups])  # (E, k, r_t)
    cross = _overlap_rows(H[:, None], (Vt @ Z)[None, :], k, d_s)  # (E, E)
    observed = np.diag(cross).copy()
    specificity = observed - (cross.sum(axis=1) - observed) / (E - 1)

    perms = label_permutations(int(offsets[-1]), n_permutations, seed)
    null = np.empty((n_permutations, E))
    for sl in _chunks(n_permutations):
        for e in range(E):
            idx = perms[sl, offsets[e] : offsets[e + 1]]
            Vnull = _pca_batched(Ct[idx], k)
            null[sl, e] = _overlap_rows(H[e], Vnull @ Z, k, d_s)

    p = permutation_p_value(null, observed)
    mean, p95 = _null_summary(null)
    return LabelNullResult(
        emotions=names,
        k=int(k),
        chance=float(k) / d_s,
        observed=observed,
        null=null,
        p_values=p,
        null_mean=mean,
        null_p95=p95,
        cross_overlap=cross,
        specificity=specificity,
        n_permutations=n_permutations,
        seed=int(seed),
    )


# ----------------------------------------------------------------------------------------------
# pairing null


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
    **map_kwargs
        Options of the map method (``alphas``, ``n_folds``, ``n_components``, ``reduce_to``).

    Returns
    -------
    PairingNullResult
    """
    n_permutations = _check_int(n_permutations, "n_permutations", 0)
    names, S, T = _paired_groups(source_vectors, target_vectors, k, context)
    Xt, Xs = _check_pairs(fit_target, fit_source, context)
    d_s, d_t = S[0].shape[1], T[0].shape[1]
    if Xt.shape[1] != d_t or Xs.shape[1] != d_s:
        raise EmoalignError(
            f"map fit data have d_t={Xt.shape[1]}, d_s={Xs.shape[1]} but the emotion vectors have "
            f"d_t={d_t}, d_s={d_s}{_where(context)}"
        )
    E, n = len(names), Xt.shape[0]
    Qs = np.stack([fit_subspace(X, k, context=context).basis for X in S])  # (E, k, d_s)
    Ut = np.stack([fit_subspace(X, k, context=context).basis for X in T])  # (E, k, d_t)
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

    observed = _overlap_rows(Qs, mapped(np.arange(n)), k, d_s)
    rng = np.random.default_rng(seed)
    null = np.empty((n_permutations, E))
    for i in range(n_permutations):
        null[i] = _overlap_rows(Qs, mapped(rng.permutation(n)), k, d_s)
    p = permutation_p_value(null, observed)
    mean, p95 = _null_summary(null)
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


# ----------------------------------------------------------------------------------------------
# bootstrap


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
) -> BootstrapResult:
    """Percentile bootstrap CI of each emotion's observed overlap, resampling prompt PAIRS.

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
        Coverage of the percentile interval (default 0.95).
    seed : int
        Each emotion draws from its own stream ``SeedSequence(seed).spawn(E)[e]``.
    context : str

    Returns
    -------
    BootstrapResult
    """
    n_bootstrap = _check_int(n_bootstrap, "n_bootstrap", 1)
    if not 0.0 < float(confidence) < 1.0:
        raise EmoalignError(f"confidence must be in (0, 1), got {confidence!r}")
    names, S, T = _paired_groups(source_vectors, target_vectors, k, context)
    d_s, d_t = S[0].shape[1], T[0].shape[1]
    W = _check_weight(weight, d_t, d_s, context)
    E = len(names)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(E)]
    observed = np.empty(E)
    boot = np.full((n_bootstrap, E), np.nan)
    n_redrawn = np.zeros(E, dtype=np.int64)
    n_skipped = np.zeros(E, dtype=np.int64)
    for e, name in enumerate(names):
        where = f"emotion {name!r}" + (f", {context}" if context else "")
        Cs, Bs = _span(S[e], k, "the source emotion vectors", where)
        Ct, Bt = _span(T[e], k, "the target emotion vectors", where)
        Z, R = _image_span(Bt @ W)
        P = Bs @ R.T
        n = Cs.shape[0]
        Hobs = _pca_batched(Cs[None], k) @ P
        observed[e] = _overlap_rows(Hobs, _pca_batched(Ct[None], k) @ Z, k, d_s)[0]
        idx, redrawn, skip = _bootstrap_indices(n, n_bootstrap, k + 1, streams[e])
        n_redrawn[e], n_skipped[e] = redrawn, int(skip.sum())
        rows = np.flatnonzero(~skip)
        for sl in _chunks(rows.size):
            sel = idx[rows[sl]]
            H = _pca_resampled(Cs, sel, k) @ P
            A = _pca_resampled(Ct, sel, k) @ Z
            boot[rows[sl], e] = _overlap_rows(H, A, k, d_s)
    lo_q, hi_q = (1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0
    finite = np.isfinite(boot).any(axis=0)
    ci_low = np.full(E, np.nan)
    ci_high = np.full(E, np.nan)
    bias = np.full(E, np.nan)
    if finite.any():
        ci_low[finite] = np.nanquantile(boot[:, finite], lo_q, axis=0)
        ci_high[finite] = np.nanquantile(boot[:, finite], hi_q, axis=0)
        bias[finite] = np.nanmean(boot[:, finite], axis=0) - observed[finite]
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
    )


# ----------------------------------------------------------------------------------------------
# split-half noise ceiling


def _split_permutations(n: int, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permuted(np.tile(np.arange(n), (n_splits, 1)), axis=1)


def split_half_ceiling(
    vectors: Mapping[str, np.ndarray],
    k: int,
    *,
    n_splits: int = 50,
    seed: int = 0,
    context: str = "",
) -> CeilingResult:
    """Split-half noise ceiling of one model's emotion subspaces.

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
        U, sv, _ = _thin_svd(X)
        C = U * sv  # coordinates in an orthonormal basis of the span (overlaps are invariant)
        if C.shape[1] < k:
            reasons.append(f"the vectors of {name!r} span only {C.shape[1]} dimension(s) < k={k}")
            continue
        perms = _split_permutations(X.shape[0], n_splits, streams[e])
        V1 = _pca_batched(C[perms[:, :h]], k)
        V2 = _pca_batched(C[perms[:, h:]], k)
        M = V1 @ np.swapaxes(V2, 1, 2)
        splits[:, e] = np.clip(np.einsum("bij,bij->b", M, M) / k, 0.0, 1.0)
        reasons.append(None)
    ok = ~np.isnan(splits[0])
    mean = np.full(E, np.nan)
    mean[ok] = splits[:, ok].mean(axis=0)
    return CeilingResult(
        emotions=names,
        k=k,
        chance=float(k) / d,
        mean=mean,
        splits=splits,
        half_size=half,
        reasons=tuple(reasons),
        n_splits=n_splits,
        seed=int(seed),
    )


# ----------------------------------------------------------------------------------------------
# multiple comparisons, grid max, verdicts


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up FDR adjustment).

    Parameters
    ----------
    p_values : array of any shape
        p-values in [0, 1]; NaN entries are passed through and not counted in m.

    Returns
    -------
    float64 array of the same shape: ``q_(i) = min_{j >= i} m p_(j) / j``, capped at 1,
    monotone in p. Equals ``scipy.stats.false_discovery_control(p, method="bh")``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    flat = p.reshape(-1)
    valid = ~np.isnan(flat)
    pv = flat[valid]
    if np.any((pv < 0) | (pv > 1)):
        raise EmoalignError(f"p-values must lie in [0, 1], got values from {pv.min()} to {pv.max()}")
    q = np.full(flat.shape, np.nan)
    m = pv.size
    if m:
        order = np.argsort(pv, kind="stable")
        scaled = pv[order] * m / np.arange(1, m + 1)
        scaled = np.minimum.accumulate(scaled[::-1])[::-1]
        out = np.empty(m)
        out[order] = np.minimum(scaled, 1.0)
        q[valid] = out
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
