"""Layer lists as typed on the command line or in a config file: ``0 1 2``, ``0-11``, ``0,2`` or ``all``."""

from __future__ import annotations

from collections.abc import Sequence

from emoalign.core.errors import EmoalignError
from emoalign.core.log import get_logger

__all__ = ["EMBEDDING_LAYER", "MAX_LAYER", "blocks_needed", "layer_name", "parse_layers"]

log = get_logger(__name__)

#: The deepest layer number a layer list may name: far beyond any model (the deepest have a few
#: hundred blocks), and a bound on how long a list ``0-N`` can be.
MAX_LAYER = 100_000

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


def parse_layers(tokens: Sequence[str], flag: str = "--layers", *, unique: bool = True) -> list[int] | None:
    """``['0', '1', '2']``, ``['0-11']``, ``['0,1,2']`` or ``['all']`` (returned as ``None``).

    Layer numbers go from 0 to :data:`MAX_LAYER`; anything else is an EmoalignError naming ``flag``.
    With ``unique`` (default), a layer named twice (``0 0 1``, ``0-3 2``) is kept once, where it first
    appears, with a warning: a layer is never analysed (nor counted in a correction) twice.
    ``unique=False`` keeps repeats, for a list paired position by position with another
    (``--target-layers 5 5`` after ``--layers 0 1``).
    """
    if isinstance(tokens, (str, bytes)):
        tokens = [tokens]  # type: ignore[list-item]
    if list(tokens) == ["all"]:
        return None
    layers: dict[int, None] = {}  # first-appearance order
    repeated: set[int] = set()
    kept: list[int] = []  # unique=False: every layer as named
    for token in tokens:
        for part in filter(None, str(token).split(",")):
            part = part.strip()
            try:
                if "-" in part.strip("-"):
                    start, end = (int(x) for x in part.split("-", 1))
                    if end < start:
                        raise ValueError
                else:
                    start = end = int(part)
            except ValueError:
                raise EmoalignError(f"{flag}: cannot read {part!r} (use '0 1 2', '0-11' or 'all')") from None
            if start < 0:
                raise EmoalignError(f"{flag}: layer numbers start at 0, got {part!r}")
            if end > MAX_LAYER:
                raise EmoalignError(f"{flag}: {part!r} names layer {end:,}; layer numbers go up to {MAX_LAYER:,}")
            if not unique:
                kept.extend(range(start, end + 1))
                if len(kept) > MAX_LAYER + 1:
                    raise EmoalignError(f"{flag}: more than {MAX_LAYER + 1:,} layers")
                continue
            for layer in range(start, end + 1):
                if layer in layers:
                    repeated.add(layer)
                else:
                    layers[layer] = None
    if not unique:
        return kept
    if repeated:
        named = sorted(repeated)
        log.warning(f"{flag}: layer(s) {', '.join(map(str, named[:10]))}{', ...' if len(named) > 10 else ''} "
                    "named more than once; each is analysed once")
    return list(layers)
