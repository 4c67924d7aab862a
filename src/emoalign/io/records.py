"""What a study keeps besides its artifacts: the resolved config that reproduces it
(``<results>/<profile>/configs/<pair>_<command>.toml``) and, with ``--mlflow``, an MLflow run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emoalign.io.config_file import write_config
from emoalign.io.layout import study_config_path

__all__ = ["study_config_path", "write_study_config", "StudyRecorder"]


def write_study_config(result: Any, paths: Mapping[str, str], options: Mapping[str, Any], command: str) -> Path:
    """Write the study's resolved options beside its artifacts; returns the path."""
    return write_config(study_config_path(paths["alignment"], result.pair_name, command), options, command=command)


class StudyRecorder:
    """Records each study of one command (``run``, ``align`` or ``sweep``): its resolved config, and
    with ``mlflow`` (a tracking URI or folder) one MLflow run per pair, nested under a parent run
    for a sweep (:meth:`open_parent`)."""

    def __init__(self, command: str, *, mlflow: str | None = None) -> None:
        self.command = command
        self.tracker = None
        if mlflow is not None:
            from emoalign.io.tracking import Tracker

            self.tracker = Tracker(mlflow)
        self.parent: str | None = None

    def open_parent(self, name: str, options: Mapping[str, Any] | None = None) -> None:
        """Start the parent run that the pairs nest under (a sweep), with the command's options."""
        if self.tracker is None:
            return
        from mlflow.entities import Param

        self.parent = self.tracker.start(name, tags={"emoalign.command": self.command})
        params = [Param(f"option.{k}", " ".join(map(str, v)) if isinstance(v, list) else str(v)[:500])
                  for k, v in (options or {}).items()]
        with self.tracker.store_errors("log the sweep's options"):
            for i in range(0, len(params), 100):
                self.tracker.client.log_batch(self.parent, params=params[i : i + 100])

    def study(self, result: Any, paths: dict[str, str], options: Mapping[str, Any] | None) -> dict[str, str]:
        """Write the study's config (added to ``paths`` as ``<command> config``; none where the options
        have no text form, e.g. a loaded model) and log its MLflow run."""
        command = "run" if self.command == "sweep" else self.command
        if options is not None:
            paths[f"{command} config"] = str(write_study_config(result, paths, options, command))
        if self.tracker is not None:
            run_id = self.tracker.start(result.pair_name, parent=self.parent, tags={"emoalign.command": command})
            self.tracker.log_pair(run_id, result, paths, dict(options) if options is not None else None)
            self.tracker.end(run_id)
            paths["MLflow run"] = f"{self.tracker.uri} run {run_id}"
        return paths

    def close_parent(self, paths: Mapping[str, str | Path | None]) -> None:
        """Log the comparative report files (and figure folder) to the parent run and end it."""
        if self.tracker is None or self.parent is None:
            return
        self.tracker.log_files(self.parent, paths)
        self.tracker.end(self.parent)
