"""Analysis: pure functions from arrays to arrays (vectors, subspaces, maps, overlaps, CKA)."""

from emoalign.analysis.cka import linear_cka_debiased
from emoalign.analysis.maps import (
    MAP_METHODS,
    LinearMap,
    fit_cca_map,
    fit_lstsq_map,
    fit_map,
    fit_procrustes_map,
    fit_ridge_map,
    variance_weighted_r2,
)
from emoalign.analysis.overlap import (
    legacy_before,
    legacy_overlap,
    orthonormal_basis,
    principal_angles,
    subspace_overlap,
    subspace_overlap_batched,
)
from emoalign.analysis.subspace import (
    EmotionSubspace,
    fit_subspace,
    fit_subspaces_batched,
)
from emoalign.analysis.vectors import (
    cosine_similarity_matrix,
    emotion_vectors,
    mean_emotion_vectors,
)

__all__ = [
    "emotion_vectors",
    "mean_emotion_vectors",
    "cosine_similarity_matrix",
    "EmotionSubspace",
    "fit_subspace",
    "fit_subspaces_batched",
    "LinearMap",
    "MAP_METHODS",
    "fit_lstsq_map",
    "fit_ridge_map",
    "fit_procrustes_map",
    "fit_cca_map",
    "fit_map",
    "variance_weighted_r2",
    "orthonormal_basis",
    "subspace_overlap",
    "principal_angles",
    "legacy_overlap",
    "legacy_before",
    "subspace_overlap_batched",
    "linear_cka_debiased",
]
