"""Per-model artifacts: emotion vectors at every extracted layer (the input embeddings under
``emb/``), emotion subspaces at every extracted block."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoalign.analysis.alignment import emotion_vector_sets
from emoalign.analysis.subspace import fit_subspace
from emoalign.analysis.vectors import cosine_similarity_matrix, mean_emotion_vectors
from emoalign.core.activations import ActivationSet
from emoalign.core.layers import EMBEDDING_LAYER
from emoalign.io.storage import save_arrays


def save_emotion_vectors(acts: ActivationSet, path: str | Path, *, reference: str, provenance: dict) -> Path:
    """Per layer and emotion: the per-prompt vectors, their mean, and the emotions' cosine matrix."""
    arrays: dict[str, np.ndarray] = {}
    for layer in acts.layers:
        vectors = emotion_vector_sets(acts, layer, reference)
        means = mean_emotion_vectors(vectors)
        prefix = "emb" if layer == EMBEDDING_LAYER else f"layer{layer}"
        for label, values in vectors.items():
            arrays[f"{prefix}/{label}/vectors"] = values.astype(np.float32)
            arrays[f"{prefix}/{label}/mean"] = means[label]
        arrays[f"{prefix}/cosine"] = cosine_similarity_matrix(np.stack([means[e] for e in vectors]))
    metadata = {
        "kind": "emotion_vectors",
        "model": acts.model,
        "dataset": acts.dataset,
        "layers": list(acts.layers),
        "emotions": list(acts.emotion_labels),
        "reference": reference,
        "position_policy": acts.position_policy,
        "match_rates": acts.match_rates(),
        "provenance": provenance,
    }
    return save_arrays(path, arrays, metadata)


def save_emotion_subspaces(
    acts: ActivationSet, path: str | Path, *, k: int, reference: str, provenance: dict
) -> Path:
    """Per block and emotion: the k-dimensional PCA basis, explained-variance ratios and mean (not
    at the embedding layer, whose vectors may span fewer than k dimensions: one per distinct word)."""
    emotions = acts.emotion_labels
    layers = [layer for layer in acts.layers if layer != EMBEDDING_LAYER]
    subspaces = [
        [fit_subspace(v, k, context=f"{acts.model['name']} layer {layer} {e!r}") for e, v in
         emotion_vector_sets(acts, layer, reference).items()]
        for layer in layers
    ]
    arrays = {
        "bases": np.stack([[s.basis for s in row] for row in subspaces]),
        "explained_variance_ratio": np.stack([[s.explained_variance_ratio for s in row] for row in subspaces]),
        "means": np.stack([[s.mean for s in row] for row in subspaces]),
    }
    metadata = {
        "kind": "emotion_subspaces",
        "model": acts.model,
        "dataset": acts.dataset,
        "layers": layers,
        "emotions": list(emotions),
        "n_components": k,
        "reference": reference,
        "provenance": provenance,
    }
    return save_arrays(path, arrays, metadata)
