"""The vocabulary baseline: an observed statistic against the same statistic on random-weight copies.

Two models that read the same prompts share structure whatever their weights. The
copies — random-weight instances of both architectures with the same tokenizers, prompts and
layers, run through the identical pipeline — are exchangeable with the observed pair exactly when
the observed models carry nothing beyond their architectures and inputs. One more draw from the
copies' distribution exceeds the one-sided prediction bound

    mean + t_{1-a, N-1} * sd * sqrt(1 + 1/N)

with probability a under normality (Geisser 1993, "Predictive Inference", ch. 2), so the bound
is the yardstick and ``p = sf_t((x - mean) / (sd * sqrt(1 + 1/N)), N - 1)`` its p-value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from emoalign.analysis.linalg import TIE_TOL
from emoalign.analysis.stats.common import freeze_arrays
from emoalign.core.errors import EmoalignError

MIN_COPIES = 3  # a prediction bound needs a spread: N - 1 >= 2 degrees of freedom


@dataclass(frozen=True, eq=False)
class PredictionTest:
    """Observed values against the copies' distribution, element by element.

    Attributes
    ----------
    observed : (...) float64 array
    mean, sd : (...) float64 arrays
        Mean and sample standard deviation (ddof=1) over the N copies.
    bound : (...) float64 array
        One-sided ``confidence`` prediction bound for one more copy.
    z : (...) float64 array
        ``(observed - mean) / sd``: how many copy standard deviations above the copies.
    p_values : (...) float64 array
        One-sided t prediction p-value (small when observed sits above the copies).
    n_copies : int
    confidence : float
    """

    observed: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    bound: np.ndarray
    z: np.ndarray
    p_values: np.ndarray
    n_copies: int
    confidence: float

    def __post_init__(self) -> None:
        freeze_arrays(self)


def prediction_test(observed: np.ndarray, copies: np.ndarray, *, confidence: float = 0.95) -> PredictionTest:
    """Compare ``observed`` (...) with ``copies`` (N, ...) through the t prediction interval.

    A copy spread of exactly zero (identical copies) makes any excess infinitely significant and
    any shortfall p = 1; ties (within :data:`~emoalign.analysis.linalg.TIE_TOL`, where the spread is
    zero) give p = 0.5.
    """
    copies = np.asarray(copies, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    if copies.ndim < 1 or copies.shape[0] < MIN_COPIES:
        raise EmoalignError(
            f"the vocabulary baseline needs at least {MIN_COPIES} random-weight copies, got "
            f"{copies.shape[0] if copies.ndim else 0} (raise --baseline-seeds)"
        )
    if copies.shape[1:] != observed.shape:
        raise EmoalignError(f"baseline copies have shape {copies.shape[1:]}, observed values {observed.shape}")
    if not 0.0 < confidence < 1.0:
        raise EmoalignError(f"confidence must be in (0, 1), got {confidence!r}")
    n = copies.shape[0]
    mean = copies.mean(axis=0)
    sd = copies.std(axis=0, ddof=1)
    scale = sd * np.sqrt(1.0 + 1.0 / n)
    bound = mean + stats.t.ppf(confidence, n - 1) * scale
    excess = observed - mean
    sign = np.where(np.abs(excess) <= TIE_TOL, 0.0, np.sign(excess))  # round-off is no excess
    with np.errstate(divide="ignore", invalid="ignore"):
        unbounded = np.where(sign == 0, 0.0, sign * np.inf)  # zero spread: a tie is t = 0 (p = 0.5)
        t_value = np.where(scale > 0, excess / scale, unbounded)
        z = np.where(sd > 0, excess / sd, unbounded)
    p = stats.t.sf(t_value, n - 1)
    p = np.where(np.isnan(observed), np.nan, p)
    return PredictionTest(observed, mean, sd, bound, z, p, int(n), float(confidence))


def beyond_baseline_p(overlap: PredictionTest, specificity: PredictionTest) -> np.ndarray:
    """p-value of "overlap AND specificity above the copies": the larger of the two p-values
    (an intersection-union test: it rejects only where both one-sided tests reject)."""
    return np.maximum(overlap.p_values, specificity.p_values)
