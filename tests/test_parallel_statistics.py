"""Parallel statistics (issue 13): workers=2 equals workers=1 bit for bit, the source-side cache
changes nothing, and the spectral ridge CV equals the direct one and sklearn."""

import numpy as np
import pandas as pd
import pytest

from emoalign.analysis.alignment import AlignConfig
from emoalign.analysis.maps import fit_map, fit_ridge_map, variance_weighted_r2
from emoalign.core.errors import EmoalignError
from emoalign.extract.activations import ActivationSet
from emoalign.study.align import align_study
from emoalign.study.parallel import (
    PAIR_CACHE,
    SOURCE_CACHE,
    align_activation_sets,
    baseline_cross_overlaps,
)

EMOTIONS = ("anger", "joy", "sadness")


def _pair(seed, n_layers=2, d_s=16, d_t=24, n_prompts=12, n_ref=10, words=4, names=("src", "tgt")):
    """Synthetic source/target activation sets on shared latent factors (emotion e loads on its own)."""
    rng = np.random.default_rng(seed)
    labels = tuple(e for e in EMOTIONS for _ in range(n_prompts)) + ("neutral",) * n_ref
    n, latent, n_words = len(labels), 12, n_ref * words
    sets = []
    z = rng.standard_normal((n_layers, n, latent))
    for i in range(len(EMOTIONS)):
        z[:, i * n_prompts : (i + 1) * n_prompts, 3 * i : 3 * i + 3] *= 4.0
    zw = rng.standard_normal((n_layers, n_words, latent))
    for name, d in zip(names, (d_s, d_t)):
        A = rng.standard_normal((latent, d))
        sets.append(ActivationSet(
            model={"name": name}, dataset={"name": "synthetic", "hash": "h", "label_counts": {}},
            layers=tuple(range(n_layers)), texts=tuple(f"p{i}" for i in range(n)), labels=labels,
            reference_label="neutral", position_policy="all",
            prompt_acts=(z @ A + 0.5 * rng.standard_normal((n_layers, n, d))).astype(np.float32),
            word_acts=(zw @ A + 0.5 * rng.standard_normal((n_layers, n_words, d))).astype(np.float32),
            word_prompt=np.repeat(np.arange(n - n_ref, n), words), word_position=np.tile(np.arange(words), n_ref),
            fallback=np.zeros(n, bool), matched_tokens=tuple(() for _ in range(n)),
        ))
    return tuple(sets)


CONFIG = AlignConfig(n_components=3, n_permutations=20, n_bootstrap=30, n_pairing_permutations=20, baseline_seeds=3)
PAIRS = [(0, 0), (1, 1)]


@pytest.fixture(scope="module")
def study():
    source, target = _pair(0)
    copies = [_pair(100 + c, names=(f"src-{c}", f"tgt-{c}")) for c in range(3)]
    return source, target, copies


def _run(study, workers):
    SOURCE_CACHE.clear()
    PAIR_CACHE.clear()
    source, target, copies = study
    return align_study(source, target, PAIRS, CONFIG, baseline_copies=copies, workers=workers)


def _assert_identical(a, b):
    assert sorted(a.arrays) == sorted(b.arrays)
    for name in a.arrays:
        assert np.array_equal(a.arrays[name], b.arrays[name], equal_nan=True), name
    pd.testing.assert_frame_equal(a.cells, b.cells, check_exact=True)
    pd.testing.assert_frame_equal(a.layers, b.layers, check_exact=True)
    pd.testing.assert_frame_equal(a.k_profile, b.k_profile, check_exact=True)
    assert a.summary == b.summary and a.config == b.config


def test_two_workers_equal_one_bit_for_bit_with_baseline_copies(study):
    serial, parallel = _run(study, 1), _run(study, 2)
    _assert_identical(serial, parallel)
    assert "baseline_cross_overlap_by_k" in serial.arrays and "pairing_null" in serial.arrays
    assert "workers" not in serial.config  # it changes nothing, so it is not part of the run configuration


def test_cached_source_side_changes_nothing(study):
    source, target, _ = study
    cold = _run(study, 1)
    hits = SOURCE_CACHE.hits
    warm = align_study(source, target, PAIRS, CONFIG, baseline_copies=study[2])  # source side from the cache
    assert SOURCE_CACHE.hits > hits and len(SOURCE_CACHE) > 0
    _assert_identical(cold, warm)


def test_baseline_copies_in_workers_keep_their_order(study):
    _, _, copies = study
    one = baseline_cross_overlaps(copies, PAIRS, CONFIG, (2, 3), workers=1)
    two = baseline_cross_overlaps(copies, PAIRS, CONFIG, (2, 3), workers=0)  # one per core
    assert one.cross.shape == (3, 2, 2, 3, 3) and np.array_equal(one.cross, two.cross)
    assert one.seeds == two.seeds


def test_negative_workers_is_one_line_naming_workers(study):
    source, target, _ = study
    for call in (lambda: align_activation_sets(source, target, PAIRS, CONFIG, workers=-1),
                 lambda: align_study(source, target, PAIRS, CONFIG, workers=-1)):
        with pytest.raises(EmoalignError, match=r"^workers -1: use a number of processes >= 1, or 0 for one per") as err:
            call()
        assert "\n" not in str(err.value)


def test_a_failing_layer_pair_raises_the_serial_error_from_workers(study):
    source, target, _ = study
    for workers in (1, 2):
        with pytest.raises(EmoalignError, match=r"layer 5 was not extracted for src"):
            align_activation_sets(source, target, [(0, 0), (5, 1), (1, 1)], CONFIG, workers=workers)


# ----------------------------------------------------------------------------------------------
# ridge: spectral CV against the direct CV it replaced (the oracle) and sklearn


def _oracle_ridge(X_t, X_s, alphas=None, n_folds=5, seed=0):
    """The previous fit_ridge_map: one prediction (matrix product) per alpha and fold."""
    n, d_t = X_t.shape
    mt, ms = X_t.mean(axis=0), X_s.mean(axis=0)
    Xc, Yc = X_t - mt, X_s - ms
    if alphas is None:
        grid = float(np.sum(Xc**2)) / max(min(n - 1, d_t), 1) * np.logspace(-6, 3, 19)
    else:
        grid = np.asarray(alphas, dtype=np.float64)
    cv = np.zeros(grid.size)
    for val in np.array_split(np.random.default_rng(seed).permutation(n), min(n_folds, n)):
        tr = np.setdiff1d(np.arange(n), val)
        x_mean, y_mean = X_t[tr].mean(axis=0), X_s[tr].mean(axis=0)
        U, s, Vt = np.linalg.svd(X_t[tr] - x_mean, full_matrices=False)
        keep = s > s[0] * max(tr.size, d_t) * np.finfo(float).eps
        U, s, Vt = U[:, keep], s[keep], Vt[keep]
        Q, B = ((X_t[val] - x_mean) @ Vt.T) * s, U.T @ (X_s[tr] - y_mean)
        for i, lam in enumerate(grid):
            cv[i] += np.sum((X_s[val] - y_mean - (Q / (s**2 + lam)) @ B) ** 2)
    alpha = grid[int(np.argmin(cv))]
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    W = (Vt.T * (s / (s**2 + alpha))) @ (U.T @ Yc)
    return W, alpha, cv / (n * X_s.shape[1])


def _ridge_data(n, d_t, seed):
    rng = np.random.default_rng(seed)
    X_t = rng.standard_normal((n, d_t)) * np.linspace(3.0, 0.2, d_t) + 1.0
    X_s = X_t[:, :6] @ rng.standard_normal((6, 5)) + 0.7 * rng.standard_normal((n, 5)) - 2.0
    return X_t, X_s


@pytest.mark.parametrize("n,d_t", [(60, 150), (150, 20)])  # dual (Gram) and primal (SVD) forms
def test_spectral_ridge_cv_equals_the_direct_cv_and_sklearn(n, d_t):
    from sklearn.linear_model import Ridge

    X_t, X_s = _ridge_data(n, d_t, seed=n)
    W_oracle, alpha, cv_oracle = _oracle_ridge(X_t, X_s, seed=4)
    m = fit_ridge_map(X_t, X_s, seed=4)
    assert m.params["alpha"] == alpha
    np.testing.assert_allclose(m.params["cv_mse"], cv_oracle, rtol=1e-8)
    assert np.abs(m.weight - W_oracle).max() <= 1e-8 * np.abs(W_oracle).max()
    ref = Ridge(alpha=alpha, fit_intercept=True, solver="svd").fit(X_t, X_s).coef_.T
    assert np.abs(m.weight - ref).max() <= 1e-8 * np.abs(ref).max()
    # through fit_map: the held-out fit shares the Gram matrix with the final fit
    full = fit_map("ridge", X_t, X_s, heldout_fraction=0.2, seed=4)
    assert full.params["alpha"] == alpha
    assert np.abs(full.weight - W_oracle).max() <= 1e-8 * np.abs(W_oracle).max()
    perm = np.random.default_rng(4).permutation(n)
    test, train = np.sort(perm[: round(0.2 * n)]), np.sort(perm[round(0.2 * n) :])
    W_prelim, _, _ = _oracle_ridge(X_t[train], X_s[train], seed=4)
    pred = (X_t[test] - X_t[train].mean(axis=0)) @ W_prelim + X_s[train].mean(axis=0)
    assert full.heldout_r2 == pytest.approx(variance_weighted_r2(X_s[test], pred), rel=1e-10)


def test_spectral_ridge_cv_on_noiseless_pairs_picks_the_direct_alpha():
    # near-perfect fits: the expanded squared error would cancel; those alphas are recomputed directly
    rng = np.random.default_rng(3)
    X_t = rng.standard_normal((80, 12))
    X_s = X_t @ rng.standard_normal((12, 4)) + 1.0
    W_oracle, alpha, cv_oracle = _oracle_ridge(X_t, X_s, seed=1)
    m = fit_ridge_map(X_t, X_s, seed=1)
    assert m.params["alpha"] == alpha
    np.testing.assert_allclose(m.params["cv_mse"], cv_oracle, rtol=1e-6)
    np.testing.assert_allclose(m.weight, W_oracle, rtol=0, atol=1e-8 * np.abs(W_oracle).max())
