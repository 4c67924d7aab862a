"""`emoalign compare` / `summarize` reports: the three-step verdict in tables, checks, figures, HTML and
Japanese, built on synthetic alignment results run through the real verdict functions (no model
runs), plus one report of two unrelated random-weight tiny models."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from emoalign.analysis.baseline import (
    BaselineCopies,
    baseline_cell_columns,
    baseline_pair_means,
    k_profile_table,
)
from emoalign.analysis.inference import group_assignment_p
from emoalign.analysis.verdict import add_verdicts, pair_summary
from emoalign.cli import main
from emoalign.core.results import ALIGNMENT_FORMAT_VERSION, AlignmentResult, load
from emoalign.io.storage import save_arrays
from emoalign.report import plots
from emoalign.report.checks import FAIL, INFO, NA, PASS, WARN
from emoalign.report.compare import compare_results, layer_profile
from emoalign.report.i18n import EN, JA
from emoalign.report.marks import FORBIDDEN_MARKS, strip_mark
from emoalign.report.summary import format_layer_table

EMOTIONS = ("gratitude", "anger", "apology")
PAIR_VERDICTS = {"shared beyond vocabulary", "not beyond vocabulary", "no cross-model correspondence",
                 "correspondence; vocabulary not ruled out (no baseline)", "not tested", "no verdict (legacy metric)",
                 "no verdict (old artifact)"}
N_COPIES, N_PAIRING = 5, 20


def make_result(
    target: str, after, *, before=0.01, n_target_layers: int = 12, target_layers=None, k: int = 4, d_s: int = 64,
    control: bool = False, seed: int = 0, layer_match: str = "index", layers=None, metric: str = "bounded",
    jitter: float = 0.005, stats: bool = True, specificity: float = 0.2, pairing: float | None = 0.1,
    copies: float | None = 0.25, emotion: bool = False, schema: str = "current",
) -> AlignmentResult:
    """A realistic AlignmentResult. With ``stats`` the cells carry the three-step statistics and go
    through the real ``add_verdicts`` / ``pair_summary``: ``pairing`` is the mean overlap of maps
    fitted on shuffled pairs (None: no correspondence test), ``copies`` the random-weight copies' mean
    overlap (None: no baseline), ``emotion`` whether (c) holds. ``schema="old"`` writes the columns of
    artifacts made before the random-copy baseline (label null, noise ceiling, old verdict words)."""
    rng = np.random.default_rng(seed)
    after = np.broadcast_to(np.asarray(after, dtype=float), (len(layers) if layers is not None else len(after),))
    before = np.broadcast_to(np.asarray(before, dtype=float), after.shape)
    layers = list(range(len(after))) if layers is None else list(layers)
    target_layers = list(layers) if target_layers is None else list(target_layers)
    n_e = len(EMOTIONS)
    cross = np.empty((len(layers), n_e, n_e))
    cells, rows = [], []
    for i, (s, t) in enumerate(zip(layers, target_layers)):
        diag = np.clip(after[i] + rng.normal(0, jitter, n_e), 0, 1)
        cross[i] = np.clip(diag[:, None] * (1 - specificity) + rng.normal(0, jitter / 5, (n_e, n_e)), 0, 1)
        cross[i][np.diag_indices(n_e)] = diag
        block = []
        for j, e in enumerate(EMOTIONS):
            a, b = float(diag[j]), float(before[i] + abs(rng.normal(0, jitter / 5)))
            others = np.delete(cross[i, j], j).mean()
            cell = {"layer": s, "target_layer": t, "emotion": e, "overlap_before": b, "overlap_after": a,
                    "chance": k / d_s, "specificity": a - others, "legacy_before": b, "legacy_after": a,
                    "explained_variance_source": 0.6, "explained_variance_target": 0.5, "n_prompts": 20}
            if stats and schema == "old":
                cell.update(null_mean=0.3, null_p95=0.35, p_label=0.01, q_label=0.01, ci_low=a - 0.03,
                            ci_high=a + 0.03, p_pairing=0.01, ceiling=0.9, verdict="emotion-specific")
            elif stats:
                null = rng.normal(pairing if pairing is not None else 0, 0.02, N_PAIRING)
                cell.update(
                    pairing_null_mean=float(null.mean()) if pairing is not None else np.nan,
                    p_pairing=float((1 + np.sum(null >= a)) / (1 + N_PAIRING)) if pairing is not None else np.nan,
                    group_null_mean=0.3, group_null_p95=0.35, p_group=1 / 51 if emotion else 0.4,
                    emotion_null_mean=0.3, emotion_null_p95=0.35, p_emotion=1 / 51 if emotion else 0.5,
                    ci_low=a - 0.03, ci_high=a + 0.03, bootstrap_bias=0.0, reliability_source=0.8,
                    reliability_target=0.75, cross_half_overlap=0.7 * a, normalised_overlap=min(1.0, a / 0.9),
                )
            block.append(cell)
        cells += block
        frame = pd.DataFrame(block)
        mb, ma = frame["overlap_before"].mean(), frame["overlap_after"].mean()
        row = {"layer": s, "mean_overlap_before": mb, "mean_overlap_after": ma, "delta": ma - mb,
               "target_layer": t, "metric": metric, "chance": k / d_s,
               "mean_specificity": frame["specificity"].mean(), "map": "ridge", "fit_data": "neutral-words",
               "n_fit_pairs": 300, "map_heldout_r2": 0.5, "cka": 0.4}
        if stats and schema == "old":
            row.update(ci_low=ma - 0.02, ci_high=ma + 0.02, null_p95=0.35, ceiling=0.9, n_specific=3,
                       verdict="3 of 3 emotion-specific", p_identity=1 / 6)
        elif stats:
            row.update(p_group_assignment=group_assignment_p(cross[i]), ci_low=ma - 0.02, ci_high=ma + 0.02,
                       group_null_p95=0.35, normalised_overlap=float(frame["normalised_overlap"].mean()))
        rows.append(row)
    cells, layer_table = pd.DataFrame(cells), pd.DataFrame(rows)
    ks = sorted({2, k})
    config = {"n_components": k, "map_method": "ridge", "fit_data": "neutral-words", "metric": metric,
              "reference": "mean", "layer_match": layer_match, "seed": 0, "heldout_fraction": 0.2,
              "emotions": list(EMOTIONS)}
    summary: dict = {}
    k_profile = pd.DataFrame()
    if stats and schema == "old":
        config["statistics"] = {"n_permutations": 200, "n_bootstrap": 200, "alpha": 0.05}
        summary = {"verdict": "emotion-specific alignment", "summary": "9 of 9 cells emotion-specific",
                   "p_identity": 1 / 6}
    elif stats:
        config.update(n_permutations=50, n_bootstrap=100, n_pairing_permutations=N_PAIRING, alpha=0.05,
                      baseline_seeds=N_COPIES if copies is not None else 0, profile_ks=ks,
                      baseline_copies=N_COPIES if copies is not None else 0)
        baseline = None
        if copies is not None:  # copies: same overlap for every emotion (no specificity), seed-to-seed spread
            base = rng.normal(copies, 0.02, (N_COPIES, len(layers), 1, 1, 1))
            copy_cross = np.clip(base + rng.normal(0, 0.01, (N_COPIES, len(layers), len(ks), n_e, n_e)), 0, 1)
            baseline = BaselineCopies(copy_cross, tuple(ks), tuple((10 + i, 20 + i) for i in range(N_COPIES)))
            for column, values in baseline_cell_columns(cross, baseline, k).items():
                cells[column] = values
            bounds = cells.groupby(["layer", "target_layer"], sort=False)["baseline_overlap_bound"].mean()
            layer_table["baseline_overlap_bound"] = [bounds[key] for key in zip(layers, target_layers)]
        add_verdicts(cells, layer_table, alpha=0.05, metric=metric)
        pairing_means = (rng.normal(pairing, 0.01, N_PAIRING) if pairing is not None else None)
        summary = pair_summary(cells, alpha=0.05, metric=metric, pairing_null_means=pairing_means,
                               baseline_means=baseline_pair_means(baseline, k) if baseline is not None else None)
        summary["p_group_assignment"] = group_assignment_p(cross)
        k_profile = k_profile_table(np.repeat(cross[:, None], len(ks), axis=1), baseline, ks)
    if control:
        config["control"] = "untrained"

    def model(name: str, n: int, d: int) -> dict:
        return {"name": name, "id": f"org/{name}", "model_type": "llama", "n_layers": n, "d_model": d,
                "dtype": "float32", "device": "cpu", "revision": None}

    ev = rng.uniform(0.05, 0.2, size=(len(layers), n_e, k))
    return AlignmentResult(
        format_version=0 if schema == "old" else ALIGNMENT_FORMAT_VERSION,  # old artifacts carry no version
        config=config, source=model("gpt2", 12, d_s), target=model(target, n_target_layers, 128),
        dataset={"name": "baseline", "hash": "deadbeef", "label_counts": {**{e: 20 for e in EMOTIONS}, "neutral": 20}},
        cells=cells, layers=layer_table,
        arrays={"layer_pairs": np.array(list(zip(layers, target_layers)), dtype=np.int64),
                "source_explained_variance": ev, "target_explained_variance": 0.9 * ev},
        extraction={role: {"match_rates": {e: 1.0 for e in EMOTIONS}, "fallbacks": {e: 0 for e in EMOTIONS},
                           "position_policy": "all", "layers": sorted(set(layers if role == "source" else target_layers))}
                    for role in ("source", "target")},
        provenance={"date": "2025-11-16T00:00:00+00:00", "versions": {"emoalign": "0.1.0"},
                    "command": f"emoalign run --source gpt2 --target {target} --layers 0-5"},
        summary=summary, k_profile=k_profile,
    )


def twin(**kw) -> AlignmentResult:
    """A planted twin: overlap ≈ 1, far above the copies; it shares every prompt grouping, so (c) fails."""
    return make_result("twin", [0.95, 0.97, 0.99, 0.98, 0.97, 0.96], specificity=0.8, **kw)


def unrelated(**kw) -> AlignmentResult:
    """Unrelated models reading the same prompts: the map finds token-level correspondence and after
    exceeds 0.1, but random-weight copies reach as much."""
    return make_result("unrelated", [0.30, 0.31, 0.29, 0.32, 0.30, 0.28], specificity=0.0, copies=0.30, seed=1,
                       **kw)


def deep(**kw) -> AlignmentResult:
    """Overlap rising with depth, beyond the copies and emotion-specific (all three steps)."""
    return make_result("deep", [0.25, 0.30, 0.40, 0.50, 0.55, 0.60], n_target_layers=6, copies=0.12, seed=2,
                       emotion=True, specificity=0.5, **kw)


def noise(**kw) -> AlignmentResult:
    """A map that carries nothing: the overlap equals maps fitted on shuffled pairs."""
    return make_result("noise", 0.3, layers=range(6), specificity=0.0, pairing=0.3, copies=0.3, seed=3, **kw)


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


def verdict_cells(text: str) -> list[str]:
    """Every cell of every "Verdict" column of a Markdown report (status marks such as [pass] stripped)."""
    out = []
    for rows in md_tables(text).values():
        out += [strip_mark(row["Verdict"]) for row in rows if "Verdict" in row]
    return out


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Four pairs saved as artifacts in the study layout and compared through the CLI (en + html, ja)."""
    out = tmp_path_factory.mktemp("compare")
    alignment = out / "results" / "baseline" / "alignment"
    results = [twin(), unrelated(), deep(), noise()]
    paths = [r.save(alignment / f"{r.pair_name}_token_based_full.safetensors") for r in results]
    argv = ["compare", *map(str, paths), "--write-report", str(out / "report" / "cmp.md"),
            "--output-csv", str(out / "cmp.csv"), "--html"]
    assert main(argv) == 0
    assert main(["compare", *map(str, paths), "--write-report", str(out / "report" / "cmp_ja.md"), "--lang", "ja",
                 "--no-figures"]) == 0
    return out, results, paths


def _close(cell: str, value: float, tol: float = 1e-6) -> bool:
    return abs(float(cell) - float(value)) <= tol


def test_the_synthetic_pairs_get_the_verdicts_they_were_built_for():
    verdicts = {r.target["name"]: r.summary["verdict"] for r in (twin(), unrelated(), deep(), noise())}
    assert verdicts == {"twin": "shared beyond vocabulary", "unrelated": "not beyond vocabulary",
                        "deep": "shared beyond vocabulary", "noise": "no cross-model correspondence"}
    assert twin().summary["n_emotion_specific"] == 0 and deep().summary["n_emotion_specific"] == 18


def test_markdown_tables_parse_back_into_the_csv_numbers(compared):
    out, results, _ = compared
    text = (out / "report" / "cmp.md").read_text()
    csv = pd.read_csv(out / "cmp.csv")
    assert csv["model"].tolist() == ["twin", "unrelated", "deep", "noise"] and len(csv) == 4
    assert list(csv.columns[:6]) == ["model", "source", "target", "verdict", "p_pairing", "p_baseline"]
    assert csv["verdict"].tolist() == [r.summary["verdict"] for r in results]
    np.testing.assert_allclose(csv["p_pairing"], [r.summary["p_pairing"] for r in results])
    np.testing.assert_allclose(csv["p_baseline"], [r.summary["p_baseline"] for r in results])
    for column in ("n_correspondence", "n_beyond_vocabulary", "n_emotion_specific"):
        assert csv[column].tolist() == [r.summary[column] for r in results], column
    assert csv["n_emotion_group"].tolist() == [int(r.cells["emotion_not_any_group"].sum()) for r in results]
    quantitative = md_tables(text)["Improvement (max Δ)"]
    assert [row["Model"] for row in quantitative] == csv["model"].tolist()
    for row, (_, expected) in zip(quantitative, csv.iterrows()):
        assert _close(row["Max Δ"], expected["max_delta"])
        assert int(row["Max Δ layer"]) == expected["max_delta_layer"]
        assert int(row["Max Δ target layer"]) == expected["max_delta_target_layer"]
        for column, key in (("Mean Δ", "mean_delta"), ("Mean before", "mean_before"), ("Mean after", "mean_after")):
            assert _close(row[column], expected[key]), (column, row[column], expected[key])
        assert _close(row["Random-copy bound"], expected["baseline_overlap_bound"], 5e-4)
        assert _close(row["p (pairing)"], expected["p_pairing"], 5e-3 * expected["p_pairing"])
        assert row["Verdict"].endswith(expected["verdict"])
        counts = [expected[c] for c in ("n_correspondence", "n_beyond_vocabulary", "n_emotion_group",
                                        "n_emotion_specific")]
        assert row["Cells (a)/(b)/(c)/all"] == "/".join(map(str, counts)) + f" of {expected['n_cells']}"
    for i, result in enumerate(results, 1):  # each model's per-layer table is its layer table
        rows = md_tables(text)[f"{i}. Results of {result.target['name']}"]
        layers = result.layers
        assert [int(r["Layer"]) for r in rows] == layers["layer"].tolist()
        for r, (_, expected) in zip(rows, layers.iterrows()):
            assert _close(r["Before"], expected["mean_overlap_before"])
            assert _close(r["After"], expected["mean_overlap_after"])
            assert _close(r["Δ"], expected["delta"])
            assert _close(r["Random-copy bound"], expected["baseline_overlap_bound"], 5e-4)
            assert r["(a)"] == f"{expected['n_correspondence']}/3" and r["(b)"] == f"{expected['n_beyond_vocabulary']}/3"
            assert r["All three"] == f"{expected['n_emotion_specific']}/3"
            assert r["Verdict"] == expected["verdict"]
        mean = re.search(rf"### {i}\. Results of .*?\*\*Mean improvement\*\*: ([\d.]+)", text, re.S)
        assert _close(mean.group(1), layers["delta"].mean())
    assert csv.loc[csv["model"] == "deep", "peak_region"].item() == "upper"


def test_every_image_exists_and_the_html_is_self_contained(compared):
    out, _, _ = compared
    text = (out / "report" / "cmp.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) >= 4 * 3 + 1  # overlap, verdict vs k, explained variance per model; the relative-depth overlay
    assert sum("_k_profile.png" in src for src in images) == 4
    for src in images:
        assert (out / "report" / src).is_file(), src
        assert src.startswith("cmp_figures/")
    assert "random-weight copies (mean … 95 % prediction bound)" in text and "ceiling" not in text.lower()
    page = (out / "report" / "cmp.html").read_text()
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) == len(images)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http://" not in page and "https://" not in page and "href=" not in page and "<link" not in page
    assert "<style>" in page and "<script" not in page
    assert "<table>" in page and "<h2>Sanity checks of the scientific pattern</h2>" in page


def test_japanese_report_carries_the_seed_headings_in_one_register(compared):
    out, _, _ = compared
    text = (out / "report" / "cmp_ja.md").read_text()
    for heading in ["## 目的", "## 生成物", "## 実行コマンド", "## 実験設定", "### 共通設定", "### モデル別設定",
                    "## 結果概要（4モデル比較）", "### 1. twin の結果", "## 4モデル間の比較考察",
                    "### 1. 改善パターンの比較", "#### 「before ≒ 0 → after > 0.1」パターンの確認", "#### 改善が大きい層の位置",
                    "## 科学的パターンのサニティチェック", "### チェック項目と結果",
                    "#### 1. 全層平均の mean_overlap_before はチャンスレベル k/d にありますか（写像前に共有がないか）",
                    "#### 2. mean_overlap_after は 0.1〜0.2 以上のオーダーまで増えていますか",
                    "#### 3. Δ はすべての層で正で、いくつかの層でランダム重みのコピーの増加を上回りますか",
                    "### サニティチェックの結論", "## モデル間の定量的比較", "### 改善幅の比較（最大Δ）",
                    "### 改善が大きい層の分布", "## 主要な知見", "## 今後のステップ", "## 結論"]:
        assert re.search(rf"^{re.escape(heading)}$", text, re.M), heading
    # marks are words that render in any font: no emoji anywhere, [合格] / [不合格] in the lines
    assert not [m for m in FORBIDDEN_MARKS if m in text]
    assert "[合格]" in text and "[不合格]" in text and "[pass]" not in text
    assert "**平均改善幅**" in text and "Purpose" not in text
    assert "![" not in text  # --no-figures
    # verdict words and counts in Japanese ("18セル中6セル"), never the English words
    assert "語彙を超えない" in text and "モデル間の対応なし" in text and "語彙を超えて共有" in text
    assert "18セル中18セル" in text and "of 18" not in text and "not beyond vocabulary" not in text
    # one register: every sentence, and every check and conclusion line, ends in です・ます
    assert not plain_form_endings(text), plain_form_endings(text)


POLITE = ("です", "ます", "ました", "ません", "でした", "ください")


def plain_form_endings(text: str) -> list[str]:
    """Japanese sentences (ending in 。) and check / conclusion lines that do not end in です・ます
    (parenthetical remarks at the end are skipped)."""
    prose = re.sub(r"```.*?```|`[^`]*`", "", text, flags=re.S)
    while True:  # drop parentheticals, innermost first
        stripped = re.sub(r"（[^（）]*）|\([^()]*\)", "", prose)
        if stripped == prose:
            break
        prose = stripped
    checks = (prose.split("## 科学的パターン")[1].split("## モデル間の定量的比較")[0]
              + prose.split("\n## 結論")[1].split("## 来歴")[0])
    endings = [s for line in prose.splitlines() if not line.startswith(("#", "|")) for s in line.split("。")[:-1]]
    endings += [line.rstrip("。") for line in checks.splitlines() if line.startswith(("- ", "1. ", "2. ", "3. ", "4. "))]
    return [e[-40:] for e in endings if re.search(r"[ぁ-ん]", e) and not e.rstrip().endswith(POLITE)]


def test_unrelated_models_are_not_beyond_vocabulary_and_a_planted_twin_is(compared):
    comparison = compare_results([unrelated(), twin(), noise()])
    bad, good, flat = comparison.entries
    checks = {c.key: c for c in bad.checks}
    assert bad.overall.status == FAIL and bad.overall.reason == "overall_original_not_baseline"
    assert checks["after_increase"].status == WARN and checks["after_increase"].reason == "after_high_not_baseline"
    assert checks["correspondence"].status == PASS and checks["beyond_vocabulary"].status == FAIL
    assert flat.overall.status == FAIL and flat.overall.reason == "overall_original_not_baseline_no_corr"
    assert {c.key: c for c in flat.checks}["correspondence"].status == FAIL
    good_checks = {c.key: c for c in good.checks}
    assert good.overall.status == PASS and good_checks["beyond_vocabulary"].status == PASS
    # a twin shares every prompt grouping: (c) fails by design and is context, not a failure
    assert good_checks["emotion_group"].status == INFO and good.summary["n_emotion_specific"] == 0
    out, _, _ = compared
    text = (out / "report" / "cmp.md").read_text()
    conclusion = text.split("### Conclusion of the sanity checks")[1].split("##")[0]
    line = next(l for l in conclusion.splitlines() if l.startswith("- **unrelated**"))
    assert line.startswith("- **unrelated**: [fail] not beyond vocabulary:")
    assert "passes the original's check" in line and "not the random-copy baseline" in line
    line = next(l for l in conclusion.splitlines() if l.startswith("- **noise**"))
    assert line.startswith("- **noise**: [fail] no cross-model correspondence:")
    assert next(l for l in conclusion.splitlines() if l.startswith("- **twin**")).startswith(
        "- **twin**: [pass] shared beyond vocabulary")
    check2 = text.split("#### 2. ")[1].split("####")[0]
    assert "- **unrelated**: [warn]" in check2 and "passes the original's check but not the random-copy baseline" in check2
    # "emotion-specific" is never a verdict; only "deep" passes all three steps
    assert set(verdict_cells(text)) <= PAIR_VERDICTS | {f"{n} of 3 beyond vocabulary" for n in range(4)}
    assert "emotion-specific" not in " ".join(verdict_cells(text))
    final = text.split("\n## Conclusion\n")[1].split("## Provenance")[0]
    assert "Shared beyond vocabulary ((a)+(b)): 2 of 4 model pair(s)" in final
    assert "Pairs with emotion-specific cells (all three steps): 1 of 4" in final


def test_a_report_of_two_unrelated_random_models_never_says_emotion_specific(tiny_model_path, tmp_path):
    """Real pipeline, real verdict: two unrelated random-weight models (GPT-2 and Qwen2 shapes)."""
    from emoalign.study.api import run

    result = run(str(tiny_model_path("gpt2")), str(tiny_model_path("qwen2")), layers=[1, 2], n_components=3,
                 max_samples_per_emotion=12, n_permutations=20, n_bootstrap=30, n_pairing_permutations=20,
                 baseline_seeds=3, device="cpu", results_dir=tmp_path / "results", write=False)
    path = result.save(tmp_path / "pair.safetensors")
    assert main(["summarize", "--alignment-path", str(path), "--write-report", str(tmp_path / "pair.md")]) == 0
    assert main(["compare", str(path), "--write-report", str(tmp_path / "cmp.md"), "--no-figures"]) == 0
    verdict = result.summary["verdict"]
    assert verdict in ("not beyond vocabulary", "no cross-model correspondence")
    for name in ("pair.md", "cmp.md"):
        text = (tmp_path / name).read_text()
        # the headline says first that no cell is emotion-specific, then the vocabulary verdict
        assert f"**Pair verdict**: No cell is emotion-specific (0 of 6 pass all three steps); {verdict} — " in text
        assert "emotion-specific" not in " ".join(verdict_cells(text))
        assert not re.search(r"(verdict|Verdict)\**:?\s*(\[pass\])?\s*emotion-specific", text)
    assert "Sanity checks" in (tmp_path / "pair.md").read_text()
    printed = format_layer_table(result)
    assert f"pair verdict: {verdict} — " in printed and "copies95" in printed


def test_the_seed_numbers_give_the_seed_checks_and_carry_no_verdict(tmp_path):
    """The original's Llama / Gemma / Qwen tables (legacy metric) reproduce its pass/warn/fail of checks
    1-3 (check 1 now against chance, 1/d for the legacy metric); legacy numbers carry no verdict; the
    'upper layers' 9-11 of Llama (32 blocks) sit in its lower third of depth."""
    llama = make_result("llama3_8b", [0.124622, 0.504833, 0.465373, 0.432786, 0.451560, 0.402819, 0.408334, 0.418881,
                                      0.454718, 0.573908, 0.578386, 0.713503], before=0.0002, n_target_layers=32,
                        metric="legacy", jitter=0, stats=False)
    gemma = make_result("gemma3_12b", [0.000011, 0.000432, 0.000261, 0.000393, 0.000481, 0.000554, 0.000325],
                        before=[0.000509, 0.000299, 0.000247, 0.000235, 0.000260, 0.000259, 0.000281],
                        n_target_layers=48, metric="legacy", jitter=0, stats=False)
    qwen = make_result("qwen3_8b", [0.003449, 0.077358, 0.074162, 0.085964, 0.105332, 0.067167, 0.037794, 0.030777,
                                    0.024207, 0.029145, 0.041804, 0.081099], before=0.00022, n_target_layers=36,
                       metric="legacy", jitter=0, stats=False)
    comparison = compare_results([llama, gemma, qwen])
    statuses = [[c.status for c in e.checks[:3]] for e in comparison.entries]
    assert statuses == [[PASS, PASS, PASS], [PASS, FAIL, FAIL], [PASS, WARN, PASS]]
    assert [e.overall.status for e in comparison.entries] == [NA, NA, NA]  # legacy: never pass nor fail
    assert {e.overall.reason for e in comparison.entries} == {"overall_legacy"}
    assert all(c.status == NA for e in comparison.entries for c in e.checks[3:7])
    llama_row = comparison.table.iloc[0]
    assert llama_row["max_delta_target_layer"] == 11 and llama_row["peak_layers"] == "9-11"
    assert llama_row["peak_region"] == "lower" and llama_row["verdict"] == "no verdict (legacy metric)"
    assert llama_row["mean_after"] == pytest.approx(0.460810, abs=1e-6)
    # a "before" far above chance is flagged, not passed as "≈ 0"
    shared = make_result("shared", 0.5, before=0.4, layers=range(3))
    check = compare_results([shared]).entries[0].checks[0]
    assert check.status == WARN and check.reason == "before_high" and check.params["ratio"] > 2
    paths = [r.save(tmp_path / f"{r.target['name']}.safetensors") for r in (llama, gemma)]
    assert main(["compare", *map(str, paths), "--write-report", str(tmp_path / "r.md"), "--no-figures"]) == 0
    text = (tmp_path / "r.md").read_text()
    assert "Legacy numbers carry no verdict" in text and "legacy numbers carry no verdict" in text
    assert set(verdict_cells(text)) == {"no verdict (legacy metric)"}


def test_old_schema_artifacts_render_with_a_note_and_no_verdict(tmp_path, capsys):
    old = make_result("old", [0.9, 0.92, 0.95], schema="old")
    path = old.save(tmp_path / "old.safetensors")
    assert main(["compare", str(path), str(twin().save(tmp_path / "twin.safetensors")), "--write-report",
                 str(tmp_path / "r.md"), "--output-csv", str(tmp_path / "r.csv")]) == 0
    text = (tmp_path / "r.md").read_text()
    assert "This artifact was written before the three-step verdict" in text
    assert "emotion-specific" not in " ".join(verdict_cells(text))  # its old verdict words are not shown as one
    assert "no verdict (old artifact)" in verdict_cells(text)
    assert pd.read_csv(tmp_path / "r.csv")["verdict"].tolist() == ["no verdict (old artifact)",
                                                                   "shared beyond vocabulary"]
    entry = compare_results([old]).entries[0]
    checks = {c.key: c for c in entry.checks}
    assert checks["correspondence"].status == PASS  # from its per-cell pairing p-values
    assert checks["beyond_vocabulary"].reason == "no_baseline_old" and checks["reliability"].reason == "no_reliability_old"
    assert entry.overall.status == WARN and entry.overall.reason == "overall_old_schema"
    capsys.readouterr()
    assert main(["summarize", "--alignment-path", str(path), "--write-report", str(tmp_path / "pair.md")]) == 0
    printed = capsys.readouterr().out
    assert "pair verdict: no verdict (old artifact) — this artifact predates the three-step verdict" in printed
    assert "emotion-specific alignment" not in printed


def test_without_baseline_the_verdict_stops_at_correspondence():
    result = make_result("nobase", [0.6, 0.7], copies=None)
    assert result.summary["verdict"] == "correspondence; vocabulary not ruled out (no baseline)"
    entry = compare_results([result]).entries[0]
    checks = {c.key: c for c in entry.checks}
    assert checks["beyond_vocabulary"].status == NA and checks["beyond_vocabulary"].reason == "no_baseline"
    assert entry.overall.status == WARN and entry.overall.reason == "overall_no_baseline"
    printed = format_layer_table(result)
    assert "pair verdict: correspondence; vocabulary not ruled out (no baseline)" in printed
    assert "no random-copy baseline" in printed


def test_printed_layer_table_shows_the_copies_the_steps_and_the_pair_verdict():
    printed = format_layer_table(unrelated())
    header = printed.splitlines()[1]
    for column in ("before", "after", "delta", "chance", "copies95", "95% CI", "norm.", "a/b/c/all", "verdict"):
        assert column in header, column
    rows = [l for l in printed.splitlines()[2:8]]
    assert all(re.search(r"\s3/0/[0-3]/0\s+0 of 3 beyond vocabulary$", row) for row in rows), rows
    assert "pair verdict: not beyond vocabulary — " in printed and "ceiling" not in printed
    legacy = make_result("legacy", [0.3, 0.4], metric="legacy")
    printed = format_layer_table(legacy)
    assert "pair verdict: no verdict (legacy metric) — legacy numbers carry no verdict" in printed
    assert "copies95" not in printed and "beyond vocabulary" not in printed


def test_untrained_control_is_compared_with_its_trained_pair():
    control = make_result("twin-untrained", 0.3, layers=range(6), specificity=0.0, copies=0.3, control=True, seed=5)
    comparison = compare_results([twin(), control])
    trained, ctrl = comparison.entries
    assert trained.control == "twin-untrained" and ctrl.control_of == "twin"
    assert {c.key: c for c in trained.checks}["control"].status == PASS
    assert ctrl.overall.status == FAIL
    as_good = make_result("twin-untrained", [0.95, 0.97, 0.99, 0.98, 0.97, 0.96], specificity=0.8, control=True,
                          seed=6)
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
    assert "01_twin_k_2_k_profile.png" in names
    assert len(layer_profile(grid)) == 4


def test_legends_sit_outside_the_data(tmp_path):
    """The overlap figure's legend lies below the axes: it never covers a curve."""
    pytest.importorskip("matplotlib")

    captured = []
    real = plots._save

    def keep(fig, path, formats=plots.DEFAULT_FIGURE_FORMATS):
        captured.append(fig)
        return real(fig, path, formats)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots, "_save", keep)
        plots.pair_figures(unrelated(), tmp_path)
    assert len(captured) == 3  # overlap, verdict vs k, explained variance
    for fig in captured:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is not None:
                assert legend.get_window_extent(renderer).y1 <= ax.get_window_extent(renderer).y0


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


def test_summarize_report_embeds_the_pair_figures_and_the_verdict(tmp_path):
    path = twin().save(tmp_path / "a.safetensors")
    assert main(["summarize", "--alignment-path", str(path), "--write-report", str(tmp_path / "pair.md")]) == 0
    text = (tmp_path / "pair.md").read_text()
    for heading in ("## Figures", "## Per-layer results", "## Verdict against k", "## Sanity checks"):
        assert heading in text, heading
    assert ("**Pair verdict**: No cell is emotion-specific (0 of 18 pass all three steps); shared beyond vocabulary"
            ", with 18 of 18 cells passing (b) — ") in text and "_k_profile.png" in text
    for src in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (tmp_path / src).is_file()
    assert load(path).layers.equals(twin().layers)
    ja = (tmp_path / "pair.ja.md").read_text()  # the same report in Japanese beside it, with its own figures
    for heading in ("## 図", "## 層ごとの結果", "## k に対する判定", "## 科学的パターンのサニティチェック"):
        assert heading in ja, heading
    assert "判定は「語彙を超えて共有」で、(b) を満たすのは18セル中18セルです" in ja and "of 18" not in ja
    for src in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", ja):
        assert src.startswith("pair.ja_figures/") and (tmp_path / src).is_file()


def test_string_tables_have_the_same_keys():
    assert set(EN) == set(JA)
    assert not [k for k, v in EN.items() if "ceiling" in v.lower() and "noise ceiling" not in v.lower()]


def test_numerics_flag_non_finite_overlaps_and_skipped_layers():
    broken = twin()
    broken.layers.loc[2, "mean_overlap_after"] = np.nan
    broken.extraction["source"]["layers"] = [0, 1, 2, 3, 4, 5, 6]
    entry = compare_results([broken, twin()]).entries[0]
    assert not entry.numerics.clean
    assert entry.numerics.non_finite["mean_overlap_after"] == 1 and entry.numerics.skipped_layers["source"] == [6]
    assert compare_results([twin()]).entries[0].numerics.clean
