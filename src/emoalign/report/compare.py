"""Comparison of several alignment results (pure): per-layer profiles, the comparison table,
where the largest improvements sit, k-sweeps and controls; the checks live in
:mod:`emoalign.report.checks`. Nothing here renders text.

Artifacts come in four schemas (:func:`schema_of`): ``current`` (three-step verdict, see
:mod:`emoalign.analysis.verdict`), ``legacy`` (legacy metric: numbers without a verdict),
``untested`` (statistics off) and ``old`` (written before the random-copy baseline: an emotion-label
null, now read as the prompt-group null, and a split-half "ceiling" that is not shown)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.analysis.stats import benjamini_hochberg
from emoalign.analysis.verdict import (
    BEYOND_VOCABULARY,
    LEGACY_NO_VERDICT,
    NO_CORRESPONDENCE,
    NOT_TESTED,
    VOCABULARY_ONLY,
    VOCABULARY_UNCHECKED,
)
from emoalign.core.errors import EmoalignError
from emoalign.core.results import AlignmentResult, load
from emoalign.core.text import printable
from emoalign.report.checks import (
    ALPHA,
    Check,
    Numerics,
    format_layers,
    has_column,
    numerics,
    overall_check,
    sanity_checks,
)
from emoalign.report.i18n import OLD_SCHEMA_NO_VERDICT

REGIONS: tuple[str, ...] = ("lower", "middle", "upper")
CONTROL_SUFFIX = "-untrained"
PAIR_VERDICTS: tuple[str, ...] = (
    BEYOND_VOCABULARY, VOCABULARY_ONLY, NO_CORRESPONDENCE, VOCABULARY_UNCHECKED, NOT_TESTED, LEGACY_NO_VERDICT,
    OLD_SCHEMA_NO_VERDICT,
)
# columns of artifacts written before the three-step verdict, under their current names
OLD_COLUMNS: dict[str, str] = {"null_p95": "group_null_p95", "null_mean": "group_null_mean", "p_label": "p_group",
                               "q_label": "q_group"}
# per-cell columns averaged per layer pair (the layer table's own value wins where it has one)
CELL_MEANS: tuple[str, ...] = (
    "group_null_mean", "group_null_p95", "ci_low", "ci_high", "normalised_overlap", "reliability_source",
    "reliability_target", "baseline_overlap_mean", "baseline_overlap_bound", "baseline_specificity_mean",
    "baseline_specificity_bound",
)
LAYER_OWN: tuple[str, ...] = ("ci_low", "ci_high", "group_null_p95", "normalised_overlap", "baseline_overlap_bound")
# per-cell step flags -> per-layer counts
STEP_COUNTS: tuple[tuple[str, str], ...] = (
    ("correspondence", "n_correspondence"), ("beyond_vocabulary", "n_beyond_vocabulary"),
    ("emotion_not_any_group", "n_emotion_group"), ("emotion_specific", "n_emotion_specific"),
)


@dataclass
class ModelEntry:
    """One input of a comparison with everything computed from it."""

    label: str
    result: AlignmentResult
    path: Path | None
    profile: pd.DataFrame
    summary: dict[str, Any]
    checks: list[Check]
    overall: Check
    numerics: Numerics
    control_of: str | None = None  # label of the trained entry this untrained control belongs to
    control: str | None = None  # label of this entry's untrained control


@dataclass
class Comparison:
    """Several alignment results side by side."""

    entries: list[ModelEntry]
    table: pd.DataFrame
    k_groups: list[list[int]]
    common_settings: dict[str, Any]
    differing_settings: list[str]


# ------------------------------------------------------------------------------------------------
# inputs


def load_alignment(path: str | Path) -> AlignmentResult:
    """Load an alignment artifact; anything else, or one missing what a comparison reads (a table
    column, a number where text stands), is an error naming the file."""
    loaded = load(path)
    if not isinstance(loaded, AlignmentResult):
        what = type(loaded).__name__ if not isinstance(loaded, dict) else loaded["metadata"].get("kind")
        raise EmoalignError(
            f"{printable(path)}: not an alignment artifact (it holds {printable(what)}); pass the files under "
            "alignment/"
        )
    check_alignment(loaded, path)
    return loaded


#: The columns every alignment artifact has had, in every schema: table -> required columns.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "cells": ("layer", "emotion", "overlap_before", "overlap_after"),
    "layers": ("layer", "mean_overlap_before", "mean_overlap_after", "delta"),
    "floor layer": ("mean_overlap_before", "mean_overlap_after", "delta", "n_components"),
}
#: Columns read as numbers where present (NaN allowed, text not).
NUMERIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "cells": ("overlap_before", "overlap_after", "chance", "specificity", "p_pairing", "p_baseline",
              "explained_variance_source", "explained_variance_target", "group_null_mean", "group_null_p95",
              "null_mean", "null_p95", "ci_low", "ci_high", "normalised_overlap", "reliability_source",
              "reliability_target", "baseline_overlap_mean", "baseline_overlap_bound", "baseline_specificity_mean",
              "baseline_specificity_bound"),
    "layers": ("mean_overlap_before", "mean_overlap_after", "delta", "chance", "mean_specificity", "ci_low",
               "ci_high", "group_null_p95", "null_p95", "normalised_overlap", "baseline_overlap_bound",
               "source_pc1_max", "target_pc1_max", "beyond_static_meaning"),
    "floor layer": ("mean_overlap_before", "mean_overlap_after", "delta", "chance", "ci_low", "ci_high"),
    "k profile": ("k", "mean_overlap_after", "mean_specificity", "baseline_overlap_mean", "baseline_overlap_bound",
                  "share_beyond_vocabulary"),
}
#: Columns of layer numbers (whole numbers) where present.
INTEGER_COLUMNS: dict[str, tuple[str, ...]] = {
    "cells": ("layer", "target_layer"), "layers": ("layer", "target_layer"),
    "floor layer": ("layer", "target_layer", "n_components"), "k profile": ("k",),
}
_READOUT_KEYS = {"cells": ("role", "layer", "emotion", "pc1", "outlying_prompts"),
                 "fit": ("role", "layer", "n_dropped")}


def _where(path: str | Path | None, result: AlignmentResult) -> str:
    return printable(path) if path is not None else f"alignment {printable(result.pair_name)!r}"


def check_alignment(result: AlignmentResult, path: str | Path | None = None) -> None:
    """Raise EmoalignError naming the file (``path``) and the table and column at fault when
    ``result`` lacks what a comparison reads: the records as mappings, the models' names, the
    columns of :data:`REQUIRED_COLUMNS`, numbers in :data:`NUMERIC_COLUMNS` and whole numbers in
    :data:`INTEGER_COLUMNS`, at least one layer pair, and well-formed readout records."""
    where = _where(path, result)
    for name in ("config", "source", "target", "dataset", "summary", "extraction", "provenance"):
        if not isinstance(getattr(result, name), dict):
            raise EmoalignError(
                f"{where}: field {name!r} must be a JSON object, got {type(getattr(result, name)).__name__}"
            )
    for role in ("source", "target"):
        if not isinstance(getattr(result, role).get("name"), str) or not getattr(result, role)["name"].strip():
            raise EmoalignError(f"{where}: field '{role}.name' (the model's name) is missing or not a string")
    tables = {"cells": result.cells, "layers": result.layers, "floor layer": result.floor_layer,
              "k profile": result.k_profile}
    for table, frame in tables.items():
        if not isinstance(frame, pd.DataFrame):
            raise EmoalignError(f"{where}: the {table} table is not a table")
        if table in ("floor layer", "k profile") and frame.empty:
            continue
        missing = [column for column in REQUIRED_COLUMNS.get(table, ()) if column not in frame]
        if missing:
            raise EmoalignError(f"{where}: the {table} table has no column {missing[0]!r}; the artifact is damaged "
                                "or not written by emoalign")
        for column in NUMERIC_COLUMNS.get(table, ()):
            if column in frame:
                _check_numbers(frame[column], where, table, column, whole=False)
        for column in INTEGER_COLUMNS.get(table, ()):
            if column in frame:
                _check_numbers(frame[column], where, table, column, whole=True)
    if result.layers.empty:
        raise EmoalignError(f"{where}: the layers table is empty (no layer pair was analysed)")
    readout = result.summary.get("readout")
    if readout is not None:
        if not isinstance(readout, dict):
            raise EmoalignError(f"{where}: field 'summary.readout' must be a JSON object")
        for part, keys in _READOUT_KEYS.items():
            records = readout.get(part, [])
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise EmoalignError(f"{where}: field 'summary.readout.{part}' must be a list of objects")
            for record in records:
                absent = [key for key in keys if key not in record]
                if absent:
                    raise EmoalignError(f"{where}: a record of 'summary.readout.{part}' has no field {absent[0]!r}")


def _check_numbers(values: pd.Series, where: str, table: str, column: str, *, whole: bool) -> None:
    numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
    text = values.notna() & numbers.isna()
    if text.any():
        bad = values[text].iloc[0]
        raise EmoalignError(f"{where}: the {table} table's column {column!r} holds {printable(repr(bad))[:60]} "
                            "where a number belongs")
    if whole:
        finite = numbers[np.isfinite(numbers.to_numpy())]
        if len(finite) < numbers.notna().sum() or not (finite == np.round(finite)).all():
            raise EmoalignError(f"{where}: the {table} table's column {column!r} must hold whole numbers (layers)")


#: ``config["control"]`` of a known-answer control that SHOULD share structure (the demo's planted twin);
#: every other control kind (untrained, random weights) should not
PLANTED_TWIN = "planted twin"


def is_control(result: AlignmentResult) -> bool:
    """Whether ``result`` is an untrained-weights control run."""
    return result.config.get("control") == "untrained" or str(result.target["name"]).endswith(CONTROL_SUFFIX)


def alpha_of(result: AlignmentResult) -> float:
    """The FDR level the statistics used (``config["alpha"]`` or ``config["statistics"]["alpha"]``; 0.05)."""
    stats = result.config.get("statistics")
    alpha = result.config.get("alpha", stats.get("alpha") if isinstance(stats, dict) else None)
    return float(alpha) if alpha is not None else ALPHA


# ------------------------------------------------------------------------------------------------
# per-layer profile


def relative_depth(target_layer: int, n_layers: int) -> float:
    """Block index / (n_layers - 1): 0 = first block, 1 = last."""
    return float(target_layer) / max(1, int(n_layers) - 1)


def depth_region(rel: float) -> str:
    """``lower`` / ``middle`` / ``upper`` third of the model's depth."""
    return REGIONS[min(2, int(rel * 3 + 1e-9))] if np.isfinite(rel) else "n/a"


def schema_of(result: AlignmentResult) -> str:
    """``legacy`` (legacy metric), ``current`` (the statistics of the three-step verdict; the verdict
    itself needs the pairing null), ``old`` (label null and ceiling, written before the random-copy
    baseline) or ``untested`` (no statistics). A versioned artifact says which it is; only one
    written before the version was recorded is read from the columns present."""
    cells = result.cells
    if result.config.get("metric") == "legacy":
        return "legacy"
    if result.format_version >= 1:
        return "current" if result.config.get("n_permutations", 0) > 0 else "untested"
    if any(column in cells for column in ("correspondence", "emotion_not_any_group", "p_group", "group_null_p95")):
        return "current"
    if any(column in cells for column in ("p_label", "null_p95", "ceiling")):
        return "old"
    return "untested"


def has_baseline(result: AlignmentResult) -> bool:
    """Whether the artifact carries the random-copy (vocabulary) baseline."""
    cells = result.cells
    return "p_baseline" in cells and bool(np.isfinite(pd.to_numeric(cells["p_baseline"], errors="coerce")).any())


def pair_verdict(result: AlignmentResult, schema: str | None = None) -> str:
    """The pair's verdict in words (one of :data:`PAIR_VERDICTS`)."""
    schema = schema or schema_of(result)
    if schema == "legacy":
        return LEGACY_NO_VERDICT
    if schema == "old":
        return OLD_SCHEMA_NO_VERDICT
    verdict = result.summary.get("verdict")
    if schema == "current" and verdict in PAIR_VERDICTS:
        return str(verdict)
    return NOT_TESTED


def _cells(result: AlignmentResult) -> pd.DataFrame:
    """The cell table with old column names mapped to the current ones."""
    cells = result.cells.copy()
    renames = {old: new for old, new in OLD_COLUMNS.items() if old in cells and new not in cells}
    cells = cells.rename(columns=renames)
    if "target_layer" not in cells:
        cells["target_layer"] = cells["layer"]
    return cells


def layer_profile(result: AlignmentResult) -> pd.DataFrame:
    """One row per layer pair: before / after / Δ (the report's metric), the bounded after, chance,
    specificity, relative target depth and, when present, the random-copy baseline (copies' mean
    and 95 % prediction bound), the CI of the layer mean, the prompt-group null, reliability and
    normalised overlap, and the number of cells passing each verdict step."""
    layers = result.layers.rename(columns={o: n for o, n in OLD_COLUMNS.items() if o in result.layers})
    keys = ["layer", "target_layer"]
    profile = pd.DataFrame(
        {
            "layer": layers["layer"].astype(int),
            "target_layer": layers["target_layer"].astype(int) if "target_layer" in layers else layers["layer"],
            "before": layers["mean_overlap_before"].astype(float),
            "after": layers["mean_overlap_after"].astype(float),
            "delta": layers["delta"].astype(float),
            "chance": layers["chance"].astype(float) if "chance" in layers else np.nan,
            "specificity": layers["mean_specificity"].astype(float) if "mean_specificity" in layers else np.nan,
        }
    )
    cells = _cells(result)
    if "correspondence" not in cells and "p_pairing" in cells and np.isfinite(cells["p_pairing"]).any():
        # old artifacts: step (a) from the per-cell pairing p-values (BH across the pair's cells)
        q = benjamini_hochberg(cells["p_pairing"].to_numpy(dtype=np.float64))
        cells["correspondence"] = np.nan_to_num(q, nan=1.0) < alpha_of(result)
    grouped = cells.groupby(keys, sort=False)
    extra = pd.DataFrame(index=grouped.size().index)
    if "overlap_after" in cells:
        extra["after_bounded"] = grouped["overlap_after"].mean()
    for column in CELL_MEANS:
        if column in cells:
            extra[column] = grouped[column].mean()
    for flag, count in STEP_COUNTS:
        if flag in cells and cells[flag].notna().all():
            extra[count] = cells.assign(_f=cells[flag].astype(bool).astype(int)).groupby(keys, sort=False)["_f"].sum()
    extra["n_cells"] = grouped.size()
    profile = profile.merge(extra.reset_index(), on=keys, how="left")
    for column in LAYER_OWN:  # the layer table's own value (e.g. the CI of the layer mean) wins
        if column in layers:
            profile[column] = pd.to_numeric(layers[column], errors="coerce").to_numpy(dtype=np.float64)
    if "verdict" in layers:
        profile["verdict"] = layers["verdict"].astype(str).to_numpy()
    if "after_bounded" not in profile:
        profile["after_bounded"] = profile["after"]
    if result.config.get("metric") == "legacy":  # statistics of the bounded overlap next to legacy numbers: none
        profile = profile.drop(columns=[c for c in (*CELL_MEANS, *(n for _, n in STEP_COUNTS)) if c in profile])
    n_layers = int(result.target.get("n_layers") or (profile["target_layer"].max() + 1))
    profile["rel_depth"] = [relative_depth(t, n_layers) for t in profile["target_layer"]]
    profile["region"] = [depth_region(r) for r in profile["rel_depth"]]
    return profile


# ------------------------------------------------------------------------------------------------
# where the improvement sits


def peak_rows(profile: pd.DataFrame) -> pd.DataFrame:
    """Layer pairs whose Δ lies within a quarter of the Δ range below the maximum."""
    delta = profile["delta"]
    finite = delta[np.isfinite(delta)]
    if finite.empty:
        return profile.iloc[:0]
    top, bottom = finite.max(), finite.min()
    return profile[delta >= top - 0.25 * (top - bottom)]


def peak_region(profile: pd.DataFrame) -> str:
    """Third of the target's depth holding most of the peak layers (ties: the maximum's);
    ``none`` when no layer improves."""
    rows = peak_rows(profile)
    if rows.empty or rows["delta"].max() <= 0:
        return "none"
    counts = rows["region"].value_counts()
    best = counts[counts == counts.max()].index.tolist()
    if len(best) == 1:
        return str(best[0])
    return str(rows.loc[rows["delta"].idxmax(), "region"])


# ------------------------------------------------------------------------------------------------
# summary row


def pair_summary(result: AlignmentResult, profile: pd.DataFrame, label: str) -> dict[str, Any]:
    """The comparison-table row of one pair (also the CSV row)."""
    cfg = result.config
    finite = profile[np.isfinite(profile["delta"])]
    best = finite.loc[finite["delta"].idxmax()] if not finite.empty else None
    peaks = peak_rows(profile)
    row: dict[str, Any] = {
        "model": label,
        "source": result.source["name"],
        "target": result.target["name"],
        "target_id": result.target.get("id"),
        "control": is_control(result),
        "n_components": cfg.get("n_components"),
        "metric": cfg.get("metric"),
        "map": cfg.get("map_method"),
        "layer_match": cfg.get("layer_match"),
        "n_layer_pairs": int(len(profile)),
        "max_delta": float(best["delta"]) if best is not None else float("nan"),
        "max_delta_layer": int(best["layer"]) if best is not None else -1,
        "max_delta_target_layer": int(best["target_layer"]) if best is not None else -1,
        "max_delta_rel_depth": float(best["rel_depth"]) if best is not None else float("nan"),
        "mean_delta": float(profile["delta"].mean()),
        "mean_before": float(profile["before"].mean()),
        "mean_after": float(profile["after"].mean()),
        "peak_region": peak_region(profile),
        "peak_layers": format_layers(peaks["target_layer"]) if not peaks.empty else "",
        "mean_specificity": float(profile["specificity"].mean()),
        "mean_chance": float(profile["chance"].mean()),
    }
    schema = schema_of(result)
    summary = result.summary or {}

    def mean(column: str) -> float:
        return float(profile[column].mean()) if has_column(profile, column) else float("nan")

    def total(column: str) -> int | None:
        if schema not in ("current", "old"):  # legacy numbers carry no verdict; untested: no steps
            return None
        return int(profile[column].sum()) if column in profile and profile[column].notna().all() else None

    def number(key: str) -> float:
        value = summary.get(key) if schema == "current" else None
        return float(value) if value is not None else float("nan")

    def flag(key: str) -> bool | None:
        value = summary.get(key) if schema == "current" else None
        return bool(value) if value is not None else None

    row.update(
        schema=schema,
        verdict=pair_verdict(result, schema),
        verdict_summary=str(summary.get("summary", "")) if schema in ("current", "legacy") else "",
        p_pairing=number("p_pairing"),
        correspondence=flag("correspondence"),
        p_baseline=number("p_baseline"),
        beyond_vocabulary=flag("beyond_vocabulary"),
        n_baseline_copies=int(summary["n_baseline_copies"]) if schema == "current" and "n_baseline_copies" in summary
        else int(cfg.get("baseline_copies") or 0),
        baseline_overlap_mean=number("baseline_overlap_mean"),
        baseline_overlap_bound=number("baseline_overlap_bound"),
        baseline_specificity_bound=number("baseline_specificity_bound"),
        n_cells=int(profile["n_cells"].sum()) if "n_cells" in profile else int(len(result.cells)),
        n_correspondence=total("n_correspondence"),
        n_beyond_vocabulary=total("n_beyond_vocabulary"),
        n_emotion_group=total("n_emotion_group"),
        n_emotion_specific=total("n_emotion_specific") if schema == "current" else None,
        mean_ci_low=mean("ci_low"),
        mean_ci_high=mean("ci_high"),
        mean_normalised_overlap=mean("normalised_overlap"),
        mean_reliability_source=mean("reliability_source"),
        mean_reliability_target=mean("reliability_target"),
        mean_group_null_p95=mean("group_null_p95"),
        p_group_assignment=float(summary.get("p_group_assignment", summary.get("p_identity", float("nan")))),
    )
    if schema == "current" and np.isnan(row["baseline_overlap_bound"]):
        row["baseline_overlap_bound"] = mean("baseline_overlap_bound")
    row.update(floor_summary(result, profile))
    row.update(readout_of(result))
    return row


def floor_summary(result: AlignmentResult, profile: pd.DataFrame) -> dict[str, Any]:
    """The lexical floor (the input-embedding pair) and the layers whose mean overlap goes beyond its
    95 % interval; NaN / None / empty where the artifact has no floor."""
    floor = result.floor_layer
    after = profile["after_bounded"] if "after_bounded" in profile else profile["after"]
    best = int(after.to_numpy().argmax()) if len(after) and np.isfinite(after).any() else None
    out: dict[str, Any] = {
        "best_layer": int(profile["layer"].iloc[best]) if best is not None else None,
        "best_target_layer": int(profile["target_layer"].iloc[best]) if best is not None else None,
        "best_after": float(after.iloc[best]) if best is not None else float("nan"),
        "floor_after": float("nan"), "floor_ci_low": float("nan"), "floor_ci_high": float("nan"),
        "floor_k": None, "n_beyond_static": None, "static_layers": "", "best_beyond_static": None,
    }
    if floor.empty:
        return out
    first = floor.iloc[0]
    out.update(floor_after=float(first["mean_overlap_after"]), floor_ci_low=float(first.get("ci_low", np.nan)),
               floor_ci_high=float(first.get("ci_high", np.nan)), floor_k=int(first["n_components"]))
    if "beyond_static_meaning" in result.layers and np.isfinite(out["floor_ci_high"]):
        beyond = result.layers["beyond_static_meaning"].to_numpy(dtype=float) == 1.0
        out["n_beyond_static"] = int(beyond.sum())
        out["static_layers"] = format_layers(result.layers.loc[beyond, "layer"].astype(int))
        out["best_beyond_static"] = bool(beyond[best]) if best is not None else None
    return out


def readout_of(result: AlignmentResult) -> dict[str, Any]:
    """The readout diagnostics of a pair: the largest first-component share per model, the cells
    flagged (one direction, or outlying vectors) and the layers whose map fit left outlying pairs out;
    None where the artifact predates them."""
    readout = (result.summary or {}).get("readout")
    layers = result.layers
    if readout is None:
        return {"source_pc1_max": float("nan"), "target_pc1_max": float("nan"), "readout_flags": None,
                "fit_flags": None}
    return {
        "source_pc1_max": float(layers["source_pc1_max"].max()) if "source_pc1_max" in layers else float("nan"),
        "target_pc1_max": float(layers["target_pc1_max"].max()) if "target_pc1_max" in layers else float("nan"),
        "readout_flags": list(readout.get("cells", [])),
        "fit_flags": list(readout.get("fit", [])),
    }


# ------------------------------------------------------------------------------------------------
# the comparison


SETTING_KEYS: tuple[str, ...] = (
    "n_components", "map_method", "fit_data", "metric", "reference", "layer_match", "seed", "emotions",
)
STAT_SETTING_KEYS: tuple[str, ...] = ("n_permutations", "n_bootstrap", "n_pairing_permutations", "baseline_copies",
                                      "alpha")


def settings_of(result: AlignmentResult) -> dict[str, Any]:
    """The settings a reader needs to compare two results."""
    cfg = result.config
    out: dict[str, Any] = {"source": result.source.get("id"), "dataset": result.dataset.get("name"),
                           "dataset_hash": result.dataset.get("hash"),
                           "source_layers": format_layers(result.layers["layer"].astype(int))}
    out.update({key: cfg.get(key) for key in SETTING_KEYS})
    out.update({key: cfg[key] for key in STAT_SETTING_KEYS if key in cfg})
    if cfg.get("statistics"):
        out["statistics"] = cfg["statistics"]
    return out


def model_labels(results: Sequence[AlignmentResult]) -> list[str]:
    """Target names, made unique with the settings that differ (``k=4``) or a counter."""
    names = [str(r.target["name"]) for r in results]
    labels = list(names)
    for name in set(names):
        idx = [i for i, n in enumerate(names) if n == name]
        if len(idx) < 2:
            continue
        settings = [settings_of(results[i]) for i in idx]
        differing = [k for k in SETTING_KEYS if len({repr(s[k]) for s in settings}) > 1]
        for j, i in enumerate(idx):
            suffix = ", ".join(f"{'k' if k == 'n_components' else k}={settings[j][k]}" for k in differing[:2])
            labels[i] = f"{name} ({suffix})" if suffix else f"{name} #{j + 1}"
    if len(set(labels)) < len(labels):
        labels = [f"{label} #{i + 1}" for i, label in enumerate(labels)]
    return labels


def k_sweep_groups(results: Sequence[AlignmentResult]) -> list[list[int]]:
    """Indices of results of the same pair that differ only in n_components (≥ 2 distinct k)."""
    groups: dict[str, list[int]] = {}
    for i, result in enumerate(results):
        settings = settings_of(result)
        settings.pop("n_components")
        key = repr((result.source["name"], result.target["name"], sorted(settings.items(), key=str)))
        groups.setdefault(key, []).append(i)
    out = []
    for idx in groups.values():
        ks = {results[i].config.get("n_components") for i in idx}
        if len(ks) >= 2:
            out.append(sorted(idx, key=lambda i: results[i].config.get("n_components")))
    return out


def _find_control(i: int, results: Sequence[AlignmentResult]) -> int | None:
    trained = results[i]
    if is_control(trained):
        return None
    want = f"{trained.target['name']}{CONTROL_SUFFIX}"
    candidates = [
        j for j, r in enumerate(results)
        if j != i and is_control(r) and r.source["name"] == trained.source["name"]
        and (r.target["name"] in (want, trained.target["name"]))
    ]
    same_k = [j for j in candidates if results[j].config.get("n_components") == trained.config.get("n_components")]
    return (same_k or candidates or [None])[0]


def compare_results(results: Sequence[AlignmentResult], paths: Sequence[str | Path | None] | None = None) -> Comparison:
    """Profiles, summary rows, checks and numerics of every result, and the comparison table."""
    if not results:
        raise EmoalignError("compare: no alignment results given")
    paths = list(paths) if paths is not None else [None] * len(results)
    for result, path in zip(results, paths):
        check_alignment(result, path)
    labels = model_labels(results)
    profiles = [_reading(layer_profile, r, path) for r, path in zip(results, paths)]
    summaries = [_reading(pair_summary, r, path, p, label)
                 for r, p, label, path in zip(results, profiles, labels, paths)]
    controls = [_find_control(i, results) for i in range(len(results))]
    entries: list[ModelEntry] = []
    for i, result in enumerate(results):
        j = controls[i]
        checks = sanity_checks(
            profiles[i], summaries[i], alpha_of(result),
            summaries[j] if j is not None else None, labels[j] if j is not None else None,
        )
        overall = overall_check(checks, summaries[i])
        summaries[i]["check_status"] = overall.status
        entries.append(ModelEntry(
            label=labels[i], result=result, path=Path(paths[i]) if paths[i] is not None else None,
            profile=profiles[i], summary=summaries[i], checks=checks, overall=overall,
            numerics=numerics(result), control=labels[j] if j is not None else None,
        ))
    for i, j in enumerate(controls):
        if j is not None:
            entries[j].control_of = labels[i]
    settings = [settings_of(r) for r in results]
    common = {k: v for k, v in settings[0].items() if all(repr(s.get(k)) == repr(v) for s in settings)}
    differing = [k for k in settings[0] if k not in common]
    return Comparison(
        entries=entries, table=pd.DataFrame([e.summary for e in entries]), k_groups=k_sweep_groups(results),
        common_settings=common, differing_settings=differing,
    )


def _reading(compute, result: AlignmentResult, path, *args):
    """``compute(result, *args)``, a value an artifact holds in the wrong form (text where a number
    belongs, a record of the wrong shape) one error naming the file instead of a traceback."""
    try:
        return compute(result, *args)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise EmoalignError(
            f"{_where(path, result)}: cannot read this alignment artifact ({type(exc).__name__}: "
            f"{printable(exc)[:120]}); is it damaged?"
        ) from None


def k_sweep_table(comparison: Comparison, group: Sequence[int]) -> pd.DataFrame:
    """Mean before / after / the copies' mean and 95 % bound / chance against k for one k-sweep group."""
    rows = []
    for i in group:
        entry = comparison.entries[i]
        rows.append({
            "k": int(entry.result.config["n_components"]),
            "mean_before": entry.summary["mean_before"],
            "mean_after": entry.summary["mean_after"],
            "baseline_overlap_mean": entry.summary["baseline_overlap_mean"],
            "baseline_overlap_bound": entry.summary["baseline_overlap_bound"],
            "chance": entry.summary["mean_chance"],
        })
    return pd.DataFrame(rows).sort_values("k").reset_index(drop=True)


def explained_variance_profile(result: AlignmentResult) -> pd.DataFrame:
    """Per layer pair: explained-variance ratio of the k components (summed over k, mean over emotions)."""
    rows = {"layer": result.layers["layer"].astype(int).to_numpy(),
            "target_layer": result.layers.get("target_layer", result.layers["layer"]).astype(int).to_numpy()}
    for role in ("source", "target"):
        array = result.arrays.get(f"{role}_explained_variance")
        if array is not None and array.ndim == 3 and array.shape[0] == len(result.layers):
            rows[role] = np.asarray(array, dtype=np.float64).sum(axis=2).mean(axis=1)
        elif f"explained_variance_{role}" in result.cells:
            cells = result.cells
            keys = ["layer", "target_layer"] if "target_layer" in cells else ["layer"]
            means = cells.groupby(keys, sort=False)[f"explained_variance_{role}"].mean()
            rows[role] = means.to_numpy()[: len(result.layers)]
        else:
            rows[role] = np.full(len(result.layers), np.nan)
    return pd.DataFrame(rows)


CSV_FIRST: tuple[str, ...] = (
    "model", "source", "target", "verdict", "p_pairing", "p_baseline", "n_cells", "n_correspondence",
    "n_beyond_vocabulary", "n_emotion_group", "n_emotion_specific",
)


def comparison_csv(comparison: Comparison) -> pd.DataFrame:
    """The per-model CSV: one row per model pair, its verdict, the pair-level p-values and the counts
    of cells passing each step first, then the comparison-table numbers."""
    table = comparison.table.copy()
    table["alignment_path"] = [str(e.path) if e.path else "" for e in comparison.entries]
    for column in ("readout_flags", "fit_flags"):  # the records are in the report; the CSV counts them
        if column in table:
            table[column] = [None if flags is None else len(flags) for flags in table[column]]
    first = [c for c in CSV_FIRST if c in table]
    for column in ("n_correspondence", "n_beyond_vocabulary", "n_emotion_group", "n_emotion_specific"):
        if column in table:
            table[column] = table[column].astype("Int64")
    return table[first + [c for c in table.columns if c not in first]]
