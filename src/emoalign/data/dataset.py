"""Prompt datasets: the built-in profiles and the two user formats (JSONL, per-label folder)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from emoalign.core.errors import EmoalignError
from emoalign.core.text import check_text, printable, read_user_text

__all__ = [
    "MAX_DATASET_BYTES", "PROFILES", "PROFILE_SIZES", "Prompt", "PromptDataset", "load_dataset", "load_profile",
]

PROFILES: tuple[str, ...] = ("baseline", "extended")
PROFILE_SIZES: dict[str, int] = {"baseline": 70, "extended": 100}
_FOLDER_SUFFIX = "_prompts.json"
# A prompt is a sentence or a short paragraph; the limit is checked before any tokenizer or model
# runs (a 50 MB "prompt" once tokenized for minutes, then supplied most of the map's fit pairs).
MAX_PROMPT_CHARACTERS = 4000
#: The largest dataset file read (a JSONL file, or each file of a folder): far above any prompt set
#: (10,000 prompts of the longest kind are 40 MB), far below what would exhaust memory.
MAX_DATASET_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Prompt:
    """One prompt sentence and its label."""

    text: str
    label: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise EmoalignError(f"prompt text must be a non-empty string, got {self.text!r}")
        if not isinstance(self.label, str) or not self.label.strip():
            raise EmoalignError(f"prompt label must be a non-empty string, got {self.label!r} for {self.text!r}")
        check_text(self.text, f"prompt text {self.text[:60]!r}")
        check_text(self.label, f"prompt label {self.label!r}", controls=True)


def _check_prompts(prompts: Sequence[Prompt], reference_label: str, where: str) -> None:
    """Raise EmoalignError when the dataset is empty, lacks the reference or has no emotion label."""
    if not prompts:
        raise EmoalignError(f"{where}: dataset is empty (no prompts)")
    labels = list(dict.fromkeys(p.label for p in prompts))
    if reference_label not in labels:
        raise EmoalignError(
            f"{where}: reference label {reference_label!r} not found; labels present: {', '.join(labels)}"
        )
    if len(labels) < 2:
        raise EmoalignError(
            f"{where}: needs at least one emotion label besides the reference {reference_label!r}"
        )
    position: dict[str, int] = {}
    seen: dict[str, tuple[str, int]] = {}
    for p in prompts:
        position[p.label] = position.get(p.label, 0) + 1
        here = f"prompt {position[p.label]} of {p.label!r}"
        if len(p.text) > MAX_PROMPT_CHARACTERS:
            raise EmoalignError(
                f"{where}: {here} is {len(p.text):,} characters; a prompt may have at most "
                f"{MAX_PROMPT_CHARACTERS:,} (a sentence or short paragraph): split it"
            )
        # Repeats are pseudo-replication: they inflate the map's R^2 and narrow every interval.
        key = " ".join(p.text.split()).casefold()
        if key in seen:
            label, index = seen[key]
            raise EmoalignError(
                f"{where}: {here} duplicates prompt {index} of {label!r} (same words up to case and "
                "spacing); remove the repeat"
            )
        seen[key] = (p.label, position[p.label])


@dataclass(frozen=True)
class PromptDataset:
    """An ordered, immutable set of labelled prompts with one reference (neutral) label."""

    name: str
    prompts: tuple[Prompt, ...]
    reference_label: str = "neutral"

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompts", tuple(self.prompts))
        for p in self.prompts:
            if not isinstance(p, Prompt):
                raise EmoalignError(f"dataset {self.name!r}: prompts must be Prompt objects, got {type(p).__name__}")
        _check_prompts(self.prompts, self.reference_label, f"dataset {self.name!r}")

    @property
    def labels(self) -> tuple[str, ...]:
        """All labels in first-appearance order, the reference label last."""
        seen = dict.fromkeys(p.label for p in self.prompts if p.label != self.reference_label)
        return (*seen, self.reference_label)

    @property
    def emotion_labels(self) -> tuple[str, ...]:
        """The labels other than the reference, in first-appearance order."""
        return self.labels[:-1]

    def texts(self, label: str) -> list[str]:
        """Texts of one label, in dataset order; unknown label → EmoalignError."""
        if label not in self.labels:
            raise EmoalignError(
                f"dataset {self.name!r}: unknown label {label!r}; labels: {', '.join(self.labels)}"
            )
        return [p.text for p in self.prompts if p.label == label]

    def label_counts(self) -> dict[str, int]:
        """Number of prompts per label, in ``labels`` order."""
        counts = dict.fromkeys(self.labels, 0)
        for p in self.prompts:
            counts[p.label] += 1
        return counts

    def limit_per_label(self, n: int | None) -> PromptDataset:
        """The first ``n`` prompts of each label (dataset order kept); ``None`` → unchanged."""
        if n is None:
            return self
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise EmoalignError(f"limit per label must be a positive integer, got {n!r}")
        taken: dict[str, int] = {}
        kept: list[Prompt] = []
        for p in self.prompts:
            if taken.get(p.label, 0) < n:
                taken[p.label] = taken.get(p.label, 0) + 1
                kept.append(p)
        return PromptDataset(self.name, tuple(kept), self.reference_label)

    def content_hash(self) -> str:
        """SHA-256 hex of the reference label and the ordered (text, label) pairs; name excluded."""
        canonical = json.dumps(
            {"reference_label": self.reference_label, "prompts": [[p.text, p.label] for p in self.prompts]},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- built-in profiles


@functools.lru_cache(maxsize=1)
def _builtin_document() -> dict:
    path = resources.files("emoalign.data").joinpath("builtin").joinpath("prompts.json")
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def load_profile(name: str) -> PromptDataset:
    """The built-in prompt profile ``baseline`` (70 per label) or ``extended`` (100 per label).

    Prompts are grouped by label (gratitude, anger, apology, neutral); ``baseline`` is the first
    70 of each label of ``extended``.
    """
    if name not in PROFILE_SIZES:
        raise EmoalignError(f"unknown prompt profile {name!r}; known profiles: {', '.join(PROFILES)}")
    doc = _builtin_document()
    n = PROFILE_SIZES[name]
    prompts = tuple(Prompt(text, label) for label in doc["labels"] for text in doc["prompts"][label][:n])
    return PromptDataset(name, prompts, doc["reference_label"])


# --------------------------------------------------------------------------- user datasets


def _check_label(label: str, labels: Sequence[str] | None, where: str, field: str) -> None:
    if labels is not None and label not in labels:
        raise EmoalignError(f"{where}: unknown label {label!r} in {field}; expected one of: {', '.join(labels)}")


def _read_text(path: Path) -> str:
    """A dataset file's text: a regular file of at most MAX_DATASET_BYTES, UTF-8 (else one error line)."""
    return read_user_text(path, limit=MAX_DATASET_BYTES, what="dataset")


def _parse_json(text: str, where: str, *, line: bool = True) -> object:
    """``json.loads`` with every failure one error naming ``where`` (and the line, with ``line``),
    nesting deeper than the parser's recursion limit included: no prompt file needs more than two levels."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f":{exc.lineno}" if line else ""
        raise EmoalignError(f"{where}{at}: malformed JSON ({exc.msg}, column {exc.colno})") from None
    except RecursionError:
        raise EmoalignError(f"{where}: JSON nested too deeply (a prompt record is one flat object)") from None


def _check_string(value: str, where: str, field: str, *, label: bool = False) -> None:
    """A string field of a dataset file holds text: no lone surrogate (nor, for a label, a control character)."""
    check_text(value, f"{where}: field {field!r}", controls=label)


def _load_jsonl(path: Path, labels: Sequence[str] | None) -> list[Prompt]:
    prompts: list[Prompt] = []
    name = printable(path)
    # JSON Lines are separated by "\n" alone: str.splitlines would also split inside a JSON string
    # holding U+2028, U+0085 or a form feed, all valid JSON.
    for lineno, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        record = _parse_json(line, where, line=False)
        if not isinstance(record, dict):
            raise EmoalignError(f"{where}: record must be a JSON object, got {type(record).__name__}")
        if "text" not in record:
            raise EmoalignError(f"{where}: missing field 'text'")
        text = record["text"]
        if not isinstance(text, str):
            raise EmoalignError(f"{where}: field 'text' must be a string, got {type(text).__name__}")
        if not text.strip():
            raise EmoalignError(f"{where}: field 'text' is empty")
        _check_string(text, where, "text")
        present = [k for k in ("emotion", "label") if k in record]
        if not present:
            raise EmoalignError(f"{where}: missing label field 'emotion' (or 'label')")
        if len(present) == 2 and record["emotion"] != record["label"]:
            raise EmoalignError(
                f"{where}: fields 'emotion' ({record['emotion']!r}) and 'label' ({record['label']!r}) disagree"
            )
        field = present[0]
        label = record[field]
        if not isinstance(label, str) or not label.strip():
            raise EmoalignError(f"{where}: field {field!r} must be a non-empty string, got {label!r}")
        _check_string(label, where, field, label=True)
        _check_label(label, labels, where, f"field {field!r}")
        prompts.append(Prompt(text, label))
    return prompts


def _load_folder(path: Path, labels: Sequence[str] | None) -> list[Prompt]:
    files = sorted(path.glob(f"*{_FOLDER_SUFFIX}"))
    if not files:
        raise EmoalignError(f"{printable(path)}: folder has no '<label>{_FOLDER_SUFFIX}' files")
    if labels is not None:  # the caller's label order first, unknown labels are rejected below
        order = {lab: i for i, lab in enumerate(labels)}
        files.sort(key=lambda f: (order.get(f.name[: -len(_FOLDER_SUFFIX)], len(order)), f.name))
    prompts: list[Prompt] = []
    total = 0
    for file in files:
        label = file.name[: -len(_FOLDER_SUFFIX)]
        where = printable(file)
        if not label.strip():
            raise EmoalignError(f"{where}: file name gives an empty label (expected '<label>{_FOLDER_SUFFIX}')")
        check_text(label, f"{where}: the label of the file name", controls=True)
        _check_label(label, labels, where, "the file name")
        text = _read_text(file)
        total += len(text)
        if total > MAX_DATASET_BYTES:  # the bound of one dataset file holds for the folder as a whole
            raise EmoalignError(
                f"{printable(path)}: the dataset folder holds more than the {MAX_DATASET_BYTES // 2**20} MiB "
                f"a dataset may have (at {where})"
            )
        doc = _parse_json(text, where)
        if not isinstance(doc, dict) or not isinstance(doc.get("prompts"), list):
            raise EmoalignError(f"{where}: expected an object with a 'prompts' list")
        if not doc["prompts"]:
            raise EmoalignError(f"{where}: field 'prompts' is empty")
        for i, text in enumerate(doc["prompts"]):
            if not isinstance(text, str):
                raise EmoalignError(f"{where}: field 'prompts[{i}]' must be a string, got {type(text).__name__}")
            if not text.strip():
                raise EmoalignError(f"{where}: field 'prompts[{i}]' is empty")
            _check_string(text, where, f"prompts[{i}]")
            prompts.append(Prompt(text, label))
    return prompts


def load_dataset(
    path: str | os.PathLike[str],
    reference_label: str = "neutral",
    labels: Sequence[str] | None = None,
) -> PromptDataset:
    """Load a user dataset: a JSONL file or a folder of ``<label>_prompts.json`` files.

    JSONL: one object per line, ``{"text": ..., "emotion": ...}`` (``label`` is accepted for
    ``emotion``); blank lines are ignored. Folder: each ``<label>_prompts.json`` holds
    ``{"prompts": [...]}``. ``labels``, when given, is the allowed label set (and the folder
    order). The dataset is named after the file (without extension) or folder. Every problem
    raises EmoalignError naming the file and the line or field at fault.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"dataset: expected a path (str or os.PathLike) or a PromptDataset, got {type(path).__name__}")
    p = Path(path)
    if not p.exists():
        raise EmoalignError(f"{printable(p)}: dataset path does not exist")
    if labels is not None:
        labels = list(labels)
        if reference_label not in labels:
            raise EmoalignError(
                f"{p}: reference label {reference_label!r} is not among the given labels: {', '.join(labels)}"
            )
    if p.is_dir():
        prompts, name = _load_folder(p, labels), p.resolve().name
    else:  # a JSONL file; anything else (a pipe, a device) is refused by the reader, without blocking
        prompts, name = _load_jsonl(p, labels), p.stem
    _check_prompts(prompts, reference_label, printable(p))
    return PromptDataset(name, tuple(prompts), reference_label)


def resolve_dataset(dataset: PromptDataset | str | os.PathLike[str] | None, profile: str = "baseline") -> PromptDataset:
    """The prompts of the Python API's ``dataset=`` argument: a :class:`PromptDataset` as given, a
    user dataset read from a path, or (``None``) the built-in ``profile``."""
    if isinstance(dataset, PromptDataset):
        return dataset
    return load_dataset(dataset) if dataset is not None else load_profile(profile)
