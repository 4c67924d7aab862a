"""One source against several targets (``emoalign sweep``): every pair goes through the study
pipeline (extract through the cache -> align -> write the pair's artifacts), so the source is
extracted once and read back from the cache for the other pairs; then the comparative report."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emoalign.errors import EmoalignError
from emoalign.paths import inside, safe_component, safe_relative
from emoalign.pipeline import PairStudy, StudyLayout, run, write_study
from emoalign.report.comparative import ReportFiles, write_comparative_report
from emoalign.report.compare import Comparison
from emoalign.results import AlignmentResult

# target -> its studies (one per k, plus the untrained control when asked), computed lazily
StudyFn = Callable[[str], Iterable[PairStudy]]

DEFAULT_TARGETS: tuple[str, ...] = ("llama3_8b", "gemma3_12b", "qwen3_8b")
_REPORT_OPTIONS = ("--write-report", "--output-csv", "--lang", "--figure-formats")
_REPORT_FLAGS = ("--html", "--no-figures")


@dataclass
class SweepPair:
    """One pair of a sweep: its result and the artifacts written for it."""

    target: str
    result: AlignmentResult
    paths: dict[str, str]


@dataclass
class SweepResult:
    """Every pair of a sweep, the comparison and the report files."""

    pairs: list[SweepPair]
    comparison: Comparison | None = None
    report: ReportFiles = field(default_factory=ReportFiles)

    @property
    def results(self) -> list[AlignmentResult]:
        return [pair.result for pair in self.pairs]


def check_targets(targets: Sequence[str]) -> list[str]:
    """At least one target, none twice (a second run would overwrite the first's artifacts)."""
    targets = list(targets)
    if not targets:
        raise EmoalignError("--targets: give at least one target model")
    repeated = sorted({t for t in targets if targets.count(t) > 1})
    if repeated:
        raise EmoalignError(f"--targets: {', '.join(repeated)} given more than once")
    return targets


def pair_run_command(argv: Sequence[str], target: str) -> str | None:
    """The ``emoalign run`` line that reproduces one pair of the sweep typed as ``argv``
    (``sweep`` first; report options dropped, ``--targets`` replaced by ``--target``)."""
    argv = list(argv)
    if not argv or argv[0] != "sweep":
        return None
    out: list[str] = ["run"]
    i, in_targets = 1, False
    while i < len(argv):
        token = argv[i]
        if in_targets and not token.startswith("-"):
            i += 1
            continue
        in_targets = False
        if token == "--targets":
            in_targets = True
        elif token in _REPORT_OPTIONS:
            i += 1
        elif not (token.startswith("--targets=") or token in _REPORT_FLAGS
                  or any(token.startswith(f"{o}=") for o in _REPORT_OPTIONS)):
            out.append(token)
        i += 1
    return "emoalign " + " ".join(shlex.quote(a) for a in [*out, "--target", target])


def default_report_path(report_dir: str | Path, source: str) -> Path:
    """``<report-dir>/<source>_comparative_report.md``."""
    return inside(report_dir, Path(report_dir) / f"{safe_component(source)}_comparative_report.md")


def default_csv_path(results_dir: str | Path, profile: str, source: str) -> Path:
    """``<results-dir>/<profile>/statistics/<source>_comparative_summary.csv``."""
    return inside(
        results_dir, Path(results_dir) / safe_relative(profile) / "statistics" / f"{safe_component(source)}_comparative_summary.csv"
    )


def run_sweep(
    targets: Sequence[str],
    study: StudyFn,
    *,
    command_for: Callable[[str], str | None] | None = None,
    on_pair: Callable[[SweepPair], Any] | None = None,
    overwrite: bool = False,
) -> list[SweepPair]:
    """Run ``study`` for every target and write each result with ``pipeline.write_study``.

    ``study`` extracts through the activation cache, so the source (same dataset, layers and
    settings for every pair) is extracted for the first pair and read from the cache afterwards.
    ``command_for(target)`` gives the ``emoalign run`` line recorded as the pair's provenance;
    ``overwrite`` lets a pair replace an earlier analysis of other settings.
    """
    pairs: list[SweepPair] = []
    for target in check_targets(targets):
        command = command_for(target) if command_for else None
        for done in study(target):
            result = done.result
            if command:
                result.provenance = {**result.provenance, "sweep_command": result.provenance.get("command"),
                                     "command": command}
            pair = SweepPair(target, result, write_study(
                result, done.source_acts, done.target_acts, done.layout, overwrite=overwrite
            ))
            pairs.append(pair)
            if on_pair is not None:
                on_pair(pair)
    return pairs


def sweep_report(
    pairs: Sequence[SweepPair],
    *,
    report: str | Path | None,
    report_dir: str | Path,
    output_csv: str | Path | None,
    results_dir: str | Path,
    lang: str = "en",
    html: bool = False,
    figures: bool = True,
    command: str | None = None,
    figure_formats: Sequence[str] | str = ("png", "svg"),
) -> SweepResult:
    """The comparative report over a sweep's pairs (default paths under report/results dirs);
    ``figure_formats``: the figure files beside it (PNG always, SVG, PDF)."""
    first = pairs[0].result
    source = str(first.source["name"])
    report = report or default_report_path(report_dir, source)
    output_csv = output_csv or default_csv_path(results_dir, str(first.dataset["name"]), source)
    comparison, files = write_comparative_report(
        [p.result for p in pairs], report, paths=[p.paths["alignment"] for p in pairs], lang=lang, html=html,
        output_csv=output_csv, figures=figures, command=command, figure_formats=figure_formats,
    )
    return SweepResult(list(pairs), comparison, files)


def sweep(
    source: str = "gpt2",
    targets: Sequence[str] = DEFAULT_TARGETS,
    *,
    control: bool = False,
    report: str | Path | None = None,
    output_csv: str | Path | None = None,
    lang: str = "en",
    html: bool = False,
    figures: bool = True,
    results_dir: str | Path = "results",
    report_dir: str | Path | None = None,
    **run_kwargs: Any,
) -> SweepResult:
    """Python API of ``emoalign sweep``: :func:`emoalign.pipeline.run` for every target (writing
    each pair's artifacts; the source comes from the cache after the first pair), with its untrained
    control when ``control``, then the comparative report. ``run_kwargs`` are those of ``run``
    (layers, n_components, device, cache_dir, bos, ...)."""
    report_dir = Path(report_dir) if report_dir else Path("docs/report")
    pairs = []
    for target in check_targets(targets):
        for untrained in (False, True) if control else (False,):
            result = run(source, target, results_dir=results_dir, report_dir=report_dir, write=True,
                         untrained_target=untrained, **run_kwargs)
            layout = StudyLayout(Path(results_dir), str(result.dataset["name"]), report_dir)
            pairs.append(SweepPair(target, result, {"alignment": str(layout.alignment(result.pair_name))}))
    return sweep_report(pairs, report=report, report_dir=report_dir, output_csv=output_csv, results_dir=results_dir,
                        lang=lang, html=html, figures=figures)


# `emoalign.sweep(...)` calls sweep() although `emoalign.sweep` is this module (see callable_module).
from emoalign.callable_module import make_callable  # noqa: E402 - after sweep() is defined

make_callable(__name__, "sweep")
