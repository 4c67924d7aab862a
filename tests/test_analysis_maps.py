"""Target->source maps: known answers, sklearn oracles, held-out R², error messages."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from emoalign.analysis import (
    MAP_METHODS,
    LinearMap,
    fit_cca_map,
    fit_lstsq_map,
    fit_map,
    fit_procrustes_map,
    fit_ridge_map,
    variance_weighted_r2,
)
from emoalign.core.errors import EmoalignError

FITTERS = {"lstsq": fit_lstsq_map, "ridge": fit_ridge_map, "procrustes": fit_procrustes_map, "cca": fit_cca_map}


def _affine_pairs(seed=0, n=200, d_t=12, d_s=8):
    rng = np.random.default_rng(seed)
    X_t = rng.standard_normal((n, d_t)) * np.linspace(2.0, 0.5, d_t) + 3.0
    A = rng.standard_normal((d_t, d_s))
    b = rng.standard_normal(d_s)
    return X_t, X_t @ A + b, A, b


def test_similarity_transform_recovered_by_all_four_maps():
    rng = np.random.default_rng(1)
    d = 10
    X_t = rng.standard_normal((120, d)) * np.linspace(2.0, 0.5, d) + 1.0
    Q = ortho_group.rvs(d, random_state=1)
    X_s = 2.5 * X_t @ Q - 4.0
    for method in MAP_METHODS:
        m = fit_map(method, X_t, X_s)
        assert m.method == method
        assert m.heldout_r2 == pytest.approx(1.0, abs=1e-6), method
        np.testing.assert_allclose(m.transform(X_t), X_s, atol=1e-4, err_msg=method)
        np.testing.assert_allclose(m.weight, 2.5 * Q, atol=1e-4, err_msg=method)


def test_general_affine_map_recovered_by_lstsq_ridge_cca():
    # Procrustes is excluded by construction: it can only express c * orthogonal.
    X_t, X_s, A, b = _affine_pairs()
    for method in ("lstsq", "ridge", "cca"):
        m = fit_map(method, X_t, X_s)
        assert m.heldout_r2 == pytest.approx(1.0, abs=1e-6), method
        np.testing.assert_allclose(m.weight, A, atol=1e-4, err_msg=method)
        np.testing.assert_allclose(m.transform(X_t[:3]), X_s[:3], atol=1e-4, err_msg=method)
    proc = fit_map("procrustes", X_t, X_s)
    assert proc.heldout_r2 < 0.99


def test_procrustes_rotation_recovered_with_d_greater_than_n():
    rng = np.random.default_rng(2)
    d = 50
    X_t = rng.standard_normal((30, d))
    Q = ortho_group.rvs(d, random_state=2)
    X_s = X_t @ Q + 1.0
    m = fit_procrustes_map(X_t, X_s)
    assert m.params["n_components"] == 29
    assert m.params["scale"] == pytest.approx(1.0)
    np.testing.assert_allclose(m.transform(X_t), X_s, atol=1e-9)
    assert fit_procrustes_map(X_t, X_s, n_components=5).params["n_components"] == 5


def test_transform_is_affine_and_directions_are_linear():
    X_t, X_s, _, _ = _affine_pairs(3)
    m = fit_lstsq_map(X_t, X_s)
    np.testing.assert_allclose(m.transform(m.target_mean), m.source_mean, atol=1e-12)
    basis = np.random.default_rng(3).standard_normal((4, X_t.shape[1]))
    np.testing.assert_allclose(m.map_directions(basis), basis @ m.weight)
    assert m.map_directions(basis).shape == (4, X_s.shape[1])
    assert (m.d_target, m.d_source) == (12, 8)
    with pytest.raises(EmoalignError, match=r"expects target activations with d=12, got shape \(2, 5\)"):
        m.transform(np.zeros((2, 5)))
    with pytest.raises(EmoalignError, match=r"expects target directions with d=12"):
        m.map_directions(np.zeros((2, 5)))
    with pytest.raises(ValueError):
        m.weight[0, 0] = 1.0


def test_lstsq_is_min_norm_interpolant_when_d_exceeds_n():
    rng = np.random.default_rng(4)
    X_t, X_s = rng.standard_normal((15, 60)), rng.standard_normal((15, 7))
    m = fit_lstsq_map(X_t, X_s)
    Xc, Yc = X_t - X_t.mean(0), X_s - X_s.mean(0)
    np.testing.assert_allclose(m.weight, np.linalg.pinv(Xc) @ Yc, atol=1e-10)
    np.testing.assert_allclose(m.transform(X_t), X_s, atol=1e-9)  # it fits noise perfectly
    assert m.params["rank"] == 14


@pytest.mark.parametrize("n,d_t", [(40, 90), (120, 15)])  # dual (Gram) and primal (SVD) paths
def test_ridge_matches_sklearn_for_fixed_alpha(n, d_t):
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(5)
    X_t, X_s = rng.standard_normal((n, d_t)) + 2.0, rng.standard_normal((n, 6)) - 1.0
    m = fit_ridge_map(X_t, X_s, alphas=[3.0])
    ref = Ridge(alpha=3.0, fit_intercept=True, solver="svd").fit(X_t, X_s)
    np.testing.assert_allclose(m.weight, ref.coef_.T, atol=1e-10)
    np.testing.assert_allclose(m.transform(X_t[:5]), ref.predict(X_t[:5]), atol=1e-10)
    assert m.params["alpha"] == 3.0 and m.params["cv_mse"] is None


@pytest.mark.parametrize("n,d_t", [(40, 90), (120, 15)])
def test_ridge_cv_scores_match_brute_force(n, d_t):
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(6)
    X_t = rng.standard_normal((n, d_t))
    X_s = X_t[:, :5] @ rng.standard_normal((5, 4)) + 0.5 * rng.standard_normal((n, 4))
    alphas = [0.01, 1.0, 30.0, 1000.0]
    m = fit_ridge_map(X_t, X_s, alphas=alphas, n_folds=4, seed=3)
    folds = np.array_split(np.random.default_rng(3).permutation(n), 4)
    expected = []
    for a in alphas:
        sse = 0.0
        for val in folds:
            tr = np.setdiff1d(np.arange(n), val)
            pred = Ridge(alpha=a).fit(X_t[tr], X_s[tr]).predict(X_t[val])
            sse += np.sum((X_s[val] - pred) ** 2)
        expected.append(sse / (n * 4))
    np.testing.assert_allclose(m.params["cv_mse"], expected, rtol=1e-8)
    assert m.params["alpha"] == alphas[int(np.argmin(expected))]


def test_ridge_default_grid_adapts_to_signal_and_noise():
    rng = np.random.default_rng(7)
    X_t = 50.0 * rng.standard_normal((100, 30))  # scale should not matter: grid is data-scaled
    clean = fit_ridge_map(X_t, X_t[:, :4] @ rng.standard_normal((4, 3)))
    noise = fit_ridge_map(X_t, rng.standard_normal((100, 3)))
    assert clean.params["alpha"] < noise.params["alpha"]
    assert len(clean.params["alphas"]) == len(clean.params["cv_mse"]) == 19
    with pytest.raises(EmoalignError, match=r"alphas must be positive"):
        fit_ridge_map(X_t, X_t, alphas=[1.0, -1.0])
    with pytest.raises(EmoalignError, match=r"n_folds must be an integer >= 2"):
        fit_ridge_map(X_t, X_t, n_folds=1)


def test_cca_canonical_correlations_match_sklearn():
    from sklearn.cross_decomposition import CCA

    rng = np.random.default_rng(8)
    n = 400
    z = rng.standard_normal((n, 2))
    X_t = np.c_[z[:, 0] + 0.3 * rng.standard_normal(n), z[:, 1] + 1.0 * rng.standard_normal(n),
                rng.standard_normal((n, 3))] @ rng.standard_normal((5, 5))
    X_s = np.c_[z[:, 0] + 0.3 * rng.standard_normal(n), z[:, 1] + 1.0 * rng.standard_normal(n),
                rng.standard_normal((n, 2))] @ rng.standard_normal((4, 4))
    m = fit_cca_map(X_t, X_s, reduce_to=5)
    rho = np.array(m.params["canonical_correlations"])
    assert m.params["reduce_to_target"] == 5 and m.params["reduce_to_source"] == 4
    assert rho.shape == (4,) and np.all(np.diff(rho) <= 0)
    cca = CCA(n_components=2, scale=False, max_iter=5000, tol=1e-12).fit(X_t, X_s)
    xs, ys = cca.transform(X_t, X_s)
    ref = [abs(np.corrcoef(xs[:, i], ys[:, i])[0, 1]) for i in range(2)]
    np.testing.assert_allclose(rho[:2], ref, atol=1e-6)


def test_cca_full_rank_equals_least_squares_on_reduced_data_and_truncates():
    X_t, X_s, A, _ = _affine_pairs(9, n=150)
    noisy = X_s + np.random.default_rng(9).standard_normal(X_s.shape)
    full = fit_cca_map(X_t, noisy, reduce_to=12)
    np.testing.assert_allclose(full.weight, fit_lstsq_map(X_t, noisy).weight, atol=1e-10)
    two = fit_cca_map(X_t, noisy, n_components=2)
    assert np.linalg.matrix_rank(two.weight) == 2 and two.params["n_components"] == 2
    with pytest.raises(EmoalignError, match=r"n_components=9 exceeds the 8 canonical pairs"):
        fit_cca_map(X_t, noisy, n_components=9)


def test_cca_default_reduction():
    rng = np.random.default_rng(10)
    m = fit_cca_map(rng.standard_normal((40, 300)), rng.standard_normal((40, 80)))
    assert m.params["reduce_to_target"] == 20 and m.params["reduce_to_source"] == 20  # n // 2
    assert m.weight.shape == (300, 80)


def test_fit_map_refits_on_all_pairs_and_records_heldout_r2():
    rng = np.random.default_rng(11)
    X_t = rng.standard_normal((50, 6))
    X_s = X_t @ rng.standard_normal((6, 3)) + 0.3 * rng.standard_normal((50, 3))
    m = fit_map("lstsq", X_t, X_s, heldout_fraction=0.2, seed=4)
    np.testing.assert_allclose(m.weight, fit_lstsq_map(X_t, X_s).weight)
    perm = np.random.default_rng(4).permutation(50)
    test, train = perm[:10], perm[10:]
    prelim = fit_lstsq_map(X_t[train], X_s[train])
    assert m.heldout_r2 == pytest.approx(variance_weighted_r2(X_s[test], prelim.transform(X_t[test])))
    assert 0.5 < m.heldout_r2 < 1.0
    assert m.params["n_heldout"] == 10 and m.params["heldout_fraction"] == 0.2
    assert fit_map("lstsq", X_t, X_s, heldout_fraction=0).heldout_r2 is None
    ridge = fit_map("ridge", X_t, X_s, alphas=[0.5])
    assert ridge.params["alpha"] == 0.5


def test_fit_map_errors():
    rng = np.random.default_rng(12)
    X_t, X_s = rng.standard_normal((10, 4)), rng.standard_normal((10, 3))
    with pytest.raises(EmoalignError, match=r"unknown map method 'pca'; known methods: lstsq, ridge, procrustes, cca"):
        fit_map("pca", X_t, X_s)  # type: ignore[arg-type]
    with pytest.raises(EmoalignError, match=r"at least 2 paired activations, got 1 for gpt2 vs llama layer 3"):
        fit_map("lstsq", X_t[:1], X_s[:1], heldout_fraction=0, context="gpt2 vs llama layer 3")
    with pytest.raises(EmoalignError, match=r"needs at least 4 paired activations .* got 3; pass heldout_fraction=0"):
        fit_map("lstsq", X_t[:3], X_s[:3])
    assert fit_map("lstsq", X_t[:2], X_s[:2], heldout_fraction=0).heldout_r2 is None
    with pytest.raises(EmoalignError, match=r"10 target rows and 9 source rows"):
        fit_map("ridge", X_t, X_s[:9])
    with pytest.raises(EmoalignError, match=r"'procrustes' has no option\(s\) alphas; its options: n_components"):
        fit_map("procrustes", X_t, X_s, alphas=[1.0])
    with pytest.raises(EmoalignError, match=r"heldout_fraction must be in \[0, 1\)"):
        fit_map("cca", X_t, X_s, heldout_fraction=1.0)
    with pytest.raises(EmoalignError, match=r"target activations have no variance"):
        fit_procrustes_map(np.ones((10, 4)), X_s)
    with pytest.raises(EmoalignError, match=r"n_components must be a positive integer"):
        fit_procrustes_map(X_t, X_s, n_components=0)


def test_variance_weighted_r2_matches_sklearn():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(13)
    Y = rng.standard_normal((30, 4)) * [1, 5, 0.1, 2]
    P = Y + rng.standard_normal((30, 4))
    assert variance_weighted_r2(Y, P) == pytest.approx(r2_score(Y, P, multioutput="variance_weighted"))
    assert np.isnan(variance_weighted_r2(np.ones((3, 2)), np.zeros((3, 2))))


def test_linear_map_validates_shapes():
    with pytest.raises(EmoalignError, match=r"inconsistent LinearMap"):
        LinearMap(np.zeros((3, 2)), np.zeros(3), np.zeros(3), "lstsq")
