"""Small linear-algebra kernels shared by the maps and the statistics (float64, numerically
non-zero directions only)."""

from __future__ import annotations

import numpy as np

__all__ = ["thin_svd", "row_spectrum"]


def thin_svd(Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD ``Xc = U diag(s) Vt`` keeping only numerically non-zero singular values."""
    if Xc.shape[1] > Xc.shape[0]:
        # LAPACK is faster on the tall orientation (QR first): factor Xc^T and swap.
        V, s, Ut = np.linalg.svd(Xc.T, full_matrices=False)
        U, Vt = Ut.T, V.T
    else:
        U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return U[:, :0], s[:0], Vt[:0]
    keep = s > s[0] * max(Xc.shape) * np.finfo(np.float64).eps
    return U[:, keep], s[keep], Vt[keep]


def row_spectrum(
    Xc: np.ndarray | None = None, gram: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(U, e, Vt)`` with ``Xc Xc^T = U diag(e) U^T``, e > 0 only.

    From the Gram matrix (dual path, d >= n; Vt is None) or from a thin SVD of ``Xc`` (primal).
    """
    if gram is not None:
        e, U = np.linalg.eigh(gram)
        e, U = e[::-1], U[:, ::-1]
        if e.size == 0 or e[0] <= 0:
            return U[:, :0], e[:0], None
        keep = e > e[0] * gram.shape[0] * np.finfo(np.float64).eps
        return U[:, keep], e[keep], None
    assert Xc is not None
    U, s, Vt = thin_svd(Xc)
    return U, s**2, Vt
