"""The Python API of a study: :func:`run` and :func:`sweep`, over the one runner.

``run(source, target, config=None, **overrides)`` takes a :class:`~emoalign.study.config.StudyConfig`
(or none: the defaults) and any field of it or of :class:`~emoalign.study.config.Runtime` as a
keyword, so everything the command line can set is reachable from Python, by the same name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from emoalign.core.results import AlignmentResult
from emoalign.study.config import (
    Runtime,
    StudyConfig,
    read_study_config,
    split_overrides,
)
from emoalign.study.runner import results_of, run_steering, run_studies

__all__ = ["run", "sweep", "steer", "resolve"]

DEFAULT_TARGETS: tuple[str, ...] = ("llama3_8b", "gemma3_12b", "qwen3_8b")


def resolve(
    config: StudyConfig | str | Path | None, runtime: Runtime | None, overrides: dict[str, Any]
) -> tuple[StudyConfig, Runtime]:
    """The study and runtime of a call: ``config`` (a StudyConfig, or the path of a TOML file such as
    the ``run.toml`` written beside every study), with ``runtime`` and the keyword overrides on top."""
    if isinstance(config, (str, Path)):
        config, file_runtime = read_study_config(config)
        runtime = runtime or file_runtime
    return split_overrides(config, runtime, overrides)


def run(
    source: Any = None,
    target: Any = None,
    config: StudyConfig | str | Path | None = None,
    *,
    runtime: Runtime | None = None,
    **overrides: Any,
) -> AlignmentResult | list[AlignmentResult]:
    """Python API of ``emoalign run``: the whole study for one source/target pair.

    ``source`` / ``target``: a preset name, hub id, folder or ``.gguf`` file, or a ``transformers``
    model you have already loaded (alone or as ``(model, tokenizer)``; extracted as it is, not
    cached); None keeps the config's. ``config``: a :class:`StudyConfig` or a TOML file of options;
    ``overrides``: any field of :class:`StudyConfig` (``layers=range(12)``, ``n_components=8``,
    ``map_method="ridge"``, ``revision=...``, ``control="untrained"``, ``write=False``...) or of
    :class:`Runtime` (``quiet``, ``workers``, ``executor="ray"``, ``mlflow="mlruns"``...).

    Returns the :class:`~emoalign.core.results.AlignmentResult` (``.layer_table()``, ``.save()``);
    a list of them when several studies run (a k-sweep, or a control besides the pair). With
    ``write=True`` (default) every artifact goes under ``results_dir/<prompt set>/`` with the
    resolved config that reproduces it (``configs/<pair>_run.toml``); ``write=False`` writes nothing
    at all (the activation cache goes to a temporary folder unless ``cache_dir`` is given).
    """
    models = {key: value for key, value in (("source", source), ("target", target)) if value is not None}
    study, run_time = resolve(config, runtime, {**models, **overrides})
    return results_of(run_studies(study, run_time, command_name="run"))


def sweep(
    source: Any = None,
    targets: Sequence[Any] = DEFAULT_TARGETS,
    config: StudyConfig | str | Path | None = None,
    *,
    runtime: Runtime | None = None,
    report: str | Path | None = None,
    output_csv: str | Path | None = None,
    lang: str = "en",
    html: bool = False,
    figures: bool = True,
    figure_formats: Sequence[str] | str = ("png", "svg"),
    **overrides: Any,
):
    """Python API of ``emoalign sweep``: the study of ``source`` against every target (each pair
    written; the source read from the cache after the first), then the comparative report.
    ``overrides`` as for :func:`run` (``control="untrained"`` adds each target's untrained control)."""
    from emoalign.study.sweep import check_targets, sweep_report

    models = {"source": source} if source is not None else {}
    study, run_time = resolve(config, runtime, {**models, **overrides})
    configs = [replace(study, target=target) for target in check_targets(targets)]
    done = run_studies(configs, run_time, command_name="run")
    return sweep_report(
        done, report=report, report_dir=study.report_dir, output_csv=output_csv, results_dir=study.results_dir,
        lang=lang, html=html, figures=figures, figure_formats=figure_formats, command=run_time.command,
    )


def steer(
    source: Any = None,
    target: Any = None,
    config: StudyConfig | str | Path | None = None,
    *,
    runtime: Runtime | None = None,
    **overrides: Any,
):
    """Python API of ``emoalign steer``: the causal test alone. The source's emotion vectors, carried
    into the target through a source→target map fitted on the neutral word pairs, steer the target
    beside its own vectors, random directions and maps fitted on shuffled pairs (activations through
    the cache). ``overrides`` as for :func:`run`, plus ``steer_scales``, ``steer_prompts``,
    ``steer_random``, ``steer_shuffles`` and ``generate``.

    Returns the :class:`~emoalign.core.steering.SteeringResult` (``.cells``: effects, efficiency,
    p-values and verdicts per layer pair and emotion), or the one-line reason the target cannot be
    steered (an encoder has no next-token head)."""
    models = {key: value for key, value in (("source", source), ("target", target)) if value is not None}
    study, run_time = resolve(config, runtime, {**models, **overrides})
    return run_steering(study, run_time)
