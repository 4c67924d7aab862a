"""Subspace overlap: a bounded similarity of two subspaces, plus the original study's legacy metric.

``subspace_overlap`` orthonormalises both bases and returns the mean cos² of the principal
angles, in [0, 1] (identical -> 1, random k-subspaces of R^d -> about k/d).

``legacy_overlap`` / ``legacy_before`` reproduce the original study's numbers only. They are not
similarities: for orthonormal k-row bases they cannot exceed 1/k (0.125 at k=8), and values above
that come only from the scale of the mapped (not re-orthonormalised) basis.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from emoalign.analysis.linalg import FLOAT32_RTOL
from emoalign.analysis.validation import as_matrix as _as_matrix
from emoalign.analysis.validation import where as _where
from emoalign.core.errors import EmoalignError

__all__ = [
    "orthonormal_basis",
    "subspace_overlap",
    "principal_angles",
    "legacy_overlap",
    "legacy_before",
    "subspace_overlap_batched",
]


def orthonormal_basis(U: np.ndarray, *, rtol: float | None = None, context: str = "") -> np.ndarray:
    """Orthonormal basis of the row space of ``U`` (pivoted QR), numerically-null directions dropped.

    Parameters
    ----------
    U : (k, d) array
        Spanning rows (e.g. a mapped subspace basis).
    rtol : float, optional
        The numerical rank k' counts the singular values of ``U`` above ``rtol`` × the largest;
        default :data:`~emoalign.analysis.linalg.FLOAT32_RTOL` (1e-6): the bases come from float32
        activations, and a direction a map shrinks below 1e-6 of the others is round-off, not a
        direction (``max(k, d) * eps`` would keep it and count it as a full dimension). Input with
        condition number below 1e6 keeps every row, as before.
    context : str
        Phrase used in error messages.

    Returns
    -------
    (k', d) float64 array with orthonormal rows, k' = numerical rank of ``U`` (possibly 0).
    """
    A = _as_matrix(U, "basis", context)
    k, d = A.shape
    Q, R, _ = scipy.linalg.qr(A.T, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    if diag.size == 0 or diag[0] == 0:
        return np.zeros((0, d))
    # the rank from the singular values, as the batched overlap of the statistics counts it
    s = np.linalg.svd(A, compute_uv=False)
    tol = max(FLOAT32_RTOL if rtol is None else float(rtol), max(k, d) * np.finfo(np.float64).eps) * s[0]
    rank = int(np.count_nonzero(s > tol))
    return np.ascontiguousarray(Q[:, :rank].T)


def _pair(U: np.ndarray, V: np.ndarray, context: str) -> tuple[np.ndarray, np.ndarray, int]:
    A = _as_matrix(U, "first basis", context)
    B = _as_matrix(V, "second basis", context)
    if A.shape[1] != B.shape[1]:
        raise EmoalignError(
            f"subspaces live in different spaces (d={A.shape[1]} vs d={B.shape[1]}){_where(context)}; "
            "map one into the other first"
        )
    QA, QB = orthonormal_basis(A, context=context), orthonormal_basis(B, context=context)
    if QA.shape[0] == 0 or QB.shape[0] == 0:
        raise EmoalignError(f"cannot compare a subspace spanned only by zero vectors{_where(context)}")
    return QA, QB, min(A.shape[0], B.shape[0])


def subspace_overlap(U: np.ndarray, V: np.ndarray, *, context: str = "") -> float:
    """Overlap of two subspaces: ``||Q_U Q_V^T||_F^2 / min(k1, k2)`` in [0, 1].

    Both row sets are orthonormalised first, so the result is the mean cos² of the principal
    angles. If a basis is rank-deficient (e.g. a map collapsed two directions), the lost
    directions count as orthogonal: the denominator stays ``min(k1, k2)`` of the inputs.

    Parameters
    ----------
    U : (k1, d) array
    V : (k2, d) array
    context : str
        Phrase used in error messages.

    Returns
    -------
    float
        1 for identical subspaces, about ``max(k1, k2) / d`` for random ones.
    """
    QA, QB, k = _pair(U, V, context)
    value = float(np.sum((QA @ QB.T) ** 2)) / k
    return min(max(value, 0.0), 1.0)


def principal_angles(U: np.ndarray, V: np.ndarray, *, context: str = "") -> np.ndarray:
    """Principal angles between the row spaces of ``U`` and ``V``, in radians, ascending.

    Parameters
    ----------
    U : (k1, d) array
    V : (k2, d) array
    context : str
        Phrase used in error messages.

    Returns
    -------
    (min(k1, k2),) float64 array in [0, pi/2]; directions lost to rank deficiency appear as pi/2,
    so ``mean(cos(angles)**2) == subspace_overlap(U, V)``.
    """
    QA, QB, k = _pair(U, V, context)
    # scipy's routine is accurate for small angles too (sine-based); inputs are already orthonormal.
    angles = np.sort(scipy.linalg.subspace_angles(QA.T, QB.T))
    if angles.size < k:
        angles = np.concatenate([angles, np.full(k - angles.size, np.pi / 2)])
    return angles


def legacy_overlap(U: np.ndarray, V: np.ndarray, *, context: str = "") -> float:
    """The original study's overlap (legacy; not a similarity): ``mean((U V^T)^2)`` clipped to [0, 1].

    ``V`` is used as given (NOT re-orthonormalised), e.g. a target basis pushed through a map.
    For orthonormal U and V this equals ``||U V^T||_F^2 / (k1 k2) <= 1 / max(k1, k2)``
    (0.125 at k=8); larger values arise only from the scale of V.

    Parameters
    ----------
    U : (k1, d_s) array
        Source basis.
    V : (k2, d_s) array
        Mapped target basis.
    context : str
        Phrase used in error messages.

    Returns
    -------
    float in [0, 1]
    """
    A = _as_matrix(U, "source basis", context)
    B = _as_matrix(V, "mapped target basis", context)
    if A.shape[1] != B.shape[1]:
        raise EmoalignError(
            f"legacy overlap needs bases of equal dimension, got d={A.shape[1]} and "
            f"d={B.shape[1]}{_where(context)} (use legacy_before for unmapped bases)"
        )
    value = float(np.mean((A @ B.T) ** 2))
    return min(max(value, 0.0), 1.0)


def legacy_before(U_source: np.ndarray, U_target: np.ndarray, *, context: str = "") -> float:
    """The original study's "before" overlap (legacy): target basis cut to the source dimension.

    The target basis is truncated to its first d_s coordinates (zero-padded when d_t < d_s),
    then compared with :func:`legacy_overlap`. Coordinates of two different models are
    unrelated, so this is a chance-level number, about ``(d_s / d_t) / d_s`` per entry.

    Parameters
    ----------
    U_source : (k1, d_s) array
    U_target : (k2, d_t) array
    context : str
        Phrase used in error messages.

    Returns
    -------
    float in [0, 1]
    """
    A = _as_matrix(U_source, "source basis", context)
    B = _as_matrix(U_target, "target basis", context)
    d_s, d_t = A.shape[1], B.shape[1]
    if d_t >= d_s:
        B = B[:, :d_s]
    else:
        B = np.concatenate([B, np.zeros((B.shape[0], d_s - d_t))], axis=1)
    return legacy_overlap(A, B, context=context)


def subspace_overlap_batched(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Overlap of many pairs of ORTHONORMAL bases at once (no orthonormalisation, no checks).

    Parameters
    ----------
    U : (..., k1, d) array
    V : (..., k2, d) array
        Leading dimensions broadcast (e.g. one (k, d) source basis against (B, k, d) null bases).

    Returns
    -------
    (...,) float64 array: ``||U V^T||_F^2 / min(k1, k2)``, clipped to [0, 1].
    """
    A = np.asarray(U, dtype=np.float64)
    B = np.asarray(V, dtype=np.float64)
    if A.ndim < 2 or B.ndim < 2 or A.shape[-1] != B.shape[-1]:
        raise EmoalignError(f"batched overlap needs (..., k, d) bases of equal d, got {A.shape} and {B.shape}")
    M = A @ np.swapaxes(B, -1, -2)
    k = min(A.shape[-2], B.shape[-2])
    return np.clip(np.einsum("...ij,...ij->...", M, M) / k, 0.0, 1.0)
