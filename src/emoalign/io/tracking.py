"""Optional MLflow tracking (``--mlflow [URI]``, extra ``emoalign[tracking]``): one MLflow run per
model pair — its resolved options as parameters, the per-layer table as metrics (step = layer), the
verdicts as tags, the report, CSV and artifacts as run artifacts — nested under one parent run per
sweep, which holds the comparative report and its figures.

The default store is ``./mlruns``, a local folder (MLflow's file store: no server, no database).
"""

from __future__ import annotations

import atexit
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emoalign.core.errors import EmoalignError

__all__ = ["DEFAULT_STORE", "EXPERIMENT", "tracking_uri", "Tracker"]

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


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise EmoalignError("--mlflow needs MLflow: pip install 'emoalign[tracking]'") from None
    if uri.startswith("file:"):
        # MLflow 3 refuses its file store unless told: a local folder is what --mlflow promises.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=uri)


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
        self.client = _client(self.uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found is not None else self.client.create_experiment(experiment)
        self._open: set[str] = set()
        atexit.register(self._fail_open_runs)

    def start(self, name: str, *, parent: str | None = None, tags: Mapping[str, str] | None = None) -> str:
        """A new run named ``name`` (nested under run ``parent`` when given); returns its id."""
        all_tags = dict(tags or {})
        if parent is not None:
            all_tags["mlflow.parentRunId"] = parent
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        self._open.add(run.info.run_id)
        return run.info.run_id

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
