"""`emoalign compare`: comparison tables, sanity checks, figures, HTML and Japanese reports, built
on synthetic alignment results (no model runs)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from emoalign.cli import main
from emoalign.report import plots
from emoalign.report.checks import FAIL, PASS, WARN
from emoalign.report.compare import compare_results, layer_profile
from emoalign.report.i18n import EN, JA
from emoalign.results import AlignmentResult, load
from emoalign.storage import save_arrays

EMOTIONS = ("gratitude", "anger", "apology")


def make_result(
    target: str, after, *, before=0.01, n_target_layers: int = 12, target_layers=None, null_p95=None, q=None,
    ceiling=None, k: int = 4, d_s: int = 64, control: bool = False, seed: int = 0, layer_match: str = "index",
    layers=None, metric: str = "bounded", jitter: float = 0.005,
) -> AlignmentResult:
    """A realistic AlignmentResult: per-(layer, emotion) cells, per-layer table, explained variance;
    with ``null_p95``/``q`` also the statistics columns (null, p/q, CI, verdict, ceiling)."""
    rng = np.random.default_rng(seed)
    after = np.broadcast_to(np.asarray(after, dtype=float), (len(layers) if layers is not None else len(after),))
    before = np.broadcast_to(np.asarray(before, dtype=float), after.shape)
    layers = list(range(len(after))) if layers is None else list(layers)
    target_layers = list(layers) if target_layers is None else list(target_layers)
    cells, rows = [], []
    for i, (s, t) in enumerate(zip(layers, target_layers)):
        block = []
        for e in EMOTIONS:
            a = float(np.clip(after[i] + rng.normal(0, jitter), 0, 1))
            b = float(before[i] + abs(rng.normal(0, jitter / 5)))
            cell = {"layer": s, "target_layer": t, "emotion": e, "overlap_before": b, "overlap_after": a,
                    "chance": k / d_s, "specificity": 0.2 * a, "legacy_before": b, "legacy_after": a,
                    "explained_variance_source": 0.6, "explained_variance_target": 0.5, "n_prompts": 20}
            if null_p95 is not None:
                cell.update(null_mean=null_p95 - 0.05, null_p95=null_p95, p_label=q, q_label=q, ci_low=a - 0.03,
                            ci_high=a + 0.03, p_pairing=0.01,
                            verdict="emotion-specific" if q < 0.05 else "not distinguishable from null")
                if ceiling is not None:
                    cell["ceiling"] = ceiling
            block.append(cell)
        cells += block
        frame = pd.DataFrame(block)
        mb, ma = frame["overlap_before"].mean(), frame["overlap_after"].mean()
        rows.append({"layer": s, "mean_overlap_before": mb, "mean_overlap_after": ma, "delta": ma - mb,
                     "target_layer": t, "metric": metric, "chance": k / d_s,
                     "mean_specificity": frame["specificity"].mean(), "map": "ridge", "fit_data": "neutral-words",
                     "n_fit_pairs": 300, "map_heldout_r2": 0.5, "cka": 0.4})
    config = {"n_components": k, "map_method": "ridge", "fit_data": "neutral-words", "metric": metric,
              "reference": "mean", "layer_match": layer_match, "seed": 0, "heldout_fraction": 0.2,
              "emotions": list(EMOTIONS)}
    if null_p95 is not None:
        config["statistics"] = {"n_permutations": 200, "n_bootstrap": 200, "alpha": 0.05}
    if control:
        config["control"] = "untrained"

    def model(name: str, n: int, d: int) -> dict:
        return {"name": name, "id": f"org/{name}", "model_type": "llama", "n_layers": n, "d_model": d,
                "dtype": "float32", "device": "cpu", "revision": None}

    ev = rng.uniform(0.05, 0.2, size=(len(layers), len(EMOTIONS), k))
    return AlignmentResult(
        config=config, source=model("gpt2", 12, d_s), target=model(target, n_target_layers, 128),
        dataset={"name": "baseline", "hash": "deadbeef", "label_counts": {**{e: 20 for e in EMOTIONS}, "neutral": 20}},
        cells=pd.DataFrame(cells), layers=pd.DataFrame(rows),
        arrays={"layer_pairs": np.array(list(zip(layers, target_layers)), dtype=np.int64),
                "source_explained_variance": ev, "target_explained_variance": 0.9 * ev},
        extraction={role: {"match_rates": {e: 1.0 for e in EMOTIONS}, "fallbacks": {e: 0 for e in EMOTIONS},
                           "position_policy": "all", "layers": sorted(set(layers if role == "source" else target_layers))}
                    for role in ("source", "target")},
        provenance={"date": "2025-11-16T00:00:00+00:00", "versions": {"emoalign": "0.1.0"},
                    "command": f"emoalign run --source gpt2 --target {target} --layers 0-5"},
    )


def twin(**kw) -> AlignmentResult:
    return make_result("twin", [0.95, 0.97, 0.99, 0.98, 0.97, 0.96], null_p95=0.35, q=0.002, ceiling=0.9, **kw)


def unrelated(**kw) -> AlignmentResult:
    return make_result("unrelated", [0.30, 0.31, 0.29, 0.32, 0.30, 0.28], null_p95=0.35, q=0.6, ceiling=0.9,
                       seed=1, **kw)


def deep(**kw) -> AlignmentResult:
    return make_result("deep", [0.05, 0.10, 0.20, 0.40, 0.55, 0.60], null_p95=0.3, q=0.03, n_target_layers=6,
                       seed=2, **kw)


def md_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Markdown tables keyed by the heading above them: a list of {column: cell} rows."""
    tables: dict[str, list[dict[str, str]]] = {}
    heading, lines = None, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = [c.strip() for c in line.strip().strip("|").split("|")]
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(dict(zip(header, (c.strip().strip("*") for c in lines[i].strip().strip("|").split("|")))))
                i += 1
            tables[heading] = rows
            continue
        i += 1
    return tables


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Three pairs saved as artifacts in the study layout and compared through the CLI (en + html, ja)."""
    out = tmp_path_factory.mktemp("compare")
    alignment = out / "results" / "baseline" / "alignment"
    results = [twin(), unrelated(), deep()]
    paths = [r.save(alignment / f"{r.pair_name}_token_based_full.safetensors") for r in results]
    argv = ["compare", *map(str, paths), "--write-report", str(out / "report" / "cmp.md"),
            "--output-csv", str(out / "cmp.csv"), "--html"]
    assert main(argv) == 0
    assert main(["compare", *map(str, paths), "--write-report", str(out / "report" / "cmp_ja.md"), "--lang", "ja",
                 "--no-figures"]) == 0
    return out, results, paths


def _close(cell: str, value: float) -> bool:
    return abs(float(cell) - float(value)) <= 1e-6


def test_markdown_tables_parse_back_into_the_csv_numbers(compared):
    out, results, _ = compared
    text = (out / "report" / "cmp.md").read_text()
    csv = pd.read_csv(out / "cmp.csv")
    assert csv["model"].tolist() == ["twin", "unrelated", "deep"] and len(csv) == 3
    quantitative = md_tables(text)["Improvement (max Δ)"]
    assert [row["Model"] for row in quantitative] == csv["model"].tolist()
    for row, (_, expected) in zip(quantitative, csv.iterrows()):
        assert _close(row["Max Δ"], expected["max_delta"])
        assert int(row["Max Δ layer"]) == expected["max_delta_layer"]
        assert int(row["Max Δ target layer"]) == expected["max_delta_target_layer"]
        for column, key in (("Mean Δ", "mean_delta"), ("Mean before", "mean_before"), ("Mean after", "mean_after"),
                            ("Mean null p95", "mean_null_p95")):
            assert _close(row[column], expected[key]), (column, row[column], expected[key])
    for i, result in enumerate(results, 1):  # each model's per-layer table is its layer table
        rows = md_tables(text)[f"{i}. Results of {result.target['name']}"]
        layers = result.layers
        assert [int(r["Layer"]) for r in rows] == layers["layer"].tolist()
        for r, (_, expected) in zip(rows, layers.iterrows()):
            assert _close(r["Before"], expected["mean_overlap_before"])
            assert _close(r["After"], expected["mean_overlap_after"])
            assert _close(r["Δ"], expected["delta"])
        mean = re.search(rf"### {i}\. Results of .*?\*\*Mean improvement\*\*: ([\d.]+)", text, re.S)
        assert _close(mean.group(1), layers["delta"].mean())
    assert csv.loc[csv["model"] == "deep", "peak_region"].item() == "upper"


def test_every_image_exists_and_the_html_is_self_contained(compared):
    out, _, _ = compared
    text = (out / "report" / "cmp.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) >= 3 * 2 + 1  # overlap + explained variance per model, the relative-depth overlay
    for src in images:
        assert (out / "report" / src).is_file(), src
        assert src.startswith("cmp_figures/")
    page = (out / "report" / "cmp.html").read_text()
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) == len(images)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http://" not in page and "https://" not in page and "href=" not in page and "<link" not in page
    assert "<style>" in page and "<script" not in page
    assert "<table>" in page and "<h2>Sanity checks of the scientific pattern</h2>" in page


def test_japanese_report_carries_the_seed_headings(compared):
    out, _, _ = compared
    text = (out / "report" / "cmp_ja.md").read_text()
    for heading in ["## 🎯 目的", "## 📦 生成物", "## 🚀 実行コマンド", "## 📄 実験設定", "### 共通設定", "### モデル別設定",
                    "## 📊 結果概要（3モデル比較）", "### 1. twin の結果", "## 💡 3モデル間の比較考察",
                    "### 1. 改善パターンの比較", "#### 「before ≒ 0 → after > 0.1」パターンの確認", "#### 改善が大きい層の位置",
                    "## 🔬 科学的パターンのサニティチェック", "### チェック項目と結果",
                    "#### 1. 全層平均の mean_overlap_before は ≒0 に近いか？",
                    "#### 2. mean_overlap_after が 0.1〜0.2 以上のオーダーで増えているか？",
                    "#### 3. delta が正で、いくつかの層で目立って大きくなっているか？", "### サニティチェックの結論",
                    "## 📈 モデル間の定量的比較", "### 改善幅の比較（最大Δ）", "### 改善が大きい層の分布", "## 📝 結論"]:
        assert re.search(rf"^{re.escape(heading)}$", text, re.M), heading
    assert "**平均改善幅**" in text and "Purpose" not in text
    assert "![" not in text  # --no-figures


def test_unrelated_models_fail_and_a_planted_twin_passes(compared):
    comparison = compare_results([unrelated(), twin()])
    bad, good = comparison.entries
    checks = {c.key: c for c in bad.checks}
    assert bad.overall.status == FAIL and bad.overall.reason == "overall_original_not_null"
    assert checks["after_increase"].status == WARN and checks["after_increase"].reason == "after_high_not_null"
    assert checks["label_null"].status == FAIL and checks["above_null"].status == FAIL
    assert good.overall.status == PASS
    assert {c.key: c.status for c in good.checks}["label_null"] == PASS
    out, _, _ = compared
    text = (out / "report" / "cmp.md").read_text()
    conclusion = text.split("### Conclusion of the sanity checks")[1].split("##")[0]
    line = next(l for l in conclusion.splitlines() if l.startswith("- **unrelated**"))
    assert line.startswith("- **unrelated**: ❌") and "passes the original's check" in line and "not the null" in line
    assert next(l for l in conclusion.splitlines() if l.startswith("- **twin**")).startswith("- **twin**: ✅")
    check2 = text.split("#### 2. ")[1].split("####")[0]
    assert "- **unrelated**: ⚠️" in check2 and "passes the original's check but not the null" in check2


def test_the_seed_numbers_give_the_seed_checks_and_the_true_depth():
    """The original's Llama / Gemma / Qwen tables (legacy metric, no null) reproduce its ✅/⚠️/❌ of
    checks 1-3; the 'upper layers' 9-11 of Llama (32 blocks) sit in its lower third of depth."""
    llama = make_result("llama3_8b", [0.124622, 0.504833, 0.465373, 0.432786, 0.451560, 0.402819, 0.408334, 0.418881,
                                      0.454718, 0.573908, 0.578386, 0.713503], before=0.0002, n_target_layers=32,
                        metric="legacy", jitter=0)
    gemma = make_result("gemma3_12b", [0.000011, 0.000432, 0.000261, 0.000393, 0.000481, 0.000554, 0.000325],
                        before=[0.000509, 0.000299, 0.000247, 0.000235, 0.000260, 0.000259, 0.000281],
                        n_target_layers=48, metric="legacy", jitter=0)
    qwen = make_result("qwen3_8b", [0.003449, 0.077358, 0.074162, 0.085964, 0.105332, 0.067167, 0.037794, 0.030777,
                                    0.024207, 0.029145, 0.041804, 0.081099], before=0.00022, n_target_layers=36,
                       metric="legacy", jitter=0)
    comparison = compare_results([llama, gemma, qwen])
    statuses = [[c.status for c in e.checks[:3]] for e in comparison.entries]
    assert statuses == [[PASS, PASS, PASS], [PASS, FAIL, FAIL], [PASS, WARN, PASS]]
    assert [e.overall.status for e in comparison.entries] == [WARN, FAIL, WARN]  # no null: never a plain ✅
    llama_row = comparison.table.iloc[0]
    assert llama_row["max_delta_target_layer"] == 11 and llama_row["peak_layers"] == "9-11"
    assert llama_row["peak_region"] == "lower"
    assert llama_row["mean_after"] == pytest.approx(0.460810, abs=1e-6)


def test_untrained_control_is_compared_with_its_trained_pair():
    control = make_result("twin-untrained", 0.3, layers=range(6), null_p95=0.35, q=0.7, control=True, seed=5)
    comparison = compare_results([twin(), control])
    trained, ctrl = comparison.entries
    assert trained.control == "twin-untrained" and ctrl.control_of == "twin"
    assert {c.key: c for c in trained.checks}["control"].status == PASS
    assert ctrl.overall.status == FAIL
    as_good = make_result("twin-untrained", [0.95, 0.97, 0.99, 0.98, 0.97, 0.96], null_p95=0.35, q=0.002,
                          control=True, seed=6)
    trained = compare_results([twin(), as_good]).entries[0]
    assert {c.key: c for c in trained.checks}["control"].status in (WARN, FAIL)
    assert trained.overall.status == WARN and trained.overall.reason == "overall_control_weak"


def test_k_sweep_grid_heatmap_and_unique_labels(tmp_path):
    from emoalign.report.comparative import write_comparative_report

    sweep = [twin(k=k) for k in (2, 4, 8)]
    grid = make_result("gridded", [0.2, 0.3, 0.25, 0.4], layers=[0, 0, 1, 1], target_layers=[0, 5, 0, 5],
                       layer_match="grid")
    comparison, files = write_comparative_report([*sweep, grid], tmp_path / "r.md")
    assert [e.label for e in comparison.entries][:3] == ["twin (k=2)", "twin (k=4)", "twin (k=8)"]
    assert comparison.k_groups == [[0, 1, 2]]
    names = {p.name for p in files.figures}
    assert any(n.startswith("k_sweep_") for n in names) and "04_gridded_layer_grid.png" in names
    assert len(layer_profile(grid)) == 4


def test_without_matplotlib_the_report_is_written_without_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plots, "matplotlib_missing", lambda: "matplotlib is not available (test)")
    path = twin().save(tmp_path / "a.safetensors")
    assert main(["compare", str(path), "--write-report", str(tmp_path / "r.md")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "matplotlib is not available" in err[0]
    assert "![" not in (tmp_path / "r.md").read_text() and not (tmp_path / "r_figures").exists()


def test_an_input_that_is_not_an_alignment_artifact_is_one_line_naming_it(tmp_path, capsys):
    good = twin().save(tmp_path / "a.safetensors")
    vectors = save_arrays(tmp_path / "v.safetensors", {"x": np.zeros(2)}, {"kind": "emotion_vectors"})
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not safetensors")
    for bad in (vectors, junk):
        assert main(["compare", str(good), str(bad), "--write-report", str(tmp_path / "r.md")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(bad) in err[0]
    assert main(["compare", str(good), "--html"]) == 2
    assert "--html needs --write-report" in capsys.readouterr().err
    assert not (tmp_path / "r.md").exists()


def test_summarize_report_embeds_the_pair_figures(tmp_path):
    path = twin().save(tmp_path / "a.safetensors")
    assert main(["summarize", "--alignment-path", str(path), "--write-report", str(tmp_path / "pair.md")]) == 0
    text = (tmp_path / "pair.md").read_text()
    assert "## Figures" in text and "## Per-layer results" in text
    for src in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (tmp_path / src).is_file()
    assert load(path).layers.equals(twin().layers)


def test_string_tables_have_the_same_keys():
    assert set(EN) == set(JA)


def test_numerics_flag_non_finite_overlaps_and_skipped_layers():
    broken = twin()
    broken.layers.loc[2, "mean_overlap_after"] = np.nan
    broken.extraction["source"]["layers"] = [0, 1, 2, 3, 4, 5, 6]
    entry = compare_results([broken, twin()]).entries[0]
    assert not entry.numerics.clean
    assert entry.numerics.non_finite["mean_overlap_after"] == 1 and entry.numerics.skipped_layers["source"] == [6]
    assert compare_results([twin()]).entries[0].numerics.clean
