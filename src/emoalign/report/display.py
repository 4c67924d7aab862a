"""An alignment result in a notebook: its verdict and headline, a compact HTML verdict table
(``AlignmentResult._repr_html_``), the overlap figure as a matplotlib ``Figure`` and the per-pair
report written from Python.

:class:`~emoalign.core.results.AlignmentResult` reaches these through the package's lazy public API
(``emoalign.plot_result`` …), never by importing this module: ``core`` sits above ``report`` in the
layers and must not import it (tests/test_architecture.py). Every word comes from the message
catalog (:mod:`emoalign.report.i18n`), every number is rounded as in the reports, and user data
(model and label names) is escaped before it reaches HTML or a figure.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.core.results import AlignmentResult
from emoalign.report.compare import (
    ModelEntry,
    compare_results,
    has_column,
    pair_verdict,
)
from emoalign.report.document import Paragraph, md, table
from emoalign.report.i18n import strings

__all__ = ["result_verdict", "result_headline", "result_html", "plot_result", "write_result_report",
           "MAX_HTML_ROWS"]

#: rows of the notebook table at most (a 24 × 32 grid has 768 layer pairs; the table shows the
#: best target layer of each source layer, and ``result.layer_table()`` holds every pair)
MAX_HTML_ROWS = 40

_CSS = (".emoalign-result table{border-collapse:collapse}"
        ".emoalign-result td.num{text-align:right;font-variant-numeric:tabular-nums}"
        ".emoalign-result th,.emoalign-result td{padding:.15em .5em}")


def _entry(result: AlignmentResult) -> ModelEntry:
    return compare_results([result]).entries[0]


def result_verdict(result: AlignmentResult) -> str:
    """The pair verdict in words, as the reports give it (``shared beyond vocabulary``, ``not tested``
    for statistics that were off, ``no verdict (legacy metric)`` …)."""
    return pair_verdict(result)


def result_headline(result: AlignmentResult, lang: str = "en") -> str:
    """The report's one-sentence headline of the pair: emotion-specific cells, the verdict, static word
    meaning and unsound readouts, in the order a reader must weigh them."""
    from emoalign.report.comparative import headline

    return headline(strings(lang), _entry(result).summary)


def _shown_rows(profile: pd.DataFrame, max_rows: int) -> tuple[pd.DataFrame, str | None]:
    """The rows of the notebook table and, when some are left out, why (a message key)."""
    note = None
    if profile.duplicated("layer").any():  # a grid: the best target layer of each source layer
        profile = profile.loc[profile.groupby("layer", sort=False)["after"].idxmax()].sort_values("layer")
        note = "nb_grid_rows"
    if len(profile) > max_rows:
        profile = profile.iloc[:max_rows]
        note = "nb_more_rows"
    return profile, note


def result_html(result: AlignmentResult, *, lang: str = "en", max_rows: int = MAX_HTML_ROWS) -> str:
    """The verdict table of a notebook: one line naming the pair and its settings, a compact per-layer
    table (the lexical floor first; layer, target layer, before, after, Δ, the copies' bound, the
    percentile CI, the verdict in words) and the pair verdict with its headline. Small (at most
    ``max_rows`` rows) and escaped: names are user data."""
    from emoalign.report.comparative import f3, f6, layer_verdict, pair_verdict_line
    from emoalign.report.html import render_block

    T = strings(lang)
    entry = _entry(result)
    schema = entry.summary["schema"]
    bounded = schema != "legacy"
    profile, note = _shown_rows(entry.profile, max_rows)
    copies = bounded and has_column(profile, "baseline_overlap_bound")
    ci = bounded and has_column(profile, "ci_low") and has_column(profile, "ci_high")
    header = [T("col_layer"), T("col_target_layer"), T("col_before"), T("col_after"), T("col_delta")]
    header += [T("col_copies_bound")] if copies else []
    header += [T("col_ci")] if ci else []
    header.append(T("col_verdict"))
    rows: list[list[str]] = []
    floor = result.floor_layer if bounded else pd.DataFrame()
    if not floor.empty:
        f = floor.iloc[0]
        row = ["emb", "emb", f6(f["mean_overlap_before"]), f6(f["mean_overlap_after"]), f6(f["delta"])]
        row += [""] if copies else []
        row += [f"[{f3(f.get('ci_low'))}, {f3(f.get('ci_high'))}]"] if ci else []
        rows.append(row + [T("floor_row", k=int(f["n_components"]))])
    for _, r in profile.iterrows():
        row = [str(int(r["layer"])), str(int(r["target_layer"])), f6(r["before"]), f6(r["after"]), f6(r["delta"])]
        row += [f3(r["baseline_overlap_bound"])] if copies else []
        row += [f"[{f3(r['ci_low'])}, {f3(r['ci_high'])}]"] if ci else []
        rows.append(row + [layer_verdict(T, r, schema)])
    config = result.config
    title = T("nb_title", source=md(result.source.get("name")), target=md(result.target.get("name")),
              n=len(entry.profile), k=config.get("n_components", "n/a"), metric=md(config.get("metric", "n/a")),
              copies=int(config.get("baseline_copies") or 0))
    blocks = [Paragraph(title), table(header, rows)]
    if note:
        blocks.append(Paragraph(f"_{T(note, shown=len(profile), n=len(entry.profile))}_"))
    blocks.append(Paragraph(pair_verdict_line(T, entry)))
    body = "".join(render_block(block) for block in blocks)
    return f'<div class="emoalign-result"><style>{_CSS}</style>{body}</div>'


def _floor(result: AlignmentResult, metric: str) -> tuple[float, float, float] | None:
    if result.floor_layer.empty or metric != "bounded":
        return None
    row = result.floor_layer.iloc[0]
    return float(row["mean_overlap_after"]), float(row.get("ci_low", np.nan)), float(row.get("ci_high", np.nan))


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def plot_result(result: AlignmentResult, *, ax: Any = None, lang: str = "en", title: str | None = None):
    """The pair's overlap figure — before and after the map per layer, the random-weight copies'
    band up to their 95 % bound, the CI of the layer mean, chance and the lexical floor when the
    artifact has them (:func:`emoalign.report.plots.draw_overlap_profile`, the report's figure) — as a
    matplotlib ``Figure`` (shown inline by Jupyter; no pyplot). ``ax``: draw on these axes instead
    (returns their figure). ``title``: default ``<source> vs <target> — <verdict>``. Needs matplotlib
    (``pip install 'emoalign[plots]'``)."""
    from emoalign.core.errors import EmoalignError
    from emoalign.report.compare import layer_profile
    from emoalign.report.plots import (
        draw_overlap_profile,
        figure_lang,
        figure_style,
        matplotlib_missing,
        new_figure,
    )

    missing = matplotlib_missing()
    if missing:
        raise EmoalignError(missing)
    lang = figure_lang(strings(lang).lang)  # English figure text where no CJK font is installed
    metric = str(result.config.get("metric", "bounded"))
    if title is None:
        title = f"{result.source.get('name')} vs {result.target.get('name')} — {strings(lang).verdict(pair_verdict(result))}"
    with figure_style(lang):
        own = ax is None
        if own:
            fig = new_figure(6.4, 4.4)
            ax = fig.add_subplot()
        draw_overlap_profile(ax, layer_profile(result), title, metric=metric, lang=lang,
                             floor=_floor(result, metric))
        fig = ax.figure
        if own:
            fig.tight_layout()
            # Jupyter shows a Figure made without pyplot through this (the inline backend's own
            # formatter, where active, comes first)
            fig._repr_png_ = functools.partial(_png, fig)
    return fig


def write_result_report(
    result: AlignmentResult, path: str | Path, *, lang: str = "en", figures: bool = True, html: bool = False,
    artifacts: Mapping[str, str] | None = None,
) -> Path:
    """Write the per-pair Markdown report of ``result`` at ``path`` in ``lang`` (``en`` or ``ja``) —
    the report ``emoalign run`` writes for a pair — with its figures (PNG) in ``<stem>_figures/``
    unless ``figures=False``, and the HTML page beside it with ``html=True``. ``artifacts``: files to
    list in its Artifacts section (name -> path). Returns the Markdown path."""
    from emoalign.report.comparative import write_comparative_report

    _, files = write_comparative_report([result], path, lang=lang, html=html, figures=figures,
                                        figure_formats=("png",), pair=True, artifacts=artifacts)
    return Path(files.markdown or path)
