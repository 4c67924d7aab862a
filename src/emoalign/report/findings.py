"""The report's "Key findings" and "Next steps" (the original's 主要な知見 and 今後のステップ), derived
from the results: every statement is a template key of :mod:`emoalign.report.i18n` with the pairs
and numbers it rests on, so a finding appears only when the numbers support it and a step only when
a result calls for it. Pure: a :class:`~emoalign.report.compare.Comparison` in, statements out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emoalign.analysis.verdict import (
    BEYOND_VOCABULARY,
    NO_CORRESPONDENCE,
    VOCABULARY_ONLY,
)
from emoalign.report.checks import AFTER_THRESHOLD, RELIABLE, few_cells_beyond
from emoalign.report.compare import PLANTED_TWIN, Comparison, ModelEntry, depth_region
from emoalign.report.document import md
from emoalign.report.marks import FAIL, WARN


@dataclass(frozen=True)
class Statement:
    """One finding or step: an i18n template key, the labels of the pairs it is about, and numbers."""

    key: str
    labels: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)


def studied(comparison: Comparison) -> list[ModelEntry]:
    """The pairs under study: every entry that is not a control (untrained target, random-weight pair,
    planted twin: ``config["control"]``), which the findings report on their own."""
    return [e for e in comparison.entries if not e.result.config.get("control")]


def _labels(entries: Sequence[ModelEntry]) -> tuple[str, ...]:
    return tuple(e.label for e in entries)


def _verdict(entry: ModelEntry) -> str:
    return str(entry.summary.get("verdict"))


def _tested(entry: ModelEntry) -> bool:
    """The pair went through the random-copy baseline (step b has an answer)."""
    return entry.summary.get("beyond_vocabulary") is not None


def _low_reliability(entry: ModelEntry) -> bool:
    values = [entry.summary.get(k, float("nan")) for k in ("mean_reliability_source", "mean_reliability_target")]
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    return bool(finite) and min(finite) < RELIABLE


def findings_generality(comparison: Comparison) -> list[Statement]:
    """Which pairs share structure beyond vocabulary, which do not, and which have no verdict."""
    entries = studied(comparison)
    if not entries:
        return []
    beyond = [e for e in entries if _verdict(e) == BEYOND_VOCABULARY]
    below = [e for e in entries if _verdict(e) == VOCABULARY_ONLY]
    no_corr = [e for e in entries if _verdict(e) == NO_CORRESPONDENCE]
    untested = [e for e in entries if not _tested(e) and _verdict(e) != NO_CORRESPONDENCE]
    out = []
    few = [e for e in beyond if few_cells_beyond(e.summary)]
    if any(_tested(e) for e in entries):
        params: dict[str, Any] = {"n": len(beyond), "total": len(entries)}
        if few:
            params["few"] = ", ".join(f"**{md(e.label)}**" for e in few)
        out.append(Statement("find_beyond_few" if few else "find_beyond", _labels(beyond), params) if beyond
                   else Statement("find_beyond_none", (), {"total": len(entries)}))
    if below:
        out.append(Statement("find_not_beyond", _labels(below), {"n": len(below), "total": len(entries)}))
    if no_corr:
        out.append(Statement("find_no_corr", _labels(no_corr), {"n": len(no_corr), "total": len(entries)}))
    if untested:
        out.append(Statement("find_untested", _labels(untested), {"n": len(untested), "total": len(entries)}))
    return out


def findings_original(comparison: Comparison) -> list[Statement]:
    """The original study's criterion (mean after ≥ 0.1) against the random-copy baseline."""
    entries = studied(comparison)
    if not entries:
        return []
    met = [e for e in entries if e.summary["mean_after"] >= AFTER_THRESHOLD]
    judged = [e for e in met if _tested(e)]
    rejected = [e for e in judged if _verdict(e) != BEYOND_VOCABULARY]
    params = {"n_met": len(met), "total": len(entries), "n_rejected": len(rejected), "threshold": AFTER_THRESHOLD}
    if not met:
        return [Statement("find_original_none", (), params)]
    if not judged:
        return [Statement("find_original_unjudged", _labels(met), params)]
    if rejected:
        return [Statement("find_original_rejected", _labels(rejected), params)]
    return [Statement("find_original_confirmed", _labels(judged), params)]


def findings_emotion(comparison: Comparison) -> list[Statement]:
    """Whether any pair has emotion-specific cells (all three steps)."""
    current = [e for e in studied(comparison) if e.summary.get("n_emotion_specific") is not None]
    if not current:
        return []
    specific = [e for e in current if e.summary["n_emotion_specific"]]
    if not specific:
        return [Statement("find_specific_none", (), {"total": len(current)})]
    cells = sum(int(e.summary["n_emotion_specific"]) for e in specific)
    n_cells = sum(int(e.summary["n_cells"]) for e in specific)
    return [Statement("find_specific", _labels(specific), {"n_specific": cells, "n_cells": n_cells})]


def findings_layers(comparison: Comparison) -> list[Statement]:
    """Where each pair's improvement is largest (relative depth of the target layer)."""
    out = []
    for entry in studied(comparison):
        s = entry.summary
        if not np.isfinite(s["max_delta"]) or s["max_delta"] <= 0:
            out.append(Statement("find_layers_none", (entry.label,), {}))
            continue
        out.append(Statement("find_layers", (entry.label,), {
            "region": depth_region(s["max_delta_rel_depth"]), "layer": s["max_delta_target_layer"],
            "depth": s["max_delta_rel_depth"], "max_delta": s["max_delta"], "peak_layers": s["peak_layers"]}))
    return out


def findings_static(comparison: Comparison) -> list[Statement]:
    """Per pair, the layers whose overlap goes beyond the lexical floor (the input embeddings' overlap
    and its 95 % CI), or that none does: then what is shared may be static word meaning."""
    out = []
    for entry in studied(comparison):
        s = entry.summary
        if s.get("n_beyond_static") is None:
            continue
        params = {"floor": s["floor_after"], "floor_high": s["floor_ci_high"], "layers": s["static_layers"],
                  "n": s["n_beyond_static"], "n_layers": s["n_layer_pairs"], "best": s["best_layer"],
                  "best_after": s["best_after"]}
        out.append(Statement("find_static" if s["n_beyond_static"] else "find_static_none", (entry.label,), params))
    return out


def _readout_flagged(entry: ModelEntry) -> bool:
    return bool(entry.summary.get("readout_flags"))


def findings_numerics(comparison: Comparison) -> list[Statement]:
    """Non-finite values or skipped layers, unsound readouts, and subspaces too noisy to compare."""
    entries = comparison.entries
    broken = [e for e in entries if not e.numerics.clean]
    out = [Statement("find_numerics_bad", _labels(broken)) if broken else Statement("find_numerics_clean")]
    flagged = [e for e in entries if _readout_flagged(e)]
    if flagged:
        out.append(Statement("find_readout_bad", _labels(flagged)))
    noisy = [e for e in studied(comparison) if _low_reliability(e)]
    if noisy:
        out.append(Statement("find_reliability_low", _labels(noisy), {"threshold": RELIABLE}))
    return out


def findings_controls(comparison: Comparison) -> list[Statement]:
    """Whether each control came out as a control should: a planted twin shares structure beyond
    vocabulary, an untrained target or a random-weight pair does not. A control that misbehaves puts
    the instrument or the baseline in question, and says so."""
    controls = [e for e in comparison.entries if e.result.config.get("control")]
    expected = [e for e in controls
                if (_verdict(e) == BEYOND_VOCABULARY) == (e.result.config["control"] == PLANTED_TWIN)]
    unexpected = [e for e in controls if e not in expected]
    out = []
    if expected:
        out.append(Statement("find_controls_expected", _labels(expected), {"n": len(expected), "total": len(controls)}))
    if unexpected:
        out.append(Statement("find_controls_unexpected", _labels(unexpected),
                             {"n": len(unexpected), "total": len(controls)}))
    return out


FINDING_SECTIONS: tuple[tuple[str, Any], ...] = (
    ("h_find_generality", findings_generality),
    ("h_find_original", findings_original),
    ("h_find_emotion", findings_emotion),
    ("h_find_layers", findings_layers),
    ("h_find_static", findings_static),
    ("h_find_numerics", findings_numerics),
    ("h_find_controls", findings_controls),
)


def key_findings(comparison: Comparison) -> list[tuple[str, list[Statement]]]:
    """The findings, grouped under their heading keys (empty groups left out)."""
    groups = [(heading, derive(comparison)) for heading, derive in FINDING_SECTIONS]
    return [(heading, statements) for heading, statements in groups if statements]


def next_steps(comparison: Comparison) -> list[Statement]:
    """What to run next, each step following from a result: missing statistics or baselines first, then
    pairs that failed a step, then what would strengthen the pairs that passed (controls only for
    their numerics)."""
    entries = studied(comparison)
    every = comparison.entries
    schema = {e.label: e.summary.get("schema") for e in entries}
    checks = {e.label: {c.key: c for c in e.checks} for e in entries}
    rules: list[tuple[str, list[ModelEntry], dict[str, Any]]] = [
        ("step_bounded", [e for e in entries if schema[e.label] == "legacy"], {}),
        ("step_old", [e for e in entries if schema[e.label] == "old"], {}),
        ("step_statistics", [e for e in entries if schema[e.label] == "untested"], {}),
        ("step_pairing", [e for e in entries if schema[e.label] == "current" and e.summary["correspondence"] is None],
         {}),
        ("step_baseline", [e for e in entries if schema[e.label] == "current" and e.summary["correspondence"]
                           is not None and not _tested(e)], {}),
        ("step_no_corr", [e for e in entries if _verdict(e) == NO_CORRESPONDENCE], {}),
        ("step_not_beyond", [e for e in entries if _verdict(e) == VOCABULARY_ONLY
                             and not e.result.config.get("control")], {}),
        ("step_reliability", [e for e in entries if _low_reliability(e)], {"threshold": RELIABLE}),
        ("step_numerics", [e for e in every if not e.numerics.clean], {}),
        ("step_readout", [e for e in every if _readout_flagged(e)], {}),
        ("step_static", [e for e in entries if _verdict(e) == BEYOND_VOCABULARY
                         and e.summary.get("n_beyond_static") == 0], {}),
        ("step_control", [e for e in entries if _verdict(e) == BEYOND_VOCABULARY and e.control is None
                          and not e.result.config.get("control")
                          and checks[e.label]["control"].status not in (WARN, FAIL)], {}),
        ("step_control_weak", [e for e in entries if checks[e.label]["control"].status in (WARN, FAIL)], {}),
        ("step_specificity", [e for e in entries if _verdict(e) == BEYOND_VOCABULARY
                              and not e.summary.get("n_emotion_specific")], {}),
        ("step_replicate", [e for e in entries if e.summary.get("n_emotion_specific")], {}),
        ("step_k", [e for e in entries if _verdict(e) == BEYOND_VOCABULARY and not _has_k_profile(e)], {}),
    ]
    steps = [Statement(key, _labels(selected), params) for key, selected, params in rules if selected]
    return steps or [Statement("step_none")]


def _has_k_profile(entry: ModelEntry) -> bool:
    k_profile = getattr(entry.result, "k_profile", None)
    return k_profile is not None and len(k_profile) > 1
