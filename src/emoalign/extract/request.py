"""What to extract: an :class:`ExtractionRequest` (model, prompts, layers, positions and how to run
it). Shared by the activation cache (:mod:`emoalign.extract.cache`) and the random-weight copies
(:mod:`emoalign.extract.baseline`), which both read it and neither of which it imports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emoalign.data.dataset import PromptDataset
from emoalign.extract.positions import PositionPolicy
from emoalign.extract.start_token import BosPolicy
from emoalign.models.registry import ModelSpec

if TYPE_CHECKING:  # an annotation only: the request itself needs no torch
    from emoalign.models.loading import LoadedModel

__all__ = ["ExtractionRequest"]


@dataclass(frozen=True)
class ExtractionRequest:
    """Everything that determines an activation set (and so its cache key), plus how to run it."""

    spec: ModelSpec
    dataset: PromptDataset
    layers: tuple[int, ...]
    lexicon: Mapping[str, Sequence[str]]
    position_policy: PositionPolicy = "all"
    bos: BosPolicy = "auto"  # start token before every prompt (emoalign.extract.start_token)
    dtype: str | None = None
    revision: str | None = None
    device: str = "auto"
    device_map: str | None = None
    trust_remote_code: bool = False
    batch_size: int = 16
    untrained_seed: int | None = None  # the untrained control: the architecture with random weights
    allow_pickle_weights: bool = False  # weights in pickle files (.bin) run code when loaded: opt in only
    # a model the user already loaded (emoalign.run(model, ...)): extracted as it is, never cached
    loaded: LoadedModel | None = field(default=None, compare=False, repr=False)
