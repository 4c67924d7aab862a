"""One study config: every CLI option is a field of the study or its runtime, TOML round-trips, and
the Python API takes the config plus overrides by the same names."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

import emoalign
from emoalign.cli import build_parser
from emoalign.cli.commands import study_from_args
from emoalign.core.errors import EmoalignError
from emoalign.io.config_file import dump_toml, subcommand_parsers
from emoalign.study import api, runner
from emoalign.study.config import (
    CLI_ONLY,
    RUNTIME_FIELDS,
    STUDY_FIELDS,
    Runtime,
    StudyConfig,
    options_for_file,
    read_study_config,
)

STUDY_COMMANDS = ("run", "align", "steer", "sweep", "extract")
#: fields with no flag: how Python receives them (checked below to be exactly these)
PYTHON_ONLY = {"write": "write=False writes nothing (the CLI always writes)",
               "command": "the recorded command line (the CLI records its own)"}


def _dests(command: str) -> set[str]:
    parser = subcommand_parsers(build_parser())[command]
    return {action.dest for action in parser._actions  # noqa: SLF001 - argparse lists its options only here
            if action.option_strings and action.dest not in ("help", "version")}


@pytest.mark.parametrize("command", STUDY_COMMANDS)
def test_every_option_of_a_study_command_is_a_field_or_documented_cli_only(command):
    unknown = _dests(command) - STUDY_FIELDS - RUNTIME_FIELDS - set(CLI_ONLY)
    assert unknown == set(), f"`emoalign {command}` options with no StudyConfig/Runtime field: {sorted(unknown)}"


def test_every_field_is_reachable_from_the_command_line_and_the_cli_only_list_is_not_stale():
    run_options = _dests("run")
    assert (STUDY_FIELDS | RUNTIME_FIELDS) - run_options == set(PYTHON_ONLY)
    every_option = set().union(*(_dests(command) for command in STUDY_COMMANDS))
    assert set(CLI_ONLY) - every_option == set()


def test_the_command_line_and_the_api_build_the_same_config():
    argv = ["run", "--source", "a", "--target", "b", "--layers", "0-2", "-k", "4", "8", "--map", "lstsq",
            "--permutations", "40", "--bootstrap", "200", "--pairing-permutations", "20", "--control", "untrained",
            "--heldout-fraction", "0.3", "--k-profile", "2", "4", "--dtype", "float32", "--workers", "0",
            "--study-name", "mine", "--bos", "never"]
    study, runtime = study_from_args(build_parser().parse_args(argv))
    assert study == StudyConfig(
        source="a", target="b", layers=range(3), n_components=(4, 8), map_method="lstsq", n_permutations=40,
        n_bootstrap=200, n_pairing_permutations=20, control="untrained", heldout_fraction=0.3, k_profile=(2, 4),
        dtype="float32", study_name="mine", bos="never",
    )
    assert runtime.workers == 0 and runtime.command.startswith("emoalign ")
    assert study.align_config(8).heldout_fraction == 0.3 and study.align_config(8).k_profile == (2, 4)


def test_a_config_round_trips_through_toml(tmp_path):
    study = StudyConfig(source="gpt2", target="org/x", layers=(0, 5), target_layers=(1, 7),
                        n_components=(4, 16), control=("untrained", "random"), revision="abc", dtype="bfloat16",
                        max_samples_per_emotion=30, lexicon=tmp_path / "lex.json", alpha=0.02, n_permutations=200,
                        results_dir=tmp_path / "out", cache_dir=tmp_path / "c", report_dir=tmp_path / "r",
                        overwrite=True, untrained_target=False, k_folder=True)
    runtime = Runtime(workers=3, executor="ray", ray_address="auto", threads=2, mlflow="mlruns", quiet=True)
    path = tmp_path / "configs" / "run.toml"
    path.parent.mkdir()
    options = options_for_file({**study.to_options(), **runtime.to_options()}, path.parent)
    assert options["results-dir"] == "../out"  # relative to the file: it reads the same from anywhere
    path.write_text(dump_toml(options))
    again, again_runtime = read_study_config(path)
    assert again == study and again_runtime == runtime
    # the command line reads the same file to the same config
    cli_study, cli_runtime = _cli_from_file(path)
    assert cli_study == study and dataclasses.replace(cli_runtime, command=None) == runtime


def _cli_from_file(path: Path):
    from emoalign.cli.parser import _preload_config

    parser = build_parser()
    argv = ["run", "--config", str(path)]
    _preload_config(parser, argv)
    return study_from_args(parser.parse_args(argv))


def test_an_unknown_key_is_one_error_naming_it(tmp_path):
    with pytest.raises(EmoalignError, match="unknown option 'n_compnents'"):
        emoalign.run("a", "b", n_compnents=4)
    path = tmp_path / "bad.toml"
    path.write_text('source = "a"\ntarget = "b"\nmapp = "ridge"\n')
    with pytest.raises(EmoalignError, match=r"--config .*bad.toml: unknown option 'mapp'"):
        read_study_config(path)
    with pytest.raises(EmoalignError, match="--control nope: unknown"):
        StudyConfig(control="nope")
    with pytest.raises(EmoalignError, match="--pairing-permutations 10"):
        StudyConfig(n_pairing_permutations=10)  # every k's analysis settings are checked on construction


def test_run_takes_a_config_plus_overrides_and_a_toml_path(monkeypatch, tmp_path):
    seen = []

    def fake_run_studies(config, runtime, **kwargs):
        seen.append((config, runtime))
        return []

    monkeypatch.setattr(api, "run_studies", fake_run_studies)
    monkeypatch.setattr(api, "results_of", lambda studies: studies)
    base = StudyConfig(source="gpt2", target="qwen3_8b", layers=range(12), n_components=8)
    api.run(config=base, n_components=4, workers=2, revision="main")
    config, runtime = seen[-1]
    assert config == dataclasses.replace(base, n_components=(4,), revision="main") and runtime.workers == 2
    api.run("pythia_160m", config=base, map="lstsq", permutations=0)  # long flags are accepted too
    assert seen[-1][0].source == "pythia_160m" and seen[-1][0].map_method == "lstsq"
    assert seen[-1][0].n_permutations == 0
    path = tmp_path / "run.toml"
    path.write_text(dump_toml({**base.to_options(), "workers": 3}))
    api.run(config=path, seed=7)
    # a relative path in a config file is read against the file's folder
    assert seen[-1][0] == dataclasses.replace(base, seed=7, results_dir=tmp_path / "results",
                                              report_dir=tmp_path / "docs" / "report")
    assert seen[-1][1].workers == 3


def test_the_map_methods_named_by_the_settings_are_the_maps_that_exist():
    from emoalign.analysis.maps import MAP_METHODS
    from emoalign.core.settings import MAP_METHODS as NAMED

    assert NAMED == MAP_METHODS


def test_python_run_writes_its_resolved_config_and_reproduces_from_it(tiny_model_path, tmp_path):
    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    fast = dict(layers=[0, 1], n_components=3, max_samples_per_emotion=8, n_permutations=20, n_bootstrap=50,
                n_pairing_permutations=20, baseline_seeds=3, quiet=True)
    first = emoalign.run(str(source), str(target), results_dir=tmp_path / "a", report_dir=tmp_path / "ra", **fast)
    written = tmp_path / "a" / "baseline" / "configs" / f"{first.pair_name}_run.toml"
    study, runtime = read_study_config(written)
    assert study.n_components == (3,) and study.layers == (0, 1) and runtime.quiet is True
    again = emoalign.run(config=written, results_dir=tmp_path / "b", report_dir=tmp_path / "rb",
                         cache_dir=tmp_path / "a" / "cache")
    assert (again.cells["overlap_after"].to_numpy() == first.cells["overlap_after"].to_numpy()).all()
    assert again.summary["verdict"] == first.summary["verdict"]


def test_the_runner_is_what_every_entry_point_calls():
    """The CLI's study commands, the API and the demo's real pairs reach the same runner function."""
    import inspect

    from emoalign.cli import commands
    from emoalign.study import demo

    for module in (commands, api, demo):
        assert "run_studies(" in inspect.getsource(module), module.__name__
    assert runner.run_studies is api.run_studies


def test_a_namespace_without_study_options_gives_the_defaults():
    study, runtime = study_from_args(argparse.Namespace(target="llama3_8b"))
    assert study == StudyConfig() and runtime.workers == 1


def test_the_study_defaults_are_the_analysis_defaults():
    """StudyConfig repeats AlignConfig's fields (flat, as the command line has them): same defaults."""
    from emoalign.core.settings import AlignConfig

    study_defaults = {f.name: f.default for f in dataclasses.fields(StudyConfig)}
    for item in dataclasses.fields(AlignConfig):
        if item.name == "n_components":
            assert study_defaults["n_components"] == (item.default,)
        else:
            assert study_defaults[item.name] == item.default, item.name
    assert StudyConfig().align_config() == AlignConfig()
