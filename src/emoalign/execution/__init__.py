"""Where the work of a study runs: ``local`` (this process, plus a fork pool for the statistics) or
``ray`` (tasks on an existing Ray cluster, ``emoalign[ray]``).

Two kinds of work go through an :class:`Executor`:

* :meth:`Executor.map`, the statistics of the layer pairs and of the random copies: many small
  CPU tasks over one shared payload; the first failure (in task order) is raised, as a loop would.
* :meth:`Executor.run_named`, the units of a study or a sweep (one extraction, one model pair):
  each named, with its resources, retried on failure and reported by name in an :class:`Outcome`,
  so one failed unit never loses the others.

Every random stream is seeded per task (layer pair, copy seed), never per worker, and every task
runs with one BLAS and one torch thread, so both executors give bit-identical numbers.
"""

from __future__ import annotations

from emoalign.core.errors import EmoalignError
from emoalign.execution.base import (
    DEFAULT_RETRIES,
    Executor,
    Outcome,
    TaskResources,
    WorkerCache,
    describe_failures,
    failed_units,
)

__all__ = [
    "DEFAULT_RETRIES",
    "EXECUTORS",
    "Executor",
    "Outcome",
    "TaskResources",
    "WorkerCache",
    "describe_failures",
    "failed_units",
    "make_executor",
]

EXECUTORS = ("local", "ray")


def make_executor(
    kind: str = "local", *, workers: int = 1, address: str | None = None, retries: int = DEFAULT_RETRIES
) -> Executor:
    """``local`` (``workers`` processes for the statistics, 0: one per core) or ``ray`` (connect to
    ``address``, e.g. ``auto`` or ``ray://head:10001``; none: start a local Ray instance with ``workers``
    CPUs, or all of them for 0). ``retries``: extra tries of a failed unit."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise EmoalignError(f"--task-retries {retries!r}: use a number of extra tries >= 0")
    if kind == "local":
        if address is not None:
            raise EmoalignError("--ray-address: only with --executor ray")
        from emoalign.execution.local import LocalExecutor

        return LocalExecutor(workers, retries=retries)
    if kind == "ray":
        from emoalign.execution.ray_cluster import RayExecutor

        return RayExecutor(address=address, cpus=workers, retries=retries)
    raise EmoalignError(f"--executor {kind!r}: use one of {', '.join(EXECUTORS)}")
