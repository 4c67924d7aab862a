"""Subcommand handlers: turn parsed arguments into calls of the library and print the results."""

from __future__ import annotations

import argparse
from pathlib import Path

from emoalign.data.dataset import PROFILES, PromptDataset, load_dataset, load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON, load_lexicon
from emoalign.errors import EmoalignError
from emoalign.extract.activations import ActivationSet
from emoalign.extract.cache import ExtractionRequest, get_activations
from emoalign.models.loading import load_config, text_config
from emoalign.models.registry import PRESETS, ModelSpec, resolve_model


def dataset_from_args(args: argparse.Namespace) -> PromptDataset:
    """The prompt set chosen by --profile / --dataset, limited by --max-samples-per-emotion."""
    if args.dataset is not None:
        dataset = load_dataset(args.dataset, reference_label=args.reference_label)
    else:
        dataset = load_profile(args.profile)
    limit = args.max_samples_per_emotion
    if limit is not None and limit < 1:
        raise EmoalignError(f"--max-samples-per-emotion {limit}: must be at least 1")
    return dataset.limit_per_label(limit)


def lexicon_from_args(args: argparse.Namespace, dataset: PromptDataset) -> dict[str, tuple[str, ...]]:
    """The user's lexicon or the built-in one; every emotion label must have patterns."""
    lexicon = load_lexicon(args.lexicon) if args.lexicon is not None else dict(DEFAULT_LEXICON)
    missing = [label for label in dataset.emotion_labels if not lexicon.get(label)]
    if missing:
        where = args.lexicon or "the built-in lexicon"
        raise EmoalignError(f"{where}: no word patterns for label(s) {', '.join(missing)} (pass --lexicon FILE)")
    return lexicon


def resolve_layers(layers: list[int] | None, spec: ModelSpec, args: argparse.Namespace) -> tuple[int, ...]:
    """Requested layers, or every layer of the model for ``all`` (reads the config only)."""
    if layers is not None:
        return tuple(layers)
    config = load_config(spec, revision=args.revision, trust_remote_code=args.trust_remote_code)
    return tuple(range(int(text_config(config).num_hidden_layers)))


def extraction_request(args: argparse.Namespace, model: str, dataset: PromptDataset, lexicon) -> ExtractionRequest:
    """An :class:`ExtractionRequest` for ``model`` from the shared CLI options."""
    from emoalign.cli import parse_layers

    spec = resolve_model(model)
    return ExtractionRequest(
        spec=spec,
        dataset=dataset,
        layers=resolve_layers(parse_layers(args.layers), spec, args),
        lexicon=lexicon,
        position_policy=args.position_policy,
        dtype=None if args.dtype == "auto" else args.dtype,
        revision=args.revision,
        device=args.device,
        device_map=args.device_map,
        trust_remote_code=args.trust_remote_code,
        batch_size=args.batch_size,
    )


def cache_dir_from_args(args: argparse.Namespace) -> Path:
    """--cache-dir, or <results-dir>/cache."""
    return args.cache_dir if args.cache_dir is not None else args.results_dir / "cache"


def describe_activations(activations: ActivationSet, path: Path, hit: bool) -> str:
    """A short human-readable summary of an extraction: shapes, match rates, fallbacks."""
    model = activations.model
    lines = [
        f"model      {model['name']} ({model['id']}), {model['model_type']}, {model['n_layers']} layers, "
        f"d={model['d_model']}, {model['dtype']} on {model['device']}",
        f"dataset    {activations.dataset['name']} ({len(activations.texts)} prompts, "
        f"{len(activations.word_prompt)} reference words)",
        f"layers     {', '.join(map(str, activations.layers))}",
        f"positions  {activations.position_policy} sub-tokens of each emotion word",
        "label        prompts  matched  fallback (last token)",
    ]
    counts = activations.dataset["label_counts"]
    fallbacks = activations.fallback_counts()
    for label, rate in activations.match_rates().items():
        lines.append(f"{label:<12} {counts[label]:>7}  {rate:>6.1%}  {fallbacks[label]:>8}")
    lines.append(f"{'cache hit' if hit else 'written'}  {path}")
    return "\n".join(lines)


def cmd_extract(args: argparse.Namespace) -> int:
    """`emoalign extract`: extract one model's activations through the cache."""
    dataset = dataset_from_args(args)
    request = extraction_request(args, args.model, dataset, lexicon_from_args(args, dataset))
    activations, path, hit = get_activations(request, cache_dir_from_args(args), quiet=args.quiet)
    print(describe_activations(activations, path, hit))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """`emoalign models`: the preset registry as a table."""
    print(f"{'preset':<14} {'hub id':<28} {'family':<9} {'layers':>6} {'d_model':>7} {'params':>7}")
    for spec in PRESETS.values():
        print(
            f"{spec.name:<14} {spec.hub_id:<28} {spec.family:<9} {spec.n_layers:>6} "
            f"{spec.d_model:>7} {spec.params_billion:>6.2f}B"
        )
    print("Any other hub id (org/name) or local model folder is accepted as --model too.")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    """`emoalign datasets`: built-in profiles and their per-label counts."""
    for name in PROFILES:
        dataset = load_profile(name)
        counts = ", ".join(f"{label} {n}" for label, n in dataset.label_counts().items())
        print(f"{name:<10} {len(dataset.prompts):>4} prompts  ({counts}; reference: {dataset.reference_label})")
    return 0
