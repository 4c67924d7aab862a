"""One source against several targets (``emoalign sweep``): every pair goes through the study
pipeline (extract through the cache -> align -> write the pair's artifacts), so the source is
extracted once and read back from the cache for the other pairs; then the comparative report."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from emoalign.core.errors import EmoalignError
from emoalign.core.results import AlignmentResult
from emoalign.io.layout import default_csv_path, default_report_path
from emoalign.report.comparative import ReportFiles, write_comparative_report
from emoalign.report.compare import Comparison
from emoalign.study.pipeline import PairStudy

_REPORT_OPTIONS = ("--write-report", "--output-csv", "--lang", "--figure-formats")
_REPORT_FLAGS = ("--html", "--no-figures")


@dataclass
class SweepResult:
    """Every pair of a sweep, the comparison and the report files."""

    pairs: list[PairStudy]
    comparison: Comparison | None = None
    report: ReportFiles = field(default_factory=ReportFiles)

    @property
    def results(self) -> list[AlignmentResult]:
        return [pair.result for pair in self.pairs]


def check_targets(targets: Sequence[str]) -> list[str]:
    """At least one target, none twice — also not the same folder spelled two ways (a second run
    would overwrite the first's artifacts)."""
    targets = list(targets)
    if not targets:
        raise EmoalignError("--targets: give at least one target model")
    seen: dict[str, str] = {}
    for target in targets:
        key = str(Path(target).resolve()) if Path(str(target)).exists() else str(target)
        if key in seen:
            also = f" (the same as {seen[key]})" if seen[key] != target else ""
            raise EmoalignError(f"--targets: {target} given more than once{also}")
        seen[key] = target
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


def sweep_report(
    pairs: Sequence[PairStudy],
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

