"""Tiny random-weight models and locally trained tokenizers for tests (no network, no hub).

Tokenizer kinds, learned from a small embedded corpus (:func:`corpus`) by a deterministic BPE
learner (:func:`learn_bpe`; the ``tokenizers`` trainers break ties in hash-map order, so their
vocabularies change from one process to the next) and assembled as ``tokenizers`` pipelines:

- ``"bpe"``: byte-level BPE like GPT-2 / Llama-3 (``Ġ`` tokens), ``<|endoftext|>`` as BOS/EOS/UNK
  and **no pad token** (callers must fall back to EOS). Offsets are trimmed (``trim_offsets=True``):
  ``"Ġsorry"`` in ``"I am sorry."`` spans chars 5..10, not 4..10.
- ``"bpe_untrimmed"``: the same tokenizer with ``trim_offsets=False`` -- what the real GPT-2 and
  Llama-3 ``tokenizer.json`` files do: a ``Ġword`` token's span includes the preceding space.
- ``"sentencepiece"``: SentencePiece-style BPE (Metaspace ``▁``, prepend at the start), ``<pad>``,
  ``</s>``, ``<s>``, ``<unk>``; a TemplateProcessing post-processor adds ``<s>`` (Llama-2 / Gemma).
  As with the real Llama-2 / Gemma fast tokenizers, a ``▁word`` token's span includes the
  preceding space. Punctuation is split off as its own pre-token.
- ``"wordpiece"``: BERT-style (lower-casing normaliser, BertPreTokenizer, ``##`` continuations)
  with ``[CLS] ... [SEP]`` and ``[PAD]``, ``[UNK]``, ``[MASK]``.

``build_tiny_model(family, folder)`` writes a tiny model (transformers config classes, random
weights, ``torch.manual_seed(seed)``, safetensors) plus its tokenizer into ``folder``.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

__all__ = [
    "TINY_FAMILIES",
    "TOKENIZER_KINDS",
    "DEFAULT_TOKENIZER",
    "BLOCK_PATHS",
    "FINAL_NORM_PATHS",
    "BLOCK_OUTPUT_IS_TUPLE",
    "GEMMA3_IMAGE_TOKENS",
    "corpus",
    "learn_bpe",
    "train_tokenizer",
    "make_fast_tokenizer",
    "save_tokenizer",
    "build_tiny_model",
]

TINY_FAMILIES: tuple[str, ...] = (
    "gpt2",
    "gpt_neo",
    "gpt_neox",
    "llama",
    "qwen2",
    "qwen3",
    "gemma2",
    "gemma3_text",
    "gemma3",
    "bert",
)

TOKENIZER_KINDS: tuple[str, ...] = ("bpe", "bpe_untrimmed", "sentencepiece", "wordpiece")

DEFAULT_TOKENIZER: dict[str, str] = {
    "gpt2": "bpe",
    "gpt_neo": "bpe",
    "gpt_neox": "bpe",
    "llama": "bpe",
    "qwen2": "bpe",
    "qwen3": "bpe",
    "gemma2": "sentencepiece",
    "gemma3_text": "sentencepiece",
    "gemma3": "sentencepiece",
    "bert": "wordpiece",
}

#: Where the decoder/encoder block list lives (measured under transformers 5.x):
#: family -> (path on the ``AutoModel`` object, path on the ``AutoModelForCausalLM`` object).
#: ``None`` where the auto class does not apply (BERT has no causal-LM head here).
BLOCK_PATHS: dict[str, tuple[str, str | None]] = {
    "gpt2": ("h", "transformer.h"),
    "gpt_neo": ("h", "transformer.h"),
    "gpt_neox": ("layers", "gpt_neox.layers"),
    "llama": ("layers", "model.layers"),
    "qwen2": ("layers", "model.layers"),
    "qwen3": ("layers", "model.layers"),
    "gemma2": ("layers", "model.layers"),
    "gemma3_text": ("layers", "model.layers"),
    "gemma3": ("language_model.layers", "model.language_model.layers"),
    "bert": ("encoder.layer", None),
}

#: The final norm applied after the last block, as a path on the ``AutoModel`` object
#: (``None``: BERT has none). Under transformers 5.x ``hidden_states[-1]`` is this norm applied to
#: the last block's output for every decoder family here, while ``hidden_states[i + 1]`` is the raw
#: output of block ``i`` for ``i < n_layers - 1``.
FINAL_NORM_PATHS: dict[str, str | None] = {
    "gpt2": "ln_f",
    "gpt_neo": "ln_f",
    "gpt_neox": "final_layer_norm",
    "llama": "norm",
    "qwen2": "norm",
    "qwen3": "norm",
    "gemma2": "norm",
    "gemma3_text": "norm",
    "gemma3": "language_model.norm",
    "bert": None,
}

#: Families whose blocks return a tuple ``(hidden_states, attn_weights)`` rather than a tensor
#: (measured under transformers 5.24; older 4.x releases return a tuple for every family).
BLOCK_OUTPUT_IS_TUPLE: frozenset[str] = frozenset({"gpt_neo"})

# ----------------------------------------------------------------------------------------------
# Corpus
# ----------------------------------------------------------------------------------------------

_SUBJECTS = [
    "The old man", "My sister", "Our teacher", "The small dog", "A young girl", "The driver",
    "His neighbour", "The manager", "Her friend", "The new student", "My brother", "The farmer",
    "A tall woman", "The doctor", "Their cousin", "The baker", "Everyone", "Nobody", "She", "He",
    "We", "They", "I", "You",
]
_VERBS = [
    "walked to", "looked at", "opened", "painted", "cleaned", "visited", "carried", "found",
    "closed", "watched", "fixed", "bought", "moved", "checked", "described", "measured",
    "ordered", "counted", "followed", "reached",
]
_OBJECTS = [
    "the wooden door", "a red box", "the river bank", "the kitchen table", "an empty train",
    "the garden wall", "a quiet street", "the blue window", "the library", "a heavy bag",
    "the morning paper", "the north station", "a green bicycle", "the city market",
    "the mountain road", "a small boat", "the school yard", "the bright lamp", "a warm coat",
    "the long bridge", "a paper map", "the stone house", "the office", "a glass of water",
]
_TIMES = [
    "yesterday", "this morning", "after lunch", "on Monday", "in the evening", "last week",
    "before noon", "at night", "today", "every day", "on Sunday", "in the spring",
]
_NEUTRAL_FACTS = [
    "The train leaves at seven.", "Water boils at one hundred degrees.", "The shop opens at nine.",
    "There are twelve months in a year.", "The meeting is on the second floor.",
    "The report has four pages.", "Paris is the capital of France.", "The bus stops near the park.",
    "The table is made of oak.", "It rained for three hours.", "The box contains six cups.",
    "The road turns left after the bridge.", "The lamp needs a new bulb.",
    "The museum is closed on Tuesday.", "The printer is next to the desk.",
    "This street has many trees.", "The clock on the wall is slow.", "Lunch starts at noon.",
    "The file is in the top drawer.", "The garden has two old trees.",
]
_EMOTION = [
    "Thank you for the help.", "Thanks for the map.", "I am grateful for your time.",
    "We really appreciate the support.", "I am sorry for the delay.", "Sorry, I forgot the keys.",
    "I apologize for the mistake.", "I regret what I said.", "He was angry about the noise.",
    "She is furious with the manager.", "They felt frustrated by the rules.",
    "I am annoyed by the traffic.", "Thanks again, that was kind.", "I am so sorry about that.",
    "We are grateful to the doctor.", "They were angry at the driver.",
]


def corpus(n: int = 400, seed: int = 0) -> list[str]:
    """A deterministic list of short generic English sentences (mostly neutral, some emotional)."""
    rng = random.Random(seed)
    out = list(_NEUTRAL_FACTS) + list(_EMOTION)
    while len(out) < n:
        s = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TIMES)}"
        out.append(s + rng.choice([".", ".", ".", "!", "?"]))
    return out


# ----------------------------------------------------------------------------------------------
# Tokenizers
# ----------------------------------------------------------------------------------------------

_VOCAB_SIZE = {"bpe": 640, "bpe_untrimmed": 640, "sentencepiece": 480, "wordpiece": 480}
_ASCII = [chr(c) for c in range(32, 127)]

#: Extra (special) tokens appended to the SentencePiece tokenizer of the gemma3 multimodal model.
GEMMA3_IMAGE_TOKENS = ("<start_of_image>", "<end_of_image>", "<image_soft_token>")


def learn_bpe(
    words: dict[str, int], alphabet: list[str], n_merges: int, *, continuing_prefix: str = ""
) -> tuple[list[str], list[tuple[str, str]]]:
    """Deterministic BPE: ``(vocab, merges)`` learned from word counts, most frequent pair first.

    Ties are broken by the pair's symbols (lexicographically smallest first), so the result depends
    only on the input -- unlike the ``tokenizers`` trainers, whose tie-breaking follows hash-map
    order and changes between processes. With ``continuing_prefix`` (WordPiece ``"##"``) every
    non-initial symbol carries the prefix. ``vocab`` is the alphabet (plus any symbols seen in
    ``words``) followed by the merged symbols in merge order.
    """
    p = continuing_prefix
    seqs = []
    for w, c in sorted(words.items()):
        seqs.append(([w[0]] + [p + ch for ch in w[1:]], c))
    vocab = list(dict.fromkeys(list(alphabet) + sorted({s for seq, _ in seqs for s in seq})))
    seen = set(vocab)
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges:
        counts: dict[tuple[str, str], int] = {}
        for seq, c in seqs:
            for pair in zip(seq, seq[1:]):
                counts[pair] = counts.get(pair, 0) + c
        if not counts:
            break
        best = min(counts, key=lambda pr: (-counts[pr], pr))
        a, b = best
        new = a + (b[len(p):] if p else b)
        merges.append(best)
        if new not in seen:
            seen.add(new)
            vocab.append(new)
        for k, (seq, c) in enumerate(seqs):
            if len(seq) < 2:
                continue
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and seq[i] == a and seq[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            seqs[k] = (out, c)
    return vocab, merges


def _word_counts(pre_tokenize, normalize=None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sentence in corpus():
        text = normalize(sentence) if normalize else sentence
        for w, _ in pre_tokenize(text):
            counts[w] = counts.get(w, 0) + 1
    return counts


@functools.lru_cache(maxsize=None)
def _learned(kind: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], tuple[str, ...]]:
    """(vocab, merges, specials) of a kind; cached per process (learning takes ~0.1-0.3 s)."""
    from tokenizers import pre_tokenizers

    if kind in ("bpe", "bpe_untrimmed"):
        specials = ("<|endoftext|>",)
        pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        words = _word_counts(pre.pre_tokenize_str)
        alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
        prefix = ""
    elif kind == "sentencepiece":
        specials = ("<pad>", "</s>", "<s>", "<unk>")
        words = _word_counts(_sp_pre_tokenizer().pre_tokenize_str)
        alphabet = sorted(set(_ASCII[1:]) | {"▁"})
        prefix = ""
    elif kind == "wordpiece":
        specials = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
        norm = _bert_normalizer()
        words = _word_counts(pre_tokenizers.BertPreTokenizer().pre_tokenize_str, norm.normalize_str)
        chars = sorted({c.lower() for c in _ASCII[1:]})
        alphabet = chars + ["##" + c for c in chars]
        prefix = "##"
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}; expected one of {TOKENIZER_KINDS}")
    n_merges = _VOCAB_SIZE[kind] - len(specials) - len(alphabet)
    vocab, merges = learn_bpe(words, alphabet, n_merges, continuing_prefix=prefix)
    vocab = [t for t in vocab if t not in specials]
    return tuple(specials) + tuple(vocab), tuple(merges), specials


def _sp_pre_tokenizer():
    from tokenizers import pre_tokenizers

    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first"),
            pre_tokenizers.Punctuation(behavior="isolated"),
        ]
    )


def _bert_normalizer():
    from tokenizers import normalizers

    return normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )


def train_tokenizer(kind: str, *, extra_special_tokens: tuple[str, ...] = ()):
    """A ``tokenizers.Tokenizer`` of the given kind, learned from :func:`corpus`.

    Deterministic across processes and runs (see :func:`learn_bpe`). ``extra_special_tokens`` are
    appended after the learned vocabulary, so the ids of all other tokens do not depend on them.
    """
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
    )

    vocab_list, merges, specials = _learned("bpe" if kind == "bpe_untrimmed" else kind)
    vocab = {t: i for i, t in enumerate(vocab_list)}
    if kind in ("bpe", "bpe_untrimmed"):
        tok = Tokenizer(models.BPE(vocab=vocab, merges=list(merges)))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        # GPT-2 / Llama-3 ship trim_offsets=False (a "Ġword" span includes the space before it)
        tok.post_processor = processors.ByteLevel(trim_offsets=(kind == "bpe"))
    elif kind == "sentencepiece":
        tok = Tokenizer(models.BPE(vocab=vocab, merges=list(merges), unk_token="<unk>", fuse_unk=True))
        tok.pre_tokenizer = _sp_pre_tokenizer()
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", vocab["<s>"])]
        )
    else:  # wordpiece (kind validated by _learned)
        tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
        tok.normalizer = _bert_normalizer()
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix="##")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    if extra_special_tokens:
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in extra_special_tokens])
    return tok


def make_fast_tokenizer(kind: str, *, extra_special_tokens: tuple[str, ...] = ()):
    """A ``transformers.PreTrainedTokenizerFast`` wrapping :func:`train_tokenizer` (special tokens set)."""
    from transformers import PreTrainedTokenizerFast

    backend = train_tokenizer(kind, extra_special_tokens=extra_special_tokens)
    if kind in ("bpe", "bpe_untrimmed"):
        special = dict(bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>")
    elif kind == "sentencepiece":
        special = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
    else:
        special = dict(
            unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]"
        )
    if extra_special_tokens:
        special["additional_special_tokens"] = list(extra_special_tokens)
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=128, **special)
    if kind in ("bpe", "bpe_untrimmed"):
        assert tok.pad_token is None
    return tok


def save_tokenizer(kind: str, folder: str | Path, *, extra_special_tokens: tuple[str, ...] = ()) -> Path:
    """Train a tokenizer of ``kind`` and ``save_pretrained`` it into ``folder``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    make_fast_tokenizer(kind, extra_special_tokens=extra_special_tokens).save_pretrained(folder)
    return folder


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------


def _config_and_class(family: str, tok, *, n_layers: int, hidden_size: int):
    """(config, model class) for a family, sized small, token ids taken from ``tok``."""
    import transformers as tf

    n_heads = 4
    head_dim = hidden_size // n_heads
    inter = 2 * hidden_size
    vocab = len(tok)
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.cls_token_id
    eos = tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id
    pad = tok.pad_token_id  # None for "bpe": the model config then has no pad either (like GPT-2)
    ids = dict(bos_token_id=bos, eos_token_id=eos, pad_token_id=pad)
    common_llama = dict(
        vocab_size=vocab,
        hidden_size=hidden_size,
        intermediate_size=inter,
        num_hidden_layers=n_layers,
        num_attention_heads=n_heads,
        num_key_value_heads=2,
        head_dim=head_dim,
        max_position_embeddings=128,
        tie_word_embeddings=False,
        **ids,
    )
    if family == "gpt2":
        cfg = tf.GPT2Config(
            vocab_size=vocab, n_positions=128, n_embd=hidden_size, n_layer=n_layers, n_head=n_heads,
            n_inner=inter, **ids,
        )
        return cfg, tf.GPT2LMHeadModel
    if family == "gpt_neo":
        cfg = tf.GPTNeoConfig(
            vocab_size=vocab, max_position_embeddings=128, hidden_size=hidden_size, num_layers=n_layers,
            num_heads=n_heads, intermediate_size=inter, window_size=8,
            attention_types=[[["global", "local"], n_layers // 2]] if n_layers % 2 == 0
            else [[["global"], n_layers]],
            **ids,
        )
        return cfg, tf.GPTNeoForCausalLM
    if family == "gpt_neox":
        cfg = tf.GPTNeoXConfig(
            vocab_size=vocab, hidden_size=hidden_size, num_hidden_layers=n_layers,
            num_attention_heads=n_heads, intermediate_size=inter, max_position_embeddings=128,
            tie_word_embeddings=False, **ids,
        )
        return cfg, tf.GPTNeoXForCausalLM
    if family == "llama":
        return tf.LlamaConfig(**common_llama), tf.LlamaForCausalLM
    if family == "qwen2":
        return tf.Qwen2Config(**common_llama), tf.Qwen2ForCausalLM
    if family == "qwen3":
        return tf.Qwen3Config(**common_llama), tf.Qwen3ForCausalLM
    layer_types = ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(n_layers)]
    gemma_common = dict(
        common_llama, tie_word_embeddings=True, sliding_window=8, layer_types=layer_types,
        query_pre_attn_scalar=head_dim,
    )
    if family == "gemma2":
        return tf.Gemma2Config(**gemma_common), tf.Gemma2ForCausalLM
    if family == "gemma3_text":
        return tf.Gemma3TextConfig(**gemma_common), tf.Gemma3ForCausalLM
    if family == "gemma3":
        text = tf.Gemma3TextConfig(**gemma_common)
        vision = tf.SiglipVisionConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
            image_size=28, patch_size=14, num_channels=3,
        )
        boi, eoi, img = (tok.convert_tokens_to_ids(t) for t in GEMMA3_IMAGE_TOKENS)
        cfg = tf.Gemma3Config(
            text_config=text, vision_config=vision, mm_tokens_per_image=4,
            boi_token_index=boi, eoi_token_index=eoi, image_token_index=img, **ids,
        )
        return cfg, tf.Gemma3ForConditionalGeneration
    if family == "bert":
        cfg = tf.BertConfig(
            vocab_size=vocab, hidden_size=hidden_size, num_hidden_layers=n_layers,
            num_attention_heads=n_heads, intermediate_size=inter, max_position_embeddings=128,
            pad_token_id=pad,
        )
        return cfg, tf.BertModel
    raise ValueError(f"unknown family {family!r}; expected one of {TINY_FAMILIES}")


def build_tiny_model(
    family: str,
    folder: str | Path,
    *,
    tokenizer: str | None = None,
    seed: int = 0,
    n_layers: int = 4,
    hidden_size: int = 64,
) -> Path:
    """Build a tiny random-weight model of ``family`` and save it with its tokenizer to ``folder``.

    The model class is the causal-LM class of the family (``Gemma3ForConditionalGeneration`` for
    ``"gemma3"``, ``BertModel`` for ``"bert"``), instantiated from a config with ``n_layers`` blocks,
    width ``hidden_size``, 4 heads (2 KV heads where supported), vocabulary = tokenizer size and
    BOS/EOS/PAD ids taken from the tokenizer. Weights come from ``torch.manual_seed(seed)``, so the
    same arguments give identical weights. Saved as safetensors. Returns ``folder``.
    """
    import torch

    if family not in TINY_FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {TINY_FAMILIES}")
    if hidden_size % 4:
        raise ValueError("hidden_size must be divisible by 4 (4 attention heads)")
    kind = tokenizer or DEFAULT_TOKENIZER[family]
    extra = GEMMA3_IMAGE_TOKENS if family == "gemma3" else ()
    tok = make_fast_tokenizer(kind, extra_special_tokens=extra)
    cfg, model_cls = _config_and_class(family, tok, n_layers=n_layers, hidden_size=hidden_size)
    torch.manual_seed(seed)
    model = model_cls(cfg).eval()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder
