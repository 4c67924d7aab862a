"""Re-analysis from what a study holds: `align STUDY -k 4` in one attempt, a saved config replayed
from its own folder, k-variants side by side, and `compare` over them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import emoalign.extract.cache as cache_module
from emoalign.cli import main
from emoalign.core.results import load

# non-default statistics: a re-analysis that forgot them would not find the copies or would differ
STATS = ["--permutations", "40", "--bootstrap", "60", "--pairing-permutations", "20", "--baseline-seeds", "3",
         "--max-samples-per-emotion", "12", "--layers", "0", "1", "--quiet"]


def _no_model(*_args, **_kwargs):
    raise AssertionError("a model was loaded: the re-analysis should read every activation from the cache")


@pytest.fixture(scope="module")
def study(tiny_model_path, tmp_path_factory):
    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    root = tmp_path_factory.mktemp("reanalysis")
    argv = ["run", "--source", str(source), "--target", str(target), *STATS,
            "--results-dir", str(root / "results"), "--report-dir", str(root / "report")]
    assert main(argv) == 0
    return root, f"{source.name}_vs_{target.name}"


def test_align_a_study_at_another_k_in_one_attempt(study, monkeypatch, tmp_path):
    root, pair = study
    monkeypatch.setattr(cache_module, "load_model", _no_model)
    # the study's folder, with another results folder: the recorded cache and statistics are reused
    assert main(["align", str(root / "results" / "baseline"), "-k", "4", "--results-dir", str(tmp_path / "r"),
                 "--report-dir", str(tmp_path / "d"), "--quiet"]) == 0
    again = load(tmp_path / "r" / "baseline" / "k4" / "alignment" / f"{pair}_token_based_full.safetensors")
    assert again.config["n_components"] == 4
    assert (again.config["n_permutations"], again.config["n_bootstrap"], again.config["baseline_seeds"]) == (40, 60, 3)
    # the artifact itself, into the study's own tree: k = 4 lives beside the k = 8 study it re-analyses
    artifact = root / "results" / "baseline" / "alignment" / f"{pair}_token_based_full.safetensors"
    assert main(["align", str(artifact), "-k", "4"]) == 0
    assert (root / "results" / "baseline" / "k4" / "alignment" / artifact.name).is_file()
    assert load(artifact).config["n_components"] == 8  # untouched


def test_a_saved_config_replays_from_its_own_folder(study, monkeypatch):
    root, pair = study
    configs = root / "results" / "baseline" / "configs"
    written = tomllib.loads((configs / f"{pair}_run.toml").read_text())
    assert written["results-dir"] == "../.." and written["cache-dir"] == "../../cache"  # relative to the file
    before = sorted(p for p in root.rglob("*") if p.is_file())
    monkeypatch.chdir(configs)
    monkeypatch.setattr(cache_module, "load_model", _no_model)
    assert main(["run", "--config", f"{pair}_run.toml"]) == 0
    assert not (configs / "results").exists() and not (configs / "docs").exists()  # no new tree beside it
    assert sorted(p for p in root.rglob("*") if p.is_file()) == before  # the same files, rewritten in place


def test_compare_draws_a_k_sweep_of_one_pair(study, tmp_path):
    root, pair = study
    assert main(["align", str(root / "results" / "baseline"), "-k", "2", "--quiet"]) == 0
    report = tmp_path / "k.md"
    assert main(["compare", str(root / "results" / "baseline"), "--write-report", str(report)]) == 0
    figures = [p.name for p in (tmp_path / "k_figures").glob("*.png")]
    assert any("k_sweep" in name for name in figures), figures


def test_compare_refuses_the_same_file_twice_and_other_prompts(study, tmp_path, capsys):
    root, pair = study
    artifact = root / "results" / "baseline" / "alignment" / f"{pair}_token_based_full.safetensors"
    assert main(["compare", str(artifact), str(artifact), "--write-report", str(tmp_path / "r.md")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "given twice" in err[0]
    assert not (tmp_path / "r.md").exists()


def test_align_without_a_recorded_config_and_a_second_config_are_one_line_each(study, tmp_path, capsys):
    root, _ = study
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["align", str(empty), "-k", "4"]) == 2
    assert "no recorded config" in capsys.readouterr().err
    config = next((root / "results" / "baseline" / "configs").glob("*_run.toml"))
    assert main(["run", "--config", str(config), "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--config given 2 times" in err[0]


def test_the_relative_paths_of_a_config_file_are_read_against_it(tmp_path):
    from emoalign.study.config import options_for_file, options_from_file

    folder = tmp_path / "results" / "baseline" / "configs"
    options = {"results-dir": str(tmp_path / "results"), "dataset": str(tmp_path / "data.jsonl"), "target": "gpt2",
               "source": str(tmp_path)}
    written = options_for_file(options, folder)
    assert written["results-dir"] == "../.." and written["dataset"] == "../../../data.jsonl"
    assert written["target"] == "gpt2" and written["source"] == str(tmp_path)  # a preset stays, a folder is absolute
    read = options_from_file(written, folder)
    assert Path(read["results-dir"]) == tmp_path / "results" and Path(read["dataset"]) == tmp_path / "data.jsonl"


def test_a_failing_default_source_says_it_was_the_default(tiny_model_path, tmp_path, capsys):
    target = tiny_model_path("llama")
    capsys.readouterr()
    argv = ["run", "--target", str(target), "--layers", "0", "--results-dir", str(tmp_path / "r"),
            "--report-dir", str(tmp_path / "d"), "--quiet", "--max-samples-per-emotion", "12"]
    assert main(argv) == 2  # gpt2, the default source, is not in this machine's hub cache
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--source defaults to gpt2" in err[0], err


def test_a_sweep_refuses_one_folder_spelled_two_ways(tmp_path, monkeypatch):
    from emoalign.core.errors import EmoalignError
    from emoalign.study.sweep import check_targets

    (tmp_path / "model").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EmoalignError, match=r"--targets: \./model given more than once \(the same as model\)"):
        check_targets(["model", "./model"])
    assert check_targets(["gpt2", "model"]) == ["gpt2", "model"]
