"""Planted twins: block outputs are an exact linear/affine image of the source's (DESIGN §4)."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from emoalign.core.errors import EmoalignError
from emoalign.data.dataset import load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.extract.activations import extract_activations
from emoalign.extract.capture import capture_block_outputs
from emoalign.models.blocks import find_blocks
from emoalign.models.loading import load_model
from emoalign.models.registry import resolve_model
from emoalign.synthetic import (
    AffineTwin,
    build_affine_twin,
    load_twin_map,
    orthonormal_columns,
    twin_loaded_model,
    widen_rmsnorm_model,
)

TEXTS = ["Thanks, that helped a lot.", "I am so sorry.", "The train leaves at noon today, after lunch."]
WIDTH = 96  # tiny models have d = 64
SMALL = load_profile("baseline").limit_per_label(3)


def _load(path):
    return load_model(resolve_model(str(path)), device="cpu", quiet=True)


def _capture_all(loaded):
    inputs = loaded.tokenizer(TEXTS, return_tensors="pt", padding=True)
    inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    _, blocks = find_blocks(loaded.model)
    return capture_block_outputs(loaded.model, blocks, range(len(blocks)), inputs)


def _assert_close_rel(actual: torch.Tensor, expected: torch.Tensor, rel: float = 1e-4) -> None:
    actual, expected = actual.double(), expected.double()
    scale = expected.abs().max().item()
    err = (actual - expected).abs().max().item()
    assert err <= rel * scale, f"max error {err:.3g} > {rel:g} x scale {scale:.3g}"


def test_orthonormal_columns_is_seeded_and_orthonormal():
    q = orthonormal_columns(WIDTH, 64, seed=3)
    torch.testing.assert_close(q.T @ q, torch.eye(64, dtype=torch.float64), atol=1e-12, rtol=0)
    assert torch.equal(q, orthonormal_columns(WIDTH, 64, seed=3))
    assert not torch.allclose(q, orthonormal_columns(WIDTH, 64, seed=4))
    with pytest.raises(EmoalignError, match="smaller"):
        orthonormal_columns(32, 64)


@pytest.fixture(scope="module")
def widened(tiny_model_path, tmp_path_factory):
    """family -> (source folder, twin folder), each built once."""
    cache = {}

    def factory(family):
        if family not in cache:
            src = tiny_model_path(family)
            cache[family] = (src, widen_rmsnorm_model(src, tmp_path_factory.mktemp(f"twin-{family}"), width=WIDTH, seed=1))
        return cache[family]

    return factory


@pytest.mark.parametrize("family", ["llama", "qwen2", "qwen3"])
def test_widened_twin_block_outputs_are_s_q_h(family, widened):
    src_dir, twin_dir = widened(family)
    source, twin = _load(src_dir), _load(twin_dir)
    assert twin.d_model == WIDTH and twin.n_layers == source.n_layers
    tmap = load_twin_map(twin_dir)
    assert tmap.q.shape == (WIDTH, 64) and tmap.scale == pytest.approx((WIDTH / 64) ** 0.5)
    src_out, twin_out = _capture_all(source), _capture_all(twin)
    for layer in range(source.n_layers):
        _assert_close_rel(twin_out[layer], tmap.apply(src_out[layer]))
        _assert_close_rel(tmap.invert(twin_out[layer]), src_out[layer])


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_widened_twin_has_unit_norms_and_the_same_logits(family, widened):
    src_dir, twin_dir = widened(family)
    source = AutoModelForCausalLM.from_pretrained(str(src_dir)).eval()
    twin = AutoModelForCausalLM.from_pretrained(str(twin_dir)).eval()
    assert twin.config.hidden_size == WIDTH and twin.config.tie_word_embeddings is False
    assert all(torch.equal(layer.input_layernorm.weight, torch.ones(WIDTH)) for layer in twin.model.layers)
    assert torch.equal(twin.model.norm.weight, torch.ones(WIDTH))
    ids = torch.tensor([[5, 17, 230, 99, 4, 61]])
    with torch.no_grad():  # the final norm folded into the LM head: same next-token logits
        _assert_close_rel(twin(ids).logits, source(ids).logits)


def test_widen_accepts_a_model_object(widened, tmp_path):
    src_dir, twin_dir = widened("llama")
    model = AutoModelForCausalLM.from_pretrained(str(src_dir))
    out = widen_rmsnorm_model(model, tmp_path, width=WIDTH, seed=1)
    assert (out / "tokenizer.json").exists()  # taken from model.name_or_path
    a = AutoModelForCausalLM.from_pretrained(str(out)).state_dict()
    b = AutoModelForCausalLM.from_pretrained(str(twin_dir)).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_widen_refuses_other_families(tiny_model_path, tmp_path):
    with pytest.raises(EmoalignError, match="build_affine_twin"):
        widen_rmsnorm_model(tiny_model_path("gpt2"), tmp_path, width=WIDTH)


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_affine_twin_block_outputs_are_a_h_plus_c(family, tiny_model_path):
    source = _load(tiny_model_path(family))
    twin = twin_loaded_model(source, width=WIDTH, seed=2)
    assert isinstance(twin.model, AffineTwin) and twin.block_path == "layers"
    assert twin.d_model == WIDTH and twin.n_layers == source.n_layers == twin.model.config.num_hidden_layers
    assert twin.spec.hub_id.startswith(f"planted-twin-of-{source.spec.hub_id}")
    assert twin.provenance()["model_type"] == "affine_twin"
    src_out, twin_out = _capture_all(source), _capture_all(twin)
    tmap = twin.model.twin_map
    for layer in range(source.n_layers):
        offset = twin.model.layers[layer].offset.double()
        _assert_close_rel(twin_out[layer], tmap.apply(src_out[layer]) + offset)


def test_affine_twin_noise_is_orthogonal_deterministic_and_nonzero(tiny_model_path):
    source = _load(tiny_model_path("gpt2"))
    twin = build_affine_twin(source.model, width=WIDTH, seed=2, noise=0.5)
    same = build_affine_twin(source.model, width=WIDTH, seed=2, noise=0.5)
    loaded = twin_loaded_model(source, width=WIDTH, seed=2, noise=0.5)
    src_out = _capture_all(source)
    twin_out = _capture_all(loaded)
    tmap = twin.twin_map
    q = tmap.q
    for layer in range(source.n_layers):
        centred = twin_out[layer].double() - loaded.model.layers[layer].offset.double()
        _assert_close_rel(tmap.invert(centred), src_out[layer])  # Qᵀ kills the nuisance: source exact
        perp = centred - centred @ q @ q.T
        assert perp.norm() > 0.1 * centred.norm()  # the nuisance is there, and sizeable
    inputs = dict(source.tokenizer(TEXTS[:1], return_tensors="pt"))
    with torch.no_grad():
        torch.testing.assert_close(twin(**inputs).last_hidden_state, same(**inputs).last_hidden_state, atol=0, rtol=0)
        torch.testing.assert_close(twin(**inputs).last_hidden_state, twin(**inputs).last_hidden_state, atol=0, rtol=0)


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_twin_extraction_batched_equals_unbatched_and_is_affine(family, tiny_model_path):
    source = _load(tiny_model_path(family))
    twin = twin_loaded_model(source, width=WIDTH, seed=0, noise=0.3)
    layers = [0, 2, 3]
    src_acts = extract_activations(source, SMALL, layers, lexicon=DEFAULT_LEXICON, quiet=True)
    batched = extract_activations(twin, SMALL, layers, lexicon=DEFAULT_LEXICON, quiet=True, batch_size=16)
    single = extract_activations(twin, SMALL, layers, lexicon=DEFAULT_LEXICON, quiet=True, batch_size=1)
    assert batched.prompt_acts.shape == (len(layers), len(SMALL.prompts), WIDTH)
    assert batched.model["id"] == twin.spec.hub_id and batched.model["d_model"] == WIDTH
    np.testing.assert_allclose(single.prompt_acts, batched.prompt_acts, atol=1e-4, rtol=0)
    np.testing.assert_allclose(single.word_acts, batched.word_acts, atol=1e-4, rtol=0)
    q = twin.model.twin_map.q.numpy()
    for row, layer in enumerate(layers):  # the ranges(Q) part of the pooled activations is exact
        offset = twin.model.layers[layer].offset.double().numpy()
        recovered = (batched.word_acts[row] - offset) @ q / twin.model.twin_map.scale
        scale = np.abs(src_acts.word_acts[row]).max()
        np.testing.assert_allclose(recovered, src_acts.word_acts[row], atol=1e-4 * scale, rtol=0)


def test_twin_forward_runs_its_blocks_in_order_and_stops_early(tiny_model_path):
    source = _load(tiny_model_path("gpt2"))
    twin = build_affine_twin(source.model, width=WIDTH)
    _, source_blocks = find_blocks(source.model)
    order: list[str] = []
    handles = [b.register_forward_hook(lambda *_, i=i: order.append(f"twin{i}")) for i, b in enumerate(twin.layers)]
    handles.append(source_blocks[2].register_forward_pre_hook(lambda *_: order.append("source2")))
    try:
        inputs = dict(source.tokenizer(TEXTS[:2], return_tensors="pt", padding=True))
        captured = capture_block_outputs(twin, twin.layers, [1], inputs)
    finally:
        for handle in handles:
            handle.remove()
    assert order == ["twin0", "twin1"]  # early exit: source block 2 and twin block 2 never ran
    assert captured[1].shape[-1] == WIDTH
    # a full forward runs every twin block and leaves no routing hooks behind
    with torch.no_grad():
        out = twin(**inputs).last_hidden_state
    assert out.shape[-1] == WIDTH
    assert all(not b._forward_hooks for b in source_blocks)


def test_affine_twin_validates_its_arguments(tiny_model_path):
    source = _load(tiny_model_path("bert"))
    with pytest.raises(EmoalignError, match="width > d"):
        build_affine_twin(source.model, width=64, noise=0.1)
    with pytest.raises(EmoalignError, match="smaller"):
        build_affine_twin(source.model, width=32)
    rotated = build_affine_twin(source.model, width=64)  # width == d: a rotated (affine) copy
    assert rotated.config.hidden_size == 64
