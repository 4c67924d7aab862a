"""The causal test in the reports: a section of every per-pair report on decoders (and of the
demo's), the `emoalign steer` report, the terminal table, and the figure (dose–response per
condition, the specificity matrices). Every sentence is a ``steer_*`` template of the catalog; every
user string (model names, emotion labels, tokens, prompts, continuations) goes through
:func:`~emoalign.report.document.md` in the reports and :func:`~emoalign.core.text.printable` in
figures and on the terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from emoalign.core.steering import CONDITIONS, SteeringResult
from emoalign.core.text import printable
from emoalign.io.storage import write_text_atomic
from emoalign.report.document import (
    Block,
    Heading,
    Image,
    Paragraph,
    bullets,
    japanese_path,
    md,
    table,
    to_markdown,
)
from emoalign.report.i18n import Strings, strings

__all__ = [
    "verdict_sentence", "steering_section", "steering_skipped_section", "steering_lines", "write_steering_figure",
    "write_steering_reports", "steering_appendix",
]

#: tokens listed per emotion before "and n more"
MAX_TOKENS = 12
#: the colour of each condition in the figure (colour-blind-safe Dark2, the nulls muted)
COLOURS: dict[str, str] = {"own": "#1b9e77", "transferred": "#d95f02", "random": "#7570b3", "shuffled": "#8c8c8c"}


def _finite(value: object) -> bool:
    try:
        return value is not None and bool(np.isfinite(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _num(value: object, digits: int = 2) -> str:
    return f"{float(value):.{digits}f}" if _finite(value) else "n/a"  # type: ignore[arg-type]


def _signed(value: object) -> str:
    """``+0.42``; a value that rounds to zero reads ``+0.00``, never ``-0.00``."""
    return f"{round(float(value), 2) + 0.0:+.2f}" if _finite(value) else "n/a"  # type: ignore[arg-type]


def _p(value: object) -> str:
    """A p-value: three significant digits, as the rest of the reports write them."""
    return f"{float(value):.3g}" if _finite(value) else "n/a"  # type: ignore[arg-type]


def _interval(value: object, low: object, high: object, *, signed: bool = True) -> str:
    """``+0.42 [0.30, 0.55]``; ``n/a`` alone when there is no value."""
    if not _finite(value):
        return "n/a"
    return f"{_signed(value) if signed else _num(value)} [{_num(low)}, {_num(high)}]"


def _layers(row: Mapping) -> str:
    return f"{int(row['layer'])}→{int(row['target_layer'])}"


def _scale(value: object) -> str:
    return f"{float(value):g}"  # type: ignore[arg-type]


def verdict_sentence(row: Mapping, target: str, lang: str, *, alpha: float = 0.05) -> str:
    """A cell's verdict (``row`` of :attr:`SteeringResult.cells`) in plain words of ``lang``, naming
    ``target``, the steered model (escaped here: pass the name as it is). A transfer where the target's
    own vector does not steer (its p vs random above ``alpha``, or no efficiency) says so instead of
    quoting an efficiency against a reference that does not work."""
    T = strings(lang)
    verdict = str(row["verdict"])
    if verdict == "transfers" and (not _finite(row.get("efficiency"))
                                   or (_finite(row.get("p_own_random")) and float(row["p_own_random"]) > alpha)):
        verdict = "transfers_own_flat"
    return T(f"steer_verdict_{verdict}", target=md(target), emotion=md(row["emotion"]),
             efficiency=_num(row.get("efficiency")), low=_num(row.get("efficiency_ci_low")),
             high=_num(row.get("efficiency_ci_high")), p_random=_p(row.get("p_random")),
             p_shuffled=_p(row.get("p_shuffled")), p_own=_p(row.get("p_own_random")))


def _name(model: Mapping) -> str:
    return str(model.get("name", ""))


def _layer_pairs(result: SteeringResult) -> list[tuple[int, int]]:
    frame = result.layers if len(result.layers) else result.cells
    return [(int(a), int(b)) for a, b in dict.fromkeys(zip(frame["layer"], frame["target_layer"]))]


def _cells_table(T: Strings, result: SteeringResult) -> Block:
    target = _name(result.target)
    return table(
        [T("steer_col_layers"), T("steer_col_emotion"), T("steer_col_own"), T("steer_col_transferred"),
         T("steer_col_efficiency"), T("steer_col_p_random"), T("steer_col_p_shuffled"), T("steer_col_verdict")],
        [(_layers(row), md(row["emotion"]),
          _interval(row["effect_own"], row["own_ci_low"], row["own_ci_high"]),
          _interval(row["effect_transferred"], row["transferred_ci_low"], row["transferred_ci_high"]),
          _interval(row["efficiency"], row["efficiency_ci_low"], row["efficiency_ci_high"], signed=False),
          _p(row["p_random"]), _p(row["p_shuffled"]),
          verdict_sentence(row, target, T.lang, alpha=float(result.config.get("alpha", 0.05))))
         for row in result.cells.to_dict(orient="records")],
    )


def _matrix(result: SteeringResult, layer: int, target_layer: int, condition: str) -> pd.DataFrame:
    """The ``condition``'s shifts at the test scale as a (vector emotion × emotion read) frame."""
    emotions = list(result.emotions)
    frame = result.matrices
    if not len(frame):
        return pd.DataFrame(np.nan, index=emotions, columns=emotions)
    frame = frame[(frame["layer"] == layer) & (frame["target_layer"] == target_layer)
                  & (frame["condition"] == condition)]
    grid = frame.pivot_table(index="vector_emotion", columns="toward_emotion", values="mean_shift", aggfunc="mean")
    return grid.reindex(index=emotions, columns=emotions)


def _matrices_blocks(T: Strings, result: SteeringResult, heading_level: int) -> list[Block]:
    """One table for every layer pair: a row per vector, a column per emotion read, each cell the
    own / transferred shift, the diagonal in bold."""
    emotions = list(result.emotions)
    rows = []
    for layer, target_layer in _layer_pairs(result):
        own, transferred = (_matrix(result, layer, target_layer, c) for c in ("own", "transferred"))
        for vector in emotions:
            cells = []
            for toward in emotions:
                text = f"{_signed(own.loc[vector, toward])} / {_signed(transferred.loc[vector, toward])}"
                cells.append(f"**{text}**" if vector == toward else text)
            rows.append((f"{layer}→{target_layer}", md(vector), *cells))
    cosines = ", ".join(f"{_layers(row)}: {_num(row.get('cosine_own_transferred'))}"
                        for row in result.layers.to_dict(orient="records")) or "n/a"
    return [
        Heading(T("steer_h_matrices"), heading_level + 1),
        Paragraph(T("steer_matrices_intro", scale=_scale(result.config.get("test_scale", float("nan"))),
                    cosines=cosines)),
        table([T("steer_col_layers"), T("steer_col_vector"), *(md(e) for e in emotions)], rows),
    ]


def _dose_summary(result: SteeringResult, layer: int, target_layer: int) -> dict[str, pd.DataFrame]:
    """Per condition, the dose–response averaged over the emotions: scale -> mean, low, high."""
    dose = result.dose
    if not len(dose):
        return {}
    dose = dose[(dose["layer"] == layer) & (dose["target_layer"] == target_layer)]
    out = {}
    for condition in CONDITIONS:
        frame = dose[dose["condition"] == condition]
        if len(frame):
            out[condition] = frame.groupby("scale")[["mean_shift", "ci_low", "ci_high"]].mean().sort_index()
    return out


def _dose_blocks(T: Strings, result: SteeringResult, heading_level: int) -> list[Block]:
    """The dose–response as a compact table (when no figure shows it): a row per layer pair and
    condition, a column per scale."""
    scales = sorted({float(s) for s in result.dose["scale"]}) if len(result.dose) else []
    if not scales:
        return []
    rows = []
    for layer, target_layer in _layer_pairs(result):
        for condition, frame in _dose_summary(result, layer, target_layer).items():
            rows.append((f"{layer}→{target_layer}", T(f"steer_cond_{condition}"),
                         *(_interval(*frame.loc[s, ["mean_shift", "ci_low", "ci_high"]]) if s in frame.index else "n/a"
                           for s in scales)))
    return [Heading(T("steer_h_dose"), heading_level + 1), Paragraph(T("steer_dose_intro")),
            table([T("steer_col_layers"), T("steer_col_condition"), *(T("steer_col_scale", scale=_scale(s))
                                                                      for s in scales)], rows)]


def _tokens_blocks(T: Strings, result: SteeringResult, heading_level: int) -> list[Block]:
    if not result.tokens:
        return []
    items = []
    for emotion, tokens in result.tokens.items():
        shown = ", ".join(md(token) for token in tokens[:MAX_TOKENS])
        more = T("steer_more", n=len(tokens) - MAX_TOKENS) if len(tokens) > MAX_TOKENS else ""
        items.append(f"**{md(emotion)}**: {shown}{more}")
    return [Heading(T("steer_h_tokens"), heading_level + 1), Paragraph(T("steer_tokens_intro")), bullets(items)]


def _condition_words(T: Strings, continuation: Mapping) -> str:
    condition = str(continuation.get("condition"))
    if condition not in ("base", "own", "transferred"):
        return md(condition)
    return T(f"steer_condition_{condition}", emotion=md(continuation.get("emotion") or ""))


def _continuations_blocks(T: Strings, result: SteeringResult, heading_level: int) -> list[Block]:
    """The greedy continuations: per prompt, a table of what each vector made of it."""
    if not result.continuations:
        return []
    first = result.continuations[0]
    blocks: list[Block] = [
        Heading(T("steer_h_continuations"), heading_level + 1),
        Paragraph(T("steer_continuations_intro", layers=_layers(first),
                    scale=_scale(result.config.get("test_scale", float("nan"))))),
    ]
    by_prompt: dict[str, list[Mapping]] = {}
    for continuation in result.continuations:
        by_prompt.setdefault(str(continuation.get("prompt", "")), []).append(continuation)
    for prompt, rows in by_prompt.items():
        blocks += [Paragraph(T("steer_continuation_prompt", prompt=md(prompt))),
                   table([T("steer_col_steered_by"), T("steer_col_text")],
                         [(_condition_words(T, c), md(str(c.get("text", "")).strip())) for c in rows])]
    return blocks


def steering_section(result: SteeringResult, lang: str, *, figure: str | None = None,
                     figure_file: Path | None = None, heading_level: int = 2) -> list[Block]:
    """The causal test of one pair as report blocks in ``lang``: what was done, the headline, the cells
    with their verdicts, the specificity matrices, the dose–response (a table when no figure shows it),
    the tokens read, the continuations and the figure. ``figure``: the figure's path relative to the
    report; ``figure_file``: where its PNG lies (for the HTML page; default ``figure``)."""
    T = strings(lang)
    cfg = result.config
    source, target = md(_name(result.source)), md(_name(result.target))
    cells = result.cells
    alpha = cfg.get("alpha", 0.05)
    r2 = ", ".join(f"{_layers(row)}: {_num(row.get('map_r2_prompts'))}"
                   for row in result.layers.to_dict(orient="records")) or "n/a"
    blocks: list[Block] = [
        Heading(T("steer_heading", source=source, target=target), heading_level),
        Paragraph(T("steer_method", source=source, target=target, map=md(cfg.get("map_method", "n/a")), r2=r2,
                    scales=", ".join(_scale(s) for s in cfg.get("scales", [])),
                    test_scale=_scale(cfg.get("test_scale", float("nan"))), n_prompts=cfg.get("n_prompts", "n/a"),
                    n_random=cfg.get("n_random", "n/a"), n_shuffles=cfg.get("n_shuffles", "n/a"), alpha=alpha)),
        Paragraph(T("steer_headline", n=int((cells["verdict"] == "transfers").sum()) if len(cells) else 0,
                    n_cells=len(cells), target=target,
                    n_own=int((cells["p_own_random"] <= alpha).sum()) if len(cells) else 0)),
    ]
    if len(cells):
        blocks += [_cells_table(T, result),
                   Paragraph(T("steer_legend", scale=_scale(cfg.get("test_scale", float("nan")))))]
        blocks += _matrices_blocks(T, result, heading_level)
    if figure is None:
        blocks += _dose_blocks(T, result, heading_level)
    blocks += _tokens_blocks(T, result, heading_level)
    blocks += _continuations_blocks(T, result, heading_level)
    if figure is not None:
        blocks.append(Image(figure, T("steer_figure_caption", source=source, target=target),
                            figure_file if figure_file is not None else Path(figure)))
    if result.seconds > 0:
        blocks.append(Paragraph(T("steer_time", seconds=result.seconds)))
    return blocks


def steering_skipped_section(reason: str, lang: str, *, heading_level: int = 2) -> list[Block]:
    """A short section with one line saying why the causal test did not run (an encoder has no
    next-token head)."""
    T = strings(lang)
    return [Heading(T("steer_heading_skipped"), heading_level),
            Paragraph(T("steer_skipped", reason=md(str(reason).strip().rstrip(".")) or "n/a"))]


def steering_lines(result: SteeringResult) -> list[str]:
    """The cells as a plain-text table for the terminal, then the headline."""
    cells = result.cells
    lines = [f"causal test {printable(result.config.get('direction', result.pair_name))}: "
             f"{int((cells['verdict'] == 'transfers').sum())} of {len(cells)} cells transfer "
             f"(test scale {result.config.get('test_scale', 0):g} of the residual norm)",
             f"{'layers':<8} {'emotion':<12} {'own':>7} {'transferred':>11} {'efficiency':>10} {'p random':>9} "
             f"{'p shuffled':>10}  verdict"]
    for _, row in cells.iterrows():
        lines.append(printable(
            f"{_layers(row):<8} {printable(row['emotion']):<12} {row['effect_own']:>+7.2f} "
            f"{row['effect_transferred']:>+11.2f} {_num(row['efficiency']):>10} {_p(row['p_random']):>9} "
            f"{_p(row['p_shuffled']):>10}  {str(row['verdict']).replace('_', ' ')}"
        ))
    return lines


def write_steering_figure(result: SteeringResult, path: Path, lang: str, *,
                          formats: Sequence[str] = ("png",)) -> Path:
    """One PNG at ``path``: per layer pair (a row), the dose–response (mean shift toward each vector's
    own emotion averaged over the emotions, per condition; own and transferred with their bootstrap
    band, the nulls with their 5th–95th percentile band; the test scale dotted) and the shifts of the
    own and the transferred vectors on every emotion at the test scale (one colour scale per row).
    Text in ``lang`` (English where no CJK font is installed); other ``formats`` beside the PNG."""
    from emoalign.report.plots import figure_lang, figure_style, new_figure, save_figure

    lang = figure_lang(lang)
    T = strings(lang)
    layer_pairs = _layer_pairs(result)
    emotions = list(result.emotions)
    names = [printable(e) for e in emotions]
    test_scale = result.config.get("test_scale")
    with figure_style(lang):
        fig = new_figure(13, 3.6 * max(1, len(layer_pairs)) + 0.4)
        axes = fig.subplots(max(1, len(layer_pairs)), 3, squeeze=False,
                            gridspec_kw={"width_ratios": (1.25, 1, 1)})
        for i, (layer, target_layer) in enumerate(layer_pairs):
            layers = f"{layer}→{target_layer}"
            ax = axes[i, 0]
            scales: set[float] = set()
            for condition, frame in _dose_summary(result, layer, target_layer).items():
                colour = COLOURS[condition]
                null = condition in ("random", "shuffled")
                ax.plot(frame.index, frame["mean_shift"], marker="o", ms=4, color=colour,
                        ls="--" if null else "-", label=T(f"steer_cond_{condition}"))
                ax.fill_between(frame.index, frame["ci_low"], frame["ci_high"], color=colour,
                                alpha=0.12 if null else 0.2, lw=0)
                scales.update(float(s) for s in frame.index)
            ax.axhline(0, color="black", lw=0.6)
            if _finite(test_scale):
                ax.axvline(float(test_scale), color="black", lw=0.8, ls=":", label=T("steer_plot_test_scale"))
            if scales:
                ticks = sorted(scales)
                if len(ticks) > 1 and ticks[-1] / ticks[0] >= 4:
                    ax.set_xscale("log")
                ax.set_xticks(ticks, [_scale(s) for s in ticks])  # fixed labels: no mathtext (figure_style)
                ax.minorticks_off()
            ax.set_xlabel(T("steer_plot_scale"), fontsize=9)
            ax.set_ylabel(T("steer_plot_shift"), fontsize=9)
            ax.set_title(T("steer_plot_dose", layers=layers), fontsize=10)
            ax.tick_params(labelsize=8)
            if i == 0:
                ax.legend(fontsize=7.5, loc="upper left", framealpha=0.85)
            grids = [_matrix(result, layer, target_layer, c).to_numpy(dtype=float) for c in ("own", "transferred")]
            finite = np.concatenate([g[np.isfinite(g)] for g in grids])
            limit = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
            for j, (condition, grid) in enumerate(zip(("own", "transferred"), grids), start=1):
                ax = axes[i, j]
                image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit)
                ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
                ax.set_yticks(range(len(names)), names, fontsize=8)
                ax.set_xlabel(T("steer_plot_toward"), fontsize=9)
                ax.set_ylabel(T("steer_plot_vector"), fontsize=9)
                ax.set_title(T(f"steer_plot_matrix_{condition}", layers=layers), fontsize=10)
                if len(emotions) <= 8:
                    for (r, c), value in np.ndenumerate(grid):
                        dark = np.isfinite(value) and abs(value) > 0.55 * limit
                        ax.text(c, r, _signed(value), ha="center", va="center", fontsize=8,
                                color="white" if dark else "black")
                colourbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
                colourbar.ax.tick_params(labelsize=7)
        return save_figure(fig, path, tuple(formats))


def write_steering_reports(result: SteeringResult, path: str | Path, *, figures: bool = True) -> dict[str, Path]:
    """The `emoalign steer` report in English at ``path`` and Japanese at ``<stem>.ja.md``, each with
    its figure in ``<stem>_figures/``."""
    path = Path(path)
    written: dict[str, Path] = {}
    for lang, report in (("en", path), ("ja", japanese_path(path))):
        T = strings(lang)
        blocks = [Heading(T("steer_title", source=md(_name(result.source)), target=md(_name(result.target))), 1),
                  *steering_appendix(result, report, lang, figures=figures)]
        name = "steering report" if lang == "en" else "steering report (ja)"
        written[name] = write_text_atomic(report, to_markdown(blocks))
    return written


def steering_appendix(steering: SteeringResult | str | None, report: str | Path, lang: str, *,
                      figures: bool = False, formats: Sequence[str] = ("png",)) -> list[Block]:
    """The causal test's blocks at the end of a pair report at ``report``: its section (with its figure
    in ``<report stem>_figures/steering.png`` when ``figures`` and matplotlib is installed), the
    skipped line (``steering`` a reason), or nothing (None)."""
    if steering is None:
        return []
    if isinstance(steering, str):
        return steering_skipped_section(steering, lang)
    figure = file = None
    if figures:
        from emoalign.report.plots import figures_dir, matplotlib_missing

        if matplotlib_missing() is None and len(steering.cells):
            file = write_steering_figure(steering, figures_dir(report) / "steering.png", lang, formats=formats)
            figure = f"{file.parent.name}/{file.name}"
    return steering_section(steering, lang, figure=figure, figure_file=file)
