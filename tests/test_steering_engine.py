"""The forward passes of the causal test (:mod:`emoalign.extract.steer`) on tiny random-weight models,
against references computed here by other routes: the final norm and head applied by hand, a hook
written here run one prompt and one condition at a time, generation with a KV cache."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from tiny_models import FINAL_NORM_PATHS
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

from emoalign.core.errors import EmoalignError
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.extract.capture import capture_block_outputs
from emoalign.extract.start_token import encode_texts, resolve_start_token
from emoalign.extract.steer import (
    emotion_first_tokens,
    emotion_log_mass,
    emotion_words,
    encode_prompts,
    greedy_continuations,
    has_next_token_head,
    residual_norm,
    token_texts,
)
from emoalign.models.blocks import find_blocks
from emoalign.models.loading import load_model
from emoalign.models.registry import resolve_model

TEXTS = [
    "I am so sorry about that.",
    "Thanks for the map.",
    "The train leaves at seven.",
    "She is furious with the manager today.",
    "We are grateful.",
    "Thanks again.",
]


@pytest.fixture(scope="module")
def loaded(tiny_model_path):
    """``loaded(family)``: the tiny model of ``family`` with its next-token head (loaded once)."""
    cache = {}

    def factory(family):
        if family not in cache:
            spec = resolve_model(str(tiny_model_path(family)))
            cache[family] = load_model(spec, device="cpu", lm_head=True, quiet=True)
        return cache[family]

    return factory


def _prompts(model, texts=TEXTS):
    return encode_prompts(model.tokenizer, texts, resolve_start_token(model.tokenizer))


def _block(model, layer):
    return find_blocks(model.model)[1][layer]


def _vectors(model, n, scale, seed=0):
    """``n`` random directions of norm ``scale`` x the residual norm at layer 1, with a zero first row."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n, model.d_model))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return np.concatenate([np.zeros((1, model.d_model)), directions * scale * residual_norm(model, 1, _prompts(model))])


def _token_sets(model):
    vocab = len(model.tokenizer)
    return [[3, 17, 40], [5], list(range(vocab // 2, vocab))]


def _add_hook(vector, first):
    """A forward hook adding ``vector`` from position ``first`` on (written apart from the engine's)."""

    def hook(_module, _args, output):
        hidden = output[0] if isinstance(output, tuple) else output
        mask = (torch.arange(hidden.shape[1]) >= first).to(hidden.dtype)[None, :, None]
        steered = hidden + mask * torch.as_tensor(vector, dtype=hidden.dtype)
        return (steered, *output[1:]) if isinstance(output, tuple) else steered

    return hook


def _reference_mass(model, layer, ids, vector, token_sets, first=1):
    """One prompt, one condition: the log mass of each token set with an independent hook."""
    handle = _block(model, layer).register_forward_hook(_add_hook(vector, first))
    try:
        with torch.no_grad():
            logits = model.model(input_ids=torch.tensor([ids])).logits[0, -1]
    finally:
        handle.remove()
    log_p = torch.log_softmax(logits.double(), dim=-1)
    return np.array([torch.logsumexp(log_p[list(s)], dim=0).item() for s in token_sets])


def _last_logits(model, ids):
    with torch.no_grad():
        return model.model(input_ids=torch.tensor([ids])).logits[0, -1]


# ---------------------------------------------------------------------------------------------
# emotion_log_mass
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_zero_vector_is_the_unsteered_mass_and_the_whole_vocabulary_has_mass_one(family, loaded):
    model = loaded(family)
    prompts = _prompts(model)
    vocab = list(range(len(model.tokenizer)))
    mass = emotion_log_mass(model, 2, prompts, np.zeros((2, model.d_model)), [*_token_sets(model), vocab])
    assert mass.shape == (2, len(prompts), 4) and mass.dtype == np.float64
    np.testing.assert_allclose(mass[0], mass[1], atol=1e-6, rtol=0)  # rows of one batch: float32 rounding only
    np.testing.assert_allclose(mass[..., 3], 0.0, atol=1e-12)
    for p, ids in enumerate(prompts):  # no hook at all: the model's own next-token distribution
        log_p = torch.log_softmax(_last_logits(model, ids).double(), dim=-1)
        expected = [torch.logsumexp(log_p[s], dim=0).item() for s in _token_sets(model)]
        np.testing.assert_allclose(mass[0, p, :3], expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("family", ["gpt2", "llama", "gemma3"])
def test_steering_the_last_block_equals_the_final_norm_and_head_applied_by_hand(family, loaded):
    model = loaded(family)
    last = model.n_layers - 1
    prompts = _prompts(model)
    vectors = _vectors(model, 3, 4.0)
    sets = _token_sets(model)
    mass = emotion_log_mass(model, last, prompts, vectors, sets)
    norm = model.model.base_model.get_submodule(FINAL_NORM_PATHS[family])
    head = model.model.get_output_embeddings()
    _, blocks = find_blocks(model.model)
    for p, ids in enumerate(prompts):
        hidden = capture_block_outputs(model.model, blocks, [last], {"input_ids": torch.tensor([ids])})[last][0, -1]
        for c, vector in enumerate(vectors):
            with torch.no_grad():
                logits = head(norm(hidden + torch.as_tensor(vector, dtype=torch.float32)))
            log_p = torch.log_softmax(logits.double(), dim=-1)
            expected = [torch.logsumexp(log_p[s], dim=0).item() for s in sets]
            np.testing.assert_allclose(mass[c, p], expected, atol=1e-5, rtol=0)
    assert np.abs(mass[1:] - mass[:1]).max() > 1e-3  # the vectors do move the distribution


@pytest.mark.parametrize("family", ["gpt2", "gpt_neo", "llama", "qwen2", "gemma3"])
def test_batched_conditions_and_prompts_equal_one_at_a_time_with_an_independent_hook(family, loaded):
    """Prompts of several lengths x conditions in one call: each cell equals one prompt and one
    condition run alone with a hook written here (gpt_neo: blocks that return a tuple)."""
    model = loaded(family)
    prompts = _prompts(model)
    assert len({len(p) for p in prompts}) >= 3 and len({len(p) for p in prompts}) < len(prompts)
    vectors = _vectors(model, 2, 2.0)
    sets = _token_sets(model)
    mass = emotion_log_mass(model, 1, prompts, vectors, sets, batch_rows=5)
    for c, vector in enumerate(vectors):
        for p, ids in enumerate(prompts):
            np.testing.assert_allclose(mass[c, p], _reference_mass(model, 1, ids, vector, sets), atol=1e-5, rtol=0)


def test_batch_rows_do_not_change_the_result(loaded):
    model = loaded("qwen2")
    prompts, vectors, sets = _prompts(model), _vectors(model, 5, 2.0), _token_sets(model)
    wide = emotion_log_mass(model, 2, prompts, vectors, sets, batch_rows=128)
    for rows in (1, 7):
        np.testing.assert_allclose(emotion_log_mass(model, 2, prompts, vectors, sets, batch_rows=rows), wide,
                                   atol=1e-6, rtol=0)


def test_position_zero_is_never_steered(loaded):
    model = loaded("llama")
    prompts = _prompts(model)
    vectors = _vectors(model, 2, 3.0)
    sets = _token_sets(model)
    mass = emotion_log_mass(model, 1, prompts, vectors, sets)
    for c, vector in enumerate(vectors[1:], start=1):
        for p, ids in enumerate(prompts):
            everywhere = _reference_mass(model, 1, ids, vector, sets, first=0)
            assert np.abs(mass[c, p] - everywhere).max() > 1e-4  # adding at position 0 too gives another answer
    # a one-token prompt has only position 0: no vector, however large, changes it
    single = [[prompts[0][0]], [prompts[1][1]]]
    huge = emotion_log_mass(model, 1, single, vectors * 100, sets)
    np.testing.assert_allclose(huge[1:], np.broadcast_to(huge[:1], huge[1:].shape), atol=1e-6, rtol=0)
    two = emotion_log_mass(model, 1, [ids[:2] for ids in prompts[:2]], vectors * 100, sets)
    assert np.abs(two[1:] - two[:1]).max(axis=-1).min() > 0.1  # the same vectors move a two-token prompt


def test_the_hook_is_removed_after_the_call_and_after_a_failing_forward(loaded):
    model = loaded("gpt2")
    prompts, vectors, sets = _prompts(model), _vectors(model, 2, 50.0), _token_sets(model)
    block = _block(model, 1)
    before = _last_logits(model, prompts[0])
    emotion_log_mass(model, 1, prompts, vectors, sets)
    greedy_continuations(model, 1, prompts[:1], vectors, max_new_tokens=2)
    assert not block._forward_hooks
    torch.testing.assert_close(_last_logits(model, prompts[0]), before, atol=0, rtol=0)

    def fail(*_):
        raise RuntimeError("forward failed")

    failing = _block(model, 2).register_forward_hook(fail)
    try:
        with pytest.raises(RuntimeError, match="forward failed"):
            emotion_log_mass(model, 1, prompts, vectors, sets)
        with pytest.raises(RuntimeError, match="forward failed"):
            greedy_continuations(model, 1, prompts[:1], vectors)
    finally:
        failing.remove()
    assert not block._forward_hooks
    torch.testing.assert_close(_last_logits(model, prompts[0]), before, atol=0, rtol=0)


@pytest.mark.parametrize("layer", [-1, -2, 4])
def test_the_embeddings_and_missing_blocks_cannot_be_steered(layer, loaded):
    model = loaded("gpt2")
    with pytest.raises(EmoalignError, match=f"layer {layer} of "):
        emotion_log_mass(model, layer, _prompts(model), np.zeros((1, model.d_model)), _token_sets(model))


def test_vectors_of_another_width_are_refused_before_any_forward(loaded):
    model = loaded("gpt2")
    with pytest.raises(EmoalignError, match=r"shape \(2, 32\).*expected \(conditions, 64\)"):
        emotion_log_mass(model, 1, _prompts(model), np.zeros((2, 32)), _token_sets(model))
    with pytest.raises(EmoalignError, match=r"expected \(conditions, 64\)"):
        greedy_continuations(model, 1, _prompts(model), np.zeros(64))


# ---------------------------------------------------------------------------------------------
# residual_norm
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["gpt2", "gemma3"])
def test_residual_norm_is_the_median_over_every_position_but_the_first(family, loaded):
    model = loaded(family)
    prompts = _prompts(model)
    _, blocks = find_blocks(model.model)
    norms, sinks = [], []
    for ids in prompts:
        hidden = capture_block_outputs(model.model, blocks, [1], {"input_ids": torch.tensor([ids])})[1][0]
        norms.extend(hidden[1:].norm(dim=-1).tolist())
        sinks.append(hidden[0].norm().item())
    assert residual_norm(model, 1, prompts) == pytest.approx(np.median(norms), rel=1e-6)
    assert residual_norm(model, 1, prompts) != pytest.approx(np.median(norms + sinks), rel=1e-6)
    with pytest.raises(EmoalignError, match="one token long"):
        residual_norm(model, 1, [[ids[0]] for ids in prompts])


# ---------------------------------------------------------------------------------------------
# greedy_continuations
# ---------------------------------------------------------------------------------------------


def _generate_with_cache(model, layer, ids, vector, max_new_tokens):
    """``model.generate`` (KV cache) with a hook written here: the prompt's positions 1 onward at
    the first forward, every new token after it."""
    calls = []

    def hook(module, args, output):
        calls.append(None)
        return _add_hook(vector, 1 if len(calls) == 1 else 0)(module, args, output)

    handle = _block(model, layer).register_forward_hook(hook)
    try:
        with torch.no_grad():
            out = model.model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=max_new_tokens,
                                       pad_token_id=model.tokenizer.pad_token_id)
    finally:
        handle.remove()
    return model.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)


@pytest.mark.parametrize("family", ["gpt2", "llama", "qwen2", "gemma3"])
def test_greedy_continuations_equal_generation_with_a_kv_cache(family, loaded):
    model = loaded(family)
    prompts = _prompts(model)[:2]
    vectors = _vectors(model, 1, 3.0)
    texts = greedy_continuations(model, 1, prompts, vectors, max_new_tokens=6)
    assert len(texts) == 2 and all(len(row) == 2 for row in texts)
    for c, vector in enumerate(vectors):  # row 0: the zero vector, plain greedy generation
        for p, ids in enumerate(prompts):
            assert texts[c][p] == _generate_with_cache(model, 1, ids, vector, 6)
    steered = greedy_continuations(model, 1, prompts, _vectors(model, 1, 100.0)[1:], max_new_tokens=6)
    assert steered[0] != texts[0]


# ---------------------------------------------------------------------------------------------
# emotion words and their first tokens
# ---------------------------------------------------------------------------------------------


def test_emotion_words_are_the_distinct_lexicon_matches_in_order():
    texts = {
        "gratitude": ["Thank you, THANKS!", "We are grateful. Thanks again.", "I appreciate it."],
        "anger": ["He was angry, so angry.", "The train leaves at seven."],
    }
    assert emotion_words(texts, DEFAULT_LEXICON) == {
        "gratitude": ("thank", "thanks", "grateful", "appreciate"),
        "anger": ("angry",),
    }


@pytest.fixture(scope="module")
def bpe(tiny_tokenizer_path):
    return AutoTokenizer.from_pretrained(tiny_tokenizer_path("bpe"))


def _texts(tokenizer, tokens):
    return {label: token_texts(tokenizer, ids) for label, ids in tokens.items()}


def test_first_tokens_keep_long_or_whole_word_tokens_only(bpe):
    """On the tiny byte-level tokenizer: " angry", " sorry", " grateful" are single tokens, "Thank"
    and "Thanks" too; " mad" begins with "Ġm" and " regret" with "Ġr" (too short, left out)."""
    words = {"gratitude": ("thank", "thanks", "grateful"), "anger": ("angry", "mad"), "apology": ("sorry", "regret")}
    tokens = emotion_first_tokens(bpe, words)
    assert _texts(bpe, tokens) == {
        "gratitude": ["Thank", "Thanks", "grateful"], "anger": ["angry"], "apology": ["sorry"],
    }
    assert all(list(ids) == sorted(set(ids)) for ids in tokens.values())
    assert tokens["anger"] == (bpe.encode(" angry", add_special_tokens=False)[0],)
    # "Thank" begins "thankful" (5 characters): kept at 5+, left out at 6+, where "Thanks" (the whole word) stays
    for min_chars in (3, 5):
        tokens = emotion_first_tokens(bpe, {"gratitude": ("thankful", "thanks")}, min_chars=min_chars)
        assert _texts(bpe, tokens) == {"gratitude": ["Thank", "Thanks"]}
    tokens = emotion_first_tokens(bpe, {"gratitude": ("thankful", "thanks")}, min_chars=7)
    assert _texts(bpe, tokens) == {"gratitude": ["Thanks"]}


def test_a_first_token_two_emotions_share_is_left_out_of_both(bpe):
    tokens = emotion_first_tokens(bpe, {"gratitude": ("thanks", "thankful"), "apology": ("sorry", "thank")})
    assert _texts(bpe, tokens) == {"gratitude": ["Thanks"], "apology": ["sorry"]}


def test_an_emotion_without_tokens_is_a_one_line_error_naming_it(bpe):
    with pytest.raises(EmoalignError) as error:
        emotion_first_tokens(bpe, {"gratitude": ("thanks",), "anger": ("mad", "madder")}, name="tiny-bpe")
    message = str(error.value)
    assert message.startswith("anger: ") and "'mad', 'madder'" in message and "tiny-bpe" in message
    assert "3+ characters" in message and "\n" not in message
    with pytest.raises(EmoalignError, match="gratitude: .*'thankful'.*6\\+ characters"):
        emotion_first_tokens(bpe, {"gratitude": ("thankful",)}, min_chars=6)


@pytest.mark.parametrize("kind", ["bpe", "sentencepiece"])
def test_prompts_are_encoded_with_the_start_token_of_extraction(kind, tiny_tokenizer_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_path(kind))
    start = resolve_start_token(tokenizer)
    prompts = encode_prompts(tokenizer, TEXTS[:3], start)
    assert prompts == encode_texts(tokenizer, TEXTS[:3], start)["input_ids"]
    first = start.prepend_id if kind == "bpe" else tokenizer.bos_token_id
    for ids, text in zip(prompts, TEXTS):
        assert ids[0] == first and ids[1:] == tokenizer.encode(text, add_special_tokens=False)


# ---------------------------------------------------------------------------------------------
# has_next_token_head and load_model(lm_head=True)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family,expected", [
    ("gpt2", True), ("llama", True), ("qwen2", True), ("gemma3", True), ("bert", False),
])
def test_next_token_head_of_the_tiny_folders(family, expected, tiny_model_path):
    assert has_next_token_head(AutoConfig.from_pretrained(tiny_model_path(family))) is expected


def test_next_token_head_of_configs_by_architecture_and_type():
    from transformers import BertConfig, LlamaConfig, LlavaConfig, MPNetConfig, T5Config

    assert not has_next_token_head(BertConfig(architectures=["BertForMaskedLM"]))
    assert not has_next_token_head(BertConfig(architectures=["BertLMHeadModel"]))  # a causal-LM class, an encoder
    assert not has_next_token_head(MPNetConfig(architectures=["MPNetModel"]))
    assert not has_next_token_head(BertConfig())
    assert not has_next_token_head(LlamaConfig(architectures=["LlamaModel"]))  # saved without its head
    assert has_next_token_head(LlamaConfig())  # no architectures: by model type
    assert has_next_token_head(LlavaConfig(architectures=["LlavaForConditionalGeneration"]))
    assert not has_next_token_head(T5Config(architectures=["T5ForConditionalGeneration"]))  # no decoder text config


@pytest.mark.parametrize("family", ["gpt2", "llama"])  # tied and untied heads
def test_loading_with_the_head_gives_the_logits_of_auto_model_for_causal_lm(family, loaded, tiny_model_path):
    model = loaded(family)
    direct = AutoModelForCausalLM.from_pretrained(tiny_model_path(family)).eval()
    ids = torch.tensor([_prompts(model)[0]])
    with torch.no_grad():
        torch.testing.assert_close(model.model(input_ids=ids).logits, direct(input_ids=ids).logits, atol=0, rtol=0)
    assert model.n_layers == len(find_blocks(model.model)[1]) == 4


def _save_base_model(source, folder):
    AutoModel.from_pretrained(source).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(source / name, folder / name)
    return folder


def test_a_checkpoint_saved_without_its_head_is_a_one_line_error(tiny_model_path, tmp_path):
    folder = _save_base_model(tiny_model_path("llama"), tmp_path / "headless-llama")
    with pytest.raises(EmoalignError) as error:
        load_model(resolve_model(str(folder)), device="cpu", lm_head=True, quiet=True)
    message = str(error.value)
    assert message.startswith("headless-llama has no next-token head in its weights (lm_head missing)")
    assert "\n" not in message
    load_model(resolve_model(str(folder)), device="cpu", quiet=True)  # extraction needs no head


def test_a_tied_head_saved_as_a_base_model_is_the_embeddings(loaded, tiny_model_path, tmp_path):
    folder = _save_base_model(tiny_model_path("gpt2"), tmp_path / "base-gpt2")
    base = load_model(resolve_model(str(folder)), device="cpu", lm_head=True, quiet=True)
    ids = torch.tensor([_prompts(base)[0]])
    with torch.no_grad():
        torch.testing.assert_close(base.model(input_ids=ids).logits, loaded("gpt2").model(input_ids=ids).logits)


def test_the_head_is_refused_with_fewer_blocks_or_random_weights(tiny_model_path):
    spec = resolve_model(str(tiny_model_path("llama")))
    with pytest.raises(EmoalignError, match="2 of 4 blocks"):
        load_model(spec, device="cpu", lm_head=True, n_blocks=2, quiet=True)
    with pytest.raises(EmoalignError, match="untrained_seed"):
        load_model(spec, device="cpu", lm_head=True, untrained_seed=0, quiet=True)
    assert len(find_blocks(load_model(spec, device="cpu", lm_head=True, n_blocks=4, quiet=True).model)[1]) == 4
