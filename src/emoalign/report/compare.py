"""Comparison of several alignment results (pure): per-layer profiles, the comparison table,
where the largest improvements sit, k-sweeps and controls; the checks live in
:mod:`emoalign.report.checks`. Nothing here renders text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.errors import EmoalignError
from emoalign.report.checks import (
    ALPHA,
    STAT_COLUMNS,
    Check,
    Numerics,
    format_layers,
    has_column,
    numerics,
    overall_check,
    sanity_checks,
)
from emoalign.results import AlignmentResult, load

REGIONS: tuple[str, ...] = ("lower", "middle", "upper")
CONTROL_SUFFIX = "-untrained"


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
    """Load an alignment artifact; anything else is an error naming the file."""
    loaded = load(path)
    if not isinstance(loaded, AlignmentResult):
        what = type(loaded).__name__ if not isinstance(loaded, dict) else loaded["metadata"].get("kind")
        raise EmoalignError(f"{path}: not an alignment artifact (it holds {what}); pass the files under alignment/")
    return loaded


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


def cell_q_values(result: AlignmentResult) -> np.ndarray | None:
    """Per-cell q-values of the label null: ``q_label``, else BH of ``p_label``, else from ``verdict``
    strings (0 = specific, 1 = not); None when the artifact carries no label-null test."""
    cells = result.cells
    if "q_label" in cells:
        return cells["q_label"].to_numpy(dtype=np.float64)
    if "p_label" in cells:
        from emoalign.analysis.stats import benjamini_hochberg

        return benjamini_hochberg(cells["p_label"].to_numpy(dtype=np.float64))
    if "verdict" in cells:
        verdicts = cells["verdict"].astype(str)
        return np.where(
            verdicts == "emotion-specific", 0.0, np.where(verdicts == "not distinguishable from null", 1.0, np.nan)
        )
    return None


def layer_profile(result: AlignmentResult) -> pd.DataFrame:
    """One row per layer pair: before / after / Δ (the report's metric), the bounded after, chance,
    specificity, relative target depth and, when present, null mean / p95, CI, ceiling and the
    number of emotion-specific cells."""
    layers = result.layers
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
    cells = result.cells.copy()
    if "target_layer" not in cells:
        cells["target_layer"] = cells["layer"]
    q = cell_q_values(result)
    alpha = alpha_of(result)
    if q is not None:
        cells["_tested"] = np.isfinite(q).astype(int)
        cells["_specific"] = (np.nan_to_num(q, nan=1.0) < alpha).astype(int)
    grouped = cells.groupby(keys, sort=False)
    extra = pd.DataFrame(index=grouped.size().index)
    if "overlap_after" in cells:
        extra["after_bounded"] = grouped["overlap_after"].mean()
    for column in STAT_COLUMNS:
        if column in cells:
            extra[column] = grouped[column].mean()
    if q is not None:
        extra["n_specific"] = grouped["_specific"].sum()
        extra["n_tested"] = grouped["_tested"].sum()
    extra["n_cells"] = grouped.size()
    profile = profile.merge(extra.reset_index(), on=keys, how="left")
    for column in STAT_COLUMNS:  # the layer table's own value wins where the statistics wrote one
        if column in layers:
            profile[column] = layers[column].astype(float).to_numpy()
    if "n_emotion_specific" in layers and "n_specific" not in profile:
        profile["n_specific"] = layers["n_emotion_specific"].to_numpy()
        profile["n_tested"] = profile["n_cells"]
    if "verdict" in layers:
        profile["verdict"] = layers["verdict"].astype(str).to_numpy()
    if "after_bounded" not in profile:
        profile["after_bounded"] = profile["after"]
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
    row["mean_null_p95"] = float(profile["null_p95"].mean()) if has_column(profile, "null_p95") else float("nan")
    row["mean_ceiling"] = float(profile["ceiling"].mean()) if has_column(profile, "ceiling") else float("nan")
    if "n_specific" in profile:
        row["n_specific"] = int(profile["n_specific"].sum())
        row["n_tested"] = int(profile["n_tested"].sum())
    else:
        row["n_specific"] = row["n_tested"] = 0
    return row


# ------------------------------------------------------------------------------------------------
# the comparison


SETTING_KEYS: tuple[str, ...] = (
    "n_components", "map_method", "fit_data", "metric", "reference", "layer_match", "seed", "emotions",
)
STAT_SETTING_KEYS: tuple[str, ...] = ("n_permutations", "n_bootstrap", "n_pairing_permutations", "alpha")


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
    labels = model_labels(results)
    profiles = [layer_profile(r) for r in results]
    summaries = [pair_summary(r, p, label) for r, p, label in zip(results, profiles, labels)]
    controls = [_find_control(i, results) for i in range(len(results))]
    entries: list[ModelEntry] = []
    for i, result in enumerate(results):
        j = controls[i]
        checks = sanity_checks(
            profiles[i], summaries[i], alpha_of(result),
            summaries[j] if j is not None else None, labels[j] if j is not None else None,
        )
        overall = overall_check(checks)
        summaries[i]["verdict"] = overall.status
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


def k_sweep_table(comparison: Comparison, group: Sequence[int]) -> pd.DataFrame:
    """Mean before / after / null p95 / chance against k for one k-sweep group."""
    rows = []
    for i in group:
        entry = comparison.entries[i]
        rows.append({
            "k": int(entry.result.config["n_components"]),
            "mean_before": entry.summary["mean_before"],
            "mean_after": entry.summary["mean_after"],
            "mean_null_p95": entry.summary["mean_null_p95"],
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


def comparison_csv(comparison: Comparison) -> pd.DataFrame:
    """The per-model CSV: one row per model pair with the comparison-table numbers."""
    table = comparison.table.copy()
    table["alignment_path"] = [str(e.path) if e.path else "" for e in comparison.entries]
    return table
