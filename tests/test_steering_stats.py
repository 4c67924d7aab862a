"""The causal test's arithmetic (emoalign.analysis.steering): known answers and brute-force oracles."""

from __future__ import annotations

import numpy as np
import pytest

from emoalign.analysis.steering import (
    LayerShifts,
    at_norm,
    bootstrap_mean_ci,
    bootstrap_ratio_ci,
    carry,
    cell_verdict,
    fit_transfer_map,
    max_t_pvalues,
    random_directions,
    shuffled_transfer_weights,
    steering_tables,
    toward_own,
)
from emoalign.core.errors import EmoalignError
from emoalign.core.steering import CELL_COLUMNS, SteeringResult


def test_transfer_map_recovers_an_exact_linear_relation_and_carries_differences():
    rng = np.random.default_rng(0)
    source = rng.standard_normal((400, 6))
    weight = rng.standard_normal((6, 9))
    target = source @ weight + 3.0  # an affine image: the offset must not reach a carried difference
    linear_map = fit_transfer_map(source, target, "lstsq")
    assert linear_map.weight.shape == (6, 9)
    np.testing.assert_allclose(linear_map.weight, weight, atol=1e-8)
    assert linear_map.heldout_r2 == pytest.approx(1.0, abs=1e-9)
    difference = source[:3] - source[3:6]
    np.testing.assert_allclose(carry(difference, linear_map.weight), target[:3] - target[3:6], atol=1e-8)


def test_shuffled_maps_keep_the_alpha_and_lose_the_relation():
    rng = np.random.default_rng(1)
    source = rng.standard_normal((300, 5))
    target = source @ rng.standard_normal((5, 7))
    linear_map = fit_transfer_map(source, target, "ridge")
    weights = shuffled_transfer_weights(source, target, linear_map, 4, seed=3)
    assert len(weights) == 4 and all(w.shape == (5, 7) for w in weights)
    # a map fitted on broken pairs is far from the true one (ridge's true map is nearly exact here)
    for w in weights:
        assert np.linalg.norm(w - linear_map.weight) > 0.5 * np.linalg.norm(linear_map.weight)
    again = shuffled_transfer_weights(source, target, linear_map, 4, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(weights, again))  # seeded


def test_at_norm_and_random_directions():
    vectors = np.array([[3.0, 4.0], [0.0, -2.0]])
    np.testing.assert_allclose(np.linalg.norm(at_norm(vectors, 7.0), axis=1), [7.0, 7.0])
    np.testing.assert_allclose(at_norm(vectors, 5.0)[0], [3.0, 4.0])
    with pytest.raises(EmoalignError, match="layer 3.*zero"):
        at_norm(np.array([[1.0, 0.0], [0.0, 0.0]]), 1.0, context="layer 3")
    directions = random_directions(500, 3, seed=0)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0)
    assert np.abs(directions.mean(axis=0)).max() < 0.1  # uniform on the sphere: no preferred side


def test_bootstrap_intervals_cover_the_mean_and_match_scipy():
    from scipy.stats import bootstrap

    values = np.random.default_rng(2).normal(1.0, 2.0, size=40)
    mean, low, high = bootstrap_mean_ci(values, n_bootstrap=4000, seed=0)
    assert mean == pytest.approx(values.mean())
    oracle = bootstrap((values,), np.mean, n_resamples=4000, method="percentile", random_state=0).confidence_interval
    assert low == pytest.approx(oracle.low, abs=0.08) and high == pytest.approx(oracle.high, abs=0.08)
    ratio, r_low, r_high = bootstrap_ratio_ci(2 * values + 5, values + 2.5, n_bootstrap=500)
    assert ratio == pytest.approx(2.0) and r_low == pytest.approx(2.0) and r_high == pytest.approx(2.0)
    assert np.isnan(bootstrap_ratio_ci(values, -np.abs(values))[0])  # no effect to divide by


def test_max_t_pvalues_against_a_brute_force_oracle():
    rng = np.random.default_rng(4)
    null = rng.standard_normal((30, 5)) * np.array([1, 2, 3, 4, 5])
    observed = np.array([0.1, 9.0, -1.0, 2.0, 30.0])
    family, per_cell = max_t_pvalues(observed, null)
    rows = np.vstack([observed, null])  # studentised over all 31 values, the observed included
    for c in range(5):
        assert per_cell[c] == pytest.approx((1 + np.sum(null[:, c] >= observed[c])) / 31)
        t_obs = (observed[c] - rows[:, c].mean()) / rows[:, c].std(ddof=1)
        t_max = [max((null[n, j] - rows[:, j].mean()) / rows[:, j].std(ddof=1) for j in range(5)) for n in range(30)]
        assert family[c] == pytest.approx((1 + sum(t >= t_obs for t in t_max)) / 31)
    assert np.all(family >= per_cell - 1e-12)  # family-wise is never smaller than the cell's own
    assert family[4] == pytest.approx(1 / 31)
    with pytest.raises(EmoalignError, match="draws"):
        max_t_pvalues(observed, null[:1])


def test_max_t_controls_the_family_wise_error_under_the_null():
    rng = np.random.default_rng(5)
    rejections = 0
    trials = 1000
    for _ in range(trials):
        draws = rng.standard_normal((21, 6)) * np.arange(1, 7)
        family, _ = max_t_pvalues(draws[0], draws[1:])  # the observed is one more draw of the null
        rejections += bool((family <= 0.05).any())
    assert rejections / trials <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / trials)


@pytest.mark.parametrize(("p_own", "p_random", "p_shuffled", "verdict"), [
    (0.01, 0.01, 0.01, "transfers"),
    (0.5, 0.01, 0.02, "transfers"),  # passes both nulls on its own
    (0.01, 0.01, 0.30, "beyond_random_only"),
    (0.01, 0.30, 0.01, "no_better_than_random"),
    (0.40, 0.30, 0.30, "own_does_not_steer"),
])
def test_cell_verdicts(p_own, p_random, p_shuffled, verdict):
    assert cell_verdict(p_own, p_random, p_shuffled, 0.05) == verdict


def _planted_shifts(transferred_gain: float, rng, n_prompts=12, n_random=20) -> LayerShifts:
    """Shifts where each own vector moves its emotion by 1 (noise 0.1) and nothing else; random
    directions and shuffled maps move nothing; the transferred vector moves it by ``transferred_gain``."""
    emotions, scales = 3, 3
    eye = np.eye(emotions)[:, None, :]  # (E, 1, E): vector e moves emotion e
    noise = lambda *shape: 0.1 * rng.standard_normal(shape)  # noqa: E731
    own = np.stack([s * eye + noise(emotions, n_prompts, emotions) for s in (0.5, 1, 2)])
    transferred = np.stack([transferred_gain * s * eye + noise(emotions, n_prompts, emotions) for s in (0.5, 1, 2)])
    random = [noise(n_random if s == 1 else 5, n_prompts, emotions) for s in range(scales)]
    shuffled = [noise(n_random if s == 1 else 5, emotions, n_prompts, emotions) for s in range(scales)]
    return LayerShifts(2, 4, own, transferred, random, shuffled, map_r2=0.9, residual_norm=10.0)


def test_tables_on_planted_shifts_give_the_known_efficiency_and_verdicts():
    rng = np.random.default_rng(6)
    shifts = [_planted_shifts(0.6, rng), _planted_shifts(0.0, rng)]
    shifts[1] = LayerShifts(5, 9, shifts[1].own, shifts[1].transferred, shifts[1].random, shifts[1].shuffled)
    tables = steering_tables(shifts, ["gratitude", "anger", "apology"], (0.25, 0.5, 1.0), 1, n_bootstrap=300)
    cells = tables["cells"]
    assert list(cells.columns) == list(CELL_COLUMNS)
    first, second = cells[cells["layer"] == 2], cells[cells["layer"] == 5]
    np.testing.assert_allclose(first["efficiency"], 0.6, atol=0.05)
    assert (first["efficiency_ci_low"] < 0.6).all() and (first["efficiency_ci_high"] > 0.6).all()
    assert (first["verdict"] == "transfers").all()
    assert (second["verdict"] == "no_better_than_random").all()
    np.testing.assert_allclose(first["specificity_own"], 1.0, atol=0.1)
    dose = tables["dose"]
    own_dose = dose[(dose["condition"] == "own") & (dose["layer"] == 2) & (dose["emotion"] == "anger")]
    np.testing.assert_allclose(own_dose.sort_values("scale")["mean_shift"], [0.5, 1.0, 2.0], atol=0.1)
    assert set(dose["condition"]) == {"own", "transferred", "random", "shuffled"}
    assert set(dose[dose["condition"] == "random"]["n_draws"]) == {5, 20}
    matrices = tables["matrices"]
    assert len(matrices) == 2 * 2 * 9  # layer pairs x conditions x 3 x 3
    assert list(tables["layers"]["n_transfers"]) == [3, 0]


def test_toward_own_takes_the_diagonal():
    block = np.arange(2 * 3 * 4 * 3).reshape(2, 3, 4, 3)
    out = toward_own(block)
    assert out.shape == (2, 3, 4)
    assert out[1, 2, 3] == block[1, 2, 3, 2]


def test_steering_result_round_trips(tmp_path):
    rng = np.random.default_rng(7)
    shifts = [_planted_shifts(0.6, rng)]
    tables = steering_tables(shifts, ["gratitude", "anger", "apology"], (0.25, 0.5, 1.0), 1, n_bootstrap=100)
    result = SteeringResult("a_to_b", {"name": "a"}, {"name": "b"}, {"scales": [0.25, 0.5, 1.0]},
                            shifts={"L2_T4_own": shifts[0].own}, tokens={"anger": ["angry"]}, **tables)
    again = SteeringResult.load(result.save(tmp_path / "s.safetensors"))
    assert again.pair_name == "a_to_b" and again.tokens == {"anger": ["angry"]}
    for name in ("cells", "dose", "matrices", "layers"):
        left, right = getattr(result, name), getattr(again, name)
        assert list(left.columns) == list(right.columns)
        for column in left.columns:
            if left[column].dtype.kind == "f":
                np.testing.assert_allclose(left[column].to_numpy(), right[column].to_numpy(dtype=float))
            else:
                assert list(left[column]) == list(right[column])
    np.testing.assert_allclose(again.shifts["L2_T4_own"], shifts[0].own, atol=1e-6)
