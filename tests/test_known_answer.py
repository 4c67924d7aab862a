"""Known answer: a planted twin (exact linear image of the source in a wider residual stream)."""

import pandas as pd
import pytest

from emoalign.cli import main
from emoalign.synthetic import widen_rmsnorm_model


@pytest.fixture(scope="module")
def twin_study(tiny_model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("twin")
    source = tiny_model_path("llama")
    twin = widen_rmsnorm_model(source, out / "llama-twin", width=96, seed=1)
    return out, source, twin


def _run(out, source, twin, *extra):
    argv = ["run", "--source", str(source), "--target", str(twin), "--device", "cpu",
            "--results-dir", str(out / "results"), "--report-dir", str(out / "report"), "--quiet", *extra]
    assert main(argv) == 0
    return pd.read_csv(next((out / "results" / "baseline" / "statistics").glob("*.csv")))


def test_defaults_recover_the_planted_twin(twin_study, capsys):
    out, source, twin = twin_study
    _run(out, source, twin)
    capsys.readouterr()
    from emoalign.core.results import load

    result = load(next((out / "results" / "baseline" / "alignment").glob("*.safetensors")))
    cells = result.cell_table()
    assert len(cells) == 4 * 3  # every layer of the tiny model x 3 emotions
    assert (cells["overlap_after"] >= 0.95).all(), cells[["layer", "emotion", "overlap_after"]]
    assert (result.layer_table()["map_heldout_r2"] > 0.99).all()
    # ... and the instrument says so, against 20 random-weight copies of both architectures: every cell
    # carries correspondence (a) and goes beyond vocabulary (b); the pair too
    assert (cells["verdict"] == "shared beyond vocabulary").all(), cells[["layer", "emotion", "p_pairing", "p_baseline"]]
    assert result.summary["verdict"] == "shared beyond vocabulary" and result.summary["n_baseline_copies"] == 20
    assert (cells["overlap_after"] > cells["baseline_overlap_bound"]).all()
    assert (cells["p_group"] == 1 / 201).all()  # the prompt-group null (context) at its floor
    # step (c): the twin shares every prompt grouping, so relabelled groups align as well as the emotions
    # up to float32 round-off, which counts as ties: never "emotion-specific" by round-off
    assert (cells["p_emotion"] == 1).all() and not cells["emotion_specific"].any()
    assert (cells["normalised_overlap"] > 0.95).all()
    assert (cells["ci_low"] > 0.9).all()
    assert result.summary["p_group_assignment"] == pytest.approx(1 / 6)  # the best an exact test can say with 3 emotions
    # "before" (identity on shared coordinates) knows nothing of the rotation: near chance
    assert (cells["overlap_before"] < 0.5).all()


def test_the_original_method_on_the_same_pair(twin_study, capsys):
    out, source, twin = twin_study
    table = _run(out, source, twin, "--map", "lstsq", "--fit-data", "neutral-last", "--metric", "legacy",
                 "--reference", "index", "--overwrite")  # replaces the default analysis of the same pair
    printed = capsys.readouterr().out
    with capsys.disabled():
        print("\nThe original method (lstsq on neutral last tokens, legacy metric) on the planted twin:")
        print(printed[: printed.index("\n", printed.index("\n mean") + 1)])
    assert (table["metric"] == "legacy").all()
    # Known answer: the twin is h' = s·Q·h with s = sqrt(96/64), so the recovered map is Q/s and the
    # mapped basis is U/s: the legacy metric gives ‖U Uᵀ‖²/(s² k²) = 1/(s² k) = 1/12, not 1 — it
    # measures the map's scale, not the (perfect) alignment.
    assert table["mean_overlap_after"].to_numpy() == pytest.approx(1 / (1.5 * 8), rel=1e-3)
