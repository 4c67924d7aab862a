"""The analysis settings of one alignment: a plain record, shared by the analysis (which reads it),
the study config (which builds one per k) and the result (which records it)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from emoalign.core.errors import EmoalignError

__all__ = [
    "AlignConfig", "ANALYSIS_SETTINGS", "FLAGS", "MAP_METHODS", "FIT_DATA", "METRICS", "REFERENCES", "MAX_SEED",
    "MAX_COMPONENTS", "MAX_RESAMPLES", "MAX_BASELINE_SEEDS",
]

#: the maps of :mod:`emoalign.analysis.maps` (target -> source)
MAP_METHODS: tuple[str, ...] = ("lstsq", "ridge", "procrustes", "cca")
FIT_DATA: tuple[str, ...] = ("neutral-words", "neutral-last")
METRICS: tuple[str, ...] = ("bounded", "legacy")
REFERENCES: tuple[str, ...] = ("mean", "index")

#: Seeds are 32-bit: every seed derived from one (the random-weight copies' 10,000 + 1,000 x seed +
#: 2 x copy, the controls' seed + 1 and + 2) then fits the 64-bit integers the artifacts store.
MAX_SEED = 2**32 - 1
#: Far beyond any model width (k is bounded by the prompts per emotion, checked against the data).
MAX_COMPONENTS = 100_000
#: Permutations and bootstrap resamples: a million gives p-values of 1e-6, far below any alpha.
MAX_RESAMPLES = 1_000_000
#: Random-weight copy pairs: each is two models built and run on every prompt.
MAX_BASELINE_SEEDS = 1_000

#: The command-line flag of each setting, for error messages.
FLAGS: dict[str, str] = {
    "n_components": "--n-components", "map_method": "--map", "fit_data": "--fit-data", "metric": "--metric",
    "reference": "--reference", "layer_match": "--layer-match", "seed": "--seed",
    "heldout_fraction": "--heldout-fraction", "n_permutations": "--permutations", "n_bootstrap": "--bootstrap",
    "n_pairing_permutations": "--pairing-permutations", "alpha": "--alpha", "baseline_seeds": "--baseline-seeds",
    "k_profile": "--k-profile",
}


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and type(value).__name__ != "bool_"


def _type_error(name: str, value: Any, expected: str) -> EmoalignError:
    return EmoalignError(f"{name} ({FLAGS[name]}) {value!r}: expected {expected}, got {type(value).__name__}")


def _integer(name: str, value: Any) -> int:
    if not _is_int(value):
        raise _type_error(name, value, "an integer")
    return int(value)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or type(value).__name__ == "bool_" or not isinstance(value, numbers.Real):
        raise _type_error(name, value, "a number")
    number = float(value)
    if not math.isfinite(number):
        raise EmoalignError(f"{FLAGS[name]} {value!r}: must be a finite number")
    return number


def _in_range(name: str, value: int, low: int, high: int, what: str = "") -> None:
    if not low <= value <= high:
        raise EmoalignError(f"{FLAGS[name]} {value}: must be an integer from {low} to {high:,}{what}")


@dataclass(frozen=True)
class AlignConfig:
    """Analysis settings of one alignment (everything after extraction)."""

    n_components: int = 8
    map_method: str = "ridge"
    fit_data: str = "neutral-words"
    metric: str = "bounded"
    reference: str = "mean"
    layer_match: str = "index"
    seed: int = 0
    heldout_fraction: float = 0.2
    n_permutations: int = 200
    n_bootstrap: int = 1000
    n_pairing_permutations: int = 50
    alpha: float = 0.05
    baseline_seeds: int = 20
    k_profile: tuple[int, ...] = (2, 4, 8, 16)

    def __post_init__(self) -> None:
        self._check_types()
        for value, allowed, flag in (
            (self.map_method, MAP_METHODS, "--map"),
            (self.fit_data, FIT_DATA, "--fit-data"),
            (self.metric, METRICS, "--metric"),
            (self.reference, REFERENCES, "--reference"),
        ):
            if value not in allowed:
                raise EmoalignError(f"{flag} {value}: unknown (use {', '.join(allowed)})")
        if self.n_components < 1:
            raise EmoalignError(f"--n-components {self.n_components}: must be at least 1")
        for value, flag in (
            (self.n_permutations, "--permutations"),
            (self.n_bootstrap, "--bootstrap"),
            (self.n_pairing_permutations, "--pairing-permutations"),
        ):
            if value < 0:
                raise EmoalignError(f"{flag} {value}: must be 0 (off) or more")
        if not 0.0 < self.alpha < 1.0:
            raise EmoalignError(f"--alpha {self.alpha}: must be between 0 and 1")
        for value, flag in ((self.n_permutations, "--permutations"), (self.n_pairing_permutations, "--pairing-permutations")):
            if value > 0 and 1.0 / (value + 1) >= self.alpha:
                raise EmoalignError(
                    f"{flag} {value}: the smallest p-value, 1/{value + 1}, cannot go below --alpha {self.alpha}; "
                    f"use at least {math.ceil(1 / self.alpha)} (or 0 to turn it off)"
                )
        if self.n_permutations > 0 and self.n_bootstrap < 2:
            raise EmoalignError(f"--bootstrap {self.n_bootstrap}: an interval needs at least 2 resamples")
        if self.baseline_seeds < 0 or 0 < self.baseline_seeds < 3:
            raise EmoalignError(
                f"--baseline-seeds {self.baseline_seeds}: use 0 (off) or at least 3 random-weight copies"
            )
        if any(k < 1 for k in self.k_profile):
            raise EmoalignError(f"k profile {self.k_profile}: every k must be at least 1")
        if any(k > MAX_COMPONENTS for k in self.k_profile):
            raise EmoalignError(f"k profile {self.k_profile}: every k must be at most {MAX_COMPONENTS:,}")
        _in_range("n_components", self.n_components, 1, MAX_COMPONENTS)
        _in_range("seed", self.seed, 0, MAX_SEED, " (a 32-bit seed: the seeds derived from it must fit 64 bits)")
        for name in ("n_permutations", "n_bootstrap", "n_pairing_permutations"):
            _in_range(name, getattr(self, name), 0, MAX_RESAMPLES)
        _in_range("baseline_seeds", self.baseline_seeds, 0, MAX_BASELINE_SEEDS)
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise EmoalignError(f"--heldout-fraction {self.heldout_fraction}: must be at least 0 and below 1")

    def _check_types(self) -> None:
        """Every field of the type it must have (numpy numbers accepted and made plain Python ones):
        one error naming the field (and its flag) instead of a comparison failing somewhere later."""
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name in ("n_components", "seed", "n_permutations", "n_bootstrap", "n_pairing_permutations",
                     "baseline_seeds"):
            put(name, _integer(name, getattr(self, name)))
        for name in ("heldout_fraction", "alpha"):
            put(name, _number(name, getattr(self, name)))
        for name in ("map_method", "fit_data", "metric", "reference", "layer_match"):
            if not isinstance(getattr(self, name), str):
                raise _type_error(name, getattr(self, name), "a string")
        ks = self.k_profile
        if isinstance(ks, (str, bytes)) or not isinstance(ks, Sequence) or not all(_is_int(k) for k in ks):
            raise _type_error("k_profile", ks, "a sequence of integers")
        put("k_profile", tuple(int(k) for k in ks))

    @property
    def with_statistics(self) -> bool:
        """Nulls, CIs and reliabilities are computed unless --permutations 0."""
        return self.n_permutations > 0

    def profile_ks(self, max_k: int) -> tuple[int, ...]:
        """The k of the verdict-vs-k profile that fit (at most ``max_k``: the smallest numerical rank of
        the emotion vectors, see :func:`check_numerical_rank`), always including n_components."""
        return tuple(sorted({k for k in self.k_profile if k <= max_k} | {self.n_components}))


#: Settings that change an alignment's numbers or verdicts: an artifact holding other values is a
#: different analysis, which a rerun may not silently replace, nor `compare` silently mix.
ANALYSIS_SETTINGS: tuple[str, ...] = tuple(item.name for item in fields(AlignConfig))
