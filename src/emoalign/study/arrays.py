"""Bring your own activations: the whole analysis from plain arrays, no model needed.

Activations captured elsewhere (TransformerLens ``ActivationCache``, nnsight ``.save()``, your own
hooks) go in per model as a :class:`ModelActivations`; :func:`analyze` runs the same vectors ->
subspaces -> maps -> overlaps, statistics and verdicts as :func:`emoalign.run`, and returns the
same :class:`~emoalign.core.results.AlignmentResult` (tables, ``save``, reports).
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from emoalign.core.activations import ActivationSet
from emoalign.core.errors import EmoalignError
from emoalign.core.layers import EMBEDDING_LAYER, blocks_needed
from emoalign.core.log import get_logger
from emoalign.core.text import check_text

__all__ = ["ModelActivations", "TokenPlan", "token_plan", "from_arrays", "analyze", "LayerArrays"]

log = get_logger(__name__)

#: One model's activations over layers: an (L, n, d) array (with ``layers``), an (n, d) array for
#: a single layer, or a mapping ``{layer: (n, d) array}``; numpy arrays or CPU/GPU torch tensors.
LayerArrays = Union[np.ndarray, Mapping[int, Any], Any]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_int(value: Any, what: str, *, optional: bool = False, low: int | None = None) -> None:
    """TypeError naming ``what`` unless ``value`` is an integer (or None, with ``optional``);
    EmoalignError when it is below ``low``."""
    if value is None and optional:
        return
    if not _is_int(value):
        raise TypeError(f"{what}: expected an integer{' or None' if optional else ''}, got {type(value).__name__} "
                        f"{value!r}")
    if low is not None and value < low:
        raise EmoalignError(f"{what}: must be at least {low}, got {value}")


def _check_str(value: Any, what: str, *, optional: bool = False) -> None:
    """TypeError naming ``what`` unless ``value`` is a non-empty string of text (or None, with ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError(f"{what}: expected a string, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise EmoalignError(f"{what}: must not be empty")
    check_text(value, f"{what} {value!r}", controls=True)


def _check_strings(value: Any, what: str, *, optional: bool = False) -> None:
    """TypeError naming ``what`` unless ``value`` is a sequence (not one string) of strings."""
    if value is None and optional:
        return
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{what}: expected a sequence of strings, got {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise TypeError(f"{what}[{i}]: expected a string, got {type(item).__name__} {item!r}")
        check_text(item, f"{what}[{i}]")


@dataclass(frozen=True)
class ModelActivations:
    """One model's activations as plain arrays, prompt ``i`` of one model paired with prompt ``i``
    of the other.

    Attributes
    ----------
    emotion : (L, n, d) array, (n, d) array or {layer: (n, d)}
        Pooled activation at the emotion word (or any position you choose) of every emotion prompt.
    labels : sequence of n str
        Emotion label of each row of ``emotion`` (for example "gratitude", "anger", "apology").
    reference : (L, m, d) array, (m, d) array or {layer: (m, d)}
        Activations of the reference (neutral) prompts: their mean is subtracted to form emotion
        vectors (``reference="index"``: row i from emotion row i); with ``fit_data="neutral-last"``
        the maps are fitted on them.
    paired : (L, p, d) array, (p, d) array or {layer: (p, d)}, optional
        Reference activations paired row by row across the two models to fit the maps on
        (``fit_data="neutral-words"``, the default): emoalign uses every word of every neutral
        prompt. Defaults to ``reference``.
    layers : sequence of int, optional
        Layer numbers of the rows of a stacked array (default 0..L-1); a mapping names its own.
        Layer -1 is the input embeddings (HF ``hidden_states[0]``): given for both models, it is
        analysed as the lexical floor, the reference every layer's overlap is compared with.
    name : str
        Model name used in tables, reports and file names.
    n_layers : int, optional
        The model's depth (for ``layer_match="depth"``); default: the deepest layer given + 1.
    seed : int, optional
        For a random-weight copy in ``baseline``: the seed it was built with (recorded).
    """

    emotion: LayerArrays
    labels: Sequence[str]
    reference: LayerArrays
    paired: LayerArrays | None = None
    layers: Sequence[int] | None = None
    name: str = "model"
    n_layers: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        _check_str(self.name, "ModelActivations name")
        what = f"{self.name}: "
        if isinstance(self.labels, (str, bytes)) or not isinstance(self.labels, Sequence):
            raise TypeError(f"{what}labels: expected a sequence of labels, got {type(self.labels).__name__}")
        for label in self.labels:
            check_text(str(label), f"{what}label {str(label)!r}", controls=True)
        if self.layers is not None:
            if isinstance(self.layers, (str, bytes)) or not all(_is_int(layer) for layer in np.ravel(self.layers)):
                raise TypeError(f"{what}layers: expected a sequence of integers, got {self.layers!r}")
        _check_int(self.n_layers, f"{what}n_layers", optional=True, low=1)
        _check_int(self.seed, f"{what}seed", optional=True, low=0)
        for role in ("emotion", "reference", "paired"):
            value = getattr(self, role)
            if (value is None and role != "paired") or isinstance(value, (str, bytes)):
                raise TypeError(f"{what}{role}: expected activations (an array or {{layer: array}}), got "
                                f"{type(value).__name__}")

    @classmethod
    def from_activation_set(cls, acts: ActivationSet) -> ModelActivations:
        """The arrays of an :class:`~emoalign.core.activations.ActivationSet` (e.g. a cached extraction)."""
        reference = acts.label_mask(acts.reference_label)
        return cls(
            emotion=acts.prompt_acts[:, ~reference],
            labels=[label for label, ref in zip(acts.labels, reference) if not ref],
            reference=acts.prompt_acts[:, reference],
            paired=acts.word_acts,
            layers=acts.layers,
            name=str(acts.model.get("name", "model")),
            n_layers=acts.model.get("n_layers"),
            seed=acts.model.get("random_seed"),
        )


def _numpy(x: Any, what: str) -> np.ndarray:
    """A float32 numpy copy of an array-like (torch tensors on any device included)."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch
        x = x.detach().float().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EmoalignError(f"{what}: cannot read it as a numeric array ({exc})") from None


def _stack(data: LayerArrays, layers: Sequence[int] | None, what: str) -> tuple[tuple[int, ...], np.ndarray]:
    """``(layers, (L, n, d) float32 array)`` from any of the accepted layouts."""
    if isinstance(data, Mapping):
        if not data:
            raise EmoalignError(f"{what}: no layers given")
        keys = sorted(data)
        if layers is not None and sorted(layers) != keys:
            raise EmoalignError(f"{what}: layers {keys} but `layers` says {sorted(layers)}")
        arrays = [_numpy(data[k], f"{what} layer {k}") for k in keys]
        if any(a.ndim != 2 for a in arrays) or len({a.shape for a in arrays}) != 1:
            raise EmoalignError(f"{what}: every layer must be one (n, d) array of the same shape")
        return tuple(int(k) for k in keys), np.stack(arrays)
    arr = _numpy(data, what)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise EmoalignError(f"{what}: expected an (n_layers, n, d) or (n, d) array, got shape {arr.shape}")
    found = tuple(range(arr.shape[0])) if layers is None else tuple(int(x) for x in layers)
    if len(found) != arr.shape[0] or len(set(found)) != len(found):
        raise EmoalignError(f"{what}: {arr.shape[0]} layers in the array but layers={list(found)}")
    order = np.argsort(found, kind="stable")
    return tuple(found[i] for i in order), arr[order]


def _dataset(labels: Sequence[str], n_reference: int, n_paired: int, texts: Sequence[str], name: str) -> dict:
    payload = json.dumps({"labels": list(labels), "reference": n_reference, "paired": n_paired, "texts": list(texts)})
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return {"name": name, "hash": hashlib.sha256(payload.encode()).hexdigest(), "label_counts": counts}


def _activation_set(
    model: ModelActivations, reference_label: str, texts: Sequence[str] | None, dataset_name: str
) -> ActivationSet:
    labels = tuple(str(label) for label in model.labels)
    if reference_label in labels:
        raise EmoalignError(
            f"{model.name}: the emotion labels include the reference label {reference_label!r}; give the reference "
            "prompts as `reference`"
        )
    layers, emotion = _stack(model.emotion, model.layers, f"{model.name} emotion activations")
    ref_layers, reference = _stack(model.reference, model.layers if not isinstance(model.reference, Mapping) else None,
                                   f"{model.name} reference activations")
    paired_source = model.reference if model.paired is None else model.paired
    paired_layers, paired = _stack(
        paired_source, model.layers if not isinstance(paired_source, Mapping) else None,
        f"{model.name} paired reference activations",
    )
    if not (layers == ref_layers == paired_layers):
        raise EmoalignError(
            f"{model.name}: emotion, reference and paired activations must cover the same layers, got "
            f"{list(layers)}, {list(ref_layers)} and {list(paired_layers)}"
        )
    if emotion.shape[1] != len(labels):
        raise EmoalignError(f"{model.name}: {emotion.shape[1]} emotion activations but {len(labels)} labels")
    if not (emotion.shape[2] == reference.shape[2] == paired.shape[2]):
        raise EmoalignError(f"{model.name}: emotion, reference and paired activations differ in width d")
    n, m, p = emotion.shape[1], reference.shape[1], paired.shape[1]
    all_labels = labels + (reference_label,) * m
    if texts is None:
        all_texts = tuple(f"{label} #{i}" for i, label in enumerate(all_labels))
    else:
        all_texts = tuple(texts)
        if len(all_texts) != n + m:
            raise EmoalignError(f"texts: {len(all_texts)} given for {n} emotion and {m} reference prompts")
    n_layers = model.n_layers if model.n_layers is not None else blocks_needed(layers)
    info: dict[str, Any] = {
        "name": model.name, "id": model.name, "model_type": "arrays", "n_layers": int(n_layers),
        "d_model": int(emotion.shape[2]), "dtype": "float32", "device": "arrays", "weights": "given as arrays",
    }
    if model.seed is not None:
        info["random_seed"] = int(model.seed)
    return ActivationSet(
        model=info,
        dataset=_dataset(all_labels, m, p, all_texts, dataset_name),
        layers=layers,
        texts=all_texts,
        labels=all_labels,
        reference_label=reference_label,
        position_policy="given",
        prompt_acts=np.concatenate([emotion, reference], axis=1),
        word_acts=paired,
        word_prompt=np.arange(p, dtype=np.int64),
        word_position=np.zeros(p, dtype=np.int64),
        fallback=np.zeros(n + m, dtype=bool),
        matched_tokens=tuple(() for _ in all_labels),
        extra={"source": "arrays"},
    )


def from_arrays(
    source: ModelActivations,
    target: ModelActivations,
    *,
    reference_label: str = "neutral",
    texts: Sequence[str] | None = None,
    dataset_name: str = "arrays",
) -> tuple[ActivationSet, ActivationSet]:
    """Both models' arrays as paired :class:`~emoalign.core.activations.ActivationSet` s, checked: the same
    labels in the same order, as many reference and paired rows in both.

    ``texts`` (optional): the n emotion prompts then the m reference prompts, recorded with the data.
    """
    for role, model in (("source", source), ("target", target)):
        if not isinstance(model, ModelActivations):
            raise TypeError(f"{role}: expected emoalign.ModelActivations, got {type(model).__name__}")
    if source.name == target.name:
        raise EmoalignError(f"source and target are both named {source.name!r}; give each model its own name")
    if [str(x) for x in source.labels] != [str(x) for x in target.labels]:
        raise EmoalignError("source and target labels differ: emotion prompt i of one model pairs with prompt i of the other")
    sets = tuple(_activation_set(model, reference_label, texts, dataset_name) for model in (source, target))
    for what, shape in (("reference", lambda a: a.prompt_acts.shape[1]), ("paired", lambda a: a.word_acts.shape[1])):
        if shape(sets[0]) != shape(sets[1]):
            raise EmoalignError(
                f"{what} activations: {shape(sets[0])} rows for {source.name} but {shape(sets[1])} for {target.name}; "
                "they pair row by row"
            )
    return sets[0], sets[1]


def analyze(
    source: ModelActivations,
    target: ModelActivations,
    *,
    layer_pairs: Sequence[tuple[int, int]] | None = None,
    layer_match: str = "index",
    target_layers: Sequence[int] | None = None,
    n_components: int = 8,
    map_method: str = "ridge",
    fit_data: str = "neutral-words",
    metric: str = "bounded",
    reference: str = "mean",
    seed: int = 0,
    n_permutations: int = 200,
    n_bootstrap: int = 1000,
    n_pairing_permutations: int = 50,
    alpha: float = 0.05,
    baseline: Sequence[tuple[ModelActivations, ModelActivations]] = (),
    reference_label: str = "neutral",
    texts: Sequence[str] | None = None,
    dataset_name: str = "arrays",
    workers: int = 1,
    executor: Any = None,
    quiet: bool | None = None,
    command: str | None = None,
) -> Any:
    """The study of :func:`emoalign.run` on activations you already have; returns an
    :class:`~emoalign.core.results.AlignmentResult` equal to ``run``'s on the same activations.

    ``layer_pairs`` ((source layer, target layer), ...) overrides ``layer_match`` / ``target_layers``
    (which pair the source's layers as ``emoalign run`` does). ``baseline``: the same arrays from
    random-weight copies of both models, (source copy, target copy) per copy pair (0 or at least 3),
    for the vocabulary baseline of the verdict; without it the verdict cannot say whether an overlap
    goes beyond what any two models reading the same prompts share (a warning says so).
    ``fit_data``: ``neutral-words`` fits the maps on ``paired``, ``neutral-last`` on ``reference``.
    ``workers`` / ``executor``: where the statistics run, as for ``run`` (the same numbers on any).
    """
    from emoalign.analysis.alignment import AlignConfig, check_components
    from emoalign.analysis.layer_match import match_layers
    from emoalign.execution.progress import resolve_quiet
    from emoalign.study.align import align_study

    _check_str(reference_label, "reference_label")
    _check_str(dataset_name, "dataset_name")
    _check_strings(texts, "texts", optional=True)
    if command is not None and not isinstance(command, str):
        raise TypeError(f"command: expected a string or None, got {type(command).__name__}")
    _check_int(workers, "workers", low=0)
    if quiet is not None and not isinstance(quiet, (bool, np.bool_)):
        raise TypeError(f"quiet: expected True, False or None, got {type(quiet).__name__} {quiet!r}")
    if isinstance(baseline, (str, bytes)) or not isinstance(baseline, Sequence) or not all(
        isinstance(pair, Sequence) and len(pair) == 2 for pair in baseline
    ):
        raise TypeError("baseline: expected a sequence of (source copy, target copy) pairs of ModelActivations")
    if layer_pairs is not None and (isinstance(layer_pairs, (str, bytes)) or not all(
        isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2 and all(map(_is_int, pair))
        for pair in layer_pairs
    )):
        raise TypeError(f"layer_pairs: expected a sequence of (source layer, target layer) integer pairs, got "
                        f"{layer_pairs!r}")
    config = AlignConfig(
        n_components=n_components, map_method=map_method, fit_data=fit_data, metric=metric, reference=reference,
        layer_match=layer_match, seed=seed, n_permutations=n_permutations, n_bootstrap=n_bootstrap,
        n_pairing_permutations=n_pairing_permutations, alpha=alpha, baseline_seeds=len(baseline),
    )
    source_acts, target_acts = from_arrays(
        source, target, reference_label=reference_label, texts=texts, dataset_name=dataset_name
    )
    check_components(n_components, source_acts.dataset["label_counts"], reference_label)
    if config.with_statistics and len(source_acts.emotion_labels) < 2:
        raise EmoalignError(
            f"one emotion label ({source_acts.emotion_labels[0]}); the statistics compare emotions with each other "
            "and need at least two (or pass n_permutations=0)"
        )
    if layer_pairs is None:
        pairs = match_layers(
            # layer -1 (the input embeddings) is not matched: it is the lexical floor, paired with itself
            [layer for layer in source_acts.layers if layer != EMBEDDING_LAYER],
            source_acts.model["n_layers"], target_acts.model["n_layers"], layer_match,  # type: ignore[arg-type]
            target_layers, names=(source.name, target.name),
        )
    else:
        pairs = [(int(s), int(t)) for s, t in layer_pairs]
    for acts, layers in ((source_acts, {s for s, _ in pairs}), (target_acts, {t for _, t in pairs})):
        for layer in sorted(layers):
            acts.layer_row(layer)  # an absent layer is an error naming it
    copies = [
        from_arrays(s, t, reference_label=reference_label, texts=texts, dataset_name=dataset_name) for s, t in baseline
    ]
    for s, t in copies:
        if s.dataset["hash"] != source_acts.dataset["hash"]:
            raise EmoalignError(f"baseline copy {s.model['name']}: other labels or row counts than the studied pair")
    if config.with_statistics and not copies:
        log.warning(
            "no baseline copies: the verdict cannot say whether an overlap goes beyond what any two models reading "
            "the same prompts share (pass baseline=[(source copy, target copy), ...], at least 3)"
        )
    return align_study(
        source_acts, target_acts, pairs, config, baseline_copies=copies, command=command,
        quiet=resolve_quiet(quiet), workers=workers, executor=executor,
    )


@dataclass(frozen=True)
class TokenPlan:
    """Where to read activations in emoalign's prompts, for a tool of your own (TransformerLens,
    nnsight, hooks): run each of ``input_ids[i]`` (no padding; it begins with the start token where
    one is prepended, see ``start_token``), then :meth:`model_activations` pools the hidden states
    as ``emoalign run`` does."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    reference_label: str
    input_ids: tuple[tuple[int, ...], ...]
    pooled: tuple[tuple[int, ...], ...]  # per prompt: the emotion word's sub-tokens (or the last token)
    words: tuple[tuple[int, ...], ...]  # per reference prompt: the last sub-token of each word
    start_token: str = "none"  # "prepended <token> (id N)", "tokenizer's own" or "none"

    def model_activations(self, hidden: Mapping[int, Sequence[Any]], name: str) -> ModelActivations:
        """``hidden[layer][i]``: the (tokens, d) residual stream of prompt ``i`` at ``layer`` (numpy or
        torch; a leading batch axis of 1 is dropped) -> the :class:`ModelActivations` of one model."""
        is_ref = np.array([label == self.reference_label for label in self.labels])
        layers = sorted(hidden)
        pooled, words = {}, {}
        for layer in layers:
            states = [_numpy(h, f"layer {layer} prompt {i}") for i, h in enumerate(hidden[layer])]
            states = [s[0] if s.ndim == 3 else s for s in states]
            if len(states) != len(self.texts):
                raise EmoalignError(f"layer {layer}: {len(states)} hidden states for {len(self.texts)} prompts")
            pooled[layer] = np.stack([s[list(p)].mean(axis=0) for s, p in zip(states, self.pooled)])
            reference_states = [s for s, ref in zip(states, is_ref) if ref]
            words[layer] = np.stack([s[w] for s, ws in zip(reference_states, self.words) for w in ws])
        return ModelActivations(
            emotion={layer: pooled[layer][~is_ref] for layer in layers},
            labels=[label for label, ref in zip(self.labels, is_ref) if not ref],
            reference={layer: pooled[layer][is_ref] for layer in layers},
            paired={layer: words[layer] for layer in layers},
            name=name,
        )

    @property
    def emotion_then_reference_texts(self) -> list[str]:
        """The prompts in the order :func:`analyze` records them (``texts=``)."""
        ref = [label == self.reference_label for label in self.labels]
        return [t for t, r in zip(self.texts, ref) if not r] + [t for t, r in zip(self.texts, ref) if r]


def token_plan(
    tokenizer: Any,
    *,
    dataset: Any = None,
    profile: str = "baseline",
    max_samples_per_emotion: int | None = None,
    lexicon: Mapping[str, Sequence[str]] | None = None,
    position_policy: str = "all",
    bos: str = "auto",
) -> TokenPlan:
    """The :class:`TokenPlan` of emoalign's prompts (``dataset``: a path or ``PromptDataset``; default
    the ``profile``) for ``tokenizer`` (a fast Hugging Face tokenizer): emotion words found from
    character offsets, as ``emoalign run`` finds them. ``bos``: the start token before every prompt,
    auto (default), always or never, as ``emoalign run --bos`` (:mod:`emoalign.extract.start_token`)."""
    from emoalign.data.dataset import PromptDataset, resolve_dataset
    from emoalign.data.lexicon import DEFAULT_LEXICON, lexicon_with_source
    from emoalign.extract.activations import plan_positions
    from emoalign.extract.start_token import resolve_start_token

    if tokenizer is None or not callable(tokenizer):
        raise TypeError(
            f"tokenizer: expected a fast Hugging Face tokenizer (e.g. AutoTokenizer.from_pretrained(...)), got "
            f"{type(tokenizer).__name__}"
        )
    if dataset is not None and not isinstance(dataset, (PromptDataset, str, os.PathLike)):
        raise TypeError(f"dataset: expected a path or an emoalign PromptDataset, got {type(dataset).__name__}")
    _check_str(profile, "profile")
    _check_str(position_policy, "position_policy")
    _check_str(bos, "bos")
    _check_int(max_samples_per_emotion, "max_samples_per_emotion", optional=True, low=1)
    if lexicon is not None:
        if not isinstance(lexicon, Mapping):
            raise TypeError(
                f"lexicon: expected a mapping {{label: [word pattern, ...]}}, got {type(lexicon).__name__}"
            )
        for label, patterns in lexicon.items():
            _check_strings(patterns, f"lexicon[{label!r}]")
    words = lexicon_with_source(lexicon, "lexicon") if lexicon else dict(DEFAULT_LEXICON)
    prompts = resolve_dataset(dataset, profile).limit_per_label(max_samples_per_emotion)
    start = resolve_start_token(tokenizer, bos)
    plans, encoded = plan_positions(tokenizer, prompts, words, position_policy, start)  # type: ignore[arg-type]
    labels = tuple(prompt.label for prompt in prompts.prompts)
    return TokenPlan(
        texts=tuple(prompt.text for prompt in prompts.prompts),
        labels=labels,
        reference_label=prompts.reference_label,
        input_ids=tuple(tuple(ids) for ids in encoded["input_ids"]),
        pooled=tuple(tuple(plan.pooled) for plan in plans),
        words=tuple(tuple(plan.word_tokens) for plan, label in zip(plans, labels) if label == prompts.reference_label),
        start_token=start.describe(),
    )
