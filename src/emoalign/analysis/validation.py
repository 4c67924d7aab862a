"""Input checks shared by the analysis modules, so every module reports bad input the same way:
one-line :class:`~emoalign.errors.EmoalignError` messages naming what was wrong and where."""

from __future__ import annotations

import numpy as np

from emoalign.errors import EmoalignError

__all__ = ["where", "as_matrix", "check_k", "check_pairs"]


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
