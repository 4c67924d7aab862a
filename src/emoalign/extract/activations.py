"""Extract pooled emotion-word and reference activations from one model (DESIGN §3)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from emoalign.activations import FORMAT_VERSION, ActivationSet  # noqa: F401 - re-exported (moved)
from emoalign.data.dataset import PromptDataset
from emoalign.data.lexicon import find_emotion_word_spans
from emoalign.errors import EmoalignError
from emoalign.extract.capture import capture_block_outputs
from emoalign.extract.positions import (
    PositionPolicy,
    emotion_token_positions,
    last_content_token,
    whitespace_word_spans,
    word_last_tokens,
)
from emoalign.models.blocks import find_blocks
from emoalign.models.loading import LoadedModel
from emoalign.provenance import provenance


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
) -> tuple[list[PromptPlan], dict[str, list[list[int]]]]:
    """Token positions to read for every prompt, from character offsets; also returns the encoding.

    Emotion prompts: the sub-tokens of their emotion words (``policy``), or the last content token
    as a counted fallback. Reference prompts: the last content token plus each word's last sub-token.
    """
    texts = [prompt.text for prompt in dataset.prompts]
    encoded = tokenizer(texts, return_offsets_mapping=True)
    plans = [
        _plan_prompt(prompt.text, prompt.label, [tuple(o) for o in offsets], dataset.reference_label, lexicon, policy)
        for prompt, offsets in zip(dataset.prompts, encoded["offset_mapping"])
    ]
    return plans, encoded


def validate_layers(layers: Sequence[int], n_layers: int, model_name: str) -> tuple[int, ...]:
    """Sorted unique layers, each within the model's depth; otherwise an error naming the layer."""
    if not layers:
        raise EmoalignError(f"no layers requested for {model_name}")
    for layer in layers:
        if not 0 <= layer < n_layers:
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


def tokenize_prompts(
    tokenizer: Any,
    dataset: PromptDataset,
    *,
    lexicon: Mapping[str, Sequence[str]],
    position_policy: PositionPolicy = "all",
    batch_size: int = 16,
) -> TokenizedPrompts:
    """Plan the positions (:func:`plan_positions`) and tokenize the batches of ``dataset``."""
    if batch_size < 1:
        raise EmoalignError(f"--batch-size {batch_size}: must be at least 1")
    texts = [prompt.text for prompt in dataset.prompts]
    if not texts:
        raise EmoalignError(f"dataset {dataset.name!r} is empty")
    plans, encoded = plan_positions(tokenizer, dataset, lexicon, position_policy)
    order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    inputs = []
    for batch in batches:
        tokens = tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True)
        inputs.append({k: tokens[k] for k in ("input_ids", "attention_mask")})
    matched_tokens = tuple(
        tuple(tokenizer.convert_ids_to_tokens([encoded["input_ids"][i][t] for t in plan.pooled]))
        for i, plan in enumerate(plans)
    )
    return TokenizedPrompts(
        dataset_hash=dataset.content_hash(),
        lexicon_hash=lexicon_hash(lexicon),
        position_policy=position_policy,
        batch_size=batch_size,
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
) -> ActivationSet:
    """Run the model over the dataset in length-bucketed, right-padded batches and pool activations.

    ``tokenized``: the dataset already tokenized by :func:`tokenize_prompts` with this model's
    tokenizer (and the same lexicon, policy and batch size), to reuse across models.
    """
    model_name = loaded.spec.name
    layers = validate_layers(layers, loaded.n_layers, model_name)
    if tokenized is None:
        tokenized = tokenize_prompts(
            loaded.tokenizer, dataset, lexicon=lexicon, position_policy=position_policy, batch_size=batch_size
        )
    elif (tokenized.dataset_hash, tokenized.lexicon_hash, tokenized.position_policy, tokenized.batch_size) != (
        dataset.content_hash(), lexicon_hash(lexicon), position_policy, batch_size
    ):
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
        extra={"provenance": provenance(), "batch_size": batch_size},
    )
