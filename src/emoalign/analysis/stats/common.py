"""Shared kernels of the statistics: reduced-coordinate spans, batched PCAs and overlaps (see the
package docstring), batching and result helpers. Input checks live in
:mod:`emoalign.analysis.validation`; the caches the kernels may go through in
:mod:`emoalign.analysis.cache`."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
from scipy.linalg import lapack as _lapack

from emoalign.analysis.cache import ResampleCache, content_key
from emoalign.analysis.linalg import FLOAT32_RTOL, centred_rank
from emoalign.analysis.linalg import thin_svd as _thin_svd
from emoalign.analysis.validation import where as _where
from emoalign.core.errors import EmoalignError

__all__ = [
    "CHUNK",
    "chunk_slices",
    "freeze_arrays",
    "image_span",
    "null_summary",
    "overlap_rows",
    "pca_batched",
    "pca_of_rows",
    "pca_resampled",
    "row_span",
    "top_k_eigh",
]

_EPS = np.finfo(np.float64).eps
CHUNK = 512  # batch size of the stacked PCAs (memory: chunk * n * r floats)
# smallest / largest eigenvalue of A A^T (cond(A) < 1e4) above which A is orthonormalised through A A^T
_WELL_CONDITIONED = 1e-8


def freeze_arrays(obj: Any) -> None:
    """Make every array field of the (frozen) dataclass ``obj`` a read-only copy."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray):
            value = np.array(value)
            value.flags.writeable = False
            object.__setattr__(obj, f.name, value)


# ----------------------------------------------------------------------------------------------
# reduced-coordinate kernels


def row_span(
    X: np.ndarray, k: int, what: str, context: str, cache: ResampleCache | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates C (n, r) and orthonormal basis B (r, d) of the row span of X: X = C @ B
    (the SVD through ``cache`` if given). The coordinates keep every direction above float64
    round-off (an exact change of coordinates); k is checked against the numerical rank of the
    centred rows (:data:`~emoalign.analysis.linalg.FLOAT32_RTOL`), read off C."""

    def span() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        U, s, Vt = _thin_svd(X)
        C = U * s
        return C, s, Vt, np.array(centred_rank(C) if s.size else 0)

    C, s, Vt, rank = span() if cache is None else cache.get(content_key("span", X), span)
    if int(rank) < k:
        raise EmoalignError(
            f"{what} span only {int(rank)} dimension(s) once centred (singular values below {FLOAT32_RTOL:g} of "
            f"the largest are float32 round-off); k={k} components are undefined{_where(context)}"
        )
    return C, Vt


def image_span(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """M (r, d) = Z (r, r') @ R (r', d) with R orthonormal rows (numerical rank r'; may be 0)."""
    U, s, Vt = _thin_svd(M)
    return U * s, Vt


def top_k_eigh(G: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k eigenpairs of every symmetric (m, m) slice of G (B, m, m): values (B, k) and vectors
    (B, m, k), both in decreasing order of the eigenvalue.

    Per slice, LAPACK as ``np.linalg.eigh`` starts (tridiagonal reduction, dsytrd), then only what
    the top k need: every eigenvalue of the tridiagonal matrix (dsterf), inverse iteration for the
    top k (dstein) and their back-transformation (dormqr). A full eigh also computes and
    back-transforms the m - k vectors nobody reads: about twice the work at m = 70. Every slice is
    checked (residual and orthogonality within ``64 m eps`` of the largest eigenvalue); any that
    fails, or where LAPACK reports a failure, is recomputed by ``np.linalg.eigh``.
    """
    B, m, _ = G.shape
    values = np.zeros((B, k))  # slices left at zero fail the check below and are redone
    vectors = np.zeros((B, m, k))
    block = np.ones(m, dtype=np.int32)  # dstein: every eigenvalue in the one block 1 .. m
    split = np.zeros(m, dtype=np.int32)
    split[0] = m
    redo: list[int] = []
    for b in range(B):
        # G[b] is symmetric: its transpose is the same matrix, already in the Fortran order LAPACK reads
        a, d, e, tau, info = _lapack.dsytrd(G[b].T, lower=1)
        ev, info_ev = _lapack.dsterf(d, e)
        if info or info_ev:
            redo.append(b)
            continue
        top = ev[m - k :]
        z, info = _lapack.dstein(d, e, top, block, split)
        if info:
            redo.append(b)
            continue
        # Q = H(1) ... H(m-1) leaves the first coordinate alone; the reflectors sit below the subdiagonal of a
        vectors[b, 0] = z[0]
        vectors[b, 1:], _, info = _lapack.dormqr("L", "N", a[1:, :-1], tau, z[1:], max(1, 64 * k))
        values[b] = top
        if info:
            redo.append(b)
    scale = np.abs(values).max(axis=1)
    tol = 64 * m * _EPS
    residual = np.linalg.norm(G @ vectors - vectors * values[:, None, :], axis=1).max(axis=1)
    gram = np.swapaxes(vectors, 1, 2) @ vectors
    orthogonal = np.abs(gram - np.eye(k)).max(axis=(1, 2))
    failed = (residual > tol * scale) | (orthogonal > tol) | ~np.isfinite(residual)
    redo = sorted(set(redo) | set(np.flatnonzero(failed).tolist()))
    if redo:
        w, v = np.linalg.eigh(G[redo])
        values[redo], vectors[redo] = w[:, m - k :], v[:, :, m - k :]
    return values[:, ::-1], vectors[:, :, ::-1]


def _top_k_rows(Xc: np.ndarray, k: int) -> np.ndarray:
    """Top-k right singular directions of every (m, r) slice of Xc (B, m, r) -> (B, k, r).

    Eigen-decomposes the smaller of the Gram (m x m) and covariance (r x r) matrices; slices whose
    top-k spectrum is badly graded (a component <= 1e-6 of the first) are redone by SVD.
    Rows are orthonormal; signs are arbitrary (overlaps do not depend on them).
    """
    m, r = Xc.shape[1:]
    if m <= r:
        w, v = top_k_eigh(Xc @ np.swapaxes(Xc, 1, 2), k)
        basis = (np.swapaxes(v, 1, 2) @ Xc) / np.sqrt(np.clip(w, 1e-300, None))[:, :, None]
    else:
        w, v = top_k_eigh(np.swapaxes(Xc, 1, 2) @ Xc, k)
        basis = np.ascontiguousarray(np.swapaxes(v, 1, 2))
    top = w[:, :1]
    weak = np.flatnonzero(np.any(w <= 1e-6 * top, axis=1) | (top[:, 0] <= 0))
    if weak.size:
        _, _, vt = np.linalg.svd(Xc[weak], full_matrices=False)
        basis[weak] = vt[:, :k, :]
    return basis


def pca_batched(X: np.ndarray, k: int) -> np.ndarray:
    """Top-k centred-PCA directions of every (n, r) slice of X (B, n, r) -> (B, k, r), orthonormal rows."""
    return _top_k_rows(X - X.mean(axis=1, keepdims=True), k)


def _pca_weighted_rows(C: np.ndarray, cols: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Top-k centred-PCA directions of weighted row sets -> (B, k, r), orthonormal rows: set b holds
    the distinct rows ``C[cols[b]]`` (cols: (B, m)) with multiplicities ``weights[b]``.

    The Gram matrix of a set, ``sqrt(w_i w_j) (x_i - mean).(x_j - mean)``, is read off the Gram matrix
    of all rows once centred on their overall mean (so the per-set centring cancels little), instead
    of gathering, centring and multiplying the (m, r) rows of every set; the directions are then
    ``sqrt(w)^T v (X - mean) / sqrt(lambda)``, one (k, N) @ (N, r) product per set.
    """
    B, m = cols.shape
    N, r = C.shape
    n = weights.sum(axis=1)
    if m > r:  # the covariance (r x r) is the smaller matrix
        X = C[cols]
        mean = np.einsum("bm,bmr->br", weights, X) / n[:, None]
        return _top_k_rows(np.sqrt(weights)[:, :, None] * (X - mean[:, None, :]), k)
    C0 = C - C.mean(axis=0)
    K = C0 @ C0.T
    K = 0.5 * (K + K.T)
    sub = K[cols[:, :, None], cols[:, None, :]]  # (B, m, m)
    p = weights / n[:, None]
    a = np.einsum("bij,bj->bi", sub, p)  # x_i . mean
    q = np.einsum("bi,bi->b", a, p)  # mean . mean
    root = np.sqrt(weights)
    G = sub  # centred and weighted in place: sqrt(w_i w_j) (K_ij - a_i - a_j + q)
    G -= a[:, :, None]
    G -= a[:, None, :]
    G += q[:, None, None]
    G *= root[:, :, None]
    G *= root[:, None, :]
    values, v = top_k_eigh(G, k)
    u = v * root[:, :, None]  # (B, m, k)
    sets = np.arange(B)[:, None]
    coef = np.zeros((B, k, N))
    coef[sets, :, cols] = u
    share = np.zeros((B, N))
    share[sets, cols] = p
    mean = share @ C0  # (B, r)
    basis = (coef.reshape(B * k, N) @ C0).reshape(B, k, r)  # one product for every set
    basis -= u.sum(axis=1)[:, :, None] * mean[:, None, :]
    basis /= np.sqrt(np.clip(values, 1e-300, None))[:, :, None]
    top = values[:, :1]
    weak = np.flatnonzero(np.any(values <= 1e-6 * top, axis=1) | (top[:, 0] <= 0))
    if weak.size:  # a badly graded top-k spectrum: directions from an SVD of the rows themselves
        Xc = root[weak][:, :, None] * (C0[cols[weak]] - mean[weak][:, None, :])
        basis[weak] = np.linalg.svd(Xc, full_matrices=False)[2][:, :k, :]
    return basis


def pca_of_rows(C: np.ndarray, idx: np.ndarray, k: int, cache: ResampleCache | None = None) -> np.ndarray:
    """Top-k centred-PCA directions of the row sets ``C[idx[b]]`` (idx: (B, m)) -> (B, k, r),
    through ``cache`` if given."""
    if cache is None:
        return _pca_weighted_rows(C, idx, np.ones(idx.shape), k)
    return cache.get(content_key("rows", C, idx, k), lambda: _pca_weighted_rows(C, idx, np.ones(idx.shape), k))


def pca_resampled(C: np.ndarray, idx: np.ndarray, k: int, cache: ResampleCache | None = None) -> np.ndarray:
    """Centred-PCA directions of the resamples ``C[idx[b]]`` (with repeats) -> (B, k, r).

    A resample with counts c_i over its m distinct rows has the same scatter matrix as the
    weighted rows ``sqrt(c_i) (x_i - mean)``, so the Gram matrix is m x m instead of n x n
    (m is about 0.63 n for a bootstrap): about 4x less eigen-decomposition work. Resamples are
    grouped by m so every group is one stacked decomposition. Through ``cache`` if given.
    """
    if cache is not None:
        return cache.get(content_key("resampled", C, idx, k), lambda: pca_resampled(C, idx, k))
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
        out[sel] = _pca_weighted_rows(C, cols, w, k)
    return out


def overlap_rows(H: np.ndarray, A: np.ndarray, k: int, d: int) -> np.ndarray:
    """Overlap of orthonormal bases H (..., k, r) with the row spaces of A (..., k, r).

    A is orthonormalised (SVD, rows with ``s <= FLOAT32_RTOL * s_max`` dropped, as
    :func:`orthonormal_basis` does: float32 round-off is not a direction); lost directions count as
    orthogonal (denominator k). ``d`` is the dimension of the ambient space (the float64 floor
    ``max(k, d) * eps`` of the tolerance). Well-conditioned slices (every row kept by that rule, by a
    wide margin) go through the eigenpairs of ``A A^T`` instead.
    """
    if A.shape[-1] == 0:
        return np.zeros(np.broadcast_shapes(H.shape[:-2], A.shape[:-2]))
    rows, r = A.shape[-2:]
    flat = A.reshape(-1, rows, r)
    well = np.zeros(flat.shape[0], dtype=bool)
    if rows <= r:
        mu, U = np.linalg.eigh(flat @ np.swapaxes(flat, 1, 2))  # ascending: s^2 of each slice
        well = mu[:, 0] > _WELL_CONDITIONED * mu[:, -1]
    basis = np.zeros((flat.shape[0], min(rows, r), r))
    if well.any():
        basis[well] = _orthonormalised(flat[well], mu[well], U[well])
    if not well.all():
        _, s, vh = np.linalg.svd(flat[~well], full_matrices=False)
        keep = s > s[:, :1] * max(FLOAT32_RTOL, max(rows, d) * _EPS)
        basis[~well] = vh * keep[:, :, None]
    M = H @ np.swapaxes(basis.reshape(A.shape[:-2] + basis.shape[1:]), -1, -2)
    value = np.einsum("...ij,...ij->...", M, M) / k
    return np.clip(value, 0.0, 1.0)


def _orthonormalised(A: np.ndarray, mu: np.ndarray, U: np.ndarray) -> np.ndarray:
    """Orthonormal rows spanning the row space of every well-conditioned (k, r) slice of A (B, k, r),
    from the eigenpairs ``(mu, U)`` of ``A A^T``: ``Q = diag(mu)^-1/2 U^T A``, then one first-order
    correction ``Q - (Q Q^T - I) Q / 2`` that leaves an orthogonality error of ``(eps cond(A)^2)^2``."""
    Q = (np.swapaxes(U, 1, 2) @ A) / np.sqrt(mu)[:, :, None]
    E = Q @ np.swapaxes(Q, 1, 2) - np.eye(Q.shape[1])
    return Q - 0.5 * (E @ Q)


def chunk_slices(n: int, size: int = CHUNK) -> list[slice]:
    """``range(n)`` as consecutive slices of at most ``size``."""
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def null_summary(null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and 95th percentile of a null (N, ...) over its rows (NaN when N = 0)."""
    if null.shape[0] == 0:
        nan = np.full(null.shape[1:], np.nan)
        return nan, nan
    return np.mean(null, axis=0), np.percentile(null, 95, axis=0)
