"""Input checks shared by the analysis modules, so every module reports bad input the same way:
one-line :class:`~emoalign.core.errors.EmoalignError` messages naming what was wrong and where."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from emoalign.core.errors import EmoalignError

__all__ = [
    "where",
    "as_matrix",
    "check_k",
    "check_pairs",
    "check_int",
    "check_weight",
    "vector_groups",
    "paired_groups",
]


def where(context: str) -> str:
    """``" for <context>"`` (or ``""``), to splice into an error message."""
    return f" for {context}" if context else ""


def as_matrix(x: object, name: str, context: str = "", *, min_rows: int = 1) -> np.ndarray:
    """``x`` as a finite float64 2-D array (samples x features), or a one-line EmoalignError."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise EmoalignError(f"{name} must be a 2-D array (samples x features), got shape {arr.shape}{where(context)}")
    if arr.shape[0] < min_rows:
        raise EmoalignError(f"{name} needs at least {min_rows} row(s), got {arr.shape[0]}{where(context)}")
    if arr.shape[1] < 1:
        raise EmoalignError(f"{name} has no features (shape {arr.shape}){where(context)}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise EmoalignError(f"{name} contains {bad} NaN/Inf value(s){where(context)}")
    return arr


def check_k(k: int, n: int, d: int, context: str) -> None:
    """``k`` must be a positive integer that a centred PCA of ``n`` samples in ``d`` dimensions can give."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise EmoalignError(f"k must be a positive integer, got {k!r}{where(context)}")
    if k > n - 1:
        raise EmoalignError(
            f"k={k} exceeds the {n} samples available{where(context)} (at most {max(n - 1, 0)} components)"
        )
    if k > d:
        raise EmoalignError(f"k={k} exceeds the dimension d={d} of the vectors{where(context)} (at most {d} components)")


def check_pairs(X_t: object, X_s: object, context: str, min_pairs: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Paired target/source activations ``(n, d_t)``, ``(n, d_s)`` as float64, at least ``min_pairs`` rows."""
    Xt = as_matrix(X_t, "target activations", context)
    Xs = as_matrix(X_s, "source activations", context)
    if Xt.shape[0] != Xs.shape[0]:
        raise EmoalignError(
            f"a map needs paired activations, but there are {Xt.shape[0]} target rows and "
            f"{Xs.shape[0]} source rows{where(context)}"
        )
    if Xt.shape[0] < min_pairs:
        raise EmoalignError(f"a map needs at least {min_pairs} paired activations, got {Xt.shape[0]}{where(context)}")
    return Xt, Xs


def check_int(value: object, name: str, minimum: int) -> int:
    """``value`` as an int, if it is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise EmoalignError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def vector_groups(
    vectors: Mapping[str, np.ndarray], what: str, context: str, order: Sequence[str] | None = None
) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """Names and (n, d) float64 arrays of a mapping emotion -> vectors (in ``order`` if given), one d for all."""
    if not isinstance(vectors, Mapping) or len(vectors) == 0:
        raise EmoalignError(f"{what} must be a non-empty mapping emotion -> (n, d) array{where(context)}")
    names = tuple(vectors) if order is None else tuple(order)
    groups: list[np.ndarray] = []
    dim: int | None = None
    for name in names:
        X = as_matrix(vectors[name], f"{what} of {name!r}", context)
        if dim is not None and X.shape[1] != dim:
            raise EmoalignError(
                f"{what} of {name!r} have d={X.shape[1]}, other emotions have d={dim}{where(context)}"
            )
        dim = X.shape[1]
        groups.append(X)
    return names, groups


def paired_groups(
    source_vectors: Mapping[str, np.ndarray],
    target_vectors: Mapping[str, np.ndarray],
    k: int,
    context: str,
) -> tuple[tuple[str, ...], list[np.ndarray], list[np.ndarray]]:
    """Names, source and target arrays of paired emotion vectors (same emotions, rows paired,
    ``k`` possible on both sides)."""
    names, S = vector_groups(source_vectors, "source emotion vectors", context)
    if not isinstance(target_vectors, Mapping) or set(target_vectors) != set(names):
        got = sorted(target_vectors) if isinstance(target_vectors, Mapping) else type(target_vectors).__name__
        raise EmoalignError(
            f"source and target emotion vectors must have the same emotions, got {sorted(names)} "
            f"and {got}{where(context)}"
        )
    _, T = vector_groups(target_vectors, "target emotion vectors", context, order=names)
    for name, Xs, Xt in zip(names, S, T):
        if Xs.shape[0] != Xt.shape[0]:
            raise EmoalignError(
                f"emotion {name!r} has {Xs.shape[0]} source and {Xt.shape[0]} target vectors; they must be "
                f"paired prompt by prompt{where(context)}"
            )
        at = f"emotion {name!r}" + (f", {context}" if context else "")
        check_k(k, Xs.shape[0], Xs.shape[1], at + " (source)")
        check_k(k, Xt.shape[0], Xt.shape[1], at + " (target)")
    return names, S, T


def check_weight(weight: Any, d_t: int, d_s: int, context: str) -> np.ndarray:
    """The (d_t, d_s) target -> source map weight (an array or a LinearMap) as float64."""
    W = getattr(weight, "weight", weight)  # a LinearMap works too
    W = as_matrix(W, "map weight", context)
    if W.shape != (d_t, d_s):
        raise EmoalignError(
            f"map weight has shape {W.shape}, expected (d_t, d_s) = ({d_t}, {d_s}) "
            f"(target -> source){where(context)}"
        )
    return W
