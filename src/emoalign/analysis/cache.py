"""Caches of computed arrays, keyed by the content of their inputs, that the statistics receive
from their caller (the analysis keeps no cache of its own between calls).

A :class:`StatsCaches` holds two :class:`ResampleCache` objects: the *source* side (spans,
bootstrap / relabelling / split-half PCAs of the source vectors: kept across targets, so aligning
one source with several targets computes them once) and the *pair* side (the target's, reused
within one layer pair: prompt-group null -> joint null, bootstrap -> reliability). A hit returns
exactly what the computation would, so a cache changes the speed, never the numbers. Who owns
them decides how long they live: :mod:`emoalign.study.parallel` keeps one pair per process.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from emoalign.analysis.subspace import EmotionSubspace, fit_subspace

__all__ = [
    "PAIR_CACHE_BYTES",
    "SOURCE_CACHE_BYTES",
    "ResampleCache",
    "StatsCaches",
    "cached_subspace",
    "content_key",
    "pair_cache",
    "source_cache",
]

T = TypeVar("T")

#: Default bound of the source-side cache: about 25 MB per source layer at the default statistics
#: (3 emotions x 70 prompts, k = 8, 1000 resamples, 200 permutations). 0 turns it off.
SOURCE_CACHE_BYTES = 512 * 2**20
#: Default bound of the pair-side cache.
PAIR_CACHE_BYTES = 64 * 2**20


def content_key(*parts: object) -> str:
    """A hash of arrays (dtype, shape and bytes) and plain values, to key cached results by content."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            arr = np.ascontiguousarray(part)
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.data)
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()


def _nbytes(value: object) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    return 0


def _read_only(value: T) -> T:
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, (tuple, list)):
        for v in value:
            _read_only(v)
    return value


class ResampleCache:
    """A least-recently-used cache of computed arrays, bounded by the bytes they hold.

    Keys hash every input of the computation (:func:`content_key`), so a hit returns exactly what
    the computation would. Entries are read-only; ``recording`` collects the keys added since it
    was set (a worker process hands them back to its parent).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        self.recording: list[str] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return self._bytes

    def get(self, key: str, compute: Callable[[], T]) -> T:
        """The cached value of ``key``, computing (and storing) it on a miss."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]
        self.misses += 1
        value = _read_only(compute())
        self.put(key, value)
        return value

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` (evicting the least recently used entries); one larger than the bound is not kept."""
        size = _nbytes(value)
        if size > self.max_bytes or key in self._entries:
            return
        self._entries[key] = (value, size)
        self._bytes += size
        if self.recording is not None:
            self.recording.append(key)
        while self._bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped

    def export(self, keys: Sequence[str]) -> dict[str, Any]:
        """The entries of ``keys`` still held."""
        return {key: self._entries[key][0] for key in keys if key in self._entries}

    def update(self, entries: Mapping[str, Any]) -> None:
        """Store entries computed elsewhere (by a worker process)."""
        for key, value in entries.items():
            self.put(key, _read_only(value))

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        self._entries.clear()
        self._bytes = 0
        self.hits = self.misses = 0


@dataclass(frozen=True)
class StatsCaches:
    """The two caches a layer pair's statistics read and fill (see the module docstring); either
    may be None (not cached). ``StatsCaches()`` makes a fresh pair at the default bounds."""

    source: ResampleCache | None = field(default_factory=lambda: ResampleCache(SOURCE_CACHE_BYTES))
    pair: ResampleCache | None = field(default_factory=lambda: ResampleCache(PAIR_CACHE_BYTES))

    def clear(self) -> None:
        """Empty both caches."""
        for cache in (self.source, self.pair):
            if cache is not None:
                cache.clear()


def source_cache(caches: StatsCaches | None) -> ResampleCache | None:
    """The source-side cache of ``caches`` (None without caches)."""
    return None if caches is None else caches.source


def pair_cache(caches: StatsCaches | None) -> ResampleCache | None:
    """The pair-side cache of ``caches`` (None without caches)."""
    return None if caches is None else caches.pair


def cached_subspace(X: np.ndarray, k: int, cache: ResampleCache | None, context: str = "") -> EmotionSubspace:
    """``fit_subspace(X, k)`` through ``cache`` (if given), bit for bit: the fit keeps every component
    (one SVD serves any k, so the alignment's fit and the pairing null's share it) and is truncated.
    Without a cache the same full fit is computed and truncated, so the numbers never depend on it."""
    n, d = X.shape
    full = min(n - 1, d)
    if full < k:  # let fit_subspace name the problem
        return fit_subspace(X, k, context=context)

    def fit() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sub = fit_subspace(X, full, context=context)
        return sub.basis, sub.explained_variance_ratio, sub.mean

    basis, ratio, mean = fit() if cache is None else cache.get(content_key("subspace", X), fit)
    return EmotionSubspace(basis[:k], ratio[:k], mean, n)
