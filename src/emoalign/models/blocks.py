"""Find the list of transformer blocks whose outputs are the residual stream."""

from __future__ import annotations

from torch import nn

from emoalign.core.errors import EmoalignError

# Attribute paths of the block list, for the base model (AutoModel) and the LM-head wrapper.
# Order matters: the multimodal Gemma3 path must win over the vision tower's layers.
BLOCK_PATHS: tuple[str, ...] = (
    "model.language_model.layers",  # Gemma3ForConditionalGeneration
    "language_model.layers",  # Gemma3Model (multimodal base)
    "model.layers",  # Llama, Qwen2/3, Gemma2, Gemma3 text (CausalLM)
    "layers",  # their base models; GPTNeoXModel
    "transformer.h",  # GPT-2, GPT-Neo (CausalLM)
    "h",  # their base models
    "gpt_neox.layers",  # Pythia (CausalLM)
    "encoder.layer",  # BERT-style encoders
    "bert.encoder.layer",
)


def _get_path(module: nn.Module, path: str) -> nn.Module | None:
    for attr in path.split("."):
        module = getattr(module, attr, None)
        if module is None:
            return None
    return module


def find_blocks(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """Return ``(path, blocks)``: the model's block list; block ``i`` outputs layer ``i``."""
    for path in BLOCK_PATHS:
        blocks = _get_path(model, path)
        if isinstance(blocks, nn.ModuleList) and len(blocks) > 0:
            return path, blocks
    raise EmoalignError(
        f"cannot find the transformer blocks of {type(model).__name__}: none of "
        f"{', '.join(BLOCK_PATHS)} is a list of modules"
    )
