"""The stages of a study that touch models and files: extract both models (through the cache) and
their random-weight copies, check what is already written, write the artifacts. The runner
(:mod:`emoalign.study.runner`) puts them in order; the alignment itself is :mod:`emoalign.study.align`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emoalign.analysis.layer_match import match_layers
from emoalign.core.errors import EmoalignError
from emoalign.core.layers import EMBEDDING_LAYER
from emoalign.core.log import get_logger
from emoalign.core.results import AlignmentResult, settings_differences
from emoalign.core.settings import AlignConfig
from emoalign.data.dataset import PromptDataset
from emoalign.extract.activations import ActivationSet
from emoalign.extract.baseline import random_copy_activations
from emoalign.extract.cache import (
    ExtractionRequest,
    cache_file,
    cached_depth,
    checked_dtype_name,
    get_activations,
)
from emoalign.extract.preflight import (
    check_output_folders,
    check_request,
    check_statistics,
    warn_unmatched_labels,
)
from emoalign.io.layout import StudyLayout
from emoalign.io.model_artifacts import save_emotion_subspaces, save_emotion_vectors
from emoalign.io.storage import read_metadata, remove_stale_temporaries
from emoalign.models.loading import load_config, text_config
from emoalign.models.registry import ModelSpec
from emoalign.report.summary import write_summary_csv
from emoalign.study.workplan import baseline_seed_pairs

log = get_logger(__name__)


def check_overwrite(
    path: Path, config: Mapping, dataset_hash: str, *, overwrite: bool, extraction: Mapping | None = None
) -> None:
    """Refuse to replace the alignment artifact at ``path`` with an analysis of other settings, or
    (``extraction``: the new result's per-model extraction record) of activations read at other
    positions (a rerun with the same settings replaces it: the same numbers)."""
    if overwrite or not path.exists():
        return
    try:
        metadata = read_metadata(path)
    except Exception:  # noqa: BLE001 - any unreadable file: refuse all the same
        raise EmoalignError(f"{path}: exists and cannot be read; pass --overwrite to replace it") from None
    differences = settings_differences(metadata, config, dataset_hash)
    if extraction is not None:
        differences += extraction_differences(metadata.get("extraction", {}), extraction)
    if differences:
        raise EmoalignError(
            f"{path}: holds an analysis with other settings ({'; '.join(differences[:4])}); pass --overwrite "
            "to replace it, or write to another --results-dir"
        )


def extraction_differences(old: Mapping, new: Mapping) -> list[str]:
    """``role setting old -> new`` where two extraction records read other positions (position policy,
    start token); settings an older record lacks are not compared."""
    return [
        f"{role} {key} {old[role][key]!r} -> {new[role].get(key)!r}"
        for role in ("source", "target") if role in old and role in new
        for key in ("position_policy", "start_token")
        if key in old[role] and old[role][key] != new[role].get(key)
    ]


def model_depth(spec: ModelSpec, request: ExtractionRequest) -> int:
    """Number of blocks, read from the config (no weights; a model the user loaded knows its own)."""
    if request.loaded is not None:
        return request.loaded.n_layers
    config = load_config(spec, revision=request.revision, trust_remote_code=request.trust_remote_code)
    return int(text_config(config).num_hidden_layers)


def match_pair_layers(
    source: ExtractionRequest,
    target: ExtractionRequest,
    *,
    source_layers: Sequence[int] | None,
    target_layers: Sequence[int] | None,
    layer_match: str,
    cache_dir: Path,
    allow_extract: bool = True,
) -> tuple[ExtractionRequest, ExtractionRequest, list[tuple[int, int]]]:
    """Both requests with the layers the layer match needs, and the layer pairs."""
    # `align` reads the depths from the cache (no config, no transformers import); `run` from the configs
    n_source = (None if allow_extract else cached_depth(cache_dir, source.spec)) or model_depth(source.spec, source)
    n_target = (None if allow_extract else cached_depth(cache_dir, target.spec)) or model_depth(target.spec, target)
    layers = list(source_layers) if source_layers is not None else list(range(n_source))
    pairs = match_layers(
        layers, n_source, n_target, layer_match, target_layers,  # type: ignore[arg-type]
        names=(source.spec.name, target.spec.name),
    )
    # the embedding layer rides along in every extraction (no extra forward): the lexical floor
    source = replace(source, layers=tuple(sorted({EMBEDDING_LAYER} | {s for s, _ in pairs})))
    target = replace(target, layers=tuple(sorted({EMBEDDING_LAYER} | {t for _, t in pairs})))
    return source, target, pairs


def extract_pair(
    source: ExtractionRequest,
    target: ExtractionRequest,
    *,
    source_layers: Sequence[int] | None,
    target_layers: Sequence[int] | None,
    layer_match: str,
    cache_dir: Path,
    quiet: bool = False,
    allow_extract: bool = True,
) -> tuple[ActivationSet, ActivationSet, list[tuple[int, int]]]:
    """Activation sets of both models at the layers the layer match needs, and the layer pairs."""
    source, target, pairs = match_pair_layers(
        source, target, source_layers=source_layers, target_layers=target_layers, layer_match=layer_match,
        cache_dir=cache_dir, allow_extract=allow_extract,
    )
    if allow_extract:  # both models checked before either runs: a bad target fails before the source's forward
        for request in (source, target):
            if not cache_file(cache_dir, request, checked_dtype_name(request)).exists():
                check_request(request)
    source_acts, _, _ = get_activations(source, cache_dir, quiet=quiet, allow_extract=allow_extract, checked=True)
    target_acts, _, _ = get_activations(target, cache_dir, quiet=quiet, allow_extract=allow_extract, checked=True)
    return source_acts, target_acts, pairs


def write_study(
    result: AlignmentResult,
    source_acts: ActivationSet,
    target_acts: ActivationSet,
    layout: StudyLayout,
    *,
    overwrite: bool = False,
    steering: Any = None,
) -> dict[str, str]:
    """Write vectors and subspaces of both models, the alignment, the summary CSV and the report
    (refusing to replace an alignment of other settings unless ``overwrite``); ``steering``: the
    causal test's result (written beside, and a section of the report) or the reason it was skipped."""
    cfg = result.config
    pair = result.pair_name
    check_overwrite(layout.alignment(pair), cfg, result.dataset.get("hash"), overwrite=overwrite,
                    extraction=result.extraction)
    paths: dict[str, str] = {}
    for acts in (source_acts, target_acts):
        name = acts.model["name"]
        paths[f"{name} emotion vectors"] = str(
            save_emotion_vectors(acts, layout.vectors(name), reference=cfg["reference"], provenance=result.provenance)
        )
        paths[f"{name} emotion subspaces"] = str(
            save_emotion_subspaces(
                acts, layout.subspaces(name), k=cfg["n_components"], reference=cfg["reference"],
                provenance=result.provenance,
            )
        )
    paths["alignment"] = str(result.save(layout.alignment(pair)))
    paths["summary CSV"] = str(write_summary_csv(result, layout.statistics(pair)))
    if steering is not None and not isinstance(steering, str):
        paths.update(write_steering(steering, layout))
    from emoalign.report.summary import (
        write_pair_reports,  # English and Japanese (.ja.md), no figures
    )

    paths.update({name: str(path) for name, path in
                  write_pair_reports(result, layout.report(pair), paths, steering=steering).items()})
    return paths


def write_steering(steering: Any, layout: StudyLayout) -> dict[str, str]:
    """The causal test's artifact (every per-prompt shift) and its cells as a CSV."""
    from emoalign.io.storage import write_text_atomic

    return {
        "steering": str(steering.save(layout.steering(steering.pair_name))),
        "steering CSV": str(write_text_atomic(layout.steering_csv(steering.pair_name),
                                              steering.cells.to_csv(index=False))),
    }


def preflight_study(
    dataset: PromptDataset,
    lexicon: Mapping[str, Sequence[str]],
    config: AlignConfig,
    *,
    cache_dir: Path,
    outputs: Sequence[Path] = (),
    where: str | None = None,
) -> None:
    """What a study can check before any model is loaded: the statistics fit the dataset, every
    output folder can be written, the lexicon finds each label's words (a warning otherwise); and
    the temporaries a killed run left behind are removed."""
    check_statistics(dataset, config.with_statistics, where)
    check_output_folders(cache_dir, *outputs)
    warn_unmatched_labels(dataset, lexicon)
    for folder in (cache_dir, *outputs):
        remove_stale_temporaries(folder)


def study_baseline(
    source: ExtractionRequest,
    target: ExtractionRequest,
    source_acts: ActivationSet,
    target_acts: ActivationSet,
    config: AlignConfig,
    *,
    cache_dir: Path,
    quiet: bool = True,
    allow_extract: bool = True,
) -> list[tuple[ActivationSet, ActivationSet]]:
    """The random-weight copies a study's verdict is judged against (none, with a warning, when
    ``config.baseline_seeds`` is 0 or statistics are off)."""
    if not config.with_statistics:
        return []
    if config.baseline_seeds == 0:
        log.warning(NO_BASELINE_WARNING)
        return []
    return baseline_activations(
        replace(source, layers=tuple(source_acts.layers), untrained_seed=None),
        replace(target, layers=tuple(target_acts.layers), untrained_seed=None),
        baseline_seed_pairs(config.baseline_seeds, config.seed), cache_dir, quiet=quiet, allow_extract=allow_extract,
    )


def baseline_activations(
    source: ExtractionRequest,
    target: ExtractionRequest,
    seed_pairs: Sequence[tuple[int, int]],
    cache_dir: Path,
    *,
    quiet: bool = True,
    allow_extract: bool = True,
) -> list[tuple[ActivationSet, ActivationSet]]:
    """Activation sets of the random-weight copies (source copy, target copy) for every seed pair,
    through the activation cache (keyed by architecture, seed, dataset and layers)."""
    source_copies = random_copy_activations(
        source, [s for s, _ in seed_pairs], cache_dir, quiet=quiet, allow_extract=allow_extract
    )
    target_copies = random_copy_activations(
        target, [t for _, t in seed_pairs], cache_dir, quiet=quiet, allow_extract=allow_extract
    )
    return list(zip(source_copies, target_copies))


NO_BASELINE_WARNING = (
    "--baseline-seeds 0: no random-weight copies, so the verdict cannot say whether an "
    "overlap goes beyond what any two models reading the same prompts share"
)


def untrained_control(request: ExtractionRequest, seed: int) -> ExtractionRequest:
    """The untrained control of a target: its architecture with random weights (seeded ``seed + 1``),
    named ``<target>-untrained`` — it reads the same tokens, so any "alignment" it shows comes from
    the inputs, not from training."""
    return replace(request, spec=replace(request.spec, name=f"{request.spec.name}-untrained"), untrained_seed=seed + 1)


@dataclass(frozen=True)
class PairStudy:
    """One aligned pair ready to be written: the result, both activation sets and where it goes."""

    result: AlignmentResult
    source_acts: ActivationSet
    target_acts: ActivationSet
    layout: StudyLayout
    paths: dict[str, str] = field(default_factory=dict)  # its artifacts, once written
    pairs: tuple[tuple[int, int], ...] = ()  # the matched layer pairs
    source_request: ExtractionRequest | None = None  # what loads each model again (the causal test)
    target_request: ExtractionRequest | None = None
    control: str | None = None  # None: the pair itself; else the control it is
    steering: Any = None  # the causal test: a SteeringResult, the reason it was skipped, or None
