"""Tiny GGUF files for tests, written with the ``gguf`` package from tiny random-weight models.

``write_tiny_gguf(family, hf_folder, gguf_path)`` builds a tiny ``llama`` or ``qwen2`` model (see
``tiny_models.build_tiny_model``) whose weights are rounded to bfloat16 (so emoalign's bfloat16 model
store holds them exactly), saves it as a Hugging Face folder (the reference) and writes the same
weights and tokenizer as an F32 GGUF the way llama.cpp's converter does:

- tensor names from ``gguf.get_tensor_name_map`` (``token_embd``, ``blk.N.attn_q``, ...),
- llama's q/k projection rows permuted (``convert_hf_to_gguf.LlamaModel.permute``), which
  transformers' ``LlamaTensorProcessor`` undoes; qwen2 is stored unpermuted,
- tokenizer as metadata: ``tokenizer.ggml.model = "gpt2"`` (byte-level BPE), tokens, token types
  (3 = control for ``<|endoftext|>``), merges, BOS/EOS ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tiny_models import build_tiny_model

GGUF_FAMILIES = ("llama", "qwen2")


def _permute(weights: np.ndarray, n_head: int, n_head_kv: int | None) -> np.ndarray:
    """llama.cpp's q/k row permutation (HF rotary halves -> interleaved pairs)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def build_bf16_exact_model(family: str, folder: Path, *, seed: int = 0) -> Path:
    """A tiny model of ``family`` (byte-level BPE tokenizer, GPT-2 style offsets) whose float32
    weights are exactly representable in bfloat16, saved to ``folder``."""
    import torch
    from transformers import AutoModelForCausalLM

    build_tiny_model(family, folder, tokenizer="bpe_untrimmed", seed=seed)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.to(torch.bfloat16).to(torch.float32))
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def write_gguf(hf_folder: Path, gguf_path: Path, *, architecture: str | None = None) -> Path:
    """Write the model in ``hf_folder`` as an F32 GGUF (``architecture`` overrides
    ``general.architecture``, e.g. to fake an unsupported one)."""
    import gguf
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(hf_folder, dtype=torch.float32)
    config = model.config
    family = config.model_type
    arch_enum = {"llama": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2}[family]
    n_head, n_kv = config.num_attention_heads, config.num_key_value_heads
    names = gguf.get_tensor_name_map(arch_enum, config.num_hidden_layers)

    writer = gguf.GGUFWriter(str(gguf_path), architecture or gguf.MODEL_ARCH_NAMES[arch_enum])
    writer.add_name(f"tiny-{family}")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_vocab_size(config.vocab_size)

    tokenizer_json = json.loads((hf_folder / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(hf_folder)
    vocab = tokenizer_json["model"]["vocab"]
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    assert [vocab[t] for t in tokens] == list(range(len(tokens)))
    special = {added["content"] for added in tokenizer_json["added_tokens"] if added["special"]}
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer_json["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_add_bos_token(False)

    for hf_name, tensor in model.state_dict().items():
        base, suffix = hf_name.rsplit(".", 1)
        gguf_name = names.get_name(base)
        assert gguf_name is not None, hf_name
        data = tensor.numpy().astype(np.float32)
        if family == "llama" and gguf_name.endswith("attn_q"):
            data = _permute(data, n_head, n_head)
        elif family == "llama" and gguf_name.endswith("attn_k"):
            data = _permute(data, n_head, n_kv)
        writer.add_tensor(f"{gguf_name}.{suffix}", np.ascontiguousarray(data))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return gguf_path


def write_tiny_gguf(family: str, hf_folder: Path, gguf_path: Path, *, seed: int = 0) -> Path:
    """Build the bf16-exact tiny ``family`` model in ``hf_folder`` and write it as ``gguf_path``."""
    build_bf16_exact_model(family, hf_folder, seed=seed)
    return write_gguf(hf_folder, gguf_path)


_BUILT: dict[str, tuple[Path, Path]] = {}


def tiny_gguf_pair(tmp_path_factory, family: str) -> tuple[Path, Path]:
    """``(reference HF folder, GGUF file)`` of ``family``, written once per test session (read-only)."""
    if family not in _BUILT:
        root = tmp_path_factory.mktemp(f"gguf-{family}")
        (root / "gguf").mkdir()
        _BUILT[family] = (root / "hf", write_tiny_gguf(family, root / "hf", root / "gguf" / f"tiny-{family}.gguf"))
    return _BUILT[family]
