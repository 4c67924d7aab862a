"""The tiny test models and tokenizers load, run, and behave like the real families they stand for."""

from __future__ import annotations

import re
from operator import attrgetter

import pytest
import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

try:
    from tiny_models import (
        BLOCK_OUTPUT_IS_TUPLE,
        BLOCK_PATHS,
        DEFAULT_TOKENIZER,
        FINAL_NORM_PATHS,
        GEMMA3_IMAGE_TOKENS,
        TINY_FAMILIES,
        TOKENIZER_KINDS,
        build_tiny_model,
        make_fast_tokenizer,
    )
except ImportError:  # pragma: no cover - tests/ as a package
    from .tiny_models import (
        BLOCK_OUTPUT_IS_TUPLE,
        BLOCK_PATHS,
        DEFAULT_TOKENIZER,
        FINAL_NORM_PATHS,
        GEMMA3_IMAGE_TOKENS,
        TINY_FAMILIES,
        TOKENIZER_KINDS,
        build_tiny_model,
        make_fast_tokenizer,
    )

N_LAYERS = 4
SENTENCES = ["I am sorry.", "Thanks for the help, I really appreciate it today."]
LM_HEAD_KEYS = {"lm_head.weight", "embed_out.weight"}  # untied heads: unused by AutoModel
TRANSFORMERS_5 = int(transformers.__version__.split(".")[0]) >= 5


def _tensor(out):
    """A block's hidden-state output, whether the block returns a tensor or a tuple."""
    return out if torch.is_tensor(out) else out[0]


def _encode(tok, texts):
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"
    return tok(texts, return_tensors="pt", padding=True)


def _forward_with_hooks(model, path, enc):
    blocks = attrgetter(path)(model)
    outs: dict[int, object] = {}
    handles = [
        b.register_forward_hook(lambda _m, _a, o, i=i: outs.__setitem__(i, o)) for i, b in enumerate(blocks)
    ]
    try:
        with torch.no_grad():
            res = model(**enc, output_hidden_states=True)
    finally:
        for h in handles:
            h.remove()
    return blocks, outs, res


# ------------------------------------------------------------------------------------------------
# registry constants
# ------------------------------------------------------------------------------------------------


def test_family_tables_agree():
    assert set(TINY_FAMILIES) == set(DEFAULT_TOKENIZER) == set(BLOCK_PATHS) == set(FINAL_NORM_PATHS)
    assert set(DEFAULT_TOKENIZER.values()) <= set(TOKENIZER_KINDS)
    with pytest.raises(ValueError):
        build_tiny_model("nope", "/nonexistent-never-written")


# ------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_model_loads_and_runs(family, tiny_model_path):
    folder = tiny_model_path(family)
    assert any(folder.glob("*.safetensors"))
    assert not any(folder.glob("*.bin"))

    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.is_fast

    model, info = AutoModel.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"], info
    assert not info["mismatched_keys"], info
    assert set(info["unexpected_keys"]) <= LM_HEAD_KEYS, info
    model.eval()
    cfg = model.config.get_text_config()
    assert cfg.num_hidden_layers == N_LAYERS
    assert cfg.vocab_size == len(tok)

    enc = _encode(tok, SENTENCES)
    assert enc["attention_mask"][0, -1] == 0  # the short sentence is right-padded
    with torch.no_grad():
        out = model(**enc, output_hidden_states=True)
        alone = model(**_encode(tok, SENTENCES[:1]), output_hidden_states=True)
    hs = out.hidden_states
    assert len(hs) == N_LAYERS + 1
    for h in hs:
        assert h.shape[:2] == enc["input_ids"].shape
        assert torch.isfinite(h).all()
    # right padding: the padded sentence's real positions equal the unbatched run
    n = int(enc["attention_mask"][0].sum())
    for h_b, h_1 in zip(hs, alone.hidden_states):
        torch.testing.assert_close(h_b[0, :n], h_1[0, :n], atol=1e-5, rtol=1e-5)

    if family == "bert":
        return
    lm, info = AutoModelForCausalLM.from_pretrained(folder, output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    lm.eval()
    with torch.no_grad():
        lm_out = lm(**enc, output_hidden_states=True)
    assert len(lm_out.hidden_states) == N_LAYERS + 1
    assert lm_out.logits.shape == (*enc["input_ids"].shape, len(tok))
    assert torch.isfinite(lm_out.logits).all()


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_block_paths_outputs_and_hidden_states(family, tiny_model_path):
    """Record where the blocks live, what they return, and how hidden_states relate to them."""
    folder = tiny_model_path(family)
    enc = _encode(AutoTokenizer.from_pretrained(folder), SENTENCES)
    auto_path, causal_path = BLOCK_PATHS[family]
    loaders = [(AutoModel, auto_path)] + ([(AutoModelForCausalLM, causal_path)] if causal_path else [])
    for auto_cls, path in loaders:
        model = auto_cls.from_pretrained(folder).eval()
        blocks, outs, res = _forward_with_hooks(model, path, enc)
        assert isinstance(blocks, torch.nn.ModuleList) and len(blocks) == N_LAYERS
        kinds = {type(o).__name__ for o in outs.values()}
        print(f"{family:12s} {auto_cls.__name__:20s} {type(model).__name__:32s} blocks={path:30s} returns={kinds}")
        for o in outs.values():
            assert torch.is_tensor(o) or isinstance(o, tuple)
            assert _tensor(o).shape == (*enc["input_ids"].shape, model.config.get_text_config().hidden_size)
            if TRANSFORMERS_5:
                assert isinstance(o, tuple) == (family in BLOCK_OUTPUT_IS_TUPLE)
        hs = res.hidden_states
        # hidden_states[i + 1] is the raw output of block i for every block but the last
        for i in range(N_LAYERS - 1):
            assert torch.equal(hs[i + 1], _tensor(outs[i])), (family, i)
        last = _tensor(outs[N_LAYERS - 1])
        norm_path = FINAL_NORM_PATHS[family]
        if auto_cls is AutoModel:
            if norm_path is None:  # BERT: no final norm, the last entry is the raw last block
                assert torch.equal(hs[-1], last)
            else:  # decoders: the last entry is post-final-norm, NOT the last block's output
                assert not torch.allclose(hs[-1], last)
                torch.testing.assert_close(hs[-1], attrgetter(norm_path)(model)(last))


# ------------------------------------------------------------------------------------------------
# tokenizers
# ------------------------------------------------------------------------------------------------

OFFSET_CASES = [
    ("Sorry, I forgot the keys.", "sorry"),  # start, capitalised, before a comma
    ("I am so sorry about that.", "sorry"),  # middle
    ("I am sorry.", "sorry"),  # end, before a full stop
    ('She said "sorry" twice.', "sorry"),  # inside quotes
    ("We are SORRY!", "sorry"),  # upper case, before "!"
    ("Thanks for the map.", "thanks"),  # start
    ("Many thanks, friend.", "thanks"),  # middle, before a comma
    ("I said Thanks!", "thanks"),  # end, capitalised
    ("(Thanks)", "thanks"),  # brackets
]

#: kinds whose word-initial tokens include the preceding space in their offsets (real GPT-2 /
#: Llama-3 ``tokenizer.json`` and SentencePiece-style Llama-2 / Gemma behave like this)
SPACE_IN_SPAN = {"bpe_untrimmed", "sentencepiece"}


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
@pytest.mark.parametrize(("text", "word"), OFFSET_CASES)
def test_word_offsets(kind, text, word, tiny_tokenizer_path):
    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_path(kind))
    enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True)
    m = re.search(rf"\b{word}\b", text, flags=re.IGNORECASE)
    ws, we = m.span()
    covered = set()
    hits = []
    for (s, e), special in zip(enc["offset_mapping"], enc["special_tokens_mask"]):
        assert 0 <= s <= e <= len(text)
        if special or not (s < we and e > ws):
            continue
        hits.append((s, e))
        core_s = s
        while core_s < e and text[core_s].isspace():
            core_s += 1
        if kind in SPACE_IN_SPAN:
            assert core_s == s or core_s == ws, (kind, text, (s, e))
        else:
            assert core_s == s, (kind, text, (s, e))
        assert ws <= core_s and e <= we, (kind, text, word, (s, e), (ws, we))
        covered.update(range(core_s, e))
    assert covered == set(range(ws, we)), (kind, text, hits)


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_tokenizer_special_tokens(kind, tiny_tokenizer_path):
    folder = tiny_tokenizer_path(kind)
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.is_fast
    text = "I am sorry."
    enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True)
    specials = [o for o, sp in zip(enc["offset_mapping"], enc["special_tokens_mask"]) if sp]
    assert all(tuple(o) == (0, 0) for o in specials)
    toks = tok.convert_ids_to_tokens(enc["input_ids"])
    if kind.startswith("bpe"):
        assert tok.pad_token is None and tok.pad_token_id is None  # like GPT-2: callers use EOS
        assert tok.eos_token == tok.bos_token == "<|endoftext|>"
        assert not specials  # nothing added around the text
        assert "Ġsorry" in toks or any(t.startswith("Ġ") for t in toks)
        if kind == "bpe":  # trimmed: "sorry" lies in chars 5..10 exactly
            spans = [tuple(o) for o in enc["offset_mapping"] if o[0] < 10 and o[1] > 5]
            assert min(s for s, _ in spans) == 5 and max(e for _, e in spans) == 10
    elif kind == "sentencepiece":
        assert toks[0] == "<s>" and tok.pad_token == "<pad>" and tok.eos_token == "</s>"
        assert any(t.startswith("▁") for t in toks[1:])
        assert len(specials) == 1
    else:
        assert toks[0] == "[CLS]" and toks[-1] == "[SEP]" and tok.pad_token == "[PAD]"
        assert tok.mask_token == "[MASK]" and tok.unk_token == "[UNK]"
        assert len(specials) == 2
    # reloads identically, decodes back (WordPiece lower-cases)
    mem = make_fast_tokenizer(kind)
    assert mem(text)["input_ids"] == enc["input_ids"]
    decoded = tok.decode(enc["input_ids"], skip_special_tokens=True)
    assert decoded == (text.lower() if kind == "wordpiece" else text)
    # small vocabulary: longer and rarer words split into several sub-tokens
    assert 300 <= len(tok) <= 700
    words = "apologize frustrated annoyed grateful appreciate furious regret".split()
    assert sum(len(tok.tokenize(" " + w)) > 1 for w in words) >= 3


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_model_folder_tokenizer_matches_kind(family, tiny_model_path, tiny_tokenizer_path):
    """A model folder's tokenizer encodes like its bare kind (model-type tokenizer classes aside)."""
    via_model = AutoTokenizer.from_pretrained(tiny_model_path(family))
    bare = AutoTokenizer.from_pretrained(tiny_tokenizer_path(DEFAULT_TOKENIZER[family]))
    text = "Thanks, I am so sorry about that!"
    a = via_model(text, return_offsets_mapping=True)
    b = bare(text, return_offsets_mapping=True)
    print(f"{family:12s} AutoTokenizer -> {type(via_model).__name__} pad={via_model.pad_token!r}")
    assert a["input_ids"] == b["input_ids"] and a["offset_mapping"] == b["offset_mapping"]
    if family == "gemma3":
        ids = via_model.convert_tokens_to_ids(list(GEMMA3_IMAGE_TOKENS))
        assert ids == [len(bare) + i for i in range(len(GEMMA3_IMAGE_TOKENS))]


def test_build_is_deterministic(tiny_model_path, tmp_path):
    ref = load_file(next(tiny_model_path("llama").glob("*.safetensors")))
    same = load_file(next(build_tiny_model("llama", tmp_path / "a", seed=0).glob("*.safetensors")))
    other = load_file(next(build_tiny_model("llama", tmp_path / "b", seed=1).glob("*.safetensors")))
    assert ref.keys() == same.keys() == other.keys()
    assert all(torch.equal(ref[k], same[k]) for k in ref)
    assert not all(torch.equal(ref[k], other[k]) for k in ref)


def test_alternative_tokenizer_and_width(tmp_path):
    folder = build_tiny_model("gpt2", tmp_path / "m", tokenizer="wordpiece", hidden_size=32, n_layers=2)
    model = AutoModelForCausalLM.from_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    assert model.config.n_embd == 32 and model.config.n_layer == 2
    assert model.config.vocab_size == len(tok) and model.config.pad_token_id == tok.pad_token_id
