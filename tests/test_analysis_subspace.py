"""PCA subspaces: sklearn oracle, sign convention, batched variant, error messages."""

import dataclasses

import numpy as np
import pytest

from emoalign.analysis import EmotionSubspace, fit_subspace, fit_subspaces_batched
from emoalign.core.errors import EmoalignError


def _vectors(rng, n=40, d=12, rank_scale=None):
    scales = np.linspace(3.0, 0.3, d) if rank_scale is None else rank_scale
    return rng.standard_normal((n, d)) * scales + rng.standard_normal(d)


def test_matches_sklearn_pca():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    for n, d, k in [(40, 12, 5), (10, 30, 9)]:  # n > d and d > n (at most n - 1 components)
        X = _vectors(rng, n, d, np.linspace(3.0, 0.3, d))
        sub = fit_subspace(X, k)
        pca = PCA(n_components=k, svd_solver="full").fit(X)
        assert sub.basis.shape == (k, d) and sub.n_samples == n and sub.k == k and sub.dim == d
        np.testing.assert_allclose(sub.explained_variance_ratio, pca.explained_variance_ratio_, rtol=1e-10)
        np.testing.assert_allclose(sub.mean, pca.mean_, atol=1e-12)
        signs = np.sign(np.sum(sub.basis * pca.components_, axis=1))
        np.testing.assert_allclose(sub.basis, pca.components_ * signs[:, None], atol=1e-9)


def test_basis_orthonormal_sign_fixed_and_order_free():
    rng = np.random.default_rng(1)
    X = _vectors(rng)
    sub = fit_subspace(X, 4)
    np.testing.assert_allclose(sub.basis @ sub.basis.T, np.eye(4), atol=1e-12)
    pivots = sub.basis[np.arange(4), np.argmax(np.abs(sub.basis), axis=1)]
    assert np.all(pivots > 0)
    again = fit_subspace(X[rng.permutation(len(X))], 4)
    np.testing.assert_allclose(again.basis, sub.basis, atol=1e-10)
    assert np.all(np.diff(sub.explained_variance_ratio) <= 0)
    assert 0 < sub.explained_variance_ratio.sum() <= 1


def test_ratios_relative_to_total_variance_known_answer():
    # Points on two orthogonal axes with variances 4 : 1 -> ratios 0.8, 0.2.
    X = np.array([[2.0, 0, 0], [-2.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]])
    sub = fit_subspace(X, 2)
    np.testing.assert_allclose(sub.explained_variance_ratio, [0.8, 0.2])
    np.testing.assert_allclose(sub.basis, [[1, 0, 0], [0, 1, 0]], atol=1e-12)


def test_subspace_is_read_only():
    sub = fit_subspace(np.random.default_rng(2).standard_normal((6, 4)), 2)
    with pytest.raises(ValueError):
        sub.basis[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        sub.n_samples = 3  # type: ignore[misc]


def test_k_errors_say_why():
    X = np.random.default_rng(3).standard_normal((5, 10))
    with pytest.raises(EmoalignError, match=r"^k=8 exceeds the 5 samples available for 'anger' \(at most 4 components\)$"):
        fit_subspace(X, 8, context="'anger'")
    with pytest.raises(EmoalignError, match=r"k=4 exceeds the dimension d=3"):
        fit_subspace(np.random.default_rng(3).standard_normal((9, 3)), 4)
    with pytest.raises(EmoalignError, match=r"positive integer, got 0"):
        fit_subspace(X, 0)
    with pytest.raises(EmoalignError, match=r"all 5 emotion vectors are identical"):
        fit_subspace(np.ones((5, 10)), 2)
    with pytest.raises(EmoalignError, match=r"at most 0 components"):
        fit_subspace(X[:1], 1)


@pytest.mark.parametrize("n,d", [(12, 40), (30, 6)])
def test_batched_matches_single(n, d):
    rng = np.random.default_rng(4)
    X = np.stack([_vectors(rng, n, d, np.linspace(2.0, 0.5, d)) for _ in range(5)])
    bases = fit_subspaces_batched(X, 3)
    assert bases.shape == (5, 3, d)
    for b in range(5):
        np.testing.assert_allclose(bases[b], fit_subspace(X[b], 3).basis, atol=1e-8)


def test_batched_falls_back_to_svd_for_weak_directions():
    rng = np.random.default_rng(5)
    scales = np.r_[1.0, 1.0, 1e-4, np.zeros(37)]  # third direction has 1e-8 of the top variance
    X = np.stack([rng.standard_normal((10, 40)) * scales for _ in range(2)])
    bases = fit_subspaces_batched(X, 3)
    for b in range(2):
        np.testing.assert_allclose(bases[b] @ bases[b].T, np.eye(3), atol=1e-10)
        np.testing.assert_allclose(bases[b], fit_subspace(X[b], 3).basis, atol=1e-8)


def test_batched_errors():
    with pytest.raises(EmoalignError, match=r"3-D array"):
        fit_subspaces_batched(np.zeros((4, 5)), 2)
    with pytest.raises(EmoalignError, match=r"k=5 exceeds the 5 samples available for null"):
        fit_subspaces_batched(np.random.default_rng(0).standard_normal((2, 5, 8)), 5, context="null")


def test_emotion_subspace_validates_shapes():
    with pytest.raises(EmoalignError, match=r"inconsistent EmotionSubspace"):
        EmotionSubspace(basis=np.eye(3)[:2], explained_variance_ratio=np.ones(3), mean=np.zeros(3), n_samples=4)
