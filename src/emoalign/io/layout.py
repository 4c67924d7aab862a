"""Where a study's artifacts go: every file name emoalign writes under ``--results-dir`` and
``--report-dir``, in one place (the original study's layout, in safe formats)::

    <results>/<study>/emotion_vectors/<model>_vectors_token_based.safetensors
    <results>/<study>/emotion_subspaces/<model>_subspaces.safetensors
    <results>/<study>/alignment/<source>_vs_<target>_token_based_full.safetensors
    <results>/<study>/statistics/<source>_vs_<target>_alignment_summary.csv
    <results>/<study>/statistics/<source>_comparative_summary.csv        (sweep)
    <results>/<study>/configs/<source>_vs_<target>_<command>.toml        (the resolved config)
    <results>/<study>/steering/<source>_to_<target>_steering.safetensors (the causal test, decoders)
    <results>/<study>/statistics/<source>_to_<target>_steering.csv
    <results>/cache/<model>-<key>.safetensors                            (activations, emoalign.extract.cache)
    <reports>/<source>_vs_<target>_report.md  and  .ja.md                (per pair)
    <reports>/<source>_to_<target>_steering_report.md  and  .ja.md      (`emoalign steer`)
    <reports>/<source>_comparative_report.md                             (sweep, compare)

``<study>`` is the prompt set's name (``baseline``), ``<name>/k<k>`` in a k-sweep. Every name passes
through :mod:`emoalign.io.paths`, so no model or dataset name can write outside its folder, and both
folders are output roots: no artifact is written through a symbolic link below them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emoalign.io.paths import (
    inside,
    register_output_root,
    safe_component,
    safe_relative,
)

__all__ = ["StudyLayout", "study_config_path", "default_report_path", "default_csv_path"]


@dataclass(frozen=True)
class StudyLayout:
    """Where a study's artifacts go (the original study's layout, safe formats)."""

    results_dir: Path
    profile: str
    report_dir: Path

    def __post_init__(self) -> None:
        # both are output roots: no artifact below them is written through a symbolic link
        register_output_root(self.results_dir)
        register_output_root(self.report_dir)

    @property
    def root(self) -> Path:
        return inside(self.results_dir, self.results_dir / safe_relative(self.profile))

    def _artifact(self, folder: str, name: str, suffix: str) -> Path:
        return inside(self.results_dir, self.root / folder / f"{safe_component(name)}{suffix}")

    def vectors(self, model: str) -> Path:
        return self._artifact("emotion_vectors", model, "_vectors_token_based.safetensors")

    def subspaces(self, model: str) -> Path:
        return self._artifact("emotion_subspaces", model, "_subspaces.safetensors")

    def alignment(self, pair: str) -> Path:
        return self._artifact("alignment", pair, "_token_based_full.safetensors")

    def statistics(self, pair: str) -> Path:
        return self._artifact("statistics", pair, "_alignment_summary.csv")

    def steering(self, pair: str) -> Path:
        return self._artifact("steering", pair, "_steering.safetensors")

    def steering_csv(self, pair: str) -> Path:
        return self._artifact("statistics", pair, "_steering.csv")

    def steering_report(self, pair: str) -> Path:
        return inside(self.report_dir, self.report_dir / f"{safe_component(pair)}_steering_report.md")

    def report(self, pair: str) -> Path:
        return inside(self.report_dir, self.report_dir / f"{safe_component(pair)}_report.md")


def study_config_path(alignment_path: str | Path, pair_name: str, command: str) -> Path:
    """``<profile root>/configs/<pair>_<command>.toml``, beside the study's other artifact folders
    (the profile root is the alignment artifact's grandparent)."""
    root = Path(alignment_path).parent.parent
    return root / "configs" / f"{safe_component(pair_name)}_{command}.toml"


def default_report_path(report_dir: str | Path, source: str) -> Path:
    """``<report-dir>/<source>_comparative_report.md``."""
    return inside(report_dir, Path(report_dir) / f"{safe_component(source)}_comparative_report.md")


def default_csv_path(results_dir: str | Path, profile: str, source: str) -> Path:
    """``<results-dir>/<profile>/statistics/<source>_comparative_summary.csv``."""
    return inside(
        results_dir, Path(results_dir) / safe_relative(profile) / "statistics" / f"{safe_component(source)}_comparative_summary.csv"
    )
