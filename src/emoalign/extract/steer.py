"""The forward passes of the causal test: add a vector to a decoder's residual stream after one
block and read the next-token distribution (:mod:`emoalign.study.steer` runs the stage).

The vector is added at every position but the first. Position 0 is the attention sink (the start
token, or the first word of a model without one): its residual norm is many times the others', every
later position attends to it, and moving it perturbs the whole prompt in ways no emotion direction
explains. It is also the position extraction never reads.

Prompts are never padded: they are grouped by token length and each group is stacked with every
condition, so the last position is the last token of every row and no attention mask is needed.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from emoalign.core.errors import EmoalignError
from emoalign.data.lexicon import find_emotion_word_spans
from emoalign.extract.capture import capture_block_outputs
from emoalign.extract.start_token import StartToken, encode_texts, tokenizer_name
from emoalign.models.blocks import find_blocks

__all__ = [
    "ENCODER_TYPES",
    "emotion_words",
    "emotion_first_tokens",
    "token_texts",
    "encode_prompts",
    "emotion_log_mass",
    "residual_norm",
    "greedy_continuations",
    "has_next_token_head",
]

#: model types whose checkpoints are encoders (no next-token head), even where transformers maps
#: them to a causal-LM class (``BertLMHeadModel``, ``RobertaForCausalLM`` ...)
ENCODER_TYPES = frozenset({
    "albert", "bert", "big_bird", "camembert", "data2vec-text", "deberta", "deberta-v2", "distilbert", "electra",
    "ernie", "megatron-bert", "modernbert", "mpnet", "rembert", "roberta", "roberta-prelayernorm", "roc_bert",
    "xlm", "xlm-roberta", "xlm-roberta-xl",
})


def emotion_words(
    texts_by_label: Mapping[str, Sequence[str]], lexicon: Mapping[str, Sequence[str]]
) -> dict[str, tuple[str, ...]]:
    """The distinct emotion words (lower-cased, in order of first appearance) that the lexicon's
    patterns of each label find in that label's prompts."""
    words: dict[str, tuple[str, ...]] = {}
    for label, texts in texts_by_label.items():
        found: dict[str, None] = {}
        for text in texts:
            for start, end in find_emotion_word_spans(text, lexicon[label], label=label):
                found.setdefault(text[start:end].lower(), None)
        words[label] = tuple(found)
    return words


def _token_text(tokenizer: Any, token_id: int) -> str:
    """A token decoded alone, without whitespace or the byte-level / SentencePiece space markers."""
    text = tokenizer.decode([int(token_id)])
    return text.replace("Ġ", "").replace("▁", "").strip()


def token_texts(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """The tokens ``ids`` as text (decoded one by one, space markers and whitespace stripped)."""
    return [_token_text(tokenizer, i) for i in ids]


def emotion_first_tokens(
    tokenizer: Any, words: Mapping[str, Sequence[str]], *, min_chars: int = 3, min_share: float = 0.5,
    name: str | None = None,
) -> dict[str, tuple[int, ...]]:
    """Per emotion, the sorted ids of the first tokens of its words as a next token could begin
    them (``" w"``, ``" W"``, ``"w"``, ``"W"``).

    A first token is kept when it is the whole word, or has at least ``min_chars`` characters and
    covers more than ``min_share`` of the word's characters: a short first piece begins too many other words
    (Gemma's "for" of "forgive", "out" of "outraged", "app" of "appreciate" are common words of
    their own, and would make the readout measure them). A token two emotions share is left out of
    both. An emotion left without tokens is an error naming it and the model (``name``, default the
    tokenizer's)."""
    tokens: dict[str, set[int]] = {}
    for label, label_words in words.items():
        kept: set[int] = set()
        for word in label_words:
            for form in (f" {word}", f" {word.capitalize()}", word, word.capitalize()):
                ids = tokenizer.encode(form, add_special_tokens=False)
                if not ids:
                    continue
                text = _token_text(tokenizer, ids[0])
                whole = text.lower() == word.lower()
                if whole or (len(text) >= min_chars and len(text) > min_share * len(word)):
                    kept.add(int(ids[0]))
        tokens[label] = kept
    shared = {t for a in tokens for b in tokens if a < b for t in tokens[a] & tokens[b]}
    out: dict[str, tuple[int, ...]] = {}
    for label, kept in tokens.items():
        if not kept - shared:
            shown = ", ".join(repr(w) for w in list(words[label])[:3]) or "none found in the prompts"
            more = ", ..." if len(words[label]) > 3 else ""
            raise EmoalignError(
                f"{label}: no first token of its words ({shown}{more}) in {tokenizer_name(tokenizer, name)}'s "
                f"vocabulary has {min_chars}+ characters, covers more than {min_share:.0%} of its word and belongs to this "
                "emotion alone; "
                "the steering test cannot read it"
            )
        out[label] = tuple(sorted(kept - shared))
    return out


def encode_prompts(tokenizer: Any, texts: Sequence[str], start: StartToken) -> list[list[int]]:
    """Token ids of ``texts`` as extraction reads them (with the start token ``start`` gives)."""
    return [[int(i) for i in ids] for ids in encode_texts(tokenizer, texts, start)["input_ids"]]


def has_next_token_head(config: Any) -> bool:
    """Whether a checkpoint's config is a decoder with a next-token head: an architecture that is a
    causal-LM class, or a ``*ForConditionalGeneration`` whose text config is a decoder; by model
    type where the config lists no architecture. Encoders (BERT, RoBERTa, MPNet ...) never are."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES as causal,
    )

    def decoder_type(cfg: Any) -> bool:
        model_type = str(getattr(cfg, "model_type", ""))
        return model_type in causal and model_type not in ENCODER_TYPES

    if str(getattr(config, "model_type", "")) in ENCODER_TYPES:
        return False
    architectures = getattr(config, "architectures", None) or []
    if not architectures:
        return decoder_type(config)
    text = getattr(config, "text_config", None)
    multimodal_decoder = text is not None and text is not config and decoder_type(text)
    return any(
        name in causal.values() or (name.endswith("ForConditionalGeneration") and multimodal_decoder)
        for name in architectures
    )


def _block(loaded: Any, layer: int) -> torch.nn.Module:
    """Block ``layer`` of ``loaded`` (the embeddings, -1, cannot be steered)."""
    _, blocks = find_blocks(loaded.model)
    if not 0 <= layer < len(blocks):
        what = ("the embeddings cannot be steered" if layer < 0
                else f"the model has {len(blocks)} blocks (0-{len(blocks) - 1})")
        raise EmoalignError(f"layer {layer} of {loaded.spec.name}: {what}; steer a block's output (layer 0 or above)")
    return blocks[layer]


class _AddVectors:
    """A forward hook adding ``vectors`` (one row per batch row, or one row for all) to a block's
    output at every position but the first."""

    def __init__(self, vectors: torch.Tensor) -> None:
        self.vectors = vectors

    def __call__(self, _module: torch.nn.Module, _args: object, output: Any) -> Any:
        hidden = output[0] if isinstance(output, (tuple, list)) else output
        vectors = self.vectors.to(hidden.device, hidden.dtype)[:, None, :]
        steered = torch.cat([hidden[:, :1], hidden[:, 1:] + vectors], dim=1)
        if isinstance(output, (tuple, list)):  # transformers 4.x blocks (and GPT-Neo's in 5.x)
            return type(output)([steered, *output[1:]])
        return steered


@contextmanager
def _hooked(block: torch.nn.Module, hook: _AddVectors) -> Iterator[None]:
    handle = block.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _last_logits(model: torch.nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """The logits of the last position, (rows, vocab); the head runs on the last position only
    where the model's forward takes ``logits_to_keep``."""
    extra = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    return model(input_ids=input_ids, use_cache=False, **extra).logits[:, -1, :]


def _log_softmax64(logits: torch.Tensor) -> torch.Tensor:
    """log-softmax in float64 (on the CPU for Apple MPS, which has no float64)."""
    if logits.device.type == "mps":
        logits = logits.cpu()
    return torch.log_softmax(logits.double(), dim=-1)


def _vector_rows(loaded: Any, vectors: np.ndarray) -> torch.Tensor:
    """``vectors`` as a (C, d_model) float32 tensor on the model's device; another shape is an error."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != loaded.d_model:
        raise EmoalignError(
            f"steering vectors of shape {array.shape} for {loaded.spec.name}: expected (conditions, {loaded.d_model})"
        )
    return torch.from_numpy(array).to(loaded.device)


def _length_groups(prompts: Sequence[Sequence[int]]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for p, ids in enumerate(prompts):
        groups.setdefault(len(ids), []).append(p)
    return groups


def emotion_log_mass(
    loaded: Any,
    layer: int,
    prompts: Sequence[Sequence[int]],
    vectors: np.ndarray,
    token_sets: Sequence[Sequence[int]],
    *,
    batch_rows: int = 128,
) -> np.ndarray:
    """(C, P, E) float64: ``log Σ_{t ∈ token_sets[e]} p(t)``, the next-token probability mass of
    emotion e at the last position of prompt p, with ``vectors[c]`` (C, d_model; a zero row:
    unsteered) added to the output of block ``layer`` at every position but the first."""
    block = _block(loaded, layer)
    vectors_t = _vector_rows(loaded, vectors)
    out = np.zeros((len(vectors_t), len(prompts), len(token_sets)))
    for group in _length_groups(prompts).values():
        rows = [(c, p) for c in range(len(vectors_t)) for p in group]
        for first in range(0, len(rows), batch_rows):
            conditions, chunk_prompts = (list(x) for x in zip(*rows[first : first + batch_rows]))
            ids = torch.tensor([list(prompts[p]) for p in chunk_prompts], dtype=torch.long, device=loaded.device)
            with torch.no_grad(), _hooked(block, _AddVectors(vectors_t[conditions])):
                logits = _last_logits(loaded.model, ids)
            log_p = _log_softmax64(logits)
            for e, token_ids in enumerate(token_sets):
                index = torch.as_tensor(list(token_ids), dtype=torch.long, device=log_p.device)
                out[conditions, chunk_prompts, e] = torch.logsumexp(log_p[:, index], dim=-1).cpu().numpy()
    return out


def residual_norm(loaded: Any, layer: int, prompts: Sequence[Sequence[int]], *, batch_rows: int = 128) -> float:
    """The median L2 norm of the residual stream after block ``layer`` over every token of
    ``prompts`` but the first (the sink, whose norm is far larger in many models): the scale the
    steering vectors are given in."""
    _block(loaded, layer)
    _, blocks = find_blocks(loaded.model)
    norms = []
    for length, group in _length_groups(prompts).items():
        if length < 2:
            continue
        for first in range(0, len(group), batch_rows):
            ids = torch.tensor([list(prompts[p]) for p in group[first : first + batch_rows]], device=loaded.device)
            hidden = capture_block_outputs(loaded.model, blocks, [layer], {"input_ids": ids})[layer]
            norms.append(hidden[:, 1:].float().norm(dim=-1).flatten().cpu().numpy())
    if not norms:
        raise EmoalignError(
            f"{loaded.spec.name}: every steering prompt is one token long; nothing to steer after position 0"
        )
    return float(np.median(np.concatenate(norms)))


def _eos_ids(loaded: Any) -> set[int]:
    eos = getattr(getattr(loaded.model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = loaded.tokenizer.eos_token_id
    return set() if eos is None else {int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])}


def _greedy(
    loaded: Any, block: torch.nn.Module, ids: Sequence[int], vector: torch.Tensor, max_new_tokens: int
) -> list[int]:
    """Greedy decoding of one prompt, ``vector`` added after ``block`` at every position but the first.

    Each step runs the whole sequence without a KV cache: the same forward as
    :func:`emoalign.extract.steer.emotion_log_mass`, by construction, and no dependence on the cache
    API, which transformers keeps renaming. A short prompt costs about the same as a cached step on
    a GPU (a forward of a few dozen tokens is bound by reading the weights)."""
    eos, sequence = _eos_ids(loaded), list(ids)
    with torch.no_grad(), _hooked(block, _AddVectors(vector[None, :])):
        for _ in range(max_new_tokens):
            logits = _last_logits(loaded.model, torch.tensor([sequence], device=loaded.device))
            sequence.append(int(logits[0].argmax()))
            if sequence[-1] in eos:
                break
    return sequence[len(ids):]


def greedy_continuations(
    loaded: Any, layer: int, prompts: Sequence[Sequence[int]], vectors: np.ndarray, *, max_new_tokens: int = 12
) -> list[list[str]]:
    """Greedy continuations (the new tokens decoded, special tokens skipped) of every prompt under
    every vector (C lists of P strings), ``vectors[c]`` added after block ``layer`` at every position
    but the first. One prompt at a time: no padding."""
    block = _block(loaded, layer)
    vectors_t = _vector_rows(loaded, vectors)
    return [
        [loaded.tokenizer.decode(_greedy(loaded, block, ids, vector, max_new_tokens), skip_special_tokens=True)
         for ids in prompts]
        for vector in vectors_t
    ]
