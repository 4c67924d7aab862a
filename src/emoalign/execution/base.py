"""The executor interface (see :mod:`emoalign.execution`): what a unit asks of the scheduler, how it
ended, the :class:`Executor` protocol and the per-process cache a worker hands back. A leaf: the
executors (:mod:`~emoalign.execution.local`, :mod:`~emoalign.execution.ray_cluster`) import it, and
the package imports them only in :func:`~emoalign.execution.make_executor`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "DEFAULT_RETRIES",
    "Executor",
    "Outcome",
    "TaskResources",
    "WorkerCache",
    "describe_failures",
    "failed_units",
]

T = TypeVar("T")
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


def failed_units(outcomes: Sequence[Outcome[Any]]) -> list[Outcome[Any]]:
    """The outcomes that failed after every try."""
    return [outcome for outcome in outcomes if not outcome.ok]


def describe_failures(outcomes: Sequence[Outcome[Any]]) -> str:
    """The failed units of ``outcomes``, each named with its last error: ``"a (Error: x); b (...)"``."""
    return "; ".join(f"{o.name} ({o.error}{_tries(o.tries)})" for o in failed_units(outcomes))


def _tries(tries: int | None) -> str:
    return "" if tries is None else f", {tries} {'try' if tries == 1 else 'tries'}"
