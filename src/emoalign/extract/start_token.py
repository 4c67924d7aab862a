"""A start token before every prompt, so that no readout falls on the attention sink.

Tokenizers that add no start token (GPT-2, Pythia, Qwen2.5/Qwen3) put a prompt's first word at
position 0, where trained decoders keep massive "attention-sink" activations (Qwen2.5-1.5B: norm
~2,800 against a median ~34). Gemma, Llama and BERT tokenizers prepend ``<bos>`` / ``[CLS]``
themselves. TransformerLens prepends BOS by default for the same reason.

``bos`` option:

- ``auto`` (default) and ``always``: every prompt begins with exactly one start token — the
  tokenizer's own where it adds one, otherwise one prepended at the token-id level (offset ``(0, 0)``,
  so it is never read). They give the same positions for every tokenizer; ``always`` is the explicit
  spelling, never a second start token.
- ``never``: the prompts as the tokenizer encodes them (the original study's positions).

The prepended token (:func:`start_token_candidate`): the tokenizer's ``bos_token``; else
``<|endoftext|>`` where the tokenizer holds it as a special token (Qwen: its bos is None, and its
eos is ``<|im_end|>`` in the chat models — a turn end — while ``<|endoftext|>`` separates the
pretraining documents, in base and chat models alike); else its ``eos_token`` (GPT-2's convention:
``<|endoftext|>`` is BOS, EOS and document separator); else an error naming ``--bos never``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from emoalign.core.errors import EmoalignError

__all__ = [
    "BOS_POLICIES",
    "BosPolicy",
    "StartToken",
    "adds_start_token",
    "encode_texts",
    "resolve_start_token",
    "start_token_candidate",
]

BosPolicy = Literal["auto", "always", "never"]
BOS_POLICIES: tuple[str, ...] = ("auto", "always", "never")

_PROBE = "Thank you for the help."
_ENDOFTEXT = "<|endoftext|>"


@dataclass(frozen=True)
class StartToken:
    """The resolved start-token choice of one tokenizer under one ``bos`` option."""

    bos: str  # the option: auto, always or never
    own: bool  # the tokenizer adds a start token itself
    prepend_id: int | None = None  # the id prepended to every prompt (None: nothing prepended)
    prepend_token: str | None = None

    def describe(self) -> str:
        """``prepended <|endoftext|> (id 50256)``, ``tokenizer's own`` or ``none`` (for provenance)."""
        if self.prepend_id is not None:
            return f"prepended {self.prepend_token} (id {self.prepend_id})"
        return "tokenizer's own" if self.own else "none"


def tokenizer_name(tokenizer: Any, name: str | None = None) -> str:
    """``name``, else the tokenizer's ``name_or_path``, else its class name (for errors)."""
    return name or str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)


def adds_start_token(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` starts every encoding with a token of its own: a probe encoded with
    special tokens is one token covering no characters followed by the probe's plain encoding."""
    encoded = tokenizer(_PROBE, add_special_tokens=True, return_offsets_mapping=True)
    plain = list(tokenizer(_PROBE, add_special_tokens=False)["input_ids"])
    ids, offsets = list(encoded["input_ids"]), encoded["offset_mapping"]
    if not ids or not plain:
        return False
    start, end = offsets[0]
    return end <= start and ids[1 : 1 + len(plain)] == plain


def start_token_candidate(tokenizer: Any) -> tuple[int, str] | None:
    """``(id, token)`` to prepend: BOS, else a special ``<|endoftext|>``, else EOS; None if none."""
    if tokenizer.bos_token_id is not None:
        return int(tokenizer.bos_token_id), str(tokenizer.bos_token)
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    for token_id, token in added.items():
        if getattr(token, "content", str(token)) == _ENDOFTEXT and getattr(token, "special", True):
            return int(token_id), _ENDOFTEXT
    if tokenizer.eos_token_id is not None:
        return int(tokenizer.eos_token_id), str(tokenizer.eos_token)
    return None


def resolve_start_token(tokenizer: Any, bos: str = "auto", name: str | None = None) -> StartToken:
    """The start token of ``tokenizer`` under ``bos`` (see the module docstring); a one-line
    error naming the model (``name``, default the tokenizer's) where none can be found."""
    if bos not in BOS_POLICIES:
        raise EmoalignError(f"--bos {bos!r}: use one of {', '.join(BOS_POLICIES)}")
    own = adds_start_token(tokenizer)
    if bos == "never" or own:
        return StartToken(bos=bos, own=own)
    candidate = start_token_candidate(tokenizer)
    if candidate is None:
        raise EmoalignError(
            f"model {tokenizer_name(tokenizer, name)!r}: its tokenizer adds no start token and has no BOS, EOS or "
            f"{_ENDOFTEXT} token to prepend; pass --bos never to read the prompts without one"
        )
    return StartToken(bos=bos, own=False, prepend_id=candidate[0], prepend_token=candidate[1])


def encode_texts(tokenizer: Any, texts: Sequence[str], start: StartToken) -> dict[str, list[list[Any]]]:
    """``{"input_ids", "offset_mapping"}`` of every text (no padding), with ``start.prepend_id``
    (offset ``(0, 0)``, so it never matches a word) before each where one is prepended."""
    encoded = tokenizer(list(texts), return_offsets_mapping=True)
    ids = [list(row) for row in encoded["input_ids"]]
    offsets = [[(int(s), int(e)) for s, e in row] for row in encoded["offset_mapping"]]
    if start.prepend_id is not None:
        ids = [[start.prepend_id, *row] for row in ids]
        offsets = [[(0, 0), *row] for row in offsets]
    return {"input_ids": ids, "offset_mapping": offsets}
