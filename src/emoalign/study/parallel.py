"""The layer pairs (and the random copies of the baseline) of a study as tasks of an executor, with
progress bars and the statistics' caches.

The per-layer-pair work is pure analysis (:func:`~emoalign.analysis.alignment.align_layer_pair`,
:func:`~emoalign.analysis.alignment.copy_cross_overlaps`); this module fans it out over an
:class:`~emoalign.execution.Executor` and owns the caches it goes through. Every random stream is
seeded per layer pair, so the result is identical for every executor and number of workers.

Caches: one :class:`~emoalign.analysis.cache.StatsCaches` per process, :data:`CACHES`. Its source
side (:data:`SOURCE_CACHE`) is kept across targets, so aligning one source with several targets
computes the source-side spans and resample PCAs once; the entries a local worker process adds are
copied back into the parent's (each Ray worker keeps its own). :data:`PAIR_CACHE` is the target side,
reused within a layer pair. A cache hit returns exactly what the computation would.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from emoalign.analysis.alignment import (
    AlignConfig,
    LayerPairAlignment,
    align_layer_pair,
    check_paired,
    common_profile,
    copy_cross_overlaps,
    warn_duplicate_vectors,
)
from emoalign.analysis.baseline import BaselineCopies, assemble_baseline
from emoalign.analysis.cache import (
    PAIR_CACHE_BYTES,
    SOURCE_CACHE_BYTES,
    ResampleCache,
    StatsCaches,
)
from emoalign.core.activations import ActivationSet
from emoalign.execution import Executor
from emoalign.execution.local import LocalExecutor

__all__ = ["CACHES", "PAIR_CACHE", "SOURCE_CACHE", "align_activation_sets", "baseline_cross_overlaps"]

#: Source side of this process's statistics caches (kept across targets; max_bytes = 0 turns it off).
SOURCE_CACHE = ResampleCache(max_bytes=SOURCE_CACHE_BYTES)
#: Target side, reused within one layer pair (prompt-group -> joint null, bootstrap -> reliability).
PAIR_CACHE = ResampleCache(max_bytes=PAIR_CACHE_BYTES)
#: Both, as the analysis receives them.
CACHES = StatsCaches(source=SOURCE_CACHE, pair=PAIR_CACHE)


def align_activation_sets(
    source: ActivationSet,
    target: ActivationSet,
    layer_pairs: Sequence[tuple[int, int]],
    config: AlignConfig,
    *,
    quiet: bool = True,
    workers: int = 1,
    executor: Executor | None = None,
) -> list[LayerPairAlignment]:
    """Align every layer pair (see :func:`~emoalign.analysis.alignment.align_layer_pair`), with a
    progress bar unless ``quiet``.

    The layer pairs run as tasks of ``executor`` (default: the local one with ``workers`` processes,
    0: one per CPU core); every random stream is seeded per layer pair, so the result is identical
    for every executor and number of workers. Prompts that give duplicate emotion vectors are
    warned about (once per model and emotion); every pair is profiled at the same ks: those that fit
    the numerical rank of the emotion vectors at every pair.
    """
    check_paired(source, target)
    pairs = list(layer_pairs)
    warn_duplicate_vectors(source, [s for s, _ in pairs], config.reference)
    warn_duplicate_vectors(target, [t for _, t in pairs], config.reference)
    executor = executor or LocalExecutor(workers)
    with tqdm(total=len(pairs), desc=f"align {target.model['name']}", unit="layer", disable=quiet) as progress:
        aligned = executor.map(
            _align_task, (source, target, pairs, config), len(pairs), done=progress.update, cache=SOURCE_CACHE
        )
    return common_profile(aligned)


def _align_task(
    shared: tuple[ActivationSet, ActivationSet, list[tuple[int, int]], AlignConfig], i: int
) -> LayerPairAlignment:
    source, target, pairs, config = shared
    return align_layer_pair(source, target, *pairs[i], config, caches=CACHES)  # this process's caches


def baseline_cross_overlaps(
    copies: Sequence[tuple[ActivationSet, ActivationSet]],
    layer_pairs: Sequence[tuple[int, int]],
    config: AlignConfig,
    ks: Sequence[int],
    *,
    quiet: bool = True,
    workers: int = 1,
    executor: Executor | None = None,
) -> BaselineCopies:
    """Run every copy pair through the pipeline (no statistics) at every layer pair and k
    (:func:`~emoalign.analysis.alignment.copy_cross_overlaps`).

    The (copy, layer pair) tasks run on ``executor`` (default: the local one with ``workers``
    processes, 0: one per CPU core); the result is the same for every executor.
    """
    copies, pairs = list(copies), list(layer_pairs)
    for source_copy, target_copy in copies:
        check_paired(source_copy, target_copy)
    n = len(copies) * len(pairs)
    with tqdm(total=n, desc="baseline copies: align", unit="layer", disable=quiet) as progress:
        flat = (executor or LocalExecutor(workers)).map(
            _copy_task, (copies, pairs, config, tuple(ks)), n, done=progress.update, cache=SOURCE_CACHE
        )
    return assemble_baseline(flat, copies, len(pairs), ks)


def _copy_task(
    shared: tuple[list[tuple[ActivationSet, ActivationSet]], list[tuple[int, int]], AlignConfig, tuple[int, ...]],
    i: int,
) -> np.ndarray:
    copies, pairs, config, ks = shared
    source_copy, target_copy = copies[i // len(pairs)]
    return copy_cross_overlaps(source_copy, target_copy, *pairs[i % len(pairs)], config, ks)
