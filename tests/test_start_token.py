"""No readout on the attention sink: a start token before every prompt where the tokenizer adds none."""

from dataclasses import replace

import numpy as np
import pytest
import torch

import emoalign
from emoalign.analysis.alignment import emotion_vector_sets
from emoalign.analysis.subspace import fit_subspace
from emoalign.cli import main
from emoalign.core.errors import EmoalignError
from emoalign.data.dataset import load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.extract.activations import (
    ActivationSet,
    extract_activations,
    plan_positions,
    tokenize_prompts,
)
from emoalign.extract.baseline import random_copy_activations
from emoalign.extract.cache import ExtractionRequest, cache_key
from emoalign.extract.start_token import adds_start_token, resolve_start_token
from emoalign.models.loading import load_model
from emoalign.models.registry import resolve_model

try:
    from tiny_models import build_tiny_model, make_fast_tokenizer, train_tokenizer
except ImportError:  # pragma: no cover - tests/ as a package
    from .tiny_models import build_tiny_model, make_fast_tokenizer, train_tokenizer

# 10 prompts a label; 3 gratitude, 3 anger and 1 apology prompt begin with their emotion word
PROMPTS = load_profile("baseline").limit_per_label(10)


def _plans(tokenizer, bos):
    plans, encoded = plan_positions(tokenizer, PROMPTS, DEFAULT_LEXICON, "all", bos)
    return plans, encoded["input_ids"]


@pytest.fixture(scope="module")
def sink_gpt2(tmp_path_factory):
    """A tiny GPT-2 (random weights, BPE tokenizer without a start token) whose position 0 carries a
    planted attention-sink-like outlier: ``wpe[0]`` 1000 times the norm of the other positions."""
    from transformers import GPT2LMHeadModel

    folder = build_tiny_model("gpt2", tmp_path_factory.mktemp("sink-gpt2"))
    model = GPT2LMHeadModel.from_pretrained(folder)
    with torch.no_grad():
        wpe = model.transformer.wpe.weight
        typical = wpe[1:].norm(dim=1).mean()
        wpe[0] = wpe[0] / wpe[0].norm() * typical * 1000
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def _first_component_shares(acts):
    return {
        (layer, label): fit_subspace(vectors, 2).explained_variance_ratio[0]
        for layer in acts.layers
        for label, vectors in emotion_vector_sets(acts, layer, "mean").items()
    }


def test_position_zero_outlier_dominates_only_without_a_start_token(sink_gpt2):
    loaded = load_model(resolve_model(str(sink_gpt2)), device="cpu", dtype="float32", quiet=True)
    layers = list(range(loaded.n_layers))
    never = extract_activations(loaded, PROMPTS, layers, lexicon=DEFAULT_LEXICON, bos="never", quiet=True)
    auto = extract_activations(loaded, PROMPTS, layers, lexicon=DEFAULT_LEXICON, quiet=True)
    assert min(_first_component_shares(never).values()) >= 0.9  # one direction: the sink
    assert max(_first_component_shares(auto).values()) < 0.9
    tokenized = tokenize_prompts(loaded.tokenizer, PROMPTS, lexicon=DEFAULT_LEXICON)
    assert all(0 not in plan.pooled + plan.word_tokens for plan in tokenized.plans)
    assert auto.extra["start_token"] == "prepended <|endoftext|> (id 0)" and auto.extra["bos"] == "auto"
    assert never.extra["start_token"] == "none"


def test_bpe_tokenizer_without_start_token_gets_one_prepended_and_positions_shift():
    tokenizer = make_fast_tokenizer("bpe")
    assert not adds_start_token(tokenizer)
    start = resolve_start_token(tokenizer, "auto")
    assert (start.prepend_id, start.describe()) == (tokenizer.bos_token_id, "prepended <|endoftext|> (id 0)")
    never_plans, never_ids = _plans(tokenizer, "never")
    for bos in ("auto", "always"):
        plans, ids = _plans(tokenizer, bos)
        assert ids == [[tokenizer.bos_token_id, *row] for row in never_ids]
        for plan, old in zip(plans, never_plans):
            assert plan.pooled == [t + 1 for t in old.pooled]
            assert plan.word_tokens == [t + 1 for t in old.word_tokens]
            assert plan.fallback == old.fallback
    assert any(0 in plan.pooled for plan in never_plans)  # the built-in prompts do read position 0


@pytest.mark.parametrize("kind", ["wordpiece", "sentencepiece"])
def test_tokenizer_with_its_own_start_token_is_untouched(kind):
    tokenizer = make_fast_tokenizer(kind)
    assert adds_start_token(tokenizer)
    never = _plans(tokenizer, "never")
    for bos in ("auto", "always"):  # `always` never adds a second start token
        assert resolve_start_token(tokenizer, bos).describe() == "tokenizer's own"
        plans, ids = _plans(tokenizer, bos)
        assert (plans, ids) == never


def test_endoftext_is_preferred_over_a_chat_eos_when_there_is_no_bos():
    """Qwen: bos None, eos <|im_end|> (chat models); <|endoftext|> separates pretraining documents."""
    tokenizer = make_fast_tokenizer("bpe", extra_special_tokens=("<|im_end|>",))
    tokenizer.bos_token = None
    tokenizer.eos_token = "<|im_end|>"
    assert tokenizer.bos_token_id is None
    assert resolve_start_token(tokenizer).prepend_token == "<|endoftext|>"


def test_tokenizer_with_neither_start_nor_end_token_is_a_one_line_error():
    from transformers import PreTrainedTokenizerFast

    backend = train_tokenizer("wordpiece")
    backend.post_processor = None  # no [CLS]: nothing marks the start, and there is no BOS or EOS
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]")
    with pytest.raises(EmoalignError, match=r"model 'bare-wordpiece'.*--bos never") as error:
        tokenize_prompts(tokenizer, PROMPTS, lexicon=DEFAULT_LEXICON, name="bare-wordpiece")
    assert "\n" not in str(error.value)
    assert len(tokenize_prompts(tokenizer, PROMPTS, lexicon=DEFAULT_LEXICON, bos="never").plans) == 40
    with pytest.raises(EmoalignError, match="--bos 'sometimes'"):
        resolve_start_token(tokenizer, "sometimes")


def test_batches_mark_the_start_token_real_and_match_the_plans(tiny_model_path):
    loaded = load_model(resolve_model(str(tiny_model_path("gpt2"))), device="cpu", quiet=True)
    tokenized = tokenize_prompts(loaded.tokenizer, PROMPTS, lexicon=DEFAULT_LEXICON, batch_size=7)
    _, ids = _plans(loaded.tokenizer, "auto")
    for batch, inputs in zip(tokenized.batches, tokenized.inputs):
        assert (inputs["input_ids"][:, 0] == loaded.tokenizer.bos_token_id).all()
        assert (inputs["attention_mask"][:, 0] == 1).all()
        for row, i in enumerate(batch):
            n = int(inputs["attention_mask"][row].sum())
            assert inputs["input_ids"][row, :n].tolist() == ids[i]
    one = extract_activations(loaded, PROMPTS, [1, 3], lexicon=DEFAULT_LEXICON, batch_size=1, quiet=True)
    many = extract_activations(loaded, PROMPTS, [1, 3], lexicon=DEFAULT_LEXICON, batch_size=7, quiet=True)
    np.testing.assert_allclose(one.prompt_acts, many.prompt_acts, atol=1e-5)
    np.testing.assert_allclose(one.word_acts, many.word_acts, atol=1e-5)


def test_cache_key_provenance_and_random_copies(tiny_model_path, tmp_path):
    spec = resolve_model(str(tiny_model_path("gpt2")))
    request = ExtractionRequest(spec=spec, dataset=PROMPTS, layers=(0, 1), lexicon=DEFAULT_LEXICON, device="cpu")
    keys = {bos: cache_key(replace(request, bos=bos), "float32")
            for bos in ("auto", "always", "never")}
    assert len(set(keys.values())) == 3

    loaded = load_model(spec, device="cpu", quiet=True)
    acts = extract_activations(loaded, PROMPTS, [0, 1], lexicon=DEFAULT_LEXICON, quiet=True)
    reloaded = ActivationSet.load(acts.save(tmp_path / "acts.safetensors"))
    assert reloaded.extra["start_token"] == "prepended <|endoftext|> (id 0)" and reloaded.extra["bos"] == "auto"

    # the random copies read the very same positions as the trained model
    [copy] = random_copy_activations(request, [3], tmp_path / "cache", quiet=True)
    assert copy.extra["start_token"] == acts.extra["start_token"]
    [copy_never] = random_copy_activations(
        replace(request, bos="never"), [3], tmp_path / "cache", quiet=True
    )
    assert copy_never.extra["start_token"] == "none"
    assert not np.allclose(copy.prompt_acts, copy_never.prompt_acts)
    tokenized = tokenize_prompts(loaded.tokenizer, PROMPTS, lexicon=DEFAULT_LEXICON, bos="never")
    with pytest.raises(EmoalignError, match="planned for another dataset or settings"):
        extract_activations(loaded, PROMPTS, [0], lexicon=DEFAULT_LEXICON, tokenized=tokenized, quiet=True)


def test_token_plan_and_loaded_model_api_take_bos(tiny_model_path):
    from transformers import AutoModel, AutoTokenizer

    folder = tiny_model_path("gpt2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    auto = emoalign.token_plan(tokenizer, dataset=PROMPTS)
    never = emoalign.token_plan(tokenizer, dataset=PROMPTS, bos="never")
    assert auto.start_token == "prepended <|endoftext|> (id 0)" and never.start_token == "none"
    assert all(ids[0] == tokenizer.bos_token_id and list(ids[1:]) == list(old)
               for ids, old in zip(auto.input_ids, never.input_ids))
    model = AutoModel.from_pretrained(folder)
    acts = emoalign.extract(model, tokenizer, dataset=PROMPTS, layers=[0], bos="never", quiet=True)
    assert acts.extra["bos"] == "never"


@pytest.mark.parametrize(("flags", "start"), [((), "prepended <|endoftext|> (id 0)"), (("--bos", "never"), "none")])
def test_cli_bos_reaches_the_extraction(flags, start, tiny_model_path, tmp_path, capsys):
    args = ["extract", "--model", str(tiny_model_path("gpt2")), "--layers", "0", "--max-samples-per-emotion", "3",
            "--results-dir", str(tmp_path), "--device", "cpu", "--quiet", *flags]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"start      {start}" in out
    [cached] = (tmp_path / "cache").glob("*.safetensors")
    assert ActivationSet.load(cached).extra["start_token"] == start
