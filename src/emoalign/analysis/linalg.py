"""Small linear-algebra kernels shared by the maps and the statistics (float64, numerically
non-zero directions only)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "FLOAT32_RTOL",
    "TIE_TOL",
    "thin_svd",
    "row_spectrum",
    "numerical_rank",
    "centred_rank",
    "count_distinct_rows",
]

# ----------------------------------------------------------------------------------------------
# numerical resolution of data derived from float32 activations

#: Relative rank tolerance of data derived from float32 activations: singular values below
#: ``FLOAT32_RTOL`` x the largest are round-off, not data. Activations are stored as float32
#: (unit round-off 2**-24 ~ 6e-8 relative) and come out of sums over hundreds to thousands of
#: terms in the forward pass, so their accumulated relative error reaches ~1e-7 to 1e-6; analysing
#: them in float64 does not bring the lost digits back. The float64 rule ``max(n, d) * eps``
#: (~1e-13) counts such round-off as dimensions.
FLOAT32_RTOL = 1e-6

#: Overlaps (and other statistics in [0, 1] built from float32-derived data) closer than this
#: count as ties in every permutation p-value. 1e-5 is ~84 float32 ulps at 1.0 (2**-23 = 1.19e-7):
#: an overlap moves to first order by (perturbation / relative spectral gap), so the round-off
#: above (up to FLOAT32_RTOL) makes differences below ~1e-5 unresolvable for gaps >= 0.1. An exact
#: planted twin gives overlaps within ~5e-7 of 1 for true and relabelled prompt groups alike:
#: without this tolerance, round-off decides which of them is "larger".
TIE_TOL = 1e-5


def thin_svd(Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD ``Xc = U diag(s) Vt`` keeping only numerically non-zero singular values.

    The float64 rule (``s > max(n, d) * eps * s_max``) keeps the factorisation an exact change of
    coordinates; how many of those directions are data is :func:`numerical_rank`'s question."""
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


def numerical_rank(X: np.ndarray, rtol: float = FLOAT32_RTOL) -> int:
    """Number of singular values of ``X`` above ``rtol`` × the largest (0 for a zero matrix).

    The default (:data:`FLOAT32_RTOL`) suits activations stored as float32: directions below 1e-6
    of the largest are round-off, not data. ``numpy.linalg.matrix_rank(X, tol=rtol * s_max)`` is
    the same count."""
    s = np.linalg.svd(np.asarray(X, dtype=np.float64), compute_uv=False)
    return int(np.count_nonzero(s > rtol * s[0])) if s.size and s[0] > 0 else 0


def centred_rank(X: np.ndarray, rtol: float = FLOAT32_RTOL) -> int:
    """:func:`numerical_rank` of the rows of ``X`` centred on their mean: the number of principal
    components a centred PCA of ``X`` can give that are data, not round-off."""
    A = np.asarray(X, dtype=np.float64)
    return numerical_rank(A - A.mean(axis=0), rtol) if A.shape[0] else 0


def count_distinct_rows(X: np.ndarray, rtol: float = FLOAT32_RTOL) -> int:
    """Number of distinct rows of ``X`` (n, d): rows closer than ``rtol`` × the largest row norm are
    one (transitively: the connected components of the "closer than" graph).

    Prompts that share the left context up to their emotion word give identical vectors in a
    causal model; this counts what is left. O(n² d) through one Gram matrix (n of a few hundred)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    A = np.asarray(X, dtype=np.float64)
    n = A.shape[0]
    if n <= 1:
        return n
    sq = np.einsum("ij,ij->i", A, A)
    scale = float(sq.max())
    if scale == 0.0:
        return 1
    # candidates from the Gram matrix (its cancellation errs by ~eps * scale), then measured directly
    dist2 = sq[:, None] + sq[None, :] - 2.0 * (A @ A.T)
    i, j = np.nonzero(np.triu(dist2 <= (rtol * rtol + 64 * np.finfo(np.float64).eps) * scale, k=1))
    same = np.linalg.norm(A[i] - A[j], axis=1) <= rtol * np.sqrt(scale)
    graph = coo_matrix((np.ones(int(same.sum())), (i[same], j[same])), shape=(n, n))
    return int(connected_components(graph, directed=False)[0])
