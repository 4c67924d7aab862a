"""`emoalign run / align / summarize` and the Python API on tiny random-weight models."""

import re

import numpy as np
import pandas as pd
import pytest

import emoalign.extract.cache as cache_module
import emoalign.study.pipeline as pipeline_module
from emoalign.analysis.alignment import AlignConfig, align_layer_pair
from emoalign.analysis.overlap import legacy_before
from emoalign.cli import main
from emoalign.core.results import AlignmentResult, load
from emoalign.study.api import run

FEW = 12  # prompts per label: enough for k=4, fast


@pytest.fixture(scope="module")
def study(tiny_model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    argv = ["run", "--source", str(source), "--large-model", str(target), "--layers", "0", "1", "2", "3",
            "--n-components", "4", "--max-samples-per-emotion", str(FEW), "--device", "cpu",
            "--baseline-seeds", "3", "--results-dir", str(out / "results"), "--report-dir", str(out / "report"),
            "--quiet"]
    assert main(argv) == 0
    return out, source, target, argv


def test_run_writes_every_artifact_of_the_original_layout(study, capsys):
    out, source, target, _ = study
    root = out / "results" / "baseline"
    pair = f"{source.name}_vs_{target.name}"
    for path in [
        root / "emotion_vectors" / f"{source.name}_vectors_token_based.safetensors",
        root / "emotion_vectors" / f"{target.name}_vectors_token_based.safetensors",
        root / "emotion_subspaces" / f"{target.name}_subspaces.safetensors",
        root / "alignment" / f"{pair}_token_based_full.safetensors",
        root / "statistics" / f"{pair}_alignment_summary.csv",
        out / "report" / f"{pair}_report.md",
    ]:
        assert path.is_file(), path
    csv = pd.read_csv(root / "statistics" / f"{pair}_alignment_summary.csv")
    assert list(csv.columns[:4]) == ["layer", "mean_overlap_before", "mean_overlap_after", "delta"]
    assert csv["layer"].tolist() == [-1, 0, 1, 2, 3]  # -1: the lexical floor (input embeddings), first
    np.testing.assert_allclose(csv["delta"], csv["mean_overlap_after"] - csv["mean_overlap_before"], atol=1e-5)
    assert ((csv["mean_overlap_after"] >= 0) & (csv["mean_overlap_after"] <= 1)).all()
    report = (out / "report" / f"{pair}_report.md").read_text()
    for heading in ["## Purpose", "## Artifacts", "## Command", "## Settings", "## Per-layer results"]:
        assert heading in report
    vectors = load(root / "emotion_vectors" / f"{source.name}_vectors_token_based.safetensors")
    assert vectors["arrays"]["layer2/anger/vectors"].shape == (FEW, 64)
    subspaces = load(root / "emotion_subspaces" / f"{target.name}_subspaces.safetensors")
    assert subspaces["arrays"]["bases"].shape == (4, 3, 4, 64)


def test_alignment_artifact_reloads_bit_identically(study, tmp_path):
    out, source, target, _ = study
    path = next((out / "results" / "baseline" / "alignment").glob("*.safetensors"))
    result = load(path)
    assert isinstance(result, AlignmentResult)
    again = load(result.save(tmp_path / "copy.safetensors"))
    pd.testing.assert_frame_equal(again.cells, result.cells, check_exact=True)
    pd.testing.assert_frame_equal(again.layers, result.layers, check_exact=True)
    for name, array in result.arrays.items():
        assert np.array_equal(again.arrays[name], array), name
    assert again.config == result.config and again.provenance == result.provenance


def test_align_with_another_k_and_map_loads_no_model(study, monkeypatch, capsys):
    out, source, target, argv = study

    def no_loading(*_a, **_k):
        raise AssertionError("a model was loaded by `emoalign align`")

    monkeypatch.setattr(cache_module, "load_model", no_loading)
    # depths and the cache file come from the cache itself: not even a config is read
    monkeypatch.setattr(cache_module, "load_config", no_loading)
    monkeypatch.setattr(pipeline_module, "load_config", no_loading)
    argv = ["align", *argv[1:]]
    argv[argv.index("--n-components") + 1] = "2"
    alignment = next((out / "results" / "baseline" / "alignment").glob("*.safetensors"))
    before = alignment.read_bytes()
    assert main([*argv, "--map", "procrustes"]) == 2  # another analysis: not silently replaced
    err = capsys.readouterr().err
    assert re.search(r"holds an analysis with other settings \(n_components 4 -> 2; map_method 'ridge' -> 'procrustes'", err)
    assert alignment.read_bytes() == before
    assert main([*argv, "--map", "procrustes", "--overwrite"]) == 0
    printed = capsys.readouterr().out
    assert "layer" in printed and "before" in printed
    csv = next((out / "results" / "baseline" / "statistics").glob("*.csv"))
    table = pd.read_csv(csv)
    assert set(table["map"]) == {"procrustes"}
    assert np.allclose(table["chance"], 2 / 64)


def test_align_without_cache_is_a_clear_error(tiny_model_path, tmp_path, capsys):
    argv = ["align", "--source", str(tiny_model_path("gpt2")), "--target", str(tiny_model_path("llama")),
            "--layers", "0", "--results-dir", str(tmp_path), "--quiet"]
    assert main(argv) == 2
    assert "no cached activations" in capsys.readouterr().err


def test_summarize_with_the_original_flags(study, tmp_path, capsys):
    out, source, target, _ = study
    path = next((out / "results" / "baseline" / "alignment").glob("*.safetensors"))
    argv = ["summarize", "--profile", "baseline", "--large-model", target.name, "--alignment-path", str(path),
            "--output-csv", str(tmp_path / "s.csv"), "--write-report", str(tmp_path / "r.md")]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table.columns[:4]) == ["layer", "mean_overlap_before", "mean_overlap_after", "delta"]
    first = re.search(r"^\s+0\s+0\s+([\d.]+)\s+([\d.]+)", printed, re.M)
    layer0 = table[table["layer"] == 0].iloc[0]  # row 0 is the lexical floor (layer -1)
    assert float(first.group(2)) == pytest.approx(layer0["mean_overlap_after"], abs=1e-6)
    assert "## Per-layer results" in (tmp_path / "r.md").read_text()


def test_legacy_metric_is_the_original_formula(study, tiny_model_path, tmp_path):
    out, source, target, _ = study
    result = run(str(source), str(target), layers=[1], n_components=4, max_samples_per_emotion=FEW,
                 map_method="lstsq", fit_data="neutral-last", metric="legacy", reference="index",
                 baseline_seeds=3, device="cpu", results_dir=out / "results", write=False)
    cells = result.cell_table()
    bases_s, bases_t = result.arrays["source_bases"][0], result.arrays["target_bases"][0]
    mapped = result.arrays["mapped_target_bases"][0]
    for i, row in cells.iterrows():
        assert row["legacy_before"] == legacy_before(bases_s[i], bases_t[i])
        U, V = bases_s[i], mapped[i]
        assert row["legacy_after"] == pytest.approx(min(1.0, float(np.mean((U @ V.T) ** 2))), rel=1e-12)
    assert result.layer_table()["mean_overlap_after"][0] == pytest.approx(cells["legacy_after"].mean())
    assert result.layer_table()["metric"][0] == "legacy"


def test_map_fitting_touches_no_emotion_prompt(study, tiny_model_path):
    out, source, target, _ = study
    from emoalign.extract.activations import ActivationSet

    cached = sorted((out / "results" / "cache").glob("*.safetensors"))
    sets = [ActivationSet.load(p) for p in cached]
    src = next(s for s in sets if s.model["name"] == source.name and 1 in s.layers)
    tgt = next(s for s in sets if s.model["name"] == target.name and 1 in s.layers)
    config = AlignConfig(n_components=4)
    before = align_layer_pair(src, tgt, 1, 1, config)
    rng = np.random.default_rng(0)
    emotion_rows = np.asarray(tgt.labels) != tgt.reference_label
    tgt.prompt_acts[:, emotion_rows] = rng.normal(size=tgt.prompt_acts[:, emotion_rows].shape)
    after = align_layer_pair(src, tgt, 1, 1, config)
    assert np.array_equal(before.linear_map.weight, after.linear_map.weight)
    assert not np.array_equal(before.cross_overlap, after.cross_overlap)


def test_offline_preset_points_to_local_folders_and_the_demo(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(["run", "--large-model", "llama3_8b", "--results-dir", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "emoalign demo" in err[0] and "local model folder" in err[0] and "--model" not in err[0]
    assert not (tmp_path / "r").exists()


def test_python_api(study, tmp_path):
    import emoalign

    out, source, target, _ = study
    result = emoalign.run(str(source), str(target), layers=[0, 3], n_components=4, max_samples_per_emotion=FEW,
                          baseline_seeds=3, device="cpu", results_dir=out / "results", write=False)
    table = result.layer_table()
    assert table["layer"].tolist() == [0, 3]
    assert result.arrays["principal_angles_degrees"].shape == (2, 3, 4)
    path = result.save(tmp_path)
    assert path.name == f"{source.name}_vs_{target.name}_token_based_full.safetensors"
    pd.testing.assert_frame_equal(emoalign.load(path).layer_table(), table)


def test_k_larger_than_the_samples_is_one_line_before_any_model_runs(study, capsys):
    out, source, target, argv = study
    argv = list(argv)
    argv[argv.index("--n-components") + 1] = "20"
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(r"--n-components 20 exceeds the 12 prompts of 'gratitude'", err[0]), err
