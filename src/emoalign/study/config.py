"""What a study is (:class:`StudyConfig`) and how it runs (:class:`Runtime`): one frozen record each,
shared by the Python API, the command line, the demo and the Ray fan-out.

Every option of ``emoalign run`` / ``align`` / ``sweep`` is a field of one of them, under the same
name as the option's destination (``--map`` is ``map_method``, ``--permutations`` is
``n_permutations``; :data:`FLAGS` lists the flags spelled otherwise). TOML files use the long
flags as keys, as the command line does: :meth:`StudyConfig.to_options` / :func:`read_study_config`
are the one place where a config becomes TOML and back.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from emoalign.analysis.alignment import AlignConfig
from emoalign.core.errors import EmoalignError
from emoalign.core.layers import parse_layers

__all__ = [
    "StudyConfig", "Runtime", "FLAGS", "CONTROLS", "CLI_ONLY", "split_overrides", "read_study_config",
    "options_for_file", "options_from_file",
]

#: field -> long flag, where the flag is not the field's name with ``-`` for ``_``
FLAGS: dict[str, str] = {
    "map_method": "map",
    "n_permutations": "permutations",
    "n_bootstrap": "bootstrap",
    "n_pairing_permutations": "pairing-permutations",
}
#: controls a study can add: ``untrained`` (the target's architecture with random weights, seeded
#: seed + 1) and ``random`` (both models with random weights, seeds seed + 1 and seed + 2)
CONTROLS: tuple[str, ...] = ("untrained", "random")
#: the causal test: auto (on where the target has a next-token head, skipped with a line for an
#: encoder), on, off
STEER_MODES: tuple[str, ...] = ("auto", "on", "off")
#: options of the command line that are neither a study nor its runtime (how the command is read,
#: or the sweep's and compare's report, which are arguments of :func:`emoalign.sweep`)
CLI_ONLY: dict[str, str] = {
    "config": "the TOML file the options are read from",
    "log_level": "messages on stderr (emoalign.core.log.set_level in Python)",
    "model": "`extract`'s one model: the first argument of emoalign.extract()",
    "targets": "`sweep`'s targets: the second argument of emoalign.sweep()",
    "write_report": "the comparative report of `sweep` (emoalign.sweep(report=...))",
    "output_csv": "the comparative CSV of `sweep` (emoalign.sweep(output_csv=...))",
    "html": "the HTML page of `sweep` (emoalign.sweep(html=...))",
    "lang": "the report language of `sweep` (emoalign.sweep(lang=...))",
    "no_figures": "no figures for `sweep` (emoalign.sweep(figures=False))",
    "figure_formats": "the figure files of `sweep` (emoalign.sweep(figure_formats=...))",
}


def _flag(name: str) -> str:
    return FLAGS.get(name, name.replace("_", "-"))


def _field_of(key: str) -> str:
    """A field name from a TOML key or keyword: the long flag (``map``, ``n-components``) or the field."""
    key = key.lstrip("-").replace("-", "_")
    return {flag.replace("-", "_"): name for name, flag in FLAGS.items()}.get(key, key)


def _layers(value: Any, flag: str) -> tuple[int, ...] | None:
    """``None`` (every layer) or a tuple of layer numbers from ints, a range, or the command line's
    words (``0 1 2``, ``0-11``, ``all``)."""
    if value is None:
        return None
    if isinstance(value, (int, str)):
        value = [value]
    try:
        words = [str(v) for v in value]
    except TypeError:
        raise EmoalignError(f"{flag} {value!r}: expected layer numbers, a range or 'all'") from None
    parsed = parse_layers(words, flag, unique=flag == "--layers")  # target layers pair positionally: 5 5 is valid
    return None if parsed is None else tuple(parsed)


def _path(value: Any) -> Any:
    return Path(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class StudyConfig:
    """Everything that decides a study's numbers and where they are written.

    Models: ``source``/``target`` are preset names, hub ids, folders or ``.gguf`` files, or a
    ``transformers`` model you loaded (alone or ``(model, tokenizer)``), extracted as it is.
    """

    # models
    source: Any = "gpt2"
    target: Any = "llama3_8b"
    # data
    profile: str = "baseline"
    dataset: Any = None  # a JSONL file or folder of prompts, or a PromptDataset (default: the profile)
    reference_label: str = "neutral"
    lexicon: Any = None  # a JSON file or a {label: [word regex, ...]} mapping (default: built in)
    max_samples_per_emotion: int | None = None
    # layers
    layers: tuple[int, ...] | None = None  # None: every layer of the source
    target_layers: tuple[int, ...] | None = None
    layer_match: str = "index"
    # loading and reading positions
    device: str = "auto"
    dtype: str = "auto"
    revision: str | None = None
    device_map: str | None = None
    trust_remote_code: bool = False
    allow_pickle_weights: bool = False
    batch_size: int = 16
    position_policy: str = "all"
    bos: str = "auto"
    # analysis
    n_components: tuple[int, ...] = (8,)  # several: a k-sweep, one study per k
    map_method: str = "ridge"
    fit_data: str = "neutral-words"
    metric: str = "bounded"
    reference: str = "mean"
    seed: int = 0
    heldout_fraction: float = 0.2
    n_permutations: int = 200
    n_bootstrap: int = 1000
    n_pairing_permutations: int = 50
    alpha: float = 0.05
    baseline_seeds: int = 20
    k_profile: tuple[int, ...] = (2, 4, 8, 16)
    control: tuple[str, ...] = ()  # controls studied after the pair (CONTROLS)
    untrained_target: bool = False  # the untrained control instead of the pair
    # the causal test (decoders): emoalign.study.steer
    steer: str = "auto"  # auto: on for a target with a next-token head; on; off
    steer_scales: tuple[float, ...] = (0.05, 0.1, 0.2)  # fractions of the target's median residual norm
    steer_prompts: int = 16  # neutral prompts held out to steer on
    steer_random: int = 20  # random directions (the null)
    steer_shuffles: int = 20  # maps fitted on shuffled pairs (the pairing null)
    generate: int = 0  # greedy continuations of this many prompts per condition, shown in the report
    # output
    results_dir: Path = Path("results")
    cache_dir: Path | None = None  # default: <results_dir>/cache
    report_dir: Path = Path("docs/report")
    study_name: str | None = None  # the folder under results_dir (default: the prompt set's name)
    k_folder: bool = False  # each k in <study>/k<k>/ (always so in a k-sweep)
    write: bool = True  # False: nothing is written (the cache goes to a temporary folder)
    overwrite: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # a frozen record normalises its own input once
        set_(self, "layers", _layers(self.layers, "--layers"))
        set_(self, "target_layers", _layers(self.target_layers, "--target-layers"))
        ks = (self.n_components,) if isinstance(self.n_components, int) else tuple(self.n_components)
        if not ks:
            raise EmoalignError("--n-components: give at least one k")
        set_(self, "n_components", tuple(int(k) for k in ks))
        set_(self, "k_profile", tuple(int(k) for k in self.k_profile))
        scales = (self.steer_scales,) if isinstance(self.steer_scales, (int, float)) else self.steer_scales
        set_(self, "steer_scales", tuple(float(s) for s in scales))
        if self.steer not in STEER_MODES:
            raise EmoalignError(f"--steer {self.steer}: unknown (use {', '.join(STEER_MODES)})")
        if self.steer != "off":
            self.steer_settings()  # checked now, with the flag at fault
        control = (self.control,) if isinstance(self.control, str) else tuple(self.control or ())
        unknown = [c for c in control if c not in CONTROLS]
        if unknown:
            raise EmoalignError(f"--control {unknown[0]}: unknown (use {', '.join(CONTROLS)})")
        set_(self, "control", control)
        set_(self, "dtype", "auto" if self.dtype is None else str(self.dtype))
        for name in ("results_dir", "cache_dir", "report_dir", "dataset", "lexicon"):
            set_(self, name, _path(getattr(self, name)))
        limit = self.max_samples_per_emotion
        if limit is not None and limit < 1:
            raise EmoalignError(f"--max-samples-per-emotion {limit}: must be at least 1")
        for k in self.n_components:
            self.align_config(k)  # every k's analysis settings checked at once, with the flag at fault

    def align_config(self, k: int | None = None) -> AlignConfig:
        """The analysis settings of one k (default: the first)."""
        return AlignConfig(
            n_components=self.n_components[0] if k is None else k, map_method=self.map_method,
            fit_data=self.fit_data, metric=self.metric, reference=self.reference, layer_match=self.layer_match,
            seed=self.seed, heldout_fraction=self.heldout_fraction, n_permutations=self.n_permutations,
            n_bootstrap=self.n_bootstrap, n_pairing_permutations=self.n_pairing_permutations, alpha=self.alpha,
            baseline_seeds=self.baseline_seeds, k_profile=self.k_profile,
        )

    def steer_settings(self):
        """The causal test's settings (:class:`emoalign.study.steer.SteerSettings`)."""
        from emoalign.study.steer import SteerSettings

        return SteerSettings(
            scales=self.steer_scales, n_prompts=self.steer_prompts, n_random=self.steer_random,
            n_shuffles=self.steer_shuffles, generate=self.generate, alpha=self.alpha, n_bootstrap=self.n_bootstrap,
            seed=self.seed, map_method=self.map_method,
        )

    @property
    def resolved_cache_dir(self) -> Path:
        """``cache_dir``, or ``<results_dir>/cache``."""
        return self.cache_dir if self.cache_dir is not None else self.results_dir / "cache"

    def with_overrides(self, **overrides: Any) -> StudyConfig:
        """A copy with some fields replaced (keys: field names or long flags); an unknown key is an error."""
        known = {f.name for f in fields(self)}
        values = {_field_of(key): value for key, value in overrides.items()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise EmoalignError(f"unknown study option {unknown[0]!r} (see emoalign.StudyConfig)")
        return replace(self, **values)

    def to_options(self) -> dict[str, Any]:
        """The config as the command line's options (long flag -> value; unset ones left out), the
        keys and values of a TOML file that ``--config`` reads back; None where a field holds an
        object that has no text form (a loaded model, a PromptDataset, a lexicon mapping)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or item.name in ("write",):
                continue
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value] if item.name in ("layers", "target_layers") else list(value)
            elif not isinstance(value, (str, int, float, bool)):
                return None  # type: ignore[return-value]
            if item.name == "control" and not value:
                continue
            out[_flag(item.name)] = value
        if self.layers is None:
            out["layers"] = ["all"]
        return out

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, base: StudyConfig | None = None) -> StudyConfig:
        """A config from options keyed by long flag or field name (a TOML file's table), over ``base``."""
        return (base or cls()).with_overrides(**dict(options))


@dataclass(frozen=True)
class Runtime:
    """How a study runs, never what it computes: the numbers are the same for every runtime."""

    quiet: bool | None = None  # None: progress bars in a terminal or notebook, none otherwise
    workers: int = 1  # processes for the statistics (0: one per CPU core)
    executor: Any = "local"  # "local", "ray", or an Executor (emoalign.execution.make_executor)
    ray_address: str | None = None
    task_retries: int = 2
    gpus_per_task: float | None = None
    threads: int | None = None  # torch threads for the forward passes
    mlflow: str | None = None  # log each study to MLflow: a tracking URI or folder
    command: str | None = None  # the command line recorded with the results

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise EmoalignError(f"--workers {self.workers}: use a number of processes >= 1, or 0 for one per CPU core")
        if self.gpus_per_task is not None and not self.gpus_per_task >= 0:
            raise EmoalignError(f"--gpus-per-task {self.gpus_per_task}: must be 0 or more")
        if self.threads is not None and self.threads < 1:
            raise EmoalignError(f"--threads {self.threads}: must be at least 1")
        if self.task_retries < 0:
            raise EmoalignError(f"--task-retries {self.task_retries}: must be 0 or more")

    def to_options(self) -> dict[str, Any]:
        """The runtime as command-line options (what a TOML file may hold besides the study)."""
        out = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "command" or value is None or not isinstance(value, (str, int, float, bool)):
                continue
            out[_flag(item.name)] = value
        return out


RUNTIME_FIELDS: frozenset[str] = frozenset(f.name for f in fields(Runtime))
STUDY_FIELDS: frozenset[str] = frozenset(f.name for f in fields(StudyConfig))


def split_overrides(
    config: StudyConfig | None, runtime: Runtime | None, overrides: Mapping[str, Any]
) -> tuple[StudyConfig, Runtime]:
    """``config`` and ``runtime`` with the keyword overrides applied, each key to the record it belongs
    to (an unknown key is one error naming it)."""
    study, run = {}, {}
    for key, value in overrides.items():
        name = _field_of(key)
        if name in RUNTIME_FIELDS:
            run[name] = value
        elif name in STUDY_FIELDS:
            study[name] = value
        else:
            raise EmoalignError(
                f"unknown option {key!r}: not a field of emoalign.StudyConfig or emoalign.Runtime"
            )
    return (config or StudyConfig()).with_overrides(**study), replace(runtime or Runtime(), **run)


#: options that name a file or folder: written relative to the config file, read against it
PATH_OPTIONS: tuple[str, ...] = ("dataset", "lexicon", "results-dir", "cache-dir", "report-dir")
#: options that name a model: a local folder or file is written as an absolute path (a preset
#: or hub id is left as it is)
MODEL_OPTIONS: tuple[str, ...] = ("source", "target", "large-model", "model", "targets")


def _key_name(key: str) -> str:
    return key.lstrip("-").replace("_", "-")


def options_for_file(options: Mapping[str, Any], folder: str | Path) -> dict[str, Any]:
    """``options`` as a config file in ``folder`` holds them: paths relative to that folder (so the
    file reads the same from any working directory, and moves with its results), local models
    absolute."""
    folder = Path(folder).resolve()
    out = dict(options)
    for key, value in options.items():
        name = _key_name(key)
        if name in PATH_OPTIONS and isinstance(value, str):
            out[key] = os.path.relpath(Path(value).resolve(), folder)
        elif name in MODEL_OPTIONS:
            out[key] = ([_model_for_file(v) for v in value] if isinstance(value, list) else _model_for_file(value))
    return out


def _model_for_file(value: Any) -> Any:
    return str(Path(value).resolve()) if isinstance(value, str) and Path(value).exists() else value


def options_from_file(options: Mapping[str, Any], folder: str | Path) -> dict[str, Any]:
    """The options of a config file in ``folder`` with its relative paths read against that folder
    (a relative model path too, where it names something there; else it is a preset or hub id)."""
    folder = Path(folder)
    out = dict(options)
    for key, value in options.items():
        name = _key_name(key)
        if name in PATH_OPTIONS and isinstance(value, str) and not Path(value).is_absolute():
            out[key] = os.path.normpath(folder / value)
        elif name in MODEL_OPTIONS:
            out[key] = ([_model_from_file(v, folder) for v in value] if isinstance(value, list)
                        else _model_from_file(value, folder))
    return out


def _model_from_file(value: Any, folder: Path) -> Any:
    if isinstance(value, str) and not Path(value).is_absolute() and (folder / value).exists():
        return os.path.normpath(folder / value)
    return value


def read_study_config(path: str | Path) -> tuple[StudyConfig, Runtime]:
    """The study and runtime of a TOML file (keys as the command line's long flags, as written beside
    every study's artifacts); one error line naming the file and key at fault."""
    from emoalign.io.config_file import read_config

    options = options_from_file(read_config(path), Path(path).parent)
    try:
        return split_overrides(None, None, {key: _toml_value(key, value) for key, value in options.items()})
    except (EmoalignError, TypeError, ValueError) as exc:
        raise EmoalignError(f"--config {path}: {exc}") from None


def _toml_value(key: str, value: Any) -> Any:
    """A TOML value as the field takes it (the command line's ``dtype = "auto"``, ``control = "untrained"``)."""
    name = _field_of(key)
    if name in ("layers", "target_layers") and isinstance(value, list) and value == ["all"]:
        return None
    return value


def field_names() -> dict[str, list[str]]:
    """The fields of each record, for documentation and the CLI-to-config test."""
    return {"StudyConfig": [f.name for f in dataclasses.fields(StudyConfig)],
            "Runtime": [f.name for f in dataclasses.fields(Runtime)]}
