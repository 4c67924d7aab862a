"""The comparative report over several alignment results (the original's phase-8 report, generated):
blocks built from a :class:`~emoalign.report.compare.Comparison`, written as Markdown (+ HTML),
with figures beside it and a per-model CSV. The per-pair report is the same report of one result
(:func:`build_pair_report`), without the sections that compare pairs. Every string comes from the
message catalog (:mod:`emoalign.report.i18n`)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.analysis.verdict import BEYOND_VOCABULARY, LEGACY_NO_VERDICT, NOT_TESTED
from emoalign.core.errors import EmoalignError
from emoalign.core.results import AlignmentResult
from emoalign.core.steering import SteeringResult
from emoalign.core.text import printable
from emoalign.io.paths import safe_component
from emoalign.io.storage import atomic_write, write_text_atomic
from emoalign.report.checks import NA, few_cells_beyond, format_layers, has_column
from emoalign.report.compare import (
    OLD_SCHEMA_NO_VERDICT,
    Comparison,
    ModelEntry,
    alpha_of,
    compare_results,
    comparison_csv,
    depth_region,
    settings_of,
)
from emoalign.report.document import (
    Block,
    Code,
    Heading,
    Image,
    Paragraph,
    bullets,
    code_span,
    md,
    table,
    to_markdown,
)
from emoalign.report.findings import Statement, key_findings, next_steps
from emoalign.report.i18n import Strings, figure_caption, strings
from emoalign.report.marks import FAIL, PASS, WARN, mark


@dataclass
class ReportFiles:
    """What :func:`write_comparative_report` wrote."""

    markdown: Path | None = None
    html: Path | None = None
    csv: Path | None = None
    figures: list[Path] = field(default_factory=list)  # the PNGs (embedded in the reports)
    figure_files: list[Path] = field(default_factory=list)  # every figure file: PNG, SVG and PDF when asked
    figures_skipped: str | None = None


def _formatted(value: Any, spec: str) -> str:
    """``value`` formatted with ``spec``; ``n/a`` for missing / non-finite values."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return format(number, spec) if np.isfinite(number) else "n/a"


def f6(value: Any) -> str:
    """Six decimals."""
    return _formatted(value, ".6f")


def f3(value: Any) -> str:
    """Three decimals."""
    return _formatted(value, ".3f")


def fp(value: Any) -> str:
    """A p-value: three significant digits (a p of 0.0002 must not read 0.000)."""
    return _formatted(value, ".3g")


P_KEYS = ("p", "p_pairing", "p_baseline")


def _number(value: float, key: str = "") -> str:
    """Three decimals from 0.1 up (0.815, 1.000), three significant digits below (0.0999 must not read
    0.100 next to a threshold of 0.1) and for ratios."""
    if not np.isfinite(value):
        return "n/a"
    if key in ("ratio", "threshold", "alpha", "large", "limit", "factor") or abs(value) < 0.1:
        return f"{value:.3g}"
    return f"{value:.3f}"


def _params(params: dict[str, Any]) -> dict[str, Any]:
    """Format the prose templates' parameters: p-values to three significant digits, other floats with
    :func:`_number`, missing values as ``n/a``, text (a label, a readout record) inert in Markdown."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            out[key] = "n/a"
        elif key in P_KEYS:
            out[key] = fp(value)
        elif isinstance(value, (float, np.floating)):
            out[key] = _number(float(value), key)
        elif isinstance(value, str):
            out[key] = md(value)
        else:
            out[key] = value
    return out


def check_text(T: Strings, check) -> str:
    """The reason of one check, in ``T``'s language (verdict words translated)."""
    params = _params(check.params)
    if "verdict" in check.params:
        params["verdict"] = T.verdict(check.params["verdict"])
    if check.params.get("fit") == "":  # the readout check: no map-fit pair was left out
        params["fit"] = T("none")
    return T(check.reason, **params)


def check_line(T: Strings, check) -> str:
    """``[pass] reason`` of one check: its status as a word (:mod:`emoalign.report.marks`), then why."""
    return f"{mark(check.status, T.lang)} {check_text(T, check)}"


def _count(n: Any, total: Any) -> str:
    return "n/a" if n is None or total is None or pd.isna(n) else f"{int(n)}/{int(total)}"


# ------------------------------------------------------------------------------------------------
# sections


def layer_verdict(T: Strings, row: pd.Series, schema: str) -> str:
    """A layer pair's verdict in ``T``'s language, built from its counts of cells (the numbers the
    stored English words were made from): cells beyond vocabulary with the random-copy baseline,
    cells with correspondence without it; a fixed verdict where the artifact has no steps."""
    if schema == "legacy":
        return T.verdict(LEGACY_NO_VERDICT)
    if schema == "old":
        return T.verdict(OLD_SCHEMA_NO_VERDICT)
    if schema == "untested":
        return T.verdict(NOT_TESTED)
    for column, baseline in (("n_beyond_vocabulary", True), ("n_correspondence", False)):
        if column in row and pd.notna(row[column]) and pd.notna(row.get("n_cells")):
            return T.layer_verdict(row[column], row["n_cells"], baseline=baseline)
    if row.get("verdict") == NOT_TESTED:  # statistics without the pairing null: no steps were counted
        return T.verdict(NOT_TESTED)
    return "n/a"


def layer_table_block(T: Strings, entry: ModelEntry) -> Block:
    """The per-layer table of one pair (the lexical floor's ``emb`` row first), in ``T``'s language."""
    p, schema = entry.profile, entry.summary["schema"]
    bounded = schema != "legacy"
    header = [T("col_layer"), T("col_target_layer"), T("col_rel_depth"), T("col_before"), T("col_after"),
              T("col_delta")]
    chance = bounded and has_column(p, "chance")
    copies = bounded and has_column(p, "baseline_overlap_bound")
    ci = bounded and has_column(p, "ci_low") and has_column(p, "ci_high")
    normalised = bounded and has_column(p, "normalised_overlap")
    step_columns = (("n_correspondence", "col_step_a"), ("n_beyond_vocabulary", "col_step_b"),
                    ("n_emotion_group", "col_step_c"), ("n_emotion_specific", "col_step_all"))
    steps = [(column, key) for column, key in step_columns
             if schema == "current" and column in p and p[column].notna().all()]
    header += [T("col_chance")] if chance else []
    header += [T("col_copies_bound")] if copies else []
    header += [T("col_ci")] if ci else []
    header += [T("col_normalised")] if normalised else []
    floor = entry.result.floor_layer if bounded else pd.DataFrame()
    static = not floor.empty and "beyond_static_meaning" in entry.result.layers
    header += [T(key) for _, key in steps] + ([T("col_static")] if static else []) + [T("col_verdict")]
    rows = []
    if not floor.empty:  # the lexical floor: a reference row, no verdict
        f = floor.iloc[0]
        row = ["emb", "emb", "", f6(f["mean_overlap_before"]), f6(f["mean_overlap_after"]), f6(f["delta"])]
        row += [f3(f["chance"])] if chance else []
        row += [""] if copies else []
        row += [f"[{f3(f.get('ci_low'))}, {f3(f.get('ci_high'))}]"] if ci else []
        row += [f3(f.get("normalised_overlap"))] if normalised else []
        row += [""] * len(steps) + ([""] if static else [])
        row.append(T("floor_row", k=int(f["n_components"])))
        rows.append(row)
    beyond_static = entry.result.layers.get("beyond_static_meaning") if static else None
    for i, (_, r) in enumerate(p.iterrows()):
        row = [int(r["layer"]), int(r["target_layer"]), f"{r['rel_depth']:.2f}", f6(r["before"]), f6(r["after"]),
               f"**{f6(r['delta'])}**"]
        row += [f3(r["chance"])] if chance else []
        row += [f3(r["baseline_overlap_bound"])] if copies else []
        row += [f"[{f3(r['ci_low'])}, {f3(r['ci_high'])}]"] if ci else []
        row += [f3(r["normalised_overlap"])] if normalised else []
        row += [_count(r[column], r["n_cells"]) for column, _ in steps]
        if beyond_static is not None:
            flag = beyond_static.iloc[i]
            row.append("n/a" if pd.isna(flag) else T("yes" if flag == 1.0 else "no"))
        row.append(layer_verdict(T, r, schema))
        rows.append(row)
    return table(header, rows)


def pair_verdict_line(T: Strings, entry: ModelEntry) -> str:
    """``**Pair verdict**: words — the pair-level p-values and the counts of cells per step``."""
    s = entry.summary
    details: list[str] = []
    if np.isfinite(s["p_pairing"]):
        details.append(T("detail_pairing", p=fp(s["p_pairing"])))
    if s["schema"] == "current":
        if s["beyond_vocabulary"] is not None:
            details.append(T("detail_baseline", n_copies=s["n_baseline_copies"], p=fp(s["p_baseline"]),
                             copies_mean=f3(s["baseline_overlap_mean"]), bound=f3(s["baseline_overlap_bound"])))
        else:
            details.append(T("detail_no_baseline"))
        if s["n_correspondence"] is not None:
            details.append(T("detail_steps", a=s["n_correspondence"], b=_na(s["n_beyond_vocabulary"]),
                             c=_na(s["n_emotion_group"]), all=_na(s["n_emotion_specific"]), n=s["n_cells"]))
    if s["schema"] == "current" and s["correspondence"] is None:
        details = [T("overall_no_pairing")]
    if not details:
        details.append(T({"legacy": "legacy_no_verdict", "old": "overall_old_schema"}.get(s["schema"],
                                                                                          "overall_untested")))
    return T("pair_verdict", verdict=headline(T, s), details=T("details_join").join(details))


def headline(T: Strings, s: Mapping[str, Any]) -> str:
    """The pair's result in the order a reader must weigh it: whether any cell is emotion-specific,
    then the vocabulary verdict (saying when fewer than half of the cells carry it), then, for a pair
    beyond vocabulary, whether its best layer goes beyond static word meaning, then unsound readouts."""
    parts = []
    n_cells = s.get("n_cells")
    if s.get("schema") == "current" and s.get("n_emotion_specific") is not None:
        key = "head_specific" if s["n_emotion_specific"] else "head_no_specific"
        parts.append(T(key, n=s["n_emotion_specific"], n_cells=n_cells))
    verdict = T.verdict(s["verdict"])
    if s.get("beyond_vocabulary") and s.get("n_beyond_vocabulary") is not None:
        key = "head_beyond_few" if few_cells_beyond(s) else "head_beyond"
        parts.append(T(key, verdict=verdict, n=s["n_beyond_vocabulary"], n_cells=n_cells))
    else:
        parts.append(T("head_verdict", verdict=verdict))
    if s.get("beyond_vocabulary") and s.get("best_beyond_static") is not None:  # moot where (b) fails
        parts.append(T(
            "head_static_beyond" if s["best_beyond_static"] else "head_static_not",
            layer=f"{s['best_layer']}↔{s['best_target_layer']}",
            **_params({"after": s["best_after"], "floor": s["floor_after"], "floor_high": s["floor_ci_high"]}),
        ))
    if s.get("readout_flags"):
        parts.append(T("head_readout", n=len(s["readout_flags"])))
    text = T("head_join").join(parts)
    return text[:1].upper() + text[1:]


def _na(value: Any) -> Any:
    return "n/a" if value is None else value


def schema_note(T: Strings, entry: ModelEntry) -> str | None:
    """What this artifact lacks, in words (None when nothing is missing)."""
    s = entry.summary
    if s["schema"] == "legacy":
        return T("note_legacy")
    if s["schema"] == "old":
        return T("note_old_schema")
    if s["schema"] == "untested":
        return T("note_untested")
    if s["correspondence"] is None:
        return T("note_no_pairing")
    if s["beyond_vocabulary"] is None:
        return T("note_no_baseline")
    return None


def k_profile_block(T: Strings, entry: ModelEntry) -> Block | None:
    """The verdict against k as a table (None without a k profile or for legacy numbers)."""
    k_profile = getattr(entry.result, "k_profile", None)
    if entry.summary["schema"] == "legacy" or not isinstance(k_profile, pd.DataFrame) or k_profile.empty:
        return None
    if "mean_overlap_after" not in k_profile:
        return None
    baseline = has_column(k_profile, "baseline_overlap_bound")
    chosen = entry.result.config.get("n_components")
    header = [T("col_k"), T("col_after"), T("col_mean_specificity")]
    header += [T("col_copies_mean"), T("col_copies_bound"), T("col_share_beyond")] if baseline else []
    rows = []
    for _, r in k_profile.sort_values("k").iterrows():
        k = int(r["k"])
        row = [f"**{k}**" if k == chosen else str(k), f3(r["mean_overlap_after"]), f3(r["mean_specificity"])]
        if baseline:
            share = r["share_beyond_vocabulary"]
            row += [f3(r["baseline_overlap_mean"]), f3(r["baseline_overlap_bound"]),
                    f"{share:.0%}" if np.isfinite(share) else "n/a"]
        rows.append(row)
    return table(header, rows)


def _images(T: Strings, files, folder_name: str) -> list[Block]:
    return [Image(f"{folder_name}/{f.path.name}", figure_caption(T, f.kind, md(f.label), f.params), f.path)
            for f in files]


def section_results(T: Strings, comparison: Comparison, per_model_figures, folder_name: str) -> list[Block]:
    blocks: list[Block] = [Heading(T("h_results", n=len(comparison.entries)))]
    for i, entry in enumerate(comparison.entries, 1):
        s = entry.summary
        blocks.append(Heading(T("h_results_model", i=i, label=md(entry.label)), 3))
        if entry.control_of:
            blocks.append(Paragraph(T("control_note", trained=md(entry.control_of))))
        blocks.append(layer_table_block(T, entry))
        blocks.append(Paragraph(T("mean_improvement", delta=f6(s["mean_delta"]), before=f6(s["mean_before"]),
                                  after=f6(s["mean_after"]))))
        blocks.append(Paragraph(pair_verdict_line(T, entry)))
        note = schema_note(T, entry)
        if note:
            blocks.append(Paragraph(f"{mark(WARN, T.lang)} {note}"))
        k_table = k_profile_block(T, entry)
        if k_table is not None:
            blocks += [Heading(T("h_k_profile", label=md(entry.label)), 4), k_table]
        blocks += _images(T, per_model_figures.get(entry.label, []), folder_name)
    return blocks


def _peak_line(T: Strings, entry: ModelEntry) -> str:
    s = entry.summary
    if s["peak_region"] == "none":
        return f"**{md(entry.label)}**: {T('peak_none')}"
    return f"**{md(entry.label)}**: " + T(
        "peak_line", region=T(f"region_{s['peak_region']}"), layers=s["peak_layers"],
        max_layer=s["max_delta_target_layer"], depth=f"{s['max_delta_rel_depth']:.2f}",
        max_region=T(f"region_{depth_region(s['max_delta_rel_depth'])}"), max_delta=f3(s["max_delta"]),
    )


def section_discussion(T: Strings, comparison: Comparison) -> list[Block]:
    by_key = [{c.key: c for c in e.checks} for e in comparison.entries]
    labels = [md(e.label) for e in comparison.entries]
    blocks: list[Block] = [
        Heading(T("h_discussion", n=len(comparison.entries))),
        Heading(T("h_patterns"), 3),
        Heading(T("h_pattern_original"), 4),
        bullets([f"**{l}**: {check_line(T, c['after_increase'])}" for l, c in zip(labels, by_key)]),
        Heading(T("h_pattern_baseline"), 4),
        bullets([f"**{l}**: {check_line(T, c['beyond_vocabulary'])}" for l, c in zip(labels, by_key)]),
        Heading(T("h_peak_position"), 4),
        Paragraph(T("peak_explain")),
        bullets([_peak_line(T, e) for e in comparison.entries]),
    ]
    controls = [(l, c["control"]) for l, c in zip(labels, by_key) if c["control"].status != NA]
    if controls:
        blocks += [Heading(T("h_control"), 3), bullets([f"**{l}**: {check_line(T, c)}" for l, c in controls])]
    return blocks


CHECK_ORDER: tuple[str, ...] = (
    "before_near_zero", "after_increase", "delta_positive", "correspondence", "beyond_vocabulary", "emotion_group",
    "reliability", "control", "readout", "static_meaning",
)


def section_checks(T: Strings, comparison: Comparison) -> list[Block]:
    blocks: list[Block] = [Heading(T("h_checks")), Paragraph(T("checks_intro")), Heading(T("h_checks_items"), 3)]
    for n, key in enumerate(CHECK_ORDER, 1):
        blocks.append(Heading(f"{n}. {T(f'check_{key}')}", 4))
        lines = []
        for entry in comparison.entries:
            check = next(c for c in entry.checks if c.key == key)
            lines.append(f"**{md(entry.label)}**: {check_line(T, check)}")
        blocks.append(bullets(lines))
    blocks += [Heading(T("h_checks_conclusion"), 3),
               bullets([f"**{md(e.label)}**: {check_line(T, e.overall)}" for e in comparison.entries])]
    return blocks


def _cells_text(s: dict[str, Any], T: Strings | None = None) -> str:
    """``9/9/0/0 of 9``: cells passing (a), (b), (c) and all three."""
    if s["n_correspondence"] is None:
        return "n/a"
    parts = [s["n_correspondence"], s["n_beyond_vocabulary"], s["n_emotion_group"], s["n_emotion_specific"]]
    counts = "/".join("-" if v is None else str(int(v)) for v in parts)
    return (T or strings("en"))("cells_of", counts=counts, n=s["n_cells"])


def quantitative_table(T: Strings, comparison: Comparison) -> Block:
    """Max Δ and its layer, mean Δ, mean before / after, the copies' bound, the pair-level p-values,
    the cells passing each step and the verdict."""
    t = comparison.table
    with_copies = bool(np.isfinite(t["baseline_overlap_bound"]).any())
    with_pairing = bool(np.isfinite(t["p_pairing"]).any())
    with_baseline = bool(np.isfinite(t["p_baseline"]).any())
    with_cells = any(e.summary["n_correspondence"] is not None for e in comparison.entries)
    header = [T("col_model"), T("col_max_delta"), T("col_max_delta_layer"), T("col_max_delta_target_layer"),
              T("col_mean_delta"), T("col_mean_before"), T("col_mean_after")]
    header += [T("col_copies_bound")] if with_copies else []
    header += [T("col_p_pairing")] if with_pairing else []
    header += [T("col_p_baseline")] if with_baseline else []
    header += [T("col_cells")] if with_cells else []
    header += [T("col_verdict")]
    rows = []
    for entry in comparison.entries:
        s = entry.summary
        row = [md(entry.label), f"**{f6(s['max_delta'])}**", s["max_delta_layer"], s["max_delta_target_layer"],
               f"**{f6(s['mean_delta'])}**", f6(s["mean_before"]), f6(s["mean_after"])]
        row += [f3(s["baseline_overlap_bound"])] if with_copies else []
        row += [fp(s["p_pairing"])] if with_pairing else []
        row += [fp(s["p_baseline"])] if with_baseline else []
        row += [_cells_text(s, T)] if with_cells else []
        row += [f"{mark(entry.overall.status, T.lang)} {T.verdict(s['verdict'])}"]
        rows.append(row)
    return table(header, rows)


def section_quantitative(T: Strings, comparison: Comparison, overall_figures, folder_name: str) -> list[Block]:
    blocks: list[Block] = [
        Heading(T("h_quantitative")),
        Heading(T("h_max_delta"), 3),
        quantitative_table(T, comparison),
        Heading(T("h_distribution"), 3),
        bullets([_peak_line(T, e) for e in comparison.entries]),
    ]
    if overall_figures:
        blocks.append(Heading(T("h_figures"), 3))
        blocks += _images(T, overall_figures, folder_name)
    return blocks


def numerics_line(T: Strings, entry: ModelEntry, *, labelled: bool = True) -> str:
    n = entry.numerics
    bad = {k: v for k, v in n.non_finite.items() if v}
    finite = T("numerics_finite") if not bad else T("numerics_nonfinite", detail=", ".join(
        f"{k} {v}" for k, v in bad.items()))
    skipped = {role: layers for role, layers in n.skipped_layers.items() if layers}
    skip = T("numerics_no_skips") if not skipped else T("numerics_skips", detail="; ".join(
        f"{role}: {format_layers(layers)}" for role, layers in skipped.items()))
    icon = mark(PASS if n.clean else FAIL, T.lang)
    fallbacks = "; ".join(
        f"{md(role)}: " + ", ".join(f"{md(label)} {n.match_rates.get(role, {}).get(label, float('nan')):.0%} "
                                f"({count})" for label, count in counts.items())
        for role, counts in n.fallbacks.items()
    )
    join = T("details_join")
    line = (f"**{md(entry.label)}**: " if labelled else "") + f"{icon} {finite}{join}{skip}"
    if n.not_computed:
        line += join + T("numerics_not_computed", detail=", ".join(f"{k} {v}" for k, v in n.not_computed.items()))
    return line + (f"{join}{T('numerics_matches', detail=fallbacks)}" if fallbacks else "")


def statement_text(T: Strings, statement: Statement) -> str:
    """One finding or step in ``T``'s language: the pairs it is about and its numbers filled in."""
    region = statement.params.get("region")
    params = _params({k: v for k, v in statement.params.items() if k != "region"})
    if region is not None:
        params["region"] = T(f"region_{region}")
    if "depth" in statement.params:
        params["depth"] = f"{statement.params['depth']:.2f}"
    if "max_delta" in statement.params:
        params["max_delta"] = f3(statement.params["max_delta"])
    return T(statement.key, pairs=T("pairs_join").join(md(label) for label in statement.labels), **params)


def section_findings(T: Strings, comparison: Comparison) -> list[Block]:
    """Key findings (the original's 主要な知見), each derived from the numbers (:mod:`report.findings`)."""
    blocks: list[Block] = [Heading(T("h_findings"))]
    for heading, statements in key_findings(comparison):
        blocks += [Heading(T(heading), 3), bullets([statement_text(T, st) for st in statements])]
    return blocks


def section_next_steps(T: Strings, comparison: Comparison) -> list[Block]:
    """Next steps (the original's 今後のステップ), each following from a result that failed or passed."""
    return [Heading(T("h_next_steps")), bullets([statement_text(T, st) for st in next_steps(comparison)],
                                                ordered=True)]


def conclusion_line(T: Strings, entry: ModelEntry) -> str:
    """One pair's conclusion: its overall check, the mean overlap before → after, the largest Δ."""
    s = entry.summary
    return T("conclusion_line", label=md(entry.label), icon=mark(entry.overall.status, T.lang),
             text=check_text(T, entry.overall), after=f3(s["mean_after"]), before=f3(s["mean_before"]),
             max_delta=f3(s["max_delta"]), layer=s["max_delta_target_layer"],
             region=T(f"region_{depth_region(s['max_delta_rel_depth'])}"))


def section_conclusion(T: Strings, comparison: Comparison) -> list[Block]:
    lines = [conclusion_line(T, entry) for entry in comparison.entries]
    passed = [e for e in comparison.entries if e.summary["verdict"] == BEYOND_VOCABULARY]
    specific = sum(bool(e.summary["n_emotion_specific"]) for e in passed)
    tested = any(e.summary["beyond_vocabulary"] is not None for e in comparison.entries)
    summary = (T("conclusion_summary", passed=len(passed), n=len(comparison.entries), specific=specific) if tested
               else T("conclusion_untested"))
    return [Heading(T("h_conclusion")), bullets(lines, ordered=True), Paragraph(summary)]


def provenance_line(T: Strings, entry: ModelEntry) -> str:
    prov, r = entry.result.provenance, entry.result
    versions = prov.get("versions") or {}
    versions = (", ".join(f"{md(k)} {md(v)}" for k, v in versions.items()) if isinstance(versions, dict)
                else md(versions))
    return T("provenance_line", label=md(entry.label), date=md(prov.get("date") or "n/a"), versions=versions or "n/a",
             hash=md(r.dataset.get("hash", "n/a")), dataset=md(r.dataset.get("name", "n/a")))


def section_provenance(T: Strings, comparison: Comparison) -> list[Block]:
    lines = [provenance_line(T, entry) for entry in comparison.entries]
    hashes = {e.result.dataset.get("hash") for e in comparison.entries}
    note = T("same_dataset") if len(hashes) == 1 else f"{mark(WARN, T.lang)} {T('different_datasets', n=len(hashes))}"
    return [Heading(T("h_provenance")), bullets(lines), Paragraph(note)]


def _artifact_files(entry: ModelEntry) -> list[str]:
    """The alignment file and, in the study layout, its siblings that exist."""
    if entry.path is None:
        return []
    files = [entry.path]
    if entry.path.parent.name == "alignment":
        root, r = entry.path.parent.parent, entry.result
        pair = r.pair_name
        for model in (r.source["name"], r.target["name"]):
            files += [root / "emotion_vectors" / f"{safe_component(model)}_vectors_token_based.safetensors",
                      root / "emotion_subspaces" / f"{safe_component(model)}_subspaces.safetensors"]
        files.append(root / "statistics" / f"{safe_component(pair)}_alignment_summary.csv")
    return [str(f) for f in dict.fromkeys(files) if f == entry.path or f.exists()]


def section_artifacts(T: Strings, comparison: Comparison, outputs: dict[str, str]) -> list[Block]:
    blocks: list[Block] = [Heading(T("h_artifacts")), Paragraph(T("artifacts_intro"))]
    for entry in comparison.entries:
        files = _artifact_files(entry)
        blocks += [Heading(md(entry.label), 3), bullets([code_span(f) for f in files] or [T("python_api")])]
    if outputs:
        blocks += [Heading(T("h_this_report"), 3), bullets([f"{T(k)}: {code_span(v)}" for k, v in outputs.items()])]
    return blocks


def section_commands(T: Strings, comparison: Comparison, command: str | None) -> list[Block]:
    parts = []
    for entry in comparison.entries:
        # a code block: the label on one line (printable); the block's fence outgrows any backticks in it
        parts.append(f"# {printable(entry.label)}\n{entry.result.provenance.get('command') or '# ' + T('no_command')}")
    if command:
        parts.append(f"# {T('comparative_report')}\n{command}")
    return [Heading(T("h_commands")), Paragraph(T("commands_intro")), Code("\n\n".join(parts))]


def _setting_value(T: Strings, key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if key == "metric" and value in ("bounded", "legacy"):
        return T(f"metric_{value}")
    if key == "emotions":  # user data (labels, names) is inert in Markdown
        return ", ".join(md(label) for label in value or [])
    if key == "statistics" and isinstance(value, dict):
        return ", ".join(f"{md(k)}={md(v)}" for k, v in value.items())
    return md(value)


def section_settings(T: Strings, comparison: Comparison) -> list[Block]:
    common = [f"**{T('set_' + k)}**: {_setting_value(T, k, v)}" for k, v in comparison.common_settings.items()
              if k != "dataset_hash"]
    first = comparison.entries[0].result
    if "dataset" in comparison.common_settings:
        counts = ", ".join(f"{md(k)} {v}" for k, v in first.dataset.get("label_counts", {}).items())
        common.append(f"**{T('set_label_counts')}**: {counts}")
    common.append(f"**{T('set_method')}**: {T('method_text')}")
    per_model = []
    for entry in comparison.entries:
        tgt = entry.result.target
        text = _model_line(T, md(entry.label), tgt)
        own = settings_of(entry.result)
        differing = [f"{T('set_' + k)}: {_setting_value(T, k, own.get(k))}"
                     for k in comparison.differing_settings if k != "dataset_hash"]
        if differing:
            text += " — " + "; ".join(differing)
        if entry.control_of:
            text += " — " + T("control_note", trained=md(entry.control_of))
        per_model.append(text)
    return [Heading(T("h_settings")), Heading(T("h_common_settings"), 3), bullets(common),
            Heading(T("h_model_settings"), 3), bullets(per_model)]


# ------------------------------------------------------------------------------------------------
# the per-pair report: the same blocks for one pair, without the sections that compare pairs

#: names of a study's files (:func:`emoalign.study.pipeline.write_study`) -> their catalog keys
ARTIFACT_KEYS: dict[str, str] = {
    "alignment": "artifact_alignment", "summary CSV": "artifact_summary_csv", "report": "artifact_report",
    "report (ja)": "artifact_report_ja", "MLflow run": "artifact_mlflow",
    "steering": "artifact_steering", "steering CSV": "artifact_steering_csv",
}
#: ``<model> emotion vectors`` and the like: suffix, catalog key, the parameter the prefix fills
ARTIFACT_SUFFIXES: tuple[tuple[str, str, str], ...] = (
    (" emotion vectors", "artifact_vectors", "model"), (" emotion subspaces", "artifact_subspaces", "model"),
    (" config", "artifact_config", "command"),
)


def artifact_label(T: Strings, name: str) -> str:
    """The name of a study file in ``T``'s language (a name the catalog does not know, as given)."""
    if name in ARTIFACT_KEYS:
        return T(ARTIFACT_KEYS[name])
    for suffix, key, param in ARTIFACT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return T(key, **{param: md(name[: -len(suffix)])})
    return md(name)


def section_artifacts_pair(T: Strings, artifacts: Mapping[str, str]) -> list[Block]:
    items = [f"{artifact_label(T, name)}: {code_span(path)}" for name, path in artifacts.items()]
    return [Heading(T("h_artifacts")), Paragraph(T("artifacts_intro_pair")), bullets(items or [T("python_api")])]


def section_command_pair(T: Strings, entry: ModelEntry) -> list[Block]:
    command = entry.result.provenance.get("command")
    return [Heading(T("h_command")), Paragraph(T("command_intro")), Code(command or f"# {T('no_command')}")]


def _model_line(T: Strings, label: str, model: Mapping[str, Any]) -> str:
    """One model's settings (``label`` already Markdown); every value from the artifact made inert."""
    return T("model_setting", label=label, id=md(model.get("id")), model_type=md(model.get("model_type")),
             n_layers=md(model.get("n_layers")), d_model=md(model.get("d_model")), dtype=md(model.get("dtype")),
             device=md(model.get("device")))


def section_settings_pair(T: Strings, comparison: Comparison) -> list[Block]:
    entry = comparison.entries[0]
    r = entry.result
    items = [_model_line(T, T("set_source"), r.source), _model_line(T, T("set_target"), r.target)]
    items += [f"**{T('set_' + k)}**: {_setting_value(T, k, v)}" for k, v in comparison.common_settings.items()
              if k not in ("source", "dataset_hash")]
    counts = ", ".join(f"{md(k)} {v}" for k, v in r.dataset.get("label_counts", {}).items())
    items += [f"**{T('set_label_counts')}**: {counts}", f"**{T('set_method')}**: {T('method_text')}"]
    if entry.control_of:
        items.append(T("control_note", trained=md(entry.control_of)))
    return [Heading(T("h_settings")), bullets(items)]


def section_results_pair(T: Strings, entry: ModelEntry, figures: Sequence, folder_name: str) -> list[Block]:
    s = entry.summary
    blocks: list[Block] = [Heading(T("h_results_pair")), layer_table_block(T, entry),
                           Paragraph(T("mean_improvement", delta=f6(s["mean_delta"]), before=f6(s["mean_before"]),
                                       after=f6(s["mean_after"]))),
                           Paragraph(pair_verdict_line(T, entry))]
    note = schema_note(T, entry)
    if note:
        blocks.append(Paragraph(f"{mark(WARN, T.lang)} {note}"))
    k_table = k_profile_block(T, entry)
    if k_table is not None:
        blocks += [Heading(T("h_k_profile_pair")), k_table]
    if figures:
        blocks += [Heading(T("h_figures")), *_images(T, figures, folder_name)]
    return blocks


def section_checks_pair(T: Strings, entry: ModelEntry) -> list[Block]:
    checks = {c.key: c for c in entry.checks}
    blocks: list[Block] = [Heading(T("h_checks")), Paragraph(T("checks_intro")), Heading(T("h_checks_items"), 3)]
    if checks["control"].reason == "no_control":  # the control is another pair: compared by `emoalign compare`
        checks["control"] = replace(checks["control"], reason="no_control_pair")
    for n, key in enumerate(CHECK_ORDER, 1):
        blocks += [Heading(f"{n}. {T(f'check_{key}')}", 4), bullets([check_line(T, checks[key])])]
    return blocks + [Heading(T("h_checks_conclusion"), 3), bullets([check_line(T, entry.overall)])]


def section_conclusion_pair(T: Strings, entry: ModelEntry) -> list[Block]:
    blocks: list[Block] = [Heading(T("h_conclusion")), Paragraph(conclusion_line(T, entry))]
    if entry.summary["beyond_vocabulary"] is None:
        blocks.append(Paragraph(T("conclusion_untested")))
    return blocks


# ------------------------------------------------------------------------------------------------
# assembly and writing


def build_report(
    comparison: Comparison,
    *,
    lang: str = "en",
    per_model_figures: dict[str, list] | None = None,
    overall_figures: Sequence | None = None,
    folder_name: str = "",
    outputs: dict[str, str] | None = None,
    command: str | None = None,
    figures_note: str | None = None,
    pair: bool = False,
    artifacts: Mapping[str, str] | None = None,
) -> tuple[str, list[Block]]:
    """Title and blocks of the comparative report (no I/O). ``pair``: the per-pair report of a
    comparison of one result, listing ``artifacts`` (name -> path) as its files
    (:func:`build_pair_report`)."""
    if pair:
        return build_pair_report(comparison, lang=lang, figures=(per_model_figures or {}),
                                 folder_name=folder_name, artifacts=artifacts or {}, figures_note=figures_note)
    T = strings(lang)
    sources = sorted({md(e.result.source["name"]) for e in comparison.entries})
    targets = ", ".join(md(e.label) for e in comparison.entries)
    title = T("title", source=", ".join(sources), targets=targets)
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    first = comparison.entries[0].result
    blocks: list[Block] = [
        Heading(title, 1),
        Paragraph(f"_{T('last_updated')}: {date}_"),
        Heading(T("h_purpose")),
        Paragraph(T("purpose", source=", ".join(sources), n=len(comparison.entries), targets=targets,
                    emotions=", ".join(md(e) for e in first.config.get("emotions", [])))),
        Heading(T("h_reading"), 3),
        Paragraph(T("reading")),
        Paragraph(T("table_legend", alpha=alpha_of(first))),
    ]
    blocks += section_artifacts(T, comparison, outputs or {})
    blocks += section_commands(T, comparison, command)
    blocks += section_settings(T, comparison)
    blocks += section_results(T, comparison, per_model_figures or {}, folder_name)
    blocks += section_discussion(T, comparison)
    blocks += section_checks(T, comparison)
    blocks += section_quantitative(T, comparison, list(overall_figures or []), folder_name)
    if figures_note:
        blocks.append(Paragraph(T("figures_skipped", reason=figures_note)))
    blocks += [Heading(T("h_numerics")), bullets([numerics_line(T, e) for e in comparison.entries])]
    blocks += section_findings(T, comparison)
    blocks += section_next_steps(T, comparison)
    blocks += section_conclusion(T, comparison)
    blocks += section_provenance(T, comparison)
    return title, blocks


def build_pair_report(
    comparison: Comparison,
    *,
    lang: str = "en",
    figures: dict[str, list] | None = None,
    folder_name: str = "",
    artifacts: Mapping[str, str] | None = None,
    figures_note: str | None = None,
) -> tuple[str, list[Block]]:
    """Title and blocks of the per-pair report: the comparative report of one result, its sections
    that compare pairs (discussion, quantitative comparison, key findings) left out, its files listed
    from ``artifacts``."""
    if len(comparison.entries) != 1:
        raise EmoalignError(f"a per-pair report is of one result, not {len(comparison.entries)}")
    T = strings(lang)
    entry = comparison.entries[0]
    r = entry.result
    source, target = md(r.source["name"]), md(entry.label)
    title = T("title_pair", source=source, target=target)
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    blocks: list[Block] = [
        Heading(title, 1),
        Paragraph(f"_{T('last_updated')}: {date}_"),
        Heading(T("h_purpose")),
        Paragraph(T("purpose_pair", source=source, target=target,
                    emotions=", ".join(md(e) for e in r.config.get("emotions", [])))),
        Heading(T("h_reading"), 3),
        Paragraph(T("reading")),
        Paragraph(T("table_legend", alpha=alpha_of(r))),
    ]
    blocks += section_artifacts_pair(T, artifacts or {})
    blocks += section_command_pair(T, entry)
    blocks += section_settings_pair(T, comparison)
    blocks += section_results_pair(T, entry, (figures or {}).get(entry.label, []), folder_name)
    if figures_note:
        blocks.append(Paragraph(T("figures_skipped", reason=figures_note)))
    blocks += section_checks_pair(T, entry)
    blocks += [Heading(T("h_numerics")), Paragraph(numerics_line(T, entry, labelled=False))]
    blocks += section_next_steps(T, comparison)
    blocks += section_conclusion_pair(T, entry)
    blocks += [Heading(T("h_provenance")), Paragraph(provenance_line(T, entry))]
    return title, blocks


def write_comparison_csv(comparison: Comparison, path: str | Path) -> Path:
    """One row per model pair with the comparison-table numbers."""
    frame = comparison_csv(comparison)
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_comparative_report(
    results: Sequence[AlignmentResult],
    report: str | Path | None,
    *,
    paths: Sequence[str | Path | None] | None = None,
    lang: str = "en",
    html: bool = False,
    output_csv: str | Path | None = None,
    figures: bool = True,
    command: str | None = None,
    warn=None,
    preface: Sequence[Block] = (),
    figure_formats: Sequence[str] | str = ("png", "svg"),
    pair: bool = False,
    artifacts: Mapping[str, str] | None = None,
    steering: SteeringResult | str | None = None,
) -> tuple[Comparison, ReportFiles]:
    """Compare ``results`` and write the Markdown report (+ HTML, figures, CSV).

    Figures go to ``<report stem>_figures/`` in ``figure_formats`` (PNG always, SVG by default, PDF on
    request), their text in ``lang``; without matplotlib the report is written without them and
    ``warn`` (default: print to stderr) receives one line saying why. ``pair``: the per-pair report
    of one result (:func:`build_pair_report`; its own figures only, its files from ``artifacts``).
    ``steering``: the causal test of the pair, a section at the end of the report (its figure with the
    others when figures are drawn), or the reason it was skipped (one line); None: no section.
    """
    from emoalign.report.plots import parse_figure_formats

    T = strings(lang)  # validates lang and the figure formats before anything is written
    formats = parse_figure_formats(figure_formats)
    if html and report is None:
        raise EmoalignError("--html needs --write-report (the HTML page is written beside the Markdown report)")
    if report is not None and Path(report).suffix.lower() in (".html", ".htm"):
        raise EmoalignError(f"{report}: --write-report takes the Markdown path; add --html for the HTML page")
    comparison = compare_results(results, paths)
    files = ReportFiles()
    if output_csv is not None:
        files.csv = write_comparison_csv(comparison, output_csv)
    if report is None:
        return comparison, files
    report = Path(report)
    per_model: dict[str, list] = {}
    overall: list = []
    folder = None
    if figures:
        from emoalign.report.plots import (
            FigureOptions,
            comparison_figures,
            figure_siblings,
            figures_dir,
            matplotlib_missing,
        )

        files.figures_skipped = matplotlib_missing()
        if files.figures_skipped is None and pair:
            from emoalign.report.plots import pair_figures

            folder = figures_dir(report)
            per_model = {e.label: pair_figures(e.result, folder, label=e.label, profile=e.profile,
                                               opts=FigureOptions(T.lang, formats)) for e in comparison.entries}
            files.figures = [f.path for fs in per_model.values() for f in fs]
            files.figure_files = [p for png in files.figures for p in figure_siblings(png, formats)]
        elif files.figures_skipped is None:
            folder = figures_dir(report)
            per_model, overall = comparison_figures(comparison, folder, opts=FigureOptions(T.lang, formats))
            files.figures = [f.path for fs in per_model.values() for f in fs] + [f.path for f in overall]
            files.figure_files = [p for png in files.figures for p in figure_siblings(png, formats)]
        else:
            (warn or (lambda line: print(f"emoalign: {line}", file=sys.stderr)))(
                f"{files.figures_skipped}; report written without figures")
    outputs = {"out_markdown": str(report)}
    if html:
        outputs["out_html"] = str(report.with_suffix(".html"))
    if files.csv is not None:
        outputs["out_csv"] = str(files.csv)
    if folder is not None:
        outputs["out_figures"] = f"{folder}/"
    title, blocks = build_report(
        comparison, lang=lang, per_model_figures=per_model, overall_figures=overall,
        folder_name=folder.name if folder else "", outputs=outputs, command=command,
        figures_note=files.figures_skipped, pair=pair, artifacts=artifacts,
    )
    appendix: list[Block] = []
    if steering is not None:  # the causal test ends the report; its figure is drawn where the others are
        from emoalign.report.steering import steering_appendix

        appendix = steering_appendix(steering, report, T.lang, figures=folder is not None, formats=formats)
        for block in appendix:
            if isinstance(block, Image):
                files.figures.append(block.file)
                files.figure_files += figure_siblings(block.file, formats)
    blocks = [*preface, *blocks, *appendix]
    files.markdown = write_text_atomic(report, to_markdown(blocks))
    if html:
        from emoalign.report.html import to_html

        files.html = write_text_atomic(report.with_suffix(".html"), to_html(blocks, title=title, lang=T.lang))
    return comparison, files


def format_comparison(comparison: Comparison) -> str:
    """The comparison table as plain text, for the terminal: numbers, the pair-level p-values, the
    cells passing (a)/(b)/(c)/all three, and the verdict in words."""
    T = strings("en")
    lines = [f"{'model':<28} {'max Δ':>9} {'layer':>5} {'mean Δ':>9} {'before':>9} {'after':>9} "
             f"{'copies95':>8} {'p pair':>7} {'p copy':>7} {'cells a/b/c/all':>17}  verdict"]
    for entry in comparison.entries:
        s = entry.summary
        lines.append(printable(
            f"{printable(entry.label):<28} {s['max_delta']:>9.6f} {s['max_delta_layer']:>5} {s['mean_delta']:>9.6f} "
            f"{s['mean_before']:>9.6f} {s['mean_after']:>9.6f} {f3(s['baseline_overlap_bound']):>8} "
            f"{fp(s['p_pairing']):>7} {fp(s['p_baseline']):>7} {_cells_text(s):>17}  "
            f"{mark(entry.overall.status)} {check_text(T, entry.overall)}"
        ))
    return "\n".join(lines)
