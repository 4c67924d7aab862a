"""Subspace overlap (bounded, scipy oracle) and the legacy metric of the original study."""

import numpy as np
import pytest
from scipy.linalg import subspace_angles
from scipy.stats import ortho_group

from emoalign.analysis import (
    fit_subspaces_batched,
    legacy_before,
    legacy_overlap,
    orthonormal_basis,
    principal_angles,
    subspace_overlap,
    subspace_overlap_batched,
)
from emoalign.core.errors import EmoalignError


def _orthonormal(rng, k, d):
    return np.linalg.qr(rng.standard_normal((d, k)))[0].T


def test_identical_and_orthogonal_subspaces():
    rng = np.random.default_rng(0)
    U = rng.standard_normal((4, 20))
    mixed = rng.standard_normal((4, 4)) @ U  # same span, not orthonormal, different scale
    assert subspace_overlap(U, U) == pytest.approx(1.0)
    assert subspace_overlap(U, 7.0 * mixed) == pytest.approx(1.0)
    E = np.eye(20)
    assert subspace_overlap(E[:3], E[3:6]) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(principal_angles(U, mixed), 0.0, atol=1e-7)


@pytest.mark.parametrize("k1,k2", [(3, 3), (2, 5), (6, 4)])
def test_overlap_is_mean_cos2_of_scipy_principal_angles(k1, k2):
    rng = np.random.default_rng(k1 * 10 + k2)
    shared = rng.standard_normal((2, 15))
    U = np.vstack([shared, rng.standard_normal((k1 - 2, 15))]) if k1 > 2 else shared
    V = np.vstack([shared + 0.3 * rng.standard_normal((2, 15)), rng.standard_normal((k2 - 2, 15))])
    oracle = np.mean(np.cos(subspace_angles(U.T, V.T)) ** 2)
    assert subspace_overlap(U, V) == pytest.approx(oracle, abs=1e-12)
    angles = principal_angles(U, V)
    assert angles.shape == (min(k1, k2),) and np.all(np.diff(angles) >= 0)
    np.testing.assert_allclose(angles, np.sort(subspace_angles(U.T, V.T)), atol=1e-12)
    assert np.mean(np.cos(angles) ** 2) == pytest.approx(subspace_overlap(U, V))
    assert subspace_overlap(U, V) == pytest.approx(subspace_overlap(V, U))


def test_random_subspaces_overlap_about_k_over_d():
    rng = np.random.default_rng(1)
    k, d, B = 8, 64, 400
    U = np.stack([_orthonormal(rng, k, d) for _ in range(B)])
    V = np.stack([_orthonormal(rng, k, d) for _ in range(B)])
    vals = subspace_overlap_batched(U, V)
    assert vals.mean() == pytest.approx(k / d, rel=0.05)
    assert subspace_overlap(U[0], V[0]) == pytest.approx(vals[0])


def test_batched_broadcasts_and_matches_scalar():
    rng = np.random.default_rng(2)
    src = _orthonormal(rng, 3, 30)
    nulls = fit_subspaces_batched(rng.standard_normal((5, 10, 30)), 3)
    vals = subspace_overlap_batched(src, nulls)
    assert vals.shape == (5,)
    np.testing.assert_allclose(vals, [subspace_overlap(src, b) for b in nulls], atol=1e-12)
    with pytest.raises(EmoalignError, match=r"equal d"):
        subspace_overlap_batched(src, nulls[:, :, :20])


def test_orthonormal_basis_drops_null_directions():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 12))
    Q = orthonormal_basis(np.vstack([a, b, a + 2 * b, np.zeros(12)]))
    assert Q.shape == (2, 12)
    np.testing.assert_allclose(Q @ Q.T, np.eye(2), atol=1e-12)
    proj = Q.T @ Q
    np.testing.assert_allclose(proj @ a, a, atol=1e-12)
    np.testing.assert_allclose(proj @ b, b, atol=1e-12)
    assert orthonormal_basis(np.zeros((3, 5))).shape == (0, 5)


def test_lost_directions_count_as_orthogonal():
    E = np.eye(6)
    # V spans only e0 although it has two rows: one of two directions shared -> 0.5, not 1.
    assert subspace_overlap(E[:2], np.vstack([E[0], 2 * E[0]])) == pytest.approx(0.5)
    np.testing.assert_allclose(principal_angles(E[:2], np.vstack([E[0], E[0]])), [0.0, np.pi / 2], atol=1e-12)


def test_overlap_errors():
    with pytest.raises(EmoalignError, match=r"different spaces \(d=5 vs d=4\) for layer 2; map one into the other first"):
        subspace_overlap(np.eye(5)[:2], np.eye(4)[:2], context="layer 2")
    with pytest.raises(EmoalignError, match=r"only by zero vectors"):
        subspace_overlap(np.eye(5)[:2], np.zeros((2, 5)))


def test_legacy_overlap_is_at_most_one_over_k_for_orthonormal_bases():
    rng = np.random.default_rng(4)
    k, d = 8, 40
    for _ in range(20):
        U, V = _orthonormal(rng, k, d), _orthonormal(rng, k, d)
        val = legacy_overlap(U, V)
        assert val == pytest.approx(np.linalg.norm(U @ V.T) ** 2 / k**2)
        assert val <= 1 / k + 1e-12
    U = _orthonormal(rng, k, d)
    assert legacy_overlap(U, U) == pytest.approx(1 / k)  # identical subspaces score only 0.125
    assert subspace_overlap(U, U) == pytest.approx(1.0)
    # Same subspace, rotated basis: legacy still 1/k (it only sees ||U V^T||_F^2 = k).
    assert legacy_overlap(U, ortho_group.rvs(k, random_state=0) @ U) == pytest.approx(1 / k)


def test_legacy_overlap_above_one_over_k_comes_only_from_scale():
    rng = np.random.default_rng(5)
    U = _orthonormal(rng, 8, 40)
    assert legacy_overlap(U, 2.0 * U) == pytest.approx(4 / 8)
    assert legacy_overlap(U, 10.0 * U) == 1.0  # clipped
    assert subspace_overlap(U, 10.0 * U) == pytest.approx(1.0)
    with pytest.raises(EmoalignError, match=r"use legacy_before"):
        legacy_overlap(U, U[:, :30])


def test_legacy_before_truncates_or_pads():
    rng = np.random.default_rng(6)
    U_s, U_t = _orthonormal(rng, 8, 30), _orthonormal(rng, 8, 50)
    assert legacy_before(U_s, U_t) == pytest.approx(np.mean((U_s @ U_t[:, :30].T) ** 2))
    short = _orthonormal(rng, 8, 20)
    assert legacy_before(U_s, short) == pytest.approx(np.mean((U_s[:, :20] @ short.T) ** 2))


def test_legacy_before_is_chance_level_one_over_d_target():
    # The original's "before" (~0.0002 with d_t = 4096) is chance: E = (d_s / d_t) / d_s = 1 / d_t.
    rng = np.random.default_rng(7)
    d_s, d_t = 24, 96
    vals = [legacy_before(_orthonormal(rng, 8, d_s), _orthonormal(rng, 8, d_t)) for _ in range(300)]
    assert np.mean(vals) == pytest.approx(1 / d_t, rel=0.1)
