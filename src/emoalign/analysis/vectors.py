"""Emotion vectors: pooled emotion activations minus a neutral reference."""

from __future__ import annotations

from typing import Literal, Mapping

import numpy as np

from emoalign.analysis.validation import as_matrix, where
from emoalign.core.errors import EmoalignError

__all__ = ["emotion_vectors", "mean_emotion_vectors", "cosine_similarity_matrix"]


def emotion_vectors(
    emotion_acts: np.ndarray,
    reference_acts: np.ndarray,
    reference: Literal["mean", "index"] = "mean",
    *,
    context: str = "",
) -> np.ndarray:
    """Per-prompt emotion vectors: emotion activations minus a neutral reference.

    Parameters
    ----------
    emotion_acts : (n, d) array
        Pooled activations of the emotion prompts.
    reference_acts : (m, d) array
        Pooled activations of the reference (neutral) prompts.
    reference : {"mean", "index"}
        ``"mean"`` subtracts the mean reference activation (default); ``"index"`` subtracts
        ``reference_acts[i]`` from ``emotion_acts[i]`` (the original study's pairing; needs m >= n).
    context : str
        Phrase naming the model/layer/emotion, used in error messages.

    Returns
    -------
    (n, d) float64 array
    """
    E = as_matrix(emotion_acts, "emotion activations", context)
    R = as_matrix(reference_acts, "reference activations", context)
    if E.shape[1] != R.shape[1]:
        raise EmoalignError(
            f"emotion activations have d={E.shape[1]} but reference activations have "
            f"d={R.shape[1]}{where(context)}"
        )
    if reference == "mean":
        return E - R.mean(axis=0)
    if reference == "index":
        n, m = E.shape[0], R.shape[0]
        if m < n:
            raise EmoalignError(
                f"reference='index' pairs emotion prompt i with reference prompt i, but there are "
                f"{n} emotion prompts and only {m} reference prompts{where(context)}"
            )
        return E - R[:n]
    raise EmoalignError(f"unknown reference {reference!r}; expected 'mean' or 'index'")


def mean_emotion_vectors(vectors_by_label: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mean emotion vector per label.

    Parameters
    ----------
    vectors_by_label : mapping label -> (n_label, d) array

    Returns
    -------
    dict label -> (d,) float64 array, in the mapping's order.
    """
    out: dict[str, np.ndarray] = {}
    dim: int | None = None
    for label, vecs in vectors_by_label.items():
        V = as_matrix(vecs, "emotion vectors", repr(label))
        if dim is not None and V.shape[1] != dim:
            raise EmoalignError(
                f"emotion vectors for {label!r} have d={V.shape[1]}, other labels have d={dim}"
            )
        dim = V.shape[1]
        out[label] = V.mean(axis=0)
    return out


def cosine_similarity_matrix(vectors: np.ndarray, *, context: str = "") -> np.ndarray:
    """Pairwise cosine similarities of the rows of ``vectors``.

    Parameters
    ----------
    vectors : (L, d) array
        One vector per row (e.g. mean emotion vectors, stacked in label order).
    context : str
        Phrase used in error messages.

    Returns
    -------
    (L, L) float64 array, symmetric, ones on the diagonal, entries clipped to [-1, 1].
    """
    V = as_matrix(vectors, "vectors", context)
    norms = np.linalg.norm(V, axis=1)
    if np.any(norms == 0):
        rows = np.flatnonzero(norms == 0).tolist()
        raise EmoalignError(f"cosine similarity is undefined for zero vector(s) at row(s) {rows}{where(context)}")
    U = V / norms[:, None]
    S = U @ U.T
    S = (S + S.T) / 2
    np.fill_diagonal(S, 1.0)
    return np.clip(S, -1.0, 1.0)
