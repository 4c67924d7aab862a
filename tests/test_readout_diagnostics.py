"""Readout diagnostics (one-direction subspaces, outlying norms), the robust map fit, the lexical
floor (the input-embedding pair) and a headline that cannot say more than its cells."""

from __future__ import annotations

import logging
import re
import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file
from sklearn.decomposition import PCA

from emoalign.analysis.alignment import AlignConfig, drop_outlying_pairs
from emoalign.analysis.diagnostics import (
    first_component_share,
    outlying_rows,
    robust_fit_mask,
    row_norm_ratio,
)
from emoalign.analysis.maps import fit_map
from emoalign.core.results import load
from emoalign.data.dataset import load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.extract.activations import plan_positions
from emoalign.report.checks import (
    check_beyond_vocabulary,
    check_readout,
    check_static_meaning,
)
from emoalign.report.comparative import headline
from emoalign.report.i18n import strings
from emoalign.report.marks import INFO, NA, PASS, WARN

FEW = 12


# ---------------------------------------------------------------------------------------------
# pure functions, against oracles


def test_first_component_share_equals_sklearn_pca():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 12)) * np.linspace(3, 0.1, 12)
    expected = PCA().fit(X).explained_variance_ratio_[0]
    assert first_component_share(X) == pytest.approx(expected, rel=1e-10)


def test_norm_ratio_and_outlying_rows_find_planted_outliers():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 16))
    assert row_norm_ratio(X) < 3 and outlying_rows(X).size == 0
    X[[3, 17]] *= 80  # the attention sink's ratio
    norms = np.linalg.norm(X, axis=1)
    assert row_norm_ratio(X) == pytest.approx(norms.max() / np.median(norms))
    assert outlying_rows(X).tolist() == [3, 17]
    assert outlying_rows(X, bound=1e9).size == 0


def test_a_few_outlying_pairs_do_not_steer_the_map():
    """Pairs at 80x the median norm, with a wrong correspondence, are left out: the map equals the fit
    without them; the legacy metric (the original's fit) keeps every pair."""
    rng = np.random.default_rng(2)
    n, d_t, d_s = 300, 10, 8
    W = rng.normal(size=(d_t, d_s))
    X_t = rng.normal(size=(n, d_t))
    X_s = X_t @ W + 0.01 * rng.normal(size=(n, d_s))
    bad = np.array([5, 50, 150])
    X_t[bad] = 80 * rng.normal(size=(3, d_t))  # sink-sized activations paired with ordinary ones
    keep = robust_fit_mask(X_t, X_s)
    assert np.flatnonzero(~keep).tolist() == bad.tolist()
    kept_t, kept_s, dropped = drop_outlying_pairs(X_t, X_s, AlignConfig())
    assert dropped == 3
    robust = fit_map("lstsq", kept_t, kept_s, heldout_fraction=0.0)
    clean = fit_map("lstsq", np.delete(X_t, bad, 0), np.delete(X_s, bad, 0), heldout_fraction=0.0)
    np.testing.assert_allclose(robust.weight, clean.weight)
    np.testing.assert_allclose(robust.weight, W, atol=0.01)
    steered = fit_map("lstsq", X_t, X_s, heldout_fraction=0.0)
    assert np.abs(steered.weight - W).max() > 0.1  # what the outliers would have done
    assert drop_outlying_pairs(X_t, X_s, AlignConfig(metric="legacy"))[2] == 0


# ---------------------------------------------------------------------------------------------
# checks and the headline


def _summary(**kw):
    base = {"schema": "current", "verdict": "shared beyond vocabulary", "beyond_vocabulary": True,
            "n_beyond_vocabulary": 12, "n_cells": 12, "n_emotion_specific": 0, "p_baseline": 0.001,
            "n_baseline_copies": 5, "best_beyond_static": None, "readout_flags": []}
    return {**base, **kw}


def test_a_pair_verdict_carried_by_few_cells_says_so_in_the_check_and_the_headline():
    T = strings("en")
    assert check_beyond_vocabulary(_summary()).status == PASS
    few = _summary(n_beyond_vocabulary=5)
    check = check_beyond_vocabulary(few)
    assert check.status == WARN and check.reason == "beyond_pass_few_cells"
    text = headline(T, few)
    assert text.startswith("No cell is emotion-specific (0 of 12")
    assert "shared beyond vocabulary as a pair, but only 5 of 12 cells pass (b) on their own" in text
    assert headline(T, _summary(n_beyond_vocabulary=0)).count("only 0 of 12") == 1
    assert headline(T, _summary(n_emotion_specific=4)).startswith("Emotion-specific in 4 of 12 cells")
    ja = headline(strings("ja"), few)
    assert ja.startswith("感情特異的なセルはありません") and "12セル中5セルだけです" in ja


def test_the_headline_names_static_meaning_only_for_a_pair_beyond_vocabulary():
    T = strings("en")
    static = {"best_layer": 0, "best_target_layer": 0, "best_after": 0.31, "floor_after": 0.33,
              "floor_ci_high": 0.36, "best_beyond_static": False}
    text = headline(T, _summary(**static))
    assert "the best layer (0↔0, overlap 0.310) does not go beyond static word meaning" in text
    assert "static" not in headline(T, _summary(**static, beyond_vocabulary=False, verdict="not beyond vocabulary"))
    assert "goes beyond static word meaning" in headline(T, _summary(**{**static, "best_beyond_static": True}))


def test_readout_and_static_meaning_checks():
    assert check_readout({"readout_flags": None}).status == NA
    assert check_readout({"readout_flags": [], "source_pc1_max": 0.3, "target_pc1_max": 0.4}).status == PASS
    flag = {"role": "target", "layer": 3, "emotion": "anger", "pc1": 0.999, "norm_ratio": 80.0,
            "outlying_prompts": [1, 4, 9]}
    check = check_readout({"readout_flags": [flag]})
    assert check.status == WARN and "target 3 anger (0.999, 3)" in check.params["where"]
    assert check_static_meaning({"n_beyond_static": None}).status == NA
    assert check_static_meaning({"n_beyond_static": 2, "static_layers": "3-4"}).status == PASS
    assert check_static_meaning({"n_beyond_static": 0}).status == INFO


# ---------------------------------------------------------------------------------------------
# on tiny models, through the whole study


def _outlier_token(folder, label="gratitude", low=0.15, high=0.6) -> int:
    """A token read at the emotion words of some (not all) of ``label``'s first FEW prompts."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    dataset = load_profile("baseline").limit_per_label(FEW)
    plans, encoded = plan_positions(tokenizer, dataset, DEFAULT_LEXICON)
    counts: Counter[int] = Counter()
    rows = [i for i, p in enumerate(dataset.prompts) if p.label == label]
    for i in rows:
        counts.update({encoded["input_ids"][i][t] for t in plans[i].pooled})
    for token, count in counts.most_common():
        if low <= count / len(rows) <= high:
            return int(token)
    raise AssertionError(f"no token in {low:.0%}-{high:.0%} of the {label} prompts: {counts}")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def outlier_study(tiny_model_path, tmp_path_factory):
    """A tiny GPT-2 whose input embedding of one gratitude token is 1000x the others (a planted
    token outlier, like an attention sink at a word), against a tiny Llama, through `run`: the
    result, the summary CSV and the warnings logged."""
    from emoalign.study.api import run

    tmp = tmp_path_factory.mktemp("outlier")
    folder = tmp / "gpt2-outlier"
    shutil.copytree(tiny_model_path("gpt2"), folder)
    token = _outlier_token(folder)
    weights = load_file(folder / "model.safetensors")
    key = next(k for k in weights if k.endswith("wte.weight"))
    weights[key][token] *= 1000.0
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    records = _Records()
    logging.getLogger("emoalign").addHandler(records)
    try:
        result = run(str(folder), str(tiny_model_path("llama")), layers=[0, 1], n_components=3,
                     max_samples_per_emotion=FEW, n_permutations=20, n_bootstrap=30, n_pairing_permutations=20,
                     baseline_seeds=3, device="cpu", results_dir=tmp / "results", report_dir=tmp / "report",
                     quiet=True)
    finally:
        logging.getLogger("emoalign").removeHandler(records)
    csv = pd.read_csv(next((tmp / "results").glob("baseline/statistics/*.csv")))
    return result, csv, records.messages


def test_a_planted_token_outlier_is_flagged_in_the_csv_the_log_and_the_report(outlier_study):
    result, csv, messages = outlier_study
    blocks = csv[csv["layer"] >= 0]
    assert (blocks["source_pc1_max"] >= 0.9).all() and (blocks["target_pc1_max"] < 0.9).all()
    readout = result.summary["readout"]
    flagged = {(f["role"], f["layer"], f["emotion"]) for f in readout["cells"]}
    assert {("source", 0, "gratitude"), ("source", 1, "gratitude")} <= flagged
    assert not any(f["role"] == "target" for f in readout["cells"])
    # one warning line per flagged readout, naming the model, layer, emotion and the prompts at fault
    gratitude = [p.text for p in load_profile("baseline").limit_per_label(FEW).prompts if p.label == "gratitude"]
    warned = [m for m in messages if m.startswith("gpt2-outlier layer 0 'gratitude'")]
    assert len(warned) == 1
    assert float(re.search(r"first principal component (\d\.\d+)", warned[0]).group(1)) >= 0.9
    first = readout["cells"][0]["outlying_prompts"][0]
    assert repr(gratitude[first][:50]) in " ".join(messages)
    from emoalign.report.compare import compare_results

    entry = compare_results([result]).entries[0]
    check = next(c for c in entry.checks if c.key == "readout")
    assert check.status == WARN and "source 0 gratitude" in check.params["where"]


def test_every_study_reports_the_lexical_floor_and_the_layers_beyond_it(outlier_study, tmp_path_factory):
    result, csv, _ = outlier_study
    assert csv["layer"].tolist() == [-1, 0, 1]  # the floor is the CSV's first row
    assert np.isnan(csv["beyond_static_meaning"].iloc[0])
    floor = result.floor_layer
    assert len(floor) == 1 and int(floor["layer"].iloc[0]) == -1 and int(floor["target_layer"].iloc[0]) == -1
    assert 1 <= int(floor["n_components"].iloc[0]) <= 3
    assert {"ci_low", "ci_high", "mean_overlap_after"} <= set(floor.columns)
    assert set(result.layers["beyond_static_meaning"].dropna().unique()) <= {0.0, 1.0}
    expected = (result.layers["mean_overlap_after"] > float(floor["ci_high"].iloc[0])).astype(float)
    np.testing.assert_array_equal(result.layers["beyond_static_meaning"], expected)
    path = result.save(tmp_path_factory.mktemp("floor") / "a.safetensors")
    again = load(path)
    pd.testing.assert_frame_equal(again.floor_layer, result.floor_layer)
    pd.testing.assert_frame_equal(again.floor_cells, result.floor_cells)


@pytest.mark.parametrize("family", ["gpt2", "llama", "gemma3", "bert"])
def test_the_embedding_layer_is_hf_hidden_states_0(tiny_model_path, family):
    """Layer -1 (the lexical floor) is the input of block 0: HF's hidden_states[0], position embeddings
    and Gemma's sqrt(d) scaling included; asked alone it stops before block 0 runs."""
    import torch

    from emoalign.extract.capture import capture_block_outputs
    from emoalign.models.blocks import find_blocks
    from emoalign.models.loading import load_model
    from emoalign.models.registry import resolve_model

    loaded = load_model(resolve_model(str(tiny_model_path(family))), device="cpu", dtype="float32", quiet=True)
    inputs = loaded.tokenizer(["Thank you so much for the help.", "I am furious."], return_tensors="pt",
                              padding=True)
    inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    _, blocks = find_blocks(loaded.model)
    with torch.no_grad():
        reference = loaded.model(**inputs, output_hidden_states=True).hidden_states
    captured = capture_block_outputs(loaded.model, blocks, [-1, 0, 1], inputs)
    torch.testing.assert_close(captured[-1], reference[0])
    torch.testing.assert_close(captured[0], reference[1])
    ran = []
    handle = blocks[0].register_forward_hook(lambda *_: ran.append(True))
    try:
        alone = capture_block_outputs(loaded.model, blocks, [-1], inputs)
    finally:
        handle.remove()
    torch.testing.assert_close(alone[-1], reference[0])
    assert not ran
