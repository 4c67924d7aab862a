"""Result records of a study and their artifacts (safetensors + JSON metadata; never pickle)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.core.activations import ActivationSet
from emoalign.core.errors import EmoalignError
from emoalign.core.settings import ANALYSIS_SETTINGS
from emoalign.core.text import printable
from emoalign.io.paths import safe_component
from emoalign.io.storage import load_artifact, read_metadata, save_arrays

ALIGNMENT_KIND = "alignment"
#: The schema of an alignment artifact's tables, written with it. 0: artifacts written before the
#: version was recorded (readers infer their schema from the columns present); 1: the three-step
#: verdict, the readout diagnostics and the lexical floor (``floor``).
ALIGNMENT_FORMAT_VERSION = 1



def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def settings_differences(metadata: Mapping, config: Mapping, dataset_hash: str | None) -> list[str]:
    """``name old -> new`` for each analysis setting (and the prompt set) where an artifact's
    metadata differs from ``config``."""
    old = metadata.get("config", {})
    differences = [
        f"{name} {_plain(old.get(name))!r} -> {_plain(config.get(name))!r}"
        for name in ANALYSIS_SETTINGS
        if name in config and _plain(old.get(name)) != _plain(config.get(name))
    ]
    if dataset_hash is not None and metadata.get("dataset", {}).get("hash") != dataset_hash:
        differences.append("the prompts differ")
    return differences


def check_comparable(results: Sequence[AlignmentResult], paths: Sequence[str | Path]) -> list[str]:
    """Alignments compared side by side must read the same prompts (a different prompt set is one
    error line naming the file), and no file may be given twice. Other differences (source, k, map,
    statistics) are allowed: the report shows each model's differing settings. Returns one line per
    file that differs from the first, ``setting first -> this``."""
    first, first_path = results[0], paths[0]
    seen: dict[str, str | Path] = {}
    for path in paths:
        key = str(Path(path).resolve())
        if key in seen:
            raise EmoalignError(f"{path}: given twice (also as {seen[key]}); give each alignment once")
        seen[key] = path
    notes = []
    for result, path in zip(results[1:], paths[1:]):
        if result.dataset.get("hash") != first.dataset.get("hash"):
            raise EmoalignError(
                f"{path}: other prompts than {first_path} ({result.dataset.get('name')!r} vs "
                f"{first.dataset.get('name')!r}); compare analyses of one prompt set"
            )
        differences = settings_differences({"config": first.config}, result.config, None)
        if result.source.get("id") != first.source.get("id"):
            differences.insert(0, f"source {first.source.get('name')!r} -> {result.source.get('name')!r}")
        if differences:
            notes.append(f"{path}: {'; '.join(differences[:4])} (relative to {first_path})")
    return notes


#: ``AlignmentResult.layer_table(columns=...)``: every column (default) or the few a reader needs
LAYER_TABLE_COLUMNS: tuple[str, ...] = ("all", "short")
#: the columns of ``layer_table(columns="short")``, in this order, where the artifact has them
SHORT_LAYER_COLUMNS: tuple[str, ...] = (
    "layer", "target_layer", "mean_overlap_before", "mean_overlap_after", "delta", "chance",
    "baseline_overlap_bound", "ci_low", "ci_high", "beyond_static_meaning", "verdict",
)


def _num(value: object) -> str:
    """Three decimals (the reports' rounding of overlaps in prose and CIs); ``n/a`` when missing."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    return f"{number:.3f}" if np.isfinite(number) else "n/a"


def _ranges(values: Sequence[int]) -> str:
    """``0-3, 6, 8-9`` of sorted distinct integers."""
    values = sorted(set(values))
    if not values:
        return "none"
    runs = [[values[0], values[0]]]
    for value in values[1:]:
        if value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _layer_pairs_text(layers: pd.DataFrame, layer_match: object) -> str:
    """``layer pairs 0->0, 1->1`` for a few, ``12 layer pairs: source 0-11, target 0-23 (grid)`` else."""
    if layers.empty or "layer" not in layers:
        return "no layer pairs"
    source = [int(v) for v in layers["layer"]]
    target = [int(v) for v in layers["target_layer"]] if "target_layer" in layers else source
    match = f" ({layer_match})" if layer_match else ""
    if len(source) <= 4:
        return "layer pairs " + ", ".join(f"{s}->{t}" for s, t in zip(source, target)) + match
    return f"{len(source)} layer pairs: source {_ranges(source)}, target {_ranges(target)}{match}"


def _frame_to_json(frame: pd.DataFrame) -> dict[str, list]:
    return {column: frame[column].tolist() for column in frame.columns}


@dataclass
class AlignmentResult:
    """One source/target pair: per-cell and per-layer tables plus the subspace bases.

    ``cells`` has one row per (layer pair, emotion); ``layers`` one row per layer pair whose first
    four columns are the original study's ``layer, mean_overlap_before, mean_overlap_after, delta``.
    """

    config: dict[str, Any]
    source: dict[str, Any]
    target: dict[str, Any]
    dataset: dict[str, Any]
    cells: pd.DataFrame
    layers: pd.DataFrame
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    extraction: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    k_profile: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the lexical floor: the input-embedding pair (layer -1) analysed like a layer pair, as a
    #: reference (no verdict); empty where there is none (legacy metric, activations without it)
    floor_cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    floor_layer: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the artifact schema (:data:`ALIGNMENT_FORMAT_VERSION`; 0 for a file written before it was recorded)
    format_version: int = ALIGNMENT_FORMAT_VERSION

    def layer_table(self, columns: str = "all") -> pd.DataFrame:
        """Per-layer table (a copy), one row per layer pair.

        ``columns="all"`` (the default): every column the analysis wrote (23 or more: the map's fit,
        readout diagnostics, nulls, step counts …), the table the summary CSV, MLflow and existing code
        read; it stays the default so that ``result.layer_table()`` means what it always meant.
        ``columns="short"``: the few a reader needs (:data:`SHORT_LAYER_COLUMNS` that this artifact
        has: layer, target layer, before, after, Δ, chance, the copies' 95 % bound, the percentile CI
        of the layer mean, beyond the lexical floor, the verdict in words)."""
        if columns not in LAYER_TABLE_COLUMNS:
            raise EmoalignError(f"layer_table(columns={columns!r}): use {' or '.join(map(repr, LAYER_TABLE_COLUMNS))}")
        if columns == "short":
            return self.layers[[c for c in SHORT_LAYER_COLUMNS if c in self.layers]].copy()
        return self.layers.copy()

    def cell_table(self) -> pd.DataFrame:
        """Per-(layer pair, emotion) table (copy)."""
        return self.cells.copy()

    @property
    def pair_name(self) -> str:
        """``<source>_vs_<target>``, the stem of this pair's file names."""
        return f"{self.source['name']}_vs_{self.target['name']}"

    # --- in a notebook -------------------------------------------------------------------------
    # The verdict words, the HTML table, the figure and the report are the report layer's work, and
    # core must not import emoalign.report (the layers, tests/test_architecture.py: no import cycle,
    # not even inside a function). They are reached through the package's lazy public API instead:
    # ``emoalign.plot_result`` etc. are looked up in ``emoalign._API`` and imported by a variable
    # name, so there is no import edge core -> report, and each is a public function of its own.

    @property
    def verdict(self) -> str:
        """The pair verdict in words, as the reports give it (``emoalign.result_verdict``)."""
        import emoalign

        return emoalign.result_verdict(self)

    @property
    def headline(self) -> str:
        """The report's one-sentence headline of the pair (``emoalign.result_headline``)."""
        import emoalign

        return emoalign.result_headline(self)

    def plot(self, *, ax: Any = None, lang: str = "en", title: str | None = None) -> Any:
        """The overlap figure (before/after per layer, the copies' 95 % bound, the CI, chance, the
        lexical floor) as a matplotlib ``Figure`` (``emoalign.plot_result``); ``ax``: draw there."""
        import emoalign

        return emoalign.plot_result(self, ax=ax, lang=lang, title=title)

    def report(self, path: str | Path, lang: str = "en", *, figures: bool = True, html: bool = False) -> Path:
        """Write the per-pair Markdown report at ``path`` in ``lang`` (``en`` or ``ja``), with its
        figures unless ``figures=False`` (``emoalign.write_result_report``); returns its path."""
        import emoalign

        return emoalign.write_result_report(self, path, lang=lang, figures=figures, html=html)

    def _repr_html_(self) -> str:
        """Jupyter's view: the compact verdict table (``emoalign.result_html``)."""
        import emoalign

        return emoalign.result_html(self)

    def __repr__(self) -> str:
        """A few lines: the pair, metric, k, layer pairs, the pair verdict and the headline numbers
        (never the arrays: ``layer_table()``, ``cell_table()`` and ``arrays`` hold those)."""
        try:
            import emoalign

            verdict = emoalign.result_verdict(self)
        except Exception:  # noqa: BLE001 - a repr must not fail: the stored words instead
            verdict = str((self.summary or {}).get("verdict", "n/a"))
        config = self.config
        control = f", {config['control']} control" if config.get("control") else ""
        copies = int(config.get("baseline_copies") or 0)
        head = (f"AlignmentResult {self.source.get('name')} vs {self.target.get('name')}{control}: "
                f"{config.get('metric', 'n/a')} metric, k = {config.get('n_components', 'n/a')}, "
                f"{_layer_pairs_text(self.layers, config.get('layer_match'))}"
                + (f", {copies} random-weight copies" if copies else ""))
        lines = [head, f"  pair verdict: {verdict}"]
        layers = self.layers
        if not layers.empty and {"mean_overlap_before", "mean_overlap_after", "delta"} <= set(layers):
            after = pd.to_numeric(layers["mean_overlap_after"], errors="coerce")
            numbers = (f"  mean overlap before {_num(layers['mean_overlap_before'].mean())} -> after "
                       f"{_num(after.mean())} (delta {_num(layers['delta'].mean())})")
            if after.notna().any():
                best = layers.loc[after.idxmax()]
                target = best.get("target_layer", best["layer"])
                numbers += f"; best {_num(best['mean_overlap_after'])} at layer {int(best['layer'])}->{int(target)}"
                if "baseline_overlap_bound" in layers:
                    numbers += f" (copies' 95% bound {_num(best['baseline_overlap_bound'])})"
            if not self.floor_layer.empty and "mean_overlap_after" in self.floor_layer:
                numbers += f"; lexical floor {_num(self.floor_layer['mean_overlap_after'].iloc[0])}"
            lines.append(numbers)
        return "\n".join(printable(line) for line in lines)  # names are user data: no terminal controls

    def save(self, path: str | Path) -> Path:
        """Write the alignment artifact (one safetensors file; a folder gets the default name)."""
        path = Path(path)
        if path.suffix != ".safetensors":
            path = path / f"{safe_component(self.pair_name)}_token_based_full.safetensors"
        metadata = {
            "kind": ALIGNMENT_KIND,
            "format_version": self.format_version,  # a result read from an older file keeps its schema
            "config": self.config,
            "source": self.source,
            "target": self.target,
            "dataset": self.dataset,
            "cells": _frame_to_json(self.cells),
            "layers": _frame_to_json(self.layers),
            "extraction": self.extraction,
            "provenance": self.provenance,
            "summary": self.summary,
            "k_profile": _frame_to_json(self.k_profile),
            "floor": {"cells": _frame_to_json(self.floor_cells), "layer": _frame_to_json(self.floor_layer)},
        }
        return save_arrays(path, self.arrays, metadata)

    @classmethod
    def from_artifact(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> AlignmentResult:
        """Rebuild from the contents of an alignment artifact (one written by a newer emoalign, in a
        schema this one does not know, is an error)."""
        version = int(meta.get("format_version", 0))
        if version > ALIGNMENT_FORMAT_VERSION:
            raise EmoalignError(
                f"alignment format {version}, written by a newer emoalign (this one reads up to "
                f"{ALIGNMENT_FORMAT_VERSION}); upgrade emoalign to read it"
            )
        return cls(
            format_version=version,
            config=meta["config"],
            source=meta["source"],
            target=meta["target"],
            dataset=meta["dataset"],
            cells=pd.DataFrame(meta["cells"]),
            layers=pd.DataFrame(meta["layers"]),
            arrays=arrays,
            extraction=meta.get("extraction", {}),
            provenance=meta.get("provenance", {}),
            summary=meta.get("summary", {}),
            k_profile=pd.DataFrame(meta.get("k_profile", {})),
            floor_cells=pd.DataFrame(meta.get("floor", {}).get("cells", {})),
            floor_layer=pd.DataFrame(meta.get("floor", {}).get("layer", {})),
        )


def load(path: str | Path) -> Any:
    """Reload any emoalign artifact (activations, alignment, vectors, subspaces) by its kind."""
    def build(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
        if meta["kind"] == ALIGNMENT_KIND:
            try:
                return AlignmentResult.from_artifact(arrays, meta)
            except EmoalignError as exc:
                raise EmoalignError(f"{path}: {exc}") from None
        return {"arrays": arrays, "metadata": meta}

    try:
        is_activations = read_metadata(path).get("kind") == "activations"
    except Exception:  # noqa: BLE001 - damaged or missing: load_artifact below names the fault
        is_activations = False
    if is_activations:
        return ActivationSet.load(path)
    return load_artifact(path, (ALIGNMENT_KIND, "emotion_vectors", "emotion_subspaces"), build)
