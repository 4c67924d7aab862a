"""Statistics for cross-model subspace overlaps: nulls, bootstrap CIs, noise ceilings, FDR, verdicts.

Setting: source model A (d_s) and target model B (d_t) read the same prompts; for each emotion e,
``source_vectors[e]`` (n_e, d_s) and ``target_vectors[e]`` (n_e, d_t) are PAIRED row by row.
A map ``weight`` (d_t, d_s) sends target directions into source space. The observed overlap of
emotion e is ``subspace_overlap(PCA_k(S[e]), PCA_k(T[e]) @ weight)`` (mean cos² of the principal
angles after re-orthonormalising the mapped basis; directions the map annihilates count as
orthogonal, and a fully annihilated basis gives 0 rather than an error).

Speed: every subspace that any permutation, bootstrap or split can produce lies in the span of
the vectors involved (at most n_total dimensions, e.g. 210, even when d_t = 4096). Each function
takes an orthonormal basis of that span once (thin SVD), works on the (n, r) coordinates, maps
the target span once (``B_t @ weight``, then an orthonormal basis ``R`` of its image in source
space), and expresses source bases in ``R`` coordinates too. The overlaps are then products of
(k x r) matrices, and the PCAs are batched eigen-decompositions of small Gram/covariance matrices.
The result equals the full-dimensional computation (checked to 1e-8 in the tests).
"""

from emoalign.analysis.stats._common import NOT_DISTINGUISHABLE, NOT_TESTED, SPECIFIC
from emoalign.analysis.stats.bootstrap import BootstrapResult, bootstrap_overlap_ci
from emoalign.analysis.stats.ceiling import CeilingResult, split_half_ceiling
from emoalign.analysis.stats.label_null import (
    LabelNullResult,
    label_permutation_null,
    label_permutations,
)
from emoalign.analysis.stats.pairing_null import PairingNullResult, pairing_null
from emoalign.analysis.stats.pvalues import (
    benjamini_hochberg,
    grid_max_null,
    permutation_p_value,
)

__all__ = [
    "LabelNullResult",
    "PairingNullResult",
    "BootstrapResult",
    "CeilingResult",
    "label_permutations",
    "label_permutation_null",
    "pairing_null",
    "bootstrap_overlap_ci",
    "split_half_ceiling",
    "benjamini_hochberg",
    "permutation_p_value",
    "grid_max_null",
    "SPECIFIC",
    "NOT_DISTINGUISHABLE",
    "NOT_TESTED",
]
