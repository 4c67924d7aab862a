"""Capture block outputs (the residual stream) with forward hooks, stopping after the deepest
requested block so later blocks and the LM head never run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from emoalign.core.layers import EMBEDDING_LAYER


class _StopForward(Exception):
    """Raised inside the deepest hook to end the forward pass early."""


def capture_block_outputs(
    model: nn.Module,
    blocks: Sequence[nn.Module],
    layers: Sequence[int],
    inputs: Mapping[str, torch.Tensor],
) -> dict[int, torch.Tensor]:
    """Run ``model(**inputs)`` and return ``{layer: output of blocks[layer]}`` (batch, tokens, d).

    Layer ``i`` is the residual stream after block ``i`` (HF ``hidden_states[i + 1]``, except that
    HF's last entry may carry the final norm). Blocks return a tensor in transformers 5.x and a
    tuple in older releases; both are handled. Layer ``EMBEDDING_LAYER`` (-1) is the input of block
    0: the embeddings as the blocks see them (HF ``hidden_states[0]``, position embeddings and
    Gemma's ``sqrt(d)`` scaling included).
    """
    wanted = sorted(set(layers))
    deepest = wanted[-1]
    captured: dict[int, torch.Tensor] = {}

    def embedding_hook(_module: nn.Module, args: tuple, kwargs: dict) -> None:
        hidden = args[0] if args else kwargs["hidden_states"]
        captured[EMBEDDING_LAYER] = hidden.detach()
        if deepest == EMBEDDING_LAYER:
            raise _StopForward

    def make_hook(layer: int):
        def hook(_module: nn.Module, _args: object, output: object) -> None:
            hidden = output[0] if isinstance(output, (tuple, list)) else output
            captured[layer] = hidden.detach()
            if layer == deepest:
                raise _StopForward

        return hook

    handles = [blocks[layer].register_forward_hook(make_hook(layer)) for layer in wanted if layer >= 0]
    if EMBEDDING_LAYER in wanted:
        handles.append(blocks[0].register_forward_pre_hook(embedding_hook, with_kwargs=True))
    try:
        with torch.no_grad():
            model(**inputs, use_cache=False)
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    missing = [layer for layer in wanted if layer not in captured]
    if missing:
        raise RuntimeError(f"blocks {missing} did not run during the forward pass")
    return captured
