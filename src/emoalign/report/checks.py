"""Sanity checks of one model pair (pure): the original study's three checks, the null-based ones,
the verdict that the label null governs, and the numerics of a result.

A :class:`Check` carries a status and a reason *key* with its parameters;
:mod:`emoalign.report.i18n` turns it into English or Japanese.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from emoalign.results import AlignmentResult

PASS, WARN, FAIL, NA = "pass", "warn", "fail", "n/a"
ICONS: dict[str, str] = {PASS: "✅", WARN: "⚠️", FAIL: "❌", NA: "—"}
ALPHA = 0.05
AFTER_THRESHOLD = 0.1  # the original study's "after > 0.1"
LARGE_DELTA = 0.05  # "notably large" improvement at some layer
NOTABLE_INCREASE = 0.01  # below this, "after" has not increased (the original: Gemma's +0.00005 is ❌)
STAT_COLUMNS: tuple[str, ...] = ("null_mean", "null_p95", "ci_low", "ci_high", "ceiling")
CORE_COLUMNS: tuple[str, ...] = ("mean_overlap_before", "mean_overlap_after", "delta", "overlap_before", "overlap_after")


@dataclass(frozen=True)
class Check:
    """One sanity check of one model pair: ``status`` is pass / warn / fail / n/a; ``reason`` is an
    i18n key formatted with ``params``."""

    key: str
    status: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def icon(self) -> str:
        return ICONS[self.status]


@dataclass(frozen=True)
class Numerics:
    """Non-finite values per column, layers extracted but absent from the tables, extraction fallbacks."""

    non_finite: dict[str, int]
    not_computed: dict[str, int]  # statistics columns left NaN (e.g. a ceiling that needs more prompts)
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


def check_before_near_zero(profile: pd.DataFrame) -> Check:
    """The original's check 1: mean 'before' ≈ 0 (here: at most max(0.05, 2 × chance))."""
    before = float(profile["before"].mean())
    chance = float(profile["chance"].mean()) if has_column(profile, "chance") else 0.0
    limit = max(0.05, 2 * chance)
    if before <= limit:
        return Check("before_near_zero", PASS, "before_ok", {"before": before, "limit": limit})
    return Check("before_near_zero", WARN, "before_high", {"before": before, "limit": limit})


def check_after_increase(profile: pd.DataFrame, null_beaten: bool | None) -> Check:
    """The original's check 2: mean 'after' of the order of 0.1 or more (⚠️ for a notable increase
    below 0.1). Met without beating the label null (``null_beaten is False``) it is only a warning,
    said so explicitly."""
    before, after = float(profile["before"].mean()), float(profile["after"].mean())
    params = {"after": after, "before": before, "threshold": AFTER_THRESHOLD}
    if "null_p95" in profile:
        params["null_p95"] = float(profile["null_p95"].mean())
    if after >= AFTER_THRESHOLD:
        if null_beaten is False:
            return Check("after_increase", WARN, "after_high_not_null", params)
        return Check("after_increase", PASS, "after_ok", params)
    if after - before >= NOTABLE_INCREASE:
        return Check("after_increase", WARN, "after_small", params)
    return Check("after_increase", FAIL, "after_none", params)


def check_delta_positive(profile: pd.DataFrame) -> Check:
    """The original's check 3: Δ positive everywhere and notably large (≥ 0.05) at some layers."""
    delta = profile["delta"]
    negative = profile.loc[~(delta > 0), "layer"].tolist()
    top = float(delta.max()) if np.isfinite(delta).any() else float("nan")
    large = profile.loc[delta >= max(LARGE_DELTA, 0.5 * top), "target_layer"].tolist() if top >= LARGE_DELTA else []
    params = {"n_negative": len(negative), "negative_layers": format_layers(negative), "max_delta": top,
              "large_layers": format_layers(large), "large": LARGE_DELTA}
    if not negative and large:
        return Check("delta_positive", PASS, "delta_ok", params)
    if negative and not large:
        return Check("delta_positive", FAIL, "delta_bad", params)
    return Check("delta_positive", WARN, "delta_negative" if negative else "delta_small", params)


def check_above_null(profile: pd.DataFrame) -> Check:
    """After (bounded) above the label null's 95th percentile, per layer pair."""
    if not has_column(profile, "null_p95"):
        return Check("above_null", NA, "no_null", {})
    above = profile["after_bounded"] > profile["null_p95"]
    params = {"n_above": int(above.sum()), "n": int(len(profile)), "after": float(profile["after_bounded"].mean()),
              "null_p95": float(profile["null_p95"].mean())}
    status = PASS if above.all() else WARN if above.any() else FAIL
    return Check("above_null", status, f"above_null_{status}", params)


def check_label_null(profile: pd.DataFrame, alpha: float) -> Check:
    """Fraction of cells emotion-specific at q < alpha (label-permutation null, BH over cells)."""
    if "n_specific" not in profile or int(profile["n_tested"].sum()) == 0:
        return Check("label_null", NA, "no_null", {})
    n, tested = int(profile["n_specific"].sum()), int(profile["n_tested"].sum())
    params = {"n_specific": n, "n_tested": tested, "fraction": n / tested, "alpha": alpha}
    status = PASS if n == tested else WARN if n > 0 else FAIL
    return Check("label_null", status, f"label_null_{status}", params)


def check_specificity(profile: pd.DataFrame) -> Check:
    """Same-emotion overlap above the mean overlap with the other emotions."""
    if not has_column(profile, "specificity"):
        return Check("specificity", NA, "no_specificity", {})
    spec = profile["specificity"]
    params = {"mean": float(spec.mean()), "n_positive": int((spec > 0).sum()), "n": int(len(spec))}
    if (spec > 0).all():
        return Check("specificity", PASS, "specificity_ok", params)
    return Check("specificity", WARN if spec.mean() > 0 else FAIL, "specificity_some", params)


def check_ceiling(profile: pd.DataFrame) -> Check:
    """After relative to the split-half noise ceiling (how high any cross-model overlap can get)."""
    if not has_column(profile, "ceiling"):
        return Check("ceiling", NA, "no_ceiling", {})
    after, ceiling = float(profile["after_bounded"].mean()), float(profile["ceiling"].mean())
    ratio = after / ceiling if ceiling > 0 else float("nan")
    params = {"after": after, "ceiling": ceiling, "ratio": ratio}
    if np.isfinite(ratio) and ratio >= 0.5:
        return Check("ceiling", PASS, "ceiling_ok", params)
    return Check("ceiling", WARN, "ceiling_low", params)


def check_control(summary: dict[str, Any], control: dict[str, Any] | None, control_label: str | None) -> Check:
    """Trained vs untrained control: the trained pair must beat its control."""
    if summary.get("control"):
        return Check("control", NA, "control_is_control", {})
    if control is None:
        return Check("control", NA, "no_control", {})
    gain = summary["mean_after"] - control["mean_after"]
    params = {"after": summary["mean_after"], "control_after": control["mean_after"], "gain": gain,
              "control": control_label}
    with_null = summary["n_tested"] > 0 and control["n_tested"] > 0
    if with_null:
        frac = summary["n_specific"] / summary["n_tested"]
        frac_control = control["n_specific"] / control["n_tested"]
        params.update(fraction=frac, control_fraction=frac_control)
        better = frac > frac_control
    else:
        better = gain > 0
    if gain > 0 and better:
        return Check("control", PASS, "control_ok", params)
    if gain <= 0 and not better:
        return Check("control", FAIL, "control_bad", params)
    return Check("control", WARN, "control_mixed", params)


def overall_check(checks: Sequence[Check]) -> Check:
    """Verdict of the checks section. With null-based information the label-null test governs
    (a pair passes only if it passes); without it the original's checks can at best warn."""
    by_key = {c.key: c for c in checks}
    null = by_key["label_null"] if by_key["label_null"].status != NA else by_key["above_null"]
    after, delta = by_key["after_increase"], by_key["delta_positive"]
    original_met = after.params["after"] >= AFTER_THRESHOLD and delta.status != FAIL
    params = dict(null.params)
    params.update(after=after.params["after"], threshold=AFTER_THRESHOLD)
    if null.status == NA:
        if after.status == FAIL or delta.status == FAIL:
            return Check("overall", FAIL, "overall_original_fail", params)
        return Check("overall", WARN, "overall_untested", params)
    control = by_key.get("control")
    if null.status == PASS:
        if control is not None and control.status in (WARN, FAIL):
            return Check("overall", WARN, "overall_control_weak", {**params, **control.params})
        return Check("overall", PASS, f"overall_{null.key}_pass", params)
    if null.status == WARN:
        return Check("overall", WARN, f"overall_{null.key}_partial", params)
    if original_met:
        return Check("overall", FAIL, "overall_original_not_null", params)
    return Check("overall", FAIL, "overall_null_fail", params)


def sanity_checks(
    profile: pd.DataFrame, summary: dict[str, Any], alpha: float = ALPHA,
    control: dict[str, Any] | None = None, control_label: str | None = None,
) -> list[Check]:
    """The original's three checks, then the null-based ones (n/a where the artifact lacks them)."""
    label_null = check_label_null(profile, alpha)
    above_null = check_above_null(profile)
    governing = label_null if label_null.status != NA else above_null
    null_beaten = None if governing.status == NA else governing.status != FAIL
    return [
        check_before_near_zero(profile),
        check_after_increase(profile, null_beaten),
        check_delta_positive(profile),
        above_null,
        label_null,
        check_specificity(profile),
        check_ceiling(profile),
        check_control(summary, control, control_label),
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
        skipped[role] = sorted(int(x) for x in set(extracted) - present)
    return Numerics(
        non_finite=non_finite,
        not_computed={c: n for c, n in not_computed.items() if n},
        skipped_layers=skipped,
        fallbacks={role: dict(info.get("fallbacks", {})) for role, info in result.extraction.items()},
        match_rates={role: dict(info.get("match_rates", {})) for role, info in result.extraction.items()},
    )
