"""What the CLI keeps of each study besides its artifacts: the resolved config that reproduces it
(``<results>/<profile>/configs/<pair>_<command>.toml``) and, with ``--mlflow``, an MLflow run."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emoalign.config import write_config
from emoalign.paths import safe_component

__all__ = ["study_config_path", "write_study_config", "StudyRecorder"]


def study_config_path(alignment_path: str | Path, pair_name: str, command: str) -> Path:
    """``<profile root>/configs/<pair>_<command>.toml``, beside the study's other artifact folders
    (the profile root is the alignment artifact's grandparent)."""
    root = Path(alignment_path).parent.parent
    return root / "configs" / f"{safe_component(pair_name)}_{command}.toml"


def study_options(args: argparse.Namespace, command: str, target: str | None = None) -> dict[str, Any] | None:
    """Every option of ``emoalign <command>`` as the CLI resolved it (``args.resolved_options``, set by
    :func:`emoalign.cli.main`; ``target``: the pair's target, for a sweep's pairs); None without it."""
    resolved = getattr(args, "resolved_options", None)
    if resolved is None or command not in resolved:
        return None
    options = dict(resolved[command])
    if target is not None:
        options["target"] = target
    return options


def write_study_config(
    args: argparse.Namespace, result: Any, paths: Mapping[str, str], command: str, target: str | None = None
) -> Path | None:
    """Write the study's resolved config beside its artifacts; its path (None without a parser)."""
    options = study_options(args, command, target)
    if options is None:
        return None
    return write_config(study_config_path(paths["alignment"], result.pair_name, command), options, command=command)


class StudyRecorder:
    """Records each study of one CLI command: its resolved config, and with ``--mlflow`` one MLflow
    run per pair (nested under a parent run for a sweep, opened by :meth:`open_parent`)."""

    def __init__(self, args: argparse.Namespace, command: str) -> None:
        self.args = args
        self.command = command
        uri = getattr(args, "mlflow", None)
        self.tracker = None
        if uri is not None:
            from emoalign.tracking import Tracker

            self.tracker = Tracker(uri)
        self.parent: str | None = None

    def open_parent(self, name: str) -> None:
        """Start the parent run that the pairs nest under (a sweep), with the command's options."""
        if self.tracker is None:
            return
        from mlflow.entities import Param

        self.parent = self.tracker.start(name, tags={"emoalign.command": self.command})
        options = study_options(self.args, self.command) or {}
        params = [Param(f"option.{k}", " ".join(map(str, v)) if isinstance(v, list) else str(v)[:500])
                  for k, v in options.items()]
        for i in range(0, len(params), 100):
            self.tracker.client.log_batch(self.parent, params=params[i : i + 100])

    def study(self, result: Any, paths: dict[str, str], *, target: str | None = None) -> dict[str, str]:
        """Write the study's config (added to ``paths`` as ``run config``) and log its MLflow run."""
        command = "run" if self.command == "sweep" else self.command
        config = write_study_config(self.args, result, paths, command, target)
        if config is not None:
            paths[f"{command} config"] = str(config)
        if self.tracker is not None:
            run_id = self.tracker.start(result.pair_name, parent=self.parent, tags={"emoalign.command": command})
            self.tracker.log_pair(run_id, result, paths, study_options(self.args, command, target))
            self.tracker.end(run_id)
            paths["MLflow run"] = f"{self.tracker.uri} run {run_id}"
        return paths

    def close_parent(self, paths: Mapping[str, str | Path | None]) -> None:
        """Log the comparative report files (and figure folder) to the parent run and end it."""
        if self.tracker is None or self.parent is None:
            return
        self.tracker.log_files(self.parent, paths)
        self.tracker.end(self.parent)
