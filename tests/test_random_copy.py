"""Random-weight copies (the vocabulary baseline): seeded, truncated, fast, cached by architecture."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModel

import emoalign.extract.baseline as baseline_module
import emoalign.extract.cache as cache_module
from emoalign.data.dataset import load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.extract.activations import extract_activations, tokenize_prompts
from emoalign.extract.baseline import (
    load_random_copy_source,
    random_copy_activation_files,
    random_copy_activations,
    random_copy_cache_file,
    random_copy_key,
)
from emoalign.extract.cache import ExtractionRequest, get_activations
from emoalign.models.blocks import find_blocks
from emoalign.models.loading import load_model, load_tokenizer
from emoalign.models.random_copy import (
    EMBEDDING_CHUNK_ELEMENTS,
    architecture_hash,
    build_random_copy,
)
from emoalign.models.registry import resolve_model

SMALL = load_profile("baseline").limit_per_label(4)


def _config(tiny_model_path, family, **kwargs):
    return AutoConfig.from_pretrained(tiny_model_path(family, **kwargs))


def _request(path, layers=(0, 1), **kwargs):
    return ExtractionRequest(spec=resolve_model(str(path)), dataset=SMALL, layers=tuple(layers),
                             lexicon=DEFAULT_LEXICON, dtype="float32", device="cpu", **kwargs)


def _weights(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_same_seed_gives_identical_weights_and_other_seeds_differ(tiny_model_path):
    config = _config(tiny_model_path, "llama")
    first, again, other = (_weights(build_random_copy(config, seed, 2)) for seed in (5, 5, 6))
    assert first.keys() == again.keys() == other.keys()
    for name, tensor in first.items():
        assert torch.equal(tensor, again[name]), name
        if tensor.is_floating_point() and tensor.std() > 0:
            assert not torch.equal(tensor, other[name]), name


@pytest.mark.parametrize("family", ["gpt2", "gpt_neo", "qwen2", "gemma2", "gemma3_text", "gemma3", "bert"])
def test_truncated_copy_has_the_requested_blocks_and_a_deeper_copys_weights(family, tiny_model_path):
    config = _config(tiny_model_path, family)
    copy = build_random_copy(config, 3, 2)
    _, blocks = find_blocks(copy)
    assert len(blocks) == 2
    text = copy.config.get_text_config()
    assert text.num_hidden_layers == 2
    for name in ("layer_types", "attention_layers"):
        if getattr(text, name, None) is not None:
            assert len(getattr(text, name)) == 2
    assert config.get_text_config().num_hidden_layers == 4  # the given config is untouched
    deep = _weights(build_random_copy(config, 3))
    for name, tensor in copy.state_dict().items():  # the first blocks of a deeper copy, exactly
        assert torch.equal(tensor, deep[name]), name
    ids = torch.tensor([[5, 17, 30, 2, 9]])
    with torch.no_grad():
        hidden = copy(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
    assert torch.isfinite(hidden).all()


def test_multimodal_gemma3_is_built_from_its_text_config(tiny_model_path):
    copy = build_random_copy(_config(tiny_model_path, "gemma3"), 0, 1)
    assert type(copy).__name__ == "Gemma3TextModel"
    assert not any("vision" in name for name, _ in copy.named_parameters())


@pytest.mark.parametrize("family", ["gpt2", "llama", "gemma3_text", "bert"])
def test_init_follows_the_models_own_scheme(family, tiny_model_path):
    config = _config(tiny_model_path, family)
    copy = build_random_copy(config, 1)
    torch.manual_seed(0)
    reference = AutoModel.from_config(config)  # transformers' own init, for the distributions
    ours, theirs = copy.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys()
    for name, tensor in ours.items():
        expected = theirs[name]
        if not tensor.is_floating_point() or expected.numel() < 2 or expected.std() == 0:
            assert torch.equal(tensor, expected), name  # norms, biases, offsets, buffers: exactly the same
        else:
            assert tensor.std().item() == pytest.approx(expected.std().item(), rel=0.2), name
    for (name, buffer), (_, expected) in zip(copy.named_buffers(), reference.named_buffers()):
        assert torch.equal(buffer, expected), name
    std = config.initializer_range
    linear = next(p for n, p in copy.named_parameters()  # the first projection (GPT-2 scales its c_proj)
                  if p.dim() == 2 and p.numel() >= 4096 and not any(k in n for k in ("emb", "wte", "wpe", "c_proj")))
    assert linear.std().item() == pytest.approx(std, rel=0.1) and abs(linear.mean().item()) < std / 10


def test_gemma_norms_are_zero_offsets_and_llama_norms_unit_scales(tiny_model_path):
    gemma = build_random_copy(_config(tiny_model_path, "gemma3_text"), 0, 1)
    llama = build_random_copy(_config(tiny_model_path, "llama"), 0, 1)
    assert all((m.weight == 0).all() for m in gemma.modules() if "RMSNorm" in type(m).__name__)
    assert all((m.weight == 1).all() for m in llama.modules() if "RMSNorm" in type(m).__name__)
    embedding = gemma.get_input_embeddings()
    assert (embedding.weight[embedding.padding_idx] == 0).all()


def test_drawing_only_the_used_embedding_rows_changes_no_activation(tiny_model_path):
    config = _config(tiny_model_path, "qwen2")
    ids = torch.tensor([[3, 41, 7, 300], [12, 5, 600, 600]])
    used = torch.unique(ids).tolist()
    full = build_random_copy(config, 9, 2)
    sparse = build_random_copy(config, 9, 2, token_ids=used)
    rows_full, rows_sparse = full.get_input_embeddings().weight, sparse.get_input_embeddings().weight
    assert torch.equal(rows_sparse[used], rows_full[used])
    per_chunk = EMBEDDING_CHUNK_ELEMENTS // rows_full.shape[1]  # rows drawn together
    drawn = {i for i in range(rows_full.shape[0]) if i // per_chunk in {u // per_chunk for u in used}}
    assert torch.equal(rows_sparse[sorted(drawn)], rows_full[sorted(drawn)])
    assert (rows_sparse[[i for i in range(rows_full.shape[0]) if i not in drawn]] == 0).all()
    mask = torch.ones_like(ids)
    with torch.no_grad():
        assert torch.equal(full(input_ids=ids, attention_mask=mask).last_hidden_state,
                           sparse(input_ids=ids, attention_mask=mask).last_hidden_state)


def test_bfloat16_copy_is_the_float32_copy_rounded(tiny_model_path):
    config = _config(tiny_model_path, "llama")
    f32 = build_random_copy(config, 2, 1)
    bf16 = build_random_copy(config, 2, 1, dtype=torch.bfloat16)
    for (name, a), (_, b) in zip(f32.named_parameters(), bf16.named_parameters()):
        assert b.dtype == torch.bfloat16 and torch.equal(a.to(torch.bfloat16), b), name


def test_load_model_untrained_builds_only_the_blocks_asked_for(tiny_model_path):
    path = tiny_model_path("gpt2")
    loaded = load_model(resolve_model(str(path)), device="cpu", quiet=True, untrained_seed=4, n_blocks=2)
    assert len(find_blocks(loaded.model)[1]) == 2 and loaded.n_layers == 4  # n_layers: the architecture's depth
    assert loaded.provenance()["weights"] == "random init (seed 4)"
    expected = build_random_copy(AutoConfig.from_pretrained(path), 4, 2)
    for (name, a), (_, b) in zip(loaded.model.named_parameters(), expected.named_parameters()):
        assert torch.equal(a, b), name


def test_cache_key_is_shared_by_architecture_and_tokenizer_not_by_name(tiny_model_path):
    # two folders, two names, other weights; the same architecture and tokenizer
    first, second = tiny_model_path("llama", seed=0), tiny_model_path("llama", seed=1)
    a, b = load_random_copy_source(_request(first)), load_random_copy_source(_request(second))
    assert a.request.spec.name != b.request.spec.name
    assert a.architecture == b.architecture and a.tokenizer_hash == b.tokenizer_hash
    assert random_copy_key(a, 0) == random_copy_key(b, 0)
    assert random_copy_cache_file("c", a, 0) == random_copy_cache_file("c", b, 0)
    assert random_copy_key(a, 0) != random_copy_key(a, 1)
    assert "-random-s0-" in random_copy_cache_file("c", a, 0).name
    # same architecture, another tokenizer (offsets trimmed or not): another key
    untrimmed = load_random_copy_source(_request(tiny_model_path("llama", tokenizer="bpe_untrimmed")))
    assert untrimmed.architecture == a.architecture and untrimmed.tokenizer_hash != a.tokenizer_hash
    assert random_copy_key(untrimmed, 0) != random_copy_key(a, 0)
    # another architecture: another key
    assert load_random_copy_source(_request(tiny_model_path("qwen2"))).architecture != a.architecture
    assert architecture_hash(AutoConfig.from_pretrained(first)) == a.architecture


def test_copies_are_cached_and_a_hit_builds_no_model(tiny_model_path, tmp_path, monkeypatch):
    request = _request(tiny_model_path("qwen2", seed=0))
    files = random_copy_activation_files(request, [0, 1], tmp_path, quiet=True)
    assert [hit for _, _, hit in files] == [False, False]
    (first, _, _), (second, _, _) = files
    assert np.isfinite(first.prompt_acts).all() and first.prompt_acts.shape == (2, len(SMALL.prompts), 64)
    assert not np.allclose(first.prompt_acts, second.prompt_acts)
    assert first.model["weights"] == "random init (seed 0)" and first.model["n_blocks"] == 2
    assert first.model["n_layers"] == 4 and first.model["architecture"] and first.model["tokenizer"]

    def no_building(*_a, **_k):
        raise AssertionError("a model was built on a cache hit")

    monkeypatch.setattr(baseline_module, "build_random_copy", no_building)
    monkeypatch.setattr(cache_module, "load_model", no_building)
    other = _request(tiny_model_path("qwen2", seed=1))  # another model of the same architecture
    again = random_copy_activations(other, [1, 0], tmp_path, quiet=True)
    assert np.array_equal(again[1].prompt_acts, first.prompt_acts)
    assert np.array_equal(again[0].word_acts, second.word_acts)
    assert again[0].model["name"] == other.spec.name  # relabelled for the model that asked
    with pytest.raises(AssertionError, match="built on a cache hit"):
        random_copy_activations(request, [2], tmp_path, quiet=True)


def test_copy_activations_are_deterministic_across_caches(tiny_model_path, tmp_path):
    request = _request(tiny_model_path("gemma3_text"), layers=(1,))
    [a] = random_copy_activations(request, [7], tmp_path / "one", quiet=True)
    [b] = random_copy_activations(request, [7], tmp_path / "two", quiet=True)
    assert np.array_equal(a.prompt_acts, b.prompt_acts) and np.array_equal(a.word_acts, b.word_acts)


def test_copy_activations_equal_those_of_the_full_copy(tiny_model_path, tmp_path):
    path = tiny_model_path("gpt_neox")
    request = _request(path, layers=(0, 2))
    [through_cache] = random_copy_activations(request, [3], tmp_path, quiet=True)
    full = load_model(request.spec, device="cpu", dtype="float32", quiet=True, untrained_seed=3)
    direct = extract_activations(full, SMALL, [0, 2], lexicon=DEFAULT_LEXICON, quiet=True)
    np.testing.assert_array_equal(through_cache.prompt_acts, direct.prompt_acts)
    np.testing.assert_array_equal(through_cache.word_acts, direct.word_acts)


def test_a_tokenized_plan_reused_across_models_changes_nothing(tiny_model_path):
    loaded = load_model(resolve_model(str(tiny_model_path("llama"))), device="cpu", quiet=True)
    tokenized = tokenize_prompts(loaded.tokenizer, SMALL, lexicon=DEFAULT_LEXICON, batch_size=5)
    fresh = extract_activations(loaded, SMALL, [1], lexicon=DEFAULT_LEXICON, batch_size=5, quiet=True)
    reused = extract_activations(loaded, SMALL, [1], lexicon=DEFAULT_LEXICON, batch_size=5, quiet=True,
                                 tokenized=tokenized)
    np.testing.assert_array_equal(fresh.prompt_acts, reused.prompt_acts)
    assert fresh.matched_tokens == reused.matched_tokens
    pad = load_tokenizer(loaded.spec).pad_token_id
    assert pad in tokenized.token_ids().tolist()


def test_the_untrained_control_request_goes_through_the_random_copy_cache(tiny_model_path, tmp_path):
    request = replace(_request(tiny_model_path("gpt2"), layers=(1,)), untrained_seed=1)
    request = replace(request, spec=replace(request.spec, name="gpt2-untrained"))
    activations, path, hit = get_activations(request, tmp_path, quiet=True)
    assert not hit and "-random-s1-" in path.name and path.name.startswith("gpt2-random")
    assert activations.model["name"] == "gpt2-untrained" and activations.model["weights"] == "random init (seed 1)"
    again, same_path, hit = get_activations(request, tmp_path, quiet=True, allow_extract=False)
    assert hit and same_path == path and np.array_equal(again.prompt_acts, activations.prompt_acts)
