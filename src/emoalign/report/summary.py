"""The original study's summary step: per-layer CSV, a printed table and a Markdown report."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from emoalign.report.document import md
from emoalign.report.marks import WARN, mark
from emoalign.core.results import AlignmentResult
from emoalign.io.storage import atomic_write, write_text_atomic

SUMMARY_COLUMNS: tuple[str, ...] = ("layer", "mean_overlap_before", "mean_overlap_after", "delta")


def summary_table(result: AlignmentResult) -> pd.DataFrame:
    """Per-layer table with the original's four columns first, ours after them (plus the random-weight
    copies' mean overlap per layer pair, from the cells, when the artifact has a baseline)."""
    table = result.layer_table()
    cells = result.cells
    if "baseline_overlap_mean" in cells and "baseline_overlap_mean" not in table and "target_layer" in cells:
        means = cells.groupby(["layer", "target_layer"], sort=False)["baseline_overlap_mean"].mean()
        table["baseline_overlap_mean"] = [means.get((s, t), np.nan)
                                          for s, t in zip(table["layer"], table.get("target_layer", table["layer"]))]
    return table[list(SUMMARY_COLUMNS) + [c for c in table.columns if c not in SUMMARY_COLUMNS]]


def summary_csv_table(result: AlignmentResult) -> pd.DataFrame:
    """The summary CSV: the lexical floor first (layer -1: the input-embedding pair, a reference row
    with no verdict), then :func:`summary_table`."""
    table = summary_table(result)
    if result.floor_layer.empty:
        return table
    floor = result.floor_layer.drop(columns=["n_components"], errors="ignore")
    return pd.concat([floor, table], ignore_index=True)[list(table.columns) + [
        c for c in floor.columns if c not in table.columns]]


def write_summary_csv(result: AlignmentResult, path: str | Path) -> Path:
    """Write the per-layer summary CSV atomically (the lexical floor row, the layer table plus, when
    present, the copies' mean overlap per layer pair)."""
    return atomic_write(path, lambda tmp: summary_csv_table(result).to_csv(tmp, index=False, float_format="%.6g"))


def metric_label(result: AlignmentResult) -> str:
    """How the overlap numbers must be read."""
    if result.config["metric"] == "legacy":
        return (
            "legacy (the original study's metric: mean of (U Vᵀ)² over k×k entries, mapped basis not "
            "re-orthonormalised, 'before' = truncated coordinates; unbounded by design, ≤ 1/k for "
            "orthonormal bases; reported for reproduction only)"
        )
    return "bounded overlap ‖Q_U Q_Vᵀ‖²_F / k ∈ [0, 1] (mean cos² of principal angles; chance ≈ k/d_source)"


PAIR_NOTES: dict[str, str] = {
    "old": "this artifact predates the three-step verdict: it has no random-copy baseline and no joint relabelling "
           "null (its emotion-label null is the prompt-group null, context only; its old noise ceiling is not "
           "shown), so it carries no verdict; rerun `emoalign align` on the cached activations to get one",
    "untested": "statistics were off (--permutations 0): no verdict",
}


def _f(value: object, spec: str) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "n/a"
    return format(number, spec) if np.isfinite(number) else "n/a"


def _steps(row: pd.Series) -> str:
    """``a/b/c/all`` cells of a layer pair, e.g. ``3/3/0/0``."""
    values = [row.get(c) for c in ("n_correspondence", "n_beyond_vocabulary", "n_emotion_group", "n_emotion_specific")]
    return "/".join("-" if v is None or pd.isna(v) else str(int(v)) for v in values)


def format_layer_table(result: AlignmentResult) -> str:
    """The per-layer table as aligned plain text, for the terminal: before / after / Δ, chance, the
    random-weight copies' 95 % prediction bound, the CI of the layer mean, the normalised overlap, the
    cells passing each verdict step and the verdict in words; then the pair verdict."""
    from emoalign.analysis.verdict import LEGACY_NO_VERDICT, NOT_TESTED
    from emoalign.report.compare import OLD_SCHEMA_NO_VERDICT, compare_results, layer_profile, schema_of

    table = summary_table(result)
    profile = layer_profile(result)
    schema = schema_of(result)
    legacy = schema == "legacy"
    stats = schema in ("current", "old")
    steps = schema == "current" and "n_correspondence" in profile
    control = f" ({result.config['control']} control)" if result.config.get("control") else ""
    copies = int(result.config.get("baseline_copies") or 0)
    title = (f"{result.pair_name}{control}  metric: {'legacy' if legacy else 'bounded'}  "
             f"k = {result.config.get('n_components')}")
    if schema == "current":
        title += f"  random-weight copies: {copies or 'none'}"
    header = f"{'layer':>5} {'target':>6} {'before':>10} {'after':>10} {'delta':>10} {'chance':>7} {'map R²':>7}"
    if stats:
        header += f" {'copies95':>8} {'95% CI':>15} {'norm.':>6}"
    if steps:
        header += f" {'a/b/c/all':>9}"
    header += f"  verdict (BH q < {result.config.get('alpha', 0.05)})" if schema == "current" else "  verdict"
    lines = [title, header]
    fixed = {"legacy": LEGACY_NO_VERDICT, "old": OLD_SCHEMA_NO_VERDICT, "untested": NOT_TESTED}.get(schema)
    k = result.config.get("n_components") or 1
    for (_, row), prof in zip(table.iterrows(), profile.itertuples(index=False)):
        r2 = _f(row.get("map_heldout_r2"), ".3f")
        # the legacy metric's chance is the expected squared entry of U Vᵀ, 1/d_source = (k/d_source) / k
        chance = _f(row.get("chance", np.nan) / (k if legacy else 1), ".4f")
        line = (
            f"{int(row['layer']):>5} {int(row['target_layer']):>6} {row['mean_overlap_before']:>10.6f} "
            f"{row['mean_overlap_after']:>10.6f} {row['delta']:>10.6f} {chance:>7} {r2:>7}"
        )
        if stats:
            ci = f"[{_f(prof.ci_low, '.3f')}, {_f(prof.ci_high, '.3f')}]" if "ci_low" in profile else "n/a"
            bound = _f(getattr(prof, "baseline_overlap_bound", None), ".3f")
            normalised = _f(getattr(prof, "normalised_overlap", None), ".3f")
            line += f" {bound:>8} {ci:>15} {normalised:>6}"
        if steps:
            line += f" {_steps(pd.Series(prof._asdict())):>9}"
        line += f"  {fixed or row.get('verdict', 'n/a')}"
        lines.append(line)
    lines.append(
        f"{'mean':>5} {'':>6} {table.mean_overlap_before.mean():>10.6f} {table.mean_overlap_after.mean():>10.6f} "
        f"{table.delta.mean():>10.6f}"
    )
    if not result.floor_layer.empty:
        floor = result.floor_layer.iloc[0]
        beyond = table.loc[table.get("beyond_static_meaning", pd.Series(dtype=float)) == 1.0, "layer"]
        lines.append(
            f"{'emb':>5} {'emb':>6} {floor['mean_overlap_before']:>10.6f} {floor['mean_overlap_after']:>10.6f} "
            f"{floor['delta']:>10.6f}  lexical floor (input embeddings, k = {int(floor['n_components'])}; 95% CI "
            f"[{_f(floor.get('ci_low'), '.3f')}, {_f(floor.get('ci_high'), '.3f')}]); layers beyond it: "
            f"{', '.join(str(int(v)) for v in beyond) or 'none'}"
        )
    d_source = result.source.get("d_model")
    if d_source and "n_fit_pairs" in table and (table["n_fit_pairs"] < d_source).any():
        lines.append(
            f"warning: the map was fitted on {int(table['n_fit_pairs'].min())} pairs for d_source={d_source}: "
            "directions outside their span map to zero (more prompts or --fit-data neutral-words help)"
        )
    cells = result.cells
    if stats and {"ci_low", "ci_high", "overlap_after"} <= set(cells):
        tol = 1e-9  # an overlap of 0.99999997 sits inside a CI of [1.0, 1.0]
        outside = int(((cells["overlap_after"] < cells["ci_low"] - tol)
                       | (cells["overlap_after"] > cells["ci_high"] + tol)).sum())
        if outside:
            lines.append(
                f"warning: in {outside} of {len(cells)} cells the bootstrap CI does not contain the observed overlap "
                "(resampling bias for noisy subspaces; read those CIs with care)"
            )
    if steps:
        lines.append(
            "copies95: the random-weight copies' one-sided 95 % prediction bound of the overlap; norm.: normalised "
            "overlap (1 = a twin); a/b/c/all: cells passing (a) correspondence, (b) beyond vocabulary, (c) emotion "
            "vs any prompt group, and all three (emotion-specific)"
        )
    summary = result.summary or {}
    verdict = fixed or summary.get("verdict", NOT_TESTED)
    words = PAIR_NOTES.get(schema) or summary.get("summary") or "no pair-level statistics in this artifact"
    if schema == "current" and summary.get("correspondence") is None:
        words = "the pairing null was off (--pairing-permutations 0): no verdict"
    if schema == "current":
        from emoalign.report.comparative import headline
        from emoalign.report.i18n import strings

        lines.append(f"headline: {headline(strings('en'), compare_results([result]).entries[0].summary)}")
    lines.append(f"pair verdict: {verdict} — {words}")
    if schema == "current" and summary.get("verdict") and result.summary.get("beyond_vocabulary") is None:
        lines.append("note: no random-copy baseline (--baseline-seeds 0): the overlap may come from the shared "
                     "vocabulary alone; the verdict stops at step (a)")
    p_group = summary.get("p_group_assignment", summary.get("p_identity"))
    n = len(result.config.get("emotions", [])) or 1
    # with 3 emotions the smallest possible p is 1/3! = 0.167: no test at any usual alpha, so not printed
    if p_group is not None and stats and 1 / math.factorial(n) < float(result.config.get("alpha", 0.05)):
        lines.append(
            f"prompt-group assignment test over all layer pairs (context): p = {p_group:.3g} "
            f"(exact; smallest possible p = 1/{n}! = {1 / math.factorial(n):.3g})"
        )
    for emotion, best in summary.get("grid", {}).items():
        lines.append(
            f"grid max {emotion}: {best['max_overlap_after']:.3f} at layers {best['layer']}->{best['target_layer']} "
            f"(p of the grid maximum under the prompt-group null {best['p_max']:.3g})"
        )
    return "\n".join(lines)


def render_markdown_report(
    result: AlignmentResult,
    artifacts: dict[str, str] | None = None,
    figures: Sequence[tuple[str, str]] | None = None,
) -> str:
    """A per-pair report shaped like the seed's: purpose, how the verdict is reached, artifacts,
    command, settings, the per-layer table with the verdict steps, the pair verdict, the verdict
    against k, the sanity checks and the figures (``figures``: caption, path relative to the report)."""
    from emoalign.report.comparative import (
        CHECK_ORDER,
        check_line,
        k_profile_block,
        pair_verdict_line,
        schema_note,
    )
    from emoalign.report.compare import compare_results
    from emoalign.report.document import to_markdown
    from emoalign.report.i18n import strings

    T = strings("en")
    entry = compare_results([result]).entries[0]
    cfg, src, tgt = result.config, result.source, result.target
    table = summary_table(result)
    emotions = ", ".join(cfg["emotions"])
    matches = "; ".join(
        f"{role}: " + ", ".join(f"{md(e)} {rate:.0%}" for e, rate in info["match_rates"].items())
        for role, info in result.extraction.items()
    )
    stats = []
    for key, name in (("n_permutations", "relabelling permutations"), ("n_bootstrap", "bootstrap resamples (BCa)"),
                      ("n_pairing_permutations", "pairing shuffles"), ("baseline_copies", "random-weight copies"),
                      ("alpha", "BH q level")):
        if key in cfg:
            stats.append(f"{name} {cfg[key]}")
    from emoalign.report.comparative import layer_table_block

    lines = [
        f"# Emotion subspace alignment: {md(src['name'])} vs {md(tgt['name'])}",
        "",
        "## Purpose",
        "",
        f"Do {md(src['name'])} (source) and {md(tgt['name'])} (target) hold the same emotion subspaces ({md(emotions)}) "
        "in different coordinates? Emotion vectors are pooled emotion-word activations minus the neutral "
        f"reference; each emotion's subspace is the top-{cfg['n_components']} PCA directions per layer; a linear "
        "map target→source fitted on neutral data only carries the target's subspaces into the source space.",
        "",
        "### How the verdict is reached",
        "",
        T("reading"),
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
        f"- Source: {md(src['id'])} ({src['model_type']}, {src['n_layers']} layers, d_model={src['d_model']}, "
        f"{src['dtype']})",
        f"- Target: {md(tgt['id'])} ({tgt['model_type']}, {tgt['n_layers']} layers, d_model={tgt['d_model']}, "
        f"{tgt['dtype']})",
        f"- Prompts: {md(result.dataset['name'])} "
        f"({', '.join(f'{md(k)} {v}' for k, v in result.dataset['label_counts'].items())})",
        f"- k = {cfg['n_components']}; map: {cfg['map_method']} fitted on {cfg['fit_data']}; "
        f"reference: {cfg['reference']}; layer match: {cfg['layer_match']}",
        f"- Metric: {metric_label(result)}",
        *([f"- Statistics: {', '.join(stats)}"] if stats else []),
        f"- Emotion-word match rate: {matches}",
        *(["- Start token (`--bos`): " + "; ".join(
            f"{role}: {md(str(info.get('start_token', 'n/a')))}" for role, info in result.extraction.items())]
          if any("start_token" in info for info in result.extraction.values()) else []),
        "",
        "## Per-layer results",
        "",
        to_markdown([layer_table_block(T, entry)]).rstrip(),
        "",
        T("table_legend", alpha=cfg.get("alpha", 0.05)),
        "",
        f"**Mean improvement**: {table.delta.mean():.6f} (mean before: {table.mean_overlap_before.mean():.6f} → "
        f"mean after: {table.mean_overlap_after.mean():.6f})",
        "",
        pair_verdict_line(T, entry),
        "",
    ]
    note = schema_note(T, entry)
    if note:
        lines += [f"{mark(WARN)} {note}", ""]
    k_table = k_profile_block(T, entry)
    if k_table is not None:
        lines += ["## Verdict against k", "", to_markdown([k_table]).rstrip(), ""]
    lines += ["## Sanity checks", ""]
    checks = {c.key: c for c in entry.checks}
    lines += [f"{n}. {T(f'check_{key}')} {check_line(T, checks[key])}" for n, key in enumerate(CHECK_ORDER, 1)]
    lines += ["", f"**Conclusion of the sanity checks**: {check_line(T, entry.overall)}", ""]
    lines += [
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
    return [(figure_caption(T, f.kind, md(label), f.params), f"{folder.name}/{f.path.name}")
            for f in pair_figures(result, folder, label=label)]


def write_markdown_report(
    result: AlignmentResult, path: str | Path, artifacts: dict[str, str] | None = None, *, figures: bool = True
) -> Path:
    """Render and write the Markdown report atomically, with its figures beside it (``figures=False``: none)."""
    drawn = pair_report_figures(result, path) if figures else []
    return write_text_atomic(path, render_markdown_report(result, artifacts, drawn))
