"""The units of work of a study or a sweep, for an executor that fans them out (``--executor ray``).

A study needs one extraction per (model, dataset, layers, seed): the source, the target (or its
untrained control) and one random-weight copy of each per baseline seed. Each is a unit: it writes
its activation set to the shared cache and is skipped when the cache already holds it. Once every
unit of a pair is in the cache, the pair's analysis is one more unit, and the statistics of its layer
pairs run as tasks of the same executor. With the local executor nothing here is used: a study
extracts as it goes, in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tqdm.auto import tqdm

from emoalign.core.layers import EMBEDDING_LAYER
from emoalign.execution import Executor, Outcome, TaskResources
from emoalign.extract.cache import (
    ExtractionRequest,
    cache_file,
    checked_dtype_name,
    get_activations,
)
from emoalign.extract.preflight import check_request

if TYPE_CHECKING:
    from emoalign.analysis.alignment import AlignConfig

T = TypeVar("T")

#: Above this many parameters a model's unit asks for a whole GPU; smaller ones share one.
LARGE_MODEL_PARAMETERS = 1e9
SMALL_MODEL_GPU_SHARE = 0.25


def baseline_seed_pairs(n_copies: int, seed: int = 0) -> list[tuple[int, int]]:
    """Seeds of the random-weight copies: (source seed, target seed) per copy pair, all distinct and
    disjoint from the untrained control's ``seed + 1`` — a source and a target copy of one
    architecture never share weights."""
    base = 10_000 + 1_000 * seed
    return [(base + 2 * i, base + 2 * i + 1) for i in range(n_copies)]


def copy_requests(
    source: ExtractionRequest, target: ExtractionRequest, config: AlignConfig
) -> list[tuple[ExtractionRequest, ExtractionRequest]]:
    """The (source copy, target copy) requests of a study's baseline: the models' requests with the
    copy seeds as ``untrained_seed``; none when the baseline or the statistics are off."""
    if not config.with_statistics or config.baseline_seeds == 0:
        return []
    return [
        (replace(source, untrained_seed=s), replace(target, untrained_seed=t))
        for s, t in baseline_seed_pairs(config.baseline_seeds, config.seed)
    ]


def study_units(
    source: ExtractionRequest, target: ExtractionRequest, config: AlignConfig
) -> list[ExtractionRequest]:
    """Every extraction a study needs (layers already matched): source, target, then the copies."""
    return [source, target, *(request for pair in copy_requests(source, target, config) for request in pair)]


def unit_name(request: ExtractionRequest) -> str:
    """``extract <model> layers 0-3`` or ``copy <model> seed 10002 layers 0-3`` (the blocks; the input
    embeddings, read on the way, are not named)."""
    layers = sorted(layer for layer in request.layers if layer != EMBEDDING_LAYER)
    span = f"{layers[0]}-{layers[-1]}" if len(layers) > 1 and layers == list(range(layers[0], layers[-1] + 1)) \
        else ",".join(map(str, layers))
    if request.untrained_seed is None:
        return f"extract {request.spec.name} layers {span}"
    return f"copy {request.spec.name} seed {request.untrained_seed} layers {span}"


def unit_cache_files(requests: Sequence[ExtractionRequest], cache_dir: Path) -> list[Path]:
    """Where each unit's activation set lies in the cache (reads each model's config and, for its
    copies, its tokenizer once)."""
    from emoalign.extract.baseline import (
        load_random_copy_source,
        random_copy_cache_file,
    )

    sources: dict[tuple, Any] = {}
    files = []
    for request in requests:
        if request.untrained_seed is None:
            files.append(cache_file(cache_dir, request, checked_dtype_name(request)))
            continue
        key = (request.spec.name, request.spec.hub_id, tuple(request.layers), request.dtype, request.revision)
        if key not in sources:
            sources[key] = load_random_copy_source(replace(request, untrained_seed=None))
        files.append(random_copy_cache_file(cache_dir, sources[key], request.untrained_seed))
    return files


def pending_units(requests: Sequence[ExtractionRequest], files: Sequence[Path]) -> dict[Path, ExtractionRequest]:
    """The distinct units whose ``files`` the cache does not hold yet (one per file: two models of one
    architecture and tokenizer share their copies), each checked before it runs."""
    pending: dict[Path, ExtractionRequest] = {}
    for request, path in zip(requests, files):
        if path not in pending and not path.exists():
            if request.untrained_seed is None:
                check_request(request)
            pending[path] = request
    return pending


def unit_resources(
    request: ExtractionRequest, gpus_per_task: float | None = None, threads: int | None = None
) -> TaskResources:
    """``threads`` CPUs (default 1); on ``--device cuda`` also a whole GPU for a model over 1B parameters
    and a quarter of one below (``gpus_per_task`` overrides, e.g. 4 with ``--device-map auto`` for a
    model larger than one GPU)."""
    cpus = float(threads or 1)
    if not request.device.startswith("cuda"):
        return TaskResources(cpus=cpus)
    if gpus_per_task is not None:
        return TaskResources(cpus=cpus, gpus=gpus_per_task)
    from emoalign.models.loading import estimate_parameter_count, load_config

    config = load_config(request.spec, revision=request.revision, trust_remote_code=request.trust_remote_code)
    large = estimate_parameter_count(config) >= LARGE_MODEL_PARAMETERS
    return TaskResources(cpus=cpus, gpus=1.0 if large else SMALL_MODEL_GPU_SHARE)


def extract_unit(shared: tuple[Sequence[ExtractionRequest], Path, int | None], i: int) -> str:
    """Run unit ``i`` into the cache (a task of :meth:`Executor.run_named`) with ``threads`` torch
    threads when given; returns its cache file."""
    requests, cache_dir, threads = shared
    if threads:
        import torch

        torch.set_num_threads(threads)
    _, path, _ = get_activations(requests[i], cache_dir, quiet=True, checked=True)
    return str(path)


def fan_out(
    plans: Mapping[str, Sequence[ExtractionRequest]],
    analyse: Callable[[Any, int], T],
    shared: Any,
    executor: Executor,
    *,
    cache_dir: Path,
    gpus_per_task: float | None = None,
    threads: int | None = None,
    quiet: bool = True,
) -> tuple[dict[str, T], list[Outcome[Any]]]:
    """Run the units of every plan (name -> its extraction units) on ``executor``, then
    ``analyse((shared, names), i)`` for each plan ``names[i]`` whose units all finished. Extraction
    units run with ``threads`` torch threads (and ask for as many CPUs) when given.

    Returns the analyses by plan name, and the failed outcomes: units by their names, and the plans
    that could not run, named ``analyse <plan>`` (with the unit they needed) — one failure never
    loses the other plans' work. Progress: tasks done / total per stage, unless ``quiet``.
    """
    names = list(plans)
    requests = [request for name in names for request in plans[name]]
    all_files = unit_cache_files(requests, cache_dir)
    files, start = {}, 0
    for name in names:
        files[name], start = all_files[start : start + len(plans[name])], start + len(plans[name])
    pending = pending_units(requests, all_files)
    paths = list(pending)
    units = [pending[path] for path in paths]
    with tqdm(total=len(units), desc=f"extract ({executor.kind})", unit="task", disable=quiet or not units) as bar:
        extracted = executor.run_named(
            extract_unit, (units, cache_dir, threads), [unit_name(u) for u in units],
            resources=[unit_resources(u, gpus_per_task, threads) for u in units], done=lambda _: bar.update(),
        )
    failed_paths = {path: outcome for path, outcome in zip(paths, extracted) if not outcome.ok}
    failures: list[Outcome[Any]] = list(failed_paths.values())
    ready = []
    for name in names:
        missing = next((failed_paths[path] for path in files[name] if path in failed_paths), None)
        if missing is None:
            ready.append(name)
        else:
            failures.append(Outcome(f"analyse {name}", error=f"needs {missing.name}, which failed", tries=None))
    with tqdm(total=len(ready), desc=f"analyse ({executor.kind})", unit="task", disable=quiet or not ready) as bar:
        analysed = executor.run_named(
            analyse, (shared, ready), [f"analyse {name}" for name in ready], done=lambda _: bar.update()
        )
    failures += [outcome for outcome in analysed if not outcome.ok]
    return {name: outcome.value for name, outcome in zip(ready, analysed) if outcome.ok}, failures  # type: ignore[misc]
