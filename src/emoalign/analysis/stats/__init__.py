"""Statistics for cross-model subspace overlaps: nulls, the vocabulary baseline, bootstrap CIs,
split-half reliability, FDR, verdicts.

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

from emoalign.analysis.stats.baseline import (
    PredictionTest,
    beyond_baseline_p,
    prediction_test,
)
from emoalign.analysis.stats.bootstrap import (
    BootstrapResult,
    bca_interval,
    bootstrap_overlap_ci,
)
from emoalign.analysis.stats.label_null import (
    JointRelabelNullResult,
    LabelNullResult,
    joint_relabel_null,
    label_permutation_null,
    label_permutations,
)
from emoalign.analysis.stats.pairing_null import PairingNullResult, pairing_null
from emoalign.analysis.stats.pvalues import (
    benjamini_hochberg,
    grid_max_null,
    permutation_p_value,
)
from emoalign.analysis.stats.reliability import (
    ReliabilityResult,
    spearman_brown,
    split_half_reliability,
)

__all__ = [
    "LabelNullResult",
    "JointRelabelNullResult",
    "PairingNullResult",
    "BootstrapResult",
    "ReliabilityResult",
    "PredictionTest",
    "label_permutations",
    "label_permutation_null",
    "joint_relabel_null",
    "pairing_null",
    "bootstrap_overlap_ci",
    "bca_interval",
    "split_half_reliability",
    "spearman_brown",
    "prediction_test",
    "beyond_baseline_p",
    "benjamini_hochberg",
    "permutation_p_value",
    "grid_max_null",
]
