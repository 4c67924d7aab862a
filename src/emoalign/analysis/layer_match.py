"""Which source layer is compared with which target layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from emoalign.core.errors import EmoalignError

LayerMatch = Literal["index", "depth", "grid"]
LAYER_MATCHES: tuple[str, ...] = ("index", "depth", "grid")


def depth_matched_layer(source_layer: int, n_source: int, n_target: int) -> int:
    """The target layer at the same relative depth (block index / (n - 1)) as ``source_layer``."""
    if n_source <= 1:
        return 0
    return int(round(source_layer * (n_target - 1) / (n_source - 1)))


def match_layers(
    source_layers: Sequence[int],
    n_source: int,
    n_target: int,
    mode: LayerMatch = "index",
    target_layers: Sequence[int] | None = None,
    *,
    names: tuple[str, str] = ("the source model", "the target model"),
) -> list[tuple[int, int]]:
    """Pairs ``(source_layer, target_layer)`` to compare.

    ``index`` pairs equal layer numbers (the original study: Llama layer 11 is a third of its depth),
    ``depth`` pairs equal relative depth, ``grid`` pairs every source layer with every target layer.
    Explicit ``target_layers`` pair positionally with the source layers (``index``/``depth``) or
    form the grid's columns. ``names`` (source, target) name the models in errors.
    """
    if mode not in LAYER_MATCHES:
        raise EmoalignError(f"--layer-match {mode}: unknown (use {', '.join(LAYER_MATCHES)})")
    source_layers = list(source_layers)
    for layer in source_layers:
        if not 0 <= layer < n_source:
            raise EmoalignError(
                f"--layers: layer {layer} is beyond the depth of {names[0]} ({n_source} blocks: layers 0-{n_source - 1})"
            )
    explicit = target_layers is not None
    if target_layers is None:
        if mode == "index":
            target_layers = source_layers
        else:
            target_layers = [depth_matched_layer(layer, n_source, n_target) for layer in source_layers]
    target_layers = list(dict.fromkeys(target_layers)) if mode == "grid" else list(target_layers)
    for layer in target_layers:
        if not 0 <= layer < n_target:
            advice = "check --target-layers" if explicit else "use --layer-match depth or --target-layers"
            raise EmoalignError(
                f"target layer {layer} is beyond the depth of {names[1]} ({n_target} blocks: layers "
                f"0-{n_target - 1}); {advice}"
            )
    if mode == "grid":
        return [(s, t) for s in source_layers for t in target_layers]
    if len(target_layers) != len(source_layers):
        raise EmoalignError(
            f"--target-layers gives {len(target_layers)} layers for {len(source_layers)} source layers; "
            "they pair positionally (or use --layer-match grid)"
        )
    return list(zip(source_layers, target_layers))
