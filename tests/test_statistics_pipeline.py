"""Statistics through the pipeline: verdicts, grid maximum, k-sweep, untrained control, CSV columns."""

import numpy as np
import pandas as pd

from emoalign.cli import main
from emoalign.pipeline import run
from emoalign.results import load

FEW = 12


def _argv(tiny_model_path, out, *extra):
    return ["run", "--source", str(tiny_model_path("gpt2")), "--target", str(tiny_model_path("qwen2")),
            "--layers", "0", "2", "--n-components", "3", "--max-samples-per-emotion", str(FEW),
            "--permutations", "50", "--bootstrap", "100", "--pairing-permutations", "10", "--device", "cpu",
            "--results-dir", str(out / "results"), "--report-dir", str(out / "report"), "--quiet", *extra]


def test_every_cell_has_null_ci_ceiling_and_a_verdict(tiny_model_path, tmp_path, capsys):
    assert main(_argv(tiny_model_path, tmp_path)) == 0
    printed = capsys.readouterr().out
    assert "null95" in printed and "pair verdict:" in printed
    result = load(next((tmp_path / "results" / "baseline" / "alignment").glob("*.safetensors")))
    cells = result.cell_table()
    for column in ["null_mean", "null_p95", "p_label", "q_label", "ci_low", "ci_high", "ceiling_source",
                   "ceiling_target", "p_pairing", "specificity", "chance", "verdict"]:
        assert cells[column].notna().all(), column
    assert ((cells["p_label"] >= 1 / 51) & (cells["p_label"] <= 1)).all()
    assert (cells["q_label"] >= cells["p_label"] - 1e-12).all()  # BH never lowers a p-value
    assert set(cells["verdict"]) <= {"emotion-specific", "not distinguishable from null"}
    assert result.summary["n_cells"] == 6
    csv = pd.read_csv(next((tmp_path / "results" / "baseline" / "statistics").glob("*.csv")))
    assert {"verdict", "n_emotion_specific", "ci_low", "ci_high", "null_p95", "cka"} <= set(csv.columns)
    assert result.arrays["label_null"].shape == (2, 50, 3)


def test_statistics_are_reproducible_with_a_seed(tiny_model_path, tmp_path):
    kwargs = dict(layers=[1], n_components=3, max_samples_per_emotion=FEW, n_permutations=30, n_bootstrap=50,
                  n_pairing_permutations=5, device="cpu", results_dir=tmp_path, write=False)
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
        assert best["p_max"] >= cells.loc[cells["overlap_after"].idxmax(), "p_label"] - 1e-12
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
                 device="cpu", results_dir=tmp_path, write=False)
    assert "bootstrap CI does not contain" not in format_layer_table(result)
    result.cells.loc[0, "ci_low"] = result.cells.loc[0, "overlap_after"] + 0.01
    assert "warning: in 1 of 3 cells the bootstrap CI does not contain" in format_layer_table(result)
