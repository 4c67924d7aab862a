"""Checks that run before the first forward pass: a study that will fail, fails before it computes.

A bad device, a pickle-only or truncated weight file, a prompt longer than the model's positions or
a token id outside its vocabulary would otherwise surface after minutes of extraction (or as a
traceback); here each is one line naming the model, file or prompt at fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emoalign.core.errors import EmoalignError
from emoalign.core.log import get_logger
from emoalign.data.dataset import PromptDataset
from emoalign.data.lexicon import find_emotion_word_spans
from emoalign.io.paths import refuse_symlinked_folders
from emoalign.models.loading import (
    estimate_parameter_count,
    load_config,
    load_tokenizer,
    resolve_device,
    resolve_dtype,
    text_config,
)
from emoalign.models.registry import ModelSpec

log = get_logger(__name__)

PICKLE_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def check_weights(spec: ModelSpec, *, allow_pickle: bool = False) -> None:
    """A local model folder holds readable safetensors weights (pickle files only when allowed)."""
    if spec.gguf is not None or not spec.is_local:
        return  # GGUF files are checked when read; hub checkpoints are checked by transformers
    folder = Path(spec.hub_id).expanduser()
    safetensors = sorted(folder.glob("*.safetensors"))
    if not safetensors:
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_WEIGHT_SUFFIXES)
        if pickles and not allow_pickle:
            raise EmoalignError(
                f"{folder / pickles[0]}: weights stored as a pickle file, which can run code when loaded; "
                "convert them to safetensors, or pass --allow-pickle-weights if you trust the file"
            )
        if not pickles:
            raise EmoalignError(f"{folder}: no weights (no *.safetensors file) in the model folder")
        return
    from safetensors import safe_open

    for path in safetensors:
        try:
            with safe_open(str(path), framework="np"):
                pass
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types for damaged files
            raise EmoalignError(f"{path}: damaged weight file ({str(exc).splitlines()[0]})") from None


def check_prompt_tokens(
    spec: ModelSpec, config: Any, tokenizer: Any, dataset: PromptDataset, bos: str = "auto"
) -> None:
    """A start token can be found (``bos``), every prompt fits the model's positions (the start
    token included), and every token id exists in its embedding table."""
    from emoalign.extract.start_token import encode_texts, resolve_start_token

    cfg = text_config(config)
    start = resolve_start_token(tokenizer, bos, spec.name)
    encoded = encode_texts(tokenizer, [p.text for p in dataset.prompts], start)["input_ids"]
    max_positions = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    vocab_size = getattr(cfg, "vocab_size", None)
    position: dict[str, int] = {}
    for prompt, ids in zip(dataset.prompts, encoded):
        position[prompt.label] = position.get(prompt.label, 0) + 1
        where = f"prompt {position[prompt.label]} of {prompt.label!r}"
        if max_positions is not None and len(ids) > int(max_positions):
            raise EmoalignError(
                f"{spec.name}: {where} is {len(ids):,} tokens, but the model has {int(max_positions):,} positions; "
                "shorten or split the prompt"
            )
        if vocab_size is not None and ids and max(ids) >= int(vocab_size):
            raise EmoalignError(
                f"{spec.name}: {where} has token id {max(ids)}, outside the config's vocab_size {int(vocab_size)}; "
                "the tokenizer does not belong to this model"
            )


def check_request(request: Any) -> None:
    """All the checks of one extraction request (an ``ExtractionRequest``) that need no weights."""
    if request.batch_size < 1:
        raise EmoalignError(f"--batch-size {request.batch_size}: must be at least 1")
    resolve_device(request.device)
    config = load_config(request.spec, revision=request.revision, trust_remote_code=request.trust_remote_code)
    resolve_dtype(request.dtype, str(getattr(config, "model_type", "")), estimate_parameter_count(config))
    if request.untrained_seed is None:
        check_weights(request.spec, allow_pickle=request.allow_pickle_weights)
    tokenizer = load_tokenizer(request.spec, revision=request.revision, trust_remote_code=request.trust_remote_code)
    check_prompt_tokens(request.spec, config, tokenizer, request.dataset, request.bos)


def check_statistics(dataset: PromptDataset, with_statistics: bool, where: str | None = None) -> None:
    """The emotion nulls relabel emotions among each other: they need two emotion labels or more."""
    if with_statistics and len(dataset.emotion_labels) < 2:
        raise EmoalignError(
            f"{where or 'dataset ' + repr(dataset.name)}: one emotion label ({dataset.emotion_labels[0]}); the "
            "statistics compare emotions with each other and need at least two (or pass --permutations 0)"
        )


def warn_unmatched_labels(dataset: PromptDataset, lexicon: Mapping[str, Sequence[str]]) -> list[str]:
    """Warn (stderr) about each emotion label none of whose prompts contains one of its words: every
    vector of that label would be the last-token fallback. Returns the labels warned about."""
    unmatched = [
        label for label in dataset.emotion_labels
        if not any(find_emotion_word_spans(text, lexicon.get(label, ())) for text in dataset.texts(label))
    ]
    for label in unmatched:
        log.warning(
            f"no word of {label!r} from the lexicon was found in any of its "
            f"{len(dataset.texts(label))} prompts; every {label!r} vector falls back to the last token "
            "(check --lexicon)"
        )
    return unmatched


def check_output_folders(*folders: Path | None) -> None:
    """Each output folder can be created: no file stands where it or one of its parents should be,
    and no folder inside it (or between it and its output root) is a symbolic link
    (:func:`emoalign.io.paths.refuse_symlinked_folders`)."""
    for folder in folders:
        if folder is None:
            continue
        for candidate in (Path(folder), *Path(folder).parents):
            if candidate.exists():
                if not candidate.is_dir():
                    raise EmoalignError(f"{candidate}: cannot write under {folder} (a file is in the way of a folder)")
                break
        refuse_symlinked_folders(folder)
