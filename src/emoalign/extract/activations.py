"""Extract pooled emotion-word and reference activations from one model."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from emoalign.core.activations import FORMAT_VERSION, ActivationSet  # noqa: F401 - re-exported (moved)
from emoalign.core.errors import EmoalignError
from emoalign.core.layers import EMBEDDING_LAYER
from emoalign.core.provenance import provenance
from emoalign.data.dataset import PromptDataset
from emoalign.data.lexicon import find_emotion_word_spans
from emoalign.extract.capture import capture_block_outputs
from emoalign.extract.positions import (
    PositionPolicy,
    emotion_token_positions,
    last_content_token,
    whitespace_word_spans,
    word_last_tokens,
)
from emoalign.extract.start_token import (
    StartToken,
    encode_texts,
    resolve_start_token,
    tokenizer_name,
)
from emoalign.models.blocks import find_blocks
from emoalign.models.loading import LoadedModel


@dataclass(frozen=True)
class PromptPlan:
    """Which token positions of one prompt to read."""

    pooled: list[int]
    fallback: bool
    word_tokens: list[int]


def _plan_prompt(
    text: str,
    label: str,
    offsets: Sequence[tuple[int, int]],
    reference_label: str,
    lexicon: Mapping[str, Sequence[str]],
    policy: PositionPolicy,
) -> PromptPlan:
    content = last_content_token(offsets)
    if label == reference_label:
        tokens = word_last_tokens(offsets, whitespace_word_spans(text))
        if any(token is None for token in tokens):
            raise EmoalignError(f"reference prompt {text!r}: a word maps to no token (was it truncated?)")
        return PromptPlan(pooled=[content], fallback=False, word_tokens=[int(t) for t in tokens if t is not None])
    spans = find_emotion_word_spans(text, lexicon.get(label, ()))
    positions = emotion_token_positions(offsets, spans, policy)
    if positions:
        return PromptPlan(pooled=positions, fallback=False, word_tokens=[])
    # Documented fallback: no emotion word found -> last content token, counted in the output.
    return PromptPlan(pooled=[content], fallback=True, word_tokens=[])


def plan_positions(
    tokenizer: Any,
    dataset: PromptDataset,
    lexicon: Mapping[str, Sequence[str]],
    policy: PositionPolicy = "all",
    bos: str | StartToken = "auto",
) -> tuple[list[PromptPlan], dict[str, list[list[Any]]]]:
    """Token positions to read for every prompt, from character offsets; also returns the encoding
    (``input_ids`` and ``offset_mapping`` per prompt, the start token included).

    Emotion prompts: the sub-tokens of their emotion words (``policy``), or the last content token
    as a counted fallback. Reference prompts: the last content token plus each word's last sub-token.
    ``bos``: the start-token option (auto, always, never) or its resolved :class:`StartToken`.
    """
    start = bos if isinstance(bos, StartToken) else resolve_start_token(tokenizer, bos)
    texts = [prompt.text for prompt in dataset.prompts]
    encoded = encode_texts(tokenizer, texts, start)
    plans = [
        _plan_prompt(prompt.text, prompt.label, offsets, dataset.reference_label, lexicon, policy)
        for prompt, offsets in zip(dataset.prompts, encoded["offset_mapping"])
    ]
    return plans, encoded


def validate_layers(layers: Sequence[int], n_layers: int, model_name: str) -> tuple[int, ...]:
    """Sorted unique layers, each within the model's depth (or the embedding layer, -1); otherwise an
    error naming the layer."""
    if not layers:
        raise EmoalignError(f"no layers requested for {model_name}")
    for layer in layers:
        if not (0 <= layer < n_layers or layer == EMBEDDING_LAYER):
            raise EmoalignError(
                f"layer {layer} is beyond the depth of {model_name} ({n_layers} blocks: layers 0-{n_layers - 1})"
            )
    return tuple(sorted(set(int(layer) for layer in layers)))


@dataclass(frozen=True)
class TokenizedPrompts:
    """A dataset tokenized once for one tokenizer: the positions to read in every prompt and the
    right-padded, length-bucketed batches. Models sharing the tokenizer (a model's random copies)
    reuse it, so the prompts are tokenized once for any number of models."""

    dataset_hash: str
    lexicon_hash: str
    position_policy: str
    batch_size: int
    bos: str  # the start-token option the positions were planned with (auto, always, never)
    start_token: str  # what it resolved to (StartToken.describe)
    texts: tuple[str, ...]
    labels: tuple[str, ...]
    plans: tuple[PromptPlan, ...]
    batches: tuple[np.ndarray, ...]  # prompt indices of every batch
    inputs: tuple[dict[str, Any], ...]  # CPU input_ids / attention_mask of every batch
    matched_tokens: tuple[tuple[str, ...], ...]

    def token_ids(self) -> np.ndarray:
        """Every token id the batches feed the model (padding included), sorted, unique."""
        import torch

        return torch.unique(torch.cat([batch["input_ids"].flatten() for batch in self.inputs])).numpy()


def lexicon_hash(lexicon: Mapping[str, Sequence[str]]) -> str:
    """sha256 of a lexicon (labels and patterns, order-independent across labels)."""
    payload = json.dumps({label: list(patterns) for label, patterns in sorted(lexicon.items())})
    return hashlib.sha256(payload.encode()).hexdigest()


def pad_right(rows: Sequence[Sequence[int]], pad_id: int) -> dict[str, Any]:
    """``input_ids`` / ``attention_mask`` (int64 tensors) of ``rows`` right-padded with ``pad_id``;
    every token of a row (a prepended start token included) is marked real."""
    import torch

    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), int(pad_id), dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(list(row), dtype=torch.long)
        attention_mask[i, : len(row)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def tokenize_prompts(
    tokenizer: Any,
    dataset: PromptDataset,
    *,
    lexicon: Mapping[str, Sequence[str]],
    position_policy: PositionPolicy = "all",
    batch_size: int = 16,
    bos: str = "auto",
    name: str | None = None,
) -> TokenizedPrompts:
    """Plan the positions (:func:`plan_positions`) and build the right-padded batches of ``dataset``
    from the planned token ids (so a prepended start token is in both). ``name``: the model, for errors."""
    if batch_size < 1:
        raise EmoalignError(f"--batch-size {batch_size}: must be at least 1")
    texts = [prompt.text for prompt in dataset.prompts]
    if not texts:
        raise EmoalignError(f"dataset {dataset.name!r} is empty")
    start = resolve_start_token(tokenizer, bos, name)
    plans, encoded = plan_positions(tokenizer, dataset, lexicon, position_policy, start)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad_id is None:
        raise EmoalignError(
            f"model {tokenizer_name(tokenizer, name)!r}: the tokenizer has neither a pad nor an EOS token"
        )
    order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
    batches = [order[first : first + batch_size] for first in range(0, len(order), batch_size)]
    inputs = [pad_right([encoded["input_ids"][i] for i in batch], pad_id) for batch in batches]
    matched_tokens = tuple(
        tuple(tokenizer.convert_ids_to_tokens([encoded["input_ids"][i][t] for t in plan.pooled]))
        for i, plan in enumerate(plans)
    )
    return TokenizedPrompts(
        dataset_hash=dataset.content_hash(),
        lexicon_hash=lexicon_hash(lexicon),
        position_policy=position_policy,
        batch_size=batch_size,
        bos=bos,
        start_token=start.describe(),
        texts=tuple(texts),
        labels=tuple(prompt.label for prompt in dataset.prompts),
        plans=tuple(plans),
        batches=tuple(batches),
        inputs=tuple(inputs),
        matched_tokens=matched_tokens,
    )


def extract_activations(
    loaded: LoadedModel,
    dataset: PromptDataset,
    layers: Sequence[int],
    *,
    lexicon: Mapping[str, Sequence[str]],
    position_policy: PositionPolicy = "all",
    batch_size: int = 16,
    quiet: bool = False,
    tokenized: TokenizedPrompts | None = None,
    bos: str = "auto",
) -> ActivationSet:
    """Run the model over the dataset in length-bucketed, right-padded batches and pool activations.

    ``tokenized``: the dataset already tokenized by :func:`tokenize_prompts` with this model's
    tokenizer (and the same lexicon, policy, batch size and ``bos``), to reuse across models.
    ``bos``: the start-token option (:mod:`emoalign.extract.start_token`), recorded in ``extra``.
    """
    model_name = loaded.spec.name
    layers = validate_layers(layers, loaded.n_layers, model_name)
    if tokenized is None:
        tokenized = tokenize_prompts(
            loaded.tokenizer, dataset, lexicon=lexicon, position_policy=position_policy, batch_size=batch_size,
            bos=bos, name=model_name,
        )
    elif (
        tokenized.dataset_hash, tokenized.lexicon_hash, tokenized.position_policy, tokenized.batch_size, tokenized.bos
    ) != (dataset.content_hash(), lexicon_hash(lexicon), position_policy, batch_size, bos):
        raise EmoalignError(f"{model_name}: the tokenized prompts were planned for another dataset or settings")
    texts, plans = tokenized.texts, tokenized.plans
    word_owner = [(i, w) for i, plan in enumerate(plans) for w in range(len(plan.word_tokens))]
    word_row = {key: row for row, key in enumerate(word_owner)}
    n_rows, d = len(layers), loaded.d_model
    prompt_acts = np.zeros((n_rows, len(texts), d), dtype=np.float32)
    word_acts = np.zeros((n_rows, len(word_owner), d), dtype=np.float32)

    _, blocks = find_blocks(loaded.model)
    progress = tqdm(
        list(zip(tokenized.batches, tokenized.inputs)), desc=f"extract {model_name}", unit="batch", disable=quiet
    )
    for batch, batch_inputs in progress:
        inputs = {k: v.to(loaded.device) for k, v in batch_inputs.items()}
        captured = capture_block_outputs(loaded.model, blocks, layers, inputs)
        n_real = inputs["attention_mask"].sum(dim=1).tolist()
        for row, layer in enumerate(layers):
            hidden = captured[layer].float().cpu().numpy()  # one device->host copy per layer
            for b, prompt_index in enumerate(batch):
                plan = plans[prompt_index]
                real = hidden[b, : n_real[b]]
                if not np.isfinite(real).all():
                    dtype = str(loaded.dtype).removeprefix("torch.")
                    advice = (
                        "the weights themselves produce NaN/Inf: check the checkpoint" if dtype == "float32"
                        else "use --dtype float32"
                    )
                    raise EmoalignError(
                        f"non-finite activations in {model_name} (dtype {dtype}) at layer {layer} for prompt "
                        f"{prompt_index} {texts[prompt_index][:60]!r}; {advice}"
                    )
                prompt_acts[row, prompt_index] = real[plan.pooled].mean(axis=0)
                for w, token in enumerate(plan.word_tokens):
                    word_acts[row, word_row[(prompt_index, w)]] = real[token]

    return ActivationSet(
        model=loaded.provenance(),
        dataset={
            "name": dataset.name,
            "hash": tokenized.dataset_hash,
            "label_counts": dataset.label_counts(),
        },
        layers=layers,
        texts=texts,
        labels=tokenized.labels,
        reference_label=dataset.reference_label,
        position_policy=position_policy,
        prompt_acts=prompt_acts,
        word_acts=word_acts,
        word_prompt=np.array([owner for owner, _ in word_owner], dtype=np.int64),
        word_position=np.array([w for _, w in word_owner], dtype=np.int64),
        fallback=np.array([plan.fallback for plan in plans], dtype=bool),
        matched_tokens=tokenized.matched_tokens,
        extra={
            "provenance": provenance(), "batch_size": batch_size, "bos": tokenized.bos,
            "start_token": tokenized.start_token,
        },
    )
