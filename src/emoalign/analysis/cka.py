"""Debiased linear CKA: a global similarity of two models' activations on the same inputs."""

from __future__ import annotations

import numpy as np

from emoalign.analysis.validation import as_matrix, where
from emoalign.core.errors import EmoalignError

__all__ = ["linear_cka_debiased"]


def _debiased_hsic(xty: float, rows_x: np.ndarray, rows_y: np.ndarray, n: int) -> float:
    """n(n-3) times the unbiased HSIC estimator (Song et al. 2012) for linear kernels.

    ``xty = tr(K L)``, ``rows_x = diag(K)``, ``rows_y = diag(L)`` of column-centred features.
    """
    return float(
        xty
        - n / (n - 2.0) * float(rows_x @ rows_y)
        + float(rows_x.sum()) * float(rows_y.sum()) / ((n - 1.0) * (n - 2.0))
    )


def linear_cka_debiased(X: np.ndarray, Y: np.ndarray, *, context: str = "") -> float:
    """Debiased linear CKA (Kornblith et al. 2019; unbiased HSIC of Song et al. 2012).

    Features are centred first. Works in the Gram (n x n) space when n is smaller than the
    feature dimensions and in the feature space otherwise; both give the same value.

    Parameters
    ----------
    X : (n, d1) array
    Y : (n, d2) array
        Activations of two models (or layers) for the same n inputs, n >= 4.
    context : str
        Phrase naming the model pair/layer, used in error messages.

    Returns
    -------
    float
        1 for ``Y = c X Q`` (Q orthogonal, c != 0); about 0 for independent X and Y. Being
        debiased it can be slightly negative; NaN when a self-similarity estimate is not positive.
    """
    A = as_matrix(X, "first activations", context)
    B = as_matrix(Y, "second activations", context)
    n = A.shape[0]
    if B.shape[0] != n:
        raise EmoalignError(
            f"CKA needs activations for the same inputs, got {n} and {B.shape[0]} rows{where(context)}"
        )
    if n < 4:
        raise EmoalignError(f"debiased CKA needs at least 4 inputs, got {n}{where(context)}")
    A = A - A.mean(axis=0)
    B = B - B.mean(axis=0)
    rows_a = np.einsum("ij,ij->i", A, A)
    rows_b = np.einsum("ij,ij->i", B, B)
    for name, rows in (("first", rows_a), ("second", rows_b)):
        if not np.any(rows > 0):
            raise EmoalignError(f"{name} activations are constant across inputs{where(context)}; CKA is undefined")
    if n < max(A.shape[1], B.shape[1]):
        K, L = A @ A.T, B @ B.T
        kl, kk, ll = float(np.sum(K * L)), float(np.sum(K * K)), float(np.sum(L * L))
    else:
        AB, AA, BB = A.T @ B, A.T @ A, B.T @ B
        kl, kk, ll = float(np.sum(AB**2)), float(np.sum(AA**2)), float(np.sum(BB**2))
    hsic_xy = _debiased_hsic(kl, rows_a, rows_b, n)
    hsic_xx = _debiased_hsic(kk, rows_a, rows_a, n)
    hsic_yy = _debiased_hsic(ll, rows_b, rows_b, n)
    if hsic_xx <= 0 or hsic_yy <= 0:
        return float("nan")
    return hsic_xy / np.sqrt(hsic_xx * hsic_yy)
