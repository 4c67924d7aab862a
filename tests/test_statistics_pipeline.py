"""Statistics through the pipeline: three-step verdicts, the random-copy baseline, grid maximum, k-sweep,
untrained control, CSV columns."""

import numpy as np
import pandas as pd

from emoalign.cli import main
from emoalign.core.results import load
from emoalign.study.api import run

FEW = 12


def _argv(tiny_model_path, out, *extra):
    return ["run", "--source", str(tiny_model_path("gpt2")), "--target", str(tiny_model_path("qwen2")),
            "--layers", "0", "2", "--n-components", "3", "--max-samples-per-emotion", str(FEW),
            "--permutations", "50", "--bootstrap", "100", "--pairing-permutations", "20", "--baseline-seeds", "3",
            "--device", "cpu",
            "--results-dir", str(out / "results"), "--report-dir", str(out / "report"), "--quiet", *extra]


def test_every_cell_has_three_verdict_steps_ci_and_reliability(tiny_model_path, tmp_path, capsys):
    assert main(_argv(tiny_model_path, tmp_path)) == 0
    printed = capsys.readouterr().out
    assert "pair verdict:" in printed
    result = load(next((tmp_path / "results" / "baseline" / "alignment").glob("*.safetensors")))
    cells = result.cell_table()
    for column in ["p_pairing", "q_pairing", "correspondence", "p_baseline", "q_baseline", "baseline_overlap_bound",
                   "baseline_specificity_bound", "beyond_vocabulary", "p_emotion", "emotion_not_any_group",
                   "p_group", "q_group", "group_null_p95", "ci_low", "ci_high", "reliability_source",
                   "reliability_target", "normalised_overlap", "specificity", "chance", "verdict", "emotion_specific"]:
        assert cells[column].notna().all(), column
    assert not {"ceiling", "p_label", "null_p95"} & set(cells.columns)
    assert ((cells["p_group"] >= 1 / 51) & (cells["p_group"] <= 1)).all()
    assert (cells["q_baseline"] >= cells["p_baseline"] - 1e-12).all()  # BH never lowers a p-value
    # the headline needs (a) and (b); "emotion-specific" needs all three
    passed = cells["correspondence"] & cells["beyond_vocabulary"]
    assert ((cells["verdict"] == "shared beyond vocabulary") == passed).all()
    assert (~cells["emotion_specific"] | (passed & cells["emotion_not_any_group"])).all()
    assert result.summary["n_cells"] == 6 and result.summary["n_baseline_copies"] == 3
    assert result.config["baseline_copies"] == 3
    # the copies: random weights, distinct seeds for source and target, never the control's seed + 1
    seeds = result.arrays["baseline_seeds"]
    assert seeds.shape == (3, 2) and len(set(seeds.ravel())) == 6 and 1 not in seeds
    assert result.arrays["baseline_cross_overlap_by_k"].shape[:2] == (3, 2)
    assert list(result.k_profile["k"]) == [2, 3, 4, 8]  # 12 prompts per label: k up to 11, and the chosen 3
    assert "share_beyond_vocabulary" in result.k_profile
    csv = pd.read_csv(next((tmp_path / "results" / "baseline" / "statistics").glob("*.csv")))
    assert {"verdict", "n_beyond_vocabulary", "ci_low", "ci_high", "baseline_overlap_bound", "cka"} <= set(csv.columns)
    assert result.arrays["group_null"].shape == (2, 50, 3)


def test_baseline_copies_are_cached_and_reused(tiny_model_path, tmp_path):
    kwargs = dict(layers=[1], n_components=3, max_samples_per_emotion=FEW, n_permutations=20, n_bootstrap=20,
                  n_pairing_permutations=20, baseline_seeds=3, device="cpu", results_dir=tmp_path, write=False,
                  cache_dir=tmp_path / "cache")  # write=False keeps the cache only where one is named
    first = run(str(tiny_model_path("gpt2")), str(tiny_model_path("qwen2")), **kwargs)
    cached = sorted(p.name for p in (tmp_path / "cache").glob("*.safetensors"))
    assert len(cached) == 2 + 6  # the pair and 3 copies of each
    again = run(str(tiny_model_path("gpt2")), str(tiny_model_path("qwen2")), **kwargs)
    assert sorted(p.name for p in (tmp_path / "cache").glob("*.safetensors")) == cached
    np.testing.assert_array_equal(first.arrays["baseline_cross_overlap_by_k"],
                                  again.arrays["baseline_cross_overlap_by_k"])


def test_no_baseline_warns_and_says_so_in_the_verdict(tiny_model_path, tmp_path, capsys):
    result = run(str(tiny_model_path("gpt2")), str(tiny_model_path("qwen2")), layers=[1], n_components=3,
                 max_samples_per_emotion=FEW, n_permutations=20, n_bootstrap=20, n_pairing_permutations=20,
                 baseline_seeds=0, device="cpu", results_dir=tmp_path, write=False)
    assert "--baseline-seeds 0" in capsys.readouterr().err
    assert set(result.cells["verdict"]) <= {"no cross-model correspondence",
                                           "correspondence; vocabulary not ruled out (no baseline)"}
    assert not result.cells["emotion_specific"].any()


def test_legacy_metric_carries_no_verdict(tiny_model_path, tmp_path):
    result = run(str(tiny_model_path("gpt2")), str(tiny_model_path("qwen2")), layers=[1], n_components=3,
                 max_samples_per_emotion=FEW, n_permutations=20, n_bootstrap=20, n_pairing_permutations=20,
                 baseline_seeds=3, metric="legacy", device="cpu", results_dir=tmp_path, write=False)
    assert set(result.cells["verdict"]) == {"no verdict (legacy metric)"}
    assert result.summary["verdict"] == "no verdict (legacy metric)"


def test_statistics_are_reproducible_with_a_seed(tiny_model_path, tmp_path):
    kwargs = dict(layers=[1], n_components=3, max_samples_per_emotion=FEW, n_permutations=30, n_bootstrap=50,
                  n_pairing_permutations=20, baseline_seeds=3, device="cpu", results_dir=tmp_path, write=False)
    source, target = str(tiny_model_path("gpt2")), str(tiny_model_path("qwen2"))
    first, again = run(source, target, seed=3, **kwargs), run(source, target, seed=3, **kwargs)
    other = run(source, target, seed=4, **kwargs)
    pd.testing.assert_frame_equal(first.cells, again.cells)
    assert not np.array_equal(first.cells["ci_low"], other.cells["ci_low"])


def test_grid_reports_the_maximum_with_the_null_of_the_maximum(tiny_model_path, tmp_path, capsys):
    assert main(_argv(tiny_model_path, tmp_path, "--layer-match", "grid", "--target-layers", "1", "3")) == 0
    printed = capsys.readouterr().out
    result = load(next((tmp_path / "results" / "baseline" / "alignment").glob("*.safetensors")))
    assert len(result.layer_table()) == 4  # 2 source x 2 target layers
    grid = result.summary["grid"]
    assert set(grid) == {"gratitude", "anger", "apology"}
    for emotion, best in grid.items():
        cells = result.cells[result.cells["emotion"] == emotion]
        assert best["max_overlap_after"] == cells["overlap_after"].max()
        # the maximum over 4 cells is harder to beat than any single cell's null
        assert best["p_max"] >= cells.loc[cells["overlap_after"].idxmax(), "p_group"] - 1e-12
    assert "grid max gratitude" in printed


def test_k_sweep_gives_the_whole_table_per_k(tiny_model_path, tmp_path, capsys):
    argv = _argv(tiny_model_path, tmp_path)
    argv[argv.index("--n-components") + 1: argv.index("--n-components") + 2] = ["2", "4"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.count("pair verdict:") == 2
    for k in (2, 4):
        csv = pd.read_csv(next((tmp_path / "results" / "baseline" / f"k{k}" / "statistics").glob("*.csv")))
        assert np.allclose(csv["chance"], k / 64)


def test_untrained_control_runs_through_the_same_pipeline(tiny_model_path, tmp_path, capsys):
    assert main(_argv(tiny_model_path, tmp_path, "--control", "untrained")) == 0
    alignments = sorted((tmp_path / "results" / "baseline" / "alignment").glob("*.safetensors"))
    assert len(alignments) == 2
    trained, control = (load(p) for p in sorted(alignments, key=lambda p: "untrained" in p.name))
    assert control.target["name"].endswith("-untrained") and control.config["control"] == "untrained"
    assert control.target["weights"] == "random init (seed 1)"
    assert trained.target["weights"] == "pretrained"
    assert not np.allclose(trained.cells["overlap_after"], control.cells["overlap_after"])


def test_a_ci_that_excludes_the_observed_overlap_is_flagged(tiny_model_path, tmp_path):
    from emoalign.report.summary import format_layer_table

    result = run(str(tiny_model_path("gpt2")), str(tiny_model_path("qwen2")), layers=[1], n_components=3,
                 max_samples_per_emotion=FEW, n_permutations=20, n_bootstrap=30, n_pairing_permutations=0,
                 baseline_seeds=0, device="cpu", results_dir=tmp_path, write=False)
    assert "bootstrap CI does not contain" not in format_layer_table(result)
    result.cells.loc[0, "ci_low"] = result.cells.loc[0, "overlap_after"] + 0.01
    assert "warning: in 1 of 3 cells the bootstrap CI does not contain" in format_layer_table(result)
