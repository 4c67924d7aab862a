"""The message catalog (:mod:`emoalign.report.i18n`): every key in English and Japanese with the same
placeholders, a strict lookup (an unknown key raises, never prints itself), whole reports rendered in
both languages under strict mode, and Japanese verdicts built from the counts, not from English."""

from __future__ import annotations

import re
import string

import pytest
from test_report_compare import PAIR_VERDICTS, deep, make_result, noise, twin, unrelated

from emoalign.core.errors import EmoalignError
from emoalign.report import i18n
from emoalign.report.comparative import build_report, layer_verdict
from emoalign.report.compare import compare_results
from emoalign.report.document import to_markdown
from emoalign.report.i18n import (
    CATALOG,
    EN,
    JA,
    LANGS,
    VERDICT_KEYS,
    MessageKeyError,
    demo_text,
    figure_text,
    message,
    strict_messages,
    strings,
)
from emoalign.report.marks import MARK_KEYS, mark
from emoalign.report.summary import write_pair_reports


def placeholders(template: str) -> set[str]:
    """The parameter names a template fills (``{ratio:.1f}`` -> ``ratio``)."""
    return {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template)
            if field is not None}


def variety():
    """Results of every kind a report must render: each verdict, no baseline, no pairing null, no
    statistics, legacy numbers, an old artifact, an untrained control and a grid."""
    return [
        twin(), unrelated(), deep(), noise(),
        make_result("nobase", [0.6, 0.7], copies=None),
        make_result("nopairing", [0.5, 0.6], pairing=None, seed=7),
        make_result("untested", [0.4, 0.5], stats=False),
        make_result("legacy", [0.3, 0.4], metric="legacy", stats=False),
        make_result("old", [0.9, 0.92, 0.95], schema="old"),
        make_result("twin-untrained", 0.3, layers=range(6), specificity=0.0, copies=0.3, control=True, seed=5),
        make_result("gridded", [0.2, 0.3, 0.25, 0.4], layers=[0, 0, 1, 1], target_layers=[0, 5, 0, 5],
                    layer_match="grid"),
    ]


def test_every_key_has_english_and_japanese_with_the_same_placeholders():
    assert set(CATALOG) == set(LANGS) == {"en", "ja"}
    assert set(EN) == set(JA), (sorted(set(EN) - set(JA)), sorted(set(JA) - set(EN)))
    for key in EN:
        for lang in LANGS:
            assert isinstance(CATALOG[lang][key], str) and CATALOG[lang][key].strip(), (key, lang)
        assert placeholders(EN[key]) == placeholders(JA[key]), (key, placeholders(EN[key]), placeholders(JA[key]))


def test_every_template_fills_from_its_own_placeholders_under_strict_mode():
    with strict_messages():
        for lang in LANGS:
            for key, template in CATALOG[lang].items():
                specs = {field: spec for _, field, spec, _ in string.Formatter().parse(template) if field}
                params = {name: 0.5 if specs.get(name) else "x" for name in placeholders(template)}
                assert "{" not in message(lang, key, **params).replace("{}", ""), (lang, key)


def test_an_unknown_key_or_a_missing_translation_raises_naming_key_and_language(monkeypatch):
    for lang in LANGS:
        with pytest.raises(KeyError) as raised:
            strings(lang)("no_such_message")
        assert isinstance(raised.value, MessageKeyError)
        assert "no_such_message" in str(raised.value) and repr(lang) in str(raised.value)
    monkeypatch.delitem(JA, "h_purpose")
    assert strings("en")("h_purpose") == "Purpose"
    with pytest.raises(MessageKeyError, match=r"'h_purpose' has no 'ja' text"):
        strings("ja")("h_purpose")
    with pytest.raises(MessageKeyError):
        strings("ja").verdict("emotion-specific alignment")  # words the catalog does not know
    with pytest.raises(EmoalignError, match="--lang fr"):
        strings("fr")


def test_a_parameter_not_passed_reads_na_and_raises_under_strict_mode():
    assert strings("en")("after_ok", threshold="0.1") == "mean n/a (≥ 0.1)"
    with strict_messages(), pytest.raises(MessageKeyError, match=r"'after_ok' \(en\): parameter \{after\}"):
        strings("en")("after_ok", threshold="0.1")
    assert strings("en")("after_ok", threshold="0.1") == "mean n/a (≥ 0.1)"  # strict mode ends with the block


def test_verdict_words_marks_figure_and_demo_text_come_from_the_catalog():
    assert set(VERDICT_KEYS) == PAIR_VERDICTS
    for words, key in VERDICT_KEYS.items():
        assert EN[key] == words and strings("en").verdict(words) == words  # the stored words, unchanged
        assert strings("ja").verdict(words) == JA[key] and not re.search(r"[a-z]{4}", JA[key].replace("legacy", ""))
    assert [mark(status, "ja") for status in MARK_KEYS] == ["[合格]", "[要注意]", "[不合格]", "[参考]", "[対象外]"]
    assert figure_text("ja", "k_sweep", pair="a vs b") == "k スイープ: a vs b"
    assert demo_text("en", "twin_beyond_measured", n=3, n_cells=4) == "3 of 4 cells"
    assert not hasattr(i18n, "VERDICTS_JA") and not hasattr(i18n, "_LAYER_VERDICTS_JA")


def test_japanese_layer_verdicts_are_built_from_the_counts_not_from_the_english_words():
    result = deep()
    result.layers["verdict"] = "words no parser could read"  # the stored English is not what the report reads
    entry = compare_results([result]).entries[0]
    row = entry.profile.iloc[0]
    assert layer_verdict(strings("ja"), row, "current") == "3セル中3セルが語彙を超える"
    assert layer_verdict(strings("en"), row, "current") == "3 of 3 beyond vocabulary"
    nobase = compare_results([make_result("nobase", [0.6, 0.7], copies=None)]).entries[0]
    assert layer_verdict(strings("ja"), nobase.profile.iloc[0], "current") == "3セル中3セルで対応あり（基準なし）"
    text = to_markdown(build_report(compare_results([result]), lang="ja")[1])
    assert "3セル中3セルが語彙を超える" in text and "words no parser" not in text


CATALOG_KEY = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(EN, key=len, reverse=True) if "_" in k)
                         + r")\b")


@pytest.mark.parametrize("lang", LANGS)
def test_whole_reports_render_in_both_languages_under_strict_mode(lang):
    """The comparative report of every kind of result, and the per-pair report of each, use only keys
    the catalog has, with every parameter passed; no key is printed into the text."""
    results = variety()
    with strict_messages():
        texts = [to_markdown(build_report(compare_results(results), lang=lang)[1])]
        for result in results:
            texts.append(to_markdown(build_report(compare_results([result]), lang=lang, pair=True,
                                                  artifacts={"alignment": "a.safetensors"})[1]))
    for text in texts:
        assert "n/a n/a" not in text
        leaked = {m for m in CATALOG_KEY.findall(text) if m not in ("mean_overlap_before", "mean_overlap_after")}
        assert not leaked, leaked
    if lang == "ja":  # no English sentence left: verdicts, marks and counts are all Japanese
        for text in texts:
            assert not re.search(r"\d+ of \d+|beyond vocabulary|\[(pass|fail|warn|info)\]", text)


def test_the_per_pair_reports_are_written_in_both_languages_without_figures(tmp_path):
    result = unrelated()
    artifacts = {"alignment": str(tmp_path / "a.safetensors"), "summary CSV": str(tmp_path / "s.csv"),
                 "gpt2 emotion vectors": str(tmp_path / "v.safetensors")}
    with strict_messages():
        written = write_pair_reports(result, tmp_path / "pair_report.md", artifacts)
    assert written == {"report": tmp_path / "pair_report.md", "report (ja)": tmp_path / "pair_report.ja.md"}
    en, ja = (path.read_text() for path in written.values())
    assert not list(tmp_path.glob("*_figures")) and "![" not in en + ja  # figures are off by default
    for heading in ("## Purpose", "## Artifacts", "## Command", "## Settings", "## Per-layer results",
                    "## Verdict against k", "## Sanity checks of the scientific pattern", "## Next steps",
                    "## Conclusion", "## Provenance"):
        assert re.search(rf"^{re.escape(heading)}$", en, re.M), heading
    for heading in ("## 目的", "## 生成物", "## 実行コマンド", "## 実験設定", "## 層ごとの結果", "## k に対する判定",
                    "## 科学的パターンのサニティチェック", "## 今後のステップ", "## 結論", "## 来歴"):
        assert re.search(rf"^{re.escape(heading)}$", ja, re.M), heading
    # the sections that compare pairs are left out of a report of one pair
    assert "Quantitative comparison" not in en and "Key findings" not in en and "1-model" not in en
    for path in [*artifacts.values(), *map(str, written.values())]:
        assert f"`{path}`" in en and f"`{path}`" in ja
    assert "- per-layer summary CSV: `" in en and "- 層ごとのサマリー CSV: `" in ja
    assert "- emotion vectors of gpt2: `" in en and "- gpt2 の感情ベクトル: `" in ja
    assert "**Pair verdict**: No cell is emotion-specific (0 of 18 pass all three steps); not beyond vocabulary" in en
    assert "判定は「語彙を超えない」です" in ja and "not beyond vocabulary" not in ja
