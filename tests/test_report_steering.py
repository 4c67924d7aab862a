"""The causal test in the reports (:mod:`emoalign.report.steering`): a hand-built SteeringResult with
one cell of each verdict rendered in English and Japanese, its words and numbers per cell, user data
kept inert (Markdown, HTML, terminal), the skipped line, the figure, the artifact round trip, and
the per-pair reports that end with the section."""

from __future__ import annotations

import re
import struct

import numpy as np
import pandas as pd
import pytest
from test_report_compare import unrelated

from emoalign.core.steering import CELL_COLUMNS, CONDITIONS, VERDICTS, SteeringResult
from emoalign.report.document import to_markdown
from emoalign.report.html import to_html
from emoalign.report.i18n import strict_messages, strings
from emoalign.report.steering import (
    steering_lines,
    steering_section,
    steering_skipped_section,
    verdict_sentence,
    write_steering_figure,
)
from emoalign.report.summary import write_pair_reports

EMOTIONS = ("gratitude", "anger", "apology")
SCALES = (0.25, 0.5, 1.0)
TEST_SCALE = 0.5
LAYER_PAIRS = ((4, 6), (8, 12))
HOSTILE = "evil|name\nwith <script>alert(1)</script> \x1b[31mred\x1b[0m `tick` *star*"

#: (layer pair, emotion) -> own effect, transferred effect, efficiency interval, p own vs random, p vs random,
#: p vs shuffled, verdict (the efficiency is transferred / own; none where the own effect is not positive)
CELLS = {
    ((4, 6), "gratitude"): (0.80, 0.496, (0.41, 0.80), 0.001, 0.002, 0.004, "transfers"),
    ((4, 6), "anger"): (0.60, 0.30, (0.29, 0.68), 0.003, 0.010, 0.380, "beyond_random_only"),
    ((4, 6), "apology"): (0.50, 0.05, (-0.11, 0.28), 0.004, 0.380, 0.700, "no_better_than_random"),
    ((8, 12), "gratitude"): (0.00, 0.02, (None, None), 0.450, 0.600, 0.800, "own_does_not_steer"),
    ((8, 12), "anger"): (0.90, 0.81, (0.69, 1.08), 0.001, 0.001, 0.002, "transfers"),
    ((8, 12), "apology"): (0.40, 0.10, (0.04, 0.43), 0.020, 0.210, 0.330, "no_better_than_random"),
}


def steering_result(*, target: str = "qwen", source: str = "llama", continuation: str = "Thank you so much!",
                    prompt: str = "The weather today is") -> SteeringResult:
    """A SteeringResult of 2 layer pairs × 3 emotions with consistent made-up numbers: the tables agree
    with each other (the matrices' diagonal and the dose at the test scale are the cells' effects)."""
    rng = np.random.default_rng(0)
    cells, dose, matrices, layers = [], [], [], []
    for layer, target_layer in LAYER_PAIRS:
        for e, emotion in enumerate(EMOTIONS):
            own, tr, (eff_low, eff_high), p_own, p_random, p_shuffled, verdict = CELLS[(layer, target_layer), emotion]
            eff = tr / own if own > 0 else float("nan")
            eff_low, eff_high = (float("nan") if v is None else v for v in (eff_low, eff_high))
            cells.append({
                "layer": layer, "target_layer": target_layer, "emotion": emotion,
                "effect_own": own, "own_ci_low": own - 0.12, "own_ci_high": own + 0.11,
                "effect_transferred": tr, "transferred_ci_low": tr - 0.1, "transferred_ci_high": tr + 0.09,
                "efficiency": eff, "efficiency_ci_low": eff_low, "efficiency_ci_high": eff_high,
                "specificity_own": own * 0.7, "specificity_transferred": tr * 0.6,
                "random_mean": 0.01, "random_p95": 0.08, "shuffled_mean": 0.05, "shuffled_p95": 0.2,
                "p_own_random": p_own, "p_random": p_random, "p_shuffled": p_shuffled,
                "p_random_cell": p_random / 2, "p_shuffled_cell": p_shuffled / 2, "verdict": verdict,
            })
            for condition, effect in (("own", own), ("transferred", tr)):
                for f, toward in enumerate(EMOTIONS):
                    shift = effect if f == e else round(effect * 0.2 - 0.05 * f, 3)
                    matrices.append({"layer": layer, "target_layer": target_layer, "condition": condition,
                                     "vector_emotion": emotion, "toward_emotion": toward, "mean_shift": shift})
            for scale in SCALES:
                ratio = scale / TEST_SCALE
                base = {"layer": layer, "target_layer": target_layer, "emotion": emotion, "scale": scale}
                for condition, effect, n_draws in (("own", own, 1), ("transferred", tr, 1), ("random", 0.01, 20),
                                                   ("shuffled", 0.05, 20)):
                    mean = effect * ratio
                    dose.append({**base, "condition": condition, "mean_shift": mean, "ci_low": mean - 0.08 * ratio,
                                 "ci_high": mean + 0.08 * ratio, "n_draws": n_draws})
        layers.append({"layer": layer, "target_layer": target_layer, "map_r2": 0.41 + layer / 100,
                       "map_r2_prompts": 0.37 + layer / 100, "residual_norm": 12.5 * target_layer,
                       "n_fit_pairs": 480, "cosine_own_transferred": 0.31 + layer / 100,
                       "n_transfers": sum(CELLS[(layer, target_layer), e][-1] == "transfers" for e in EMOTIONS)})
    shifts = {}
    for layer, target_layer in LAYER_PAIRS:
        stem = f"L{layer}_T{target_layer}"
        shifts[f"{stem}_own"] = rng.normal(size=(len(SCALES), 3, 5, 3)).astype(np.float32)
        shifts[f"{stem}_transferred"] = rng.normal(size=(len(SCALES), 3, 5, 3)).astype(np.float32)
        for s in range(len(SCALES)):
            shifts[f"{stem}_random_s{s}"] = rng.normal(size=(20, 5, 3)).astype(np.float32)
            shifts[f"{stem}_shuffled_s{s}"] = rng.normal(size=(20, 3, 5, 3)).astype(np.float32)
    conts = [{"layer": 8, "target_layer": 12, "condition": "base", "emotion": None, "prompt": prompt,
              "text": " it is sunny."}]
    conts += [{"layer": 8, "target_layer": 12, "condition": condition, "emotion": emotion, "prompt": prompt,
               "text": continuation if emotion == "gratitude" else f" {emotion} words ({condition[:2]})."}
              for condition in ("own", "transferred") for emotion in EMOTIONS]
    config = {
        "scales": list(SCALES), "test_scale": TEST_SCALE, "n_prompts": 24, "n_fit_prompts": 96, "n_random": 20,
        "n_shuffles": 20, "alpha": 0.05, "n_bootstrap": 1000, "seed": 0, "map_method": "ridge",
        "source_name": source, "target_name": target, "direction": f"{source} -> {target}",
        "positions": "every position but the first", "prompts": [prompt, "I walked to the station"],
    }
    return SteeringResult(
        pair_name=f"{source}_to_{target}", source={"name": source}, target={"name": target}, config=config,
        cells=pd.DataFrame(cells, columns=list(CELL_COLUMNS)), dose=pd.DataFrame(dose),
        matrices=pd.DataFrame(matrices), layers=pd.DataFrame(layers), shifts=shifts, continuations=conts,
        tokens={"gratitude": ["grateful", "thank", "thanks", "appreciate"], "anger": ["angry", "fur", "rage", "mad"],
                "apology": ["sorry", "apolog", "regret", *(f"tok{i}" for i in range(12))]},
        seconds=42.0,
    )


def T(key: str, lang: str, **params) -> str:
    return strings(lang)(key, **params)


def markdown(result: SteeringResult, lang: str, **kw) -> str:
    with strict_messages():
        return to_markdown(steering_section(result, lang, **kw))


def row_of(text: str, layers: str, emotion: str) -> str:
    """The line of (layers, emotion) in the cells table (the section's first table)."""
    rows = [line for line in tables(text)[0] if line.startswith(f"| {layers} | {emotion} | ")]
    assert len(rows) == 1, (layers, emotion, rows)
    return rows[0]


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def tables(text: str) -> list[list[str]]:
    """The Markdown tables of ``text``, each as its lines."""
    out, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            out.append(current)
            current = []
    return out


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def test_the_fixture_has_one_cell_of_each_verdict_and_the_result_tables_columns():
    result = steering_result()
    assert set(result.cells["verdict"]) == set(VERDICTS)
    assert list(result.cells.columns) == list(CELL_COLUMNS)
    assert set(result.dose["condition"]) == set(CONDITIONS)
    assert result.emotions == EMOTIONS


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_section_renders_in_both_languages_with_every_part(lang):
    text = markdown(steering_result(), lang)
    heading = {"en": "## Causal test: steering qwen with llama's emotion vectors",
               "ja": "## 因果検証：llama の感情ベクトルで qwen を操舵する"}[lang]
    assert text.startswith(heading + "\n")
    headline = {"en": "**The transferred vectors steer qwen beyond both nulls in 2 of 6 cells**; qwen's own vectors "
                      "move it beyond random directions in 5.",
                "ja": "**転移ベクトルが両方の帰無分布を上回って qwen を動かしたのは6セル中2セルです**。qwen 自身のベクトルが"
                      "ランダム方向を上回ったのは5セルでした。"}[lang]
    assert headline in text
    method = {"en": ("a ridge map", "4→6: 0.41, 8→12: 0.45", "0.25, 0.5, 1 × the median residual norm",
                     "verdicts at 0.5", "24 neutral prompts", "20 random directions", "20 maps fitted on shuffled",
                     "every position but the first", "α = 0.05"),
              "ja": ("ridge 写像", "4→6: 0.41, 8→12: 0.45", "残差ノルム中央値の 0.25, 0.5, 1 倍", "判定は 0.5 倍",
                     "中立プロンプト24件", "ランダム方向20本", "写像20個", "先頭以外のすべての位置", "α = 0.05")}[lang]
    for words in method:
        assert words in text, words
    assert not re.search(r"\bsteer_\w+", text)  # no catalog key in place of a sentence
    if lang == "ja":
        assert not re.search(r"\d+ of \d+|steers|random direction|own vector|transferred|Causal", text)
    # the specificity matrices: own / transferred per cell, the diagonal in bold, both layer pairs
    assert "| 4→6 | gratitude | **+0.80 / +0.50** | +0.11 / +0.05 |" in text
    assert "| 8→12 | anger | +0.18 / +0.16 | **+0.90 / +0.81** |" in text
    # no figure: the dose-response is a table, a row per layer pair and condition, a column per scale
    own = {"en": "own vector", "ja": "自身のベクトル"}[lang]  # (0.80 + 0.60 + 0.50) / 3 at 0.5, ∝ scale
    assert f"| 4→6 | {own} | +0.32 [0.28, 0.36] | +0.63 [0.55, 0.71] | +1.27 [1.11, 1.43] |" in text
    header = (T("steer_col_layers", lang), T("steer_col_condition", lang), T("steer_col_scale", lang, scale=0.25))
    assert "| " + " | ".join(header) + " |" in text
    assert len([line for line in text.splitlines() if line.startswith(("| 4→6 | ", "| 8→12 | "))]) == 6 + 6 + 8
    # the tokens read (12 shown, then how many more) and the continuations
    assert "- **apology**: sorry, apolog, regret, tok0, " in text
    assert {"en": "tok8 and 3 more", "ja": "tok8、ほか3個"}[lang] in text and "tok9" not in text
    assert {"en": "| transferred gratitude vector | Thank you so much! |",
            "ja": "| 転移した gratitude ベクトル | Thank you so much! |"}[lang] in text
    assert {"en": "| nothing (unsteered) | it is sunny. |",
            "ja": "| なし（操舵なし） | it is sunny. |"}[lang] in text
    assert {"en": "**Prompt**: The weather today is", "ja": "**プロンプト**：The weather today is"}[lang] in text


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_each_verdict_reads_in_its_own_words_for_its_cell_with_the_right_efficiency(lang):
    text = markdown(steering_result(), lang)
    expected = {
        "en": {
            ("4→6", "gratitude"): "steers qwen toward gratitude as its own vector does, 0.62 of its effect "
                                  "(95% CI 0.41–0.80)",
            ("8→12", "anger"): "steers qwen toward anger as its own vector does, 0.90 of its effect (95% CI 0.69–1.08)",
            ("4→6", "anger"): "moves qwen toward anger beyond random directions (p = 0.01), but no more than the "
                              "source's vector through maps fitted on shuffled pairs (p = 0.38)",
            ("4→6", "apology"): "no better than a random direction (p = 0.38)",
            ("8→12", "apology"): "no better than a random direction (p = 0.21)",
            ("8→12", "gratitude"): "qwen's own gratitude vector does not steer it beyond random directions at this "
                                   "layer (p = 0.45): nothing to transfer",
        },
        "ja": {
            ("4→6", "gratitude"): "自身のベクトルと同様に qwen を gratitude の方向へ動かす（効果は自身のベクトルの 0.62 倍、"
                                  "95%信頼区間 0.41–0.80）",
            ("8→12", "anger"): "自身のベクトルと同様に qwen を anger の方向へ動かす（効果は自身のベクトルの 0.90 倍、"
                               "95%信頼区間 0.69–1.08）",
            ("4→6", "anger"): "ランダム方向よりも強く qwen を anger の方向へ動かす（p = 0.01）が、シャッフルしたペアで"
                              "学習した写像で移したソースベクトルを上回るとはいえない（p = 0.38）",
            ("4→6", "apology"): "ランダム方向と区別できない（p = 0.38）",
            ("8→12", "apology"): "ランダム方向と区別できない（p = 0.21）",
            ("8→12", "gratitude"): "この層では qwen 自身の gratitude ベクトルでもランダム方向を上回る変化が起きないため"
                                   "（p = 0.45）、転移を評価できない",
        },
    }[lang]
    for (layers, emotion), words in expected.items():
        row = row_of(text, layers, emotion)
        assert row.endswith(f"| {words} |"), (row, words)
        assert sum(other in row for other in expected.values()) == 1  # no other cell's words
    assert row_of(text, "4→6", "gratitude").split(" | ")[4] == "0.62 [0.41, 0.80]"  # the efficiency column
    assert row_of(text, "8→12", "gratitude").split(" | ")[4] == "n/a"  # no own effect to divide by
    assert row_of(text, "4→6", "apology").split(" | ")[2:4] == ["+0.50 [0.38, 0.61]", "+0.05 [-0.05, 0.14]"]


def test_a_transfer_whose_own_vector_does_not_steer_quotes_no_efficiency():
    row = steering_result().cells.iloc[0].to_dict()
    assert verdict_sentence(row, "qwen", "en").startswith("steers qwen toward gratitude as its own vector does, 0.62")
    row.update(p_own_random=0.3)  # both nulls beaten, the reference not: the efficiency would mislead
    for lang, words in (("en", "steers qwen toward gratitude beyond random directions and shuffled maps, though "
                                "qwen's own vector does not move it beyond random directions (p = 0.3)"),
                        ("ja", "ランダム方向とシャッフル写像を上回って qwen を gratitude の方向へ動かす。ただし qwen 自身の"
                               "ベクトルはランダム方向を上回らない（p = 0.3）")):
        with strict_messages():
            assert verdict_sentence(row, "qwen", lang) == words
    assert verdict_sentence({**row, "p_own_random": 0.001, "efficiency": float("nan")}, "qwen", "en").startswith(
        "steers qwen toward gratitude beyond random directions and shuffled maps, though")
    assert verdict_sentence(row, "a|b*c", "en").startswith(r"steers a\|b\*c toward")  # the name is escaped here


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_hostile_names_prompts_tokens_and_continuations_stay_inert(lang):
    result = steering_result(target=HOSTILE, source="src\r\nname|x", continuation=HOSTILE, prompt="p|q\n<b>bold</b>")
    result.tokens["anger"] = ["|pipe", "<script>", "\x1b[2J", "a\nb"]
    result.config["map_method"] = "ridge|<i>"
    text = markdown(result, lang)
    assert "\x1b" not in text and "\r" not in text and "<script>" not in text and "<b>" not in text
    assert "\\x1b\\[31mred" in text and "\\<script\\>" in text  # escaped, still readable
    for lines in tables(text):  # every row of a table has the header's number of cells
        assert {unescaped_pipes(line) for line in lines} == {unescaped_pipes(lines[0])}, lines
    # no line of user text breaks out of its block: the hostile name's second half is never a line of its own
    assert not any(line.startswith("with ") for line in text.splitlines())
    page = to_html(steering_section(result, lang), title="t", lang=lang)
    assert "<script>" not in page and "\x1b" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<table>") == len(tables(text))
    terminal = "\n".join(steering_lines(result))
    assert "\x1b" not in terminal and "\r" not in terminal


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_skipped_section_is_one_heading_and_one_line_saying_why(lang):
    reason = "bert has no next-token head (a BertModel); pass a *ForCausalLM model."
    with strict_messages():
        blocks = steering_skipped_section(reason, lang)
    text = to_markdown(blocks)
    assert len(blocks) == 2 and len(text.strip().splitlines()) == 3
    expected = {"en": "## Causal test: not run\n\nThe causal test did not run: bert has no next-token head (a "
                      "BertModel); pass a \\*ForCausalLM model.\n",
                "ja": "## 因果検証：未実施\n\n因果検証は実施していません（理由：bert has no next-token head (a "
                      "BertModel); pass a \\*ForCausalLM model）。\n"}[lang]
    assert text == expected
    hostile = to_markdown(steering_skipped_section("x\n# heading <script>\x1b[0m", lang))
    assert "\n# heading" not in hostile and "<script>" not in hostile and "\x1b" not in hostile


def test_the_result_survives_save_and_load(tmp_path):
    result = steering_result(target=HOSTILE, continuation=HOSTILE)
    loaded = SteeringResult.load(result.save(tmp_path / "steering.safetensors"))
    for name in ("cells", "dose", "matrices", "layers"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(result, name), check_dtype=False, obj=name)
    assert loaded.shifts.keys() == result.shifts.keys()
    for name, array in result.shifts.items():
        np.testing.assert_array_equal(loaded.shifts[name], array)
    assert (loaded.pair_name, loaded.source, loaded.target, loaded.config, loaded.continuations, loaded.tokens,
            loaded.seconds) == (result.pair_name, result.source, result.target, result.config, result.continuations,
                                result.tokens, result.seconds)
    assert loaded.continuations[0]["emotion"] is None and loaded.emotions == EMOTIONS
    assert markdown(loaded, "en") == markdown(result, "en")  # the report reads the same from the artifact
    # a column of no numbers at all (no own effect anywhere: no efficiency) comes back as None; it still reads n/a
    result.cells[["efficiency", "efficiency_ci_low", "efficiency_ci_high"]] = np.nan
    loaded = SteeringResult.load(result.save(tmp_path / "none.safetensors"))
    assert row_of(markdown(loaded, "en"), "4→6", "anger").split(" | ")[4] == "n/a"


def test_the_per_pair_reports_end_with_the_section_and_its_figure_in_both_languages(tmp_path):
    result = steering_result()
    with strict_messages():
        written = write_pair_reports(unrelated(), tmp_path / "pair_report.md", figures=True, steering=result)
    headings = {"report": "## Causal test: steering qwen with llama's emotion vectors",
                "report (ja)": "## 因果検証：llama の感情ベクトルで qwen を操舵する"}
    for name, path in written.items():
        text = path.read_text(encoding="utf-8")
        assert text.count(headings[name]) == 1
        section = text[text.index(headings[name]):]
        assert not re.search(r"^## ", section[3:], re.M)  # the last section of the report
        assert text.index(headings[name]) > text.index({"report": "## Provenance", "report (ja)": "## 来歴"}[name])
        figure = path.parent / f"{path.stem}_figures" / "steering.png"
        assert f"]({figure.parent.name}/steering.png)" in section  # embedded, beside the pair's own figures
        assert len(list(figure.parent.glob("*.png"))) > 1
        width, height = png_size(figure)
        assert 1800 <= width <= 3500 and 900 <= height <= 2500, (width, height)
        assert "| 4→6 | gratitude |" in section and "Dose" not in section and "用量反応\n" not in section
    # the figure's text follows the report's language (where a CJK font is installed)
    from emoalign.report.plots import figure_lang

    en, ja = (tmp_path / f"{stem}_figures" / "steering.png" for stem in ("pair_report", "pair_report.ja"))
    assert (en.read_bytes() != ja.read_bytes()) == (figure_lang("ja") == "ja")


def test_a_skipped_test_is_one_line_at_the_end_of_both_reports_and_none_adds_nothing(tmp_path):
    reason = "bert has no next-token head (a BertModel)"
    with strict_messages():
        written = write_pair_reports(unrelated(), tmp_path / "skipped.md", steering=reason)
        plain = write_pair_reports(unrelated(), tmp_path / "plain.md")
    en, ja = (path.read_text(encoding="utf-8") for path in written.values())
    assert en.rstrip().endswith("## Causal test: not run\n\nThe causal test did not run: " + reason + ".")
    assert ja.rstrip().endswith("## 因果検証：未実施\n\n因果検証は実施していません（理由：" + reason + "）。")
    for path in plain.values():
        text = path.read_text(encoding="utf-8")
        assert "Causal test" not in text and "因果検証" not in text


def test_the_figure_has_a_row_per_layer_pair(tmp_path):
    result = steering_result()
    one = steering_result()
    for name in ("cells", "dose", "matrices", "layers"):
        frame = getattr(one, name)
        setattr(one, name, frame[frame["layer"] == 4].reset_index(drop=True))
    (w2, h2), (w1, h1) = (png_size(write_steering_figure(r, tmp_path / f"{n}.png", "ja"))
                          for n, r in (("two", result), ("one", one)))
    assert abs(w1 - w2) < 0.1 * w2 and 1.6 < h2 / h1 < 2.4, ((w1, h1), (w2, h2))
