"""`--config run.toml`: every option of run/sweep from TOML, flags override, and the resolved config
each study writes reproduces it bit for bit."""

from __future__ import annotations

import argparse
import tomllib

import numpy as np
import pytest

from emoalign.cli.parser import build_parser, main
from emoalign.io.config_file import (
    apply_config,
    dump_toml,
    resolved_options,
    subcommand_parsers,
)
from emoalign.io.storage import load_arrays
from emoalign.study.config import options_from_file

FAST = ["--n-components", "3", "--max-samples-per-emotion", "10", "--permutations", "20", "--bootstrap", "50",
        "--pairing-permutations", "20", "--baseline-seeds", "3", "--device", "cpu", "--quiet"]


def _namespace(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


@pytest.mark.parametrize("argv", [
    ["run", "--source", "gpt2", "--target", "x/y", "--layers", "0-3", "--n-components", "4", "8", "--map", "lstsq",
     "--fit-data", "neutral-last", "--alpha", "0.01", "--control", "untrained", "--cache-dir", "c", "--overwrite",
     "--target-layers", "1", "2", "3", "4", "--mlflow", "--dtype", "float32"],
    ["sweep", "--targets", "a/b", "c/d", "--html", "--lang", "ja", "--layer-match", "depth", "--workers", "0",
     "--write-report", "r.md", "--profile", "extended", "--reference", "index"],
])
def test_every_option_round_trips_through_toml(argv):
    """Generic over argparse: the resolved options, written as TOML and read back as the defaults of
    a fresh parser, give the same namespace with nothing typed on the command line."""
    typed = _namespace(argv)
    command = argv[0]
    options = resolved_options(subcommand_parsers(build_parser())[command], typed)
    parser = build_parser()
    apply_config(subcommand_parsers(parser)[command], tomllib.loads(dump_toml(options)), "t.toml")
    assert vars(parser.parse_args([command])) == vars(typed)


def test_flags_override_the_file_and_bad_keys_are_one_line_errors(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('target = "x/y"\nn-components = [4]\nmap = "lstsq"\nlayers = "0-2"\nquiet = true\n')
    parser = build_parser()
    from emoalign.cli.parser import _preload_config

    _preload_config(parser, ["run", "--config", str(config), "--map", "cca"])
    args = parser.parse_args(["run", "--config", str(config), "--map", "cca"])
    assert (args.target, args.n_components, args.map_method, args.layers, args.quiet) == ("x/y", [4], "cca", ["0-2"], True)
    for body, message in [
        ("n_compnents = [4]\n", "unknown option 'n_compnents'"),
        ('map = "svd"\n', "'svd' is not one of"),
        ('quiet = "yes"\n', "expected true or false"),
        ("[run]\nk = 1\n", "use a flat list"),
        ("x = \n", "not a readable TOML file"),
    ]:
        config.write_text(body)
        assert main(["run", "--config", str(config), "--target", "x/y"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("emoalign: error: --config") and message in err and err.count("\n") == 1, err


def test_the_written_config_reproduces_the_run_bit_for_bit(tiny_model_path, tmp_path, capsys):
    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    first = tmp_path / "first"
    argv = ["run", "--source", str(source), "--target", str(target), "--layers", "0", "1", *FAST,
            "--results-dir", str(first / "results"), "--report-dir", str(first / "report")]
    assert main(argv) == 0
    pair = f"{source.name}_vs_{target.name}"
    config = first / "results" / "baseline" / "configs" / f"{pair}_run.toml"
    assert "run config" in capsys.readouterr().out
    options = tomllib.loads(config.read_text())
    assert options["target"] == str(target) and options["permutations"] == 20 and options["map"] == "ridge"
    again = tmp_path / "again"
    assert main(["run", "--config", str(config), "--results-dir", str(again / "results"),
                 "--report-dir", str(again / "report")]) == 0
    for folder, name in [("alignment", f"{pair}_token_based_full"), ("emotion_vectors", f"{source.name}_vectors_token_based"),
                         ("emotion_subspaces", f"{target.name}_subspaces")]:
        a_arrays, a_meta = load_arrays(first / "results" / "baseline" / folder / f"{name}.safetensors")
        b_arrays, b_meta = load_arrays(again / "results" / "baseline" / folder / f"{name}.safetensors")
        assert a_arrays.keys() == b_arrays.keys()
        for key in a_arrays:
            assert a_arrays[key].tobytes() == b_arrays[key].tobytes(), (folder, key)
        for key in ("cells", "layers", "summary", "config", "k_profile"):
            assert a_meta.get(key) == b_meta.get(key), (folder, key)
    statistics = f"baseline/statistics/{pair}_alignment_summary.csv"
    assert (first / "results" / statistics).read_bytes() == (again / "results" / statistics).read_bytes()
    rewritten = again / "results" / "baseline" / "configs" / f"{pair}_run.toml"
    # paths in a config are relative to the file: compared as the paths they name (the rerun read
    # the first study's cache, so it names the same cache)
    reread = options_from_file(tomllib.loads(rewritten.read_text()), rewritten.parent)
    assert {k: v for k, v in reread.items() if k not in ("results-dir", "report-dir", "config")} == \
        {k: v for k, v in options_from_file(options, config.parent).items() if k not in ("results-dir", "report-dir")}
    assert np.isfinite(load_arrays(again / "results" / "baseline" / "alignment" / f"{pair}_token_based_full.safetensors")[0]["cross_overlap"]).all()
