"""The demo report's Commands section: a real command line per input, each one the CLI accepts."""

from __future__ import annotations

import shlex
from pathlib import Path

from emoalign.analysis.alignment import AlignConfig
from emoalign.cli.parser import build_parser
from emoalign.study.demo import (
    REAL_PAIRS,
    comparison_command,
    demo_part_command,
    pair_run_command,
)


def parsed(line: str):
    """``line`` (one command, comment lines skipped) parsed by the ``emoalign`` argument parser."""
    command = next(part for part in line.splitlines() if not part.startswith("#"))
    words = shlex.split(command)
    assert words[0] == "emoalign"
    return build_parser().parse_args(words[1:])


def test_each_real_pair_gets_the_emoalign_run_line_that_reproduces_it():
    config = AlignConfig(n_components=8, layer_match="depth", seed=3, n_permutations=50, n_bootstrap=100)
    for pair in REAL_PAIRS.values():
        args = parsed(pair_run_command(pair, config, 70))
        assert args.command == "run" and (args.source, args.target) == (pair.source, pair.target)
        assert [int(x) for x in args.layers] == list(pair.source_layers) and args.layer_match == "depth"
        assert (args.n_components, args.max_samples_per_emotion, args.baseline_seeds) == ([8], 70, pair.baseline_seeds)
        assert (args.n_permutations, args.n_bootstrap, args.seed) == (50, 100, 3)


def test_the_parts_no_run_flag_builds_get_their_demo_line_and_the_report_its_compare_line(tmp_path):
    config = AlignConfig(n_components=8, layer_match="depth", seed=0)
    for part in ("decoder", "encoder", "twin"):
        args = parsed(demo_part_command(part, config, 70, None, Path("results")))
        assert args.command == "demo" and args.parts == [part] and args.baseline_seeds is None
    assert parsed(demo_part_command("twin", config, 40, 3, Path("r"))).baseline_seeds == 3
    line = comparison_command(["a.safetensors", "b.safetensors"], tmp_path / "r.ja.md", "ja", True)
    args = parsed(line)
    assert args.command == "compare" and [str(p) for p in args.alignments] == ["a.safetensors", "b.safetensors"]
    assert args.lang == "ja" and args.html and args.write_report == tmp_path / "r.ja.md"
