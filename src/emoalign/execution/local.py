"""The local executor: units run one after another in this process; the statistics' tasks run in
this process or in a fork pool of ``workers`` processes, one BLAS and one torch thread each.

The workers belong to the process that started them: each dies with it (Linux: the parent-death
signal ``prctl(PR_SET_PDEATHSIG, SIGTERM)``; elsewhere a thread that watches the parent's pid), so a
killed run (SIGKILL, SIGTERM) leaves no orphan blocked on a queue nobody feeds. Workers ignore
SIGINT: Ctrl-C reaches the whole process group, and it is the parent's to handle; it stops the
workers at once and raises ``KeyboardInterrupt`` (one line at the command line, no worker traceback).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from emoalign.core.errors import EmoalignError
from emoalign.execution.base import DEFAULT_RETRIES, Outcome, TaskResources, WorkerCache

T = TypeVar("T")
_SHARED: Any = None  # what every task reads, set in each worker (inherited, not pickled, under 'fork')
_CACHE: WorkerCache | None = None


def resolve_workers(workers: int) -> int:
    """The number of worker processes: ``workers``, or one per CPU core for 0."""
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise EmoalignError(f"workers {workers!r}: use a number of processes >= 1, or 0 for one per CPU core")
    return int(workers) or (os.cpu_count() or 1)


def one_thread() -> None:
    """One BLAS and one torch thread in this process: thousands of small matrix products per task run
    fastest that way when processes share the cores, and the reduction order is the serial one."""
    threadpool_limits(limits=1, user_api="blas")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
#: Seconds between two looks at the parent's pid where the parent-death signal is not available.
PARENT_POLL_SECONDS = 0.5


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)  # the parent is gone: nobody reads our results


def die_with_parent(parent: int) -> None:
    """Make this (worker) process end when process ``parent`` ends, however it ends."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0:
                if os.getppid() != parent:  # it died before the signal was armed
                    os._exit(1)
                return
        except (OSError, AttributeError):  # no prctl in this libc: watch instead
            pass
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="emoalign-parent-watch").start()


def _worker_signals() -> None:
    """SIGINT ignored (the parent handles Ctrl-C), SIGTERM fatal (the parent's death, a shutdown),
    and SIGINT unblocked again (the parent blocks it while it forks: see :func:`_sigint_blocked`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _init_worker(shared: Any, cache: WorkerCache | None, parent: int | None = None) -> None:
    global _SHARED, _CACHE
    _worker_signals()
    if parent is not None:
        die_with_parent(parent)
    _SHARED, _CACHE = shared, cache
    one_thread()


@contextlib.contextmanager
def _sigint_blocked():
    """SIGINT blocked in this thread while workers are forked (they inherit the mask, so a Ctrl-C
    pressed then never interrupts a worker before it ignores SIGINT); a Ctrl-C pressed meanwhile is
    delivered to the parent when the block ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Stop ``pool`` without waiting for its tasks: pending ones cancelled, workers terminated."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=5)


def _run_task(task: Callable[[Any, int], T], i: int) -> tuple[T, dict[str, Any]]:
    """One task in a worker, with the cache entries it added (for the parent's cache)."""
    if _CACHE is None:
        return task(_SHARED, i), {}
    _CACHE.recording = []
    try:
        return task(_SHARED, i), _CACHE.export(_CACHE.recording)
    finally:
        _CACHE.recording = None


def map_tasks(
    task: Callable[[Any, int], T],
    shared: Any,
    n: int,
    workers: int,
    done: Callable[[], object] = lambda: None,
    cache: WorkerCache | None = None,
) -> list[T]:
    """``[task(shared, i) for i in range(n)]`` with one BLAS thread, in ``workers`` processes when > 1.

    ``task`` must be a module-level function; ``shared`` reaches the workers by 'fork' (inherited,
    not copied) where the platform has it, else pickled once per worker ('spawn'). ``done`` is
    called after every finished task; the entries a worker adds to ``cache`` are copied into the
    parent's. The first failing task (in task order) raises its error.
    """
    workers = min(resolve_workers(workers), n)
    if workers <= 1:
        # Thousands of small matrix products: multi-threaded BLAS only adds contention here.
        with threadpool_limits(limits=1, user_api="blas"):
            out = []
            for i in range(n):
                out.append(task(shared, i))
                done()
            return out
    start = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    results: list[Any] = [None] * n
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context(start), initializer=_init_worker,
        initargs=(shared, cache, os.getpid()),
    )
    try:
        with _sigint_blocked():  # the first submit forks every worker
            futures: dict[Future, int] = {pool.submit(_run_task, task, i): i for i in range(n)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            if any(f.exception() is not None for f in finished):
                for f in pending:
                    f.cancel()
                wait(pending)  # tasks already running finish; the earliest failure is the serial one
                failed = min((f for f in futures if f.done() and not f.cancelled() and f.exception()),
                             key=futures.__getitem__)
                raise failed.exception()  # type: ignore[misc]
            for f in finished:
                results[futures[f]], entries = f.result()
                if cache is not None:
                    cache.update(entries)
                done()
    except BaseException as exc:
        if not isinstance(exc, Exception):  # Ctrl-C, SystemExit: stop now, not after the running tasks
            _stop_now(pool)
        raise
    finally:
        pool.shutdown(wait=True)
    return results


def run_with_retries(call: Callable[[], T], name: str, retries: int) -> Outcome[T]:
    """``call()`` tried up to ``1 + retries`` times. An :class:`EmoalignError` (bad input: the same
    on every try) ends it at once; any other exception is tried again."""
    start = time.perf_counter()
    for attempt in range(1, retries + 2):
        try:
            return Outcome(name, call(), seconds=time.perf_counter() - start, tries=attempt)
        except EmoalignError as exc:
            return Outcome(name, error=str(exc), seconds=time.perf_counter() - start, tries=attempt)
        except Exception as exc:  # noqa: BLE001 - reported by name after the last try
            error = f"{type(exc).__name__}: {exc}"
    return Outcome(name, error=error, seconds=time.perf_counter() - start, tries=retries + 1)


class LocalExecutor:
    """This machine: units in order in this process; statistics over ``workers`` processes."""

    kind = "local"
    distributed = False

    def __init__(self, workers: int = 1, *, retries: int = DEFAULT_RETRIES) -> None:
        resolve_workers(workers)  # checked now; 0 stays "one per core"
        self.workers = workers
        self.retries = retries

    def close(self) -> None:
        """Nothing to release: the pools live inside each :meth:`map`."""

    def map(
        self,
        task: Callable[[Any, int], T],
        shared: Any,
        n: int,
        *,
        done: Callable[[], object] = lambda: None,
        cache: WorkerCache | None = None,
    ) -> list[T]:
        """See :func:`map_tasks`."""
        return map_tasks(task, shared, n, self.workers, done, cache)

    def run_named(
        self,
        task: Callable[[Any, int], T],
        shared: Any,
        names: Sequence[str],
        *,
        resources: Sequence[TaskResources] | None = None,
        done: Callable[[Outcome[T]], object] = lambda outcome: None,
    ) -> list[Outcome[T]]:
        """Every unit in order in this process (``resources`` are for a scheduler; none here)."""
        outcomes = []
        for i, name in enumerate(names):
            outcome = run_with_retries(lambda i=i: task(shared, i), name, self.retries)
            outcomes.append(outcome)
            done(outcome)
        return outcomes
