"""Sanity checks of one model pair (pure): the original study's three checks, then the three steps
of the verdict (:mod:`emoalign.analysis.verdict`) — (a) correspondence, (b) beyond vocabulary, which
decides, (c) emotion vs any prompt group, which is context — the reliability of the subspaces, the
untrained control, and the numerics of a result.

A :class:`Check` carries a status and a reason *key* with its parameters;
:mod:`emoalign.report.i18n` turns it into English or Japanese.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from emoalign.analysis.diagnostics import NORM_RATIO_BOUND, PC1_DOMINANCE
from emoalign.core.results import AlignmentResult
from emoalign.report.marks import FAIL, INFO, NA, PASS, WARN

ALPHA = 0.05
AFTER_THRESHOLD = 0.1  # the original study's "after > 0.1"
LARGE_DELTA = 0.05  # the original's "notably large" improvement, as a floor
PEAK_SHARE = 0.25  # a layer stands out when its delta lies within this share of the delta range below the maximum
FLAT_SHARE = 0.25  # a delta range below this share of the largest delta: no layer stands out
NOTABLE_INCREASE = 0.01  # below this, "after" has not increased (the original: Gemma's +0.00005 fails)
CHANCE_FACTOR = 2.0  # "before" within this factor of chance: nothing shared before the map
RELIABLE = 0.5  # Spearman–Brown split-half reliability below this: the subspaces are noisy
STAT_COLUMNS: tuple[str, ...] = ("ci_low", "ci_high", "group_null_p95", "normalised_overlap", "reliability_source",
                                 "reliability_target", "baseline_overlap_bound")
CORE_COLUMNS: tuple[str, ...] = ("mean_overlap_before", "mean_overlap_after", "delta", "overlap_before", "overlap_after")


@dataclass(frozen=True)
class Check:
    """One sanity check of one model pair: ``status`` is pass / warn / fail / n/a; ``reason`` is an
    i18n key formatted with ``params``."""

    key: str
    status: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Numerics:
    """Non-finite values per column, layers extracted but absent from the tables, extraction fallbacks."""

    non_finite: dict[str, int]
    not_computed: dict[str, int]  # statistics columns left NaN (e.g. a reliability that needs more prompts)
    skipped_layers: dict[str, list[int]]
    fallbacks: dict[str, dict[str, int]]
    match_rates: dict[str, dict[str, float]]

    @property
    def clean(self) -> bool:
        return not any(self.non_finite.values()) and not any(self.skipped_layers.values())


def has_column(profile: pd.DataFrame, column: str) -> bool:
    """``column`` is present and holds at least one finite value."""
    return column in profile and bool(np.isfinite(pd.to_numeric(profile[column], errors="coerce")).any())


def format_layers(layers: Sequence[int]) -> str:
    """``[9, 10, 11, 3]`` -> ``3, 9-11``."""
    values = sorted({int(v) for v in layers})
    parts: list[str] = []
    start = prev = None
    for value in values:
        if start is None:
            start = prev = value
        elif value == prev + 1:
            prev = value
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = value
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


# ------------------------------------------------------------------------------------------------
# sanity checks


def _legacy(summary: dict[str, Any], key: str) -> Check | None:
    """Steps of the verdict do not apply to legacy numbers."""
    if summary.get("schema") == "legacy":
        return Check(key, NA, "legacy_no_verdict", {})
    return None


def _count_params(summary: dict[str, Any], key: str) -> dict[str, Any]:
    return {"n": summary.get(key), "n_cells": summary.get("n_cells")}


def check_before_near_zero(profile: pd.DataFrame, summary: dict[str, Any] | None = None) -> Check:
    """The original's check 1, "before ≈ 0", made to say something: the mean 'before' against the chance
    level of the metric (k/d_source bounded; 1/d_source legacy, the expected squared entry of U Vᵀ).
    "≈ 0" is no test when chance is 0.125 (k=8, d=64); within twice chance passes, above it warns
    (the models share coordinates before any map), and without a chance level there is no check."""
    summary = summary or {}
    before = float(profile["before"].mean())
    chance = float(profile["chance"].mean()) if has_column(profile, "chance") else float("nan")
    k = summary.get("n_components")
    if summary.get("metric") == "legacy" and np.isfinite(chance) and k:
        chance = chance / float(k)
    if not np.isfinite(chance) or chance <= 0:
        return Check("before_near_zero", NA, "before_no_chance", {"before": before})
    ratio = before / chance
    params = {"before": before, "chance": chance, "ratio": ratio, "factor": CHANCE_FACTOR}
    if ratio <= CHANCE_FACTOR:
        return Check("before_near_zero", PASS, "before_ok", params)
    return Check("before_near_zero", WARN, "before_high", params)


def check_after_increase(profile: pd.DataFrame, summary: dict[str, Any] | None = None) -> Check:
    """The original's check 2: mean 'after' of the order of 0.1 or more (a warning for a notable
    increase below 0.1). Met without beating the random-weight copies it is only a warning, said so."""
    summary = summary or {}
    before, after = float(profile["before"].mean()), float(profile["after"].mean())
    params = {"after": after, "before": before, "threshold": AFTER_THRESHOLD,
              "bound": summary.get("baseline_overlap_bound", float("nan"))}
    if after >= AFTER_THRESHOLD:
        if summary.get("schema") == "current" and summary.get("beyond_vocabulary") is False:
            return Check("after_increase", WARN, "after_high_not_baseline", params)
        return Check("after_increase", PASS, "after_ok", params)
    if after - before >= NOTABLE_INCREASE:
        return Check("after_increase", WARN, "after_small", params)
    return Check("after_increase", FAIL, "after_none", params)


def standout_layers(profile: pd.DataFrame) -> list[int]:
    """Target layers whose Δ stands out from the other layers: at least :data:`LARGE_DELTA` and within
    :data:`PEAK_SHARE` of the Δ range below the maximum — none when Δ is flat (its range under
    :data:`FLAT_SHARE` of the maximum), so a Δ equal at every layer never calls every layer large."""
    delta = pd.to_numeric(profile["delta"], errors="coerce").to_numpy(dtype=np.float64)
    finite = delta[np.isfinite(delta)]
    if finite.size < 2:
        return []
    top, spread = float(finite.max()), float(finite.max() - finite.min())
    if top < LARGE_DELTA or spread < FLAT_SHARE * top:
        return []
    keep = (delta >= LARGE_DELTA) & (delta >= top - PEAK_SHARE * spread)
    return [int(v) for v in profile.loc[keep, "target_layer"]]


def check_delta_positive(profile: pd.DataFrame) -> Check:
    """The original's check 3, Δ positive everywhere and notably large at some layers, made to say
    something. With the random-weight copies, "large" means the after-map overlap beats the copies' 95 %
    prediction bound at that layer pair (the improvement exceeds what any two models reading the same
    prompts gain); without them, layers whose Δ stands out from the others (:func:`standout_layers`).
    Fails when Δ is not positive somewhere and nowhere large."""
    delta = profile["delta"]
    negative = profile.loc[~(delta > 0), "layer"].tolist()
    top = float(delta.max()) if np.isfinite(delta).any() else float("nan")
    params: dict[str, Any] = {"n_negative": len(negative), "negative_layers": format_layers(negative),
                              "max_delta": top, "min_delta": float(delta.min()), "large": LARGE_DELTA,
                              "n_layers": len(profile)}
    if has_column(profile, "baseline_overlap_bound"):
        above = profile.loc[profile["after"] > profile["baseline_overlap_bound"], "target_layer"].tolist()
        params.update(large_layers=format_layers(above), n_large=len(above))
        if not negative:
            return Check("delta_positive", PASS if above else WARN, "delta_copies_ok" if above else "delta_copies_none",
                         params)
        return Check("delta_positive", WARN if above else FAIL, "delta_copies_negative", params)
    large = standout_layers(profile)
    params.update(large_layers=format_layers(large), n_large=len(large))
    flat = bool(top >= LARGE_DELTA) and not large
    if not negative and large:
        return Check("delta_positive", PASS, "delta_ok", params)
    if not negative and flat:
        return Check("delta_positive", PASS, "delta_flat", params)
    if negative and not (large or flat):
        return Check("delta_positive", FAIL, "delta_bad", params)
    return Check("delta_positive", WARN, "delta_negative" if negative else "delta_small", params)


def check_correspondence(summary: dict[str, Any]) -> Check:
    """Step (a): the map beats maps fitted on shuffled pairs (pairing null), for the pair and per cell."""
    legacy = _legacy(summary, "correspondence")
    if legacy is not None:
        return legacy
    params = {**_count_params(summary, "n_correspondence"), "p": summary.get("p_pairing", float("nan")),
              "alpha": summary.get("alpha", ALPHA)}
    pair = summary.get("correspondence")
    if pair is None:
        if params["n"] is None:
            return Check("correspondence", NA, "no_pairing", {})
        n, total = params["n"], params["n_cells"]
        status = PASS if n == total else WARN if n > 0 else FAIL
        return Check("correspondence", status, f"corr_cells_{status}", params)
    if pair:
        return Check("correspondence", PASS, "corr_pass", params)
    return Check("correspondence", FAIL, "corr_fail", params)


def check_beyond_vocabulary(summary: dict[str, Any]) -> Check:
    """Step (b), which decides: the pair's mean overlap AND mean specificity beat random-weight copies
    of both models reading the same prompts (one-sided 95 % prediction bound)."""
    legacy = _legacy(summary, "beyond_vocabulary")
    if legacy is not None:
        return legacy
    if summary.get("schema") == "old":
        return Check("beyond_vocabulary", NA, "no_baseline_old", {})
    pair = summary.get("beyond_vocabulary")
    if pair is None and summary.get("n_baseline_copies") and summary.get("correspondence") is None:
        return Check("beyond_vocabulary", NA, "beyond_untested", {"n_copies": summary.get("n_baseline_copies")})
    if pair is None:
        return Check("beyond_vocabulary", NA, "no_baseline", {})
    params = {**_count_params(summary, "n_beyond_vocabulary"), "p": summary.get("p_baseline"),
              "after": summary.get("mean_after"),
              "bound": summary.get("baseline_overlap_bound"), "copies_mean": summary.get("baseline_overlap_mean"),
              "specificity": summary.get("mean_specificity"),
              "specificity_bound": summary.get("baseline_specificity_bound"),
              "n_copies": summary.get("n_baseline_copies")}
    if pair and few_cells_beyond(summary):
        return Check("beyond_vocabulary", WARN, "beyond_pass_few_cells", params)
    if pair:
        return Check("beyond_vocabulary", PASS, "beyond_pass", params)
    return Check("beyond_vocabulary", FAIL, "beyond_fail", params)


def few_cells_beyond(summary: dict[str, Any]) -> bool:
    """A pair-level "beyond vocabulary" carried by fewer than half of its cells: the pair mean passes
    while most cells, tested on their own, do not."""
    n, total = summary.get("n_beyond_vocabulary"), summary.get("n_cells")
    return n is not None and bool(total) and n < total / 2


def check_readout(summary: dict[str, Any]) -> Check:
    """Are the readouts sound? No emotion subspace may be one direction (first principal component
    >= 0.9 of the variance) and no emotion vector an outlier (> 10x the median norm): the signature of
    a readout on the attention sink. Outlying map-fit pairs are left out of the fit (said, not failed)."""
    flags = summary.get("readout_flags")
    if flags is None:
        return Check("readout", NA, "readout_unknown", {})
    fit = summary.get("fit_flags") or []
    params = {"source_pc1": summary.get("source_pc1_max"), "target_pc1": summary.get("target_pc1_max"),
              "bound": PC1_DOMINANCE, "ratio": NORM_RATIO_BOUND, "n": len(flags),
              "fit": "; ".join(f"{f['role']} {f['layer']} ({f['n_dropped']})" for f in fit)}  # "": none
    if not flags:
        return Check("readout", PASS, "readout_ok" if fit else "readout_ok_no_fit", params)
    where = "; ".join(f"{f['role']} {f['layer']} {f['emotion']} ({f['pc1']:.3f}, {len(f['outlying_prompts'])})"
                      for f in flags[:4]) + (f"; +{len(flags) - 4}" if len(flags) > 4 else "")
    return Check("readout", WARN, "readout_flagged", {**params, "where": where})


def check_static_meaning(summary: dict[str, Any]) -> Check:
    """Does any layer go beyond static word meaning: its mean overlap above the 95 % interval of the
    input-embedding pair (the lexical floor)?"""
    if summary.get("n_beyond_static") is None:
        return Check("static_meaning", NA, "static_no_floor", {})
    params = {"floor": summary.get("floor_after"), "floor_low": summary.get("floor_ci_low"),
              "floor_high": summary.get("floor_ci_high"), "floor_k": summary.get("floor_k"),
              "layers": summary.get("static_layers"), "n": summary.get("n_beyond_static"),
              "n_layers": summary.get("n_layer_pairs"), "best": summary.get("best_layer"),
              "best_after": summary.get("best_after")}
    if summary["n_beyond_static"] > 0:
        return Check("static_meaning", PASS, "static_beyond", params)
    return Check("static_meaning", INFO, "static_none", params)


def check_emotion_group(summary: dict[str, Any]) -> Check:
    """Step (c), context: the emotion grouping against random prompt groups relabelled identically in
    both models. A planted twin shares every grouping and fails it by design."""
    legacy = _legacy(summary, "emotion_group")
    if legacy is not None:
        return legacy
    if summary.get("n_emotion_group") is None:
        return Check("emotion_group", NA, "no_emotion_null", {})
    params = {"n": summary["n_emotion_group"], "n_specific": summary.get("n_emotion_specific") or 0,
              "n_cells": summary.get("n_cells")}
    if params["n_specific"] == params["n_cells"]:
        return Check("emotion_group", PASS, "emotion_all", params)
    if params["n_specific"] > 0:
        return Check("emotion_group", WARN, "emotion_some", params)
    return Check("emotion_group", INFO, "emotion_none", params)


def check_reliability(summary: dict[str, Any]) -> Check:
    """How well each model's subspaces reproduce across prompt halves (Spearman–Brown), and the
    normalised overlap: the cross-model overlap of halves over the models' own split-half overlaps."""
    legacy = _legacy(summary, "reliability")
    if legacy is not None:
        return legacy
    if not np.isfinite(summary.get("mean_normalised_overlap", float("nan"))):
        return Check("reliability", NA, "no_reliability_old" if summary.get("schema") == "old" else "no_reliability",
                     {})
    params = {"normalised": summary["mean_normalised_overlap"], "rel_source": summary.get("mean_reliability_source"),
              "rel_target": summary.get("mean_reliability_target"), "threshold": RELIABLE}
    rels = [r for r in (params["rel_source"], params["rel_target"]) if r is not None and np.isfinite(r)]
    if rels and min(rels) >= RELIABLE:
        return Check("reliability", PASS, "reliability_ok", params)
    return Check("reliability", WARN, "reliability_low", params)


def _beyond_share(summary: dict[str, Any]) -> float | None:
    n, total = summary.get("n_beyond_vocabulary"), summary.get("n_cells")
    return n / total if n is not None and total else None


def check_control(summary: dict[str, Any], control: dict[str, Any] | None, control_label: str | None) -> Check:
    """Trained vs untrained control: the trained pair must beat its control."""
    if summary.get("control"):
        return Check("control", NA, "control_is_control", {})
    if control is None:
        return Check("control", NA, "no_control", {})
    gain = summary["mean_after"] - control["mean_after"]
    params = {"after": summary["mean_after"], "control_after": control["mean_after"], "gain": gain,
              "control": control_label}
    share, share_control = _beyond_share(summary), _beyond_share(control)
    if share is not None and share_control is not None:
        params.update(fraction=share, control_fraction=share_control)
        better = share > share_control
    else:
        better = gain > 0
    if gain > 0 and better:
        return Check("control", PASS, "control_ok", params)
    if gain <= 0 and not better:
        return Check("control", FAIL, "control_bad", params)
    return Check("control", WARN, "control_mixed", params)


def overall_check(checks: Sequence[Check], summary: dict[str, Any] | None = None) -> Check:
    """Conclusion of the checks section. Step (b) (beyond vocabulary) decides; without it the
    original's checks can at best warn; legacy numbers carry no verdict."""
    summary = summary or {}
    by_key = {c.key: c for c in checks}
    after, delta = by_key["after_increase"], by_key["delta_positive"]
    corr, beyond = by_key["correspondence"], by_key["beyond_vocabulary"]
    original_fail = after.status == FAIL or delta.status == FAIL
    params = {**beyond.params, **{f"corr_{k}": v for k, v in corr.params.items()},
              "after": after.params["after"], "threshold": AFTER_THRESHOLD, "verdict": summary.get("verdict"),
              "n_specific": summary.get("n_emotion_specific"), "n_cells": summary.get("n_cells"),
              "p_pairing": summary.get("p_pairing"), "p_baseline": summary.get("p_baseline")}
    schema = summary.get("schema")
    if schema == "legacy":
        n_pass = sum(by_key[k].status == PASS for k in ("before_near_zero", "after_increase", "delta_positive"))
        return Check("overall", NA, "overall_legacy", {**params, "n_pass": n_pass})
    if schema == "old":
        return Check("overall", FAIL if original_fail else WARN, "overall_old_schema", params)
    if beyond.status == NA:
        if corr.status == PASS:
            return Check("overall", WARN, "overall_no_baseline", params)
        if corr.status == FAIL:
            return Check("overall", FAIL, "overall_no_correspondence", params)
        if original_fail:
            return Check("overall", FAIL, "overall_original_fail", params)
        if schema == "current":  # statistics, but no pairing null: no verdict
            return Check("overall", WARN, "overall_no_pairing", params)
        return Check("overall", WARN, "overall_untested", params)
    if beyond.status == PASS and corr.status == PASS:
        control = by_key.get("control")
        if control is not None and control.status in (WARN, FAIL):
            return Check("overall", WARN, "overall_control_weak", {**params, **control.params})
        return Check("overall", PASS, "overall_beyond", params)
    if beyond.status == PASS:  # beats the copies, but the map carries no correspondence
        return Check("overall", FAIL, "overall_no_correspondence", params)
    reason = "overall_original_not_baseline" if after.params["after"] >= AFTER_THRESHOLD else "overall_not_beyond"
    return Check("overall", FAIL, reason + ("_no_corr" if corr.status == FAIL else ""), params)


def sanity_checks(
    profile: pd.DataFrame, summary: dict[str, Any], alpha: float = ALPHA,
    control: dict[str, Any] | None = None, control_label: str | None = None,
) -> list[Check]:
    """The original's three checks, the three verdict steps, reliability and the control
    (n/a where the artifact lacks what a check needs)."""
    summary = {**summary, "alpha": alpha}
    return [
        check_before_near_zero(profile, summary),
        check_after_increase(profile, summary),
        check_delta_positive(profile),
        check_correspondence(summary),
        check_beyond_vocabulary(summary),
        check_emotion_group(summary),
        check_reliability(summary),
        check_control(summary, control, control_label),
        check_readout(summary),
        check_static_meaning(summary),
    ]


# ------------------------------------------------------------------------------------------------
# numerics


def numerics(result: AlignmentResult) -> Numerics:
    """Non-finite overlaps, statistics left uncomputed, and layers extracted but absent from the tables."""
    def count(frame: pd.DataFrame, column: str) -> int:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        return int((~np.isfinite(values)).sum())

    non_finite: dict[str, int] = {}
    for frame in (result.layers, result.cells):
        for column in CORE_COLUMNS:
            if column in frame:
                non_finite[column] = non_finite.get(column, 0) + count(frame, column)
    not_computed = {c: count(result.cells, c) for c in STAT_COLUMNS if c in result.cells}
    skipped: dict[str, list[int]] = {}
    for role, column in (("source", "layer"), ("target", "target_layer")):
        extracted = result.extraction.get(role, {}).get("layers") or []
        present = set(result.layers[column].astype(int)) if column in result.layers else set()
        if column in result.floor_layer:  # the input embeddings (layer -1): in the lexical floor's row
            present |= set(result.floor_layer[column].astype(int))
        skipped[role] = sorted(int(x) for x in set(extracted) - present)
    return Numerics(
        non_finite=non_finite,
        not_computed={c: n for c, n in not_computed.items() if n},
        skipped_layers=skipped,
        fallbacks={role: dict(info.get("fallbacks", {})) for role, info in result.extraction.items()},
        match_rates={role: dict(info.get("match_rates", {})) for role, info in result.extraction.items()},
    )
