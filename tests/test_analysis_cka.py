"""Debiased linear CKA against a direct O(n^2) implementation of the unbiased HSIC estimator."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from emoalign.analysis import linear_cka_debiased
from emoalign.core.errors import EmoalignError


def _hsic_unbiased(K, L):
    """Song et al. (2012) unbiased HSIC, written out directly from the kernel matrices."""
    n = K.shape[0]
    Kt, Lt = K - np.diag(np.diag(K)), L - np.diag(np.diag(L))
    one = np.ones(n)
    return (
        np.trace(Kt @ Lt)
        + (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (one @ Kt @ Lt @ one)
    ) / (n * (n - 3))


def _cka_reference(X, Y):
    K, L = X @ X.T, Y @ Y.T  # raw (uncentred) features: the estimator needs no centring
    return _hsic_unbiased(K, L) / np.sqrt(_hsic_unbiased(K, K) * _hsic_unbiased(L, L))


@pytest.mark.parametrize("n,d1,d2", [(30, 50, 70), (80, 6, 9), (40, 50, 10)])  # Gram and feature paths
def test_matches_direct_reference(n, d1, d2):
    rng = np.random.default_rng(n + d1)
    X = rng.standard_normal((n, d1)) + 2.0
    Y = X[:, :5] @ rng.standard_normal((5, d2)) + rng.standard_normal((n, d2)) - 1.0
    assert linear_cka_debiased(X, Y) == pytest.approx(_cka_reference(X, Y), rel=1e-9)
    assert linear_cka_debiased(X, Y) == pytest.approx(linear_cka_debiased(Y, X), rel=1e-12)


@pytest.mark.parametrize("n,d", [(20, 40), (60, 10)])
def test_orthogonal_transform_and_scale_give_one(n, d):
    rng = np.random.default_rng(d)
    X = rng.standard_normal((n, d)) * np.linspace(3, 0.2, d)
    Q = ortho_group.rvs(d, random_state=d)
    assert linear_cka_debiased(X, -3.7 * X @ Q + 5.0) == pytest.approx(1.0, abs=1e-10)
    # Widened embedding (d -> d + 7 with orthonormal columns) is also an isometry.
    W = np.linalg.qr(rng.standard_normal((d + 7, d)))[0].T
    assert linear_cka_debiased(X, X @ W) == pytest.approx(1.0, abs=1e-10)


def test_independent_inputs_near_zero():
    rng = np.random.default_rng(3)
    vals = [linear_cka_debiased(rng.standard_normal((500, 20)), rng.standard_normal((500, 30))) for _ in range(5)]
    assert abs(np.mean(vals)) < 0.01
    assert max(abs(v) for v in vals) < 0.03


def test_errors():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((10, 3))
    with pytest.raises(EmoalignError, match=r"at least 4 inputs, got 3 for layer 0"):
        linear_cka_debiased(X[:3], X[:3], context="layer 0")
    with pytest.raises(EmoalignError, match=r"same inputs, got 10 and 9 rows"):
        linear_cka_debiased(X, X[:9])
    with pytest.raises(EmoalignError, match=r"second activations are constant"):
        linear_cka_debiased(X, np.ones((10, 4)))
