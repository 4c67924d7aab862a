"""Models the user has already loaded (quantized, sharded, patched...): extraction without loading.

``emoalign.run(model, ...)`` and :func:`extract` take a ``transformers`` model object (with its
tokenizer, or one loaded from ``model.name_or_path``) where a name, hub id or folder is expected.
Such a model is extracted as it is — its own dtype, devices and weights — and never cached: an
object in memory has no identity a cache key could name.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from emoalign.core.activations import ActivationSet
from emoalign.core.errors import EmoalignError
from emoalign.data.dataset import PromptDataset, resolve_dataset
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.models.loading import LoadedModel, prepare_tokenizer, text_config
from emoalign.models.registry import ModelSpec

__all__ = ["as_loaded_model", "extract", "model_argument", "eval_mode"]


def _short_name(model: Any) -> str:
    location = str(getattr(model, "name_or_path", "") or "")
    tail = Path(location.rstrip("/")).name if location else type(model).__name__
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in tail) or "model"


def _check_model(model: Any, what: str) -> None:
    """A torch module, or a TypeError that says what was passed and what to pass instead."""
    import torch

    if isinstance(model, torch.nn.Module):
        return
    kind = f"{type(model).__module__}.{type(model).__name__}"
    hint = (
        "; for activations you already hold, use emoalign.analyze(emoalign.ModelActivations(...), ...)"
        if hasattr(model, "__array__") or hasattr(model, "shape") else ""
    )
    raise TypeError(
        f"{what}: expected a model name, hub id or folder (str), a loaded transformers model, or a (model, "
        f"tokenizer) pair; got {kind}{hint}"
    )


def _load_tokenizer_of(model: Any, name: str) -> Any:
    location = getattr(model, "name_or_path", "") or ""
    if not location:
        raise EmoalignError(f"model {name!r}: pass its tokenizer too, as (model, tokenizer)")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(location)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EmoalignError(
            f"model {name!r}: cannot load a tokenizer from {location!r} ({first}); pass it as (model, tokenizer)"
        ) from None


def as_loaded_model(model: Any, tokenizer: Any = None, *, name: str | None = None) -> LoadedModel:
    """Wrap an already loaded ``transformers`` model (any ``torch.nn.Module`` with a config and a block
    list) as emoalign's :class:`~emoalign.models.loading.LoadedModel`, without moving or copying it.

    ``tokenizer``: its tokenizer (copied, then set to right padding with EOS as pad); default: loaded
    from ``model.name_or_path``. ``name``: the short name used in tables and file names.
    """
    from emoalign.models.blocks import find_blocks
    from emoalign.models.random_copy import config_depth

    _check_model(model, "model")
    config = getattr(model, "config", None)
    if config is None:
        raise EmoalignError(f"{type(model).__name__}: not a transformers model (it has no .config)")
    name = name or _short_name(model)
    tokenizer = _load_tokenizer_of(model, name) if tokenizer is None else copy.deepcopy(tokenizer)
    tokenizer = prepare_tokenizer(tokenizer, name)
    block_path, _ = find_blocks(model)
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    weight = getattr(embeddings, "weight", None)
    first = weight if weight is not None else next(model.parameters())
    cfg = text_config(config)
    location = str(getattr(model, "name_or_path", "") or f"<in-memory {type(model).__name__}>")
    return LoadedModel(
        spec=ModelSpec(name=name, hub_id=location),
        model=model,
        tokenizer=tokenizer,
        device=first.device,
        dtype=getattr(model, "dtype", first.dtype),
        model_type=str(getattr(config, "model_type", "unknown")),
        n_layers=config_depth(config),
        d_model=int(getattr(cfg, "hidden_size", None) or cfg.n_embd),
        block_path=block_path,
    )


def model_argument(value: Any, what: str) -> tuple[ModelSpec, LoadedModel | None]:
    """What ``run``'s source/target argument names: ``(spec, None)`` for a name, hub id or folder;
    ``(spec, loaded)`` for a model object or a ``(model, tokenizer)`` pair; a TypeError otherwise."""
    from emoalign.models.registry import resolve_model

    if isinstance(value, (str, Path)):
        return resolve_model(str(value)), None
    if isinstance(value, tuple) and len(value) == 2:
        loaded = as_loaded_model(*value) if _is_module(value[0]) else None
        if loaded is None:
            _check_model(value[0], what)
        return loaded.spec, loaded  # type: ignore[union-attr]
    _check_model(value, what)
    loaded = as_loaded_model(value)
    return loaded.spec, loaded


def _is_module(value: Any) -> bool:
    import torch

    return isinstance(value, torch.nn.Module)


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """Inside the block ``model`` is in eval mode (no dropout); its previous mode comes back after."""
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()


def extract(
    model: Any,
    tokenizer: Any = None,
    *,
    dataset: str | Path | PromptDataset | None = None,
    profile: str = "baseline",
    layers: Sequence[int] | None = None,
    lexicon: Mapping[str, Sequence[str]] | None = None,
    position_policy: str = "all",
    batch_size: int = 16,
    bos: str = "auto",
    name: str | None = None,
    quiet: bool | None = None,
) -> ActivationSet:
    """Activations of an already loaded ``transformers`` model: pooled emotion-word and
    reference activations at ``layers`` (default: all) on ``dataset`` (default: the ``profile``
    prompts). Nothing is written; save the result with ``.save(path)``. ``bos``: the start token
    before every prompt, auto (default), always or never (:mod:`emoalign.extract.start_token`).
    """
    from emoalign.execution.progress import resolve_quiet
    from emoalign.extract.activations import extract_activations, validate_layers

    loaded = as_loaded_model(model, tokenizer, name=name)
    prompts = resolve_dataset(dataset, profile)
    chosen = validate_layers(range(loaded.n_layers) if layers is None else layers, loaded.n_layers, loaded.spec.name)
    with eval_mode(model):
        return extract_activations(
            loaded, prompts, chosen, lexicon=dict(lexicon or DEFAULT_LEXICON),
            position_policy=position_policy, batch_size=batch_size, quiet=resolve_quiet(quiet),  # type: ignore[arg-type]
            bos=bos,
        )
