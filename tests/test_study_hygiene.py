"""A study's own housekeeping: a temporary cache that never outlives the call, and one cache key per
model folder however its path is typed."""

from __future__ import annotations

import tempfile

import pytest

from emoalign.core.errors import EmoalignError
from emoalign.data.dataset import load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.extract.cache import ExtractionRequest, cache_key
from emoalign.models.registry import resolve_model
from emoalign.study.api import run


def test_run_without_writing_leaves_no_temporary_cache_when_it_fails(tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(EmoalignError) as failure:  # the target does not exist: fails after the scratch cache
        run(str(tiny_model_path("gpt2")), str(tmp_path / "no-such-model"), layers=[0], n_components=2,
            max_samples_per_emotion=8, device="cpu", write=False, quiet=True)
    assert "no-such-model" in str(failure.value)
    assert not list(tmp_path.glob("emoalign-cache-*"))


def test_a_model_folder_typed_relative_or_absolute_has_one_cache_key(tiny_model_path, monkeypatch):
    folder = tiny_model_path("gpt2")
    monkeypatch.chdir(folder.parent)
    dataset = load_profile("baseline").limit_per_label(4)

    def request(path: str) -> ExtractionRequest:
        return ExtractionRequest(spec=resolve_model(path), dataset=dataset, layers=(0,), lexicon=DEFAULT_LEXICON)

    assert cache_key(request(folder.name), "float32") == cache_key(request(str(folder)), "float32")
    assert cache_key(request(f"./{folder.name}/"), "float32") == cache_key(request(str(folder)), "float32")


def test_a_hub_model_is_keyed_by_the_commit_its_revision_points_to(tmp_path, monkeypatch):
    """A branch that moves (``main`` after a new push) is a new key; a model not cached yet is keyed
    by the revision's name. Read from a Hugging Face cache laid out as the hub client lays it out."""
    import huggingface_hub.constants

    from emoalign.models.loading import hub_commit

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--org--tiny"

    def push(commit: str) -> None:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
        (repo / "snapshots" / commit).mkdir(parents=True)
        (repo / "snapshots" / commit / "config.json").write_text("{}")

    dataset = load_profile("baseline").limit_per_label(4)
    request = ExtractionRequest(spec=resolve_model("org/tiny"), dataset=dataset, layers=(0,), lexicon=DEFAULT_LEXICON)
    push("a" * 40)
    assert hub_commit("org/tiny", None) == hub_commit("org/tiny", "main") == "a" * 40
    before = cache_key(request, "float32")
    push("b" * 40)
    assert hub_commit("org/tiny", None) == "b" * 40
    assert cache_key(request, "float32") != before
    assert hub_commit("org/absent", "v1.0") == "v1.0" and hub_commit("org/absent", None) == "main"


def test_a_rerun_at_other_positions_does_not_silently_replace_the_study(tiny_model_path, tmp_path):
    """`--bos never` and the default read other tokens: the second study is refused (naming the start
    token) before anything is written, and written with overwrite."""
    common = dict(layers=[0], n_components=2, max_samples_per_emotion=6, n_permutations=0, device="cpu",
                  results_dir=tmp_path / "results", report_dir=tmp_path / "report", quiet=True)
    source, target = str(tiny_model_path("gpt2")), str(tiny_model_path("llama"))
    run(source, target, bos="never", **common)
    alignment = next((tmp_path / "results").glob("*/alignment/*.safetensors"))
    before = alignment.read_bytes()
    refused = r"source start_token 'none' -> 'prepended <\|endoftext\|> .*\); pass --overwrite"
    with pytest.raises(EmoalignError, match=refused):
        run(source, target, **common)
    assert alignment.read_bytes() == before
    result = run(source, target, overwrite=True, **common)
    assert result.extraction["source"]["start_token"].startswith("prepended")
    assert alignment.read_bytes() != before
