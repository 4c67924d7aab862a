"""Hugging Face helpers every model module shares (a leaf: it imports no other emoalign.models
module): the dtypes by name, the language-model part of a config, quiet progress bars and logs, and
the check that a checkpoint filled every weight the config builds."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch

from emoalign.core.errors import EmoalignError

__all__ = ["DTYPES", "block_index", "check_loading_info", "hf_quiet", "text_config"]

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def text_config(config: Any) -> Any:
    """The language-model part of a (possibly multimodal) config."""
    getter = getattr(config, "get_text_config", None)
    return getter() if getter is not None else config


@contextlib.contextmanager
def hf_quiet(*, progress: bool = True, logs: bool = False) -> Iterator[None]:
    """Inside the block, hide Hugging Face progress bars (``progress``) and log lines below
    errors (``logs``); the previous settings come back afterwards."""
    from transformers.utils import logging as hf_logging

    bars_were_enabled = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    if progress:
        hf_logging.disable_progress_bar()
    if logs:
        hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        if progress and bars_were_enabled:
            hf_logging.enable_progress_bar()
        if logs:
            hf_logging.set_verbosity(verbosity)


def block_index(key: str, block_path: str) -> int | None:
    """The block a weight name belongs to (``h.3.attn.c_attn.weight`` under block path ``h`` -> 3;
    the checkpoint's own prefix, ``transformer.`` or ``model.``, is allowed), or None for a weight
    outside the block list (embeddings, final norm, heads, a vision tower's layers)."""
    for match in re.finditer(r"(?:^|\.)(\d+)(?=\.|$)", key):
        prefix = key[: match.start()]
        if prefix == block_path or prefix.endswith("." + block_path):
            return int(match.group(1))
    return None


def _layer_list(indices: Iterable[int]) -> str:
    ordered = sorted(set(indices))
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}-{ordered[-1]}"
    return ", ".join(map(str, ordered))


def _examples(keys: Iterable[str], n: int = 3) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "")


def check_loading_info(
    model_name: str, where: str, info: Mapping[str, Any], block_path: str, depth: int, n_blocks: int | None = None,
    depth_field: str = "config.json (num_hidden_layers)",
) -> None:
    """One error line naming the model and the layers or weights at fault when ``from_pretrained``
    (``output_loading_info=True``) built weights the checkpoint does not hold, or of another shape, or
    when the checkpoint's blocks disagree with the config's depth. Otherwise such weights would run
    from random initialisation with no sign of it.

    ``depth``: the config's number of blocks; ``n_blocks``: how many were built (``None``: all), so
    the checkpoint's later blocks are expected among the unused weights. Weights transformers
    expects to be absent (a tied LM head, non-persistent buffers) are not in ``missing_keys``."""
    subject = f"model {model_name!r} ({where})"
    mismatched = sorted(info.get("mismatched_keys") or (), key=lambda item: str(item[0]))
    if mismatched:
        first = mismatched[0]
        shapes = (f" (checkpoint {tuple(first[1])}, config {tuple(first[2])})"
                  if len(first) >= 3 else "")
        layers = [i for item in mismatched if (i := block_index(str(item[0]), block_path)) is not None]
        raise EmoalignError(
            f"{subject}: {len(mismatched)} weight(s) in the checkpoint have another shape than the config gives"
            + (f", in layer(s) {_layer_list(layers)}" if layers else "")
            + f": {first[0]}{shapes}; the config (hidden_size, heads, vocab_size ...) does not belong to these weights"
        )
    missing = set(info.get("missing_keys") or ())
    if missing:
        layers = {i for key in missing if (i := block_index(key, block_path)) is not None}
        where_missing = f"layer(s) {_layer_list(layers)}" if layers else "the model"
        raise EmoalignError(
            f"{subject}: the checkpoint has no weights for {len(missing)} parameter(s) of {where_missing} "
            f"({_examples(missing)}); they would run from random initialisation. The config asks for {depth} "
            f"blocks: check that the weight files are complete and that {depth_field} belongs to them"
        )
    held = {i for key in info.get("unexpected_keys") or () if (i := block_index(str(key), block_path)) is not None}
    beyond = {i for i in held if i >= depth}
    if beyond:
        raise EmoalignError(
            f"{subject}: the checkpoint holds layer(s) {_layer_list(beyond)} but its config asks for {depth} blocks "
            f"({depth_field} is lower than the checkpoint's depth)"
        )
    if n_blocks is not None and n_blocks < depth and max(held | {n_blocks - 1}) < depth - 1:
        raise EmoalignError(
            f"{subject}: the checkpoint holds layers 0-{max(held | {n_blocks - 1})} only, but its config asks for "
            f"{depth} blocks; check that the weight files are complete and that {depth_field} belongs to them"
        )


#: The config numbers emoalign and every model family read, with the widest values a real model has
#: (x a margin): a number outside, or not a whole number, is an error naming the field, before any
#: allocation sized by it (``--layers all`` of a config claiming 10**9 blocks).
CONFIG_BOUNDS: dict[str, int] = {
    "num_hidden_layers": 4096,
    "hidden_size": 1 << 17,
    "num_attention_heads": 1 << 12,
    "num_key_value_heads": 1 << 12,
    "head_dim": 1 << 16,
    "intermediate_size": 1 << 21,
    "vocab_size": 1 << 24,
    "max_position_embeddings": 1 << 31,
}
#: config.json spellings of those numbers (GPT-2's n_layer, GPT-Neo's num_layers ...).
CONFIG_ALIASES: dict[str, str] = {
    "n_layer": "num_hidden_layers", "n_layers": "num_hidden_layers", "num_layers": "num_hidden_layers",
    "n_embd": "hidden_size", "d_model": "hidden_size", "n_head": "num_attention_heads",
    "num_heads": "num_attention_heads", "n_inner": "intermediate_size", "n_positions": "max_position_embeddings",
    "n_ctx": "max_position_embeddings",
}


def config_number_error(key: str, value: Any) -> str | None:
    """Why ``value`` cannot be config field ``key`` (a whole number within :data:`CONFIG_BOUNDS`),
    or None when it can (or the field is not one of those, or is null)."""
    bound = CONFIG_BOUNDS.get(CONFIG_ALIASES.get(key, key))
    if bound is None or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{key} is {value!r}, not a whole number"
    if not 1 <= value <= bound:
        return f"{key} is {value:,}; expected a whole number from 1 to {bound:,}"
    return None


def check_config_numbers(config: Any, where: str) -> None:
    """The key numbers of a loaded config (its text part) are whole numbers within bounds; else one
    line naming ``where`` (the config file or model) and the field."""
    cfg = text_config(config)
    for key in CONFIG_BOUNDS:
        if (problem := config_number_error(key, getattr(cfg, key, None))) is not None:
            raise EmoalignError(f"{where}: {problem}")
