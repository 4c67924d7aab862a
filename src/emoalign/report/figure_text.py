"""Text drawn inside the figures (axis labels, legends, titles), in English and Japanese.

:func:`emoalign.report.plots.figure_lang` decides which one a figure gets: Japanese only where a
CJK font is installed, so a figure never shows boxes for missing glyphs.
"""

from __future__ import annotations

from typing import Any

FIGURE_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "copies_band": "random-weight copies: mean … 95% prediction bound",
        "lexical_floor": "input embeddings (lexical floor, 95% CI shaded)",
        "copies_band_short": "random-weight copies: mean … 95% bound",
        "ci_band": "after: 95% CI of the layer mean",
        "before": "before",
        "after": "after",
        "chance": "chance k/d",
        "source_layer": "source layer",
        "target_layer": "target layer",
        "layer": "layer",
        "overlap_metric": "overlap ({metric})",
        "no_baseline": "(no random-copy baseline in this artifact)",
        "mean_overlap_after": "mean overlap after",
        "k_axis": "k (PCA components)",
        "mean_overlap_bounded": "mean overlap (bounded)",
        "overlap_vs_k": "overlap vs k",
        "chosen": " (chosen)",
        "share_beyond": "share of cells beyond vocabulary",
        "beyond_vs_k": "beyond vocabulary (BH across cells) vs k",
        "rel_depth_axis": "relative depth of the target layer (layer / (n_layers - 1))",
        "overlap_after_map": "overlap after map",
        "rel_depth_title": "All models on relative depth (dotted: random-copy 95% bound)",
        "grid_colorbar": "overlap after map (white = {centre_name} {centre})",
        "centre_copies": "random copies' mean",
        "centre_chance": "chance k/d",
        "grid_marks": "*: some emotions beyond vocabulary, **: all (BH q < {alpha})",
        "mean_before": "mean before",
        "mean_after": "mean after",
        "copies_bound": "random-copy 95% bound",
        "mean_overlap": "mean overlap",
        "source_model": "source: {name}",
        "target_model": "target: {name}",
        "target_model_matched": "target: {name} (at the matched layer)",
        "explained_variance": "explained variance ratio (sum over k)",
        "verdict_vs_k": "{title}: verdict vs k",
        "k_sweep": "k-sweep: {pair}",
    },
    "ja": {
        "copies_band": "ランダム重みのコピー: 平均〜95%予測限界",
        "lexical_floor": "入力埋め込み（語彙の下限、網掛けは95%信頼区間）",
        "copies_band_short": "ランダム重みのコピー: 平均〜95%予測限界",
        "ci_band": "after: 層平均の95%信頼区間",
        "before": "写像前 (before)",
        "after": "写像後 (after)",
        "chance": "チャンスレベル k/d",
        "source_layer": "source 層",
        "target_layer": "target 層",
        "layer": "層",
        "overlap_metric": "overlap（{metric}）",
        "no_baseline": "この生成物にはランダムコピー基準がありません",
        "mean_overlap_after": "写像後の平均 overlap",
        "k_axis": "k（PCA 成分数）",
        "mean_overlap_bounded": "平均 overlap（bounded）",
        "overlap_vs_k": "k に対する overlap",
        "chosen": "（採用）",
        "share_beyond": "語彙を超えるセルの割合",
        "beyond_vs_k": "k に対する語彙を超えるセルの割合（BH 補正）",
        "rel_depth_axis": "target 層の相対深さ layer / (n_layers − 1)",
        "overlap_after_map": "写像後の overlap",
        "rel_depth_title": "全モデルの相対深さ別 overlap（点線: コピーの95%予測限界）",
        "grid_colorbar": "写像後の overlap（白 = {centre_name} {centre}）",
        "centre_copies": "コピーの平均",
        "centre_chance": "チャンスレベル",
        "grid_marks": "*: 一部の感情が語彙を超える、**: すべての感情が語彙を超える（BH q < {alpha}）",
        "mean_before": "写像前の平均",
        "mean_after": "写像後の平均",
        "copies_bound": "コピーの95%予測限界",
        "mean_overlap": "平均 overlap",
        "source_model": "source: {name}",
        "target_model": "target: {name}",
        "target_model_matched": "target: {name}（対応する層）",
        "explained_variance": "説明分散比（k 成分の合計）",
        "verdict_vs_k": "{title}: k に対する判定",
        "k_sweep": "k スイープ: {pair}",
    },
}


def figure_text(lang: str, key: str, **params: Any) -> str:
    """The figure string ``key`` in ``lang`` (``en`` or ``ja``), filled with ``params``."""
    return FIGURE_TEXT.get(lang, FIGURE_TEXT["en"])[key].format(**params)
