"""Optional MLflow tracking (``--mlflow [URI]``, extra ``emoalign[tracking]``): one MLflow run per
model pair — its resolved options as parameters, the per-layer table as metrics (step = layer), the
verdicts as tags, the report, CSV and artifacts as run artifacts — nested under one parent run per
sweep, which holds the comparative report and its figures.

The default store is ``./mlruns``, a local folder (MLflow's file store: no server, no database).

The store is checked before any study runs (:func:`check_tracking_target`): a server that does not
answer within a few seconds, or a folder path that is a file, is one line naming the URI; HTTP
requests get a short timeout and few retries (``MLFLOW_HTTP_REQUEST_TIMEOUT``,
``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``; values already set in
the environment are kept), and any later failure of the store is one line naming it too.

Read the runs back with :func:`search_runs` (a pandas DataFrame, as ``mlflow.search_runs`` gives).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import math
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from emoalign.core.errors import EmoalignError

__all__ = ["DEFAULT_STORE", "EXPERIMENT", "HTTP_DEFAULTS", "check_tracking_target", "search_runs", "tracking_uri",
           "Tracker"]

#: MLflow's HTTP settings while emoalign talks to a tracking server (its own defaults: 120 s per
#: request, 7 retries with exponential backoff, about 4 minutes before a dead server is reported).
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}
#: Seconds to wait for a tracking server to accept a connection before the study starts.
CONNECT_TIMEOUT = 3.0
T = TypeVar("T")

DEFAULT_STORE = "mlruns"
EXPERIMENT = "emoalign"
_PARAM_MAX = 500  # MLflow stores parameters as short strings


def tracking_uri(value: str | None) -> str:
    """The store to log to: a URI as given (``http://...``, ``file:...``, ``sqlite:...``), or a
    folder path (default ``./mlruns``) as an absolute ``file:`` URI."""
    value = value or DEFAULT_STORE
    if "://" in value or value.startswith("file:"):
        return value
    return Path(value).expanduser().resolve().as_uri()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _file_path(uri: str) -> Path:
    """The folder of a ``file:`` URI."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path if parsed.scheme == "file" else uri))


def check_tracking_target(uri: str) -> None:
    """Before any study runs: an ``http(s)://`` tracking server accepts a connection within
    :data:`CONNECT_TIMEOUT` seconds, and a ``file:`` store is a folder (or can become one: no file
    in the way). Anything else (``sqlite:``, ``databricks`` ...) is left to MLflow. One line naming
    the URI otherwise."""
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        if not parsed.hostname:
            raise EmoalignError(f"--mlflow {uri}: not a tracking server URI (no host)")
        try:
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
        except ValueError:
            raise EmoalignError(f"--mlflow {uri}: not a tracking server URI (bad port)") from None
        try:
            with socket.create_connection((parsed.hostname, port), timeout=CONNECT_TIMEOUT):
                pass
        except OSError as exc:
            reason = "no answer within {:g} s".format(CONNECT_TIMEOUT) if isinstance(exc, TimeoutError) else (
                exc.strerror or _first_line(exc))
            raise EmoalignError(f"--mlflow {uri}: cannot reach the tracking server ({reason})") from None
    elif parsed.scheme == "file":
        folder = _file_path(uri)
        for candidate in (folder, *folder.parents):
            if candidate.exists():
                if not candidate.is_dir():
                    what = "is a file, not a folder" if candidate == folder else f"cannot be created: {candidate} is a file"
                    raise EmoalignError(f"--mlflow {uri}: the tracking folder {folder} {what}")
                break


def _http_settings() -> None:
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise EmoalignError("--mlflow needs MLflow: pip install 'emoalign[tracking]'") from None
    if uri.startswith("file:"):
        # MLflow 3 refuses its file store unless told: a local folder is what --mlflow promises.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    _http_settings()
    return MlflowClient(tracking_uri=uri)


def _store_errors(method: Callable[..., T]) -> Callable[..., T]:
    """A failure of the tracking store inside a :class:`Tracker` method is one line naming its URI."""

    @functools.wraps(method)
    def wrapper(self: Tracker, *args: Any, **kwargs: Any) -> T:
        with self.store_errors(method.__name__):
            return method(self, *args, **kwargs)

    return wrapper


def search_runs(uri: str | None = None, experiment: str = EXPERIMENT, **kwargs: Any) -> Any:
    """The runs emoalign logged to ``uri`` (a tracking URI or folder, default ``./mlruns``: as
    ``--mlflow`` takes it) in ``experiment``, as the pandas DataFrame ``mlflow.search_runs`` returns
    (one row per run: ``run_id``, ``status``, ``params.*``, ``metrics.*``, ``tags.*`` ...). ``kwargs``
    go to ``mlflow.search_runs`` (``filter_string``, ``order_by`` ...). Sets
    ``MLFLOW_ALLOW_FILE_STORE=true`` for a folder (MLflow 3 refuses its file store otherwise)::

        from emoalign.io.tracking import search_runs
        runs = search_runs("mlruns")
        runs[["tags.mlflow.runName", "tags.verdict", "metrics.pair.n_cells"]]
    """
    resolved = tracking_uri(uri)
    check_tracking_target(resolved)
    if resolved.startswith("file:"):
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
        if not _file_path(resolved).is_dir():
            raise EmoalignError(f"{_file_path(resolved)}: no MLflow store here (no such folder)")
    try:
        import mlflow
        from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    except ImportError:
        raise EmoalignError("reading MLflow runs needs MLflow: pip install 'emoalign[tracking]'") from None
    _http_settings()
    try:
        with _use_tracking_uri(resolved):
            if mlflow.MlflowClient(tracking_uri=resolved).get_experiment_by_name(experiment) is None:
                raise EmoalignError(f"{resolved}: no experiment {experiment!r} in this MLflow store")
            return mlflow.search_runs(experiment_names=[experiment], **kwargs)
    except EmoalignError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow raises many types for a bad store
        raise EmoalignError(f"{resolved}: cannot read the MLflow runs ({_first_line(exc)})") from None


def _param(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = " ".join(map(str, value))
    return str(value)[:_PARAM_MAX]


def _finite(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Tracker:
    """Logs studies to one MLflow store (``MlflowClient``: no global active run).

    Runs are created closed-over: :meth:`start` returns a run id, :meth:`end` terminates it; a run
    still open when the process exits (an error) is marked FAILED.
    """

    def __init__(self, uri: str | None, experiment: str = EXPERIMENT) -> None:
        self.uri = tracking_uri(uri)
        self._open: set[str] = set()
        check_tracking_target(self.uri)
        with self.store_errors("open"):
            self.client = _client(self.uri)
            found = self.client.get_experiment_by_name(experiment)
            self.experiment_id = found.experiment_id if found is not None else self.client.create_experiment(experiment)
        atexit.register(self._fail_open_runs)

    @contextlib.contextmanager
    def store_errors(self, action: str) -> Iterator[None]:
        """Inside the block, an error of the tracking store is one line naming its URI."""
        try:
            yield
        except EmoalignError:
            raise
        except Exception as exc:  # noqa: BLE001 - MLflow, requests and the file store raise many types
            raise EmoalignError(f"--mlflow {self.uri}: the tracking store failed ({action}: {_first_line(exc)})") from None

    @_store_errors
    def start(self, name: str, *, parent: str | None = None, tags: Mapping[str, str] | None = None) -> str:
        """A new run named ``name`` (nested under run ``parent`` when given); returns its id."""
        all_tags = dict(tags or {})
        if parent is not None:
            all_tags["mlflow.parentRunId"] = parent
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        self._open.add(run.info.run_id)
        return run.info.run_id

    @_store_errors
    def end(self, run_id: str, status: str = "FINISHED") -> None:
        """Terminate run ``run_id`` with ``status`` (FINISHED, FAILED or KILLED)."""
        self.client.set_terminated(run_id, status)
        self._open.discard(run_id)

    def _fail_open_runs(self) -> None:
        for run_id in list(self._open):
            try:
                self.end(run_id, "FAILED")
            except Exception:  # noqa: BLE001, S110 - at exit, a store that is gone only loses the status
                pass

    @_store_errors
    def log_files(self, run_id: str, paths: Mapping[str, str | Path | None]) -> list[str]:
        """Log every existing file of ``paths`` as an artifact, in a folder named after its parent
        (``report``, ``statistics``, ``alignment`` ...); a folder (figures) is logged whole."""
        logged = []
        for path in paths.values():
            if path is None:
                continue
            path = Path(path)
            if path.is_file():
                self.client.log_artifact(run_id, str(path), artifact_path=path.parent.name or None)
                logged.append(str(path))
            elif path.is_dir():
                self.client.log_artifacts(run_id, str(path), artifact_path=path.name)
                logged.append(str(path))
        return logged

    @_store_errors
    def log_pair(
        self, run_id: str, result: Any, paths: Mapping[str, str | Path | None],
        options: Mapping[str, Any] | None = None,
    ) -> None:
        """Log one pair's study: ``options`` (the resolved command options) and the analysis settings
        as parameters, the per-layer table as metrics (step = source layer, or the row of a grid), the
        pair's summary numbers as metrics, its verdicts as tags, and ``paths`` as artifacts."""
        from mlflow.entities import Metric, Param, RunTag

        params = {f"option.{key}": _param(value) for key, value in (options or {}).items()}
        params.update({
            "source": _param(result.source.get("id", result.source["name"])),
            "target": _param(result.target.get("id", result.target["name"])),
            "dataset": _param(result.dataset.get("name")),
            "dataset_hash": _param(result.dataset.get("hash")),
        })
        params.update({f"config.{key}": _param(value) for key, value in result.config.items()})
        now = int(time.time() * 1000)
        layers = result.layer_table()
        by_layer = layers["layer"].is_unique
        metrics = [
            Metric(name, number, now, int(row["layer"]) if by_layer else i)
            for i, row in enumerate(layers.to_dict("records"))
            for name, value in row.items()
            if (number := _finite(value)) is not None
        ]
        metrics += [
            Metric(f"pair.{name}", number, now, 0)
            for name, value in result.summary.items()
            if not isinstance(value, (dict, list, str)) and (number := _finite(value)) is not None
        ]
        tags = {"pair": result.pair_name, "verdict": str(result.summary.get("verdict", ""))}
        if "summary" in result.summary:
            tags["verdict_summary"] = str(result.summary["summary"])[:5000]
        if "verdict" in layers:
            tags.update({f"verdict.layer_{r.layer}_{r.target_layer}": str(r.verdict) for r in layers.itertuples()})
        for chunk in _chunks([Param(k, v) for k, v in params.items()], 100):
            self.client.log_batch(run_id, params=chunk)
        for chunk in _chunks(metrics, 1000):
            self.client.log_batch(run_id, metrics=chunk)
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        self.log_files(run_id, paths)
