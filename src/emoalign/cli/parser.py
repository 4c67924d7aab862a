"""Command line: parses arguments and delegates; no science here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from emoalign import __version__
from emoalign.core.errors import EmoalignError
from emoalign.core.log import LOG_LEVELS, set_level
from emoalign.core.text import printable
from emoalign.io.config_file import (
    CONFIG_COMMANDS,
    apply_config,
    read_config,
    subcommand_parsers,
)


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    source = group.add_mutually_exclusive_group()
    source.add_argument("--profile", default="baseline", help="built-in prompt set: baseline (70/label) or extended (100/label)")
    source.add_argument("--dataset", type=Path, help="user prompts: a JSONL file or a folder of <label>_prompts.json")
    group.add_argument("--reference-label", default="neutral", help="label of the reference (neutral) prompts")
    group.add_argument("--lexicon", type=Path, help="JSON {label: [word regex, ...]} locating emotion words")
    group.add_argument("--max-samples-per-emotion", type=int, metavar="N", help="keep the first N prompts of each label")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model loading")
    group.add_argument("--layers", nargs="+", default=["all"], help="'0 1 2', '0-11' or 'all' (default)")
    group.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N, mps")
    group.add_argument("--dtype", default="auto", help="auto (float32 < 1B params, else bfloat16), float32, bfloat16, float16")
    group.add_argument("--revision", help="hub revision (branch, tag or commit)")
    group.add_argument("--device-map", choices=["auto"], help="shard a large model across GPUs (needs accelerate)")
    group.add_argument("--trust-remote-code", action="store_true", help="allow model code from the hub (off by default)")
    group.add_argument("--allow-pickle-weights", action="store_true",
                       help="also load weights stored as pickle (.bin) files, which can run code (off: safetensors only)")
    group.add_argument("--batch-size", type=int, default=16)
    group.add_argument("--threads", type=int, metavar="N",
                       help="torch threads for the forward passes (default: torch's choice; 1 is often faster on a "
                            "loaded shared machine)")
    group.add_argument("--position-policy", choices=["all", "first", "last"], default="all",
                       help="sub-tokens of a multi-token emotion word: all (mean), first or last")
    group.add_argument("--bos", choices=["auto", "always", "never"], default="auto",
                       help="start token before every prompt, so no readout is on the attention sink at position 0: "
                            "auto (default: prepended where the tokenizer adds none), always (the same, said "
                            "explicitly; never a second), never (the prompts as tokenized, the original study)")


def _add_analysis_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("analysis")
    group.add_argument("--n-components", "-k", type=int, nargs="+", default=[8],
                       help="PCA subspace dimension k (default 8); several values run a k-sweep")
    group.add_argument("--map", dest="map_method", choices=["lstsq", "ridge", "procrustes", "cca"], default="ridge",
                       help="target->source map: ridge (default, lambda by CV), lstsq (the original), procrustes, cca")
    group.add_argument("--fit-data", choices=["neutral-words", "neutral-last"], default="neutral-words",
                       help="map fit pairs: every word of the neutral prompts (default) or their last token (the original)")
    group.add_argument("--metric", choices=["bounded", "legacy"], default="bounded",
                       help="bounded overlap in [0,1] (default) or the original study's legacy metric")
    group.add_argument("--reference", choices=["mean", "index"], default="mean",
                       help="emotion vector = activation minus the neutral mean (default) or neutral prompt i (the original)")
    group.add_argument("--layer-match", choices=["index", "depth", "grid"], default="index",
                       help="pair equal layer numbers (default, the original), equal relative depth, or every pair")
    group.add_argument("--target-layers", nargs="+", help="explicit target layers (pair positionally with --layers)")
    group.add_argument("--seed", type=int, default=0, help="seed of permutations, bootstraps, CV folds, controls")
    stats = parser.add_argument_group("statistics")
    stats.add_argument("--permutations", dest="n_permutations", type=int, default=200,
                       help="label permutations per cell for the prompt-group and emotion nulls "
                            "(default 200; 0 turns all statistics off)")
    stats.add_argument("--bootstrap", dest="n_bootstrap", type=int, default=1000,
                       help="bootstrap resamples for the BCa 95%% CI (default 1000)")
    stats.add_argument("--pairing-permutations", dest="n_pairing_permutations", type=int, default=50,
                       help="shuffles of the map's fit pairs for the pairing null (default 50; 0 = off)")
    stats.add_argument("--alpha", type=float, default=0.05, help="BH q threshold of the verdicts (default 0.05)")
    stats.add_argument("--baseline-seeds", type=int, default=20, metavar="N",
                       help="random-weight copies of both models for the vocabulary baseline of the verdict "
                            "(default 20; 0 = off, with a warning)")
    stats.add_argument("--workers", type=int, default=1, metavar="N",
                       help="processes for the statistics of the layer pairs and the random copies (default 1; "
                            "0 = one per CPU core; with --executor ray and no --ray-address: the CPUs of the local "
                            "Ray instance); the numbers are identical for every N")
    stats.add_argument("--control", nargs="+", choices=["untrained", "random"],
                       help="controls studied after the pair, judged against the same copies: untrained (the target's "
                            "architecture with random weights, seeded --seed + 1), random (both models with random "
                            "weights, seeds --seed + 1 and + 2)")
    stats.add_argument("--untrained-target", action="store_true",
                       help="study only the untrained control of the target, not the pair")
    stats.add_argument("--heldout-fraction", type=float, default=0.2,
                       help="share of the map's fit pairs held out for its R² (default 0.2)")
    stats.add_argument("--k-profile", type=int, nargs="+", default=[2, 4, 8, 16], metavar="K",
                       help="the k of the verdict-vs-k profile (default 2 4 8 16; those above the rank are dropped)")
    group.add_argument("--report-dir", type=Path, default=Path("docs/report"), help="Markdown reports (default docs/report)")
    group.add_argument("--study-name", metavar="NAME",
                       help="the study's folder under --results-dir (default: the prompt set's name)")
    group.add_argument("--k-folder", action="store_true",
                       help="write each k into <study>/k<k>/ (always in a k-sweep; `align STUDY` at another k than "
                            "the study's does it for you)")


def _add_steering_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("causal test (decoders): steer the target with the source's vectors")
    group.add_argument("--steer", choices=["auto", "on", "off"], default="auto",
                       help="carry the source's emotion vectors through a source->target map and steer the target "
                            "with them beside its own vectors, random directions and shuffled maps: auto (default: "
                            "when the target has a next-token head; an encoder is skipped with one line), on, off. "
                            "`align` loads no model and never steers")
    group.add_argument("--steer-scales", type=float, nargs="+", default=[0.05, 0.1, 0.2], metavar="F",
                       help="vector norms as fractions of the target's median residual norm at the layer (default "
                            "0.05 0.1 0.2, about a natural emotion vector's size; the middle one is the test scale)")
    group.add_argument("--steer-prompts", type=int, default=16, metavar="N",
                       help="neutral prompts held out from the map's fit to steer on (default 16)")
    group.add_argument("--steer-random", type=int, default=20, metavar="N",
                       help="random directions of the same norm: the null (default 20, at least 19)")
    group.add_argument("--steer-shuffles", type=int, default=20, metavar="N",
                       help="maps fitted on shuffled pairs: the pairing null (default 20, at least 19)")
    group.add_argument("--generate", type=int, default=0, metavar="N",
                       help="greedy continuations of N held-out prompts per condition, shown in the report (default 0)")


def _add_execution_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("execution")
    group.add_argument("--executor", choices=["local", "ray"], default="local",
                       help="where the work runs: local (default: this process, --workers for the statistics) or "
                            "ray (every extraction, pair analysis and layer pair as Ray tasks; needs emoalign[ray])")
    group.add_argument("--ray-address", metavar="ADDR",
                       help="an existing Ray cluster (auto, HOST:6379 or ray://HOST:10001); default: start a local "
                            "Ray instance with --workers CPUs (0: all)")
    group.add_argument("--task-retries", type=int, default=2, metavar="N",
                       help="extra tries of a failed or lost task (default 2); the others are never lost")
    group.add_argument("--gpus-per-task", type=float, metavar="G",
                       help="GPUs an extraction task asks Ray for with --device cuda (default: 1 for a model over 1B "
                            "parameters, 0.25 below); e.g. 4 with --device-map auto for a model larger than a GPU")


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-dir", type=Path, default=Path("results"), help="root of all artifacts (default: results)")
    parser.add_argument("--cache-dir", type=Path, help="activation cache (default: <results-dir>/cache)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    if parser.prog.split()[-1] != "extract":
        parser.add_argument("--overwrite", action="store_true",
                            help="replace artifacts of an earlier analysis with other settings (default: refuse)")


#: Subcommands that write studies, and so can log them to MLflow.
TRACKED_COMMANDS: tuple[str, ...] = ("run", "align", "sweep")


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    """--version and --log-level on ``emoalign``; --log-level (either place), --config and --mlflow on
    the subcommands that take them — added last, so they cover every option a subcommand has."""
    parser.add_argument("--version", action="version", version=f"emoalign {__version__}")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info",
                        help="messages shown on stderr: debug, info (default), warning or error")
    for name, command in subcommand_parsers(parser).items():
        command.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS,
                             help="messages shown on stderr (default info)")
        if name in CONFIG_COMMANDS:
            command.add_argument("--config", type=Path, metavar="TOML",
                                 help="read every option from a TOML file (keys as the flags: n-components = [8]); "
                                      "options typed here override it. Each study writes its resolved config "
                                      "as <results>/<profile>/configs/<pair>_<command>.toml")
        if name in TRACKED_COMMANDS:
            command.add_argument("--mlflow", nargs="?", const="mlruns", metavar="URI",
                                 help="log each pair to MLflow (one run per pair, nested under the sweep): a "
                                      "tracking URI or folder (default ./mlruns); needs emoalign[tracking]")


def _config_paths(rest: Sequence[str]) -> list[str]:
    """The ``--config FILE`` values among a subcommand's arguments."""
    paths = []
    for i, token in enumerate(rest):
        if token == "--config" and i + 1 < len(rest):
            paths.append(rest[i + 1])
        elif token.startswith("--config="):
            paths.append(token.split("=", 1)[1])
    return paths


def _preload_config(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Apply the config of the subcommand in ``argv`` before parsing, so the file's options are
    defaults (required ones included) that the typed flags override: ``--config FILE``, or for
    ``align`` the study named first (an alignment artifact, a study folder or a config file), whose
    recorded settings are reused. Relative paths in a file are read against the file's folder."""
    from emoalign.study.config import options_from_file
    from emoalign.study.reanalysis import study_config_file

    subcommands = subcommand_parsers(parser)
    command = next((token for token in argv if token in subcommands), None)
    if command is None or command not in CONFIG_COMMANDS:
        return
    rest = list(argv)[list(argv).index(command) + 1:]
    paths = _config_paths(rest)
    if len(paths) > 1:
        raise EmoalignError(f"--config given {len(paths)} times ({', '.join(paths)}); give one file")
    if command == "align" and rest and not rest[0].startswith("-"):
        if paths:
            raise EmoalignError(f"align {rest[0]}: the study's settings are its config; drop --config {paths[0]}")
        paths = [str(study_config_file(rest[0]))]
    if paths:
        path = Path(paths[0])
        apply_config(subcommands[command], options_from_file(read_config(path), path.parent), path)


def build_parser() -> argparse.ArgumentParser:
    """The ``emoalign`` argument parser with all subcommands."""
    parser = argparse.ArgumentParser(
        prog="emoalign",
        description="Do two language models hold the same emotion subspaces in different coordinates?",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    extract = commands.add_parser("extract", help="extract (and cache) one model's activations")
    extract.add_argument("--model", required=True, help="preset name (see `emoalign models`), hub id or local folder")
    _add_data_options(extract)
    _add_model_options(extract)
    _add_output_options(extract)

    for name, help_text in (
        ("run", "the whole study for one pair: extract both models, align, write artifacts and report"),
        ("align", "redo the analysis from cached activations (another k, map, metric or layer match); loads no model"),
        ("steer", "the causal test alone: steer the target with the source's emotion vectors carried through a "
                  "map, beside its own vectors and the nulls (activations from the cache)"),
    ):
        command = commands.add_parser(name, help=help_text)
        if name == "align":
            command.add_argument(
                "study", nargs="?", metavar="STUDY",
                help="an earlier study to re-analyse: its alignment artifact, its folder or its config file; every "
                     "setting recorded there is reused and only the options typed here change (e.g. "
                     "`emoalign align results/baseline -k 4`)")
        command.add_argument("--source", default="gpt2", help="source model (default gpt2)")
        command.add_argument("--target", "--large-model", dest="target", required=True,
                             help="target model (--large-model is the original study's spelling)")
        _add_data_options(command)
        _add_model_options(command)
        _add_analysis_options(command)
        _add_steering_options(command)
        _add_execution_options(command)
        _add_output_options(command)

    summarize = commands.add_parser("summarize", help="per-layer CSV, printed table and Markdown report of an alignment")
    summarize.add_argument("--alignment-path", type=Path, required=True, help="an alignment artifact (.safetensors)")
    summarize.add_argument("--output-csv", type=Path, help="write the per-layer summary CSV here")
    summarize.add_argument("--write-report", type=Path, help="write the Markdown report here")
    summarize.add_argument("--profile", help="accepted for the original's command lines (read from the artifact)")
    summarize.add_argument("--large-model", help="accepted for the original's command lines; checked against the artifact")

    # --- compare / sweep ---
    compare = commands.add_parser("compare", help="comparative report over several alignment artifacts")
    compare.add_argument("alignments", nargs="+", type=Path, metavar="ALIGNMENT",
                         help="alignment artifacts (alignment/*_token_based_full.safetensors) or study folders "
                              "(every alignment in them, a k-sweep's included)")
    sweep = commands.add_parser("sweep", allow_abbrev=False,
                                help="one source against several targets (source extracted once), then compare")
    sweep.add_argument("--source", default="gpt2", help="source model (default gpt2)")
    sweep.add_argument("--targets", nargs="+", required=True, help="target models (presets, hub ids or folders)")
    _add_data_options(sweep)
    _add_model_options(sweep)
    _add_analysis_options(sweep)
    _add_steering_options(sweep)
    _add_execution_options(sweep)
    _add_output_options(sweep)
    for name, command in (("compare", compare), ("sweep", sweep)):
        group = command.add_argument_group("comparative report")
        default = " (default <report-dir>/<source>_comparative_report.md)" if name == "sweep" else ""
        group.add_argument("--write-report", type=Path, metavar="R", help=f"write the Markdown report here{default}")
        group.add_argument("--output-csv", type=Path, metavar="C", help="write the per-model summary CSV here")
        group.add_argument("--html", action="store_true", help="also write a self-contained HTML page beside R")
        group.add_argument("--lang", choices=["en", "ja"], default="en", help="report language (default en)")
        group.add_argument("--no-figures", action="store_true",
                           help="no figures (default: PNG at 200 dpi and SVG in <R stem>_figures/)")
        group.add_argument("--figure-formats", default="png,svg", metavar="LIST",
                           help="figure files beside the report: png always, svg (default), pdf on request "
                                "(e.g. png,svg,pdf)")
    # --- end compare / sweep ---

    demo = commands.add_parser("demo", help="the whole study offline on real models (Gemma-3-270M vs Qwen2.5-Coder-1.5B, "
                                            "MiniLM vs MPNet) beside known answers (random-weight pairs, a planted twin)")
    demo.add_argument("--results-dir", type=Path, default=Path("results"), help="artifacts go to <dir>/demo/")
    demo.add_argument("--report-dir", type=Path, default=Path("docs/report"))
    demo.add_argument("--parts", nargs="+", default=["decoder", "encoder", "twin"],
                      choices=["decoder", "encoder", "twin"],
                      help="what to run: the decoder pair, the encoder pair, the planted twin (default: all)")
    demo.add_argument("--baseline-seeds", type=int, metavar="N",
                      help="random-weight copies per real pair (default: 20 for the encoder pair, 5 for the decoder "
                           "pair, see README); an explicit value applies to every pair")
    demo.add_argument("--permutations", dest="n_permutations", type=int, default=200,
                      help="label permutations per cell")
    demo.add_argument("--bootstrap", dest="n_bootstrap", type=int, default=1000, help="bootstrap resamples per cell")
    demo.add_argument("--max-samples-per-emotion", type=int, metavar="N", help="first N prompts per label (default 70)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--workers", type=int, default=0, metavar="N",
                      help="processes for the statistics (default 0: one per CPU core; the numbers do not depend on it)")
    demo.add_argument("--report-name", default="demo_comparative_report",
                      help="file stem of the reports in --report-dir (<name>.md, <name>.ja.md, .html)")
    demo.add_argument("--no-html", action="store_true", help="Markdown report only")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")

    commands.add_parser("models", help="list the model presets")
    commands.add_parser("datasets", help="list the built-in prompt profiles and their counts")
    results = commands.add_parser("results", help="list the studies and cached activations of a results folder")
    results.add_argument("dir", nargs="?", type=Path, default=Path("results"), metavar="DIR",
                         help="a --results-dir (default: results)")
    results.add_argument("--json", action="store_true", help="print the listing as JSON")
    _add_common_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``emoalign`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:  # a bare `emoalign`: what it can do
        parser.print_help()
        return 0
    try:
        _preload_config(parser, argv)
    except EmoalignError as exc:
        print(f"emoalign: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    args.argv = argv  # the arguments as typed, for messages that depend on what was left to its default
    set_level(args.log_level)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from emoalign.cli import commands

    handler = getattr(commands, f"cmd_{args.command.replace('-', '_')}")
    try:
        return int(handler(args) or 0)
    except EmoalignError as exc:
        print(f"emoalign: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emoalign: interrupted; artifacts already written are intact", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
