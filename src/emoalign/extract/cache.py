"""On-disk activation cache: a second run with the same key never loads the model.

The request itself is :class:`~emoalign.extract.request.ExtractionRequest` (imported here too)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from emoalign.core.errors import EmoalignError
from emoalign.core.layers import blocks_needed
from emoalign.core.log import get_logger
from emoalign.extract.activations import (
    FORMAT_VERSION,
    ActivationSet,
    extract_activations,
    validate_layers,
)
from emoalign.extract.baseline import random_copy_activation_files
from emoalign.extract.preflight import check_request
from emoalign.extract.request import ExtractionRequest
from emoalign.io.paths import safe_component
from emoalign.io.storage import read_metadata
from emoalign.models.hf import config_number_error
from emoalign.models.loading import (
    DTYPES,
    estimate_parameter_count,
    hub_commit,
    load_config,
    load_model,
    local_fingerprint,
    resolve_dtype,
    text_config,
)
from emoalign.models.registry import ModelSpec

log = get_logger(__name__)


def cache_key_payload(request: ExtractionRequest, dtype_name: str) -> dict[str, Any]:
    """What identifies an activation set: model id + the commit its revision points to (or local
    folder fingerprint, or GGUF sha256) + dtype + dataset hash + layers + position policy +
    start-token option + lexicon + format version. Stored in the file (``extra["cache_key"]``) and
    compared whole when the file is read (:func:`key_differences`).

    ``bos="never"`` (the positions of every file written before the option) leaves the key as it
    was, so those files stay valid for it."""
    spec = request.spec
    if spec.gguf is not None:  # a GGUF file: its bytes, not its mtime, identify the weights
        revision = spec.gguf.sha256
    else:
        revision = local_fingerprint(spec.hub_id) if spec.is_local else hub_commit(spec.hub_id, request.revision)
    # a local folder by its absolute path: typed relative or absolute, the same folder is the same key
    model = str(Path(spec.hub_id).expanduser().resolve()) if spec.is_local else spec.hub_id
    payload: dict[str, Any] = {
        "model": model,
        "revision": revision,
        "dtype": dtype_name,
        "dataset": request.dataset.content_hash(),
        "layers": sorted(request.layers),
        "position_policy": request.position_policy,
        "lexicon": {label: list(patterns) for label, patterns in sorted(request.lexicon.items())},
        "format_version": FORMAT_VERSION,
        "untrained_seed": request.untrained_seed,
    }
    if request.bos != "never":
        payload["bos"] = request.bos
    return payload


def key_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of a cache-key payload (its JSON with sorted keys)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_key(request: ExtractionRequest, dtype_name: str) -> str:
    """sha256 of :func:`cache_key_payload`: the name of the request's cache file."""
    return key_hash(cache_key_payload(request, dtype_name))


#: ``extra`` entry of a cached activation set that holds its full cache key (the payload).
CACHE_KEY_FIELD = "cache_key"


def key_differences(stored: Any, expected: Mapping[str, Any]) -> list[str]:
    """The fields where a cached file's stored key differs from the one expected (``stored`` is
    read from the file: anything), as ``field stored -> expected``; empty when they agree."""
    if not isinstance(stored, Mapping):
        return [f"no {CACHE_KEY_FIELD} recorded (written by another emoalign version or not by emoalign)"]
    keys = sorted(set(stored) | set(expected))
    return [
        f"{key} {_short(stored.get(key))} -> {_short(expected.get(key))}"
        for key in keys
        if json.dumps(stored.get(key), sort_keys=True) != json.dumps(expected.get(key), sort_keys=True)
    ]


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 60 else text[:28] + "..." + text[-28:]


def legacy_differences(cached: ActivationSet, request: ExtractionRequest, dtype_name: str) -> list[str]:
    """For a file written before the key was stored: what it records of its key (model, dtype,
    layers, prompts, positions, start token) against the request."""
    model = cached.model or {}
    recorded = model.get("id")
    same_folder = request.spec.is_local and isinstance(recorded, str) and (
        Path(recorded).name == Path(request.spec.hub_id.rstrip("/")).name  # typed relative then absolute
    )
    checks = [
        ("model", request.spec.hub_id if same_folder else recorded, request.spec.hub_id),
        ("dtype", model.get("dtype"), dtype_name),
        ("layers", list(cached.layers), sorted(request.layers)),
        ("dataset", (cached.dataset or {}).get("hash"), request.dataset.content_hash()),
        ("position_policy", cached.position_policy, request.position_policy),
        ("bos", (cached.extra or {}).get("bos", "never"), request.bos),
    ]
    return [f"{name} {_short(old)} -> {_short(new)}" for name, old, new in checks if old != new]


def check_cached(path: Path, cached: ActivationSet, request: ExtractionRequest, dtype_name: str) -> None:
    """The activation set read from ``path`` is the one ``request`` asks for: its stored cache key
    equals the request's (a file of another model, positions or start token copied over a cache
    entry is refused), else one line naming the file and the fields that differ."""
    stored = (cached.extra or {}).get(CACHE_KEY_FIELD)
    if stored is None:
        differences = legacy_differences(cached, request, dtype_name)
    else:
        differences = key_differences(stored, cache_key_payload(request, dtype_name))
    if differences:
        raise EmoalignError(
            f"{path}: a cached activation set of other settings than its name says ({'; '.join(differences[:4])})"
        )


def cache_file(cache_dir: str | Path, request: ExtractionRequest, dtype_name: str) -> Path:
    """Path of the cached activation set for ``request``."""
    key = cache_key(request, dtype_name)
    return Path(cache_dir) / f"{safe_component(request.spec.name)}-{key[:20]}.safetensors"


def cached_file_without_config(cache_dir: str | Path, request: ExtractionRequest) -> Path | None:
    """The cache file of ``request`` found without reading the model's config: for the requested
    dtype, or with ``auto`` the one dtype cached for these settings (None when none or several)."""
    found = cached_dtype_without_config(cache_dir, request)
    return found[0] if found is not None else None


def cached_dtype_without_config(cache_dir: str | Path, request: ExtractionRequest) -> tuple[Path, str] | None:
    """Like :func:`cached_file_without_config`, with the dtype name the file was keyed with."""
    names = list(DTYPES) if request.dtype in (None, "auto") else [request.dtype]
    found = [(path, name) for name in names if (path := cache_file(cache_dir, request, name)).exists()]
    return found[0] if len(found) == 1 else None


def cached_depth(cache_dir: str | Path, spec: ModelSpec) -> int | None:
    """The depth of ``spec`` as recorded by any of its cached activation sets (no config read)."""
    for path in sorted(Path(cache_dir).glob(f"{safe_component(spec.name)}-*.safetensors")):
        try:
            model = read_metadata(path).get("model", {})
        except Exception:  # noqa: BLE001, S112 - an unreadable file just gives no answer here
            continue
        depth = model.get("n_layers")
        if model.get("id") == spec.hub_id and config_number_error("num_hidden_layers", depth) is None and depth:
            return int(depth)
    return None


def checked_dtype_name(request: ExtractionRequest) -> str:
    """Read the config only (no weights): validate the layers and resolve the dtype."""
    config = load_config(request.spec, revision=request.revision, trust_remote_code=request.trust_remote_code)
    n_layers = getattr(text_config(config), "num_hidden_layers", None)
    if n_layers is not None:
        validate_layers(request.layers, int(n_layers), request.spec.name)
    dtype = resolve_dtype(request.dtype, str(getattr(config, "model_type", "")), estimate_parameter_count(config))
    return str(dtype).removeprefix("torch.")


def get_activations(
    request: ExtractionRequest,
    cache_dir: str | Path,
    *,
    quiet: bool = False,
    allow_extract: bool = True,
    checked: bool = False,
) -> tuple[ActivationSet, Path | None, bool]:
    """The activation set for ``request``: from the cache when present and intact, else extracted
    (loading the model) and cached. Returns ``(activations, path, cache_hit)``.

    With ``allow_extract=False`` a cache miss is an error instead (``emoalign align`` never loads a model).
    Before a model is loaded the request passes :func:`emoalign.extract.preflight.check_request`
    (skipped when the caller has run it: ``checked=True``).
    A request with ``untrained_seed`` is a random copy: cached by architecture + tokenizer + seed
    (:mod:`emoalign.extract.baseline`), not by model id. A request with ``loaded`` (a model the user
    loaded) is extracted as it is and not cached (path ``None``).
    """
    if request.untrained_seed is not None:
        [(activations, path, hit)] = random_copy_activation_files(
            replace(request, untrained_seed=None), [request.untrained_seed], cache_dir,
            quiet=quiet, allow_extract=allow_extract,
        )
        return activations, path, hit
    if request.loaded is not None:
        return _extract_loaded(request, quiet=quiet), None, False
    found = None if allow_extract else cached_dtype_without_config(cache_dir, request)
    if found is None:
        dtype_name = checked_dtype_name(request)
        found = (cache_file(cache_dir, request, dtype_name), dtype_name)
    path, dtype_name = found
    if path.exists():
        try:
            cached = ActivationSet.load(path)
            check_cached(path, cached, request, dtype_name)
            return cached, path, True
        except EmoalignError as exc:
            if not allow_extract:
                raise
            log.warning(f"{exc}; recomputing")
    if not allow_extract:
        raise EmoalignError(
            f"no cached activations of {request.spec.name} for these settings in {cache_dir} "
            "(same dataset, layers, dtype, position policy and --bos); run `emoalign run` or `emoalign extract` "
            "first"
        )
    if not checked:
        check_request(request)
    loaded = load_model(
        request.spec,
        device=request.device,
        dtype=request.dtype,
        revision=request.revision,
        trust_remote_code=request.trust_remote_code,
        device_map=request.device_map,
        quiet=quiet,
        untrained_seed=request.untrained_seed,
        allow_pickle_weights=request.allow_pickle_weights,
        n_blocks=blocks_needed(request.layers),  # later blocks never run: they are not even loaded
    )
    activations = extract_activations(
        loaded,
        request.dataset,
        request.layers,
        lexicon=request.lexicon,
        position_policy=request.position_policy,
        batch_size=request.batch_size,
        quiet=quiet,
        bos=request.bos,
    )
    activations.extra = {**activations.extra, CACHE_KEY_FIELD: cache_key_payload(request, dtype_name)}
    activations.save(path)
    return activations, path, False


def _extract_loaded(request: ExtractionRequest, *, quiet: bool) -> ActivationSet:
    """The activations of a model the user loaded (no cache: an object in memory has no key)."""
    from emoalign.extract.loaded import eval_mode

    loaded = request.loaded
    assert loaded is not None
    layers = validate_layers(request.layers, loaded.n_layers, request.spec.name)
    with eval_mode(loaded.model):
        return extract_activations(
            loaded, request.dataset, layers, lexicon=request.lexicon, position_policy=request.position_policy,
            batch_size=request.batch_size, quiet=quiet, bos=request.bos,
        )
