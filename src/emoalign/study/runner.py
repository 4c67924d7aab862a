"""The one runner of a study, used by :func:`emoalign.run`, the command line (``run``, ``align``,
``sweep``), the demo and the Ray fan-out.

One study, from a :class:`~emoalign.study.config.StudyConfig` and a
:class:`~emoalign.study.config.Runtime`::

    prepare  the prompts, lexicon, every k's settings and output folders, checked before any model loads
    extract  both models through the activation cache (the input embeddings ride along: the floor)
    copies   random-weight copies of both models: the vocabulary baseline of the verdict
    align    every layer pair (and the floor) on the runtime's executor
    write    vectors, subspaces, alignment, summary CSV, reports; the resolved config; MLflow

A k-sweep (several ``n_components``) and each control is one more study of the same config. On a
distributed executor (Ray) every extraction of every study is a task first, then each pair's analysis.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from emoalign.core.errors import EmoalignError
from emoalign.core.log import get_logger
from emoalign.core.results import AlignmentResult
from emoalign.data.dataset import PromptDataset, load_dataset, load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON, load_lexicon
from emoalign.execution.progress import resolve_quiet
from emoalign.io.layout import StudyLayout, study_config_path
from emoalign.study.align import align_study
from emoalign.study.config import Runtime, StudyConfig, options_for_file
from emoalign.study.pipeline import (
    PairStudy,
    check_overwrite,
    extract_pair,
    match_pair_layers,
    preflight_study,
    study_baseline,
    untrained_control,
    write_study,
)
from emoalign.study.steer import steer_study, wants_steering

log = get_logger(__name__)

__all__ = [
    "PreparedStudies", "prepare_studies", "study_requests", "iter_studies", "run_studies", "study_plan",
    "fan_out_studies", "make_runtime_executor",
]


@dataclass(frozen=True)
class PreparedStudies:
    """What every study of one config shares, read and checked once: the prompts (limited per
    label), the lexicon, each k's output layout and the activation cache."""

    dataset: PromptDataset
    lexicon: dict[str, tuple[str, ...]]
    layouts: dict[int, StudyLayout]
    cache_dir: Path


def study_dataset(config: StudyConfig) -> PromptDataset:
    """The prompt set of ``config`` (its ``dataset``, else the built-in ``profile``), not yet limited."""
    if isinstance(config.dataset, PromptDataset):
        return config.dataset
    if config.dataset is not None:
        return load_dataset(config.dataset, reference_label=config.reference_label)
    dataset = load_profile(config.profile)
    if config.reference_label != dataset.reference_label:
        raise EmoalignError(
            f"--reference-label {config.reference_label}: reference label {config.reference_label!r} not found in "
            f"profile {config.profile!r} (its reference is {dataset.reference_label!r})"
        )
    return dataset


def study_lexicon(config: StudyConfig, dataset: PromptDataset) -> dict[str, tuple[str, ...]]:
    """The user's lexicon (a file or a mapping) or the built-in one; every emotion label needs patterns."""
    if config.lexicon is None:
        lexicon, where = dict(DEFAULT_LEXICON), "the built-in lexicon"
    elif isinstance(config.lexicon, Path):
        lexicon, where = load_lexicon(config.lexicon), str(config.lexicon)
    else:
        lexicon = {str(label): tuple(words) for label, words in dict(config.lexicon).items()}
        where = "lexicon"
    missing = [label for label in dataset.emotion_labels if not lexicon.get(label)]
    if missing:
        raise EmoalignError(f"{where}: no word patterns for label(s) {', '.join(missing)} (pass --lexicon FILE)")
    return lexicon


def prepare_studies(config: StudyConfig, *, cache_dir: Path | None = None) -> PreparedStudies:
    """Everything a config's studies can check before any model runs: the dataset, every k's
    settings, the output folders (``<name>/k<k>`` for a k-sweep) and the lexicon."""
    from emoalign.analysis.alignment import check_components

    full = study_dataset(config)
    dataset = full.limit_per_label(config.max_samples_per_emotion)
    check_components(
        max(config.n_components), dataset.label_counts(), dataset.reference_label,
        more_available=len(full.prompts) > len(dataset.prompts),
    )
    name = config.study_name or dataset.name
    # each k in its own folder: in a k-sweep, and when asked (`emoalign align STUDY -k 4` asks, so
    # a re-analysis at another k lives beside the study it re-analyses)
    in_k_folder = len(config.n_components) > 1 or config.k_folder
    layouts = {
        k: StudyLayout(
            config.results_dir, f"{name}/k{k}" if in_k_folder else name,
            config.report_dir / f"k{k}" if in_k_folder else config.report_dir,
        )
        for k in config.n_components
    }
    lexicon = study_lexicon(config, dataset)
    cache = cache_dir or config.resolved_cache_dir
    preflight_study(
        dataset, lexicon, config.align_config(), cache_dir=cache,
        outputs=[folder for layout in layouts.values() for folder in (layout.root, layout.report_dir)]
        if config.write else (),
        where=str(config.dataset) if isinstance(config.dataset, Path) else None,
    )
    return PreparedStudies(dataset, lexicon, layouts, cache)


def controls(config: StudyConfig) -> tuple[str | None, ...]:
    """The studies of one k: the pair (None) and each control; only the untrained control with
    ``untrained_target``."""
    return ("untrained",) if config.untrained_target else (None, *config.control)


def study_requests(config: StudyConfig, prepared: PreparedStudies, control: str | None = None):
    """The source and target extraction requests of one study (layers not matched yet)."""
    from emoalign.extract.cache import ExtractionRequest
    from emoalign.extract.loaded import model_argument
    from emoalign.models.registry import distinct_names

    (source_spec, source_loaded), (target_spec, target_loaded) = (
        model_argument(config.source, "source"), model_argument(config.target, "target")
    )
    source_spec, target_spec = distinct_names(source_spec, target_spec)  # a/model, b/model: a-model, b-model
    source = ExtractionRequest(
        spec=source_spec, dataset=prepared.dataset, layers=(), lexicon=prepared.lexicon, loaded=source_loaded,
        position_policy=config.position_policy,  # type: ignore[arg-type]
        bos=config.bos,  # type: ignore[arg-type]
        dtype=None if config.dtype == "auto" else config.dtype, revision=config.revision, device=config.device,
        device_map=config.device_map, trust_remote_code=config.trust_remote_code, batch_size=config.batch_size,
        allow_pickle_weights=config.allow_pickle_weights,
    )
    target = replace(source, spec=target_spec, loaded=target_loaded)
    return source, untrained_control(target, config.seed) if control == "untrained" else target


def _layer_options(config: StudyConfig, prepared: PreparedStudies) -> dict[str, Any]:
    return {"source_layers": config.layers, "target_layers": config.target_layers,
            "layer_match": config.layer_match, "cache_dir": prepared.cache_dir}


def pair_name(source, target, control: str | None = None) -> str:
    """``<source>_vs_<target>`` of one study's requests (both renamed for the random control)."""
    if control == "random":
        return f"{source.spec.name}-random_vs_{target.spec.name}-random"
    return f"{source.spec.name}_vs_{target.spec.name}"


def study_one(
    config: StudyConfig, runtime: Runtime, prepared: PreparedStudies, k: int, control: str | None, *,
    allow_extract: bool = True, executor: Any = None,
) -> PairStudy:
    """Extract (or read from the cache) both models and align them for one k and one control."""
    align = config.align_config(k)
    source, target = study_requests(config, prepared, "untrained" if control == "untrained" else None)
    layout = prepared.layouts[k]
    if config.write:
        check_overwrite(layout.alignment(pair_name(source, target, control)), asdict(align),
                        prepared.dataset.content_hash(), overwrite=config.overwrite)
    quiet = resolve_quiet(runtime.quiet)
    source_acts, target_acts, pairs = extract_pair(
        source, target, quiet=quiet, allow_extract=allow_extract, **_layer_options(config, prepared)
    )
    copies = study_baseline(source, target, source_acts, target_acts, align, cache_dir=prepared.cache_dir,
                            quiet=quiet, allow_extract=allow_extract)
    command = runtime.command
    label = "untrained" if control == "untrained" else None
    if control == "random":  # both models with random weights, judged against the same copies
        source_acts, target_acts = random_control(source, target, source_acts, target_acts, config.seed,
                                                  prepared.cache_dir, quiet=quiet, allow_extract=allow_extract)
        command = (f"# random-weight copies of both models (seeds {config.seed + 1} and {config.seed + 2}, "
                   f"--control random)\n{command or ''}").rstrip()
        label = "random weights"
    result = align_study(
        source_acts, target_acts, pairs, align, baseline_copies=copies, command=command, control=label,
        quiet=quiet, workers=runtime.workers, executor=executor,
    )
    return PairStudy(result, source_acts, target_acts, layout, pairs=tuple(pairs), source_request=source,
                     target_request=target, control=control)


def random_control(source, target, source_acts, target_acts, seed: int, cache_dir: Path, *, quiet: bool,
                   allow_extract: bool = True):
    """Activations of one more random-weight copy of each model (seeds ``seed + 1`` and ``seed + 2``,
    outside the baseline's), named ``<model>-random``: the pair no training relates."""
    from emoalign.extract.baseline import random_copy_activations

    def named(request, acts):
        return replace(request, spec=replace(request.spec, name=f"{request.spec.name}-random"),
                       layers=tuple(acts.layers))

    control_source = random_copy_activations(named(source, source_acts), [seed + 1], cache_dir, quiet=quiet,
                                             allow_extract=allow_extract)[0]
    control_target = random_copy_activations(named(target, target_acts), [seed + 2], cache_dir, quiet=quiet,
                                             allow_extract=allow_extract)[0]
    return control_source, control_target


def iter_studies(
    config: StudyConfig, runtime: Runtime, *, allow_extract: bool = True, executor: Any = None,
    prepared: PreparedStudies | None = None,
) -> Iterator[PairStudy]:
    """Every study of ``config`` — each k of a k-sweep, then each control — as it finishes."""
    prepared = prepared or prepare_studies(config)
    for k in config.n_components:
        for control in controls(config):
            yield study_one(config, runtime, prepared, k, control, allow_extract=allow_extract, executor=executor)


def study_plan(config: StudyConfig, prepared: PreparedStudies) -> tuple[str, list]:
    """The pair's name and every extraction its studies need (an earlier analysis of other settings
    checked first)."""
    from emoalign.study.workplan import study_units

    units: list = []
    for control in controls(config):
        source, target = study_requests(config, prepared, "untrained" if control == "untrained" else None)
        if config.write:
            for k, layout in prepared.layouts.items():
                check_overwrite(layout.alignment(pair_name(source, target, control)),
                                asdict(config.align_config(k)), prepared.dataset.content_hash(),
                                overwrite=config.overwrite)
        source, target, _ = match_pair_layers(source, target, **_layer_options(config, prepared))
        units += study_units(source, target, config.align_config())
        if control == "random":  # one more copy of each model, seeds outside the baseline's
            units += [replace(request, spec=replace(request.spec, name=f"{request.spec.name}-random"),
                              untrained_seed=config.seed + offset)
                      for request, offset in ((source, 1), (target, 2))]
    return pair_name(*study_requests(config, prepared)), units


def _analyse_task(shared, i: int) -> list[PairStudy]:
    """One pair's studies from the cache (a unit of :func:`emoalign.study.workplan.fan_out`)."""
    (configs, runtime, executor), ready = shared
    config = configs[ready[i]]
    return list(iter_studies(config, runtime, allow_extract=False, executor=executor))


def fan_out_studies(
    configs: Sequence[StudyConfig], runtime: Runtime, executor: Any
) -> tuple[list[tuple[StudyConfig, list[PairStudy]]], list]:
    """Every config's studies through the executor: every extraction (models and copies) as a task,
    then one analysis per pair. Returns (config, its studies) for each pair that finished, in the
    configs' order, and the failed units (named)."""
    from emoalign.study.workplan import fan_out

    plans, by_name = {}, {}
    for config in configs:
        prepared = prepare_studies(config)
        name, units = study_plan(config, prepared)
        plans[name], by_name[name] = units, config
    done, failures = fan_out(
        plans, _analyse_task, (by_name, runtime, executor), executor, cache_dir=configs[0].resolved_cache_dir,
        gpus_per_task=runtime.gpus_per_task, threads=runtime.threads, quiet=resolve_quiet(runtime.quiet),
    )
    return [(by_name[name], done[name]) for name in plans if name in done], failures


def apply_threads(runtime: Runtime) -> None:
    """``--threads``: torch's thread count for the forward passes (left to torch when unset)."""
    if runtime.threads is not None:
        import torch

        torch.set_num_threads(runtime.threads)


def make_runtime_executor(runtime: Runtime):
    """The executor of a runtime (``--threads`` applied first): an Executor given as it is, or one
    made by name (local with ``workers`` processes, or Ray)."""
    from emoalign.execution import make_executor

    apply_threads(runtime)
    if not isinstance(runtime.executor, str):
        return runtime.executor
    return make_executor(runtime.executor, workers=runtime.workers, address=runtime.ray_address,
                         retries=runtime.task_retries)


class StudiesFailed(EmoalignError):
    """Tasks of a distributed run failed after their retries (named in the message); the studies
    that could finish were written."""


#: called with each written study (the study and the paths of its artifacts)
OnStudy = Callable[[PairStudy, dict[str, str]], Any]


def run_studies(
    configs: StudyConfig | Sequence[StudyConfig],
    runtime: Runtime | None = None,
    *,
    allow_extract: bool = True,
    command_name: str = "run",
    before_write: Callable[[PairStudy, StudyConfig], Any] | None = None,
    on_study: OnStudy | None = None,
    recorder: Any = None,
) -> list[PairStudy]:
    """Run every study of ``configs`` (one per target for a sweep) and, where ``write``, write each
    with its resolved config (and MLflow run). ``allow_extract=False``: from the cache only (`align`).
    ``before_write(study, config)``: a hook before a study is written (a sweep records its pair's
    command); ``on_study(study, paths)``: after. A temporary cache is removed however the run ends."""
    from emoalign.execution import describe_failures
    from emoalign.io.records import StudyRecorder

    configs = [configs] if isinstance(configs, StudyConfig) else list(configs)
    runtime = runtime or Runtime()
    scratch = None
    if not configs[0].write and configs[0].cache_dir is None:  # write nothing at all: a temporary cache
        scratch = tempfile.TemporaryDirectory(prefix="emoalign-cache-")
        configs = [replace(config, cache_dir=Path(scratch.name)) for config in configs]
    recorder = recorder or StudyRecorder(command_name, mlflow=runtime.mlflow)
    executor = make_runtime_executor(runtime)
    done: list[PairStudy] = []
    try:
        failures: list = []
        if allow_extract and getattr(executor, "distributed", False):
            batches, failures = fan_out_studies(configs, runtime, executor)
        else:
            batches = [(config, iter_studies(config, runtime, allow_extract=allow_extract, executor=executor))
                       for config in configs]
        for config, studies in batches:
            for study in studies:
                if allow_extract and wants_steering(config, study):
                    study = replace(study, steering=steer_study(
                        config, study.source_acts, study.target_acts, study.pairs, study.target_request,
                        quiet=resolve_quiet(runtime.quiet)))
                if before_write is not None:
                    before_write(study, config)
                paths: dict[str, str] = {}
                if config.write:
                    paths = write_study(study.result, study.source_acts, study.target_acts, study.layout,
                                        overwrite=config.overwrite, steering=study.steering)
                    folder = study_config_path(paths["alignment"], study.result.pair_name, "run").parent
                    recorder.study(study.result, paths, study_options(config, runtime, folder))
                study.paths.update(paths)
                done.append(study)
                if on_study is not None:
                    on_study(study, paths)
        if failures:  # the finished pairs are written first: one failure never loses the others' work
            raise StudiesFailed(
                f"{len(failures)} task(s) failed after their retries: {describe_failures(failures)}; the "
                f"{len(done)} finished stud{'y is' if len(done) == 1 else 'ies are'} written; run the same command "
                "again to finish (finished work is read from the cache)"
            )
    finally:
        if runtime.executor is not executor:  # made here: closed here
            executor.close()
        if scratch is not None:
            scratch.cleanup()
    return done


def run_steering(config: StudyConfig, runtime: Runtime | None = None):
    """`emoalign steer`: the causal test alone — both models' activations through the cache (extracted
    if missing), no alignment statistics — written as the steering artifact, its CSV and a report in
    both languages (unless ``write=False``). Returns the SteeringResult, or the reason it was skipped."""
    from emoalign.study.pipeline import write_steering

    runtime = runtime or Runtime()
    apply_threads(runtime)
    scratch = None
    if not config.write and config.cache_dir is None:
        scratch = tempfile.TemporaryDirectory(prefix="emoalign-cache-")
        config = replace(config, cache_dir=Path(scratch.name))
    try:
        prepared = prepare_studies(config)
        source, target = study_requests(config, prepared)
        quiet = resolve_quiet(runtime.quiet)
        source_acts, target_acts, pairs = extract_pair(source, target, quiet=quiet, **_layer_options(config, prepared))
        steering = steer_study(replace(config, steer="on"), source_acts, target_acts, pairs, target, quiet=quiet)
        if config.write and not isinstance(steering, str):
            from emoalign.report.steering import write_steering_reports

            layout = prepared.layouts[config.n_components[0]]
            paths = write_steering(steering, layout)
            paths.update(write_steering_reports(steering, layout.steering_report(steering.pair_name)))
            for name, path in paths.items():
                log.info(f"{name:<16} {path}")
    finally:
        if scratch is not None:
            scratch.cleanup()
    return steering


def study_options(config: StudyConfig, runtime: Runtime, folder: Path | None = None) -> dict[str, Any] | None:
    """The resolved options of one study (config, then runtime), as a TOML file in ``folder`` holds
    them (paths relative to it; the activation cache named, so a re-analysis written elsewhere still
    finds it); None where the config holds an object with no text form (a loaded model)."""
    options = config.to_options()
    if options is None:
        return None
    options = {**options, "cache-dir": str(config.resolved_cache_dir), **runtime.to_options()}
    return options_for_file(options, folder) if folder is not None else options


def results_of(studies: Sequence[PairStudy]) -> AlignmentResult | list[AlignmentResult]:
    """One result for one study, the list for a k-sweep or controls."""
    return studies[0].result if len(studies) == 1 else [study.result for study in studies]
