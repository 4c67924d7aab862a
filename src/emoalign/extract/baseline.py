"""The vocabulary baseline: activation sets of a model's random-weight copies, cached by architecture.

Two models that read the same prompts share structure whatever their weights, so every
cross-model overlap is judged against the same pipeline run on random-weight copies of both models.
A copy's activations depend on the architecture, the tokenizer and the seed, not on the checkpoint:
they are cached under a key of the architecture (:func:`~emoalign.models.random_copy.architecture_hash`),
the tokenizer (:func:`tokenizer_hash`), the seed, the dataset, layers, position policy, start-token
option, lexicon, dtype and format versions, so studies that share an architecture and tokenizer share
the copies.

Seeds are the caller's. Copies of two *different* architectures are independent for any seeds; two
models of *one* architecture with the same seed get the same copy, so give the two sides of such a
study different seeds.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from emoalign.core.errors import EmoalignError
from emoalign.core.layers import blocks_needed
from emoalign.core.log import get_logger
from emoalign.extract.activations import (
    FORMAT_VERSION,
    ActivationSet,
    TokenizedPrompts,
    extract_activations,
    lexicon_hash,
    tokenize_prompts,
    validate_layers,
)
from emoalign.extract.request import ExtractionRequest
from emoalign.io.paths import safe_component
from emoalign.models.blocks import find_blocks
from emoalign.models.loading import (
    LoadedModel,
    estimate_parameter_count,
    load_config,
    load_tokenizer,
    resolve_device,
    resolve_dtype,
    text_config,
)
from emoalign.models.random_copy import (
    RANDOM_INIT_VERSION,
    architecture_hash,
    build_random_copy,
)

log = get_logger(__name__)


def tokenizer_hash(tokenizer: Any) -> str:
    """sha256 of what decides the token ids a tokenizer produces: its full ``tokenizers`` pipeline
    (vocabulary, merges, normaliser, pre-tokeniser, post-processor, added tokens), its class, special
    tokens and padding."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pipeline = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
    payload = {
        "class": type(tokenizer).__name__,
        "pipeline": hashlib.sha256(pipeline.encode()).hexdigest(),
        "special_tokens": getattr(tokenizer, "special_tokens_map", {}),
        "pad_token_id": tokenizer.pad_token_id,
        "padding_side": tokenizer.padding_side,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class RandomCopySource:
    """What all random copies of one model share, loaded once: config, tokenizer, dtype, hashes."""

    request: ExtractionRequest
    config: Any
    tokenizer: Any
    layers: tuple[int, ...]
    dtype: torch.dtype
    model_type: str
    n_layers: int  # depth of the full architecture
    d_model: int
    architecture: str
    tokenizer_hash: str

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    @property
    def n_blocks(self) -> int:
        """Blocks a copy needs: the deepest requested layer + 1."""
        return blocks_needed(self.layers)


def load_random_copy_source(request: ExtractionRequest) -> RandomCopySource:
    """Read the config and tokenizer of ``request.spec`` (no weights); validate the layers."""
    spec = request.spec
    if request.loaded is not None:  # a model the user loaded: its own config and tokenizer
        config = request.loaded.model.config
    else:
        config = load_config(spec, revision=request.revision, trust_remote_code=request.trust_remote_code)
    cfg = text_config(config)
    n_layers = int(cfg.num_hidden_layers)
    layers = validate_layers(request.layers, n_layers, spec.name)
    model_type = str(getattr(config, "model_type", "unknown"))
    dtype = resolve_dtype(request.dtype, model_type, estimate_parameter_count(config))
    tokenizer = (
        request.loaded.tokenizer if request.loaded is not None
        else load_tokenizer(spec, revision=request.revision, trust_remote_code=request.trust_remote_code)
    )
    return RandomCopySource(
        request=request,
        config=config,
        tokenizer=tokenizer,
        layers=layers,
        dtype=dtype,
        model_type=model_type,
        n_layers=n_layers,
        d_model=int(getattr(cfg, "hidden_size", None) or cfg.n_embd),
        architecture=architecture_hash(config),
        tokenizer_hash=tokenizer_hash(tokenizer),
    )


def random_copy_key(source: RandomCopySource, seed: int) -> str:
    """sha256 of :func:`random_copy_key_payload`: the name of the copy's cache file."""
    return hashlib.sha256(json.dumps(random_copy_key_payload(source, seed), sort_keys=True).encode()).hexdigest()


def random_copy_key_payload(source: RandomCopySource, seed: int) -> dict[str, Any]:
    """Architecture + tokenizer + seed + init version + dtype + dataset hash + layers + position
    policy + start-token option + lexicon + format version (no model id, revision or name;
    ``bos="never"`` keeps the key of the files written before the option). Stored in the file
    (``extra["cache_key"]``) and compared whole when it is read."""
    request = source.request
    payload = {
        "kind": "random-copy",
        "architecture": source.architecture,
        "tokenizer": source.tokenizer_hash,
        "seed": int(seed),
        "init_version": RANDOM_INIT_VERSION,
        "dtype": source.dtype_name,
        "dataset": request.dataset.content_hash(),
        "layers": list(source.layers),
        "position_policy": request.position_policy,
        "lexicon": lexicon_hash(request.lexicon),
        "format_version": FORMAT_VERSION,
    }
    if request.bos != "never":
        payload["bos"] = request.bos
    return payload


#: ``extra`` entry of a cached activation set that holds its full cache key (the payload).
CACHE_KEY_FIELD = "cache_key"


def check_cached_copy(path: Path, cached: ActivationSet, source: RandomCopySource, seed: int) -> None:
    """The random copy read from ``path`` is the one asked for: its stored key equals the expected
    one (a file of another architecture, seed or positions copied over it is refused). A file written
    before keys were stored is checked on what it records (seed, architecture, layers, prompts,
    positions)."""
    stored = (cached.extra or {}).get(CACHE_KEY_FIELD)
    expected = random_copy_key_payload(source, seed)
    if stored is not None:
        if not isinstance(stored, dict):
            differences = ["cache key not readable"]
        else:
            differences = [
                f"{key} {stored.get(key)!r:.40} -> {expected.get(key)!r:.40}"
                for key in sorted(set(stored) | set(expected))
                if json.dumps(stored.get(key), sort_keys=True) != json.dumps(expected.get(key), sort_keys=True)
            ]
    else:
        model = cached.model or {}
        checks = [
            ("seed", model.get("random_seed"), int(seed)),
            ("architecture", model.get("architecture"), source.architecture),
            ("tokenizer", model.get("tokenizer"), source.tokenizer_hash),
            ("layers", list(cached.layers), list(source.layers)),
            ("dataset", (cached.dataset or {}).get("hash"), source.request.dataset.content_hash()),
            ("position_policy", cached.position_policy, source.request.position_policy),
            ("bos", (cached.extra or {}).get("bos", "never"), source.request.bos),
        ]
        differences = [f"{name} {old!r:.40} -> {new!r:.40}" for name, old, new in checks if old != new]
    if differences:
        raise EmoalignError(
            f"{path}: a cached random copy of other settings than its name says ({'; '.join(differences[:4])})"
        )


def random_copy_cache_file(cache_dir: str | Path, source: RandomCopySource, seed: int) -> Path:
    """``<cache_dir>/<model_type>-random-s<seed>-<key>.safetensors``: named by architecture, not by
    model, since any model of that architecture and tokenizer shares it."""
    return Path(cache_dir) / f"{safe_component(source.model_type)}-random-s{int(seed)}-{random_copy_key(source, seed)[:20]}.safetensors"


#: What a copy's artifact keeps of the extracting model's provenance (nothing checkpoint-specific:
#: the file is shared by every model of the architecture).
_COPY_PROVENANCE = (
    "name", "id", "model_type", "dtype", "device", "d_model", "block_path", "weights", "random_seed",
)


def _relabelled(activations: ActivationSet, request: ExtractionRequest) -> ActivationSet:
    """The cached set under the requesting model's name and id (the file may come from another model)."""
    activations.model = {**activations.model, "name": request.spec.name, "id": request.spec.hub_id}
    return activations


def _extract_copy(
    source: RandomCopySource, seed: int, tokenized: TokenizedPrompts, token_ids: Sequence[int], quiet: bool
) -> ActivationSet:
    """Build copy ``seed`` (the blocks and embedding rows needed) and extract its activations."""
    request = source.request
    device = resolve_device(request.device)
    model = build_random_copy(
        source.config, seed, source.n_blocks, dtype=source.dtype, device=device, token_ids=token_ids,
        trust_remote_code=request.trust_remote_code,
    )
    block_path, blocks = find_blocks(model)
    loaded = LoadedModel(
        spec=request.spec, model=model, tokenizer=source.tokenizer, device=device, dtype=source.dtype,
        model_type=source.model_type, n_layers=len(blocks), d_model=source.d_model, block_path=block_path,
        untrained_seed=seed,
    )
    activations = extract_activations(
        loaded, request.dataset, source.layers, lexicon=request.lexicon, position_policy=request.position_policy,
        batch_size=request.batch_size, quiet=quiet, tokenized=tokenized, bos=request.bos,
    )
    activations.model = {
        **{key: value for key, value in activations.model.items() if key in _COPY_PROVENANCE},
        "revision": None,  # random weights: no checkpoint (nor its file or fingerprint)
        "n_layers": source.n_layers,  # the architecture's depth; only n_blocks were built
        "n_blocks": len(blocks),
        "architecture": source.architecture,
        "tokenizer": source.tokenizer_hash,
        "init": f"emoalign random copy v{RANDOM_INIT_VERSION}",
    }
    return activations


def random_copy_activation_files(
    request: ExtractionRequest,
    seeds: Sequence[int],
    cache_dir: str | Path,
    *,
    quiet: bool = False,
    allow_extract: bool = True,
) -> list[tuple[ActivationSet, Path, bool]]:
    """Like :func:`random_copy_activations`, with each set's cache file and whether it was a hit."""
    seeds = [int(seed) for seed in seeds]
    source = load_random_copy_source(request)
    results: dict[int, tuple[ActivationSet, Path, bool]] = {}
    missing: list[int] = []
    for seed in dict.fromkeys(seeds):
        path = random_copy_cache_file(cache_dir, source, seed)
        if path.exists():
            try:
                cached = ActivationSet.load(path)
                check_cached_copy(path, cached, source, seed)
                results[seed] = (_relabelled(cached, request), path, True)
                continue
            except EmoalignError as exc:
                if not allow_extract:
                    raise
                log.warning(f"{exc}; recomputing")
        missing.append(seed)
    if missing and not allow_extract:
        raise EmoalignError(
            f"no cached activations of the random copies of {request.spec.name} (seeds "
            f"{', '.join(map(str, missing))}) for these settings in {cache_dir}; run `emoalign run` first"
        )
    if missing:
        tokenized = tokenize_prompts(
            source.tokenizer, request.dataset, lexicon=request.lexicon,
            position_policy=request.position_policy, batch_size=request.batch_size, bos=request.bos,
            name=request.spec.name,
        )
        token_ids = tokenized.token_ids().tolist()
        several = len(missing) > 1
        progress = tqdm(
            missing, desc=f"random copies of {request.spec.name}", unit="seed", disable=quiet or not several
        )
        for seed in progress:
            activations = _extract_copy(source, seed, tokenized, token_ids, quiet=quiet or several)
            path = random_copy_cache_file(cache_dir, source, seed)
            activations.extra = {**activations.extra, CACHE_KEY_FIELD: random_copy_key_payload(source, seed)}
            activations.save(path)
            results[seed] = (_relabelled(activations, request), path, False)
            gc.collect()
    return [results[seed] for seed in seeds]


def random_copy_activations(
    request: ExtractionRequest,
    seeds: Sequence[int],
    cache_dir: str | Path,
    *,
    quiet: bool = False,
    allow_extract: bool = True,
) -> list[ActivationSet]:
    """Activation sets of random-weight copies of ``request.spec``, one per seed, through the cache.

    The config and tokenizer are read once and the prompts tokenized once for all seeds; each missing
    copy is built with only the blocks the deepest requested layer needs and only the embedding rows
    the prompts use (:func:`~emoalign.models.random_copy.build_random_copy`). ``request.untrained_seed``
    is ignored (the seeds are ``seeds``); so is ``request.device_map`` (a copy is built whole on
    ``request.device``). A progress bar runs over the seeds unless ``quiet``. With
    ``allow_extract=False`` a missing copy is an error instead.
    """
    request = replace(request, untrained_seed=None)
    files = random_copy_activation_files(request, seeds, cache_dir, quiet=quiet, allow_extract=allow_extract)
    return [activations for activations, _, _ in files]
