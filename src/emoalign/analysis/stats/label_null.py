"""Permutation nulls over emotion labels.

- :func:`label_permutation_null` — the **prompt-group correspondence** test: labels permuted among
  the TARGET's emotion prompts only (source subspaces fixed). It asks whether the mapped target
  subspace of the prompts labelled e is closer to the source subspace of e than the subspace of a
  random prompt group. Two models that read the same prompts pass it whatever their weights (they
  share the prompts' words), so it detects shared prompt groups, not emotion.
- :func:`joint_relabel_null` — **emotion, not any prompt group**: the same relabelling applied to
  BOTH models. It asks whether the emotion grouping aligns better than random groups of the same
  prompts relabelled identically in both models. A planted twin shares every grouping, so it
  correctly fails this one; it is context, not the headline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from emoalign.analysis.cache import StatsCaches, pair_cache, source_cache
from emoalign.analysis.stats.common import (
    chunk_slices,
    freeze_arrays,
    image_span,
    null_summary,
    overlap_rows,
    pca_batched,
    pca_of_rows,
    row_span,
)
from emoalign.analysis.stats.pvalues import permutation_p_value
from emoalign.analysis.validation import check_int, check_weight, paired_groups
from emoalign.analysis.validation import where as _where
from emoalign.core.errors import EmoalignError


@dataclass(frozen=True, eq=False)
class LabelNullResult:
    """Emotion-label permutation null (target labels permuted; source subspaces fixed).

    Attributes
    ----------
    emotions : tuple of str
        Emotion labels, in the order of ``source_vectors``; index every array below.
    k : int
        Subspace dimension.
    chance : float
        ``k / d_s``: overlap of random k-subspaces of the source space.
    observed : (E,) float64 array
        Overlap of source e with mapped target e.
    null : (N, E) float64 array
        Overlap of source e with the mapped target subspace of the prompts that carry label e
        after relabelling n. Column e is emotion e's null; row n is permutation n, the same
        relabelling for every emotion and every layer pair called with the same seed and group
        sizes (so a max over cells can take the row-wise max).
    p_values : (E,) float64 array
        ``(1 + #{null >= observed}) / (1 + N)``.
    null_mean, null_p95 : (E,) float64 arrays
        Mean and 95th percentile of each null.
    cross_overlap : (E, E) float64 array
        ``cross_overlap[e, f]`` = overlap of source e with mapped target f (diagonal = observed).
    specificity : (E,) float64 array
        ``cross_overlap[e, e] - mean_{f != e} cross_overlap[e, f]``.
    n_permutations : int
    seed : int
    """

    emotions: tuple[str, ...]
    k: int
    chance: float
    observed: np.ndarray
    null: np.ndarray
    p_values: np.ndarray
    null_mean: np.ndarray
    null_p95: np.ndarray
    cross_overlap: np.ndarray
    specificity: np.ndarray
    n_permutations: int
    seed: int

    def __post_init__(self) -> None:
        freeze_arrays(self)

    def null_of(self, emotion: str) -> np.ndarray:
        """The (N,) null of one emotion."""
        return self.null[:, self.emotions.index(emotion)]


@dataclass(frozen=True)
class _Pooled:
    """Both models' emotion vectors pooled, in reduced coordinates (see the package docstring):
    ``Cs``/``Ct`` coordinates of the pooled vectors, ``P`` source -> mapped-target-span coordinates,
    ``Z`` the mapped target span, ``offsets`` where each emotion's prompts start."""

    names: tuple[str, ...]
    Cs: np.ndarray
    Ct: np.ndarray
    P: np.ndarray
    Z: np.ndarray
    offsets: np.ndarray
    d_s: int


def _pooled(
    source_vectors, target_vectors, weight, k: int, context: str, what: str, caches: StatsCaches | None
) -> _Pooled:
    names, S, T = paired_groups(source_vectors, target_vectors, k, context)
    if len(names) < 2:
        raise EmoalignError(
            f"{what} needs at least two emotions to permute labels among, got {list(names)}{_where(context)}"
        )
    d_s, d_t = S[0].shape[1], T[0].shape[1]
    W = check_weight(weight, d_t, d_s, context)
    # Both nulls pool the same vectors: spans cached (the source's across targets too).
    Cs, Bs = row_span(np.vstack(S), k, "the pooled source emotion vectors", context, source_cache(caches))
    Ct, Bt = row_span(np.vstack(T), k, "the pooled target emotion vectors", context, pair_cache(caches))
    Z, R = image_span(Bt @ W)  # mapped target span: B_t W = Z R
    offsets = np.concatenate([[0], np.cumsum([X.shape[0] for X in S])])
    return _Pooled(names, Cs, Ct, Bs @ R.T, Z, offsets, d_s)


def label_permutations(n_total: int, n_permutations: int, seed: int = 0) -> np.ndarray:
    """The relabellings used by :func:`label_permutation_null`.

    Parameters
    ----------
    n_total : int
        Number of pooled emotion prompts (sum of group sizes).
    n_permutations : int
    seed : int

    Returns
    -------
    (n_permutations, n_total) int array
        Row n is a permutation of ``range(n_total)``; emotion e (in mapping order, occupying
        pooled positions ``offset_e : offset_e + n_e``) receives the prompts
        ``perm[offset_e : offset_e + n_e]``. Depends only on (n_total, n_permutations, seed).
    """
    n_total = check_int(n_total, "n_total", 1)
    n_permutations = check_int(n_permutations, "n_permutations", 0)
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(n_total), (n_permutations, 1)), axis=1)


def label_permutation_null(
    source_vectors: Mapping[str, np.ndarray],
    target_vectors: Mapping[str, np.ndarray],
    weight: np.ndarray,
    k: int,
    *,
    n_permutations: int = 200,
    seed: int = 0,
    context: str = "",
    caches: StatsCaches | None = None,
) -> LabelNullResult:
    """Emotion-label permutation test of emotion-specific alignment (labels permuted in the target only).

    The source subspace of e stays fixed. Each permutation relabels the pooled target emotion
    vectors (group sizes kept); the target subspace of "e" is refitted on the prompts that now
    carry label e, mapped, and compared with the source subspace of e. Permuting both models
    jointly would keep the prompt pairing and let a perfect twin score ~1 under the null.

    Parameters
    ----------
    source_vectors : mapping emotion -> (n_e, d_s) array
        Source-model emotion vectors; the mapping order fixes the emotion order and the pooling.
    target_vectors : mapping emotion -> (n_e, d_t) array
        Target-model emotion vectors, same emotions, rows paired with the source's.
    weight : (d_t, d_s) array or LinearMap
        Target -> source map (linear part).
    k : int
        Subspace dimension (<= n_e - 1, d_s, d_t).
    n_permutations : int
        N (default 200). The relabellings are :func:`label_permutations` ``(n_total, N, seed)``:
        identical across emotions and across layer pairs with the same seed and group sizes.
    seed : int
    context : str
        Phrase naming the model pair/layers, used in error messages.
    caches : StatsCaches, optional
        Caches of spans and resample PCAs (:mod:`emoalign.analysis.cache`); None: nothing cached.
        They change the speed, never the result.

    Returns
    -------
    LabelNullResult
    """
    n_permutations = check_int(n_permutations, "n_permutations", 0)
    pooled = _pooled(source_vectors, target_vectors, weight, k, context, "the prompt-group null", caches)
    names, Cs, Ct, P, Z, offsets, d_s = (pooled.names, pooled.Cs, pooled.Ct, pooled.P, pooled.Z, pooled.offsets,
                                         pooled.d_s)
    E = len(names)
    groups = [np.arange(offsets[i], offsets[i + 1]) for i in range(E)]

    Vs = np.stack([pca_batched(Cs[g][None], k)[0] for g in groups])  # (E, k, r_s)
    H = Vs @ P  # (E, k, r'): source bases projected on the mapped-target span
    Vt = np.stack([pca_batched(Ct[g][None], k)[0] for g in groups])  # (E, k, r_t)
    cross = overlap_rows(H[:, None], (Vt @ Z)[None, :], k, d_s)  # (E, E)
    observed = np.diag(cross).copy()
    specificity = observed - (cross.sum(axis=1) - observed) / (E - 1)

    perms = label_permutations(int(offsets[-1]), n_permutations, seed)
    null = np.empty((n_permutations, E))
    for sl in chunk_slices(n_permutations):
        for e in range(E):
            idx = perms[sl, offsets[e] : offsets[e + 1]]
            Vnull = pca_of_rows(Ct, idx, k, pair_cache(caches))  # the joint null relabels the target alike
            null[sl, e] = overlap_rows(H[e], Vnull @ Z, k, d_s)

    p = permutation_p_value(null, observed)
    mean, p95 = null_summary(null)
    return LabelNullResult(
        emotions=names,
        k=int(k),
        chance=float(k) / d_s,
        observed=observed,
        null=null,
        p_values=p,
        null_mean=mean,
        null_p95=p95,
        cross_overlap=cross,
        specificity=specificity,
        n_permutations=n_permutations,
        seed=int(seed),
    )


# ----------------------------------------------------------------------------------------------
# the prompt-group assignment test: what it does for a number of emotions

#: :func:`emoalign.analysis.inference.group_assignment_p` scores every assignment of target to
#: source emotions up to this many emotions (7! = 5,040) ...
ASSIGNMENT_MAX_EXACT = 7
#: ... and above it the identity plus this many random assignments.
ASSIGNMENT_SAMPLES = 5000


@dataclass(frozen=True)
class AssignmentTest:
    """How the prompt-group assignment test runs with ``n_emotions`` emotions: exactly, over all
    ``n_emotions!`` assignments, or sampled (the identity and :data:`ASSIGNMENT_SAMPLES` random
    ones), and the smallest p-value it can give. Reports say which from here, not "exact" always."""

    n_emotions: int
    exact: bool
    n_assignments: int  # assignments scored, the identity included
    smallest_p: float

    @property
    def method(self) -> str:
        """``"exact"`` or ``"sampled"``."""
        return "exact" if self.exact else "sampled"

    def describe(self) -> str:
        """The method in words, with the smallest possible p-value."""
        n = self.n_emotions
        if self.exact:
            return f"exact over all {n}! = {self.n_assignments:,} assignments; smallest possible p = 1/{n}! = " \
                   f"{self.smallest_p:.3g}"
        return (f"sampled: the identity and {self.n_assignments - 1:,} random assignments of the {n}! = "
                f"{math.factorial(n):,}; smallest possible p = 1/{self.n_assignments:,} = {self.smallest_p:.3g}")


def assignment_test(
    n_emotions: int, *, max_exact: int = ASSIGNMENT_MAX_EXACT, n_sampled: int = ASSIGNMENT_SAMPLES
) -> AssignmentTest:
    """What :func:`~emoalign.analysis.inference.group_assignment_p` does with ``n_emotions`` emotions
    (and the same ``max_exact`` / ``n_sampled``)."""
    n_emotions = check_int(n_emotions, "n_emotions", 1)
    if n_emotions <= max_exact:
        total = math.factorial(n_emotions)
        return AssignmentTest(n_emotions, True, total, 1.0 / total)
    return AssignmentTest(n_emotions, False, n_sampled + 1, 1.0 / (n_sampled + 1))


# ----------------------------------------------------------------------------------------------
# pairing null




@dataclass(frozen=True, eq=False)
class JointRelabelNullResult:
    """Null of random prompt groups relabelled identically in both models.

    Attributes
    ----------
    emotions : tuple of str
    k : int
    observed : (E,) float64 array
        Overlap of source e with mapped target e (the true grouping).
    null : (N, E) float64 array
        Overlap of the source subspace of the prompts carrying label e after relabelling n with
        the mapped target subspace of the same prompts.
    p_values : (E,) float64 array
        ``(1 + #{null >= observed}) / (1 + N)``.
    null_mean, null_p95 : (E,) float64 arrays
    n_permutations : int
    seed : int
    """

    emotions: tuple[str, ...]
    k: int
    observed: np.ndarray
    null: np.ndarray
    p_values: np.ndarray
    null_mean: np.ndarray
    null_p95: np.ndarray
    n_permutations: int
    seed: int

    def __post_init__(self) -> None:
        freeze_arrays(self)


def joint_relabel_null(
    source_vectors: Mapping[str, np.ndarray],
    target_vectors: Mapping[str, np.ndarray],
    weight: np.ndarray,
    k: int,
    *,
    n_permutations: int = 200,
    seed: int = 0,
    context: str = "",
    caches: StatsCaches | None = None,
) -> JointRelabelNullResult:
    """Does the emotion grouping align better than random prompt groups of the same sizes,
    relabelled identically in both models? (see the module docstring)

    Parameters are those of :func:`label_permutation_null`; the relabellings are the same
    :func:`label_permutations` rows, applied to both models.
    """
    n_permutations = check_int(n_permutations, "n_permutations", 0)
    pooled = _pooled(source_vectors, target_vectors, weight, k, context, "the joint relabelling null", caches)
    names, Cs, Ct, P, Z, offsets, d_s = (pooled.names, pooled.Cs, pooled.Ct, pooled.P, pooled.Z, pooled.offsets,
                                         pooled.d_s)
    E = len(names)

    def overlaps(idx: np.ndarray, cached: bool = False) -> np.ndarray:
        Vs = pca_of_rows(Cs, idx, k, source_cache(caches) if cached else None)
        Vt = pca_of_rows(Ct, idx, k, pair_cache(caches) if cached else None)  # computed by the prompt-group null
        return overlap_rows(Vs @ P, Vt @ Z, k, d_s)

    observed = np.array([overlaps(np.arange(offsets[e], offsets[e + 1])[None])[0] for e in range(E)])
    perms = label_permutations(int(offsets[-1]), n_permutations, seed)
    null = np.empty((n_permutations, E))
    for sl in chunk_slices(n_permutations):
        for e in range(E):
            null[sl, e] = overlaps(perms[sl, offsets[e] : offsets[e + 1]], cached=True)
    mean, p95 = null_summary(null)
    return JointRelabelNullResult(
        emotions=names,
        k=int(k),
        observed=observed,
        null=null,
        p_values=permutation_p_value(null, observed),
        null_mean=mean,
        null_p95=p95,
        n_permutations=n_permutations,
        seed=int(seed),
    )
