"""Layer lists as typed on the command line or in a config file: ``0 1 2``, ``0-11``, ``0,2`` or ``all``."""

from __future__ import annotations

from collections.abc import Sequence

from emoalign.core.errors import EmoalignError

__all__ = ["EMBEDDING_LAYER", "blocks_needed", "layer_name", "parse_layers"]

#: The input embeddings (HF ``hidden_states[0]``, the input of block 0), extracted in every study
#: as the lexical floor: what two models share through static word meaning alone.
EMBEDDING_LAYER = -1


def blocks_needed(layers: Sequence[int]) -> int:
    """How many blocks a forward must run to read ``layers``: the deepest + 1 (the embedding layer,
    the input of block 0, needs block 0 to exist)."""
    return max(max(layers), 0) + 1


def layer_name(layer: int) -> str:
    """``"emb"`` for the embedding layer, the block number otherwise."""
    return "emb" if layer == EMBEDDING_LAYER else str(int(layer))


def parse_layers(tokens: Sequence[str]) -> list[int] | None:
    """``['0', '1', '2']``, ``['0-11']``, ``['0,1,2']`` or ``['all']`` (returned as ``None``)."""
    if list(tokens) == ["all"]:
        return None
    layers: list[int] = []
    for token in tokens:
        for part in filter(None, str(token).split(",")):
            try:
                if "-" in part.strip("-"):
                    start, end = (int(x) for x in part.split("-", 1))
                    if end < start:
                        raise ValueError
                    layers.extend(range(start, end + 1))
                else:
                    layers.append(int(part))
            except ValueError:
                raise EmoalignError(f"--layers: cannot read {part!r} (use '0 1 2', '0-11' or 'all')") from None
    if any(layer < 0 for layer in layers):
        raise EmoalignError("--layers: layer numbers start at 0")
    return layers
