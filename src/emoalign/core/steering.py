"""The result of the causal transfer test (:mod:`emoalign.study.steer`): the target steered by its
own emotion vectors and by the source's carried through a map, beside random directions and maps
fitted on shuffled pairs.

Tables (pandas), one row per:

``cells``     (source layer, target layer, emotion) at the test scale: the effects, their paired
              intervals over prompts, the efficiency, the p-values and the verdict (:data:`CELL_COLUMNS`)
``dose``      (source layer, target layer, condition, emotion, scale): the mean shift toward the
              vector's own emotion (dose–response; the nulls' mean and 95th percentile over draws)
``matrices``  (source layer, target layer, condition, vector emotion, toward emotion) at the test
              scale: the 3 × 3 specificity tables of the own and the transferred vectors
``layers``    layer pair: the map's held-out R², the residual norm the scales refer to

Columns of ``dose``: layer, target_layer, condition, emotion, scale, mean_shift, ci_low, ci_high,
n_draws (own and transferred: a bootstrap interval over prompts; random and shuffled: the mean over
draws and their 5th-95th percentiles). Of ``matrices``: layer, target_layer, condition (own,
transferred), vector_emotion, toward_emotion, mean_shift. Of ``layers``: layer, target_layer,
map_r2, map_r2_prompts, residual_norm, n_fit_pairs, cosine_own_transferred, n_transfers.

A shift is ``log Σ_{t ∈ T_e} p_steered(t) − log Σ_{t ∈ T_e} p(t)``: the change in the log
probability mass of emotion e's first tokens at the prompt's next position.

``shifts`` holds the per-prompt arrays they come from, so every number can be recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.core.errors import EmoalignError
from emoalign.io.storage import load_artifact, save_arrays

__all__ = ["STEERING_FORMAT_VERSION", "CONDITIONS", "VERDICTS", "CELL_COLUMNS", "SteeringResult"]

STEERING_FORMAT_VERSION = 1
#: the tables of a result, in the order they are saved
TABLES: tuple[str, ...] = ("cells", "dose", "matrices", "layers")

#: the conditions, all at the same norm: the target's own vector (the reference), the source's
#: carried through the map, random directions (null), the source's through maps fitted on shuffled pairs
CONDITIONS: tuple[str, ...] = ("own", "transferred", "random", "shuffled")

#: verdict keys of a cell (the words are in the report catalog)
VERDICTS: tuple[str, ...] = (
    "transfers",  # beyond random directions and shuffled maps
    "beyond_random_only",  # beyond random directions, not beyond the shuffled maps
    "no_better_than_random",
    "own_does_not_steer",  # the target's own vector is no better than a random direction: nothing to transfer
)

CELL_COLUMNS: tuple[str, ...] = (
    "layer", "target_layer", "emotion",
    "effect_own", "own_ci_low", "own_ci_high",
    "effect_transferred", "transferred_ci_low", "transferred_ci_high",
    "efficiency", "efficiency_ci_low", "efficiency_ci_high",
    "specificity_own", "specificity_transferred",
    "random_mean", "random_p95", "shuffled_mean", "shuffled_p95",
    "p_own_random", "p_random", "p_shuffled", "p_random_cell", "p_shuffled_cell",
    "verdict",
)


@dataclass
class SteeringResult:
    """The causal transfer test of one pair (source vectors carried into the target)."""

    pair_name: str
    source: dict[str, Any]
    target: dict[str, Any]
    config: dict[str, Any]
    cells: pd.DataFrame
    dose: pd.DataFrame
    matrices: pd.DataFrame
    layers: pd.DataFrame
    shifts: dict[str, np.ndarray] = field(default_factory=dict)
    continuations: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, list[str]] = field(default_factory=dict)  # emotion -> the first tokens read
    seconds: float = 0.0
    format_version: int = STEERING_FORMAT_VERSION

    @property
    def emotions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.cells["emotion"])) if len(self.cells) else ()

    def transfers(self) -> pd.DataFrame:
        """The cells whose transferred vector steers beyond both nulls."""
        return self.cells[self.cells["verdict"] == "transfers"]

    def save(self, path: str | Path) -> Path:
        """One safetensors file: the per-prompt shifts as arrays, the tables and settings as metadata."""
        metadata = {
            "kind": "steering",
            "format_version": self.format_version,
            "pair_name": self.pair_name,
            "source": self.source,
            "target": self.target,
            "config": self.config,
            "tables": {name: {"columns": [str(c) for c in getattr(self, name).columns],
                              "rows": _records(getattr(self, name))} for name in TABLES},
            "continuations": self.continuations,
            "tokens": self.tokens,
            "seconds": self.seconds,
        }
        arrays = {name: np.asarray(array, dtype=np.float32) for name, array in self.shifts.items()}
        return save_arrays(path, arrays, metadata)

    @classmethod
    def load(cls, path: str | Path) -> SteeringResult:
        """Read a file written by :meth:`save`; one from a newer emoalign is an error naming it."""
        def build(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> SteeringResult:
            version = int(meta["format_version"])
            if version > STEERING_FORMAT_VERSION:
                raise EmoalignError(
                    f"{path}: steering result of format {version}, newer than this emoalign reads "
                    f"({STEERING_FORMAT_VERSION}); upgrade emoalign"
                )
            tables = {name: _frame(meta["tables"][name]) for name in TABLES}
            return cls(
                pair_name=meta["pair_name"], source=meta["source"], target=meta["target"], config=meta["config"],
                **tables,
                shifts=dict(arrays), continuations=list(meta.get("continuations", [])),
                tokens=dict(meta.get("tokens", {})), seconds=float(meta.get("seconds", 0.0)), format_version=version,
            )

        return load_artifact(path, "steering", build)


def _frame(table: dict[str, Any]) -> pd.DataFrame:
    """A table as saved (its columns, even with no row); a column of numbers and missing values
    (saved as null) is read back as floats with NaN."""
    frame = pd.DataFrame(table["rows"], columns=table["columns"])
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object and all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool)
                                          for v in values):
            frame[column] = values.astype(float)
    return frame


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN as None, numpy scalars as Python numbers)."""
    out = []
    for row in frame.to_dict(orient="records"):
        clean = {}
        for key, value in row.items():
            if isinstance(value, (np.floating, float)):
                value = None if not np.isfinite(value) else float(value)
            elif isinstance(value, np.integer):
                value = int(value)
            clean[str(key)] = value
        out.append(clean)
    return out
