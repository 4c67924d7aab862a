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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from emoalign.errors import EmoalignError

T = TypeVar("T")
EXECUTORS = ("local", "ray")
DEFAULT_RETRIES = 2


@dataclass(frozen=True)
class TaskResources:
    """What one unit of work asks of the scheduler (Ray's ``num_cpus``/``num_gpus``; fractions allowed)."""

    cpus: float = 1.0
    gpus: float = 0.0


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """How one named unit ended: its value, or the error of its last try; its wall seconds and its
    tries (``None`` where the scheduler does not say)."""

    name: str
    value: T | None = None
    error: str | None = None
    seconds: float = 0.0
    tries: int | None = 1

    @property
    def ok(self) -> bool:
        return self.error is None


class WorkerCache(Protocol):
    """A per-process cache whose entries a worker hands back to the parent (``ResampleCache``)."""

    recording: list[str] | None

    def export(self, keys: Sequence[str]) -> dict[str, Any]: ...

    def update(self, entries: dict[str, Any]) -> None: ...


class Executor(Protocol):
    """Runs tasks; see the module docstring. ``task`` is a module-level function ``task(shared, i)``."""

    kind: str
    distributed: bool  # units fan out as tasks before the analysis (else a study extracts as it goes)

    def close(self) -> None: ...

    def map(
        self,
        task: Callable[[Any, int], T],
        shared: Any,
        n: int,
        *,
        done: Callable[[], object] = ...,
        cache: WorkerCache | None = None,
    ) -> list[T]: ...

    def run_named(
        self,
        task: Callable[[Any, int], T],
        shared: Any,
        names: Sequence[str],
        *,
        resources: Sequence[TaskResources] | None = None,
        done: Callable[[Outcome[T]], object] = ...,
    ) -> list[Outcome[T]]: ...


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


def failed_units(outcomes: Sequence[Outcome[Any]]) -> list[Outcome[Any]]:
    """The outcomes that failed after every try."""
    return [outcome for outcome in outcomes if not outcome.ok]


def describe_failures(outcomes: Sequence[Outcome[Any]]) -> str:
    """The failed units of ``outcomes``, each named with its last error: ``"a (Error: x); b (...)"``."""
    return "; ".join(f"{o.name} ({o.error}{_tries(o.tries)})" for o in failed_units(outcomes))


def _tries(tries: int | None) -> str:
    return "" if tries is None else f", {tries} {'try' if tries == 1 else 'tries'}"
