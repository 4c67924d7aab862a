"""The message catalog: every string of every generated report, in English (default) and Japanese
(the original report's language and section layout) — the comparative and per-pair reports, the
demo report's opening (``demo_*``), the text drawn inside the figures (``plot_*``), the verdict words
(``verdict_*``, ``layer_*``) and the status marks (``mark_*``). Every sentence of a report is one of
these templates, filled with numbers computed from the results; nothing is written by hand.

The lookup is strict: an unknown key, or a key missing from a language, raises
:class:`MessageKeyError` naming both; a key is never printed in its place. A parameter a template
names but the caller did not pass reads ``n/a`` (a number that was not computed); under
:func:`strict_messages` (the tests) it raises as well.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from emoalign.analysis.verdict import (
    BEYOND_VOCABULARY,
    LEGACY_NO_VERDICT,
    NO_CORRESPONDENCE,
    NOT_TESTED,
    VOCABULARY_ONLY,
    VOCABULARY_UNCHECKED,
)
from emoalign.core.errors import EmoalignError

LANGS: tuple[str, ...] = ("en", "ja")

#: the report's verdict for artifacts written before the three-step verdict
OLD_SCHEMA_NO_VERDICT = "no verdict (old artifact)"

EN: dict[str, str] = {
    # title and headings
    "title": "Comparative analysis of emotion-subspace alignment: {source} vs {targets}",
    "last_updated": "Last updated",
    "h_purpose": "Purpose",
    "h_reading": "How the verdict is reached",
    "h_artifacts": "Artifacts",
    "h_this_report": "This report",
    "h_commands": "Commands",
    "h_settings": "Settings",
    "h_common_settings": "Common settings",
    "h_model_settings": "Per-model settings",
    "h_results": "Results overview ({n}-model comparison)",
    "h_results_model": "{i}. Results of {label}",
    "h_k_profile": "Verdict against k: {label}",
    "h_discussion": "Comparison across the {n} models",
    "h_patterns": "1. Improvement patterns",
    "h_pattern_original": "The original's pattern: before ≈ 0 → after > 0.1",
    "h_pattern_baseline": "Against random-weight copies of both models (beyond vocabulary)",
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
        "vectors are compared before and after a linear map fitted on neutral text only. This report compares "
        "the pairs, checks the original study's expectations, and judges every overlap against what two "
        "models reading the same prompts reach without sharing any emotion structure."
    ),
    "reading": (
        "An overlap is judged in three steps. (a) **Correspondence**: the map beats maps fitted on shuffled "
        "pairs (pairing null). (b) **Beyond vocabulary**: the overlap and the specificity beat random-weight "
        "copies of both models that read the same prompts (one-sided 95 % prediction bound over the copies, "
        "BH across cells); two models that read the same tokens share structure whatever their weights, so "
        "this step decides. (c) **Emotion, not any prompt group**: the emotion grouping beats random prompt "
        "groups relabelled identically in both models; a planted twin shares every grouping and fails (c) by "
        "design, so (c) is context. The verdict of a cell or a pair is (a)+(b); only cells that pass all three "
        "steps are called emotion-specific."
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
    "set_n_permutations": "Relabelling permutations (prompt-group and joint nulls)",
    "set_n_bootstrap": "Bootstrap resamples (BCa)",
    "set_n_pairing_permutations": "Pairing-null shuffles",
    "set_baseline_copies": "Random-weight copies (vocabulary baseline)",
    "set_alpha": "FDR level (BH q)",
    "set_label_counts": "Prompts per label",
    "set_method": "Method",
    "method_text": (
        "token-based emotion vectors → multi-sample PCA → linear map target→source fitted on neutral "
        "data → overlap before/after → the same pipeline on random-weight copies of both models"
    ),
    "model_setting": "**{label}**: {id} ({model_type}, {n_layers} layers, d_model={d_model}, {dtype} on {device})",
    "control_note": "untrained-weights control of {trained}",
    # notebooks (AlignmentResult._repr_html_)
    "nb_title": "**{source} vs {target}**: {n} layer pair(s), k = {k}, {metric} metric, {copies} random-weight copies",
    "nb_grid_rows": "grid: the best target layer of each source layer ({shown} of {n} layer pairs; "
                    "result.layer_table() holds every pair)",
    "nb_more_rows": "the first {shown} of {n} layer pairs; result.layer_table() holds every pair",
    # results
    "col_layer": "Layer",
    "col_target_layer": "Target layer",
    "col_rel_depth": "Rel. depth",
    "col_before": "Before",
    "col_after": "After",
    "col_delta": "Δ",
    "col_chance": "Chance",
    "col_copies_bound": "Random-copy bound",
    "col_copies_mean": "Copies' mean",
    "col_ci": "Percentile 95% CI (after)",
    "col_normalised": "Norm. overlap",
    "col_step_a": "(a)",
    "col_step_b": "(b)",
    "col_step_c": "(c)",
    "col_step_all": "All three",
    "col_verdict": "Verdict",
    "col_k": "k",
    "col_mean_specificity": "Mean specificity",
    "col_share_beyond": "Cells beyond vocabulary",
    "table_legend": (
        "Random-copy bound: the copies' one-sided 95 % prediction bound of the overlap (mean over the layer's "
        "cells). (a) correspondence, (b) beyond vocabulary, (c) emotion vs any prompt group: cells passing "
        "each step (BH q < {alpha}); all three: emotion-specific cells. Norm. overlap: cross-half overlap "
        "over the models' own split-half overlaps (1 = a twin). The emb row is the lexical floor: the same "
        "analysis on the models' input embeddings (static word meaning), a reference without a verdict; "
        "beyond emb: the layer's mean overlap lies above the floor's 95 % CI. Percentile 95% CI: the 2.5th–97.5th "
        "percentiles of the layer mean over bootstrap resamples of the prompts (within each emotion; each cell's "
        "own interval in the cell table is BCa). An estimate can lie outside its interval: a resampled subspace is "
        "noisier than the one fitted on all prompts, so resampled overlaps sit nearer chance than the estimate; "
        "BCa corrects for that bias, yet it too excludes the estimate when nearly every resample falls on one side."
    ),
    "mean_improvement": "**Mean improvement**: {delta} (mean before: {before} → mean after: {after})",
    "pair_verdict": "**Pair verdict**: {verdict} — {details}",
    "details_join": "; ",
    "detail_pairing": "map vs shuffled pairs p = {p}",
    "detail_baseline": "vs {n_copies} random-weight copies p = {p} (copies' mean {copies_mean}, 95 % bound {bound})",
    "detail_no_baseline": "no random-copy baseline (vocabulary not ruled out)",
    "detail_steps": "cells passing (a) {a}, (b) {b}, (c) {c} of {n}; emotion-specific (all three steps) in "
                    "{all} of {n}",
    "note_legacy": "Legacy numbers carry no verdict: the legacy metric is not a similarity (it cannot exceed 1/k "
                   "for orthonormal bases). Rerun with --metric bounded for a verdict.",
    "note_old_schema": (
        "This artifact was written before the three-step verdict. It carries the emotion-label null (shown as "
        "the prompt-group null, context only) and a split-half \"noise ceiling\" that is not shown (it sat "
        "below values it claimed to bound); it has no random-copy baseline and no joint relabelling null, so "
        "it carries no verdict. Rerun `emoalign align` on the cached activations to get one."
    ),
    "note_untested": "Statistics were off for this artifact (--permutations 0): no verdict.",
    "note_no_pairing": "The pairing null was off for this artifact (--pairing-permutations 0): no verdict.",
    "note_no_baseline": "No random-copy baseline (--baseline-seeds 0): the overlap may come from the shared "
                        "vocabulary alone, so the verdict stops at (a).",
    "fig_overlap": "{label}: overlap before/after per layer ({metric})",
    "fig_part_copies": "grey band: random-weight copies (mean … 95 % prediction bound)",
    "fig_part_ci": "orange band: percentile 95% CI of the layer mean (after)",
    "fig_part_chance": "dashed: chance k/d",
    "fig_part_no_baseline": "no random-copy baseline in this artifact",
    "fig_parts": "; {parts}",
    "fig_parts_join": ", ",
    "fig_k_profile": "{label}: verdict against k — left: mean overlap after the map and the random-weight "
                     "copies (mean … 95 % bound); right: share of cells beyond vocabulary",
    "fig_k_profile_no_baseline": "{label}: mean overlap after the map against k (no random-copy baseline)",
    "fig_layer_grid": "{label}: after-map overlap over source layer × target layer; the colour scale is white at "
                      "the random-weight copies' mean (without copies: at chance), red above it, blue below; "
                      "*: some emotions of the layer pair beyond vocabulary, **: all (BH q < {alpha})",
    "fig_explained_variance": "{label}: explained variance of the k={k} components per layer",
    "fig_relative_depth": "All pairs: after-map overlap against the target layer's relative depth "
                          "(dotted, in the pair's colour: that pair's random-copy bound)",
    "fig_k_sweep": "{pair}: mean overlap against k (dotted: random-copy bound)",
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
        "Checks 1–3 are the original study's, made able to fail: check 1 compares 'before' with the chance level "
        "k/d rather than with 0; check 3 calls an improvement large only at layers where the overlap beats the "
        "random-weight copies (without copies: where Δ stands out from the other layers). Checks 1 and 2 cannot "
        "tell shared structure from the overlap that any two models reading the same prompts reach. Checks 4–6 are the three steps of the verdict: (4) and (5) "
        "decide, and a pair whose after exceeds 0.1 without beating the random-weight copies fails; (6) is "
        "context. Check 7 reports how well each model's subspaces reproduce across prompt halves "
        "(Spearman–Brown) and the normalised overlap; neither is an upper bound of the overlap."
    ),
    "check_before_near_zero": "Is the all-layer mean of mean_overlap_before at the chance level k/d (nothing shared "
                              "before the map)?",
    "check_after_increase": "Does mean_overlap_after rise to the order of 0.1–0.2 or more?",
    "check_delta_positive": "Is Δ positive at every layer, and larger than the random-weight copies' gain at some "
                            "layers?",
    "check_correspondence": "(a) Does the map carry cross-model correspondence (beat maps fitted on shuffled pairs)?",
    "check_beyond_vocabulary": "(b) Does the overlap go beyond vocabulary (beat random-weight copies of both "
                               "models reading the same prompts)?",
    "check_emotion_group": "(c) Is it the emotion grouping rather than any prompt grouping (context)?",
    "check_reliability": "How reliable are the subspaces (split-half), and what is the normalised overlap?",
    "check_control": "Does the trained model beat its untrained control?",
    "check_readout": "Are the readouts sound (no subspace of one direction, no outlying vectors)?",
    "col_static": "beyond emb",
    "floor_row": "lexical floor: input embeddings (reference, k = {k})",
    "yes": "yes",
    "no": "no",
    "check_static_meaning": "Does any layer go beyond static word meaning (the input embeddings)?",
    "before_ok": "mean {before} is {ratio}× chance {chance} (at most {factor}×): nothing is shared before the map, "
                 "as expected",
    "before_high": "mean {before} is {ratio}× chance {chance} (more than {factor}×): the two models share "
                   "coordinates before any map",
    "before_no_chance": "mean {before}; no chance level in this artifact, so this check cannot be made",
    "after_ok": "mean {after} (≥ {threshold})",
    "after_high_not_baseline": "mean {after} ≥ {threshold}: passes the original's check but not the random-copy "
                               "baseline (copies' 95 % bound {bound})",
    "after_small": "mean {after} (increased from {before}, but below {threshold})",
    "after_none": "mean {after} (no notable increase over before {before})",
    "delta_ok": "positive at every layer; it stands out (Δ ≥ {large}, near the maximum) at target layers "
                "{large_layers} (max {max_delta})",
    "delta_flat": "positive at every layer and about equal at all {n_layers} layers (Δ {min_delta} to {max_delta}): "
                  "no layer stands out",
    "delta_copies_ok": "positive at every layer; after the map the overlap beats the random-weight copies' 95 % bound "
                       "at target layers {large_layers} ({n_large} of {n_layers} layer pairs)",
    "delta_copies_none": "positive at every layer (max Δ {max_delta}), but at none of the {n_layers} layer pairs does "
                         "the overlap beat the random-weight copies' 95 % bound: the copies gain as much",
    "delta_copies_negative": "not positive at layer(s) {negative_layers}; the overlap beats the random-weight copies' "
                             "95 % bound at {n_large} of {n_layers} layer pairs",
    "delta_bad": "not positive at layer(s) {negative_layers} and small everywhere (max Δ {max_delta} < {large})",
    "delta_negative": "not positive at layer(s) {negative_layers}; max Δ {max_delta}",
    "delta_small": "positive everywhere but small (max Δ {max_delta} < {large})",
    "legacy_no_verdict": "legacy numbers carry no verdict (rerun with --metric bounded)",
    "no_pairing": "not in this artifact (no pairing null: statistics off or --pairing-permutations 0)",
    "corr_pass": "the map beats maps fitted on shuffled pairs (pair p = {p}); {n} of {n_cells} cells (BH q < {alpha})",
    "corr_fail": "the map does not beat maps fitted on shuffled pairs (pair p = {p}); {n} of {n_cells} cells "
                 "(BH q < {alpha})",
    "corr_cells_pass": "all {n_cells} cells beat shuffled pairs (BH q < {alpha}; no pair-level test in this artifact)",
    "corr_cells_warn": "{n} of {n_cells} cells beat shuffled pairs (BH q < {alpha}; no pair-level test in this "
                       "artifact)",
    "corr_cells_fail": "none of {n_cells} cells beats shuffled pairs (BH q < {alpha})",
    "beyond_untested": "the {n_copies} random-weight copies were run, but without the pairing null there is no "
                       "verdict (--pairing-permutations 0)",
    "no_baseline": "no random-copy baseline in this artifact (--baseline-seeds 0): vocabulary is not ruled out",
    "no_baseline_old": "not in this artifact (written before the random-copy baseline): vocabulary is not ruled out",
    "beyond_pass": "overlap {after} and specificity {specificity} beat {n_copies} random-weight copies (95 % bounds "
                   "{bound} and {specificity_bound}; p = {p}); {n} of {n_cells} cells",
    "beyond_fail": "overlap {after} / specificity {specificity} do not beat {n_copies} random-weight copies reading "
                   "the same prompts (copies' mean {copies_mean}; 95 % bounds {bound} / {specificity_bound}; "
                   "p = {p}); {n} of {n_cells} cells",
    "no_emotion_null": "not in this artifact (no joint relabelling null)",
    "emotion_all": "emotion-specific (all three steps) in all {n_cells} cells",
    "emotion_some": "(c) holds in {n} of {n_cells} cells; emotion-specific (all three steps) in {n_specific} of "
                    "{n_cells}",
    "emotion_none": "(c) holds in {n} of {n_cells} cells; no cell passes all three steps. Context, not a failure: "
                    "random prompt groups relabelled identically in both models align as well, and a planted twin "
                    "shares every grouping and fails (c) by design",
    "no_reliability": "not in this artifact (no split-half reliability)",
    "no_reliability_old": "not in this artifact; its old split-half \"noise ceiling\" is not shown (it sat below "
                          "values it claimed to bound)",
    "reliability_ok": "split-half reliability (Spearman–Brown) source {rel_source}, target {rel_target}; normalised "
                      "overlap {normalised} (1 = the models agree across prompt halves as well as each agrees "
                      "with itself)",
    "reliability_low": "split-half reliability (Spearman–Brown) source {rel_source}, target {rel_target}, below "
                       "{threshold}: the subspaces reproduce poorly with this many prompts, so every overlap is "
                       "noisy; normalised overlap {normalised}",
    "no_control": "no untrained control among the inputs (run with --control untrained)",
    "no_control_pair": "not in a report of one pair: `emoalign compare` over this alignment and its untrained "
                       "control's compares the two (run with --control untrained for a control)",
    "control_is_control": "this input is itself an untrained control",
    "control_ok": "mean after {after} vs control {control_after} ({control}): the trained model is better",
    "control_bad": "mean after {after} vs control {control_after} ({control}): the untrained control does as well",
    "control_mixed": "mean after {after} vs control {control_after} ({control}): not clearly better than the control",
    "beyond_pass_few_cells": "the pair mean beats {n_copies} random-weight copies (p = {p}), but only {n} of "
                             "{n_cells} cells do on their own: the pair verdict rests on a minority of its cells",
    "readout_unknown": "not in this artifact (written before the readout diagnostics)",
    "readout_ok": "largest first-component share source {source_pc1}, target {target_pc1} (flagged at {bound}); no "
                  "emotion vector above {ratio}× its median norm; map-fit pairs left out as outliers (role, layer, "
                  "pairs): {fit}",
    "readout_ok_no_fit": "largest first-component share source {source_pc1}, target {target_pc1} (flagged at {bound}); "
                         "no emotion vector above {ratio}× its median norm; no map-fit pair was left out as an "
                         "outlier",
    "readout_flagged": "{n} readout(s) flagged — role, layer, emotion (first-component share, outlying prompts): "
                       "{where}. Map-fit pairs left out as outliers: {fit}. A subspace of one direction (share "
                       "≥ {bound}) or vectors above {ratio}× the median norm is the signature of a readout on "
                       "the attention sink: the overlaps of these "
                       "cells measure that, not emotion (see --bos)",
    "static_no_floor": "no lexical floor in this artifact (legacy metric, activations without the input "
                       "embeddings, or written before the floor)",
    "static_beyond": "{n} of {n_layers} layer pairs ({layers}) go beyond the input embeddings' overlap {floor} "
                     "(95 % CI [{floor_low}, {floor_high}], k = {floor_k})",
    "static_none": "no layer pair goes beyond the input embeddings' overlap {floor} (95 % CI [{floor_low}, "
                   "{floor_high}], k = {floor_k}; best layer {best}: {best_after}): what the models share may be "
                   "the static meaning of the emotion words",
    "head_specific": "emotion-specific in {n} of {n_cells} cells",
    "head_no_specific": "no cell is emotion-specific (0 of {n_cells} pass all three steps)",
    "head_beyond": "{verdict}, with {n} of {n_cells} cells passing (b)",
    "head_beyond_few": "{verdict} as a pair, but only {n} of {n_cells} cells pass (b) on their own",
    "head_verdict": "{verdict}",
    "head_static_beyond": "the best layer ({layer}, overlap {after}) goes beyond static word meaning (input "
                          "embeddings {floor}, 95 % CI up to {floor_high})",
    "head_static_not": "the best layer ({layer}, overlap {after}) does not go beyond static word meaning (input "
                       "embeddings {floor}, 95 % CI up to {floor_high})",
    "head_readout": "{n} readout(s) flagged as unsound (see the readout check)",
    "head_join": "; ",
    "overall_legacy": "no verdict: legacy numbers carry no verdict ({n_pass} of the original's 3 checks pass); "
                      "rerun with --metric bounded",
    "overall_old_schema": "no verdict: this artifact predates the random-copy baseline (rerun `emoalign align` "
                          "to get one)",
    "overall_original_fail": "no verdict (statistics off) and the original's checks fail",
    "overall_no_pairing": "no verdict: the pairing null was off (--pairing-permutations 0), so step (a) and the "
                          "verdict are missing",
    "overall_untested": "no verdict: statistics were off (--permutations 0), so nothing beyond the original's "
                        "checks is established",
    "overall_no_baseline": "{verdict}: the map beats shuffled pairs (p = {p_pairing}), but without random-weight "
                           "copies the shared vocabulary is not ruled out",
    "overall_no_correspondence": "{verdict}: the map does not beat maps fitted on shuffled pairs (p = {p_pairing})",
    "overall_beyond": "{verdict}: beats shuffled pairs (p = {p_pairing}) and {n_copies} random-weight copies "
                      "(p = {p_baseline}); emotion-specific (all three steps) in {n_specific} of {n_cells} cells",
    "overall_control_weak": "{verdict}, but not clearly better than its untrained control ({control})",
    "overall_original_not_baseline": "{verdict}: passes the original's check (mean after {after} ≥ {threshold}) "
                                     "but not the random-copy baseline (copies' 95 % bound {bound}, p = "
                                     "{p_baseline}): random-weight copies reading the same prompts reach as much",
    "overall_not_beyond": "{verdict}: mean after {after} does not beat the random-copy baseline (copies' 95 % "
                          "bound {bound}, p = {p_baseline})",
    "overall_original_not_baseline_no_corr": "{verdict}: passes the original's check (mean after {after} ≥ "
                                             "{threshold}) but not the random-copy baseline (copies' 95 % bound "
                                             "{bound}, p = {p_baseline}), and the map does not beat shuffled pairs "
                                             "(p = {p_pairing})",
    "overall_not_beyond_no_corr": "{verdict}: the map does not beat shuffled pairs (p = {p_pairing}) and mean after "
                                  "{after} does not beat the random-copy baseline (copies' 95 % bound {bound}, p = "
                                  "{p_baseline})",
    # quantitative
    "col_model": "Model",
    "col_max_delta": "Max Δ",
    "col_max_delta_layer": "Max Δ layer",
    "col_max_delta_target_layer": "Max Δ target layer",
    "col_mean_delta": "Mean Δ",
    "col_mean_before": "Mean before",
    "col_mean_after": "Mean after",
    "col_p_pairing": "p (pairing)",
    "col_p_baseline": "p (copies)",
    "col_cells": "Cells (a)/(b)/(c)/all",
    "cells_of": "{counts} of {n}",
    "figures_skipped": "Figures: not drawn ({reason}).",
    # numerics
    "numerics_finite": "all values finite",
    "numerics_nonfinite": "non-finite values: {detail}",
    "numerics_no_skips": "no skipped layers",
    "numerics_not_computed": "statistics not computable in some cells (NaN): {detail}",
    "numerics_skips": "layers extracted but absent from the results: {detail}",
    "numerics_matches": "emotion-word match rate (fallbacks to the last token): {detail}",
    # conclusion, provenance
    "conclusion_line": "**{label}**: {icon} {text}. Mean overlap {before} → {after}; largest Δ {max_delta} at "
                       "target layer {layer} ({region}).",
    "conclusion_summary": "Shared beyond vocabulary ((a)+(b)): {passed} of {n} model pair(s). Pairs with "
                          "emotion-specific cells (all three steps): {specific} of {n}.",
    "conclusion_untested": "No input carries the random-copy baseline: these numbers do not establish structure "
                           "shared beyond vocabulary (unrelated random-weight models reach after > 0.1 too).",
    "provenance_line": "**{label}**: {date}; {versions}; dataset {dataset} `{hash}`",
    "same_dataset": "All inputs were computed on the same prompt set (same dataset hash).",
    "different_datasets": "The inputs use {n} different prompt sets: their numbers are not directly comparable.",
    # key findings and next steps (report.findings)
    "h_findings": "Key findings",
    "h_find_generality": "1. Across the model pairs",
    "h_find_original": "2. The original criterion against the random-copy baseline",
    "h_find_emotion": "3. Emotion specificity",
    "h_find_layers": "4. Where the improvement is largest",
    "h_find_static": "5. Beyond static word meaning",
    "h_find_numerics": "6. Numerics, readouts and reliability",
    "h_find_controls": "7. Controls",
    "find_controls_expected": "**{pairs}**: the control(s) came out as they should ({n} of {total}): a planted twin "
                              "shares structure beyond vocabulary, an untrained or random-weight pair does not. "
                              "The findings above are about the other pairs.",
    "find_controls_unexpected": "**{pairs}**: the control(s) did NOT come out as they should ({n} of {total}); the "
                                "instrument or the baseline is in question until this is understood.",
    "h_next_steps": "Next steps",
    "pairs_join": ", ",
    "find_beyond": "**{pairs}**: structure shared beyond vocabulary ((a)+(b)), {n} of {total} pair(s).",
    "find_beyond_none": "No pair shares structure beyond vocabulary (0 of {total}).",
    "find_beyond_few": "**{pairs}**: structure shared beyond vocabulary ((a)+(b)), {n} of {total} pair(s); for "
                       "{few} the pair verdict rests on fewer than half of the cells, which do not pass (b) on their "
                       "own.",
    "find_static": "**{pairs}**: {n} of {n_layers} layer pairs ({layers}) go beyond the input embeddings' overlap "
                   "{floor} (95 % CI up to {floor_high}): beyond static word meaning.",
    "find_static_none": "**{pairs}**: no layer goes beyond the input embeddings' overlap {floor} (95 % CI up to "
                        "{floor_high}; best layer {best}: {best_after}). What the models share may be the static "
                        "meaning of the emotion words, not a contextual representation of emotion.",
    "find_readout_bad": "**{pairs}**: readouts dominated by one direction or by outlying vectors (see the readout "
                        "check); the overlaps of those cells measure that, not emotion.",
    "step_readout": "**{pairs}**: look at the prompts the readout check names; for a tokenizer that adds no start "
                    "token, rerun with `--bos auto` (the default) so that no word is read on the attention sink.",
    "step_static": "**{pairs}**: the shared structure does not exceed the input embeddings; to test contextual "
                   "emotion, use prompts whose emotion is carried by context rather than by the emotion word.",
    "find_not_beyond": "**{pairs}**: the map finds correspondence, but no more than random-weight copies of both "
                       "models reading the same prompts ({n} of {total}).",
    "find_no_corr": "**{pairs}**: the map carries no cross-model correspondence ({n} of {total}).",
    "find_untested": "**{pairs}**: no verdict, because the artifact lacks the statistics it needs ({n} of {total}).",
    "find_original_none": "The original's criterion (mean after ≥ {threshold}) holds for none of the {total} pairs.",
    "find_original_unjudged": "The original's criterion (mean after ≥ {threshold}) holds for {n_met} of {total} "
                              "pairs (**{pairs}**), but none of them was judged against random-weight copies.",
    "find_original_rejected": "The original's criterion (mean after ≥ {threshold}) holds for {n_met} of {total} "
                              "pairs; the random-copy baseline rejects {n_rejected} of them (**{pairs}**): "
                              "after > 0.1 alone would have called them aligned.",
    "find_original_confirmed": "The original's criterion (mean after ≥ {threshold}) holds for {n_met} of {total} "
                               "pairs, and every one judged against random-weight copies also beats them "
                               "(**{pairs}**).",
    "find_specific_none": "No pair has an emotion-specific cell (0 of {total}): whatever is shared does not single "
                          "out the emotion grouping, since random prompt groups align as well.",
    "find_specific": "**{pairs}**: emotion-specific cells (all three steps), {n_specific} of {n_cells}.",
    "find_layers": "**{pairs}**: largest Δ {max_delta} at target layer {layer}, relative depth {depth} "
                   "({region}); peak target layers {peak_layers}.",
    "find_layers_none": "**{pairs}**: the map improves no layer (Δ ≤ 0 everywhere).",
    "find_numerics_clean": "Every value is finite and no extracted layer is missing from the results.",
    "find_numerics_bad": "**{pairs}**: non-finite values or skipped layers (see Numerics); their numbers are "
                         "incomplete.",
    "find_reliability_low": "**{pairs}**: split-half reliability below {threshold}; their subspaces are noisy "
                            "with this many prompts.",
    "step_bounded": "**{pairs}**: rerun `emoalign align` with `--metric bounded`; legacy numbers carry no verdict.",
    "step_old": "**{pairs}**: rerun `emoalign align` on the cached activations to get the three-step verdict.",
    "step_statistics": "**{pairs}**: rerun with the statistics on (`--permutations 200`): without them there is "
                       "no verdict.",
    "step_pairing": "**{pairs}**: rerun with the pairing null (`--pairing-permutations 50`): step (a) is missing.",
    "step_baseline": "**{pairs}**: add the random-copy baseline (`--baseline-seeds 20`): the shared vocabulary "
                     "is not ruled out.",
    "step_no_corr": "**{pairs}**: the map carries nothing; fit it on more pairs (`--profile extended`), try "
                    "another map (`--map procrustes` or `--map cca`) and every layer pair (`--layer-match grid`).",
    "step_not_beyond": "**{pairs}**: look for layers that share more than vocabulary with `--layer-match grid` "
                       "and several k (`-k 2 4 8 16`); the matched layers share no more than random copies.",
    "step_reliability": "**{pairs}**: more prompts per emotion (`--profile extended`): split-half reliability is "
                        "below {threshold}.",
    "step_numerics": "**{pairs}**: fix the non-finite values or skipped layers first, e.g. with `--dtype "
                     "float32`; the verdict rests on incomplete numbers.",
    "step_control": "**{pairs}**: add the untrained control (`--control untrained`) to see what training adds.",
    "step_control_weak": "**{pairs}**: the untrained control does about as well; test other layers "
                         "(`--layer-match grid`) before reading the overlap as learned.",
    "step_specificity": "**{pairs}**: the shared structure is not specific to emotions; run other label sets "
                        "(`--dataset`) to find the grouping it follows.",
    "step_replicate": "**{pairs}**: replicate the emotion-specific cells on new prompts (`--dataset`) and another "
                      "seed (`--seed`).",
    "step_k": "**{pairs}**: check that the verdict holds across k (`-k 2 4 8 16`).",
    "step_none": "No step follows from these results.",
    # the per-pair report (the comparative report of one pair)
    "title_pair": "Emotion subspace alignment: {source} vs {target}",
    "purpose_pair": (
        "Do {source} (source) and {target} (target) hold the same emotion subspaces ({emotions}) in different "
        "coordinates? Per-layer PCA subspaces of token-based emotion vectors are compared before and after a "
        "linear map fitted on neutral text only, and every overlap is judged against what two models reading "
        "the same prompts reach without sharing any emotion structure."
    ),
    "h_command": "Command",
    "command_intro": "The command line that produced this result, as recorded in its provenance:",
    "h_results_pair": "Per-layer results",
    "h_k_profile_pair": "Verdict against k",
    "artifacts_intro_pair": "The files of this study:",
    "artifact_alignment": "alignment artifact",
    "artifact_summary_csv": "per-layer summary CSV",
    "artifact_report": "this report (English)",
    "artifact_report_ja": "this report (Japanese)",
    "artifact_vectors": "emotion vectors of {model}",
    "artifact_subspaces": "emotion subspaces of {model}",
    "artifact_config": "resolved config of `emoalign {command}`",
    "artifact_mlflow": "MLflow run",
    "set_target": "Target model",
    "set_start_token": "Start token (`--bos`)",
    "metric_bounded": "bounded overlap ‖Q_U Q_Vᵀ‖²_F / k ∈ [0, 1] (mean cos² of the principal angles; chance ≈ "
                      "k/d_source)",
    "metric_legacy": "legacy, the original study's metric: the mean of (U Vᵀ)² over the k×k entries, the mapped "
                     "basis not re-orthonormalised, 'before' on truncated coordinates; unbounded by design, at most "
                     "1/k for orthonormal bases; reported for reproduction only",
    "none": "none",
    # verdict words: the pair verdicts of emoalign.analysis.verdict (and the report's "old artifact"); a
    # layer pair's verdict is built from its counts of cells
    "verdict_beyond_vocabulary": "shared beyond vocabulary",
    "verdict_vocabulary_only": "not beyond vocabulary",
    "verdict_no_correspondence": "no cross-model correspondence",
    "verdict_vocabulary_unchecked": "correspondence; vocabulary not ruled out (no baseline)",
    "verdict_not_tested": "not tested",
    "verdict_legacy": "no verdict (legacy metric)",
    "verdict_old_schema": "no verdict (old artifact)",
    "layer_beyond": "{n} of {n_cells} beyond vocabulary",
    "layer_correspondence": "{n} of {n_cells} with correspondence (no baseline)",
    # status marks (report.marks): words, never emoji
    "mark_pass": "pass",
    "mark_warn": "warn",
    "mark_fail": "fail",
    "mark_info": "info",
    "mark_na": "n/a",
    # the demo report's opening (report.demo_text's templates, study.demo fills them)
    "demo_title": "emoalign demo: real language models, offline, beside known answers",
    "demo_generated": "Generated by `{command}` (run it again to regenerate this file and its figures).",
    "demo_steps": "Real pairs are judged in three steps: (a) does the linear map carry cross-model correspondence "
                  "(pairing null)? (b) do overlap and specificity go beyond what random-weight copies of both "
                  "models reading the same prompts share (the vocabulary baseline)? (c) does the emotion grouping "
                  "align better than random prompt groups? The headline is (a)+(b); only all three are called "
                  "emotion-specific.",
    "demo_col_pair": "pair",
    "demo_col_what": "what it is",
    "demo_decoder": "Gemma 3 270M (18 layers, d=640) vs Qwen2.5-Coder-1.5B-Instruct (28 layers, d=1536), both GGUF "
                    "Q4_K_M dequantized: two decoder LLMs of different families, sizes and tokenizers",
    "demo_encoder": "all-MiniLM-L6-v2 (6 layers, d=384) vs all-mpnet-base-v2 (12 layers, d=768): two sentence "
                    "encoders",
    "demo_twin": "{source} against an exact affine image of itself (width {width}): must be recovered (known answer)",
    "demo_controls": "random-weight copies of both models of each real pair, judged against the same baseline: must "
                     "not go beyond vocabulary (known answer)",
    "demo_row_twin": "planted twin",
    "demo_row_controls": "random controls",
    "demo_real_heading": "What the real models showed",
    "demo_no_real": "No real pair was run.",
    "demo_headline": "In plain words: {headline}. ",
    "demo_beyond": "As a whole, the trained pair shares {ratio:.1f}× the overlap its random copies share. ",
    "demo_below": "As a whole, the trained pair shares less than its random copies do ({ratio:.2f}×), so nothing in "
                  "this overlap goes beyond what any two models reading the same prompts share. ",
    "demo_level": "As a whole, the overlap is no larger than what random copies reading the same prompts share. ",
    "demo_finding": "{pair}: {verdict} — mean overlap {observed:.3f} (chance {chance:.3f}, random copies "
                    "{copies:.3f}, their 95 % bound {bound:.3f}); map vs shuffled pairs p = {p_pairing:.3g}, vs "
                    "{n_copies} random-weight copies p = {p_baseline:.3g}; emotion-specific (all three steps) in "
                    "{n_specific} of {n_cells} cells.",
    "demo_checks_heading": "Did the instrument find the known answers?",
    "demo_col_check": "check",
    "demo_col_result": "result",
    "demo_col_measured": "measured",
    "demo_twin_recovered": "planted twin recovered: overlap after ≥ 0.95 in every cell",
    "demo_twin_recovered_measured": "min {minimum:.3f}",
    "demo_twin_beyond": "planted twin shared beyond vocabulary in every cell",
    "demo_twin_beyond_measured": "{n} of {n_cells} cells",
    "demo_control": "random-weight control {pair} not beyond vocabulary",
    "demo_control_measured": "pair p = {p:.3g}, {n} of {n_cells} cells beyond vocabulary",
    "demo_time": "Pipeline time (extraction of all models and copies, alignment, statistics): {seconds:.0f} s.",
    "demo_time_cached": "Pipeline time: {seconds:.0f} s, a rerun with every activation set read from the cache "
                        "(alignment and statistics only; a first run also extracts every model and copy).",
    "demo_time_partly": "Pipeline time (alignment, statistics, and the {extracted} activation sets not yet in the "
                        "cache): {seconds:.0f} s.",
    # text drawn inside the figures (report.plots)
    "plot_copies_band": "random-weight copies: mean … 95% prediction bound",
    "plot_lexical_floor": "input embeddings (lexical floor, 95% CI shaded)",
    "plot_copies_band_short": "random-weight copies: mean … 95% bound",
    "plot_ci_band": "after: percentile 95% CI of the layer mean",
    "plot_before": "before",
    "plot_after": "after",
    "plot_chance": "chance k/d",
    "plot_source_layer": "source layer",
    "plot_target_layer": "target layer",
    "plot_layer": "layer",
    "plot_overlap_metric": "overlap ({metric})",
    "plot_no_baseline": "(no random-copy baseline in this artifact)",
    "plot_mean_overlap_after": "mean overlap after",
    "plot_k_axis": "k (PCA components)",
    "plot_mean_overlap_bounded": "mean overlap (bounded)",
    "plot_overlap_vs_k": "overlap vs k",
    "plot_chosen": " (chosen)",
    "plot_share_beyond": "share of cells beyond vocabulary",
    "plot_beyond_vs_k": "beyond vocabulary (BH across cells) vs k",
    "plot_rel_depth_axis": "relative depth of the target layer (layer / (n_layers - 1))",
    "plot_overlap_after_map": "overlap after map",
    "plot_rel_depth_title": "All pairs on relative depth (dotted: each pair's random-copy 95% bound)",
    "plot_grid_colorbar": "overlap after map (white = {centre_name} {centre})",
    "plot_centre_copies": "random copies' mean",
    "plot_centre_chance": "chance k/d",
    "plot_grid_marks": "*: some emotions beyond vocabulary, **: all (BH q < {alpha})",
    "plot_mean_before": "mean before",
    "plot_mean_after": "mean after",
    "plot_copies_bound": "random-copy 95% bound",
    "plot_pair_bound": "{label}: random-copy 95% bound",
    "plot_mean_overlap": "mean overlap",
    "plot_source_model": "source: {name}",
    "plot_target_model": "target: {name}",
    "plot_target_model_matched": "target: {name} (at the matched layer)",
    "plot_explained_variance": "explained variance ratio (sum over k)",
    "plot_verdict_vs_k": "{title}: verdict vs k",
    "plot_k_sweep": "k-sweep: {pair}",
    # the causal test (emoalign.report.steering)
    "steer_title": "emoalign steer: {source} → {target}",
    "steer_heading": "Causal test: steering {target} with {source}'s emotion vectors",
    "steer_heading_skipped": "Causal test: not run",
    "steer_skipped": "The causal test did not run: {reason}.",
    "steer_method": (
        "Each emotion vector of {source} (the mean of the emotion's prompts minus the neutral mean) was carried "
        "into {target} through a {map} map fitted source→target on the words of neutral prompts (each word's "
        "activations in the two models as one pair; R² on the words of prompts held out of the fit, per layer "
        "pair: {r2}) and added to {target}'s residual stream after the matched "
        "layer, at every position but the first, on {n_prompts} neutral prompts held out of the fit. The effect "
        "is the shift of the log probability mass of the emotion's first tokens at the next position. Side by "
        "side, at the same norm ({scales} × the median residual norm at that layer; verdicts at {test_scale}): "
        "{target}'s own vector (the reference), {n_random} random directions (the null) and the source vector "
        "carried through {n_shuffles} maps fitted on shuffled pairs (the pairing null). p-values are family-wise "
        "over all cells (max-T), α = {alpha}."
    ),
    "steer_headline": (
        "**The transferred vectors steer {target} beyond both nulls in {n} of {n_cells} cells**; {target}'s own "
        "vectors move it beyond random directions in {n_own}."
    ),
    "steer_col_layers": "layers",
    "steer_col_emotion": "emotion",
    "steer_col_own": "own vector [95% CI]",
    "steer_col_transferred": "transferred [95% CI]",
    "steer_col_efficiency": "efficiency [95% CI]",
    "steer_col_p_random": "p vs random",
    "steer_col_p_shuffled": "p vs shuffled maps",
    "steer_col_verdict": "verdict",
    "steer_legend": (
        "Effects at scale {scale}: the mean over prompts of the shift of the log probability mass of the vector's "
        "own emotion, with its 95% bootstrap interval over prompts. Efficiency = transferred ÷ own effect on the "
        "same prompts, given where the own effect is positive. p: family-wise, against random directions and "
        "against the source vector through maps fitted on shuffled pairs."
    ),
    "steer_verdict_transfers": (
        "steers {target} toward {emotion} as its own vector does, {efficiency} of its effect (95% CI {low}–{high})"
    ),
    "steer_verdict_transfers_own_flat": (
        "steers {target} toward {emotion} beyond random directions and shuffled maps, though {target}'s own vector "
        "does not move it beyond random directions (p = {p_own})"
    ),
    "steer_verdict_beyond_random_only": (
        "moves {target} toward {emotion} beyond random directions (p = {p_random}), but no more than the source's "
        "vector through maps fitted on shuffled pairs (p = {p_shuffled})"
    ),
    "steer_verdict_no_better_than_random": "no better than a random direction (p = {p_random})",
    "steer_verdict_own_does_not_steer": (
        "{target}'s own {emotion} vector does not steer it beyond random directions at this layer (p = {p_own}): "
        "nothing to transfer"
    ),
    "steer_h_matrices": "Specificity: each vector's shift on every emotion",
    "steer_matrices_intro": (
        "At scale {scale}. Rows: the vector's emotion; columns: the emotion whose log probability mass is read; "
        "each cell: own vector / transferred vector. A specific vector has its largest shift on the diagonal "
        "(bold). Mean cosine between the own and the transferred vectors: {cosines}."
    ),
    "steer_col_vector": "vector",
    "steer_h_dose": "Dose–response",
    "steer_dose_intro": (
        "The mean shift toward each vector's own emotion, averaged over the emotions, at each scale (× the median "
        "residual norm). Brackets: for the own and the transferred vectors, 95% bootstrap intervals over prompts; "
        "for random directions and shuffled maps, the 5th–95th percentiles over draws."
    ),
    "steer_col_condition": "condition",
    "steer_col_scale": "× {scale}",
    "steer_cond_own": "own vector",
    "steer_cond_transferred": "transferred",
    "steer_cond_random": "random directions",
    "steer_cond_shuffled": "shuffled maps",
    "steer_h_tokens": "Tokens read per emotion",
    "steer_tokens_intro": "The effect reads the probability mass of these first tokens of each emotion's words:",
    "steer_more": " and {n} more",
    "steer_h_continuations": "Greedy continuations",
    "steer_continuations_intro": (
        "What the shift looks like in text: greedy continuations of held-out prompts, unsteered and steered at "
        "layers {layers}, scale {scale}."
    ),
    "steer_continuation_prompt": "**Prompt**: {prompt}",
    "steer_col_steered_by": "steered by",
    "steer_col_text": "continuation",
    "steer_condition_base": "nothing (unsteered)",
    "steer_condition_own": "own {emotion} vector",
    "steer_condition_transferred": "transferred {emotion} vector",
    "steer_figure_caption": (
        "Causal test {source} → {target}. Left: dose–response (mean shift toward each vector's own emotion, "
        "averaged over the emotions; bands: 95% bootstrap intervals and the nulls' 5th–95th percentiles; dotted "
        "line: the test scale). Right: the shifts of the own and the transferred vectors on every emotion at the "
        "test scale"
    ),
    "steer_time": "The causal test took {seconds:.0f} s.",
    "steer_plot_scale": "norm (× the median residual norm)",
    "steer_plot_shift": "log-mass shift toward the vector's emotion",
    "steer_plot_dose": "dose–response, layers {layers}",
    "steer_plot_test_scale": "test scale",
    "steer_plot_toward": "emotion read",
    "steer_plot_vector": "vector's emotion",
    "steer_plot_matrix_own": "own vectors, layers {layers}",
    "steer_plot_matrix_transferred": "transferred vectors, layers {layers}",
    "artifact_steering": "causal test (every per-prompt shift)",
    "artifact_steering_csv": "causal test cells CSV",
}

JA: dict[str, str] = {
    "title": "感情サブスペース整合性の比較解析: {source} vs {targets}",
    "last_updated": "最終更新",
    "h_purpose": "目的",
    "h_reading": "判定の手順",
    "h_artifacts": "生成物",
    "h_this_report": "本レポート",
    "h_commands": "実行コマンド",
    "h_settings": "実験設定",
    "h_common_settings": "共通設定",
    "h_model_settings": "モデル別設定",
    "h_results": "結果概要（{n}モデル比較）",
    "h_results_model": "{i}. {label} の結果",
    "h_k_profile": "k に対する判定: {label}",
    "h_discussion": "{n}モデル間の比較考察",
    "h_patterns": "1. 改善パターンの比較",
    "h_pattern_original": "「before ≒ 0 → after > 0.1」パターンの確認",
    "h_pattern_baseline": "両モデルのランダム重みのコピーとの比較（語彙を超えるか）",
    "h_peak_position": "改善が大きい層の位置",
    "h_control": "2. 未学習コントロールとの比較",
    "h_checks": "科学的パターンのサニティチェック",
    "h_checks_items": "チェック項目と結果",
    "h_checks_conclusion": "サニティチェックの結論",
    "h_quantitative": "モデル間の定量的比較",
    "h_max_delta": "改善幅の比較（最大Δ）",
    "h_distribution": "改善が大きい層の分布",
    "h_figures": "図",
    "h_numerics": "数値の健全性",
    "h_conclusion": "結論",
    "h_provenance": "来歴",
    "purpose": (
        "{source}（source）と{n}つのモデル（{targets}）が、異なる座標系の中で同じ感情サブスペース（{emotions}）を"
        "保持しているかを解析しました。各モデルペアについて、token-based emotion vector の層ごとの PCA サブスペースを、"
        "neutral テキストのみで学習した線形写像の前後で比較します。本レポートでは、ペア間の結果を比較し、元の研究の期待を"
        "確認したうえで、同じプロンプトを読むだけで感情の構造を共有しない2モデルが到達する overlap と比べて、"
        "各 overlap を判定します。"
    ),
    "reading": (
        "overlap は3つのステップで判定します。(a) **モデル間の対応**: 写像が、シャッフルしたペアで学習した写像を"
        "上回ることです（ペアシャッフル帰無分布）。(b) **語彙を超える**: overlap と特異性が、同じプロンプトを読む"
        "両モデルのランダム重みのコピーを上回ることです（コピーに対する片側95%予測限界、セル間で BH 補正）。同じトークンを"
        "読む2モデルは重みに関係なく構造を共有するため、このステップが判定を決めます。(c) **任意のプロンプト群ではなく感情**: "
        "感情によるグループ分けが、両モデルで同一に再ラベル付けしたランダムなプロンプト群を上回ることです。人工双子"
        "（planted twin）はあらゆるグループ分けを共有するため設計上 (c) を満たさないので、(c) は参考情報です。セルとペアの"
        "判定は (a)+(b) で決まり、3ステップすべてを満たすセルだけを「感情特異的」と呼びます。"
    ),
    "artifacts_intro": "本比較の入力は、アライメントの生成物と、研究レイアウト内の関連ファイルです。",
    "out_markdown": "Markdown レポート",
    "out_html": "HTML レポート（自己完結）",
    "out_csv": "モデル別サマリー CSV",
    "out_figures": "図",
    "python_api": "Python で作成した結果のため、ファイルはありません",
    "commands_intro": "各入力を生成したコマンドは次のとおりです。いずれも来歴に記録されたものです。",
    "no_command": "コマンドの記録はありません。Python API で作成した結果です",
    "comparative_report": "比較レポート",
    "set_source": "source モデル",
    "set_dataset": "プロンプト集合",
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
    "set_n_permutations": "再ラベル付けの回数（プロンプト群・同一再ラベル付けの帰無分布）",
    "set_n_bootstrap": "ブートストラップ回数（BCa）",
    "set_n_pairing_permutations": "ペアシャッフルの回数",
    "set_baseline_copies": "ランダム重みのコピー数（ランダムコピー基準）",
    "set_alpha": "FDR水準（BH q）",
    "set_label_counts": "ラベルごとのプロンプト数",
    "set_method": "手法",
    "method_text": (
        "token-based emotion vector → 多サンプルPCA → neutralデータで学習した target→source 線形写像 → "
        "before/after overlap → 両モデルのランダム重みのコピーで同じパイプライン"
    ),
    "model_setting": "**{label}**: {id}（{model_type}、{n_layers}層、d_model={d_model}、{dtype}、{device}）",
    "control_note": "{trained} の未学習（ランダム重み）コントロール",
    # notebooks (AlignmentResult._repr_html_)
    "nb_title": "**{source} vs {target}**: 層ペア {n} 組、k = {k}、{metric} 指標、ランダム重みのコピー {copies} 個",
    "nb_grid_rows": "グリッド: 各 source 層で最良の target 層のみ表示（層ペア {n} 組中 {shown} 組。"
                    "すべての組は result.layer_table() にあります）",
    "nb_more_rows": "層ペア {n} 組のうち最初の {shown} 組。すべての組は result.layer_table() にあります",
    "col_layer": "層",
    "col_target_layer": "target 層",
    "col_rel_depth": "相対深さ",
    "col_before": "写像前 (before)",
    "col_after": "写像後 (after)",
    "col_delta": "Δ",
    "col_chance": "チャンス",
    "col_copies_bound": "コピーの95%予測限界",
    "col_copies_mean": "コピーの平均",
    "col_ci": "パーセンタイル95% CI（after）",
    "col_normalised": "正規化 overlap",
    "col_step_a": "(a)",
    "col_step_b": "(b)",
    "col_step_c": "(c)",
    "col_step_all": "3ステップすべて",
    "col_verdict": "判定",
    "col_k": "k",
    "col_mean_specificity": "平均特異性",
    "col_share_beyond": "語彙を超えるセルの割合",
    "table_legend": (
        "コピーの95%予測限界: ランダム重みのコピーによる overlap の片側95%予測限界です（層内セルの平均）。"
        "(a) モデル間の対応、(b) 語彙を超える、(c) 感情 vs 任意のプロンプト群: 各ステップを満たすセル数です"
        "（BH q < {alpha}）。3ステップすべて: 感情特異的なセル数です。正規化 overlap: 半分同士のモデル間 overlap を"
        "各モデル自身の split-half overlap で割った値です（人工双子なら1）。emb の行は語彙の下限です。同じ解析を"
        "両モデルの入力埋め込み、つまり静的な語の意味に適用した参照値で、判定はありません。emb 超え: その層の平均 "
        "overlap が下限の95%信頼区間を上回ることを表します。パーセンタイル95% CI: プロンプトを感情ごとに"
        "ブートストラップ再標本化したときの層平均の2.5〜97.5パーセンタイルです（セル表の各セルの区間は BCa です）。"
        "推定値が区間の外に出ることがあります。再標本化した部分空間は全プロンプトで求めたものより雑音が多く、"
        "再標本の overlap は推定値よりチャンスに近づくためです。BCa はこの偏りを補正しますが、ほぼすべての再標本が"
        "推定値の片側に落ちるときは BCa の区間も推定値を含みません。"
    ),
    "mean_improvement": "**平均改善幅**: {delta}（平均 before: {before} → 平均 after: {after}）",
    "pair_verdict": "**ペアの判定**: {verdict}。{details}。",
    "details_join": "。",
    "detail_pairing": "シャッフルしたペアに対する写像の p は {p} です",
    "detail_baseline": "ランダム重みのコピー{n_copies}組に対する p は {p} です（コピーの平均 {copies_mean}、95%予測限界 {bound}）",
    "detail_no_baseline": "ランダムコピー基準はありません（語彙の影響を排除できません）",
    "detail_steps": "(a) を満たすセルは{n}セル中{a}セル、(b) は{n}セル中{b}セル、(c) は{n}セル中{c}セル、"
                    "3ステップすべて（感情特異的）は{n}セル中{all}セルです",
    "note_legacy": "legacy 指標の数値には判定がありません。legacy 指標は類似度ではありません（正規直交基底では 1/k を"
                   "超えられません）。判定を得るには --metric bounded で再実行してください。",
    "note_old_schema": (
        "この生成物は3ステップ判定の導入前に書かれたものです。感情ラベル置換帰無分布（プロンプト群の帰無分布として、"
        "参考情報のみ表示します）と split-half の「ノイズ上限」（上限としていた値を下回っていたため表示しません）を"
        "含みますが、ランダムコピー基準と同一再ラベル付けの帰無分布がないため、判定はありません。判定を得るには、"
        "キャッシュ済みの活性値に `emoalign align` を再実行してください。"
    ),
    "note_untested": "この生成物では統計が無効でした（--permutations 0）。判定はありません。",
    "note_no_pairing": "この生成物ではペアシャッフル帰無分布が無効でした（--pairing-permutations 0）。判定はありません。",
    "note_no_baseline": "ランダムコピー基準はありません（--baseline-seeds 0）。overlap は共有された語彙だけで"
                        "生じている可能性があるため、判定は (a) までです。",
    "fig_overlap": "{label}: 層ごとの before/after overlap（{metric}）",
    "fig_part_copies": "灰色帯: ランダム重みのコピー（平均〜95%予測限界）",
    "fig_part_ci": "橙色帯: 層平均（after）のパーセンタイル95% CI",
    "fig_part_chance": "破線: チャンスレベル k/d",
    "fig_part_no_baseline": "この生成物にはランダムコピー基準がありません",
    "fig_parts": "。{parts}",
    "fig_parts_join": "、",
    "fig_k_profile": "{label}: k に対する判定。左: 写像後の平均 overlap とランダム重みのコピー（平均〜95%予測限界）、"
                     "右: 語彙を超えるセルの割合",
    "fig_k_profile_no_baseline": "{label}: k に対する写像後の平均 overlap（ランダムコピー基準なし）",
    "fig_layer_grid": "{label}: source層 × target層 の写像後 overlap です。色の尺度はランダム重みのコピーの平均で白、"
                      "それより上が赤、下が青です。コピーがない場合はチャンスレベルで白です。*: その層ペアの一部の"
                      "感情が語彙を超える、**: すべての感情が語彙を超える（BH q < {alpha}）",
    "fig_explained_variance": "{label}: 層ごとの k={k} 成分の説明分散",
    "fig_relative_depth": "全ペア: target層の相対深さに対する写像後 overlap（ペアと同じ色の点線: そのペアのコピーの95%予測限界）",
    "fig_k_sweep": "{pair}: k に対する平均 overlap（点線: コピーの95%予測限界）",
    "peak_explain": (
        "深さは TARGET 層の相対深さ layer / (n_layers − 1) で、下位 1/3 < 0.33 ≤ 中間 1/3 < 0.67 ≤ 上位 1/3 と区分します。"
        "ピーク層は、Δ が最大値から Δ の範囲の 1/4 以内にある層です。"
    ),
    "peak_line": "ピークは{region}にあります（ピークの target 層 {layers}）。最大Δ {max_delta} は target 層 {max_layer} "
                 "です（相対深さ {depth}、{max_region}）",
    "peak_none": "改善する層はありません。すべての層で Δ ≤ 0 です",
    "region_lower": "深さの下位3分の1",
    "region_middle": "深さの中位3分の1",
    "region_upper": "深さの上位3分の1",
    "region_none": "ピークはありません",
    "region_n/a": "n/a",
    "checks_intro": (
        "チェック1〜3は元の研究のものを、結果によって不合格になりうる形に改めたものです。チェック1は before を0ではなく"
        "チャンスレベル k/d と比べます。チェック3は、overlap がランダム重みのコピーを上回る層だけを「大きい」と呼びます。"
        "コピーがない場合は、Δ が他の層より目立つ層だけです。チェック1と2は、共有された構造と、同じプロンプトを読む任意の"
        "2モデルが到達する overlap とを区別できません。チェック4〜6は判定の3ステップです。(4) と (5) が判定を決め、after が 0.1 を超えても"
        "ランダム重みのコピーを上回らないペアは不合格です。(6) は参考情報です。チェック7は、各モデルのサブスペースがプロンプトの半分同士で"
        "どれだけ再現するか（Spearman–Brown 補正）と正規化 overlap を示します。どちらも overlap の上限ではありません。"
    ),
    "check_before_near_zero": "全層平均の mean_overlap_before はチャンスレベル k/d にありますか（写像前に共有がないか）",
    "check_after_increase": "mean_overlap_after は 0.1〜0.2 以上のオーダーまで増えていますか",
    "check_delta_positive": "Δ はすべての層で正で、いくつかの層でランダム重みのコピーの増加を上回りますか",
    "check_correspondence": "(a) 写像はモデル間の対応を捉えていますか（シャッフルしたペアで学習した写像を上回るか）",
    "check_beyond_vocabulary": "(b) overlap は語彙を超えますか（同じプロンプトを読む両モデルのランダム重みのコピーを上回るか）",
    "check_emotion_group": "(c) 任意のプロンプト群ではなく感情によるグループ分けですか（参考情報）",
    "check_reliability": "サブスペースの split-half 信頼性と正規化 overlap はどの程度ですか",
    "check_control": "学習済みモデルは未学習コントロールを上回りますか",
    "check_readout": "読み出しは健全ですか（1方向だけのサブスペースや外れ値のベクトルがないか）",
    "col_static": "emb 超え",
    "floor_row": "語彙の下限: 入力埋め込み（参照、k = {k}）",
    "yes": "はい",
    "no": "いいえ",
    "check_static_meaning": "静的な語の意味（入力埋め込み）を超える層はありますか",
    "before_ok": "平均{before}はチャンスレベル {chance} の{ratio}倍で、{factor}倍以内です。期待どおり、写像前に共有されて"
                 "いるものはありません",
    "before_high": "平均{before}はチャンスレベル {chance} の{ratio}倍で、{factor}倍を超えています。2モデルは写像前から"
                   "座標を共有しています",
    "before_no_chance": "平均{before}です。この生成物にはチャンスレベルの記録がないため、このチェックはできません",
    "after_ok": "平均{after}です（{threshold}以上）",
    "after_high_not_baseline": "平均{after} ≥ {threshold}: 元のチェックは通過しますが、ランダムコピー基準は上回りません"
                               "（コピーの95%予測限界 {bound}）",
    "after_small": "平均{after}です（before {before} から増加していますが{threshold}未満です）",
    "after_none": "平均{after}です（before {before} からほぼ増加していません）",
    "delta_ok": "すべての層で正で、target 層 {large_layers} で他の層より目立って大きくなっています。Δ ≥ {large} で、"
                "最大は {max_delta} です",
    "delta_flat": "すべての層で正で、{n_layers}層とも同程度です（Δ {min_delta}〜{max_delta}）。目立って大きい層は"
                  "ありません",
    "delta_copies_ok": "すべての層で正です。写像後の overlap がランダム重みのコピーの95%予測限界を上回るのは target 層 "
                       "{large_layers} で、{n_layers}層ペア中{n_large}層ペアです",
    "delta_copies_none": "すべての層で正ですが（最大Δ {max_delta}）、写像後の overlap がランダム重みのコピーの95%予測限界を"
                         "上回る層ペアは{n_layers}層ペア中ひとつもありません。コピーも同じだけ増加します",
    "delta_copies_negative": "層 {negative_layers} で正ではありません。写像後の overlap がランダム重みのコピーの95%予測"
                             "限界を上回るのは{n_layers}層ペア中{n_large}層ペアです",
    "delta_bad": "層 {negative_layers} で正ではなく、全体に小さいです（最大Δ {max_delta} < {large}）",
    "delta_negative": "層 {negative_layers} で正ではありません。最大Δ {max_delta} です",
    "delta_small": "すべての層で正ですが小さいです（最大Δ {max_delta} < {large}）",
    "legacy_no_verdict": "legacy 指標の数値には判定がありません（--metric bounded で再実行してください）",
    "no_pairing": "この生成物には含まれていません（ペアシャッフル帰無分布なし: 統計が無効、または --pairing-permutations 0）",
    "corr_pass": "写像はシャッフルしたペアで学習した写像を上回ります（ペアの p = {p}）。{n_cells}セル中{n}セルです"
                 "（BH q < {alpha}）",
    "corr_fail": "写像はシャッフルしたペアで学習した写像を上回りません（ペアの p = {p}）。{n_cells}セル中{n}セルです"
                 "（BH q < {alpha}）",
    "corr_cells_pass": "全{n_cells}セルがシャッフルしたペアを上回ります（BH q < {alpha}。この生成物にはペア単位の検定がありません）",
    "corr_cells_warn": "{n_cells}セル中{n}セルがシャッフルしたペアを上回ります（BH q < {alpha}。この生成物にはペア単位の"
                       "検定がありません）",
    "corr_cells_fail": "{n_cells}セルのいずれもシャッフルしたペアを上回りません（BH q < {alpha}）",
    "beyond_untested": "ランダム重みのコピー{n_copies}組は実行されていますが、ペアシャッフル帰無分布がないため判定は"
                       "ありません（--pairing-permutations 0）",
    "no_baseline": "この生成物にはランダムコピー基準がありません（--baseline-seeds 0）。語彙の影響を排除できません",
    "no_baseline_old": "この生成物には含まれていません（ランダムコピー基準の導入前に作成）。語彙の影響を排除できません",
    "beyond_pass": "overlap {after} と特異性 {specificity} は、ランダム重みのコピー{n_copies}組を上回ります（95%予測限界 "
                   "{bound} と {specificity_bound}、p = {p}）。{n_cells}セル中{n}セルです",
    "beyond_fail": "overlap {after} と特異性 {specificity} は、同じプロンプトを読むランダム重みのコピー{n_copies}組を"
                   "上回りません（コピーの平均 {copies_mean}、95%予測限界 {bound} / {specificity_bound}、p = {p}）。"
                   "{n_cells}セル中{n}セルです",
    "no_emotion_null": "この生成物には含まれていません（同一再ラベル付けの帰無分布なし）",
    "emotion_all": "全{n_cells}セルが感情特異的です（3ステップすべてを満たします）",
    "emotion_some": "(c) を満たすのは{n_cells}セル中{n}セル、感情特異的（3ステップすべて）は{n_cells}セル中{n_specific}セルです",
    "emotion_none": "(c) を満たすのは{n_cells}セル中{n}セルで、3ステップすべてを満たすセルはありません。これは不合格では"
                    "なく参考情報です: 両モデルで同一に再ラベル付けしたランダムなプロンプト群も同じように整合し、人工双子は"
                    "あらゆるグループ分けを共有するため設計上 (c) を満たしません",
    "no_reliability": "この生成物には含まれていません（split-half 信頼性なし）",
    "no_reliability_old": "この生成物には含まれていません。旧 split-half「ノイズ上限」は表示しません（上限としていた値を"
                          "下回っていたためです）",
    "reliability_ok": "split-half 信頼性（Spearman–Brown 補正）は source {rel_source}、target {rel_target} です。"
                      "正規化 overlap は {normalised} です（1 = 2モデルがプロンプトの半分同士で、各モデル自身と同じだけ"
                      "一致します）",
    "reliability_low": "split-half 信頼性（Spearman–Brown 補正）は source {rel_source}、target {rel_target} で、"
                       "{threshold} 未満です。このプロンプト数ではサブスペースの再現性が低く、どの overlap もノイズを"
                       "含みます。正規化 overlap は {normalised} です",
    "no_control": "入力に未学習コントロールはありません（--control untrained で実行してください）",
    "no_control_pair": "1ペアのレポートでは比較しません。この生成物と未学習コントロールの生成物を `emoalign compare` "
                       "に渡すと比較できます（コントロールは --control untrained で作成します）",
    "control_is_control": "この入力自体が未学習コントロールです",
    "control_ok": "平均 after {after}、コントロール {control_after}（{control}）: 学習済みモデルが上回ります",
    "control_bad": "平均 after {after}、コントロール {control_after}（{control}）: 未学習コントロールも同程度です",
    "control_mixed": "平均 after {after}、コントロール {control_after}（{control}）: コントロールを明確には上回りません",
    "beyond_pass_few_cells": "ペア全体の平均はランダム重みのコピー{n_copies}組を上回ります（p = {p}）が、単独で上回る"
                             "セルは{n_cells}セル中{n}セルだけです。ペアの判定はセルの少数に支えられています",
    "readout_unknown": "この生成物には含まれていません（読み出し診断の導入前に作成）",
    "readout_ok": "第1主成分の寄与率の最大は source {source_pc1}、target {target_pc1} です（{bound} 以上で警告）。"
                  "中央値の{ratio}倍を超えるノルムの感情ベクトルはありません。外れ値として写像の学習から除いた"
                  "ペアは、役割・層・ペア数の順に {fit} です",
    "readout_ok_no_fit": "第1主成分の寄与率の最大は source {source_pc1}、target {target_pc1} です（{bound} 以上で警告）。"
                         "中央値の{ratio}倍を超えるノルムの感情ベクトルはありません。外れ値として写像の学習から除いた"
                         "ペアもありません",
    "readout_flagged": "{n}件の読み出しに警告があります。役割・層・感情（第1主成分の寄与率、外れ値のプロンプト数）は"
                       "次のとおりです: {where}。外れ値として写像の学習から除いたペア: {fit}。1方向だけの"
                       "サブスペース（寄与率 {bound} 以上）や、中央値の{ratio}倍を超えるノルムのベクトルは、attention sink 上で読み出した兆候です。これらのセルの overlap は"
                       "感情ではなくその影響を測っています（--bos を参照してください）",
    "static_no_floor": "この生成物には語彙の下限がありません（legacy 指標、入力埋め込みのない活性、または導入前に"
                       "作成）",
    "static_beyond": "{n_layers}層ペア中{n}層ペア（{layers}）が、入力埋め込みの overlap {floor}（95%信頼区間 "
                     "[{floor_low}, {floor_high}]、k = {floor_k}）を超えます",
    "static_none": "入力埋め込みの overlap {floor}（95%信頼区間 [{floor_low}, {floor_high}]、k = {floor_k}）を超える"
                   "層ペアはありません（最良の層 {best}: {best_after}）。2つのモデルが共有しているのは、感情語の静的な"
                   "意味かもしれません",
    "head_specific": "{n_cells}セル中{n}セルが感情特異的です",
    "head_no_specific": "感情特異的なセルはありません（3ステップすべてを満たすのは{n_cells}セル中0セル）",
    "head_beyond": "判定は「{verdict}」で、(b) を満たすのは{n_cells}セル中{n}セルです",
    "head_beyond_few": "ペアとしての判定は「{verdict}」ですが、単独で (b) を満たすのは{n_cells}セル中{n}セルだけです",
    "head_verdict": "判定は「{verdict}」です",
    "head_static_beyond": "最良の層（{layer}、overlap {after}）は静的な語の意味を超えています（入力埋め込みは {floor}、"
                          "95%信頼区間の上限 {floor_high}）",
    "head_static_not": "最良の層（{layer}、overlap {after}）は静的な語の意味を超えていません（入力埋め込みは {floor}、"
                       "95%信頼区間の上限 {floor_high}）",
    "head_readout": "{n}件の読み出しが健全ではありません（読み出しのチェックを参照してください）",
    "head_join": "。",
    "overall_legacy": "判定なし: legacy 指標の数値には判定がありません（元のチェック3項目中{n_pass}項目を通過）。"
                      "--metric bounded で再実行してください",
    "overall_old_schema": "判定なし: この生成物はランダムコピー基準の導入前のものです（判定を得るには `emoalign align` を"
                          "再実行してください）",
    "overall_original_fail": "判定なし（統計が無効）で、元のチェック項目もクリアできません",
    "overall_no_pairing": "判定なし: ペアシャッフル帰無分布が無効だったため（--pairing-permutations 0）、ステップ (a) "
                          "と判定がありません",
    "overall_untested": "判定なし: 統計が無効だったため（--permutations 0）、元のチェック以上のことは確認されていません",
    "overall_no_baseline": "{verdict}: 写像はシャッフルしたペアを上回ります（p = {p_pairing}）が、ランダム重みのコピーが"
                           "ないため、共有された語彙の影響を排除できません",
    "overall_no_correspondence": "{verdict}: 写像はシャッフルしたペアで学習した写像を上回りません（p = {p_pairing}）",
    "overall_beyond": "{verdict}: シャッフルしたペア（p = {p_pairing}）とランダム重みのコピー{n_copies}組"
                      "（p = {p_baseline}）を上回ります。感情特異的（3ステップすべて）なのは{n_cells}セル中{n_specific}セルです",
    "overall_control_weak": "{verdict}。ただし未学習コントロール（{control}）を明確には上回りません",
    "overall_original_not_baseline": "{verdict}: 元のチェック（平均 after {after} ≥ {threshold}）は通過しますが、"
                                     "ランダムコピー基準は上回りません（コピーの95%予測限界 {bound}、p = {p_baseline}）。"
                                     "同じプロンプトを読むランダム重みのコピーも同程度に到達します",
    "overall_not_beyond": "{verdict}: 平均 after {after} はランダムコピー基準を上回りません（コピーの95%予測限界 {bound}、"
                          "p = {p_baseline}）",
    "overall_original_not_baseline_no_corr": "{verdict}: 元のチェック（平均 after {after} ≥ {threshold}）は通過しますが、"
                                             "ランダムコピー基準（コピーの95%予測限界 {bound}、p = {p_baseline}）も、"
                                             "シャッフルしたペア（p = {p_pairing}）も上回りません",
    "overall_not_beyond_no_corr": "{verdict}: 写像はシャッフルしたペアを上回らず（p = {p_pairing}）、平均 after {after} も"
                                  "ランダムコピー基準を上回りません（コピーの95%予測限界 {bound}、p = {p_baseline}）",
    "col_model": "モデル",
    "col_max_delta": "最大Δ",
    "col_max_delta_layer": "最大Δの層",
    "col_max_delta_target_layer": "最大Δのtarget層",
    "col_mean_delta": "平均Δ",
    "col_mean_before": "平均 before",
    "col_mean_after": "平均 after",
    "col_p_pairing": "p（ペア）",
    "col_p_baseline": "p（コピー）",
    "col_cells": "セル (a)/(b)/(c)/すべて",
    "cells_of": "{counts}（{n}セル中）",
    "figures_skipped": "図: 作成していません（{reason}）。",
    "numerics_finite": "すべての値が有限です",
    "numerics_nonfinite": "非有限値があります: {detail}",
    "numerics_no_skips": "スキップされた層はありません",
    "numerics_not_computed": "一部のセルで統計量を計算できませんでした（NaN）: {detail}",
    "numerics_skips": "抽出されたが結果にない層があります: {detail}",
    "numerics_matches": "感情語の一致率（最終トークンへのフォールバック数）: {detail}",
    "conclusion_line": "**{label}**: {icon} {text}。平均 overlap は {before} → {after}、最大Δ {max_delta} は "
                       "target 層 {layer}（{region}）です。",
    "conclusion_summary": "語彙を超えて共有されている、つまり (a)+(b) を満たすのは{n}モデルペア中{passed}ペアです。感情特異的なセル"
                          "（3ステップすべて）を含むのは{n}ペア中{specific}ペアです。",
    "conclusion_untested": "どの入力にもランダムコピー基準が含まれていません。これらの数値だけでは、語彙を超えて共有された"
                           "構造は確認できません（無関係なランダム重みのモデル同士でも after > 0.1 になります）。",
    "provenance_line": "**{label}**: {date}、{versions}、データセット {dataset} `{hash}`",
    "same_dataset": "すべての入力は同じプロンプト集合（同じデータセットハッシュ）で計算されています。",
    "different_datasets": "入力は{n}種類の異なるプロンプト集合を使っているため、数値は直接比較できません。",
    "h_findings": "主要な知見",
    "h_find_generality": "1. モデルペア間の一般性",
    "h_find_original": "2. 元の研究の基準とランダムコピー基準",
    "h_find_emotion": "3. 感情特異性",
    "h_find_layers": "4. 改善が最も大きい層",
    "h_find_static": "5. 静的な語の意味を超えるか",
    "h_find_numerics": "6. 数値・読み出し・信頼性",
    "h_find_controls": "7. コントロール",
    "find_controls_expected": "**{pairs}** はコントロールとして期待どおりの結果です（{total}件中{n}件）。人工双子は語彙を超えて"
                              "共有し、未学習やランダム重みのペアは共有しません。上の知見はこれら以外のペアについてのものです。",
    "find_controls_unexpected": "**{pairs}** はコントロールとして期待どおりではありません（{total}件中{n}件）。原因が"
                                "わかるまで、計測器または基準を疑ってください。",
    "h_next_steps": "今後のステップ",
    "pairs_join": "、",
    "find_beyond": "**{pairs}** は語彙を超えた構造を共有しています。(a)+(b) を満たすのは{total}ペア中{n}ペアです。",
    "find_beyond_none": "語彙を超えた構造を共有するペアはありません。{total}ペア中0ペアです。",
    "find_beyond_few": "**{pairs}** は語彙を超えた構造を共有しています。(a)+(b) を満たすのは{total}ペア中{n}ペアです。"
                       "ただし {few} のペアの判定はセルの半数未満に支えられており、残りのセルは単独では (b) を"
                       "満たしません。",
    "find_static": "**{pairs}** では{n_layers}層ペア中{n}層ペア（{layers}）が、入力埋め込みの overlap {floor}"
                   "（95%信頼区間の上限 {floor_high}）を超えます。静的な語の意味を超えています。",
    "find_static_none": "**{pairs}** では入力埋め込みの overlap {floor}（95%信頼区間の上限 {floor_high}）を超える層が"
                        "ありません。最良の層 {best} は {best_after} です。2つのモデルが共有しているのは、感情の"
                        "文脈的な表現ではなく、感情語の静的な意味かもしれません。",
    "find_readout_bad": "**{pairs}** には、1方向だけ、または外れ値のベクトルに支配された読み出しがあります（読み出しの"
                        "チェックを参照してください）。それらのセルの overlap は感情ではなくその影響を測っています。",
    "step_readout": "**{pairs}**: 読み出しのチェックが挙げるプロンプトを確認してください。開始トークンを付けない"
                    "トークナイザでは、どの語も attention sink 上で読み出さないよう `--bos auto`（既定）で再実行して"
                    "ください。",
    "step_static": "**{pairs}**: 共有される構造は入力埋め込みを超えません。文脈的な感情を検証するには、感情語ではなく"
                   "文脈が感情を担うプロンプトを使ってください。",
    "find_not_beyond": "**{pairs}** では写像が対応を捉えますが、同じプロンプトを読む両モデルのランダム重みのコピーと"
                       "同程度です。{total}ペア中{n}ペアです。",
    "find_no_corr": "**{pairs}** では写像がモデル間の対応を捉えていません。{total}ペア中{n}ペアです。",
    "find_untested": "**{pairs}** には判定に必要な統計がないため、判定はありません。{total}ペア中{n}ペアです。",
    "find_original_none": "元の研究の基準である平均 after ≥ {threshold} を満たすペアは、{total}ペア中ひとつもありません。",
    "find_original_unjudged": "元の研究の基準である平均 after ≥ {threshold} を満たすのは{total}ペア中{n_met}ペア"
                              "（**{pairs}**）ですが、いずれもランダム重みのコピーとは比較していません。",
    "find_original_rejected": "元の研究の基準である平均 after ≥ {threshold} を満たすのは{total}ペア中{n_met}ペアですが、"
                              "そのうち{n_rejected}ペア（**{pairs}**）はランダムコピー基準で棄却されます。after > 0.1 "
                              "だけで判断すると、これらを整合していると誤って判断していたことになります。",
    "find_original_confirmed": "元の研究の基準である平均 after ≥ {threshold} を満たすのは{total}ペア中{n_met}ペアで、"
                               "ランダム重みのコピーと比較したペアはすべてコピーも上回ります（**{pairs}**）。",
    "find_specific_none": "感情特異的なセルをもつペアはありません。{total}ペア中0ペアです。共有されているものは感情による"
                          "グループ分けに固有ではなく、ランダムなプロンプト群も同じように揃います。",
    "find_specific": "**{pairs}** には感情特異的なセルがあります。3ステップすべてを満たすのは{n_cells}セル中"
                     "{n_specific}セルです。",
    "find_layers": "**{pairs}** の最大Δは {max_delta} で、target 層 {layer}、相対深さ {depth} にあります。これは"
                   "{region}で、ピークの target 層は {peak_layers} です。",
    "find_layers_none": "**{pairs}** では写像で改善する層がありません。すべての層で Δ ≤ 0 です。",
    "find_numerics_clean": "すべての値が有限で、抽出した層はすべて結果に含まれています。",
    "find_numerics_bad": "**{pairs}** には非有限値またはスキップされた層があります。数値の健全性の節を参照してください。"
                         "数値は不完全です。",
    "find_reliability_low": "**{pairs}** の split-half 信頼性は {threshold} 未満です。このプロンプト数ではサブスペースに"
                            "ノイズが多く含まれます。",
    "step_bounded": "**{pairs}**: `--metric bounded` を付けて `emoalign align` を再実行してください。legacy 指標の"
                    "数値には判定がありません。",
    "step_old": "**{pairs}**: キャッシュ済みの活性値に `emoalign align` を再実行して、3ステップの判定を得てください。",
    "step_statistics": "**{pairs}**: `--permutations 200` で統計を有効にして再実行してください。統計がないと判定が"
                       "ありません。",
    "step_pairing": "**{pairs}**: `--pairing-permutations 50` でペアシャッフル帰無分布を有効にして再実行してください。"
                    "ステップ (a) がありません。",
    "step_baseline": "**{pairs}**: `--baseline-seeds 20` でランダムコピー基準を追加してください。共有された語彙の影響を"
                     "排除できていません。",
    "step_no_corr": "**{pairs}**: 写像が何も捉えていません。より多くのペアで学習し（`--profile extended`）、別の写像"
                    "（`--map procrustes` または `--map cca`）と、すべての層ペア（`--layer-match grid`）を試してください。",
    "step_not_beyond": "**{pairs}**: `--layer-match grid` と複数の k（`-k 2 4 8 16`）で、語彙以上のものを共有する層を"
                       "探してください。対応させた層ではランダム重みのコピーと同程度です。",
    "step_reliability": "**{pairs}**: `--profile extended` で感情ごとのプロンプトを増やしてください。split-half 信頼性"
                        "が {threshold} 未満です。",
    "step_numerics": "**{pairs}**: まず非有限値やスキップされた層を解消してください。たとえば `--dtype float32` を"
                     "使います。判定は不完全な数値に基づいています。",
    "step_control": "**{pairs}**: `--control untrained` で未学習コントロールを追加し、学習が何を加えているかを"
                    "確認してください。",
    "step_control_weak": "**{pairs}**: 未学習コントロールも同程度です。overlap を学習によるものと読む前に、別の層"
                         "（`--layer-match grid`）を調べてください。",
    "step_specificity": "**{pairs}**: 共有された構造は感情に固有ではありません。別のラベル集合（`--dataset`）で、どの"
                        "グループ分けに従っているかを調べてください。",
    "step_replicate": "**{pairs}**: 感情特異的なセルを、新しいプロンプト（`--dataset`）と別のシード（`--seed`）で"
                      "再現してください。",
    "step_k": "**{pairs}**: `-k 2 4 8 16` で、判定が k によらず成り立つかを確認してください。",
    "step_none": "これらの結果から導かれる次のステップはありません。",
    "title_pair": "感情サブスペース整合性の解析: {source} vs {target}",
    "purpose_pair": (
        "{source}（source）と {target}（target）が、異なる座標系の中で同じ感情サブスペース（{emotions}）を保持して"
        "いるかを解析しました。token-based emotion vector の層ごとの PCA サブスペースを、neutral テキストのみで学習した"
        "線形写像の前後で比較し、同じプロンプトを読むだけで感情の構造を共有しない2モデルが到達する overlap と比べて、"
        "各 overlap を判定します。"
    ),
    "h_command": "実行コマンド",
    "command_intro": "この結果を生成したコマンドは次のとおりです。来歴に記録されたものです。",
    "h_results_pair": "層ごとの結果",
    "h_k_profile_pair": "k に対する判定",
    "artifacts_intro_pair": "この解析のファイルは次のとおりです。",
    "artifact_alignment": "アライメントの生成物",
    "artifact_summary_csv": "層ごとのサマリー CSV",
    "artifact_report": "本レポート（英語）",
    "artifact_report_ja": "本レポート（日本語）",
    "artifact_vectors": "{model} の感情ベクトル",
    "artifact_subspaces": "{model} の感情サブスペース",
    "artifact_config": "`emoalign {command}` の設定ファイル",
    "artifact_mlflow": "MLflow の実行記録",
    "set_target": "target モデル",
    "set_start_token": "開始トークン（`--bos`）",
    "metric_bounded": "有界 overlap ‖Q_U Q_Vᵀ‖²_F / k ∈ [0, 1]（主角度の cos² の平均、チャンスレベルは約 k/d_source）",
    "metric_legacy": "元の研究の legacy 指標です。k×k 要素にわたる (U Vᵀ)² の平均で、写像後の基底は再正規直交化せず、"
                     "before は切り詰めた座標で計算します。設計上有界ではなく、正規直交基底では 1/k 以下です。"
                     "再現のためだけに報告します",
    "none": "なし",
    "verdict_beyond_vocabulary": "語彙を超えて共有",
    "verdict_vocabulary_only": "語彙を超えない",
    "verdict_no_correspondence": "モデル間の対応なし",
    "verdict_vocabulary_unchecked": "対応あり・語彙の影響を排除できず（基準なし）",
    "verdict_not_tested": "未検定",
    "verdict_legacy": "判定なし（legacy 指標）",
    "verdict_old_schema": "判定なし（旧形式の生成物）",
    "layer_beyond": "{n_cells}セル中{n}セルが語彙を超える",
    "layer_correspondence": "{n_cells}セル中{n}セルで対応あり（基準なし）",
    "mark_pass": "合格",
    "mark_warn": "要注意",
    "mark_fail": "不合格",
    "mark_info": "参考",
    "mark_na": "対象外",
    "demo_title": "emoalign デモ：実在の言語モデルをオフラインで、答えの分かっている対照と並べて",
    "demo_generated": "このファイルは `{command}` で生成しました。再実行すると本文と図が再生成されます。",
    "demo_steps": "実在モデルのペアは3ステップで判定します。(a) 線形写像はモデル間の対応を捉えていますか。これはペア"
                  "シャッフル帰無分布で検定します。(b) overlap と特異性は、同じプロンプトを読む両モデルのランダム重み"
                  "のコピーが共有する水準、つまりランダムコピー基準を超えていますか。(c) 感情によるグループ分けは、ラ"
                  "ンダムなプロンプト群よりよく揃いますか。ペアの判定は (a)+(b) で決まり、3ステップすべてを満たすもの"
                  "だけを感情特異的と呼びます。",
    "demo_col_pair": "ペア",
    "demo_col_what": "内容",
    "demo_decoder": "Gemma 3 270M（18層、d=640）と Qwen2.5-Coder-1.5B-Instruct（28層、d=1536）です。どちらも GGUF "
                    "Q4_K_M を逆量子化したもので、系列・規模・トークナイザの異なる2つのデコーダ LLM です",
    "demo_encoder": "all-MiniLM-L6-v2（6層、d=384）と all-mpnet-base-v2（12層、d=768）です。2つの文埋め込みエンコーダ"
                    "です",
    "demo_twin": "{source} と、その正確なアフィン像（幅 {width}）との比較です。回復されるべき既知の答えです",
    "demo_controls": "各ペアの両モデルのランダム重みのコピーを、同じランダムコピー基準に照らして判定します。語彙を超"
                     "えないことが既知の答えです",
    "demo_row_twin": "人工双子",
    "demo_row_controls": "ランダム重みの対照",
    "demo_real_heading": "実在モデルの結果",
    "demo_no_real": "実在モデルのペアは実行していません。",
    "demo_headline": "平たく言えば、{headline}。",
    "demo_beyond": "全体としては、学習済みのペアはランダム重みのコピーの{ratio:.1f}倍の overlap を共有しています。",
    "demo_below": "全体としては、学習済みのペアが共有する overlap はランダム重みのコピーの{ratio:.2f}倍しかなく、同じ"
                  "プロンプトを読む任意の2モデルが共有する以上のものはありません。",
    "demo_level": "全体としては、この overlap は同じプロンプトを読むランダム重みのコピーが共有する量を超えていません"
                  "。",
    "demo_finding": "{pair} の判定は「{verdict}」です。平均 overlap は {observed:.3f} で、チャンスレベルは "
                    "{chance:.3f}、ランダム重みのコピーは {copies:.3f}、その95%予測限界は {bound:.3f} です。写像の対"
                    "応は p = {p_pairing:.3g}、ランダム重みのコピー{n_copies}組との比較は p = {p_baseline:.3g} で、3"
                    "ステップすべてを満たす感情特異的なセルは{n_cells}セル中{n_specific}セルです。",
    "demo_checks_heading": "計測器は既知の答えを見つけましたか",
    "demo_col_check": "確認項目",
    "demo_col_result": "結果",
    "demo_col_measured": "測定値",
    "demo_twin_recovered": "人工双子の回復：すべてのセルで写像後の overlap が 0.95 以上",
    "demo_twin_recovered_measured": "最小 {minimum:.3f}",
    "demo_twin_beyond": "人工双子がすべてのセルで語彙を超えて共有",
    "demo_twin_beyond_measured": "{n_cells}セル中{n}セル",
    "demo_control": "ランダム重みの対照 {pair} が語彙を超えない",
    "demo_control_measured": "ペアの p = {p:.3g}、語彙を超えるセルは{n_cells}セル中{n}セル",
    "demo_time": "パイプラインの所要時間は {seconds:.0f} 秒でした。全モデルとコピーの抽出、整列、統計を含みます。",
    "demo_time_cached": "パイプラインの所要時間は {seconds:.0f} 秒でした。すべての活性をキャッシュから読んだ再実行で、整列と"
                        "統計のみの時間です（初回はすべてのモデルとコピーの抽出も含みます）。",
    "demo_time_partly": "パイプラインの所要時間は {seconds:.0f} 秒でした。整列、統計、およびキャッシュになかった {extracted} "
                        "個の活性の抽出を含みます。",
    "plot_copies_band": "ランダム重みのコピー: 平均〜95%予測限界",
    "plot_lexical_floor": "入力埋め込み（語彙の下限、網掛けは95%信頼区間）",
    "plot_copies_band_short": "ランダム重みのコピー: 平均〜95%予測限界",
    "plot_ci_band": "after: 層平均のパーセンタイル95%信頼区間",
    "plot_before": "写像前 (before)",
    "plot_after": "写像後 (after)",
    "plot_chance": "チャンスレベル k/d",
    "plot_source_layer": "source 層",
    "plot_target_layer": "target 層",
    "plot_layer": "層",
    "plot_overlap_metric": "overlap（{metric}）",
    "plot_no_baseline": "この生成物にはランダムコピー基準がありません",
    "plot_mean_overlap_after": "写像後の平均 overlap",
    "plot_k_axis": "k（PCA 成分数）",
    "plot_mean_overlap_bounded": "平均 overlap（bounded）",
    "plot_overlap_vs_k": "k に対する overlap",
    "plot_chosen": "（採用）",
    "plot_share_beyond": "語彙を超えるセルの割合",
    "plot_beyond_vs_k": "k に対する語彙を超えるセルの割合（BH 補正）",
    "plot_rel_depth_axis": "target 層の相対深さ layer / (n_layers − 1)",
    "plot_overlap_after_map": "写像後の overlap",
    "plot_rel_depth_title": "全ペアの相対深さ別 overlap（点線: 各ペアのコピーの95%予測限界）",
    "plot_grid_colorbar": "写像後の overlap（白 = {centre_name} {centre}）",
    "plot_centre_copies": "コピーの平均",
    "plot_centre_chance": "チャンスレベル",
    "plot_grid_marks": "*: 一部の感情が語彙を超える、**: すべての感情が語彙を超える（BH q < {alpha}）",
    "plot_mean_before": "写像前の平均",
    "plot_mean_after": "写像後の平均",
    "plot_copies_bound": "コピーの95%予測限界",
    "plot_pair_bound": "{label}: コピーの95%予測限界",
    "plot_mean_overlap": "平均 overlap",
    "plot_source_model": "source: {name}",
    "plot_target_model": "target: {name}",
    "plot_target_model_matched": "target: {name}（対応する層）",
    "plot_explained_variance": "説明分散比（k 成分の合計）",
    "plot_verdict_vs_k": "{title}: k に対する判定",
    "plot_k_sweep": "k スイープ: {pair}",
    # 因果検証（emoalign.report.steering）
    "steer_title": "emoalign steer：{source} → {target}",
    "steer_heading": "因果検証：{source} の感情ベクトルで {target} を操舵する",
    "steer_heading_skipped": "因果検証：未実施",
    "steer_skipped": "因果検証は実施していません（理由：{reason}）。",
    "steer_method": (
        "{source} の各感情ベクトル（その感情のプロンプトの平均から中立プロンプトの平均を引いたもの）を、中立プロンプトの"
        "各単語での両モデルの活性化をペアとしてソース→ターゲット方向に学習した {map} 写像で {target} の空間へ移しました"
        "（以下「転移ベクトル」。"
        "学習に使っていないプロンプトの単語での層ペアごとの R²：{r2}）。これを、写像の学習から除外した中立プロンプト"
        "{n_prompts}件に対し、対応する層の直後の残差ストリームへ、先頭以外のすべての位置で加えました。効果は、次トークン"
        "位置でのその感情の先頭トークン群の対数確率質量の変化で測ります。比較はすべて同じノルム（その層の残差ノルム中央値の "
        "{scales} 倍。判定は {test_scale} 倍）で行い、{target} 自身のベクトル（基準）、ランダム方向{n_random}本"
        "（帰無分布）、シャッフルしたペアで学習した写像{n_shuffles}個で移したソースベクトル（ペアシャッフル帰無分布）と"
        "並べました。p 値は全セルを通したファミリーワイズ補正済み（max-T 法）で、有意水準は α = {alpha} です。"
    ),
    "steer_headline": (
        "**転移ベクトルが両方の帰無分布を上回って {target} を動かしたのは{n_cells}セル中{n}セルです**。"
        "{target} 自身のベクトルがランダム方向を上回ったのは{n_own}セルでした。"
    ),
    "steer_col_layers": "層",
    "steer_col_emotion": "感情",
    "steer_col_own": "自身のベクトル [95% CI]",
    "steer_col_transferred": "転移ベクトル [95% CI]",
    "steer_col_efficiency": "転移効率 [95% CI]",
    "steer_col_p_random": "p（対ランダム方向）",
    "steer_col_p_shuffled": "p（対シャッフル写像）",
    "steer_col_verdict": "判定",
    "steer_legend": (
        "効果は {scale} 倍での値で、ベクトル自身の感情の対数確率質量の変化をプロンプト間で平均したものです（括弧内は"
        "プロンプトのブートストラップによる95%信頼区間）。転移効率は、同じプロンプトでの「転移ベクトルの効果 ÷ 自身の"
        "ベクトルの効果」で、自身の効果が正の場合にのみ示します。p は、ランダム方向に対する値と、シャッフルしたペアで"
        "学習した写像で移したソースベクトルに対する値で、いずれもファミリーワイズ補正済みです。"
    ),
    "steer_verdict_transfers": (
        "自身のベクトルと同様に {target} を {emotion} の方向へ動かす（効果は自身のベクトルの {efficiency} 倍、"
        "95%信頼区間 {low}–{high}）"
    ),
    "steer_verdict_transfers_own_flat": (
        "ランダム方向とシャッフル写像を上回って {target} を {emotion} の方向へ動かす。ただし {target} 自身の"
        "ベクトルはランダム方向を上回らない（p = {p_own}）"
    ),
    "steer_verdict_beyond_random_only": (
        "ランダム方向よりも強く {target} を {emotion} の方向へ動かす（p = {p_random}）が、シャッフルしたペアで学習した"
        "写像で移したソースベクトルを上回るとはいえない（p = {p_shuffled}）"
    ),
    "steer_verdict_no_better_than_random": "ランダム方向と区別できない（p = {p_random}）",
    "steer_verdict_own_does_not_steer": (
        "この層では {target} 自身の {emotion} ベクトルでもランダム方向を上回る変化が起きないため（p = {p_own}）、"
        "転移を評価できない"
    ),
    "steer_h_matrices": "特異性：各ベクトルが各感情に与える変化",
    "steer_matrices_intro": (
        "{scale} 倍での値です。行は加えたベクトルの感情、列は対数確率質量を測った感情で、各セルは「自身のベクトル / "
        "転移ベクトル」の順です。特異的なベクトルでは、各行で対角（太字）が最大になります。自身のベクトルと転移ベクトルの"
        "平均コサイン類似度：{cosines}。"
    ),
    "steer_col_vector": "ベクトル",
    "steer_h_dose": "用量反応",
    "steer_dose_intro": (
        "各スケール（残差ノルム中央値に対する倍率）で、ベクトル自身の感情へ向かう変化を感情間で平均した値です。括弧内は、"
        "自身のベクトルと転移ベクトルではプロンプトのブートストラップによる95%信頼区間、ランダム方向とシャッフル写像では"
        "試行間の5–95パーセンタイルです。"
    ),
    "steer_col_condition": "条件",
    "steer_col_scale": "{scale} 倍",
    "steer_cond_own": "自身のベクトル",
    "steer_cond_transferred": "転移ベクトル",
    "steer_cond_random": "ランダム方向",
    "steer_cond_shuffled": "シャッフル写像",
    "steer_h_tokens": "確率質量を測ったトークン（感情ごと）",
    "steer_tokens_intro": "効果は、各感情の語の先頭トークンのうち、次に挙げるものの確率質量で測りました。",
    "steer_more": "、ほか{n}個",
    "steer_h_continuations": "貪欲デコーディングによる続き",
    "steer_continuations_intro": (
        "変化が文章にどう表れるかの例です。除外した中立プロンプトの続きを、操舵なしの場合と、層 {layers}・{scale} 倍で"
        "操舵した場合とで、貪欲デコーディングにより生成しました。"
    ),
    "steer_continuation_prompt": "**プロンプト**：{prompt}",
    "steer_col_steered_by": "加えたベクトル",
    "steer_col_text": "続き",
    "steer_condition_base": "なし（操舵なし）",
    "steer_condition_own": "自身の {emotion} ベクトル",
    "steer_condition_transferred": "転移した {emotion} ベクトル",
    "steer_figure_caption": (
        "因果検証 {source} → {target}。左：用量反応（ベクトル自身の感情へ向かう変化の感情間平均。帯はブートストラップ"
        "による95%信頼区間と帰無分布の5–95パーセンタイル、点線は判定スケール）。右：判定スケールで自身のベクトルと"
        "転移ベクトルが各感情に与える変化"
    ),
    "steer_time": "因果検証の所要時間は{seconds:.0f}秒でした。",
    "steer_plot_scale": "ノルム（残差ノルム中央値に対する倍率）",
    "steer_plot_shift": "ベクトルの感情の対数確率質量の変化",
    "steer_plot_dose": "用量反応（層 {layers}）",
    "steer_plot_test_scale": "判定スケール",
    "steer_plot_toward": "確率質量を測った感情",
    "steer_plot_vector": "ベクトルの感情",
    "steer_plot_matrix_own": "自身のベクトル（層 {layers}）",
    "steer_plot_matrix_transferred": "転移ベクトル（層 {layers}）",
    "artifact_steering": "因果検証（プロンプトごとの全変化量）",
    "artifact_steering_csv": "因果検証のセルの CSV",
}

#: every language's table; a key of one is a key of all (tests/test_message_catalog.py)
CATALOG: dict[str, dict[str, str]] = {"en": EN, "ja": JA}

#: a stored verdict (the words of :mod:`emoalign.analysis.verdict`, kept in English in the artifacts
#: and CSVs) -> its catalog key
VERDICT_KEYS: dict[str, str] = {
    BEYOND_VOCABULARY: "verdict_beyond_vocabulary",
    VOCABULARY_ONLY: "verdict_vocabulary_only",
    NO_CORRESPONDENCE: "verdict_no_correspondence",
    VOCABULARY_UNCHECKED: "verdict_vocabulary_unchecked",
    NOT_TESTED: "verdict_not_tested",
    LEGACY_NO_VERDICT: "verdict_legacy",
    OLD_SCHEMA_NO_VERDICT: "verdict_old_schema",
}

_STRICT = [os.environ.get("EMOALIGN_STRICT_MESSAGES", "") not in ("", "0")]


class MessageKeyError(KeyError):
    """A message the catalog does not have: an unknown key, a key missing from one language, or
    (under :func:`strict_messages`) a parameter the caller did not pass."""

    def __init__(self, key: str, lang: str, parameter: str | None = None) -> None:
        super().__init__(key)
        self.key, self.lang, self.parameter = key, lang, parameter

    def __str__(self) -> str:
        if self.parameter is not None:
            return f"report message {self.key!r} ({self.lang}): parameter {{{self.parameter}}} was not passed"
        if any(self.key in table for table in CATALOG.values()):
            return f"report message {self.key!r} has no {self.lang!r} text"
        return f"unknown report message {self.key!r} (language {self.lang!r})"


@contextlib.contextmanager
def strict_messages(on: bool = True) -> Iterator[None]:
    """Within the block, a template parameter that was not passed raises :class:`MessageKeyError`
    instead of reading ``n/a`` (also on with the environment variable ``EMOALIGN_STRICT_MESSAGES=1``)."""
    before = _STRICT[0]
    _STRICT[0] = on
    try:
        yield
    finally:
        _STRICT[0] = before


class _Params(dict):
    """A template's parameters: one that was not passed reads ``n/a``, or raises when strict."""

    def __init__(self, params: dict[str, Any], key: str, lang: str) -> None:
        super().__init__(params)
        self.key, self.lang = key, lang

    def __missing__(self, name: str) -> str:
        if _STRICT[0]:
            raise MessageKeyError(self.key, self.lang, name)
        return "n/a"


def message(lang: str, key: str, **params: Any) -> str:
    """The template ``key`` of ``lang`` filled with ``params`` (strict: see the module docstring)."""
    table = CATALOG.get(lang)
    if table is None:
        raise MessageKeyError(key, lang)
    try:
        template = table[key]
    except KeyError:
        raise MessageKeyError(key, lang) from None
    return template.format_map(_Params(params, key, lang))


@dataclass(frozen=True)
class Strings:
    """``T(key, **params)``: the template ``key`` of ``lang`` filled with ``params`` (:func:`message`)."""

    lang: str

    def __call__(self, key: str, **params: Any) -> str:
        return message(self.lang, key, **params)

    def verdict(self, words: object) -> str:
        """A stored verdict (the English words of :data:`VERDICT_KEYS`) in this language; ``n/a`` for
        none. Words the catalog does not know raise :class:`MessageKeyError`."""
        if words is None:
            return "n/a"
        key = VERDICT_KEYS.get(str(words))
        if key is None:
            raise MessageKeyError(f"verdict {words!r}", self.lang)
        return self(key)

    def layer_verdict(self, n: int, n_cells: int, *, baseline: bool) -> str:
        """A layer pair's verdict from its counts: cells beyond vocabulary (with the random-copy
        baseline) or cells with correspondence (without it), of ``n_cells``."""
        return self("layer_beyond" if baseline else "layer_correspondence", n=int(n), n_cells=int(n_cells))


def strings(lang: str) -> Strings:
    """The messages of ``lang`` (``en`` or ``ja``)."""
    if lang not in CATALOG:
        raise EmoalignError(f"--lang {lang}: unknown (use {', '.join(LANGS)})")
    return Strings(lang)


def figure_caption(T: Strings, kind: str, label: str, params: dict[str, Any]) -> str:
    """Caption of a figure of ``kind``; the overlap figure names the bands it draws (and says when the
    random-copy baseline is missing)."""
    caption = T(f"fig_{kind}", label=label, **params)
    parts = [T(f"fig_part_{part}") for part in ("copies", "ci", "chance", "no_baseline") if params.get(part) is True]
    return caption + (T("fig_parts", parts=T("fig_parts_join").join(parts)) if parts else "")


def figure_text(lang: str, key: str, **params: Any) -> str:
    """Text drawn inside a figure (``plot_<key>``) in ``lang``."""
    return message(lang, f"plot_{key}", **params)


def demo_text(lang: str, key: str, **params: Any) -> str:
    """A template of the demo report's opening (``demo_<key>``) in ``lang``."""
    return strings(lang)(f"demo_{key}", **params)


def verdict_words(lang: str, verdict: str) -> str:
    """A stored (English) verdict in ``lang``."""
    return strings(lang).verdict(verdict)
