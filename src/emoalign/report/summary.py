"""The original study's summary step: per-layer CSV, a printed table and a Markdown report."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from emoalign.results import AlignmentResult
from emoalign.storage import atomic_write, write_text_atomic

SUMMARY_COLUMNS: tuple[str, ...] = ("layer", "mean_overlap_before", "mean_overlap_after", "delta")


def summary_table(result: AlignmentResult) -> pd.DataFrame:
    """Per-layer table with the original's four columns first, ours after them."""
    table = result.layer_table()
    return table[list(SUMMARY_COLUMNS) + [c for c in table.columns if c not in SUMMARY_COLUMNS]]


def write_summary_csv(result: AlignmentResult, path: str | Path) -> Path:
    """Write the per-layer summary CSV atomically."""
    return atomic_write(path, lambda tmp: summary_table(result).to_csv(tmp, index=False, float_format="%.6g"))


def metric_label(result: AlignmentResult) -> str:
    """How the overlap numbers must be read."""
    if result.config["metric"] == "legacy":
        return (
            "legacy (the original study's metric: mean of (U Vᵀ)² over k×k entries, mapped basis not "
            "re-orthonormalised, 'before' = truncated coordinates; unbounded by design, ≤ 1/k for "
            "orthonormal bases; reported for reproduction only)"
        )
    return "bounded overlap ‖Q_U Q_Vᵀ‖²_F / k ∈ [0, 1] (mean cos² of principal angles; chance ≈ k/d_source)"


def format_layer_table(result: AlignmentResult) -> str:
    """The per-layer table as aligned plain text, for the terminal (with nulls, CI and verdicts
    when statistics were computed)."""
    table = summary_table(result)
    legacy = result.config["metric"] == "legacy"
    stats = "null_p95" in table and not legacy
    control = " (untrained control)" if result.config.get("control") else ""
    header = f"{'layer':>5} {'target':>6} {'before':>10} {'after':>10} {'delta':>10} {'chance':>7} {'map R²':>7}"
    if stats:
        header += f" {'null95':>7} {'95% CI':>15} {'ceiling':>7}  verdict (BH q < {result.config.get('alpha', 0.05)})"
    lines = [f"{result.pair_name}{control}  metric: {'legacy' if legacy else 'bounded'}", header]
    for row in table.itertuples(index=False):
        r2 = "n/a" if pd.isna(row.map_heldout_r2) else f"{row.map_heldout_r2:.3f}"
        line = (
            f"{row.layer:>5} {row.target_layer:>6} {row.mean_overlap_before:>10.6f} {row.mean_overlap_after:>10.6f} "
            f"{row.delta:>10.6f} {row.chance:>7.4f} {r2:>7}"
        )
        if stats:
            ci = f"[{row.ci_low:.3f}, {row.ci_high:.3f}]"
            line += f" {row.null_p95:>7.3f} {ci:>15} {row.ceiling:>7.3f}  {row.verdict}"
        lines.append(line)
    lines.append(
        f"{'mean':>5} {'':>6} {table.mean_overlap_before.mean():>10.6f} {table.mean_overlap_after.mean():>10.6f} "
        f"{table.delta.mean():>10.6f}"
    )
    d_source = result.source.get("d_model")
    if d_source and (table["n_fit_pairs"] < d_source).any():
        lines.append(
            f"warning: the map was fitted on {int(table['n_fit_pairs'].min())} pairs for d_source={d_source}: "
            "directions outside their span map to zero (more prompts or --fit-data neutral-words help)"
        )
    cells = result.cells
    if stats and {"ci_low", "ci_high"} <= set(cells):
        outside = int(((cells["overlap_after"] < cells["ci_low"]) | (cells["overlap_after"] > cells["ci_high"])).sum())
        if outside:
            lines.append(
                f"warning: in {outside} of {len(cells)} cells the bootstrap CI does not contain the observed overlap "
                "(resampling bias of the percentile bootstrap for noisy subspaces; read those CIs with care)"
            )
    if result.summary.get("summary") and stats:
        lines.append(f"pair verdict: {result.summary['verdict']} — {result.summary['summary']}")
        if "p_identity" in result.summary:
            n = len(result.config.get("emotions", [])) or 1
            lines.append(
                f"emotion-identity test over all layer pairs: p = {result.summary['p_identity']:.3g} "
                f"(exact, keeps each model's structure; smallest possible p = 1/{n}! = {1 / math.factorial(n):.3g})"
            )
    for emotion, best in result.summary.get("grid", {}).items():
        lines.append(
            f"grid max {emotion}: {best['max_overlap_after']:.3f} at layers {best['layer']}->{best['target_layer']} "
            f"(p of the grid maximum {best['p_max']:.3g})"
        )
    return "\n".join(lines)


def _markdown_table(frame: pd.DataFrame, float_format: str = "{:.6f}") -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return "n/a" if pd.isna(value) else float_format.format(value)
        return str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def render_markdown_report(
    result: AlignmentResult,
    artifacts: dict[str, str] | None = None,
    figures: Sequence[tuple[str, str]] | None = None,
) -> str:
    """A per-pair report shaped like the seed's: purpose, artifacts, command, settings, table;
    ``figures`` (caption, path relative to the report) are embedded after the table."""
    cfg, src, tgt = result.config, result.source, result.target
    table = summary_table(result)
    per_layer = table[["layer", "target_layer", "mean_overlap_before", "mean_overlap_after", "delta", "chance"]]
    per_layer = per_layer.rename(
        columns={"layer": "Layer", "target_layer": "Target layer", "mean_overlap_before": "Before",
                 "mean_overlap_after": "After", "delta": "Δ", "chance": "Chance"}
    )
    emotions = ", ".join(cfg["emotions"])
    matches = "; ".join(
        f"{role}: " + ", ".join(f"{e} {rate:.0%}" for e, rate in info["match_rates"].items())
        for role, info in result.extraction.items()
    )
    lines = [
        f"# Emotion subspace alignment: {src['name']} vs {tgt['name']}",
        "",
        "## Purpose",
        "",
        f"Do {src['name']} (source) and {tgt['name']} (target) hold the same emotion subspaces ({emotions}) "
        "in different coordinates? Emotion vectors are pooled emotion-word activations minus the neutral "
        f"reference; each emotion's subspace is the top-{cfg['n_components']} PCA directions per layer; a linear "
        "map target→source fitted on neutral data only carries the target's subspaces into the source space.",
        "",
        "## Artifacts",
        "",
        *[f"- {name}: `{path}`" for name, path in (artifacts or {}).items()],
        "",
        "## Command",
        "",
        "```bash",
        str(result.provenance.get("command") or "(Python API)"),
        "```",
        "",
        "## Settings",
        "",
        f"- Source: {src['id']} ({src['model_type']}, {src['n_layers']} layers, d_model={src['d_model']}, "
        f"{src['dtype']})",
        f"- Target: {tgt['id']} ({tgt['model_type']}, {tgt['n_layers']} layers, d_model={tgt['d_model']}, "
        f"{tgt['dtype']})",
        f"- Prompts: {result.dataset['name']} ({', '.join(f'{k} {v}' for k, v in result.dataset['label_counts'].items())})",
        f"- k = {cfg['n_components']}; map: {cfg['map_method']} fitted on {cfg['fit_data']}; "
        f"reference: {cfg['reference']}; layer match: {cfg['layer_match']}",
        f"- Metric: {metric_label(result)}",
        f"- Emotion-word match rate: {matches}",
        "",
        "## Per-layer results",
        "",
        _markdown_table(per_layer),
        "",
        f"**Mean improvement**: {table.delta.mean():.6f} (mean before: {table.mean_overlap_before.mean():.6f} → "
        f"mean after: {table.mean_overlap_after.mean():.6f})",
        "",
        *_figure_lines(figures),
        "## Provenance",
        "",
        f"- Date: {result.provenance.get('date')}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in result.provenance.get("versions", {}).items()),
        f"- Dataset hash: `{result.dataset['hash']}`",
        "",
    ]
    return "\n".join(lines)


def _figure_lines(figures: Sequence[tuple[str, str]] | None) -> list[str]:
    if not figures:
        return []
    lines = ["## Figures", ""]
    for caption, src in figures:
        lines += [f"![{caption}]({src})", "", f"*{caption}*", ""]
    return lines


def pair_report_figures(result: AlignmentResult, path: str | Path) -> list[tuple[str, str]]:
    """Draw the per-pair figures into ``<report stem>_figures/``; without matplotlib, print one line
    saying why and return none."""
    from emoalign.report.i18n import figure_caption, strings
    from emoalign.report.plots import figures_dir, matplotlib_missing, pair_figures

    reason = matplotlib_missing()
    if reason is not None:
        print(f"emoalign: {reason}; {Path(path).name} written without figures", file=sys.stderr)
        return []
    folder = figures_dir(path)
    T = strings("en")
    label = str(result.target["name"])
    return [(figure_caption(T, f.kind, label, f.params), f"{folder.name}/{f.path.name}")
            for f in pair_figures(result, folder, label=label)]


def write_markdown_report(
    result: AlignmentResult, path: str | Path, artifacts: dict[str, str] | None = None, *, figures: bool = True
) -> Path:
    """Render and write the Markdown report atomically, with its figures beside it (``figures=False``: none)."""
    drawn = pair_report_figures(result, path) if figures else []
    return write_text_atomic(path, render_markdown_report(result, artifacts, drawn))
