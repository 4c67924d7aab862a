"""Figures of alignment results, drawn with matplotlib's Agg canvas (no pyplot, no GUI): a PNG at
200 dpi (embedded in the HTML reports) with an SVG beside it, and a PDF on request
(:data:`FIGURE_FORMATS`). Every file is byte-identical across reruns (no dates, a fixed SVG hash salt).

Figure text follows the report's language: Japanese needs a CJK font that matplotlib can find
(Debian: ``fonts-noto-cjk``); without one, Japanese reports get English figures, never boxes.
matplotlib is optional (``pip install 'emoalign[plots]'``): :func:`matplotlib_missing` says why
figures cannot be drawn, and reports are then written without them. Captions come from
:mod:`emoalign.report.i18n`.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.core.errors import EmoalignError
from emoalign.core.results import AlignmentResult
from emoalign.io.paths import fit_component
from emoalign.io.storage import atomic_write
from emoalign.report.compare import (
    Comparison,
    explained_variance_profile,
    has_column,
    k_sweep_table,
    layer_profile,
    pair_verdict,
)
from emoalign.report.i18n import figure_text, strings

FIGURE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
DEFAULT_FIGURE_FORMATS: tuple[str, ...] = ("png", "svg")
PNG_DPI = 200
SVG_HASH_SALT = "emoalign"  # SVG element ids from a fixed salt: reruns write identical files
CJK_FONTS: tuple[str, ...] = ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "Hiragino Sans",
                              "Yu Gothic", "Meiryo", "TakaoGothic", "VL Gothic", "Source Han Sans JP",
                              "Noto Sans CJK SC")
_CJK_FILE = re.compile(r"(NotoSansCJK|NotoSansJP|SourceHanSans|ipaexg|ipag|Takao|VL-Gothic)", re.IGNORECASE)


@dataclass(frozen=True)
class FigureOptions:
    """How figures are written: the report's language (figure text) and the file formats (PNG first)."""

    lang: str = "en"
    formats: tuple[str, ...] = DEFAULT_FIGURE_FORMATS


def parse_figure_formats(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"png,svg,pdf"`` (or a list) -> ``("png", "svg", "pdf")``: known formats only, PNG always
    included and first (the reports embed it)."""
    items = value.split(",") if isinstance(value, str) else [part for v in value for part in str(v).split(",")]
    wanted = [item.strip().lower().lstrip(".") for item in items if item.strip()]
    unknown = sorted(set(wanted) - set(FIGURE_FORMATS))
    if unknown:
        raise EmoalignError(f"--figure-formats {','.join(unknown)}: unknown (use {', '.join(FIGURE_FORMATS)})")
    return tuple(dict.fromkeys(["png", *wanted]))


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The name of a Japanese-capable font matplotlib can use (Noto Sans CJK JP first), registering an
    installed one its font cache does not know yet; None when none is installed."""
    from matplotlib import font_manager

    def known() -> str | None:
        names = {font.name for font in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in names), None)

    name = known()
    if name is None:
        for path in sorted(font_manager.findSystemFonts()):
            if _CJK_FILE.search(path) and "Mono" not in path and "Bold" not in path and "Serif" not in path:
                with contextlib.suppress(Exception):  # an unreadable font file is skipped
                    font_manager.fontManager.addfont(path)
        name = known()
    return name


def figure_lang(lang: str) -> str:
    """The language figure text can be written in: ``lang``, or English for Japanese without a CJK font."""
    return "ja" if lang == "ja" and cjk_font() is not None else "en"


@contextlib.contextmanager
def figure_style(lang: str) -> Iterator[None]:
    """matplotlib settings of every figure: the CJK font first for Japanese, a fixed SVG hash salt,
    text as paths in SVG (the file renders without the font), and no mathtext: figure text holds
    model names, labels and prompt-set names as typed (``my$model``, ``a$b$c``), which mathtext would
    read as formulas and fail on; emoalign's own figure text uses none. Text drawn here keeps the
    setting (matplotlib stores it per text when the text is created)."""
    import matplotlib

    font = cjk_font() if lang == "ja" else None
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": family, "svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "path",
                                "axes.unicode_minus": lang != "ja", "text.parse_math": False}):
        yield




@dataclass(frozen=True)
class FigureFile:
    """A written figure: ``kind`` (overlap, k_profile, relative_depth, layer_grid, k_sweep, explained_variance),
    the model label it belongs to ('' for comparison figures) and caption parameters."""

    kind: str
    path: Path
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def matplotlib_missing() -> str | None:
    """None when matplotlib can be imported, else one line saying why figures are skipped."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as exc:
        return f"matplotlib is not available ({exc}); install it with pip install 'emoalign[plots]'"
    return None


def figures_dir(report_path: str | Path) -> Path:
    """``<report stem>_figures/`` beside the report."""
    report_path = Path(report_path)
    return report_path.parent / f"{report_path.stem}_figures"


def slug(text: str) -> str:
    """A file-name-safe version of ``text``, short enough for a file name with its prefix and kind
    (a long model name is cut, with a stable hash of the whole)."""
    return fit_component(re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model")


def new_figure(width: float = 6.4, height: float = 4.0):
    """A matplotlib ``Figure`` on an Agg canvas (no pyplot: nothing global, no GUI), in inches."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


METADATA: dict[str, dict[str, None]] = {
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "ModDate": None},
}


def figure_siblings(path: Path, formats: Sequence[str]) -> list[Path]:
    """The files of one figure: the PNG ``path`` and, beside it, one file per other format."""
    return [path.with_suffix(f".{fmt}") for fmt in dict.fromkeys(["png", *formats])]


def _save(fig, path: Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """Write ``fig`` as ``path`` (PNG, :data:`PNG_DPI`) and its siblings in ``formats``, atomically and
    without dates; returns the PNG's path."""
    fig.tight_layout()
    for target in figure_siblings(path, formats):
        fmt = target.suffix.lstrip(".")
        atomic_write(target, lambda tmp, fmt=fmt: fig.savefig(
            tmp, format=fmt, dpi=PNG_DPI, bbox_inches="tight", pad_inches=0.1, metadata=METADATA[fmt]))
    return path


def save_figure(fig, path: Path, formats: Sequence[str] = DEFAULT_FIGURE_FORMATS) -> Path:
    """:func:`_save` for figures drawn outside this module (the causal test's)."""
    return _save(fig, path, formats)


def _legend_below(ax, ncol: int = 2) -> None:
    """The legend under the axes, outside the data area (it never covers a curve)."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=ncol, fontsize=8,
                  frameon=False)


def _column(profile: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(profile[name], errors="coerce").to_numpy(dtype=np.float64)


def overlap_bands(profile: pd.DataFrame, metric: str) -> dict[str, bool]:
    """What the overlap figure draws besides before/after: the random-copy band (copies' mean … 95 %
    prediction bound), the CI band, the chance line, and whether the baseline is missing."""
    bounded = metric == "bounded"
    copies = bounded and has_column(profile, "baseline_overlap_bound")
    return {
        "copies": copies,
        "ci": bounded and has_column(profile, "ci_low") and has_column(profile, "ci_high"),
        "chance": bounded and has_column(profile, "chance"),
        "no_baseline": bounded and not copies,
    }


def _integer_ticks(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_overlap_profile(profile: pd.DataFrame, title: str, path: Path, *, metric: str = "bounded",
                         opts: FigureOptions = FigureOptions(),
                         floor: tuple[float, float, float] | None = None) -> Path:
    """Overlap before/after against the source layer, with the random-copy band (the copies' mean …
    their one-sided 95 % prediction bound), the CI of the layer mean and the chance level when present
    (see :func:`overlap_bands`). Grid results: the best target layer per source layer. The chance line
    is drawn above 'before' (they often coincide) and the legend sits below the axes. ``floor``: the
    lexical floor (the input embeddings' overlap and its 95 % CI), a reference line across the layers."""
    fig = new_figure(6.4, 4.4)
    draw_overlap_profile(fig.add_subplot(), profile, title, metric=metric, lang=opts.lang, floor=floor)
    return _save(fig, path, opts.formats)


def draw_overlap_profile(ax, profile: pd.DataFrame, title: str, *, metric: str = "bounded", lang: str = "en",
                         floor: tuple[float, float, float] | None = None) -> None:
    """Draw :func:`plot_overlap_profile`'s figure on the matplotlib axes ``ax`` (a notebook's own
    axes, or the report figure's)."""
    t = functools.partial(figure_text, lang)
    if profile.duplicated("layer").any():
        profile = profile.loc[profile.groupby("layer")["after"].idxmax()]
    profile = profile.sort_values("layer")
    bands = overlap_bands(profile, metric)
    x = profile["layer"].to_numpy()
    after = _column(profile, "after")
    if bands["copies"]:
        bound = _column(profile, "baseline_overlap_bound")
        low = _column(profile, "baseline_overlap_mean") if has_column(profile, "baseline_overlap_mean") else bound
        ax.fill_between(x, low, bound, color="0.55", alpha=0.3, lw=0, label=t("copies_band"))
        ax.plot(x, bound, color="0.45", lw=1)
    if bands["ci"]:
        ax.fill_between(x, _column(profile, "ci_low"), _column(profile, "ci_high"), color="C1", alpha=0.2, lw=0,
                        label=t("ci_band"))
    ax.plot(x, _column(profile, "before"), marker="o", mfc="white", color="C0", lw=1.5, zorder=2,
            label=t("before"))
    ax.plot(x, after, marker="o", color="C1", zorder=3, label=t("after"))
    if floor is not None and np.isfinite(floor[0]):
        ax.axhspan(floor[1], floor[2], color="C2", alpha=0.12, lw=0)
        ax.axhline(floor[0], color="C2", ls=(0, (1, 1.5)), lw=1.5, zorder=2, label=t("lexical_floor"))
    if bands["chance"]:  # above 'before', which often lies on it
        ax.plot(x, _column(profile, "chance"), ls=(0, (4, 2)), color="k", lw=1.2, zorder=4, label=t("chance"))
    ax.set_xlabel(t("source_layer"))
    ax.set_ylabel(t("overlap_metric", metric=metric))
    ax.set_ylim(bottom=0)
    if metric == "bounded":
        ax.set_ylim(top=min(1.05, max(ax.get_ylim()[1], 0.1)))
    ax.set_title(title + ("" if not bands["no_baseline"] else "\n" + t("no_baseline")), fontsize=10)
    _integer_ticks(ax)
    _legend_below(ax)


def plot_k_profile(k_profile: pd.DataFrame, title: str, path: Path, *, chosen_k: int | None = None,
                   d_source: int | None = None, opts: FigureOptions = FigureOptions()) -> Path:
    """The verdict as a curve over k: mean overlap after the map and the random-weight copies (mean …
    95 % prediction bound) against k, and the share of cells beyond vocabulary against k."""
    t = functools.partial(figure_text, opts.lang)
    table = k_profile.sort_values("k")
    k = table["k"].to_numpy(dtype=np.float64)
    baseline = has_column(table, "baseline_overlap_bound")
    fig = new_figure(9.0 if baseline else 6.4, 4.0)
    ax = fig.add_subplot(1, 2 if baseline else 1, 1)
    if baseline:
        ax.fill_between(k, _column(table, "baseline_overlap_mean"), _column(table, "baseline_overlap_bound"),
                        color="0.55", alpha=0.3, lw=0, label=t("copies_band_short"))
        ax.plot(k, _column(table, "baseline_overlap_bound"), color="0.45", lw=1)
    ax.plot(k, _column(table, "mean_overlap_after"), marker="o", color="C1", label=t("mean_overlap_after"))
    if d_source:
        ax.plot(k, k / float(d_source), ls=(0, (4, 2)), color="k", lw=1.2, zorder=4, label=t("chance"))
    if chosen_k is not None:
        ax.axvline(chosen_k, color="0.7", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(k, [str(int(v)) for v in k])
    ax.minorticks_off()
    ax.set_ylim(0, min(1.05, max(ax.get_ylim()[1], 0.1)))
    ax.set_xlabel(t("k_axis"))
    ax.set_ylabel(t("mean_overlap_bounded"))
    ax.set_title(t("overlap_vs_k"), fontsize=9)
    _legend_below(ax, ncol=1)
    if baseline:
        ax2 = fig.add_subplot(1, 2, 2)
        share = _column(table, "share_beyond_vocabulary")
        positions = np.arange(len(k))
        colors = ["C2" if (chosen_k is not None and int(v) == int(chosen_k)) else "C0" for v in k]
        ax2.bar(positions, share, color=colors, width=0.6)
        for x, value in zip(positions, share):
            if np.isfinite(value):
                ax2.text(x, value + 0.02, f"{value:.0%}", ha="center", va="bottom", fontsize=8)
        ax2.set_xticks(positions, [str(int(v)) + (t("chosen") if chosen_k is not None and int(v) == int(chosen_k)
                                                  else "") for v in k], fontsize=8)
        ax2.set_ylim(0, 1.15)
        ax2.set_xlabel(t("k_axis"))
        ax2.set_ylabel(t("share_beyond"))
        ax2.set_title(t("beyond_vs_k"), fontsize=9)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path, opts.formats)


#: markers of the pairs on the relative-depth figure, in turn (a line that lies on another stays visible)
PAIR_MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def plot_relative_depth(profiles: Sequence[tuple[str, pd.DataFrame]], path: Path, *,
                        opts: FigureOptions = FigureOptions()) -> Path:
    """After-map overlap of every pair against the target layer's relative depth, and each pair's own
    random-copy 95 % bound (dotted, in the pair's colour), both named in the legend by the pair's
    label (``source vs target``: :func:`comparison_figures`). Pairs that share their copies (a trained
    pair and its random control) have equal bounds: their dotted lines are dashed out of phase and the
    pairs differ in marker, so no line hides another."""
    t = functools.partial(figure_text, opts.lang)
    fig = new_figure(6.4, 4.6)
    ax = fig.add_subplot()
    for i, (label, profile) in enumerate(profiles):
        if profile.duplicated("layer").any():
            profile = profile.loc[profile.groupby("layer")["after"].idxmax()]
        profile = profile.sort_values("rel_depth")
        color, marker = f"C{i % 10}", PAIR_MARKERS[i % len(PAIR_MARKERS)]
        ax.plot(profile["rel_depth"], profile["after"], marker=marker, ms=5, mfc="none" if i % 2 else color,
                color=color, lw=1.5, alpha=0.9, zorder=3, label=label)
        if has_column(profile, "baseline_overlap_bound"):
            # a dash of 1.5 in every 6, shifted by 1.5 per pair: up to four equal bounds interleave their colours
            offset = 1.5 * (i % 4)
            ax.plot(profile["rel_depth"], _column(profile, "baseline_overlap_bound"), color=color, lw=1.4,
                    ls=(offset, (1.5, 4.5)), zorder=2, label=t("pair_bound", label=label))
    for edge in (1 / 3, 2 / 3):
        ax.axvline(edge, color="0.8", lw=0.8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(t("rel_depth_axis"))
    ax.set_ylabel(t("overlap_after_map"))
    ax.set_title(t("rel_depth_title"), fontsize=10)
    _legend_below(ax, ncol=2)
    return _save(fig, path, opts.formats)


def grid_centre(profile: pd.DataFrame) -> tuple[float, str]:
    """Where the grid heatmap's diverging colour scale is white: the random-weight copies' mean
    overlap when the artifact has them, else the chance level k/d (NaN when neither)."""
    for column, name in (("baseline_overlap_mean", "centre_copies"), ("chance", "centre_chance")):
        if has_column(profile, column):
            return float(np.nanmean(_column(profile, column))), name
    return float("nan"), ""


def significance_marks(profile: pd.DataFrame) -> pd.DataFrame:
    """Per layer pair: ``"**"`` when every emotion is beyond vocabulary, ``"*"`` when some are, ``""``
    otherwise (BH across cells, the verdict's step b); all empty without the step counts."""
    if "n_beyond_vocabulary" not in profile or "n_cells" not in profile:
        return profile.assign(mark="")[["layer", "target_layer", "mark"]]
    n = pd.to_numeric(profile["n_beyond_vocabulary"], errors="coerce").fillna(0).to_numpy()
    total = pd.to_numeric(profile["n_cells"], errors="coerce").fillna(0).to_numpy()
    marks = np.where((n > 0) & (n >= total), "**", np.where(n > 0, "*", ""))
    return profile.assign(mark=marks)[["layer", "target_layer", "mark"]]


def plot_layer_grid(profile: pd.DataFrame, title: str, path: Path, *, alpha: float = 0.05,
                    opts: FigureOptions = FigureOptions()) -> Path:
    """Heatmap of the after-map overlap over source layer × target layer on a diverging scale that is
    white at the random-weight copies' mean (else at chance): red beats it, blue falls below. Stars mark
    layer pairs beyond vocabulary (:func:`significance_marks`); tick labels thin out on large grids."""
    from matplotlib.colors import Normalize, TwoSlopeNorm

    t = functools.partial(figure_text, opts.lang)
    grid = profile.pivot_table(index="layer", columns="target_layer", values="after", aggfunc="mean")
    marks = significance_marks(profile).pivot_table(index="layer", columns="target_layer", values="mark",
                                                    aggfunc="first").reindex(index=grid.index, columns=grid.columns)
    values = grid.to_numpy(dtype=np.float64)
    n_rows, n_cols = values.shape
    fig = new_figure(min(12.0, max(6.4, 0.45 * n_cols + 2.5)), min(10.0, max(4.8, 0.4 * n_rows + 2.0)))
    ax = fig.add_subplot()
    centre, centre_name = grid_centre(profile)
    top = max(1.0, float(np.nanmax(values))) if np.isfinite(values).any() else 1.0
    norm = TwoSlopeNorm(vmin=0.0, vcenter=centre, vmax=top) if 0.0 < centre < top else Normalize(0.0, top)
    image = ax.imshow(values, aspect="auto", origin="lower", cmap="RdBu_r", norm=norm)
    size = 8 if max(n_rows, n_cols) <= 16 else 6
    x_step, y_step = max(1, n_cols // 24), max(1, n_rows // 24)
    ax.set_xticks(range(0, n_cols, x_step), [str(c) for c in grid.columns[::x_step]], fontsize=size)
    ax.set_yticks(range(0, n_rows, y_step), [str(r) for r in grid.index[::y_step]], fontsize=size)
    annotate = values.size <= 144
    for (i, j), value in np.ndenumerate(values):
        star = marks.iat[i, j] if isinstance(marks.iat[i, j], str) else ""
        if not np.isfinite(value) or not (annotate or star):
            continue
        dark = abs(norm(value) - 0.5) > 0.3  # white text on saturated colours
        ax.text(j, i, f"{value:.2f}{star}" if annotate else star, ha="center", va="center", fontsize=size - 1,
                color="white" if dark else "black")
    ax.set_xlabel(t("target_layer"))
    ax.set_ylabel(t("source_layer"))
    ax.set_title(title, fontsize=10)
    label = (t("grid_colorbar", centre_name=t(centre_name), centre=f"{centre:.3f}") if centre_name
             else t("overlap_after_map"))
    fig.colorbar(image, ax=ax, label=label)
    if (marks == "*").any().any() or (marks == "**").any().any():
        ax.annotate(t("grid_marks", alpha=alpha), xy=(0, -0.16), xycoords="axes fraction", fontsize=8,
                    va="top")
    return _save(fig, path, opts.formats)


def plot_k_sweep(table: pd.DataFrame, title: str, path: Path, *, opts: FigureOptions = FigureOptions()) -> Path:
    """Mean overlap against k for one pair (before, after, the copies' 95 % bound, chance)."""
    t = functools.partial(figure_text, opts.lang)
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    ax.plot(table["k"], table["mean_before"], marker="o", mfc="white", label=t("mean_before"))
    ax.plot(table["k"], table["mean_after"], marker="o", label=t("mean_after"))
    if has_column(table, "baseline_overlap_bound"):
        ax.plot(table["k"], table["baseline_overlap_bound"], marker="s", ls=":", color="0.4", label=t("copies_bound"))
    ax.plot(table["k"], table["chance"], ls=(0, (4, 2)), color="k", lw=1.2, zorder=4, label=t("chance"))
    ax.set_xticks(table["k"].to_numpy())
    ax.set_xlabel(t("k_axis"))
    ax.set_ylabel(t("mean_overlap"))
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    _legend_below(ax)
    return _save(fig, path, opts.formats)


def plot_explained_variance(ev: pd.DataFrame, title: str, path: Path, names: tuple[str, str], *,
                            opts: FigureOptions = FigureOptions()) -> Path:
    """Explained variance of the k components (summed over k, mean over emotions) per layer."""
    t = functools.partial(figure_text, opts.lang)
    grid = bool(ev.duplicated("layer").any())
    src = ev.drop_duplicates("layer").sort_values("layer")
    tgt = ev.drop_duplicates("target_layer").sort_values("target_layer") if grid else src
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot(src["layer"], src["source"], marker="o", label=t("source_model", name=names[0]))
    ax.plot(tgt["target_layer"] if grid else tgt["layer"], tgt["target"], marker="o",
            label=t("target_model" if grid else "target_model_matched", name=names[1]))
    ax.set_ylim(0, 1.02)
    _integer_ticks(ax)
    ax.set_xlabel(t("layer" if grid else "source_layer"))
    ax.set_ylabel(t("explained_variance"))
    ax.set_title(title, fontsize=10)
    _legend_below(ax, ncol=1)
    return _save(fig, path, opts.formats)


def pair_figures(
    result: AlignmentResult, folder: Path, *, label: str | None = None, profile: pd.DataFrame | None = None,
    prefix: str = "", opts: FigureOptions = FigureOptions(),
) -> list[FigureFile]:
    """Per-pair figures: overlap vs layer, the verdict vs k (when the artifact has a k profile and a
    verdict), explained variance, and the layer grid for grid results. Figure text in ``opts.lang``
    (English where no CJK font is installed)."""
    opts = FigureOptions(figure_lang(opts.lang), opts.formats)
    with figure_style(opts.lang):
        return _pair_figures(result, folder, label or result.pair_name,
                             layer_profile(result) if profile is None else profile, prefix, opts)


def _pair_figures(result: AlignmentResult, folder: Path, label: str, profile: pd.DataFrame, prefix: str,
                  opts: FigureOptions) -> list[FigureFile]:
    stem = f"{prefix}{slug(label)}"
    metric = str(result.config.get("metric", "bounded"))
    title = f"{result.source['name']} vs {label}"
    verdict = strings(opts.lang).verdict(pair_verdict(result))
    floor = None
    if not result.floor_layer.empty and metric == "bounded":
        row = result.floor_layer.iloc[0]
        floor = (float(row["mean_overlap_after"]), float(row.get("ci_low", np.nan)), float(row.get("ci_high", np.nan)))
    files = [FigureFile("overlap", plot_overlap_profile(profile, f"{title} — {verdict}", folder / f"{stem}_overlap.png",
                                                        metric=metric, opts=opts, floor=floor),
                        label, {"metric": metric, **overlap_bands(profile, metric)})]
    k_profile = getattr(result, "k_profile", None)
    if metric == "bounded" and isinstance(k_profile, pd.DataFrame) and has_column(k_profile, "mean_overlap_after"):
        path = plot_k_profile(k_profile, figure_text(opts.lang, "verdict_vs_k", title=title),
                              folder / f"{stem}_k_profile.png", chosen_k=result.config.get("n_components"),
                              d_source=result.source.get("d_model"), opts=opts)
        kind = "k_profile" if has_column(k_profile, "baseline_overlap_bound") else "k_profile_no_baseline"
        files.append(FigureFile(kind, path, label))
    if result.config.get("layer_match") == "grid" and profile["target_layer"].nunique() > 1:
        alpha = float(result.config.get("alpha", 0.05))
        path = plot_layer_grid(profile, title, folder / f"{stem}_layer_grid.png", alpha=alpha, opts=opts)
        files.append(FigureFile("layer_grid", path, label, {"alpha": alpha}))
    ev = explained_variance_profile(result)
    if np.isfinite(ev[["source", "target"]].to_numpy(dtype=np.float64)).any():
        names = (str(result.source["name"]), str(result.target["name"]))
        path = plot_explained_variance(ev, title, folder / f"{stem}_explained_variance.png", names, opts=opts)
        files.append(FigureFile("explained_variance", path, label, {"k": result.config.get("n_components")}))
    return files


def pair_label(result: AlignmentResult, label: str | None = None) -> str:
    """``source vs target`` of a figure's legend: the source's name and the target's label in the
    comparison (``label``: unique among the pairs, e.g. ``qwen (k=4)``; default the target's name)."""
    return f"{result.source.get('name')} vs {label if label is not None else result.target.get('name')}"


def comparison_figures(comparison: Comparison, folder: Path, *,
                       opts: FigureOptions = FigureOptions()) -> tuple[dict[str, list[FigureFile]], list[FigureFile]]:
    """Per-model figures (by label) and the comparison figures (relative depth overlay, k-sweeps)."""
    per_model: dict[str, list[FigureFile]] = {}
    for i, entry in enumerate(comparison.entries):
        per_model[entry.label] = pair_figures(entry.result, folder, label=entry.label, profile=entry.profile,
                                              prefix=f"{i + 1:02d}_", opts=opts)
    opts = FigureOptions(figure_lang(opts.lang), opts.formats)
    with figure_style(opts.lang):
        overall = [FigureFile(
            "relative_depth",
            plot_relative_depth([(pair_label(e.result, e.label), e.profile) for e in comparison.entries],
                                folder / "relative_depth.png", opts=opts),
        )]
        for n, group in enumerate(comparison.k_groups):
            first = comparison.entries[group[0]].result
            pair = f"{first.source['name']} vs {first.target['name']}"
            path = plot_k_sweep(k_sweep_table(comparison, group), figure_text(opts.lang, "k_sweep", pair=pair),
                                folder / f"k_sweep_{n + 1:02d}_{slug(pair)}.png", opts=opts)
            overall.append(FigureFile("k_sweep", path, "", {"pair": pair}))
    return per_model, overall
