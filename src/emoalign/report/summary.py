"""The original study's summary step: the per-layer CSV, the printed table, and the per-pair
reports (the comparative report of one pair, in English and Japanese)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emoalign.analysis.stats.label_null import assignment_test
from emoalign.core.results import AlignmentResult
from emoalign.core.steering import SteeringResult
from emoalign.io.storage import atomic_write
from emoalign.report.document import japanese_path

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


PAIR_NOTES: dict[str, str] = {
    "old": "this artifact predates the three-step verdict: it has no random-copy baseline and no joint relabelling "
           "null (its emotion-label null is the prompt-group null, context only; its old noise ceiling is not "
           "shown), so it carries no verdict; rerun `emoalign align` on the cached activations to get one",
    "untested": "statistics were off (--permutations 0): no verdict",
}


def _steps(row: pd.Series) -> str:
    """``a/b/c/all`` cells of a layer pair, e.g. ``3/3/0/0``."""
    values = [row.get(c) for c in ("n_correspondence", "n_beyond_vocabulary", "n_emotion_group", "n_emotion_specific")]
    return "/".join("-" if v is None or pd.isna(v) else str(int(v)) for v in values)


#: how :func:`format_layer_table` shows its warnings: as ``warning: …`` lines of the table (a string
#: that holds everything, as the tests read it), or through the ``emoalign`` logger (the CLI: stderr,
#: ``emoalign: warning: …``, silenced by ``--log-level error`` like every other warning)
TABLE_WARNINGS: tuple[str, ...] = ("inline", "log")


def layer_table_warnings(result: AlignmentResult) -> list[str]:
    """What a reader of the per-layer table must be warned of, one sentence each (no ``warning:``
    prefix): a map fitted on fewer pairs than the source's width, and cells whose bootstrap CI
    does not contain their own overlap."""
    from emoalign.report.compare import schema_of

    table = result.layers
    out = []
    d_source = result.source.get("d_model")
    if d_source and "n_fit_pairs" in table and (table["n_fit_pairs"] < d_source).any():
        out.append(
            f"the map was fitted on {int(table['n_fit_pairs'].min())} pairs for d_source={d_source}: "
            "directions outside their span map to zero (more prompts or --fit-data neutral-words help)"
        )
    cells = result.cells
    if schema_of(result) in ("current", "old") and {"ci_low", "ci_high", "overlap_after"} <= set(cells):
        tol = 1e-9  # an overlap of 0.99999997 sits inside a CI of [1.0, 1.0]
        outside = int(((cells["overlap_after"] < cells["ci_low"] - tol)
                       | (cells["overlap_after"] > cells["ci_high"] + tol)).sum())
        if outside:
            out.append(
                f"in {outside} of {len(cells)} cells the bootstrap CI does not contain the observed overlap "
                "(resampling bias for noisy subspaces; read those CIs with care)"
            )
    return out


def format_layer_table(result: AlignmentResult, *, warnings: str = "inline") -> str:
    """The per-layer table as aligned plain text, for the terminal: before / after / Δ, chance, the
    random-weight copies' 95 % prediction bound, the percentile bootstrap CI of the layer mean, the
    normalised overlap, the cells passing each verdict step and the verdict in words; then the pair
    verdict. Numbers are rounded as in the reports (:func:`emoalign.report.comparative.f3` / ``f6``).

    ``warnings`` (:data:`TABLE_WARNINGS`, see :func:`layer_table_warnings`): ``"inline"`` (default)
    writes them into the text as ``warning: …`` lines; ``"log"`` sends them to the ``emoalign``
    logger instead (stderr, filtered by the log level), for a table printed to stdout."""
    from emoalign.analysis.verdict import LEGACY_NO_VERDICT, NOT_TESTED
    from emoalign.core.text import printable
    from emoalign.report.comparative import f3, f6
    from emoalign.report.compare import (
        OLD_SCHEMA_NO_VERDICT,
        compare_results,
        layer_profile,
        schema_of,
    )

    if warnings not in TABLE_WARNINGS:
        raise ValueError(f"warnings={warnings!r}: use {' or '.join(TABLE_WARNINGS)}")
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
        header += f" {'copies95':>8} {'pctl. 95% CI':>15} {'norm.':>6}"
    if steps:
        header += f" {'a/b/c/all':>9}"
    header += f"  verdict (BH q < {result.config.get('alpha', 0.05)})" if schema == "current" else "  verdict"
    lines = [title, header]
    fixed = {"legacy": LEGACY_NO_VERDICT, "old": OLD_SCHEMA_NO_VERDICT, "untested": NOT_TESTED}.get(schema)
    k = result.config.get("n_components") or 1
    for (_, row), prof in zip(table.iterrows(), profile.itertuples(index=False)):
        r2 = f3(row.get("map_heldout_r2"))
        # the legacy metric's chance is the expected squared entry of U Vᵀ, 1/d_source = (k/d_source) / k;
        # rounded by the report's own formatter, so the terminal and the report print the same chance
        chance = f3(row.get("chance", np.nan) / (k if legacy else 1))
        line = (
            f"{int(row['layer']):>5} {int(row['target_layer']):>6} {f6(row['mean_overlap_before']):>10} "
            f"{f6(row['mean_overlap_after']):>10} {f6(row['delta']):>10} {chance:>7} {r2:>7}"
        )
        if stats:
            ci = f"[{f3(prof.ci_low)}, {f3(prof.ci_high)}]" if "ci_low" in profile else "n/a"
            bound = f3(getattr(prof, "baseline_overlap_bound", None))
            normalised = f3(getattr(prof, "normalised_overlap", None))
            line += f" {bound:>8} {ci:>15} {normalised:>6}"
        if steps:
            line += f" {_steps(pd.Series(prof._asdict())):>9}"
        line += f"  {fixed or row.get('verdict', 'n/a')}"
        lines.append(line)
    lines.append(
        f"{'mean':>5} {'':>6} {f6(table.mean_overlap_before.mean()):>10} {f6(table.mean_overlap_after.mean()):>10} "
        f"{f6(table.delta.mean()):>10}"
    )
    if not result.floor_layer.empty:
        floor = result.floor_layer.iloc[0]
        beyond = table.loc[table.get("beyond_static_meaning", pd.Series(dtype=float)) == 1.0, "layer"]
        lines.append(
            f"{'emb':>5} {'emb':>6} {f6(floor['mean_overlap_before']):>10} {f6(floor['mean_overlap_after']):>10} "
            f"{f6(floor['delta']):>10}  lexical floor (input embeddings, k = {int(floor['n_components'])}; pctl. 95% CI "
            f"[{f3(floor.get('ci_low'))}, {f3(floor.get('ci_high'))}]); layers beyond it: "
            f"{', '.join(str(int(v)) for v in beyond) or 'none'}"
        )
    if warnings == "log":
        from emoalign.core.log import get_logger

        log = get_logger(__name__)
        for text in layer_table_warnings(result):
            log.warning(printable(f"{result.pair_name}: {text}"))
    else:
        lines += [f"warning: {text}" for text in layer_table_warnings(result)]
    if steps:
        lines.append(
            "copies95: the random-weight copies' one-sided 95 % prediction bound of the overlap; pctl. 95% CI: "
            "percentile bootstrap interval of the layer mean (prompts resampled; an estimate can lie outside its "
            "interval, since resampled subspaces are noisier and sit nearer chance); norm.: normalised overlap "
            "(1 = a twin); a/b/c/all: cells passing (a) correspondence, (b) beyond vocabulary, (c) emotion vs any "
            "prompt group, and all three (emotion-specific)"
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
    test = assignment_test(len(result.config.get("emotions", [])) or 1)
    # with 3 emotions the smallest possible p is 1/3! = 0.167: no test at any usual alpha, so not printed
    if p_group is not None and stats and test.smallest_p < float(result.config.get("alpha", 0.05)):
        lines.append(
            f"prompt-group assignment test over all layer pairs (context): p = {p_group:.3g} ({test.describe()})"
        )
    for emotion, best in summary.get("grid", {}).items():
        lines.append(
            f"grid max {emotion}: {best['max_overlap_after']:.3f} at layers {best['layer']}->{best['target_layer']} "
            f"(p of the grid maximum under the prompt-group null {best['p_max']:.3g})"
        )
    return "\n".join(printable(line) for line in lines)  # names are user data: no terminal controls


def write_pair_reports(
    result: AlignmentResult, path: str | Path, artifacts: dict[str, str] | None = None, *, figures: bool = False,
    steering: SteeringResult | str | None = None,
) -> dict[str, Path]:
    """Write the per-pair report — the comparative report of this one result
    (:func:`emoalign.report.comparative.build_pair_report`) — in English at ``path`` and in Japanese at
    ``<stem>.ja.md`` (:func:`japanese_path`), each listing ``artifacts`` (name -> path) and both
    reports as the study's files. ``figures``: draw the pair's figures beside each report (PNG, in
    ``<report stem>_figures/``); off by default, since they cost more than the report. ``steering``:
    the causal test of the pair (a section at the end of both, its figure with the others) or the
    reason it was skipped (one line); None: no section. Returns ``{"report": English path,
    "report (ja)": Japanese path}``."""
    from emoalign.report.comparative import write_comparative_report

    written = {"report": Path(path), "report (ja)": japanese_path(path)}
    listed = {**(artifacts or {}), **{name: str(p) for name, p in written.items()}}
    for lang, report in zip(("en", "ja"), written.values()):
        write_comparative_report([result], report, lang=lang, figures=figures, figure_formats=("png",), pair=True,
                                 artifacts=listed, steering=steering)
    return written


def write_markdown_report(
    result: AlignmentResult, path: str | Path, artifacts: dict[str, str] | None = None, *, figures: bool = True,
    steering: SteeringResult | str | None = None,
) -> Path:
    """Write the per-pair reports (English at ``path``, Japanese beside it: :func:`write_pair_reports`),
    with the pair's figures unless ``figures=False`` (and the causal test's section, ``steering``);
    returns the English path."""
    return write_pair_reports(result, path, artifacts, figures=figures, steering=steering)["report"]
