"""Rank from the data, not from round-off: activations are float32, so directions below
FLOAT32_RTOL (1e-6) of the largest singular value are noise, and overlaps closer than TIE_TOL (1e-5)
are ties (DESIGN §4)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import emoalign
from emoalign.analysis.alignment import AlignConfig, align_layer_pair
from emoalign.analysis.inference import group_assignment_p
from emoalign.analysis.linalg import (
    FLOAT32_RTOL,
    TIE_TOL,
    centred_rank,
    count_distinct_rows,
    numerical_rank,
)
from emoalign.analysis.overlap import orthonormal_basis, subspace_overlap
from emoalign.analysis.stats import bootstrap_overlap_ci, permutation_p_value
from emoalign.analysis.stats.common import overlap_rows as _overlap_rows
from emoalign.analysis.subspace import fit_subspace
from emoalign.analysis.verdict import add_verdicts
from emoalign.core.errors import EmoalignError
from emoalign.study.arrays import from_arrays
from emoalign.study.parallel import align_activation_sets

EMOTIONS = ("joy", "anger", "fear")


def _float32(x: np.ndarray) -> np.ndarray:
    """Round-off of float32 storage, as extracted activations carry it."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def _low_rank(rng, n: int, d: int, rank: int, scale: float = 1.0) -> np.ndarray:
    """n rows of exact centred rank ``rank`` (a random centre plus a rank-``rank`` spread) in float64."""
    basis = np.linalg.qr(rng.standard_normal((d, rank)))[0].T
    coeffs = rng.standard_normal((n, rank)) * np.linspace(2.0, 1.0, rank)
    return scale * (rng.standard_normal(d) + coeffs @ basis)


def _model(emotion_by_layer, rng, name, d, m=12, p=80):
    """ModelActivations with the given emotion arrays (layer -> (n, d)) and random references."""
    layers = sorted(emotion_by_layer)
    return emoalign.ModelActivations(
        emotion={layer: emotion_by_layer[layer] for layer in layers},
        labels=[e for e in EMOTIONS for _ in range(emotion_by_layer[layers[0]].shape[0] // len(EMOTIONS))],
        reference={layer: rng.standard_normal((m, d)) for layer in layers},
        paired={layer: rng.standard_normal((p, d)) for layer in layers},
        name=name,
    )


def _pair(ranks_by_layer: dict[int, int], *, n: int = 20, d: int = 48, seed: int = 0):
    """Source and target activation sets whose emotion vectors have the given centred rank per layer
    (every emotion, both models), stored as float32."""
    rng = np.random.default_rng(seed)
    emotion = {
        role: {
            layer: np.vstack([_low_rank(rng, n, d, rank) for _ in EMOTIONS]) for layer, rank in ranks_by_layer.items()
        }
        for role in ("source", "target")
    }
    return from_arrays(_model(emotion["source"], rng, "source", d), _model(emotion["target"], rng, "target", d))


NO_STATS = dict(n_permutations=0, baseline_seeds=0)


# ----------------------------------------------------------------------------------------------
# the rank functions against numpy's oracle


@pytest.mark.parametrize("shape, rank", [((20, 48), 6), ((70, 64), 9), ((30, 12), 12), ((40, 200), 39), ((5, 3), 1)])
def test_numerical_rank_matches_numpy_matrix_rank(shape, rank):
    rng = np.random.default_rng(sum(shape) + rank)
    n, d = shape
    X = _float32(rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d)))
    s_max = np.linalg.svd(X, compute_uv=False)[0]
    assert numerical_rank(X) == np.linalg.matrix_rank(X, tol=FLOAT32_RTOL * s_max) == rank
    # float64's default rule counts float32 round-off as dimensions
    assert rank == min(n, d) or np.linalg.matrix_rank(X) > rank
    Xc = X - X.mean(axis=0)
    assert centred_rank(X) == np.linalg.matrix_rank(Xc, tol=FLOAT32_RTOL * np.linalg.svd(Xc, compute_uv=False)[0])
    for rtol in (1e-3, 1e-9):
        assert numerical_rank(X, rtol) == np.linalg.matrix_rank(X, tol=rtol * s_max)
    assert numerical_rank(np.zeros((4, 3))) == 0 and centred_rank(np.ones((4, 3))) == 0


def test_count_distinct_rows():
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((10, 32))
    X = rows[np.repeat(np.arange(10), 7)]  # 70 rows, 10 distinct
    assert count_distinct_rows(X) == len(np.unique(X, axis=0)) == 10
    jittered = X * (1 + 1e-8 * rng.standard_normal(X.shape))  # batch round-off: still 10
    assert count_distinct_rows(jittered) == 10
    assert count_distinct_rows(rows) == 10 and count_distinct_rows(rows[:1]) == 1
    assert count_distinct_rows(np.zeros((3, 4))) == 1
    assert count_distinct_rows(X, rtol=0.0) == 10


# ----------------------------------------------------------------------------------------------
# k against the numerical rank of the emotion vectors


def test_k_above_the_numerical_rank_is_refused_in_one_line():
    """Rank-6 emotion vectors at 20 prompts: k=8 used to run on two noise directions."""
    source, target = _pair({0: 6})
    vectors = source.acts("joy", 0).astype(np.float64)
    assert centred_rank(vectors) == 6 and np.linalg.matrix_rank(vectors - vectors.mean(axis=0)) > 6
    with pytest.raises(EmoalignError) as info:
        align_activation_sets(source, target, [(0, 0)], AlignConfig(n_components=8, **NO_STATS))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "k=8 exceeds the numerical rank 6 of the 20 centred emotion vectors of 'joy' at layer 0 of source"
    )
    assert "lower k" in message and "more distinct prompts" in message
    (pair,) = align_activation_sets(source, target, [(0, 0)], AlignConfig(n_components=6, **NO_STATS))
    assert pair.profile_ks == (2, 4, 6)  # 8 and 16 would profile noise


def test_k16_on_rank9_data_names_rank_9():
    source, target = _pair({0: 9})
    with pytest.raises(EmoalignError, match=r"^k=16 exceeds the numerical rank 9 of the 20 centred emotion vectors"):
        align_activation_sets(source, target, [(0, 0)], AlignConfig(n_components=16, **NO_STATS))
    # the statistics check the same rank (their own guard when called directly)
    S = {e: source.acts(e, 0).astype(np.float64) for e in EMOTIONS}
    T = {e: target.acts(e, 0).astype(np.float64) for e in EMOTIONS}
    W = np.random.default_rng(2).standard_normal((48, 48))
    with pytest.raises(EmoalignError, match=r"span only 9 dimension\(s\) once centred.*k=16"):
        bootstrap_overlap_ci(S, T, W, 16, n_bootstrap=10)


def test_the_k_profile_only_holds_ks_every_layer_spans():
    source, target = _pair({0: 6, 1: 9})
    config = AlignConfig(n_components=4, **NO_STATS)
    assert align_layer_pair(source, target, 1, 1, config).profile_ks == (2, 4, 8)  # alone, layer 1 spans 8
    pairs = align_activation_sets(source, target, [(0, 0), (1, 1)], config)
    for pair in pairs:
        assert pair.profile_ks == (2, 4) and pair.profile.shape[0] == 2
    full = align_layer_pair(source, target, 1, 1, config)
    np.testing.assert_array_equal(pairs[1].profile, full.profile[:2])


def test_explained_variance_of_round_off_components_is_zero():
    rng = np.random.default_rng(3)
    X = _float32(_low_rank(rng, 20, 48, 6))
    sub = fit_subspace(X, 8)  # the shape allows 8; the data hold 6
    assert np.all(sub.explained_variance_ratio[:6] > 0) and np.all(sub.explained_variance_ratio[6:] == 0)
    assert sub.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------------------------
# duplicate emotion vectors


@pytest.fixture
def warnings_seen(caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("emoalign"), "propagate", True)
    caplog.set_level(logging.WARNING, logger="emoalign")
    return caplog


def test_duplicate_emotion_vectors_are_warned_with_counts(warnings_seen):
    rng = np.random.default_rng(4)
    d, n = 32, 20
    emotion = {}
    for layer in (0, 1):
        joy, fear = (_low_rank(rng, n, d, 12) for _ in range(2))
        anger = _low_rank(rng, 10, d, 9)[np.repeat(np.arange(10), 2)]  # 20 prompts, 10 distinct contexts
        anger = anger * (1 + 1e-9 * rng.standard_normal(anger.shape))  # batching round-off
        emotion[layer] = np.vstack([joy, anger, fear])
    source, target = from_arrays(_model(emotion, rng, "src", d), _model(emotion, rng, "tgt", d))
    align_activation_sets(source, target, [(0, 0), (1, 1)], AlignConfig(n_components=3, **NO_STATS))
    messages = [r.getMessage() for r in warnings_seen.records if r.levelno == logging.WARNING]
    assert messages == [
        f"anger at layers 0, 1 of {name}: 20 prompts give only 10 distinct emotion vectors "
        "(identical left context before the emotion word in a causal model?)"
        for name in ("src", "tgt")
    ]


def test_distinct_emotion_vectors_give_no_warning(warnings_seen):
    source, target = _pair({0: 6, 1: 9})
    align_activation_sets(source, target, [(0, 0), (1, 1)], AlignConfig(n_components=4, **NO_STATS))
    assert [r for r in warnings_seen.records if r.levelno >= logging.WARNING] == []


# ----------------------------------------------------------------------------------------------
# ties at float32 resolution


def test_values_within_the_tie_tolerance_are_ties():
    assert 1e-6 < TIE_TOL <= 1e-4  # between float32 round-off and any difference worth reporting
    observed = 1.0
    null = np.array([observed - 0.9 * TIE_TOL, observed - 0.5 * TIE_TOL, observed - 3 * TIE_TOL, 0.2])
    assert permutation_p_value(null, observed) == pytest.approx(3 / 5)  # two ties + itself
    cross = np.full((3, 3), 1.0) - 1e-7 * np.random.default_rng(5).random((3, 3))  # a twin: all ~1
    assert group_assignment_p(cross) == 1.0


def test_a_noise_direction_of_a_mapped_basis_is_dropped_and_well_conditioned_input_is_unchanged():
    rng = np.random.default_rng(6)
    k, d = 4, 40
    H = np.linalg.qr(rng.standard_normal((d, k)))[0].T
    A = rng.standard_normal((k, d))
    old_rule = np.linalg.qr(A.T)[0].T  # every row kept (float64 rule), as before
    np.testing.assert_allclose(orthonormal_basis(A).T @ orthonormal_basis(A), old_rule.T @ old_rule, atol=1e-12)
    noisy = np.diag([1.0, 1.0, 1.0, 1e-8]) @ A  # a direction the map shrank to round-off
    assert orthonormal_basis(noisy).shape == (3, d)  # max(k, d) * eps would keep it
    assert orthonormal_basis(np.diag([1.0, 1.0, 1.0, 1e-5]) @ A).shape == (4, d)
    expected = float(np.sum((H @ orthonormal_basis(noisy).T) ** 2)) / k  # the lost direction counts as orthogonal
    assert subspace_overlap(H, noisy) == pytest.approx(expected, abs=1e-12)
    assert _overlap_rows(H[None], noisy[None], k, d)[0] == pytest.approx(expected, abs=1e-12)


def _twin_arrays(seed: int, rel: float, d: int = 32, width: int = 48, n: int = 20, m: int = 30, p: int = 300):
    """A source and its exact planted twin ``h' = s Q h`` (Q: width x d, orthonormal columns), both
    stored as float32; the twin's float32 forward pass is emulated by a relative error ``rel``."""
    rng = np.random.default_rng(seed)
    layers = (0, 1, 2, 3)
    labels = [e for e in EMOTIONS for _ in range(n)]
    emo, ref, pai = [], [], []
    for _ in layers:
        rotation = np.linalg.qr(rng.standard_normal((d, d)))[0]
        scale = np.linspace(2.0, 1.0, d)  # well conditioned: every map recovers the twin
        centres = {e: rng.standard_normal(d) for e in EMOTIONS}
        spread = (rng.standard_normal((len(labels), d)) * scale) @ rotation
        emo.append(np.array([centres[label] for label in labels]) + spread)
        ref.append((rng.standard_normal((m, d)) * scale) @ rotation)
        pai.append((rng.standard_normal((p, d)) * scale) @ rotation)
    q = np.linalg.qr(rng.standard_normal((width, d)))[0]

    def twin(x):
        x = np.asarray(x) * (1 + rel * rng.standard_normal(np.shape(x)))
        return (np.sqrt(width / d) * x @ q.T).astype(np.float32)

    source = emoalign.ModelActivations(np.stack(emo).astype(np.float32), labels, np.stack(ref).astype(np.float32),
                                       np.stack(pai).astype(np.float32), name="source")
    target = emoalign.ModelActivations(twin(np.stack(emo)), labels, twin(np.stack(ref)), twin(np.stack(pai)),
                                       name="twin")
    return from_arrays(source, target)


@pytest.mark.parametrize("method", ["ridge", "lstsq", "procrustes", "cca"])
def test_an_exact_twin_is_never_emotion_specific_by_round_off(method):
    """Step (c) of the verdict: the twin shares every prompt grouping, so relabelled groups align as
    well as the emotions, up to round-off. With ties at 1e-12, round-off decided step (c) (here
    observed and null within ~3e-8 of 1 gave p from 0.3 to 0.9; the tiny Llama twin of
    test_known_answer p down to 0.015); at TIE_TOL every null value is a tie and p = 1."""
    source, target = _twin_arrays(seed=0, rel=1e-5)
    config = AlignConfig(n_components=4, map_method=method, n_permutations=100, n_bootstrap=10,
                         n_pairing_permutations=20)
    pairs = align_activation_sets(source, target, [(layer, layer) for layer in source.layers], config)
    cells = pd.DataFrame([cell for pair in pairs for cell in pair.cells])
    assert (cells["overlap_after"] > 1 - TIE_TOL).all()  # the twin is recovered
    assert (1 - np.stack([pair.nulls.joint for pair in pairs]) < TIE_TOL).all()  # so is every relabelled group
    assert (cells["p_emotion"] == 1.0).all()
    # the verdict per cell, with step (b) granted (the hardest case for step (c))
    cells["p_baseline"] = 0.0
    layers = pd.DataFrame([{"layer": p.source_layer, "target_layer": p.target_layer} for p in pairs])
    add_verdicts(cells, layers, alpha=config.alpha)
    assert cells["correspondence"].all() and (cells["verdict"] == "shared beyond vocabulary").all()
    assert not cells["emotion_specific"].any()
    assert (layers["n_emotion_specific"] == 0).all()
