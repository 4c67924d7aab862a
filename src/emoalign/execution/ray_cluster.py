"""The Ray executor (``--executor ray``, extra ``emoalign[ray]``): units and statistics as Ray tasks on
an existing cluster (``--ray-address``) or on a Ray instance started on this machine (loopback only).

Shared payloads go to the object store once per call (``ray.put``) and every task reads them from
there. A task that raises (anything but an :class:`~emoalign.core.errors.EmoalignError`, which is the
same on every try) or whose worker dies is retried ``retries`` times by Ray itself. Ray moves task
arguments and results with its own serialiser; every artifact on disk stays safetensors/JSON/CSV.
Nothing here is imported unless ``--executor ray`` is asked for.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from emoalign.core.errors import EmoalignError
from emoalign.execution.base import DEFAULT_RETRIES, Outcome, TaskResources, WorkerCache
from emoalign.execution.local import one_thread

T = TypeVar("T")
INSTALL_HINT = "pip install 'emoalign[ray]'"


@dataclass(frozen=True)
class _Refused:
    """An :class:`EmoalignError` raised in a task, returned as a value so that Ray does not retry it."""

    message: str


def import_ray() -> Any:
    """The ``ray`` module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise EmoalignError(f"--executor ray: Ray is not installed ({INSTALL_HINT})") from None
    return ray


def _map_task(task: Callable[[Any, int], T], shared: Any, i: int) -> T | _Refused:
    """One statistics task in a Ray worker, with the thread settings of a local worker."""
    one_thread()
    try:
        return task(shared, i)
    except EmoalignError as exc:
        return _Refused(str(exc))


def _named_task(task: Callable[[Any, int], T], shared: Any, i: int) -> tuple[T | _Refused, float]:
    """One unit in a Ray worker, and its wall seconds."""
    start = time.perf_counter()
    try:
        value: T | _Refused = task(shared, i)
    except EmoalignError as exc:
        value = _Refused(str(exc))
    return value, time.perf_counter() - start


def _error_line(exc: BaseException) -> str:
    """The user's exception inside a Ray error, as ``Type: message`` (a dead worker says so)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".rstrip(": ")


class RayExecutor:
    """Tasks on a Ray cluster: ``address`` (``auto``, ``ray://host:10001``, ``host:6379``) or, with none,
    a Ray instance started here with ``cpus`` CPUs (0: all) that :meth:`close` shuts down again."""

    kind = "ray"
    distributed = True

    def __init__(self, *, address: str | None = None, cpus: int = 0, retries: int = DEFAULT_RETRIES) -> None:
        self.address = address
        self.cpus = cpus
        self.retries = retries
        self._started = False

    def __getstate__(self) -> dict[str, Any]:
        # A pair task gets the executor for its own layer-pair tasks: inside a worker Ray is connected.
        return {**self.__dict__, "_started": False}

    def connect(self) -> Any:
        """The ``ray`` module, connected (a local instance is started when there is no address)."""
        ray = import_ray()
        if ray.is_initialized():
            return ray
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network here, and none asked for
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
        try:
            if self.address:
                ray.init(address=self.address, **options)
            else:
                ray.init(num_cpus=self.cpus or None, _node_ip_address="127.0.0.1", **options)
                self._started = True
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"--ray-address {self.address}" if self.address else "--executor ray (local instance)"
            raise EmoalignError(f"{where}: cannot connect to Ray ({_error_line(exc)})") from None
        return ray

    def close(self) -> None:
        """Shut down the Ray instance this executor started (a cluster it joined is left running)."""
        if self._started:
            import_ray().shutdown()
            self._started = False

    def map(
        self,
        task: Callable[[Any, int], T],
        shared: Any,
        n: int,
        *,
        done: Callable[[], object] = lambda: None,
        cache: WorkerCache | None = None,  # noqa: ARG002 - each Ray worker keeps its own cache
    ) -> list[T]:
        """``[task(shared, i) for i in range(n)]`` as Ray CPU tasks; the first failure in task order is
        raised (as the local executor does), whichever task fails first in time."""
        if n == 0:
            return []
        ray = self.connect()
        remote = ray.remote(_map_task).options(num_cpus=1, max_retries=self.retries, retry_exceptions=True)
        payload = ray.put(shared)
        futures = [remote.remote(task, payload, i) for i in range(n)]
        results: list[Any] = []
        for i, future in enumerate(futures):  # collected in order: an earlier failure wins over a later one
            try:
                value = ray.get(future)
            except ray.exceptions.RayError as exc:
                _cancel(ray, futures[i + 1 :])
                cause = getattr(exc, "cause", None)
                raise cause if isinstance(cause, Exception) else EmoalignError(_error_line(exc)) from None
            if isinstance(value, _Refused):
                _cancel(ray, futures[i + 1 :])
                raise EmoalignError(value.message)
            results.append(value)
            done()
        return results

    def run_named(
        self,
        task: Callable[[Any, int], T],
        shared: Any,
        names: Sequence[str],
        *,
        resources: Sequence[TaskResources] | None = None,
        done: Callable[[Outcome[T]], object] = lambda outcome: None,
    ) -> list[Outcome[T]]:
        """Every unit as a Ray task with its resources; all of them finish or fail on their own."""
        if not names:
            return []
        ray = self.connect()
        resources = list(resources) if resources is not None else [TaskResources()] * len(names)
        payload = ray.put(shared)
        remote = ray.remote(_named_task)
        futures = [
            remote.options(num_cpus=r.cpus, num_gpus=r.gpus, max_retries=self.retries, retry_exceptions=True,
                           name=name[:100]).remote(task, payload, i)
            for i, (name, r) in enumerate(zip(names, resources))
        ]
        index = {future: i for i, future in enumerate(futures)}
        outcomes: list[Any] = [None] * len(names)
        pending = list(futures)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for future in ready:
                i = index[future]
                try:
                    value, seconds = ray.get(future)
                except ray.exceptions.RayError as exc:
                    outcome: Outcome[T] = Outcome(names[i], error=_error_line(exc), tries=self.retries + 1)
                else:
                    outcome = (Outcome(names[i], error=value.message, seconds=seconds) if isinstance(value, _Refused)
                               else Outcome(names[i], value, seconds=seconds, tries=None))  # type: ignore[arg-type]
                outcomes[i] = outcome
                done(outcome)
        return outcomes


def _cancel(ray: Any, futures: Sequence[Any]) -> None:
    for future in futures:
        ray.cancel(future)
