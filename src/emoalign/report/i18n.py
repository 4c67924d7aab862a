"""Strings of the generated reports, in English (default) and Japanese (the original report's
language and section layout). Every sentence of a report is one of these templates, filled with
numbers computed from the results; nothing is written by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emoalign.errors import EmoalignError

LANGS: tuple[str, ...] = ("en", "ja")

EN: dict[str, str] = {
    # title and headings
    "title": "Comparative analysis of emotion-subspace alignment: {source} vs {targets}",
    "last_updated": "Last updated",
    "h_purpose": "Purpose",
    "h_artifacts": "Artifacts",
    "h_this_report": "This report",
    "h_commands": "Commands",
    "h_settings": "Settings",
    "h_common_settings": "Common settings",
    "h_model_settings": "Per-model settings",
    "h_results": "Results overview ({n}-model comparison)",
    "h_results_model": "{i}. Results of {label}",
    "h_discussion": "Comparison across the {n} models",
    "h_patterns": "1. Improvement patterns",
    "h_pattern_original": "The original's pattern: before ≈ 0 → after > 0.1",
    "h_pattern_null": "Against the emotion-label null",
    "h_peak_position": "Where the largest improvements sit",
    "h_control": "2. Trained vs untrained control",
    "h_checks": "Sanity checks of the scientific pattern",
    "h_checks_items": "Checks and results",
    "h_checks_conclusion": "Conclusion of the sanity checks",
    "h_quantitative": "Quantitative comparison",
    "h_max_delta": "Improvement (max Δ)",
    "h_distribution": "Distribution of the largest improvements",
    "h_figures": "Figures",
    "h_numerics": "Numerics",
    "h_conclusion": "Conclusion",
    "h_provenance": "Provenance",
    # purpose, artifacts, commands, settings
    "purpose": (
        "Do {source} (source) and {n} other model(s) ({targets}) hold the same emotion subspaces ({emotions}) "
        "in different coordinates? For every model pair, per-layer PCA subspaces of token-based emotion "
        "vectors are compared before and after a linear map fitted on neutral text only; this report "
        "compares the pairs, tests the overlaps against the emotion-label null where the artifacts carry it, "
        "and checks the original study's expectations."
    ),
    "artifacts_intro": "Inputs of this comparison (alignment artifacts and, in the study layout, their siblings):",
    "out_markdown": "Markdown report",
    "out_html": "HTML report (self-contained)",
    "out_csv": "per-model summary CSV",
    "out_figures": "figures",
    "python_api": "(result built in Python; no file)",
    "commands_intro": "The command lines that produced each input, as recorded in its provenance:",
    "no_command": "(no command recorded: built with the Python API)",
    "comparative_report": "comparative report",
    "set_source": "Source model",
    "set_dataset": "Prompt set",
    "set_dataset_hash": "Dataset hash",
    "set_source_layers": "Source layers",
    "set_n_components": "PCA dimension (k)",
    "set_map_method": "Map",
    "set_fit_data": "Map fit data",
    "set_metric": "Metric",
    "set_reference": "Emotion-vector reference",
    "set_layer_match": "Layer match",
    "set_seed": "Seed",
    "set_emotions": "Emotions",
    "set_statistics": "Statistics",
    "set_n_permutations": "Label-null permutations",
    "set_n_bootstrap": "Bootstrap resamples",
    "set_n_pairing_permutations": "Pairing-null shuffles",
    "set_alpha": "FDR level (BH q)",
    "set_label_counts": "Prompts per label",
    "set_method": "Method",
    "method_text": (
        "token-based emotion vectors → multi-sample PCA → linear map target→source fitted on neutral "
        "data → overlap before/after"
    ),
    "model_setting": "**{label}**: {id} ({model_type}, {n_layers} layers, d_model={d_model}, {dtype} on {device})",
    "control_note": "untrained-weights control of {trained}",
    # results
    "col_layer": "Layer",
    "col_target_layer": "Target layer",
    "col_rel_depth": "Rel. depth",
    "col_before": "Before",
    "col_after": "After",
    "col_delta": "Δ",
    "col_null_p95": "Null p95",
    "col_ceiling": "Ceiling",
    "col_ci": "95% CI (after)",
    "col_specific": "Specific cells",
    "col_verdict": "Verdict",
    "mean_improvement": "**Mean improvement**: {delta} (mean before: {before} → mean after: {after})",
    "null_summary": "**Label null**: mean 95th percentile {null_p95}; emotion-specific cells (BH q < 0.05): "
                    "{n_specific} of {n_tested}",
    "fig_overlap": "{label}: overlap before/after per layer ({metric})",
    "fig_part_null": "grey band: label null (mean … 95th percentile)",
    "fig_part_ci": "orange band: bootstrap 95% CI of after",
    "fig_part_ceiling": "dotted: noise ceiling",
    "fig_part_chance": "dashed: chance k/d",
    "fig_parts": "; {parts}",
    "fig_parts_join": ", ",
    "fig_layer_grid": "{label}: after-map overlap over source layer × target layer",
    "fig_explained_variance": "{label}: explained variance of the k={k} components per layer",
    "fig_relative_depth": "All models: after-map overlap against the target layer's relative depth",
    "fig_k_sweep": "{pair}: mean overlap against k",
    # discussion
    "peak_explain": (
        "Depth is the TARGET layer's relative depth, layer / (n_layers − 1): lower third < 0.33 ≤ middle "
        "third < 0.67 ≤ upper third. Peak layers: Δ within a quarter of the Δ range below the maximum."
    ),
    "peak_line": "{region} (peak target layers {layers}); max Δ {max_delta} at target layer {max_layer} "
                 "(relative depth {depth}, {max_region})",
    "peak_none": "no layer improves (Δ ≤ 0 everywhere)",
    "region_lower": "lower third",
    "region_middle": "middle third",
    "region_upper": "upper third",
    "region_none": "no peak",
    "region_n/a": "n/a",
    # checks
    "checks_intro": (
        "Checks 1–3 are the original study's. They cannot tell emotion-specific alignment from the overlap "
        "that any two models reading the same tokens reach, so when the artifacts carry the emotion-label "
        "null, it governs the conclusion: a pair passes only if it beats the null."
    ),
    "check_before_near_zero": "Is the all-layer mean of mean_overlap_before close to 0?",
    "check_after_increase": "Does mean_overlap_after rise to the order of 0.1–0.2 or more?",
    "check_delta_positive": "Is Δ positive, and notably large at some layers?",
    "check_above_null": "Is 'after' above the emotion-label null's 95th percentile?",
    "check_label_null": "Which fraction of cells is emotion-specific (label null, BH q < 0.05)?",
    "check_specificity": "Is the specificity (same-emotion overlap − mean overlap with the other emotions) positive?",
    "check_ceiling": "How does 'after' compare with the noise ceiling (split-half overlap)?",
    "check_control": "Does the trained model beat its untrained control?",
    "before_ok": "mean {before} (≈ 0; at most {limit})",
    "before_high": "mean {before} (above {limit}: the models share coordinates before any map)",
    "after_ok": "mean {after} (≥ {threshold})",
    "after_high_not_null": "mean {after} ≥ {threshold}: passes the original's check but not the null "
                           "(label-null 95th percentile {null_p95})",
    "after_small": "mean {after} (increased from {before}, but below {threshold})",
    "after_none": "mean {after} (no notable increase over before {before})",
    "delta_ok": "positive at every layer; notably large (Δ ≥ {large}) at target layers {large_layers} (max {max_delta})",
    "delta_bad": "not positive at layer(s) {negative_layers} and small everywhere (max Δ {max_delta} < {large})",
    "delta_negative": "not positive at layer(s) {negative_layers}; max Δ {max_delta}",
    "delta_small": "positive everywhere but small (max Δ {max_delta} < {large})",
    "no_null": "not in this artifact (no emotion-label null)",
    "above_null_pass": "above at all {n} layer pairs (mean after {after} vs null p95 {null_p95})",
    "above_null_warn": "above at {n_above} of {n} layer pairs (mean after {after} vs null p95 {null_p95})",
    "above_null_fail": "not above at any of {n} layer pairs (mean after {after} vs null p95 {null_p95})",
    "label_null_pass": "emotion-specific in all {n_tested} cells (q < {alpha})",
    "label_null_warn": "emotion-specific in {n_specific} of {n_tested} cells (q < {alpha})",
    "label_null_fail": "emotion-specific in none of {n_tested} cells (q < {alpha}): not distinguishable from null",
    "no_specificity": "not in this artifact",
    "specificity_ok": "positive at every layer pair (mean {mean})",
    "specificity_some": "positive at {n_positive} of {n} layer pairs (mean {mean})",
    "no_ceiling": "not in this artifact (no noise ceiling)",
    "ceiling_ok": "after {after} is {ratio} of the ceiling {ceiling}",
    "ceiling_low": "after {after} is only {ratio} of the ceiling {ceiling}",
    "no_control": "no untrained control among the inputs (run with --control untrained)",
    "control_is_control": "this input is itself an untrained control",
    "control_ok": "mean after {after} vs control {control_after} ({control}): the trained model is better",
    "control_bad": "mean after {after} vs control {control_after} ({control}): the untrained control does as well",
    "control_mixed": "mean after {after} vs control {control_after} ({control}): not clearly better than the control",
    "overall_original_fail": "fails the original's checks",
    "overall_untested": "passes (some of) the original's checks, but this artifact carries no label-null test, "
                        "so emotion-specific alignment is not established",
    "overall_control_weak": "beats the label null, but not clearly its untrained control ({control})",
    "overall_label_null_pass": "emotion-specific alignment: all {n_tested} cells beat the label null",
    "overall_above_null_pass": "after above the label-null 95th percentile at all {n} layer pairs",
    "overall_label_null_partial": "partly emotion-specific: {n_specific} of {n_tested} cells beat the label null",
    "overall_above_null_partial": "after above the label-null 95th percentile at {n_above} of {n} layer pairs",
    "overall_original_not_null": "passes the original's check (mean after {after} ≥ {threshold}) but not the null: "
                                 "the overlap is what permuted emotion labels give too",
    "overall_null_fail": "no emotion-specific alignment: the label null is not beaten",
    # quantitative
    "col_model": "Model",
    "col_max_delta": "Max Δ",
    "col_max_delta_layer": "Max Δ layer",
    "col_max_delta_target_layer": "Max Δ target layer",
    "col_mean_delta": "Mean Δ",
    "col_mean_before": "Mean before",
    "col_mean_after": "Mean after",
    "col_mean_null_p95": "Mean null p95",
    "figures_skipped": "Figures: not drawn ({reason}).",
    # numerics
    "numerics_finite": "all values finite",
    "numerics_nonfinite": "non-finite values: {detail}",
    "numerics_no_skips": "no skipped layers",
    "numerics_not_computed": "statistics not computable in some cells (NaN): {detail}",
    "numerics_skips": "layers extracted but absent from the results: {detail}",
    "numerics_matches": "emotion-word match rate (fallbacks to the last token): {detail}",
    # conclusion, provenance
    "conclusion_line": "**{label}**: {icon} {verdict}. Mean overlap {before} → {after}; largest Δ {max_delta} at "
                       "target layer {layer} ({region}).",
    "conclusion_summary": "{passed} of {n} model pair(s) show emotion-specific alignment beyond the label null.",
    "conclusion_untested": "No input carries the emotion-label null: these numbers alone do not establish "
                           "emotion-specific alignment (unrelated models reach after > 0.1 too).",
    "provenance_line": "**{label}**: {date}; {versions}; dataset {dataset} `{hash}`",
    "same_dataset": "All inputs were computed on the same prompt set (same dataset hash).",
    "different_datasets": "⚠️ The inputs use {n} different prompt sets: their numbers are not directly comparable.",
}

JA: dict[str, str] = {
    "title": "感情サブスペース整合性の比較解析: {source} vs {targets}",
    "last_updated": "Last updated",
    "h_purpose": "🎯 目的",
    "h_artifacts": "📦 生成物",
    "h_this_report": "本レポート",
    "h_commands": "🚀 実行コマンド",
    "h_settings": "📄 実験設定",
    "h_common_settings": "共通設定",
    "h_model_settings": "モデル別設定",
    "h_results": "📊 結果概要（{n}モデル比較）",
    "h_results_model": "{i}. {label} の結果",
    "h_discussion": "💡 {n}モデル間の比較考察",
    "h_patterns": "1. 改善パターンの比較",
    "h_pattern_original": "「before ≒ 0 → after > 0.1」パターンの確認",
    "h_pattern_null": "感情ラベル置換帰無分布との比較",
    "h_peak_position": "改善が大きい層の位置",
    "h_control": "2. 未学習コントロールとの比較",
    "h_checks": "🔬 科学的パターンのサニティチェック",
    "h_checks_items": "チェック項目と結果",
    "h_checks_conclusion": "サニティチェックの結論",
    "h_quantitative": "📈 モデル間の定量的比較",
    "h_max_delta": "改善幅の比較（最大Δ）",
    "h_distribution": "改善が大きい層の分布",
    "h_figures": "図",
    "h_numerics": "🧮 数値の健全性",
    "h_conclusion": "📝 結論",
    "h_provenance": "🧾 来歴",
    "purpose": (
        "{source}（source）と{n}つのモデル（{targets}）が、異なる座標系の中で同じ感情サブスペース（{emotions}）を"
        "保持しているかを解析しました。各モデルペアについて、token-based emotion vector の層ごとの PCA サブスペースを、"
        "neutral テキストのみで学習した線形写像の前後で比較します。本レポートでは、ペア間の結果を比較し、"
        "アーティファクトに含まれる場合は感情ラベル置換帰無分布に対して overlap を検定し、元の研究の期待を確認します。"
    ),
    "artifacts_intro": "本比較の入力（アライメント成果物と、研究レイアウト内の関連ファイル）：",
    "out_markdown": "Markdown レポート",
    "out_html": "HTML レポート（自己完結）",
    "out_csv": "モデル別サマリー CSV",
    "out_figures": "図",
    "python_api": "（Python で作成された結果。ファイルなし）",
    "commands_intro": "各入力を生成したコマンド（来歴に記録されたもの）：",
    "no_command": "（コマンドの記録なし: Python API で作成）",
    "comparative_report": "比較レポート",
    "set_source": "Sourceモデル",
    "set_dataset": "プロファイル",
    "set_dataset_hash": "データセットハッシュ",
    "set_source_layers": "対象層（source）",
    "set_n_components": "PCA次元数 (k)",
    "set_map_method": "写像",
    "set_fit_data": "写像の学習データ",
    "set_metric": "指標",
    "set_reference": "感情ベクトルの基準",
    "set_layer_match": "層の対応",
    "set_seed": "シード",
    "set_emotions": "感情",
    "set_statistics": "統計",
    "set_n_permutations": "ラベル置換の回数",
    "set_n_bootstrap": "ブートストラップ回数",
    "set_n_pairing_permutations": "ペアリング帰無のシャッフル回数",
    "set_alpha": "FDR水準（BH q）",
    "set_label_counts": "ラベルごとのプロンプト数",
    "set_method": "手法",
    "method_text": (
        "token-based emotion vector → 多サンプルPCA → neutralデータで学習した target→source 線形写像 → "
        "before/after overlap"
    ),
    "model_setting": "**{label}**: {id}（{model_type}、{n_layers}層、d_model={d_model}、{dtype}、{device}）",
    "control_note": "{trained} の未学習（ランダム重み）コントロール",
    "col_layer": "Layer",
    "col_target_layer": "Target layer",
    "col_rel_depth": "相対深さ",
    "col_before": "Before",
    "col_after": "After",
    "col_delta": "Δ",
    "col_null_p95": "帰無 p95",
    "col_ceiling": "上限",
    "col_ci": "95% CI（after）",
    "col_specific": "特異的セル",
    "col_verdict": "判定",
    "mean_improvement": "**平均改善幅**: {delta}（平均 before: {before} → 平均 after: {after}）",
    "null_summary": "**ラベル帰無分布**: 95パーセンタイルの平均 {null_p95}、感情特異的セル（BH q < 0.05）: "
                    "{n_tested} 中 {n_specific}",
    "fig_overlap": "{label}: 層ごとの before/after overlap（{metric}）",
    "fig_part_null": "灰色帯: ラベル帰無分布（平均〜95パーセンタイル）",
    "fig_part_ci": "橙色帯: after のブートストラップ95% CI",
    "fig_part_ceiling": "点線: ノイズ上限",
    "fig_part_chance": "破線: チャンスレベル k/d",
    "fig_parts": "。{parts}",
    "fig_parts_join": "、",
    "fig_layer_grid": "{label}: source層 × target層 の写像後 overlap",
    "fig_explained_variance": "{label}: 層ごとの k={k} 成分の説明分散",
    "fig_relative_depth": "全モデル: target層の相対深さに対する写像後 overlap",
    "fig_k_sweep": "{pair}: k に対する平均 overlap",
    "peak_explain": (
        "深さは TARGET 層の相対深さ（layer / (n_layers − 1)）: 下位 1/3 < 0.33 ≤ 中間 1/3 < 0.67 ≤ 上位 1/3。"
        "ピーク層: 最大値から Δ の範囲の 1/4 以内の層。"
    ),
    "peak_line": "{region}（ピークの target 層 {layers}）。最大Δ {max_delta} は target 層 {max_layer}"
                 "（相対深さ {depth}、{max_region}）",
    "peak_none": "改善する層なし（すべての層で Δ ≤ 0）",
    "region_lower": "下位層（深さの下1/3）",
    "region_middle": "中間層（深さの中1/3）",
    "region_upper": "上位層（深さの上1/3）",
    "region_none": "ピークなし",
    "region_n/a": "n/a",
    "checks_intro": (
        "チェック1〜3は元の研究のものです。これらは、感情特異的な整合と、同じトークンを読む任意の2モデルが到達する "
        "overlap とを区別できません。そのため、アーティファクトに感情ラベル置換帰無分布がある場合は、それが結論を決めます："
        "帰無分布を上回るペアのみが合格です。"
    ),
    "check_before_near_zero": "全層平均の mean_overlap_before は ≒0 に近いか？",
    "check_after_increase": "mean_overlap_after が 0.1〜0.2 以上のオーダーで増えているか？",
    "check_delta_positive": "delta が正で、いくつかの層で目立って大きくなっているか？",
    "check_above_null": "after は感情ラベル置換帰無分布の95パーセンタイルを上回るか？",
    "check_label_null": "感情特異的なセルの割合は？（ラベル帰無分布、BH q < 0.05）",
    "check_specificity": "特異性（同じ感情の overlap − 他の感情との平均 overlap）は正か？",
    "check_ceiling": "after はノイズ上限（split-half overlap）に対してどの程度か？",
    "check_control": "学習済みモデルは未学習コントロールを上回るか？",
    "before_ok": "平均{before}（≒0、{limit}以下）",
    "before_high": "平均{before}（{limit}超: 写像前から座標を共有している）",
    "after_ok": "平均{after}（{threshold}以上）",
    "after_high_not_null": "平均{after} ≥ {threshold}: 元のチェックは通過するが帰無分布は上回らない"
                           "（ラベル帰無分布の95パーセンタイル {null_p95}）",
    "after_small": "平均{after}（before {before} から増加しているが{threshold}未満）",
    "after_none": "平均{after}（before {before} からほぼ増加なし）",
    "delta_ok": "すべて正、target 層 {large_layers} で特に大きい（Δ ≥ {large}、最大 {max_delta}）",
    "delta_bad": "層 {negative_layers} で正でなく、全体に小さい（最大Δ {max_delta} < {large}）",
    "delta_negative": "層 {negative_layers} で正でない。最大Δ {max_delta}",
    "delta_small": "すべて正だが小さい（最大Δ {max_delta} < {large}）",
    "no_null": "このアーティファクトには含まれない（ラベル帰無分布なし）",
    "above_null_pass": "全{n}層ペアで上回る（平均 after {after}、帰無 p95 {null_p95}）",
    "above_null_warn": "{n}層ペア中{n_above}で上回る（平均 after {after}、帰無 p95 {null_p95}）",
    "above_null_fail": "{n}層ペアのいずれでも上回らない（平均 after {after}、帰無 p95 {null_p95}）",
    "label_null_pass": "全{n_tested}セルで感情特異的（q < {alpha}）",
    "label_null_warn": "{n_tested}セル中{n_specific}セルで感情特異的（q < {alpha}）",
    "label_null_fail": "{n_tested}セルのいずれも感情特異的でない（q < {alpha}）: 帰無分布と区別できない",
    "no_specificity": "このアーティファクトには含まれない",
    "specificity_ok": "すべての層ペアで正（平均 {mean}）",
    "specificity_some": "{n}層ペア中{n_positive}で正（平均 {mean}）",
    "no_ceiling": "このアーティファクトには含まれない（ノイズ上限なし）",
    "ceiling_ok": "after {after} は上限 {ceiling} の {ratio} 倍",
    "ceiling_low": "after {after} は上限 {ceiling} の {ratio} 倍にとどまる",
    "no_control": "入力に未学習コントロールなし（--control untrained で実行）",
    "control_is_control": "この入力自体が未学習コントロール",
    "control_ok": "平均 after {after}、コントロール {control_after}（{control}）: 学習済みモデルが上回る",
    "control_bad": "平均 after {after}、コントロール {control_after}（{control}）: 未学習コントロールも同程度",
    "control_mixed": "平均 after {after}、コントロール {control_after}（{control}）: コントロールを明確には上回らない",
    "overall_original_fail": "元のチェック項目をクリアできない",
    "overall_untested": "元のチェック（の一部）は通過するが、このアーティファクトにはラベル帰無分布の検定がなく、"
                        "感情特異的な整合は確認されていない",
    "overall_control_weak": "ラベル帰無分布は上回るが、未学習コントロール（{control}）を明確には上回らない",
    "overall_label_null_pass": "感情特異的な整合: 全{n_tested}セルがラベル帰無分布を上回る",
    "overall_above_null_pass": "全{n}層ペアで after がラベル帰無分布の95パーセンタイルを上回る",
    "overall_label_null_partial": "部分的に感情特異的: {n_tested}セル中{n_specific}セルがラベル帰無分布を上回る",
    "overall_above_null_partial": "{n}層ペア中{n_above}で after がラベル帰無分布の95パーセンタイルを上回る",
    "overall_original_not_null": "元のチェック（平均 after {after} ≥ {threshold}）は通過するが帰無分布は上回らない: "
                                 "この overlap は感情ラベルを置換しても得られる",
    "overall_null_fail": "感情特異的な整合なし: ラベル帰無分布を上回らない",
    "col_model": "モデル",
    "col_max_delta": "最大Δ",
    "col_max_delta_layer": "最大Δの層",
    "col_max_delta_target_layer": "最大Δのtarget層",
    "col_mean_delta": "平均Δ",
    "col_mean_before": "平均 before",
    "col_mean_after": "平均 after",
    "col_mean_null_p95": "平均 帰無 p95",
    "figures_skipped": "図: 作成せず（{reason}）。",
    "numerics_finite": "すべての値が有限",
    "numerics_nonfinite": "非有限値: {detail}",
    "numerics_no_skips": "スキップされた層なし",
    "numerics_not_computed": "一部のセルで統計量を計算できず（NaN）: {detail}",
    "numerics_skips": "抽出されたが結果にない層: {detail}",
    "numerics_matches": "感情語の一致率（最終トークンへのフォールバック数）: {detail}",
    "conclusion_line": "**{label}**: {icon} {verdict}。平均 overlap {before} → {after}、最大Δ {max_delta} は "
                       "target 層 {layer}（{region}）。",
    "conclusion_summary": "{n}モデルペア中{passed}ペアで、ラベル帰無分布を超える感情特異的な整合が確認された。",
    "conclusion_untested": "どの入力にも感情ラベル置換帰無分布が含まれない: これらの数値だけでは感情特異的な整合は"
                           "確認できない（無関係なモデル同士でも after > 0.1 になる）。",
    "provenance_line": "**{label}**: {date}、{versions}、データセット {dataset} `{hash}`",
    "same_dataset": "すべての入力は同じプロンプト集合（同じデータセットハッシュ）で計算された。",
    "different_datasets": "⚠️ 入力は{n}種類の異なるプロンプト集合を使っており、数値は直接比較できない。",
}

TABLES: dict[str, dict[str, str]] = {"en": EN, "ja": JA}


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "n/a"


@dataclass(frozen=True)
class Strings:
    """``T(key, **params)``: the template ``key`` of ``lang`` filled with ``params``
    (missing parameters read ``n/a``)."""

    lang: str

    def __call__(self, key: str, **params: Any) -> str:
        template = TABLES[self.lang].get(key)
        if template is None:
            template = EN.get(key, key)
        return template.format_map(_Missing(params))


def figure_caption(T: Strings, kind: str, label: str, params: dict[str, Any]) -> str:
    """Caption of a figure of ``kind``; the overlap figure names the bands it draws."""
    caption = T(f"fig_{kind}", label=label, **params)
    parts = [T(f"fig_part_{part}") for part in ("null", "ci", "ceiling", "chance") if params.get(part) is True]
    return caption + (T("fig_parts", parts=T("fig_parts_join").join(parts)) if parts else "")


def strings(lang: str) -> Strings:
    """The string table of ``lang`` (``en`` or ``ja``)."""
    if lang not in TABLES:
        raise EmoalignError(f"--lang {lang}: unknown (use {', '.join(LANGS)})")
    return Strings(lang)
