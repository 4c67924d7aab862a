"""The causal transfer stage end to end on tiny models: the planted twin's known answer, the
command line (`steer`, and `run`'s section on decoders), encoders skipped with one line, bad input."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

import emoalign
from emoalign.cli import main
from emoalign.core.steering import CELL_COLUMNS, SteeringResult
from emoalign.synthetic.twin import widen_rmsnorm_model

# small and fast: 2 layer pairs, 8 held-out prompts, the fewest null draws that reach p < 0.05
FAST = {"max_samples_per_emotion": 30, "steer_prompts": 8, "steer_random": 19, "steer_shuffles": 19,
        "n_bootstrap": 200, "dtype": "float32", "device": "cpu", "quiet": True}
FAST_FLAGS = ["--max-samples-per-emotion", "30", "--steer-prompts", "8", "--steer-random", "19",
              "--steer-shuffles", "19", "--bootstrap", "200", "--dtype", "float32", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def twin_pair(tiny_model_path, tmp_path_factory):
    source = tiny_model_path("llama")
    twin = widen_rmsnorm_model(source, tmp_path_factory.mktemp("steer-twin"), width=96, seed=3)
    return source, twin


def test_a_planted_twin_is_steered_by_the_transferred_vector_exactly_as_by_its_own(twin_pair, tmp_path):
    source, twin = twin_pair
    result = emoalign.steer(source, twin, layers=[1, 2], write=False, cache_dir=tmp_path / "cache", **FAST)
    assert isinstance(result, SteeringResult)
    cells = result.cells
    assert list(cells.columns) == list(CELL_COLUMNS) and len(cells) == 2 * 3
    # the twin's residual stream is s·Q·h: its own vector is the source's carried exactly
    np.testing.assert_allclose(cells["effect_transferred"], cells["effect_own"], rtol=0.02, atol=1e-4)
    defined = cells["efficiency"].dropna()  # where the own vector raises its emotion's mass at all
    assert len(defined) >= 2
    np.testing.assert_allclose(defined, 1.0, atol=0.02)
    assert cells.loc[cells["effect_own"] <= 0, "efficiency"].isna().all()
    assert (result.layers["map_r2"] > 0.99).all() and (result.layers["cosine_own_transferred"] > 0.99).all()


def test_steer_command_writes_the_artifact_csv_and_reports(twin_pair, tmp_path, capsys):
    source, twin = twin_pair
    code = main(["steer", "--source", str(source), "--target", str(twin), "--layers", "1", "2",
                 "--results-dir", str(tmp_path / "r"), "--report-dir", str(tmp_path / "rep"), "--generate", "2",
                 *FAST_FLAGS])
    assert code == 0
    printed = capsys.readouterr().out
    assert "efficiency" in printed.lower()
    pair = f"{source.name}_to_{twin.name}"
    artifact = tmp_path / "r" / "baseline" / "steering" / f"{pair}_steering.safetensors"
    loaded = SteeringResult.load(artifact)
    assert len(loaded.cells) == 6 and loaded.continuations
    assert {c["condition"] for c in loaded.continuations} == {"base", "own", "transferred"}
    csv = (tmp_path / "r" / "baseline" / "statistics" / f"{pair}_steering.csv").read_text()
    assert csv.splitlines()[0].split(",")[:3] == ["layer", "target_layer", "emotion"]
    for suffix in (".md", ".ja.md"):
        report = (tmp_path / "rep" / f"{pair}_steering_report{suffix}").read_text()
        assert twin.name in report and "|" in report


def test_run_on_decoders_adds_the_causal_section_and_steer_off_leaves_it_out(tiny_model_path, tmp_path):
    source, target = tiny_model_path("gpt2"), tiny_model_path("qwen2", seed=1)
    base = ["run", "--source", str(source), "--target", str(target), "--layers", "1", "2", "-k", "2",
            "--permutations", "20", "--pairing-permutations", "0", "--baseline-seeds", "0",
            "--results-dir", str(tmp_path / "r"), *FAST_FLAGS]
    assert main([*base, "--report-dir", str(tmp_path / "on")]) == 0
    pair = f"{source.name}_vs_{target.name}"
    steering = tmp_path / "r" / "baseline" / "steering" / f"{source.name}_to_{target.name}_steering.safetensors"
    assert steering.is_file()
    english = (tmp_path / "on" / f"{pair}_report.md").read_text()
    japanese = (tmp_path / "on" / f"{pair}_report.ja.md").read_text()
    assert "Causal test" in english and "因果" in japanese
    steering.unlink()
    assert main([*base, "--report-dir", str(tmp_path / "off"), "--steer", "off", "--overwrite"]) == 0
    assert not steering.exists()
    assert "Causal test" not in (tmp_path / "off" / f"{pair}_report.md").read_text()


def test_an_encoder_target_is_skipped_with_one_line(tiny_model_path, tmp_path, capsys):
    source, target = tiny_model_path("gpt2"), tiny_model_path("bert")
    reason = emoalign.steer(source, target, layers=[1], write=False, cache_dir=tmp_path / "c", **FAST)
    assert isinstance(reason, str) and "encoder" in reason and "next-token" in reason and "\n" not in reason
    assert main(["steer", "--source", str(source), "--target", str(target), "--layers", "1",
                 "--cache-dir", str(tmp_path / "c"), "--results-dir", str(tmp_path / "r"), *FAST_FLAGS]) == 0
    assert "causal test skipped" in capsys.readouterr().out


@pytest.mark.parametrize(("flags", "message"), [
    (["--steer-random", "5"], "--steer-random: at least 19"),
    (["--steer-shuffles", "3"], "--steer-shuffles: at least 19"),
    (["--steer-scales", "0.5", "-1"], "--steer-scales: positive"),
    (["--steer-prompts", "29"], "--steer-prompts 29"),
])
def test_bad_steering_options_are_one_line_errors(twin_pair, tmp_path, flags, message):
    source, twin = twin_pair
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(["steer", "--source", str(source), "--target", str(twin), "--layers", "1",
                     "--results-dir", str(tmp_path / "r"), *FAST_FLAGS, *flags])
    assert code == 2
    lines = stderr.getvalue().strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_the_demo_steers_a_real_pair_in_its_cheaper_direction_and_shows_the_other_when_written(tiny_model_path,
                                                                                               tmp_path):
    from emoalign.report.document import to_markdown
    from emoalign.study.config import Runtime, StudyConfig
    from emoalign.study.demo import DemoOutcome, demo_preface, other_direction, steer_cheaper_direction
    from emoalign.study.runner import run_studies

    small, large = tiny_model_path("gpt2"), tiny_model_path("llama", seed=2)
    config = StudyConfig(source=str(small), target=str(large), layers=(1, 2), n_components=2, n_permutations=20,
                         n_pairing_permutations=0, baseline_seeds=0, results_dir=tmp_path / "r",
                         report_dir=tmp_path / "rep", study_name="demo", steer="off", steer_prompts=8,
                         steer_random=19, steer_shuffles=19, n_bootstrap=200, max_samples_per_emotion=30,
                         dtype="float32", device="cpu")
    study = run_studies(config, Runtime(quiet=True))[0]
    assert study.steering is None  # --steer off: the demo steers itself
    cheaper = steer_cheaper_direction(study, config, quiet=True)
    assert (cheaper.source["name"], cheaper.target["name"]) == (large.name, small.name)  # the larger steers the smaller
    assert study.layout.steering(cheaper.pair_name).is_file()
    outcome = DemoOutcome()
    outcome.add(study.result, "real", study.paths)
    assert other_direction(outcome, study.layout) == []  # the study's direction was not run
    emoalign.steer(config=config, steer="on", write=True, quiet=True)  # `emoalign steer` in the study's direction
    (found,) = other_direction(outcome, study.layout)
    assert (found.source["name"], found.target["name"]) == (small.name, large.name)
    outcome.steering = [cheaper, found, "mpnet-base is an encoder (MPNetModel) with no next-token head"]
    for lang, heading in (("en", "Causal test"), ("ja", "因果検証")):
        text = to_markdown(demo_preface(outcome, lang))
        assert text.count(heading) >= 3 and "MPNetModel" in text
