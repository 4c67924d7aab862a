"""The comparative report over several alignment results (the original's phase-8 report, generated):
blocks built from a :class:`~emoalign.report.compare.Comparison`, written as Markdown (+ HTML),
with figures beside it and a per-model CSV."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emoalign.errors import EmoalignError
from emoalign.report.checks import NA, format_layers, has_column
from emoalign.report.compare import (
    Comparison,
    ModelEntry,
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
    table,
    to_markdown,
)
from emoalign.report.i18n import Strings, figure_caption, strings
from emoalign.results import AlignmentResult
from emoalign.storage import atomic_write, write_text_atomic


@dataclass
class ReportFiles:
    """What :func:`write_comparative_report` wrote."""

    markdown: Path | None = None
    html: Path | None = None
    csv: Path | None = None
    figures: list[Path] = field(default_factory=list)
    figures_skipped: str | None = None


def f6(value: Any) -> str:
    """Six decimals, ``n/a`` for missing / non-finite values."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return f"{number:.6f}" if np.isfinite(number) else "n/a"


def f3(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return f"{number:.3f}" if np.isfinite(number) else "n/a"


def _params(params: dict[str, Any]) -> dict[str, Any]:
    """Format floats for the prose templates (three decimals)."""
    return {k: (f3(v) if isinstance(v, (float, np.floating)) else v) for k, v in params.items()}


def check_line(T: Strings, check) -> str:
    """``✅ reason`` of one check."""
    return f"{check.icon} {T(check.reason, **_params(check.params))}"


# ------------------------------------------------------------------------------------------------
# sections


def _layer_table(T: Strings, entry: ModelEntry) -> Block:
    p = entry.profile
    header = [T("col_layer"), T("col_target_layer"), T("col_rel_depth"), T("col_before"), T("col_after"), T("col_delta")]
    extra = [(c, T(f"col_{c}")) for c in ("null_p95", "ceiling") if has_column(p, c)]
    ci = has_column(p, "ci_low") and has_column(p, "ci_high")
    header += [name for _, name in extra] + ([T("col_ci")] if ci else [])
    specific = "n_specific" in p
    verdict = "verdict" in p and not specific
    header += [T("col_specific")] if specific else []
    header += [T("col_verdict")] if verdict else []
    rows = []
    for _, r in p.iterrows():
        row = [int(r["layer"]), int(r["target_layer"]), f"{r['rel_depth']:.2f}", f6(r["before"]), f6(r["after"]),
               f"**{f6(r['delta'])}**"]
        row += [f6(r[c]) for c, _ in extra]
        row += [f"[{f6(r['ci_low'])}, {f6(r['ci_high'])}]"] if ci else []
        row += [f"{int(r['n_specific'])}/{int(r['n_tested'])}"] if specific else []
        row += [str(r["verdict"])] if verdict else []
        rows.append(row)
    return table(header, rows)


def _images(T: Strings, files, folder_name: str) -> list[Block]:
    return [Image(f"{folder_name}/{f.path.name}", figure_caption(T, f.kind, f.label, f.params), f.path)
            for f in files]


def section_results(T: Strings, comparison: Comparison, per_model_figures, folder_name: str) -> list[Block]:
    blocks: list[Block] = [Heading(T("h_results", n=len(comparison.entries)))]
    for i, entry in enumerate(comparison.entries, 1):
        s = entry.summary
        blocks.append(Heading(T("h_results_model", i=i, label=entry.label), 3))
        if entry.control_of:
            blocks.append(Paragraph(T("control_note", trained=entry.control_of)))
        blocks.append(_layer_table(T, entry))
        blocks.append(Paragraph(T("mean_improvement", delta=f6(s["mean_delta"]), before=f6(s["mean_before"]),
                                  after=f6(s["mean_after"]))))
        if np.isfinite(s["mean_null_p95"]) or s["n_tested"] > 0:
            blocks.append(Paragraph(T("null_summary", null_p95=f6(s["mean_null_p95"]),
                                      n_specific=s["n_specific"], n_tested=s["n_tested"])))
        blocks += _images(T, per_model_figures.get(entry.label, []), folder_name)
    return blocks


def _peak_line(T: Strings, entry: ModelEntry) -> str:
    s = entry.summary
    if s["peak_region"] == "none":
        return f"**{entry.label}**: {T('peak_none')}"
    return f"**{entry.label}**: " + T(
        "peak_line", region=T(f"region_{s['peak_region']}"), layers=s["peak_layers"],
        max_layer=s["max_delta_target_layer"], depth=f"{s['max_delta_rel_depth']:.2f}",
        max_region=T(f"region_{depth_region(s['max_delta_rel_depth'])}"), max_delta=f3(s["max_delta"]),
    )


def section_discussion(T: Strings, comparison: Comparison) -> list[Block]:
    by_key = [{c.key: c for c in e.checks} for e in comparison.entries]
    labels = [e.label for e in comparison.entries]
    blocks: list[Block] = [
        Heading(T("h_discussion", n=len(comparison.entries))),
        Heading(T("h_patterns"), 3),
        Heading(T("h_pattern_original"), 4),
        bullets([f"**{l}**: {check_line(T, c['after_increase'])}" for l, c in zip(labels, by_key)]),
        Heading(T("h_pattern_null"), 4),
    ]
    null_lines = []
    for label, checks in zip(labels, by_key):
        check = checks["label_null"] if checks["label_null"].status != NA else checks["above_null"]
        null_lines.append(f"**{label}**: {check_line(T, check)}")
    blocks += [bullets(null_lines), Heading(T("h_peak_position"), 4),
               Paragraph(T("peak_explain")), bullets([_peak_line(T, e) for e in comparison.entries])]
    controls = [(l, c["control"]) for l, c in zip(labels, by_key) if c["control"].status != NA]
    if controls:
        blocks += [Heading(T("h_control"), 3), bullets([f"**{l}**: {check_line(T, c)}" for l, c in controls])]
    return blocks


CHECK_ORDER: tuple[str, ...] = (
    "before_near_zero", "after_increase", "delta_positive", "above_null", "label_null", "specificity", "ceiling",
    "control",
)


def section_checks(T: Strings, comparison: Comparison) -> list[Block]:
    blocks: list[Block] = [Heading(T("h_checks")), Paragraph(T("checks_intro")), Heading(T("h_checks_items"), 3)]
    for n, key in enumerate(CHECK_ORDER, 1):
        blocks.append(Heading(f"{n}. {T(f'check_{key}')}", 4))
        lines = []
        for entry in comparison.entries:
            check = next(c for c in entry.checks if c.key == key)
            lines.append(f"**{entry.label}**: {check_line(T, check)}")
        blocks.append(bullets(lines))
    blocks += [Heading(T("h_checks_conclusion"), 3),
               bullets([f"**{e.label}**: {check_line(T, e.overall)}" for e in comparison.entries])]
    return blocks


def quantitative_table(T: Strings, comparison: Comparison) -> Block:
    """Max Δ and its layer, mean Δ, mean before / after (+ null p95 and specific cells when present)."""
    t = comparison.table
    with_null = bool(np.isfinite(t["mean_null_p95"]).any())
    with_q = bool((t["n_tested"] > 0).any())
    header = [T("col_model"), T("col_max_delta"), T("col_max_delta_layer"), T("col_max_delta_target_layer"),
              T("col_mean_delta"), T("col_mean_before"), T("col_mean_after")]
    header += [T("col_mean_null_p95")] if with_null else []
    header += [T("col_specific")] if with_q else []
    header += [T("col_verdict")]
    rows = []
    for entry in comparison.entries:
        s = entry.summary
        row = [entry.label, f"**{f6(s['max_delta'])}**", s["max_delta_layer"], s["max_delta_target_layer"],
               f"**{f6(s['mean_delta'])}**", f6(s["mean_before"]), f6(s["mean_after"])]
        row += [f6(s["mean_null_p95"])] if with_null else []
        row += [f"{s['n_specific']}/{s['n_tested']}" if s["n_tested"] > 0 else "n/a"] if with_q else []
        row += [entry.overall.icon]
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


def _numerics_line(T: Strings, entry: ModelEntry) -> str:
    n = entry.numerics
    bad = {k: v for k, v in n.non_finite.items() if v}
    finite = T("numerics_finite") if not bad else T("numerics_nonfinite", detail=", ".join(
        f"{k} {v}" for k, v in bad.items()))
    skipped = {role: layers for role, layers in n.skipped_layers.items() if layers}
    skip = T("numerics_no_skips") if not skipped else T("numerics_skips", detail="; ".join(
        f"{role}: {format_layers(layers)}" for role, layers in skipped.items()))
    icon = "✅" if n.clean else "❌"
    fallbacks = "; ".join(
        f"{role}: " + ", ".join(f"{label} {n.match_rates.get(role, {}).get(label, float('nan')):.0%} "
                                f"({count})" for label, count in counts.items())
        for role, counts in n.fallbacks.items()
    )
    line = f"**{entry.label}**: {icon} {finite}; {skip}"
    if n.not_computed:
        line += "; " + T("numerics_not_computed", detail=", ".join(f"{k} {v}" for k, v in n.not_computed.items()))
    return line + (f"; {T('numerics_matches', detail=fallbacks)}" if fallbacks else "")


def section_conclusion(T: Strings, comparison: Comparison) -> list[Block]:
    lines = []
    for entry in comparison.entries:
        s = entry.summary
        text = T("conclusion_line", label=entry.label, icon=entry.overall.icon,
                 verdict=T(entry.overall.reason, **_params(entry.overall.params)),
                 after=f3(s["mean_after"]), before=f3(s["mean_before"]), max_delta=f3(s["max_delta"]),
                 layer=s["max_delta_target_layer"], region=T(f"region_{depth_region(s['max_delta_rel_depth'])}"))
        lines.append(text)
    passed = sum(e.overall.status == "pass" for e in comparison.entries)
    tested = any(e.overall.reason != "overall_untested" and e.overall.reason != "overall_original_fail"
                 for e in comparison.entries)
    summary = T("conclusion_summary", passed=passed, n=len(comparison.entries)) if tested else T("conclusion_untested")
    return [Heading(T("h_conclusion")), bullets(lines, ordered=True), Paragraph(summary)]


def section_provenance(T: Strings, comparison: Comparison) -> list[Block]:
    lines = []
    for entry in comparison.entries:
        prov, r = entry.result.provenance, entry.result
        versions = ", ".join(f"{k} {v}" for k, v in (prov.get("versions") or {}).items())
        lines.append(T("provenance_line", label=entry.label, date=prov.get("date") or "n/a",
                       versions=versions or "n/a", hash=r.dataset.get("hash", "n/a"),
                       dataset=r.dataset.get("name", "n/a")))
    hashes = {e.result.dataset.get("hash") for e in comparison.entries}
    note = T("same_dataset") if len(hashes) == 1 else T("different_datasets", n=len(hashes))
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
            files += [root / "emotion_vectors" / f"{model}_vectors_token_based.safetensors",
                      root / "emotion_subspaces" / f"{model}_subspaces.safetensors"]
        files.append(root / "statistics" / f"{pair}_alignment_summary.csv")
    return [str(f) for f in dict.fromkeys(files) if f == entry.path or f.exists()]


def section_artifacts(T: Strings, comparison: Comparison, outputs: dict[str, str]) -> list[Block]:
    blocks: list[Block] = [Heading(T("h_artifacts")), Paragraph(T("artifacts_intro"))]
    for entry in comparison.entries:
        files = _artifact_files(entry)
        blocks += [Heading(entry.label, 3), bullets([f"`{f}`" for f in files] or [T("python_api")])]
    if outputs:
        blocks += [Heading(T("h_this_report"), 3), bullets([f"{T(k)}: `{v}`" for k, v in outputs.items()])]
    return blocks


def section_commands(T: Strings, comparison: Comparison, command: str | None) -> list[Block]:
    parts = []
    for entry in comparison.entries:
        parts.append(f"# {entry.label}\n{entry.result.provenance.get('command') or '# ' + T('no_command')}")
    if command:
        parts.append(f"# {T('comparative_report')}\n{command}")
    return [Heading(T("h_commands")), Paragraph(T("commands_intro")), Code("\n\n".join(parts))]


def _setting_value(T: Strings, key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if key == "emotions":
        return ", ".join(value or [])
    if key == "statistics" and isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def section_settings(T: Strings, comparison: Comparison) -> list[Block]:
    common = [f"**{T('set_' + k)}**: {_setting_value(T, k, v)}" for k, v in comparison.common_settings.items()
              if k != "dataset_hash"]
    first = comparison.entries[0].result
    if "dataset" in comparison.common_settings:
        counts = ", ".join(f"{k} {v}" for k, v in first.dataset.get("label_counts", {}).items())
        common.append(f"**{T('set_label_counts')}**: {counts}")
    common.append(f"**{T('set_method')}**: {T('method_text')}")
    per_model = []
    for entry in comparison.entries:
        tgt = entry.result.target
        text = T("model_setting", label=entry.label, id=tgt.get("id"), model_type=tgt.get("model_type"),
                 n_layers=tgt.get("n_layers"), d_model=tgt.get("d_model"), dtype=tgt.get("dtype"),
                 device=tgt.get("device"))
        own = settings_of(entry.result)
        differing = [f"{T('set_' + k)}: {_setting_value(T, k, own.get(k))}"
                     for k in comparison.differing_settings if k != "dataset_hash"]
        if differing:
            text += " — " + "; ".join(differing)
        if entry.control_of:
            text += " — " + T("control_note", trained=entry.control_of)
        per_model.append(text)
    return [Heading(T("h_settings")), Heading(T("h_common_settings"), 3), bullets(common),
            Heading(T("h_model_settings"), 3), bullets(per_model)]


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
) -> tuple[str, list[Block]]:
    """Title and blocks of the comparative report (no I/O)."""
    T = strings(lang)
    sources = sorted({str(e.result.source["name"]) for e in comparison.entries})
    targets = ", ".join(e.label for e in comparison.entries)
    title = T("title", source=", ".join(sources), targets=targets)
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    first = comparison.entries[0].result
    blocks: list[Block] = [
        Heading(title, 1),
        Paragraph(f"_{T('last_updated')}: {date}_"),
        Heading(T("h_purpose")),
        Paragraph(T("purpose", source=", ".join(sources), n=len(comparison.entries), targets=targets,
                    emotions=", ".join(first.config.get("emotions", [])))),
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
    blocks += [Heading(T("h_numerics")), bullets([_numerics_line(T, e) for e in comparison.entries])]
    blocks += section_conclusion(T, comparison)
    blocks += section_provenance(T, comparison)
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
) -> tuple[Comparison, ReportFiles]:
    """Compare ``results`` and write the Markdown report (+ HTML, figures, CSV).

    Figures go to ``<report stem>_figures/``; without matplotlib the report is written without
    them and ``warn`` (default: print to stderr) receives one line saying why.
    """
    T = strings(lang)  # validates lang before anything is written
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
            comparison_figures,
            figures_dir,
            matplotlib_missing,
        )

        files.figures_skipped = matplotlib_missing()
        if files.figures_skipped is None:
            folder = figures_dir(report)
            per_model, overall = comparison_figures(comparison, folder)
            files.figures = [f.path for fs in per_model.values() for f in fs] + [f.path for f in overall]
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
        figures_note=files.figures_skipped,
    )
    blocks = [*preface, *blocks]
    files.markdown = write_text_atomic(report, to_markdown(blocks))
    if html:
        from emoalign.report.html import to_html

        files.html = write_text_atomic(report.with_suffix(".html"), to_html(blocks, title=title, lang=T.lang))
    return comparison, files


def format_comparison(comparison: Comparison) -> str:
    """The comparison table as plain text, for the terminal."""
    lines = [f"{'model':<28} {'max Δ':>9} {'layer':>5} {'mean Δ':>9} {'before':>9} {'after':>9} "
             f"{'null p95':>9} {'specific':>9}  verdict"]
    for entry in comparison.entries:
        s = entry.summary
        specific = f"{s['n_specific']}/{s['n_tested']}" if s["n_tested"] > 0 else "n/a"
        lines.append(
            f"{entry.label:<28} {s['max_delta']:>9.6f} {s['max_delta_layer']:>5} {s['mean_delta']:>9.6f} "
            f"{s['mean_before']:>9.6f} {s['mean_after']:>9.6f} {f6(s['mean_null_p95']):>9} {specific:>9}  "
            f"{entry.overall.icon} {strings('en')(entry.overall.reason, **_params(entry.overall.params))}"
        )
    return "\n".join(lines)
