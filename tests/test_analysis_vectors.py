"""Emotion vectors, mean vectors and cosine similarity: known answers and error messages."""

import numpy as np
import pytest

from emoalign.analysis import (
    cosine_similarity_matrix,
    emotion_vectors,
    mean_emotion_vectors,
)
from emoalign.core.errors import EmoalignError


@pytest.fixture
def acts():
    rng = np.random.default_rng(0)
    return rng.standard_normal((6, 5)).astype(np.float32), rng.standard_normal((8, 5))


def test_mean_reference_subtracts_reference_mean(acts):
    E, R = acts
    out = emotion_vectors(E, R)
    assert out.dtype == np.float64 and out.shape == (6, 5)
    np.testing.assert_allclose(out, E.astype(np.float64) - R.mean(axis=0))


def test_index_reference_pairs_row_by_row(acts):
    E, R = acts
    out = emotion_vectors(E, R, reference="index")
    np.testing.assert_allclose(out, E.astype(np.float64) - R[:6])


def test_index_reference_needs_enough_reference_prompts(acts):
    E, R = acts
    with pytest.raises(EmoalignError, match=r"7 emotion prompts and only 6 reference prompts for 'anger'"):
        emotion_vectors(np.vstack([E, E[:1]]), R[:6], reference="index", context="'anger'")


def test_errors_are_one_clear_line(acts):
    E, R = acts
    with pytest.raises(EmoalignError, match=r"d=5 but reference activations have d=4"):
        emotion_vectors(E, R[:, :4])
    with pytest.raises(EmoalignError, match=r"unknown reference 'median'"):
        emotion_vectors(E, R, reference="median")  # type: ignore[arg-type]
    bad = E.astype(np.float64)
    bad[0, 0] = np.inf
    with pytest.raises(EmoalignError, match=r"1 NaN/Inf value\(s\) for gemma layer 7"):
        emotion_vectors(bad, R, context="gemma layer 7")
    with pytest.raises(EmoalignError, match=r"2-D array"):
        emotion_vectors(E[0], R)


def test_mean_emotion_vectors():
    rng = np.random.default_rng(1)
    data = {"anger": rng.standard_normal((4, 3)), "gratitude": rng.standard_normal((7, 3))}
    out = mean_emotion_vectors(data)
    assert list(out) == ["anger", "gratitude"]
    for label, vecs in data.items():
        np.testing.assert_allclose(out[label], vecs.mean(axis=0))
    with pytest.raises(EmoalignError, match=r"'apology' have d=2"):
        mean_emotion_vectors({**data, "apology": rng.standard_normal((3, 2))})


def test_cosine_similarity_matrix_matches_sklearn():
    from sklearn.metrics.pairwise import cosine_similarity

    rng = np.random.default_rng(2)
    V = rng.standard_normal((4, 9))
    S = cosine_similarity_matrix(V)
    np.testing.assert_allclose(S, cosine_similarity(V), atol=1e-12)
    np.testing.assert_array_equal(np.diag(S), 1.0)
    np.testing.assert_array_equal(S, S.T)
    np.testing.assert_allclose(cosine_similarity_matrix(np.vstack([V[0], -3 * V[0]]))[0, 1], -1.0)


def test_cosine_similarity_rejects_zero_vectors():
    with pytest.raises(EmoalignError, match=r"zero vector\(s\) at row\(s\) \[1\]"):
        cosine_similarity_matrix(np.array([[1.0, 0.0], [0.0, 0.0]]))
