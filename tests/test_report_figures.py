"""Figures fit for a paper: PNG at 200 dpi with an SVG beside it (PDF on request), identical bytes on
every rerun, figure text in the report's language (English where no CJK font is installed, never
boxes), a grid heatmap on a scale tied to the random copies with significance marks."""

from __future__ import annotations

import struct
import warnings

import pytest
from test_report_compare import make_result, twin, unrelated

from emoalign.cli import main
from emoalign.report import plots
from emoalign.report.plots import FigureOptions, parse_figure_formats

pytest.importorskip("matplotlib")


def png_dpi(data: bytes) -> float:
    """Horizontal resolution of a PNG from its pHYs chunk (pixels per metre -> dots per inch)."""
    at = data.index(b"pHYs")
    per_metre, _, unit = struct.unpack(">IIB", data[at + 4:at + 13])
    assert unit == 1
    return per_metre * 0.0254


def grid_result():
    return make_result("gridded", [0.2, 0.5, 0.25, 0.4, 0.3, 0.6], layers=[0, 0, 0, 1, 1, 1],
                       target_layers=[0, 3, 5, 0, 3, 5], layer_match="grid", copies=0.25, seed=7, specificity=0.5)


def captured_figures(monkeypatch, draw) -> list:
    """The matplotlib figures ``draw()`` saves (saved as usual)."""
    figures = []
    real = plots._save

    def keep(fig, path, formats=plots.DEFAULT_FIGURE_FORMATS):
        figures.append(fig)
        return real(fig, path, formats)

    monkeypatch.setattr(plots, "_save", keep)
    draw()
    return figures


def texts(fig) -> str:
    from matplotlib.text import Text

    return " ".join(t.get_text() for t in fig.findobj(Text))


def test_formats_are_parsed_with_png_first_and_unknown_ones_refused():
    assert parse_figure_formats("svg,pdf") == ("png", "svg", "pdf")
    assert parse_figure_formats(["PNG", ".pdf"]) == ("png", "pdf")
    with pytest.raises(Exception, match="--figure-formats eps: unknown"):
        parse_figure_formats("png,eps")


def test_svg_beside_png_at_200_dpi_pdf_on_request_and_identical_reruns(tmp_path, capsys):
    path = twin().save(tmp_path / "a.safetensors")
    assert main(["compare", str(path), "--write-report", str(tmp_path / "r.md")]) == 0
    folder = tmp_path / "r_figures"
    pngs = sorted(folder.glob("*.png"))
    assert pngs and sorted(p.stem for p in folder.glob("*.svg")) == [p.stem for p in pngs]
    assert not list(folder.glob("*.pdf"))
    assert all(png_dpi(p.read_bytes()) >= 199.9 for p in pngs)
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert main(["compare", str(path), "--write-report", str(tmp_path / "r.md"), "--figure-formats",
                 "png,svg,pdf"]) == 0
    again = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(p.stem for p in folder.glob("*.pdf")) == [p.stem for p in pngs]
    assert all(again[name] == data for name, data in first.items())  # PNG and SVG byte-identical
    svg = next(folder.glob("*.svg")).read_text()
    assert "<dc:date>" not in svg and "<svg" in svg
    pdf = next(folder.glob("*.pdf")).read_bytes()
    assert pdf.startswith(b"%PDF") and b"/CreationDate" not in pdf
    capsys.readouterr()
    assert main(["compare", str(path), "--write-report", str(tmp_path / "x.md"), "--figure-formats", "eps"]) == 2
    assert "--figure-formats eps: unknown" in capsys.readouterr().err and not (tmp_path / "x.md").exists()


def test_japanese_figures_carry_japanese_text_in_a_cjk_font(tmp_path, monkeypatch):
    if plots.cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figures = captured_figures(monkeypatch, lambda: plots.pair_figures(unrelated(), tmp_path,
                                                                           opts=FigureOptions("ja")))
    words = " ".join(texts(fig) for fig in figures)
    assert "写像後" in words and "層" in words and "語彙を超えない" in words  # labels, legend, verdict
    assert not [w for w in caught if "missing from font" in str(w.message)]  # no glyph drawn as a box


def test_without_a_cjk_font_japanese_reports_get_english_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    figures = captured_figures(monkeypatch, lambda: plots.pair_figures(unrelated(), tmp_path,
                                                                       opts=FigureOptions("ja")))
    words = " ".join(texts(fig) for fig in figures)
    assert "source layer" in words and "not beyond vocabulary" in words
    assert not any("\u3040" <= ch <= "\u9fff" for ch in words)  # not one CJK character


def test_grid_heatmap_is_centred_on_the_copies_and_marks_significant_cells(tmp_path, monkeypatch):
    from matplotlib.colors import TwoSlopeNorm

    result = grid_result()
    figures = captured_figures(monkeypatch, lambda: plots.pair_figures(result, tmp_path))
    grid = next(fig for fig in figures if fig.axes and fig.axes[0].get_images())
    image = grid.axes[0].get_images()[0]
    profile = plots.layer_profile(result)
    centre, name = plots.grid_centre(profile)
    assert name == "centre_copies" and isinstance(image.norm, TwoSlopeNorm)
    assert image.norm.vcenter == pytest.approx(centre) and 0 < centre < 1
    marks = plots.significance_marks(profile)
    assert set(marks["mark"]) <= {"", "*", "**"} and (marks["mark"] != "").any()
    labels = texts(grid)
    assert "*" in labels and "white = random copies' mean" in labels and "BH q < 0.05" in labels
    assert [t.get_text() for t in grid.axes[0].get_xticklabels()] == ["0", "3", "5"]


def test_the_chance_line_is_drawn_above_before(tmp_path, monkeypatch):
    figures = captured_figures(monkeypatch, lambda: plots.pair_figures(twin(), tmp_path))
    lines = {line.get_label(): line for line in figures[0].axes[0].get_lines()}
    assert lines["chance k/d"].get_zorder() > lines["before"].get_zorder()


def test_a_long_model_name_gives_a_figure_file_name_within_the_limit():
    from emoalign.report.plots import slug

    long_name = "m" * 300
    assert len(slug(long_name).encode()) <= 128 and slug(long_name) == slug(long_name)
    assert slug(long_name) != slug("m" * 299 + "n")  # the cut keeps names apart
    assert slug("gemma3-270m") == "gemma3-270m"  # short names as before
