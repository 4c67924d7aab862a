"""An AlignmentResult in a notebook: a repr of a few lines (not every array), a small escaped HTML
verdict table, ``.verdict`` / ``.headline`` as the reports give them, ``.plot()`` as a matplotlib
Figure, ``.report(path, lang)``, ``layer_table(columns="short")``; and the figures' hygiene: one
labelled line and bound per pair on the relative-depth figure, model names with ``$`` drawn as typed.
All on synthetic results run through the real verdict functions (no model runs)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report_compare import deep, make_result, noise, twin, unrelated

import emoalign
from emoalign.core.errors import EmoalignError
from emoalign.core.results import SHORT_LAYER_COLUMNS, AlignmentResult, load
from emoalign.report import display, plots
from emoalign.report.compare import compare_results, pair_verdict
from emoalign.report.i18n import EN, JA
from emoalign.report.summary import format_layer_table, summary_csv_table

SRC = Path(__file__).resolve().parents[1] / "src" / "emoalign"


def with_floor(result: AlignmentResult, after: float = 0.2) -> AlignmentResult:
    """``result`` with a lexical floor (the input-embedding pair) as the pipeline writes it."""
    result.floor_layer = pd.DataFrame([{
        "layer": -1, "mean_overlap_before": 0.01, "mean_overlap_after": after, "delta": after - 0.01,
        "target_layer": -1, "metric": "bounded", "chance": 4 / 64, "ci_low": after - 0.02, "ci_high": after + 0.02,
        "n_components": 4,
    }])
    return result


def grid(n_source: int = 24, n_target: int = 32) -> AlignmentResult:
    source = [s for s in range(n_source) for _ in range(n_target)]
    target = [t for _ in range(n_source) for t in range(n_target)]
    after = np.linspace(0.2, 0.6, len(source))
    return make_result("bigGrid", after, layers=source, target_layers=target, layer_match="grid",
                       n_target_layers=n_target, stats=False)


def variety() -> list[AlignmentResult]:
    return [twin(), unrelated(), deep(), noise(), make_result("nobase", [0.6, 0.7], copies=None),
            make_result("untested", [0.4, 0.5], stats=False),
            make_result("legacy", [0.3, 0.4], metric="legacy", stats=False),
            make_result("old", [0.9, 0.92, 0.95], schema="old")]


# ------------------------------------------------------------------------------------------------
# repr, verdict, headline


def test_repr_is_a_few_lines_naming_pair_metric_k_layers_verdict_and_numbers():
    result = with_floor(twin())
    text = repr(result)
    lines = text.splitlines()
    assert 2 <= len(lines) <= 4 and len(text) < 600, text
    assert lines[0].startswith("AlignmentResult gpt2 vs twin: bounded metric, k = 4, 6 layer pairs: source 0-5")
    assert "5 random-weight copies" in lines[0]
    assert lines[1] == "  pair verdict: shared beyond vocabulary"
    layers = result.layers
    best = layers.loc[layers["mean_overlap_after"].idxmax()]
    assert f"after {layers['mean_overlap_after'].mean():.3f}" in lines[2]
    assert f"best {best['mean_overlap_after']:.3f} at layer {int(best['layer'])}->{int(best['target_layer'])}" in lines[2]
    assert "lexical floor 0.200" in lines[2]
    for value in result.arrays.values():  # not one array is printed
        assert np.array2string(value.ravel()[:3], precision=3)[1:-1] not in text


def test_repr_of_a_big_grid_stays_short_and_never_fails(monkeypatch):
    result = grid()
    assert len(repr(result)) < 400
    assert "768 layer pairs: source 0-23, target 0-31 (grid)" in repr(result)

    def broken(_result):
        raise RuntimeError("report layer unavailable")

    monkeypatch.setattr(display, "result_verdict", broken)
    assert "pair verdict: " in repr(twin())  # the stored words instead, never an exception


def test_repr_escapes_names_that_would_act_on_a_terminal():
    result = twin()
    result.target["name"] = "evil\x1b[2J"
    assert "\x1b" not in repr(result) and "gpt2 vs evil\\x1b[2J" in repr(result)


@pytest.mark.parametrize("result", variety(), ids=lambda r: r.target["name"])
def test_verdict_and_headline_are_the_reports(result):
    assert result.verdict == pair_verdict(result) == emoalign.result_verdict(result)
    assert f"pair verdict: {result.verdict}" in repr(result)
    assert result.headline == emoalign.result_headline(result)
    printed = format_layer_table(result)
    if "headline: " in printed:
        assert f"headline: {result.headline}" in printed


def test_verdicts_of_known_pairs():
    assert twin().verdict == "shared beyond vocabulary"
    assert unrelated().verdict == "not beyond vocabulary"
    assert make_result("legacy", [0.3, 0.4], metric="legacy", stats=False).verdict == "no verdict (legacy metric)"
    assert deep().headline == "Emotion-specific in 18 of 18 cells; shared beyond vocabulary, with 18 of 18 cells passing (b)"
    assert twin().headline.startswith("No cell is emotion-specific (0 of 18 pass all three steps); shared beyond")


# ------------------------------------------------------------------------------------------------
# HTML


def test_repr_html_is_the_compact_verdict_table_with_the_pair_verdict():
    result = with_floor(unrelated())
    html = result._repr_html_()
    assert html == emoalign.result_html(result)
    assert html.startswith('<div class="emoalign-result">') and len(html) < 8000
    header = re.search(r"<thead>(.*?)</thead>", html).group(1)
    columns = re.findall(r"<th>(.*?)</th>", header)
    assert columns == [EN["col_layer"], EN["col_target_layer"], EN["col_before"], EN["col_after"], EN["col_delta"],
                       EN["col_copies_bound"], EN["col_ci"], EN["col_verdict"]]
    rows = re.findall(r"<tr>(.*?)</tr>", re.search(r"<tbody>(.*?)</tbody>", html).group(1))
    assert len(rows) == 1 + len(result.layers)  # the lexical floor first
    assert rows[0].startswith('<td>emb</td><td>emb</td>')
    assert "<strong>Pair verdict</strong>: " in html and unrelated().headline.split(";")[0] in html


def test_repr_html_escapes_names_and_stays_small_on_a_big_grid():
    hostile = make_result("<script>alert(1)</script>_x_*y*", [0.3, 0.4])
    html = hostile._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;_x_*y*" in html
    assert "<em>" not in html  # underscores and stars of a name are not markup
    big = grid()._repr_html_()
    assert len(big) < 20000
    assert big.count("<tr>") == 1 + 24  # header + the best target layer of each of the 24 source layers
    assert "768 layer pairs" in big and "result.layer_table() holds every pair" in big
    assert emoalign.result_html(grid(), max_rows=5).count("<tr>") == 1 + 5


def test_repr_html_in_japanese_uses_the_catalog():
    html = emoalign.result_html(twin(), lang="ja")
    assert f"<th>{JA['col_ci']}</th>" in html and "ランダム重みのコピー 5 個" in html


# ------------------------------------------------------------------------------------------------
# layer_table


def test_layer_table_default_is_every_column_and_short_is_the_readers_few():
    result = with_floor(twin())
    pd.testing.assert_frame_equal(result.layer_table(), result.layers)
    assert result.layer_table() is not result.layers
    assert result.layer_table(columns="all").shape[1] == result.layers.shape[1] > 20
    short = result.layer_table("short")
    assert list(short.columns) == [c for c in SHORT_LAYER_COLUMNS if c in result.layers]
    assert list(short.columns[:5]) == ["layer", "target_layer", "mean_overlap_before", "mean_overlap_after", "delta"]
    assert {"baseline_overlap_bound", "ci_low", "ci_high", "verdict"} <= set(short.columns)
    assert "map_heldout_r2" not in short and len(short.columns) <= 11
    # the summary CSV reads the full table: its columns do not depend on the short view
    assert "map_heldout_r2" in summary_csv_table(result)
    with pytest.raises(EmoalignError, match="layer_table\\(columns='some'\\)"):
        result.layer_table("some")


# ------------------------------------------------------------------------------------------------
# plot and report


def test_plot_returns_a_figure_with_before_after_the_copies_and_the_floor(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    result = with_floor(twin())
    fig = result.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = {line.get_label() for line in ax.get_lines()}
    assert {"before", "after", "chance k/d", "input embeddings (lexical floor, 95% CI shaded)"} <= labels
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "random-weight copies: mean … 95% prediction bound" in legend
    assert ax.get_title() == "gpt2 vs twin — shared beyond vocabulary"
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"  # Jupyter shows it without pyplot


def test_plot_draws_on_given_axes_and_takes_a_title():
    pytest.importorskip("matplotlib")
    fig = plots.new_figure()
    ax = fig.add_subplot(1, 2, 2)
    assert unrelated().plot(ax=ax, title="mine") is fig
    assert ax.get_title() == "mine" and len(ax.get_lines()) >= 2


def test_report_writes_the_per_pair_report_in_the_language_asked(tmp_path):
    result = twin()
    english = result.report(tmp_path / "pair.md", figures=False)
    assert english == tmp_path / "pair.md" and english.read_text().startswith("# ")
    assert "## Purpose" in english.read_text()
    japanese = result.report(tmp_path / "pair_ja.md", lang="ja", figures=False)
    assert "## 目的" in japanese.read_text() and "## Purpose" not in japanese.read_text()
    with pytest.raises(EmoalignError, match="--lang fr"):
        result.report(tmp_path / "x.md", lang="fr")


def test_report_with_figures_writes_them_beside_it(tmp_path):
    pytest.importorskip("matplotlib")
    path = with_floor(twin()).report(tmp_path / "pair.md")
    assert (tmp_path / "pair_figures" / "twin_overlap.png").is_file()
    assert "pair_figures/twin_overlap.png" in path.read_text()


def test_a_result_saved_and_loaded_shows_the_same(tmp_path):
    result = with_floor(deep())
    again = load(result.save(tmp_path))
    assert repr(again) == repr(result) and again._repr_html_() == result._repr_html_()


# ------------------------------------------------------------------------------------------------
# layering and the public API


def test_core_results_does_not_import_the_report_layer():
    tree = ast.parse((SRC / "core" / "results.py").read_text(encoding="utf-8"))
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [m for m in imported if m and m.startswith("emoalign.report")], imported
    for name in ("plot_result", "write_result_report", "result_verdict", "result_headline", "result_html"):
        assert name in dir(emoalign) and getattr(emoalign, name) is getattr(display, name)


# ------------------------------------------------------------------------------------------------
# figures: one line and bound per pair, names drawn as typed


def test_relative_depth_names_each_pair_and_draws_each_pairs_bound(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from test_report_figures import captured_figures

    trained = make_result("qwen", [0.4, 0.45, 0.5], copies=0.3, seed=1)
    control = make_result("qwen-random", [0.3, 0.31, 0.3], copies=0.3, seed=1)
    control.layers["baseline_overlap_bound"] = trained.layers["baseline_overlap_bound"]  # one set of copies
    comparison = compare_results([trained, control])
    figures = captured_figures(monkeypatch, lambda: plots.comparison_figures(comparison, tmp_path))
    depth = figures[-1].axes[0]  # the relative-depth figure comes after the per-pair figures
    assert depth.get_title().startswith("All pairs on relative depth")
    lines = {line.get_label(): line for line in depth.get_lines()}
    names = ["gpt2 vs qwen", "gpt2 vs qwen-random"]
    bounds = [f"{name}: random-copy 95% bound" for name in names]
    assert set(names + bounds) <= set(lines)
    assert [t.get_text() for t in depth.get_legend().get_texts()] == [names[0], bounds[0], names[1], bounds[1]]
    # equal bounds, told apart: each in its pair's colour, dashed out of phase
    assert np.allclose(lines[bounds[0]].get_ydata(), lines[bounds[1]].get_ydata())
    assert lines[bounds[0]].get_color() == lines[names[0]].get_color() != lines[bounds[1]].get_color()
    (offset_0, dashes_0), (offset_1, dashes_1) = (lines[b]._unscaled_dash_pattern for b in bounds)
    assert dashes_0 == dashes_1 and offset_0 != offset_1
    assert lines[names[0]].get_marker() != lines[names[1]].get_marker()


def test_model_names_with_dollars_are_drawn_as_typed(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from test_report_figures import captured_figures, texts

    name = r"qw$\notacommand{x}$en"  # mathtext would fail on it; a name is not a formula
    result = make_result(name, [0.3, 0.4, 0.5], layers=[0, 0, 1], target_layers=[0, 2, 0], layer_match="grid",
                         seed=4)
    other = make_result("other$", [0.2, 0.3], seed=5)
    result.source["name"] = other.source["name"] = "gpt$2"
    comparison = compare_results([result, other])
    figures = captured_figures(monkeypatch, lambda: plots.comparison_figures(comparison, tmp_path))
    drawn = " ".join(texts(fig) for fig in figures)
    assert f"gpt$2 vs {name}" in drawn and "gpt$2 vs other$" in drawn
    assert all(path.stat().st_size > 0 for path in tmp_path.glob("*.png"))
    fig = result.plot()  # the notebook figure too, rendered after the figure style has ended
    assert f"gpt$2 vs {name}" in texts(fig)
    assert fig._repr_png_()[:4] == b"\x89PNG"
