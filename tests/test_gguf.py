"""GGUF files as models: a tiny GGUF written with the ``gguf`` package, loaded through emoalign,
dequantized once into the model store and read back from it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gguf")
pytest.importorskip("accelerate")

from tiny_gguf import tiny_gguf_pair, write_gguf  # noqa: E402

import emoalign.models.gguf as gguf_mod  # noqa: E402
from emoalign.core.errors import EmoalignError  # noqa: E402
from emoalign.data.dataset import load_profile  # noqa: E402
from emoalign.data.lexicon import DEFAULT_LEXICON  # noqa: E402
from emoalign.extract.activations import extract_activations  # noqa: E402
from emoalign.extract.cache import ExtractionRequest, cache_key  # noqa: E402
from emoalign.models.loading import load_model  # noqa: E402
from emoalign.models.registry import resolve_model  # noqa: E402

SMALL = load_profile("baseline").limit_per_label(3)


@pytest.fixture(scope="module")
def tiny_ggufs(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """family -> (reference HF folder, GGUF file), written once per session."""
    return {family: tiny_gguf_pair(tmp_path_factory, family) for family in ("llama", "qwen2")}


@pytest.fixture(autouse=True)
def emoalign_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "emoalign-home"
    monkeypatch.setenv("EMOALIGN_HOME", str(home))
    return home


def _store_folders(home: Path) -> list[Path]:
    models = home / "models"
    return sorted(models.iterdir()) if models.is_dir() else []


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_gguf_file_gives_the_original_models_activations(family, tiny_ggufs, emoalign_home):
    hf_folder, gguf_file = tiny_ggufs[family]
    spec = resolve_model(str(gguf_file))
    assert spec.name == f"tiny-{family}" and spec.gguf is not None
    assert spec.gguf.sha256 == hashlib.sha256(gguf_file.read_bytes()).hexdigest()
    assert (spec.gguf.architecture, spec.gguf.quantization) == (family, "F32")

    from_gguf = load_model(spec, device="cpu", dtype="float32", quiet=True)
    original = load_model(resolve_model(str(hf_folder)), device="cpu", dtype="float32", quiet=True)
    assert (from_gguf.model_type, from_gguf.n_layers, from_gguf.d_model) == (family, 4, 64)
    got = extract_activations(from_gguf, SMALL, [0, 3], lexicon=DEFAULT_LEXICON, quiet=True)
    want = extract_activations(original, SMALL, [0, 3], lexicon=DEFAULT_LEXICON, quiet=True)
    np.testing.assert_allclose(got.prompt_acts, want.prompt_acts, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got.word_acts, want.word_acts, rtol=0, atol=1e-6)
    assert got.match_rates() == want.match_rates()

    # the provenance (and so every activation artifact) names the GGUF
    recorded = got.model["gguf"]
    assert recorded["file"] == gguf_file.name and recorded["sha256"] == spec.gguf.sha256
    assert recorded["quantization"] == "F32"

    # one plain Hugging Face folder in the store, keyed by the sha256, stored in bfloat16
    (folder,) = _store_folders(emoalign_home)
    assert folder.name.startswith(spec.gguf.sha256)
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "bfloat16"
    assert {"model.safetensors", "tokenizer.json", "emoalign_gguf.json"} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "emoalign_gguf.json").read_text())["sha256"] == spec.gguf.sha256


def test_dequantized_once_then_loaded_without_the_gguf_reader(tiny_ggufs, emoalign_home, monkeypatch):
    _, gguf_file = tiny_ggufs["llama"]
    first = load_model(resolve_model(str(gguf_file)), device="cpu", dtype="float32", quiet=True)

    def refuse(*args, **kwargs):
        raise AssertionError("the GGUF was read again")

    monkeypatch.setattr(gguf_mod, "dequantize_gguf", refuse)
    monkeypatch.setattr(gguf_mod, "read_gguf_metadata", refuse)
    monkeypatch.setattr("emoalign.models.store.sha256_file", refuse)  # the sha256 is cached too
    import gguf
    import transformers.modeling_gguf_pytorch_utils as hf_gguf

    monkeypatch.setattr(gguf, "GGUFReader", refuse)
    monkeypatch.setattr(hf_gguf, "load_gguf_checkpoint", refuse)
    second = load_model(resolve_model(str(gguf_file)), device="cpu", dtype="float32", quiet=True)
    assert len(_store_folders(emoalign_home)) == 1
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert bool((a == b).all())


def test_a_changed_mtime_rehashes_but_keeps_the_store(tiny_ggufs, emoalign_home, monkeypatch):
    _, gguf_file = tiny_ggufs["llama"]
    load_model(resolve_model(str(gguf_file)), device="cpu", quiet=True)
    calls = []
    real = gguf_mod.cached_sha256
    monkeypatch.setattr(gguf_mod, "cached_sha256", lambda path: calls.append(path) or real(path))
    stat = gguf_file.stat()
    os.utime(gguf_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    spec = resolve_model(str(gguf_file))
    assert len(calls) == 1 and gguf_mod.is_dequantized(spec.gguf)  # same bytes: same store entry


def test_activation_cache_key_uses_the_gguf_sha256(tiny_ggufs, monkeypatch):
    _, gguf_file = tiny_ggufs["llama"]
    spec = resolve_model(str(gguf_file))
    monkeypatch.setattr("emoalign.extract.cache.local_fingerprint", lambda path: pytest.fail("mtime fingerprint used"))
    request = ExtractionRequest(spec=spec, dataset=SMALL, layers=(0,), lexicon=DEFAULT_LEXICON)
    key = cache_key(request, "float32")
    assert cache_key(request, "float32") == key
    other = replace(spec.gguf, sha256="0" * 64)
    assert cache_key(replace(request, spec=replace(spec, gguf=other)), "float32") != key


def test_a_folder_with_one_gguf_is_that_gguf_and_two_are_one_line_error(tiny_ggufs, tmp_path):
    _, gguf_file = tiny_ggufs["llama"]
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(gguf_file, folder / "model.gguf")
    spec = resolve_model(str(folder))
    assert spec.hub_id == str((folder / "model.gguf").resolve()) and spec.gguf is not None
    shutil.copy(gguf_file, folder / "other.gguf")
    with pytest.raises(EmoalignError) as info:
        resolve_model(str(folder))
    message = str(info.value)
    assert "\n" not in message and "2 GGUF files" in message
    assert "model.gguf" in message and "other.gguf" in message


def test_unsupported_architecture_is_one_line_naming_it(tiny_ggufs, tmp_path, emoalign_home):
    hf_folder, _ = tiny_ggufs["llama"]
    odd = write_gguf(hf_folder, tmp_path / "odd.gguf", architecture="frobnicator")
    with pytest.raises(EmoalignError) as info:
        resolve_model(str(odd))
    message = str(info.value)
    assert "\n" not in message and "'frobnicator'" in message and "cannot be read by transformers" in message
    assert _store_folders(emoalign_home) == []


def test_a_damaged_gguf_is_one_line(tmp_path):
    damaged = tmp_path / "cut.gguf"
    damaged.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x01" * 20)
    with pytest.raises(EmoalignError, match="cannot read the GGUF header") as info:
        resolve_model(str(damaged))
    assert "\n" not in str(info.value)
    (tmp_path / "text.gguf").write_text("hello")
    with pytest.raises(EmoalignError, match="not a GGUF file"):
        resolve_model(str(tmp_path / "text.gguf"))


def test_an_interrupted_dequantization_leaves_no_folder(tiny_ggufs, emoalign_home, monkeypatch):
    _, gguf_file = tiny_ggufs["llama"]
    real = gguf_mod.dequantize_gguf

    def killed(source, out_dir, **kwargs):
        (out_dir / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(gguf_mod, "dequantize_gguf", killed)
    spec = resolve_model(str(gguf_file))
    with pytest.raises(KeyboardInterrupt):
        load_model(spec, device="cpu", quiet=True)
    assert list((emoalign_home / "models").iterdir()) == []  # neither the folder nor a temporary one
    monkeypatch.setattr(gguf_mod, "dequantize_gguf", real)
    assert load_model(spec, device="cpu", quiet=True).n_layers == 4


def test_metadata_reader_agrees_with_gguf_reader(tiny_ggufs):
    import gguf

    _, gguf_file = tiny_ggufs["qwen2"]
    fast = gguf_mod.read_gguf_metadata(gguf_file)
    reader = gguf.GGUFReader(str(gguf_file))
    scalars = {
        key: field.contents()
        for key, field in reader.fields.items()
        if not key.startswith("GGUF.") and field.types[0] != gguf.GGUFValueType.ARRAY
    }
    assert fast.keys() == scalars.keys()
    for key, value in scalars.items():
        assert fast[key] == pytest.approx(value) if isinstance(value, float) else fast[key] == value
    assert gguf_mod.quantization_name(15) == "Q4_K_M" and gguf_mod.quantization_name(0) == "F32"
