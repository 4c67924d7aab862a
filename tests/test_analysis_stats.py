"""Statistics of overlaps: label/joint/pairing nulls, the baseline prediction test, BCa bootstrap CIs,
split-half reliability, BH, verdicts.

Vectorised (reduced-coordinate) results are checked against naive full-dimensional loops; the
nulls are checked for calibration (true null by construction) and power (planted twins), the
bootstrap for coverage of a population overlap computed from population covariances.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emoalign.analysis.maps import fit_map
from emoalign.analysis.overlap import subspace_overlap
from emoalign.analysis.stats import (
    bca_interval,
    benjamini_hochberg,
    beyond_baseline_p,
    bootstrap_overlap_ci,
    grid_max_null,
    joint_relabel_null,
    label_permutation_null,
    label_permutations,
    pairing_null,
    permutation_p_value,
    prediction_test,
    spearman_brown,
    split_half_reliability,
)
from emoalign.analysis.stats.bootstrap import _bootstrap_indices
from emoalign.analysis.subspace import fit_subspace
from emoalign.analysis.verdict import (
    BEYOND_VOCABULARY,
    NO_CORRESPONDENCE,
    VOCABULARY_ONLY,
    VOCABULARY_UNCHECKED,
    cell_verdict,
    pair_summary,
)
from emoalign.core.errors import EmoalignError

# ----------------------------------------------------------------------------------------------
# synthetic data


def _structured(rng, n_emotions, n, d, k, strength, noise=1.0):
    """Per emotion: isotropic noise plus `strength` x Gaussian scores on its own random k-subspace."""
    out = {}
    for e in range(n_emotions):
        U = np.linalg.qr(rng.standard_normal((d, k)))[0].T
        out[f"e{e}"] = noise * rng.standard_normal((n, d)) + strength * rng.standard_normal((n, k)) @ U
    return out


def _twin(rng, sigma, n_emotions=3, n=30, d_s=24, d_t=40, k=3):
    """Planted twin: target = source @ A (+ isotropic noise sigma), map W = pinv(A).

    Each emotion's source vectors lie exactly in its own k-subspace: PCA is not equivariant under
    a non-orthogonal A, so with source noise even a perfect twin scores slightly below 1.
    """
    S = _structured(rng, n_emotions, n, d_s, k, strength=3.0, noise=0.0)
    A = rng.standard_normal((d_s, d_t))  # full column rank
    T = {e: v @ A + sigma * rng.standard_normal((n, d_t)) for e, v in S.items()}
    return S, T, np.linalg.pinv(A)


def _small_case(seed=1, n=10, d_s=24, d_t=40, k=3):
    rng = np.random.default_rng(seed)
    S = {f"e{i}": rng.standard_normal((n, d_s)) * np.linspace(3, 0.5, d_s) for i in range(3)}
    A = rng.standard_normal((d_s, d_t))
    T = {e: v @ A + 0.3 * rng.standard_normal((n, d_t)) for e, v in S.items()}
    W = rng.standard_normal((d_t, d_s))
    return rng, S, T, W


def _naive_overlap(Xs, Xt, W, k):
    return subspace_overlap(fit_subspace(Xs, k).basis, fit_subspace(Xt, k).basis @ W)


# ----------------------------------------------------------------------------------------------
# vectorised == naive


@pytest.mark.parametrize("dims", [(24, 40), (8, 6)])  # reduced span (n_total < d) and full span
def test_label_null_equals_naive_loop(dims):
    d_s, d_t = dims
    _, S, T, W = _small_case(d_s=d_s, d_t=d_t)
    k, N, n = 3, 20, 10
    res = label_permutation_null(S, T, W, k, n_permutations=N, seed=3)
    names = list(S)
    pooled_t = np.vstack([T[e] for e in names])
    cross = np.array([[_naive_overlap(S[e], T[f], W, k) for f in names] for e in names])
    null = np.array(
        [
            [_naive_overlap(S[e], pooled_t[perm[i * n : (i + 1) * n]], W, k) for i, e in enumerate(names)]
            for perm in label_permutations(3 * n, N, 3)
        ]
    )
    np.testing.assert_allclose(res.cross_overlap, cross, atol=1e-8)
    np.testing.assert_allclose(res.observed, np.diag(cross), atol=1e-8)
    np.testing.assert_allclose(res.null, null, atol=1e-8)
    off = (cross.sum(axis=1) - np.diag(cross)) / 2
    np.testing.assert_allclose(res.specificity, np.diag(cross) - off, atol=1e-8)
    np.testing.assert_allclose(res.p_values, (1 + (null >= np.diag(cross) - 1e-12).sum(0)) / (N + 1))
    np.testing.assert_allclose(res.null_of("e1"), null[:, 1], atol=1e-8)
    assert res.chance == pytest.approx(k / d_s)
    assert res.null.shape == (N, 3) and not res.null.flags.writeable


def test_bootstrap_equals_naive_loop():
    _, S, T, W = _small_case(n=9)
    k, B = 3, 30
    res = bootstrap_overlap_ci(S, T, W, k, n_bootstrap=B, seed=2, method="percentile")
    streams = np.random.SeedSequence(2).spawn(3)
    for i, e in enumerate(S):
        idx, _, skip = _bootstrap_indices(9, B, k + 1, np.random.default_rng(streams[i]))
        assert not skip.any()
        naive = [_naive_overlap(S[e][j], T[e][j], W, k) for j in idx]
        np.testing.assert_allclose(res.bootstrap[:, i], naive, atol=1e-8)
        assert res.observed[i] == pytest.approx(_naive_overlap(S[e], T[e], W, k), abs=1e-8)
    lo, hi = np.quantile(res.bootstrap, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(res.ci_low, lo)
    np.testing.assert_allclose(res.ci_high, hi)
    np.testing.assert_allclose(res.bias, res.bootstrap.mean(axis=0) - res.observed)


@pytest.mark.parametrize(
    "method,kw,fast",
    [("lstsq", {}, True), ("ridge", {"alphas": [3.0]}, True), ("procrustes", {}, False), ("ridge", {}, False)],
)
def test_pairing_null_equals_refit_loop(method, kw, fast):
    rng, S, T, _ = _small_case()
    d_t, d_s = 40, 24
    n_fit = 15 if method != "ridge" or kw else 12
    Xt, Xs = rng.standard_normal((n_fit, d_t)), rng.standard_normal((n_fit, d_s))
    k, N = 3, 6
    res = pairing_null(Xt, Xs, S, T, k, method=method, n_permutations=N, seed=5, **kw)
    assert res.fast_path is fast

    def overlaps(perm):
        W = fit_map(method, Xt, Xs[perm], heldout_fraction=0.0, **kw).weight
        return [_naive_overlap(S[e], T[e], W, k) for e in S]

    r = np.random.default_rng(5)
    np.testing.assert_allclose(res.observed, overlaps(np.arange(n_fit)), atol=1e-8)
    np.testing.assert_allclose(res.null, [overlaps(r.permutation(n_fit)) for _ in range(N)], atol=1e-8)


def test_pairing_null_primal_ridge_and_bad_options():
    rng, S, T, _ = _small_case(d_t=12, d_s=10)
    Xt, Xs = rng.standard_normal((30, 12)), rng.standard_normal((30, 10))  # n > d_t: primal path
    res = pairing_null(Xt, Xs, S, T, 3, method="ridge", alphas=[2.0], n_permutations=4, seed=1)
    W = fit_map("ridge", Xt, Xs, heldout_fraction=0.0, alphas=[2.0]).weight
    assert res.fast_path
    np.testing.assert_allclose(res.observed, [_naive_overlap(S[e], T[e], W, 3) for e in S], atol=1e-8)
    cv = pairing_null(Xt, Xs, S, T, 3, method="ridge", seed=2, map_seed=4, n_folds=3, n_permutations=2)
    assert not cv.fast_path and cv.null.shape == (2, 3)
    with pytest.raises(EmoalignError, match="no option"):
        pairing_null(Xt, Xs, S, T, 3, method="lstsq", alphas=[1.0], n_permutations=2)
    with pytest.raises(EmoalignError, match="d_t="):
        pairing_null(Xt[:, :5], Xs, S, T, 3, method="lstsq")


def test_pairing_null_detects_real_map():
    rng = np.random.default_rng(4)
    S, T, W_true = _twin(rng, sigma=0.0, n=20, d_s=12, d_t=20)
    A = np.linalg.pinv(W_true)  # target = source @ A
    fit_s = rng.standard_normal((60, 12))
    res = pairing_null(fit_s @ A, fit_s, S, T, 3, method="lstsq", n_permutations=19, seed=0)
    np.testing.assert_allclose(res.observed, 1.0, atol=1e-8)
    assert np.all(res.p_values == pytest.approx(1 / 20))
    assert np.all(res.null_mean < 0.9)


def test_reliability_equals_naive_loop():
    rng, S, T, W = _small_case(seed=6, n=21)
    res = split_half_reliability(S, T, W, 2, n_splits=15, seed=4)
    streams = np.random.SeedSequence(4).spawn(3)
    for i, e in enumerate(S):
        perms = np.random.default_rng(streams[i]).permuted(np.tile(np.arange(21), (15, 1)), axis=1)
        naive = []
        for p in perms:
            a, b = p[:10], p[10:20]
            sa, sb = fit_subspace(S[e][a], 2).basis, fit_subspace(S[e][b], 2).basis
            ta, tb = fit_subspace(T[e][a], 2).basis @ W, fit_subspace(T[e][b], 2).basis @ W
            naive.append([subspace_overlap(sa, sb), subspace_overlap(ta, tb),
                          (subspace_overlap(sa, tb) + subspace_overlap(sb, ta)) / 2])
        np.testing.assert_allclose(res.splits[:, i], naive, atol=1e-8)
        mean = np.mean(naive, axis=0)
        assert res.normalised[i] == pytest.approx(mean[2] / np.sqrt(mean[0] * mean[1]), abs=1e-8)
        assert res.reliability_source[i] == pytest.approx(2 * mean[0] / (1 + mean[0]), abs=1e-8)
    assert res.reasons == (None, None, None)


# ----------------------------------------------------------------------------------------------
# calibration and power of the label null


def test_label_null_is_calibrated_when_null_is_true():
    """Target independent of the source and without emotion structure: p ~ U(0, 1), BH keeps FDR."""
    rng = np.random.default_rng(0)
    ps = []
    for rep in range(170):  # 510 cells
        S = _structured(rng, 3, 20, 16, 2, strength=3.0)
        T = {f"e{e}": rng.standard_normal((20, 24)) * np.linspace(2, 0.5, 24) for e in range(3)}
        W = rng.standard_normal((24, 16))
        ps.extend(label_permutation_null(S, T, W, 2, n_permutations=199, seed=rep).p_values)
    ps = np.asarray(ps)
    assert ps.size >= 500
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    tol = 3 * np.sqrt(0.05 * 0.95 / ps.size)
    assert np.mean(ps <= 0.05) <= 0.05 + tol
    assert np.mean(benjamini_hochberg(ps) < 0.05) <= 0.05 + tol


def test_label_null_power_perfect_twin():
    rng = np.random.default_rng(1)
    N = 199
    for rep in range(20):  # 60 cells
        S, T, W = _twin(rng, sigma=0.0)
        res = label_permutation_null(S, T, W, 3, n_permutations=N, seed=rep)
        np.testing.assert_allclose(res.observed, 1.0, atol=1e-8)
        np.testing.assert_allclose(res.p_values, 1.0 / (N + 1))
        assert np.all(res.null_mean < 0.8) and np.all(res.specificity > 0.3)
        assert all(q < 0.05 for q in benjamini_hochberg(res.p_values))


def test_label_null_power_noisy_twin():
    """Noise added to the target until the mapped overlap is about 0.5: >= 90 % of cells significant."""
    rng = np.random.default_rng(0)
    obs, ps = [], []
    for rep in range(40):  # 120 cells
        S, T, W = _twin(rng, sigma=10.5)
        res = label_permutation_null(S, T, W, 3, n_permutations=199, seed=rep)
        obs.extend(res.observed)
        ps.extend(res.p_values)
    assert 0.4 < np.mean(obs) < 0.6
    q = benjamini_hochberg(np.asarray(ps))
    assert np.mean(q < 0.05) >= 0.9


def test_label_permutations_shared_across_calls():
    a = label_permutations(30, 7, seed=11)
    np.testing.assert_array_equal(a, label_permutations(30, 7, seed=11))
    assert not np.array_equal(a, label_permutations(30, 7, seed=12))
    np.testing.assert_array_equal(np.sort(a, axis=1), np.tile(np.arange(30), (7, 1)))
    # Same seed and group sizes -> row n is the same relabelling in every call: a map that differs
    # only in scale (overlaps are scale-free) reproduces the null row by row; another seed does not.
    _, S, T, W = _small_case()
    r1 = label_permutation_null(S, T, W, 3, n_permutations=10, seed=2)
    r2 = label_permutation_null(S, T, 5.0 * W, 3, n_permutations=10, seed=2)
    r3 = label_permutation_null(S, T, W, 3, n_permutations=10, seed=3)
    np.testing.assert_allclose(r1.null, r2.null, atol=1e-10)
    assert not np.allclose(r1.null, r3.null)


# ----------------------------------------------------------------------------------------------
# bootstrap coverage


def _coverage_population(k=2, d=16, sigma=0.5):
    """Source ~ N(0, diag(30, 20, 1, ...)); target = source @ Q @ M^-1 + sigma * noise; map W = M.

    Q rotates the two signal axes by 40 and 50 degrees, so the population overlap is about 0.5;
    it is computed exactly from the population covariances (top-k eigenvectors).
    """
    Sig = np.eye(d)
    Sig[0, 0], Sig[1, 1] = 30.0, 20.0
    Q = np.eye(d)
    for i, deg in enumerate((40, 50)):
        t = np.deg2rad(deg)
        R = np.eye(d)
        j = i + 2
        R[[i, i, j, j], [i, j, i, j]] = [np.cos(t), np.sin(t), -np.sin(t), np.cos(t)]
        Q = Q @ R
    M = np.linalg.qr(np.random.default_rng(123).standard_normal((d, d)))[0] * np.linspace(1, 2, d)
    A = Q @ np.linalg.inv(M)
    Sig_t = A.T @ Sig @ A + sigma**2 * np.eye(d)

    def top(C):
        return np.linalg.eigh(C)[1][:, ::-1][:, :k].T

    return np.linalg.cholesky(Sig), A, M, subspace_overlap(top(Sig), top(Sig_t) @ M)


def test_bootstrap_ci_covers_population_overlap():
    L, A, M, population = _coverage_population()
    assert population == pytest.approx(0.505, abs=0.01)
    rng = np.random.default_rng(7)
    reps, n = 250, 150
    covered = []
    for rep in range(reps):
        x = rng.standard_normal((n, 16)) @ L.T
        y = x @ A + 0.5 * rng.standard_normal((n, 16))
        res = bootstrap_overlap_ci({"e": x}, {"e": y}, M, 2, n_bootstrap=300, seed=rep)
        covered.append(res.ci_low[0] <= population <= res.ci_high[0])
    coverage = np.mean(covered)
    assert abs(coverage - 0.95) <= 3 * np.sqrt(0.95 * 0.05 / reps)


def test_bootstrap_redraws_resamples_with_too_few_distinct_prompts():
    rng = np.random.default_rng(3)
    S = {"e": rng.standard_normal((5, 6))}
    T = {"e": rng.standard_normal((5, 7))}
    res = bootstrap_overlap_ci(S, T, rng.standard_normal((7, 6)), 3, n_bootstrap=200, seed=0)
    assert res.n_redrawn[0] > 0  # 4 distinct of 5 needed: many resamples fall short
    assert res.n_skipped[0] == 0 and np.all(np.isfinite(res.bootstrap))
    assert res.ci_low[0] <= res.ci_high[0]
    idx, _, skip = _bootstrap_indices(5, 50, 4, np.random.default_rng(0))
    assert all(len(set(row)) >= 4 for row in idx[~skip])


def test_bootstrap_perfect_twin_is_one():
    S, T, W = _twin(np.random.default_rng(2), sigma=0.0, n=15)
    res = bootstrap_overlap_ci(S, T, W, 3, n_bootstrap=50, seed=0)
    np.testing.assert_allclose(res.bootstrap, 1.0, atol=1e-8)
    np.testing.assert_allclose([res.ci_low, res.ci_high], 1.0, atol=1e-8)


# ----------------------------------------------------------------------------------------------
# reliability


def test_reliability_of_an_exact_twin_is_one_normalised_and_never_a_fake_ceiling():
    S, T, W = _twin(np.random.default_rng(2), sigma=0.0, n=30)
    observed = bootstrap_overlap_ci(S, T, W, 3, n_bootstrap=5).observed
    res = split_half_reliability(S, T, W, 3, n_splits=20)
    np.testing.assert_allclose(res.normalised, 1.0, atol=1e-6)
    np.testing.assert_allclose(res.cross_half, res.source_split_half, atol=1e-6)
    # the full-sample overlap (1.0) may exceed every half-sample quantity; nothing here claims to bound it
    assert np.all(observed >= res.cross_half - 1e-9)


def test_reliability_of_noise_is_chance_and_unrelated_models_normalise_low():
    rng = np.random.default_rng(5)
    d, k = 40, 3
    S = {f"e{i}": rng.standard_normal((60, d)) for i in range(8)}
    T = {f"e{i}": rng.standard_normal((60, d)) for i in range(8)}
    res = split_half_reliability(S, T, np.eye(d), k, n_splits=60)
    # each emotion's data are one draw (its splits are correlated): average over emotions
    assert res.source_split_half.mean() == pytest.approx(k / d, abs=0.012)
    assert res.cross_half.mean() == pytest.approx(k / d, abs=0.012)
    strong = _structured(rng, 3, 60, d, k, strength=8.0)
    unrelated = _structured(rng, 3, 60, d, k, strength=8.0)
    res = split_half_reliability(strong, unrelated, np.eye(d), k, n_splits=30)
    assert np.all(res.source_split_half > 0.9) and np.all(res.normalised < 0.3)


def test_spearman_brown_and_reasons_when_k_too_large():
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    assert spearman_brown(0.5, factor=3) == pytest.approx(0.75)
    assert spearman_brown(1.0) == pytest.approx(1.0) and spearman_brown(0.0) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    S = {"small": rng.standard_normal((7, 10)), "big": rng.standard_normal((40, 10))}
    res = split_half_reliability(S, S, np.eye(10), 3)
    assert np.isnan(res.normalised[0]) and "k=3" in res.reasons[0] and "7 prompts" in res.reasons[0]
    assert res.reasons[1] is None and np.isfinite(res.normalised[1])


# ----------------------------------------------------------------------------------------------
# joint relabelling null (emotion, not any prompt group)


def test_joint_null_equals_naive_loop():
    _, S, T, W = _small_case(n=10)
    res = joint_relabel_null(S, T, W, 3, n_permutations=12, seed=3)
    perms = label_permutations(30, 12, 3)
    pooled_s, pooled_t = np.vstack(list(S.values())), np.vstack(list(T.values()))
    for i in range(3):
        naive = [_naive_overlap(pooled_s[p[10 * i:10 * (i + 1)]], pooled_t[p[10 * i:10 * (i + 1)]], W, 3) for p in perms]
        np.testing.assert_allclose(res.null[:, i], naive, atol=1e-8)
        e = list(S)[i]
        assert res.observed[i] == pytest.approx(_naive_overlap(S[e], T[e], W, 3), abs=1e-8)


def test_joint_null_fails_an_exact_twin_and_passes_emotion_structure_under_noise():
    rng = np.random.default_rng(2)
    S = _structured(rng, 3, 30, 24, 3, strength=3.0)
    Q = 1.5 * np.linalg.qr(rng.standard_normal((40, 24)))[0].T  # conformal twin (as the demo's): s Q h
    T = {e: v @ Q for e, v in S.items()}
    twin = joint_relabel_null(S, T, np.linalg.pinv(Q), 3, n_permutations=50)
    np.testing.assert_allclose(twin.null, 1.0, atol=1e-8)
    assert np.all(twin.p_values == 1.0)  # every grouping aligns: the twin correctly fails (c)
    rng = np.random.default_rng(4)
    S = _structured(rng, 3, 40, 24, 3, strength=4.0)
    A = rng.standard_normal((24, 40))
    T = {e: v @ A + 3.0 * rng.standard_normal((40, 40)) for e, v in S.items()}
    noisy = joint_relabel_null(S, T, np.linalg.pinv(A), 3, n_permutations=99)
    assert np.all(noisy.p_values <= 0.01), noisy.p_values


# ----------------------------------------------------------------------------------------------
# vocabulary baseline: prediction test


def test_prediction_test_matches_the_t_formula_and_is_calibrated():
    rng = np.random.default_rng(0)
    copies = rng.normal(0.3, 0.02, size=(20, 4))
    obs = np.array([0.3, 0.35, 0.25, 0.3 + 1e-9])
    res = prediction_test(obs, copies)
    m, sd = copies.mean(0), copies.std(0, ddof=1)
    np.testing.assert_allclose(res.bound, m + stats.t.ppf(0.95, 19) * sd * np.sqrt(1 + 1 / 20))
    np.testing.assert_allclose(res.p_values, stats.t.sf((obs - m) / (sd * np.sqrt(1 + 1 / 20)), 19))
    # calibrated: an observation exchangeable with the copies exceeds the bound 5 % of the time
    draws = rng.normal(size=(4000, 21))
    res = prediction_test(draws[:, 0], draws[:, 1:].T)
    assert np.mean(res.p_values < 0.05) == pytest.approx(0.05, abs=0.012)
    assert stats.kstest(res.p_values, "uniform").pvalue > 0.01
    both = beyond_baseline_p(res, prediction_test(draws[:, 1], draws[:, [0] + list(range(2, 21))].T))
    assert np.mean(both < 0.05) <= 0.05
    with pytest.raises(EmoalignError, match="at least 3 random-weight copies"):
        prediction_test(np.zeros(2), np.zeros((2, 2)))


# ----------------------------------------------------------------------------------------------
# kernels: top-k eigenpairs, weighted-row PCA, overlaps (against plain numpy)


def _subspace_gap(U: np.ndarray, V: np.ndarray) -> float:
    """k - ||U^T V||_F^2 for (m, k) orthonormal columns: 0 for the same subspace."""
    return float(U.shape[1] - np.sum((U.T @ V) ** 2))


@pytest.mark.parametrize("kind", ["random", "rank-deficient", "split", "repeated"])
def test_top_k_eigh_matches_numpy(kind):
    from emoalign.analysis.stats.common import top_k_eigh as _top_k_eigh

    rng = np.random.default_rng(5)
    m, k = 30, 6
    X = rng.standard_normal((4, m, 50)) * np.linspace(3, 0.2, 50)
    if kind == "rank-deficient":
        X = X[:, :, :10]  # rank 10 < m
    G = X @ np.swapaxes(X, 1, 2)
    if kind == "split":  # block diagonal: the tridiagonal form splits
        G[:, :12, 12:] = G[:, 12:, :12] = 0.0
    if kind == "repeated":  # a repeated eigenvalue inside the top k, well separated from the rest
        Q = np.linalg.qr(rng.standard_normal((m, m)))[0]
        G = np.broadcast_to(Q @ np.diag(np.r_[[9.0, 5.0, 5.0, 5.0, 3.0, 2.0], np.linspace(1, 0.1, m - 6)]) @ Q.T, (4, m, m))
    values, vectors = _top_k_eigh(np.ascontiguousarray(G), k)
    w, v = np.linalg.eigh(G)
    np.testing.assert_allclose(values, w[:, ::-1][:, :k], rtol=0, atol=1e-12 * w.max())
    np.testing.assert_allclose(np.swapaxes(vectors, 1, 2) @ vectors, np.broadcast_to(np.eye(k), (4, k, k)), atol=1e-12)
    for b in range(4):
        assert abs(_subspace_gap(vectors[b], v[b][:, ::-1][:, :k])) < 1e-10


def test_pca_of_weighted_rows_matches_explicit_weighted_pca():
    from emoalign.analysis.stats.common import pca_resampled as _pca_resampled

    rng = np.random.default_rng(6)
    C = rng.standard_normal((40, 60)) * np.linspace(4, 0.3, 60) + 25.0  # far from the origin: centring matters
    idx = rng.integers(0, 40, size=(20, 40))
    got = _pca_resampled(C, idx, 5)
    for b in range(20):
        Xc = C[idx[b]] - C[idx[b]].mean(axis=0)
        vt = np.linalg.svd(Xc, full_matrices=False)[2][:5]
        np.testing.assert_allclose(got[b] @ got[b].T, np.eye(5), atol=1e-12)
        assert abs(_subspace_gap(got[b].T, vt.T)) < 1e-10


def test_overlap_rows_matches_subspace_overlap_well_and_ill_conditioned():
    from emoalign.analysis.stats.common import overlap_rows as _overlap_rows

    rng = np.random.default_rng(7)
    k, r = 4, 20
    H = np.linalg.qr(rng.standard_normal((r, k)))[0].T[None]
    A = rng.standard_normal((3, k, r))
    A[1] = np.diag([1.0, 1e-3, 1e-6, 1.0]) @ A[1]  # ill-conditioned: the SVD path
    A[2, 3] = A[2, 0] + A[2, 1]  # rank k - 1: the lost direction counts as orthogonal (denominator k)
    got = _overlap_rows(H, A, k, r)
    for b in range(3):
        assert got[b] == pytest.approx(subspace_overlap(H[0], A[b]), abs=1e-12)


# ----------------------------------------------------------------------------------------------
# BCa


def test_bca_interval_matches_scipy_bootstrap():
    rng = np.random.default_rng(1)
    x = rng.exponential(size=40)
    statistic = np.var
    ref = stats.bootstrap((x,), statistic, n_resamples=20000, method="BCa", rng=np.random.default_rng(2))
    idx = np.random.default_rng(3).integers(0, 40, size=(20000, 40))
    boot = np.var(x[idx], axis=1)
    jack = np.array([np.var(np.delete(x, i)) for i in range(40)])
    low, high = bca_interval(boot, float(np.var(x)), jack)
    assert low == pytest.approx(ref.confidence_interval.low, rel=0.03)
    assert high == pytest.approx(ref.confidence_interval.high, rel=0.03)
    assert bca_interval(np.ones(10), 1.0, np.ones(5)) == (1.0, 1.0)


# ----------------------------------------------------------------------------------------------
# errors


def test_errors_are_clear():
    _, S, T, W = _small_case()
    with pytest.raises(EmoalignError, match=r"k=10 exceeds the 10 samples"):
        label_permutation_null(S, T, W, 10)
    with pytest.raises(EmoalignError, match=r"k=10 exceeds"):
        bootstrap_overlap_ci(S, T, W, 10)
    with pytest.raises(EmoalignError, match=r"k=10 exceeds"):
        pairing_null(np.zeros((5, 40)), np.zeros((5, 24)), S, T, 10, method="lstsq")
    with pytest.raises(EmoalignError, match="same emotions"):
        label_permutation_null(S, {"e0": T["e0"]}, W, 2)
    with pytest.raises(EmoalignError, match="paired"):
        label_permutation_null(S, {**T, "e1": T["e1"][:5]}, W, 2)
    with pytest.raises(EmoalignError, match="map weight has shape"):
        label_permutation_null(S, T, W.T, 2)
    with pytest.raises(EmoalignError, match="at least two emotions"):
        label_permutation_null({"e0": S["e0"]}, {"e0": T["e0"]}, W, 2)
    with pytest.raises(EmoalignError, match="span only"):
        label_permutation_null(
            {e: np.outer(np.arange(10.0), np.ones(24)) + i for i, e in enumerate(S)}, T, W, 2
        )
    with pytest.raises(EmoalignError, match="confidence"):
        bootstrap_overlap_ci(S, T, W, 2, confidence=1.5)


# ----------------------------------------------------------------------------------------------
# multiple comparisons, grid max, verdicts


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=10), [0.03, 0.03, 1.0, 0.0]])
    q = benjamini_hochberg(p)
    np.testing.assert_array_equal(q, stats.false_discovery_control(p, method="bh"))
    order = np.argsort(p)
    assert np.all(np.diff(q[order]) >= -1e-15) and np.all(q <= 1) and np.all(q >= p)
    grid = benjamini_hochberg(p[:12].reshape(3, 4))
    np.testing.assert_array_equal(grid.ravel(), stats.false_discovery_control(p[:12], method="bh"))
    # the textbook step-up, q_(i) = min_{j >= i} m p_(j) / j, as a second oracle
    m = p.size
    ranked = np.sort(p) * m / np.arange(1, m + 1)
    expected = np.empty(m)
    expected[np.argsort(p, kind="stable")] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    np.testing.assert_allclose(q, expected, rtol=1e-14, atol=0)


def test_benjamini_hochberg_nan_passthrough_and_errors():
    p = np.array([0.01, np.nan, 0.04, 0.5])
    q = benjamini_hochberg(p)
    assert np.isnan(q[1])
    np.testing.assert_array_equal(q[[0, 2, 3]], stats.false_discovery_control(p[[0, 2, 3]]))
    assert benjamini_hochberg(np.array([])).shape == (0,)
    assert np.isnan(benjamini_hochberg(np.full((2, 2), np.nan))).all()
    with pytest.raises(EmoalignError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.2, 1.5])


def test_grid_max_null_and_p_value():
    rng = np.random.default_rng(0)
    null = rng.uniform(size=(99, 6))
    obs = 0.97
    expected = (1 + np.sum(null.max(axis=1) >= obs)) / 100
    assert grid_max_null(null, obs) == pytest.approx(expected)
    assert grid_max_null(null, 2.0) == pytest.approx(1 / 100)
    assert grid_max_null(null, -1.0) == pytest.approx(1.0)
    np.testing.assert_allclose(permutation_p_value(null, np.full(6, 0.5)), (1 + (null >= 0.5).sum(0)) / 100)
    with pytest.raises(EmoalignError, match="permutations x cells"):
        grid_max_null(null[:, 0], 0.5)


def test_verdicts():
    assert cell_verdict(True, True) == BEYOND_VOCABULARY == "shared beyond vocabulary"
    assert cell_verdict(True, False) == VOCABULARY_ONLY
    assert cell_verdict(False, True) == NO_CORRESPONDENCE  # no map correspondence: nothing else counts
    assert cell_verdict(True, None) == VOCABULARY_UNCHECKED
    cells = pd.DataFrame({"overlap_after": [0.5, 0.6], "specificity": [0.1, 0.2], "p_pairing": [0.01, 0.02]})
    null = np.linspace(0.1, 0.3, 50)
    copies = (np.random.default_rng(0).normal(0.3, 0.01, 20), np.random.default_rng(1).normal(0.0, 0.01, 20))
    summary = pair_summary(cells, pairing_null_means=null, baseline_means=copies)
    assert summary["verdict"] == BEYOND_VOCABULARY and summary["p_pairing"] == pytest.approx(1 / 51)
    assert "20 random-weight copies" in summary["summary"]
    summary = pair_summary(cells, pairing_null_means=null, baseline_means=(copies[0] + 0.3, copies[1]))
    assert summary["verdict"] == VOCABULARY_ONLY and summary["p_baseline"] > 0.5
    assert pair_summary(cells, pairing_null_means=null + 0.5)["verdict"] == NO_CORRESPONDENCE
    assert pair_summary(cells, metric="legacy")["verdict"].startswith("no verdict")


def test_group_assignment_p_is_exact_and_structure_preserving():
    from emoalign.analysis.inference import group_assignment_p as emotion_identity_p

    perfect = np.eye(3) * 0.9 + 0.1
    assert emotion_identity_p(perfect) == pytest.approx(1 / 6)  # best possible with 3 emotions
    swapped = perfect[:, [1, 0, 2]]
    assert emotion_identity_p(swapped) > 0.5
    # one assignment shared by every layer pair: a stack behaves like the summed matrix
    assert emotion_identity_p(np.stack([perfect, perfect])) == pytest.approx(1 / 6)
    # exact under the null: unrelated structured targets give uniform p over the E! assignments
    rng = np.random.default_rng(0)
    ps = [emotion_identity_p(rng.random((3, 3))) for _ in range(3000)]
    for level in (1 / 6, 2 / 6, 3 / 6):
        assert np.mean(np.array(ps) <= level + 1e-9) == pytest.approx(level, abs=0.03)
    # five emotions reach p = 1/120
    assert emotion_identity_p(np.eye(5) + 0.1) == pytest.approx(1 / 120)
