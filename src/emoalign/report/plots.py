"""Figures of alignment results: PNG files drawn with matplotlib's Agg canvas (no pyplot, no GUI).

matplotlib is optional (``pip install 'emoalign[plots]'``): :func:`matplotlib_missing` says why
figures cannot be drawn, and reports are then written without them. Axis labels stay in English
(the default fonts carry no Japanese glyphs); captions come from :mod:`emoalign.report.i18n`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emoalign.report.compare import (
    Comparison,
    explained_variance_profile,
    has_column,
    k_sweep_table,
    layer_profile,
    pair_verdict,
)
from emoalign.results import AlignmentResult
from emoalign.storage import atomic_write


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
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def _new_figure(width: float = 6.4, height: float = 4.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    return atomic_write(
        path, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight", pad_inches=0.1,
                                      metadata={"Software": None}),
    )


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


def plot_overlap_profile(profile: pd.DataFrame, title: str, path: Path, *, metric: str = "bounded") -> Path:
    """Overlap before/after against the source layer, with the random-copy band (the copies' mean …
    their one-sided 95 % prediction bound), the CI of the layer mean and the chance level when present
    (see :func:`overlap_bands`). Grid results: the best target layer per source layer."""
    if profile.duplicated("layer").any():
        profile = profile.loc[profile.groupby("layer")["after"].idxmax()]
    profile = profile.sort_values("layer")
    bands = overlap_bands(profile, metric)
    x = profile["layer"].to_numpy()
    fig = _new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    after = _column(profile, "after")
    if bands["copies"]:
        bound = _column(profile, "baseline_overlap_bound")
        low = _column(profile, "baseline_overlap_mean") if has_column(profile, "baseline_overlap_mean") else bound
        ax.fill_between(x, low, bound, color="0.55", alpha=0.3, lw=0,
                        label="random-weight copies: mean … 95% prediction bound")
        ax.plot(x, bound, color="0.45", lw=1)
    if bands["ci"]:
        ax.fill_between(x, _column(profile, "ci_low"), _column(profile, "ci_high"), color="C1", alpha=0.2, lw=0,
                        label="after: 95% CI of the layer mean")
    ax.plot(x, _column(profile, "before"), marker="o", color="C0", label="before")
    ax.plot(x, after, marker="o", color="C1", label="after")
    if bands["chance"]:
        ax.plot(x, _column(profile, "chance"), ls="--", color="k", lw=1, label="chance k/d")
    ax.set_xlabel("source layer")
    ax.set_ylabel(f"overlap ({metric})")
    ax.set_ylim(bottom=0)
    if metric == "bounded":
        ax.set_ylim(top=min(1.05, max(ax.get_ylim()[1], 0.1)))
    ax.set_title(title + ("" if not bands["no_baseline"] else "\n(no random-copy baseline in this artifact)"),
                 fontsize=10)
    _integer_ticks(ax)
    _legend_below(ax)
    return _save(fig, path)


def plot_k_profile(k_profile: pd.DataFrame, title: str, path: Path, *, chosen_k: int | None = None,
                   d_source: int | None = None) -> Path:
    """The verdict as a curve over k: mean overlap after the map and the random-weight copies (mean …
    95 % prediction bound) against k, and the share of cells beyond vocabulary against k."""
    table = k_profile.sort_values("k")
    k = table["k"].to_numpy(dtype=np.float64)
    baseline = has_column(table, "baseline_overlap_bound")
    fig = _new_figure(9.0 if baseline else 6.4, 4.0)
    ax = fig.add_subplot(1, 2 if baseline else 1, 1)
    if baseline:
        ax.fill_between(k, _column(table, "baseline_overlap_mean"), _column(table, "baseline_overlap_bound"),
                        color="0.55", alpha=0.3, lw=0, label="random-weight copies: mean … 95% bound")
        ax.plot(k, _column(table, "baseline_overlap_bound"), color="0.45", lw=1)
    ax.plot(k, _column(table, "mean_overlap_after"), marker="o", color="C1", label="mean overlap after")
    if d_source:
        ax.plot(k, k / float(d_source), ls="--", color="k", lw=1, label="chance k/d")
    if chosen_k is not None:
        ax.axvline(chosen_k, color="0.7", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(k, [str(int(v)) for v in k])
    ax.minorticks_off()
    ax.set_ylim(0, min(1.05, max(ax.get_ylim()[1], 0.1)))
    ax.set_xlabel("k (PCA components)")
    ax.set_ylabel("mean overlap (bounded)")
    ax.set_title("overlap vs k", fontsize=9)
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
        ax2.set_xticks(positions, [str(int(v)) + (" (chosen)" if chosen_k is not None and int(v) == int(chosen_k)
                                                  else "") for v in k], fontsize=8)
        ax2.set_ylim(0, 1.15)
        ax2.set_xlabel("k (PCA components)")
        ax2.set_ylabel("share of cells beyond vocabulary")
        ax2.set_title("beyond vocabulary (BH across cells) vs k", fontsize=9)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_relative_depth(profiles: Sequence[tuple[str, pd.DataFrame]], path: Path) -> Path:
    """After-map overlap of every model against the target layer's relative depth (dotted: each
    model's random-copy bound)."""
    fig = _new_figure(6.4, 4.6)
    ax = fig.add_subplot()
    for i, (label, profile) in enumerate(profiles):
        if profile.duplicated("layer").any():
            profile = profile.loc[profile.groupby("layer")["after"].idxmax()]
        profile = profile.sort_values("rel_depth")
        color = f"C{i % 10}"
        ax.plot(profile["rel_depth"], profile["after"], marker="o", color=color, label=label)
        if has_column(profile, "baseline_overlap_bound"):
            ax.plot(profile["rel_depth"], _column(profile, "baseline_overlap_bound"), ls=":", color=color, lw=1.2)
    for edge in (1 / 3, 2 / 3):
        ax.axvline(edge, color="0.8", lw=0.8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("relative depth of the target layer (layer / (n_layers - 1))")
    ax.set_ylabel("overlap after map")
    ax.set_title("All models on relative depth (dotted: random-copy 95% bound)", fontsize=10)
    _legend_below(ax, ncol=3)
    return _save(fig, path)


def plot_layer_grid(profile: pd.DataFrame, title: str, path: Path) -> Path:
    """Heatmap of the after-map overlap over source layer × target layer."""
    grid = profile.pivot_table(index="layer", columns="target_layer", values="after", aggfunc="mean")
    fig = _new_figure(6.4, 4.8)
    ax = fig.add_subplot()
    image = ax.imshow(grid.to_numpy(dtype=np.float64), aspect="auto", origin="lower", cmap="viridis")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns], fontsize=7)
    ax.set_yticks(range(grid.shape[0]), [str(r) for r in grid.index], fontsize=7)
    if grid.size <= 144:
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=np.float64)):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_xlabel("target layer")
    ax.set_ylabel("source layer")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="overlap after map")
    return _save(fig, path)


def plot_k_sweep(table: pd.DataFrame, title: str, path: Path) -> Path:
    """Mean overlap against k for one pair (before, after, the copies' 95 % bound, chance)."""
    fig = _new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    ax.plot(table["k"], table["mean_before"], marker="o", label="mean before")
    ax.plot(table["k"], table["mean_after"], marker="o", label="mean after")
    if has_column(table, "baseline_overlap_bound"):
        ax.plot(table["k"], table["baseline_overlap_bound"], marker="s", ls=":", color="0.4",
                label="random-copy 95% bound")
    ax.plot(table["k"], table["chance"], ls="--", color="k", lw=1, label="chance k/d")
    ax.set_xticks(table["k"].to_numpy())
    ax.set_xlabel("k (PCA components)")
    ax.set_ylabel("mean overlap")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    _legend_below(ax)
    return _save(fig, path)


def plot_explained_variance(ev: pd.DataFrame, title: str, path: Path, names: tuple[str, str]) -> Path:
    """Explained variance of the k components (summed over k, mean over emotions) per layer."""
    grid = bool(ev.duplicated("layer").any())
    src = ev.drop_duplicates("layer").sort_values("layer")
    tgt = ev.drop_duplicates("target_layer").sort_values("target_layer") if grid else src
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot(src["layer"], src["source"], marker="o", label=f"source: {names[0]}")
    ax.plot(tgt["target_layer"] if grid else tgt["layer"], tgt["target"], marker="o",
            label=f"target: {names[1]}" + ("" if grid else " (at the matched layer)"))
    ax.set_ylim(0, 1.02)
    _integer_ticks(ax)
    ax.set_xlabel("layer" if grid else "source layer")
    ax.set_ylabel("explained variance ratio (sum over k)")
    ax.set_title(title, fontsize=10)
    _legend_below(ax, ncol=1)
    return _save(fig, path)


def pair_figures(
    result: AlignmentResult, folder: Path, *, label: str | None = None, profile: pd.DataFrame | None = None,
    prefix: str = "",
) -> list[FigureFile]:
    """Per-pair figures: overlap vs layer, the verdict vs k (when the artifact has a k profile and a
    verdict), explained variance, and the layer grid for grid results."""
    label = label or result.pair_name
    profile = layer_profile(result) if profile is None else profile
    stem = f"{prefix}{slug(label)}"
    metric = str(result.config.get("metric", "bounded"))
    title = f"{result.source['name']} vs {label}"
    verdict = pair_verdict(result)
    files = [FigureFile("overlap", plot_overlap_profile(profile, f"{title} — {verdict}", folder / f"{stem}_overlap.png",
                                                        metric=metric),
                        label, {"metric": metric, **overlap_bands(profile, metric)})]
    k_profile = getattr(result, "k_profile", None)
    if metric == "bounded" and isinstance(k_profile, pd.DataFrame) and has_column(k_profile, "mean_overlap_after"):
        path = plot_k_profile(k_profile, f"{title}: verdict vs k", folder / f"{stem}_k_profile.png",
                              chosen_k=result.config.get("n_components"), d_source=result.source.get("d_model"))
        kind = "k_profile" if has_column(k_profile, "baseline_overlap_bound") else "k_profile_no_baseline"
        files.append(FigureFile(kind, path, label))
    if result.config.get("layer_match") == "grid" and profile["target_layer"].nunique() > 1:
        files.append(FigureFile("layer_grid", plot_layer_grid(profile, title, folder / f"{stem}_layer_grid.png"),
                                label))
    ev = explained_variance_profile(result)
    if np.isfinite(ev[["source", "target"]].to_numpy(dtype=np.float64)).any():
        names = (str(result.source["name"]), str(result.target["name"]))
        path = plot_explained_variance(ev, title, folder / f"{stem}_explained_variance.png", names)
        files.append(FigureFile("explained_variance", path, label, {"k": result.config.get("n_components")}))
    return files


def comparison_figures(comparison: Comparison, folder: Path) -> tuple[dict[str, list[FigureFile]], list[FigureFile]]:
    """Per-model figures (by label) and the comparison figures (relative depth overlay, k-sweeps)."""
    per_model: dict[str, list[FigureFile]] = {}
    for i, entry in enumerate(comparison.entries):
        per_model[entry.label] = pair_figures(entry.result, folder, label=entry.label, profile=entry.profile,
                                              prefix=f"{i + 1:02d}_")
    overall = [FigureFile(
        "relative_depth",
        plot_relative_depth([(e.label, e.profile) for e in comparison.entries], folder / "relative_depth.png"),
    )]
    for n, group in enumerate(comparison.k_groups):
        first = comparison.entries[group[0]].result
        pair = f"{first.source['name']} vs {first.target['name']}"
        path = plot_k_sweep(k_sweep_table(comparison, group), f"k-sweep: {pair}",
                            folder / f"k_sweep_{n + 1:02d}_{slug(pair)}.png")
        overall.append(FigureFile("k_sweep", path, "", {"pair": pair}))
    return per_model, overall
