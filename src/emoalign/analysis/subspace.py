"""Emotion subspaces: centred PCA (SVD, float64) of per-prompt emotion vectors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emoalign.analysis.linalg import FLOAT32_RTOL
from emoalign.analysis.validation import as_matrix as _as_matrix
from emoalign.analysis.validation import check_k as _check_k
from emoalign.analysis.validation import where as _where
from emoalign.core.errors import EmoalignError

__all__ = ["EmotionSubspace", "fit_subspace", "fit_subspaces_batched"]


@dataclass(frozen=True, eq=False)
class EmotionSubspace:
    """A k-dimensional PCA subspace of emotion vectors.

    Attributes
    ----------
    basis : (k, d) float64 array
        Orthonormal rows, in order of decreasing variance; sign fixed so the largest-|.|
        coordinate of each row is positive.
    explained_variance_ratio : (k,) float64 array
        Variance along each component divided by the total variance of the vectors; components
        below the float32 rank tolerance (:data:`~emoalign.analysis.linalg.FLOAT32_RTOL`) are
        round-off and explain 0.
    mean : (d,) float64 array
        Mean of the vectors that were centred before the SVD.
    n_samples : int
        Number of vectors the subspace was fitted on.
    """

    basis: np.ndarray
    explained_variance_ratio: np.ndarray
    mean: np.ndarray
    n_samples: int

    def __post_init__(self) -> None:
        basis = np.array(self.basis, dtype=np.float64)
        ratio = np.array(self.explained_variance_ratio, dtype=np.float64).reshape(-1)
        mean = np.array(self.mean, dtype=np.float64).reshape(-1)
        if basis.ndim != 2 or ratio.shape[0] != basis.shape[0] or mean.shape[0] != basis.shape[1]:
            raise EmoalignError(
                f"inconsistent EmotionSubspace: basis {basis.shape}, "
                f"explained_variance_ratio {ratio.shape}, mean {mean.shape}"
            )
        for name, arr in (("basis", basis), ("explained_variance_ratio", ratio), ("mean", mean)):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "n_samples", int(self.n_samples))

    @property
    def k(self) -> int:
        """Number of components."""
        return int(self.basis.shape[0])

    @property
    def dim(self) -> int:
        """Dimension d of the activation space."""
        return int(self.basis.shape[1])


def _fix_signs(basis: np.ndarray) -> np.ndarray:
    """Flip each row (last two axes: (..., k, d)) so its largest-|.| coordinate is positive."""
    idx = np.argmax(np.abs(basis), axis=-1)
    pivots = np.take_along_axis(basis, idx[..., None], axis=-1)
    signs = np.where(pivots < 0, -1.0, 1.0)
    return basis * signs


def fit_subspace(vectors: np.ndarray, k: int, *, context: str = "") -> EmotionSubspace:
    """Fit a k-dimensional subspace by centred PCA (SVD in float64).

    Parameters
    ----------
    vectors : (n, d) array
        Per-prompt emotion vectors of one emotion at one layer.
    k : int
        Number of components; at most n - 1 and at most d.
    context : str
        Phrase naming the emotion/layer/model, used in error messages
        (e.g. ``"'anger', layer 3 of gpt2"``).

    Returns
    -------
    EmotionSubspace
        Basis rows are the top-k principal directions; ratios are relative to the total variance.
        k is checked against the shape only: components beyond the numerical rank of the centred
        vectors (:func:`~emoalign.analysis.linalg.centred_rank`) are round-off directions with ratio 0
        (the alignment refuses such a k, see :func:`emoalign.analysis.alignment.check_numerical_rank`).
    """
    X = _as_matrix(vectors, "emotion vectors", context)
    n, d = X.shape
    _check_k(k, n, d, context)
    mean = X.mean(axis=0)
    Xc = X - mean
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    total = float(np.sum(s**2))
    if total <= 0.0:
        raise EmoalignError(f"all {n} emotion vectors are identical{_where(context)}; PCA is undefined")
    basis = _fix_signs(vt[:k])
    power = np.where(s > FLOAT32_RTOL * s[0], s**2, 0.0)  # round-off directions explain no variance
    ratio = power[:k] / float(np.sum(power))
    return EmotionSubspace(basis=basis, explained_variance_ratio=ratio, mean=mean, n_samples=n)


def fit_subspaces_batched(vectors: np.ndarray, k: int, *, context: str = "") -> np.ndarray:
    """Fit many subspaces at once (e.g. for permutation nulls or bootstraps).

    Parameters
    ----------
    vectors : (B, n, d) array
        B independent sets of n vectors each.
    k : int
        Number of components; at most n - 1 and at most d.
    context : str
        Phrase used in error messages.

    Returns
    -------
    (B, k, d) float64 array
        Orthonormal bases, same sign convention as :func:`fit_subspace`.
    """
    X = np.asarray(vectors, dtype=np.float64)
    if X.ndim != 3:
        raise EmoalignError(
            f"batched emotion vectors must be a 3-D array (batch x samples x features), "
            f"got shape {X.shape}{_where(context)}"
        )
    B, n, d = X.shape
    _check_k(k, n, d, context)
    if not np.all(np.isfinite(X)):
        raise EmoalignError(f"batched emotion vectors contain NaN/Inf values{_where(context)}")
    Xc = X - X.mean(axis=1, keepdims=True)
    if n > d:
        _, _, vt = np.linalg.svd(Xc, full_matrices=False)
        return _fix_signs(vt[:, :k, :])
    # d >= n: eigen-decompose the small (n x n) Gram matrices (about 10x faster than stacked
    # SVDs at n=70, d=4096) and recover the directions as u^T X / s.
    gram = Xc @ np.swapaxes(Xc, 1, 2)
    evals, evecs = np.linalg.eigh(gram)
    evals = evals[:, ::-1][:, :k]
    evecs = evecs[:, :, ::-1][:, :, :k]
    top = evals[:, :1]
    if np.any(top <= 0):
        raise EmoalignError(f"a batch element has identical emotion vectors{_where(context)}; PCA is undefined")
    basis = np.einsum("bnk,bnd->bkd", evecs, Xc) / np.sqrt(np.clip(evals, 1e-300, None))[:, :, None]
    # Directions with tiny variance are imprecise through the Gram matrix: redo those by SVD.
    weak = np.flatnonzero(np.any(evals < 1e-6 * top, axis=1))
    if weak.size:
        _, _, vt = np.linalg.svd(Xc[weak], full_matrices=False)
        basis[weak] = vt[:, :k, :]
    return _fix_signs(basis)
