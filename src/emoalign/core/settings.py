"""The analysis settings of one alignment: a plain record, shared by the analysis (which reads it),
the study config (which builds one per k) and the result (which records it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from emoalign.core.errors import EmoalignError

__all__ = ["AlignConfig", "ANALYSIS_SETTINGS", "MAP_METHODS", "FIT_DATA", "METRICS", "REFERENCES"]

#: the maps of :mod:`emoalign.analysis.maps` (target -> source)
MAP_METHODS: tuple[str, ...] = ("lstsq", "ridge", "procrustes", "cca")
FIT_DATA: tuple[str, ...] = ("neutral-words", "neutral-last")
METRICS: tuple[str, ...] = ("bounded", "legacy")
REFERENCES: tuple[str, ...] = ("mean", "index")


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
