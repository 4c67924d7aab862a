"""Hostile model folders, caches, output folders, tracking stores and signals: each ends in one line
``emoalign: error: ...`` naming what is at fault (or, for signals, in no orphan and no traceback),
never in a silently wrong result, a traceback, a hang or a write outside the output folders.

1. weights the checkpoint lacks (a layer's, or a config deeper than its checkpoint), or of another shape;
2. a cache file of another model, position policy or start token copied over a cache entry;
3. two model folders of one name; a 230-character folder name;
4. absurd or non-numeric config numbers, malformed tokenizer files;
5. a full disk while an artifact is written;
6. symbolic links inside the results or report folder;
7. ``--mlflow`` to a closed port or onto a regular file; reading runs back;
8. the parent of ``--workers`` processes killed, terminated or interrupted.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from emoalign.cli import main
from emoalign.core.errors import EmoalignError
from emoalign.data.dataset import load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON

FAST = ["--max-samples-per-emotion", "8", "--permutations", "20", "--bootstrap", "50", "--pairing-permutations", "20",
        "--baseline-seeds", "3", "-k", "3", "--layers", "0", "1", "--device", "cpu", "--quiet"]
SMALL = load_profile("baseline").limit_per_label(4)


def _out(tmp_path: Path) -> list[str]:
    return ["--results-dir", str(tmp_path / "results"), "--report-dir", str(tmp_path / "reports")]


def _one_error_line(err: str) -> str:
    """stderr ends in exactly one ``emoalign: error:`` line, with no traceback anywhere."""
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.startswith("emoalign: error:")]
    assert len(lines) == 1 and err.strip().splitlines()[-1] == lines[0], err
    return lines[0]


def _copy_model(tiny_model_path, tmp_path: Path, family: str, name: str = "m") -> Path:
    folder = tmp_path / name
    shutil.copytree(tiny_model_path(family), folder)
    return folder


def _edit_config(folder: Path, **fields) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(fields)
    (folder / "config.json").write_text(json.dumps(config))


def _drop_weights(folder: Path, needle: str) -> None:
    from safetensors.torch import load_file, save_file

    weights = load_file(folder / "model.safetensors")
    save_file({k: v for k, v in weights.items() if needle not in k}, folder / "model.safetensors", metadata={"format": "pt"})


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


# --- 1. weights the checkpoint lacks ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("family", "damage", "layers", "expect"),
    [
        ("gpt2", lambda f: _drop_weights(f, "h.1."), ["0", "1"], r"no weights for \d+ parameter\(s\) of layer\(s\) 1 \(h\.1\."),
        ("llama", lambda f: _drop_weights(f, "layers.1."), ["0", "1"], r"of layer\(s\) 1 \(layers\.1\."),
        ("bert", lambda f: _drop_weights(f, "layer.1."), ["0", "1"], r"of layer\(s\) 1 \(encoder\.layer\.1\."),
        # config deeper than its checkpoint: every block built ...
        ("gpt2", lambda f: _edit_config(f, n_layer=6), ["all"], r"layer\(s\) 4, 5 .*random initialisation"),
        # ... or only the first two (the checkpoint's depth is read from the weights it was not asked for)
        ("llama", lambda f: _edit_config(f, num_hidden_layers=6), ["0", "1"], r"holds layers 0-3 only.*6 blocks"),
        # config shallower than its checkpoint
        ("gpt2", lambda f: _edit_config(f, n_layer=2), ["0", "1"], r"holds layer\(s\) 2, 3 .*2 blocks"),
    ],
    ids=["gpt2-missing-layer", "llama-missing-layer", "bert-missing-layer", "deeper-config", "deeper-config-truncated",
         "shallower-config"],
)
def test_missing_or_extra_layer_weights_are_one_line_naming_the_layers(
    tiny_model_path, tmp_path, capsys, family, damage, layers, expect
):
    folder = _copy_model(tiny_model_path, tmp_path, family)
    damage(folder)
    argv = ["extract", "--model", str(folder), "--layers", *layers, "--max-samples-per-emotion", "4",
            "--results-dir", str(tmp_path / "results"), "--device", "cpu", "--quiet"]
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "model 'm'" in line and str(folder) in line
    assert re.search(expect, line), line
    assert not list((tmp_path / "results").rglob("*.safetensors"))


def test_a_weight_of_another_shape_names_the_weight(tiny_model_path, tmp_path):
    from safetensors.torch import load_file, save_file

    from emoalign.models.loading import load_model
    from emoalign.models.registry import resolve_model

    folder = _copy_model(tiny_model_path, tmp_path, "llama")
    weights = load_file(folder / "model.safetensors")
    weights["model.layers.0.input_layernorm.weight"] = weights["model.layers.0.input_layernorm.weight"][:-1].clone()
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(EmoalignError, match=r"another shape.*layers\.0\.input_layernorm\.weight \(checkpoint \(63,\)"):
        load_model(resolve_model(str(folder)), device="cpu", quiet=True)


@pytest.mark.parametrize("family", ["gpt2", "gpt_neo", "gpt_neox", "llama", "qwen2", "qwen3", "gemma2", "gemma3_text",
                                    "gemma3", "bert"])
def test_every_tiny_family_still_loads_whole_and_truncated(tiny_model_path, family):
    """A tied LM head, an unused head or pooler, buffers: nothing legitimately absent trips the check."""
    from emoalign.models.loading import load_model
    from emoalign.models.registry import resolve_model

    spec = resolve_model(str(tiny_model_path(family)))
    assert load_model(spec, device="cpu", quiet=True).n_layers == 4
    assert load_model(spec, device="cpu", quiet=True, n_blocks=2).n_layers == 4


def test_a_gguf_without_one_blocks_tensors_is_refused_and_not_stored(tmp_path, monkeypatch):
    gguf = pytest.importorskip("gguf")
    pytest.importorskip("accelerate")
    from tiny_gguf import build_bf16_exact_model, write_gguf

    from emoalign.models.loading import load_model
    from emoalign.models.registry import resolve_model

    monkeypatch.setenv("EMOALIGN_HOME", str(tmp_path / "home"))
    hf = build_bf16_exact_model("llama", tmp_path / "hf")
    original = gguf.GGUFWriter.add_tensor

    def without_block_1(self, name, *args, **kwargs):
        if not name.startswith("blk.1."):
            original(self, name, *args, **kwargs)

    monkeypatch.setattr(gguf.GGUFWriter, "add_tensor", without_block_1)
    (tmp_path / "g").mkdir()
    path = write_gguf(hf, tmp_path / "g" / "broken.gguf")
    monkeypatch.setattr(gguf.GGUFWriter, "add_tensor", original)
    with pytest.raises(EmoalignError, match=r"broken\.gguf.*no weights .* layer\(s\) 1 .*GGUF metadata"):
        load_model(resolve_model(str(path)), device="cpu", quiet=True)
    models = tmp_path / "home" / "models"
    assert not models.exists() or not any(models.iterdir())  # nothing half-made in the store


# --- 2. cache entries of other settings --------------------------------------------------------------
def _request(tiny_model_path, family: str, **options):
    from emoalign.extract.cache import ExtractionRequest
    from emoalign.models.registry import resolve_model

    return ExtractionRequest(spec=resolve_model(str(tiny_model_path(family))), dataset=SMALL, layers=(0, 1),
                             lexicon=DEFAULT_LEXICON, device="cpu", **options)


@pytest.mark.parametrize(
    ("other", "field"),
    [({"family": "qwen2"}, "model"), ({"position_policy": "last"}, "position_policy"), ({"bos": "always"}, "bos")],
    ids=["other-model", "other-position-policy", "other-bos"],
)
def test_a_cache_file_of_other_settings_copied_over_an_entry_is_not_a_hit(tiny_model_path, tmp_path, caplog, other, field):
    from emoalign.extract.cache import get_activations

    cache = tmp_path / "cache"
    request = _request(tiny_model_path, "gpt2")
    other = dict(other)
    foreign = _request(tiny_model_path, other.pop("family", "gpt2"), **other)
    mine, path, _ = get_activations(request, cache, quiet=True)
    _, foreign_path, _ = get_activations(foreign, cache, quiet=True)
    assert foreign_path != path
    shutil.copyfile(foreign_path, path)
    with pytest.raises(EmoalignError, match=rf"{path.name}: a cached activation set of other settings.*{field}"):
        get_activations(request, cache, quiet=True, allow_extract=False)  # `align`: an error naming the file
    again, again_path, hit = get_activations(request, cache, quiet=True)  # `run`: a miss, with a warning
    assert not hit and again_path == path
    assert f"{path.name}: a cached activation set of other settings" in caplog.text
    assert np.array_equal(again.prompt_acts, mine.prompt_acts)
    assert get_activations(request, cache, quiet=True, allow_extract=False)[2]  # recomputed: a hit again


def test_a_random_copy_of_another_seed_copied_over_an_entry_is_not_a_hit(tiny_model_path, tmp_path, caplog):
    from emoalign.extract.baseline import random_copy_activation_files

    cache = tmp_path / "cache"
    request = _request(tiny_model_path, "gpt2")
    [(first, path1, _), (_, path2, _)] = random_copy_activation_files(request, [1, 2], cache, quiet=True)
    shutil.copyfile(path2, path1)
    with pytest.raises(EmoalignError, match=rf"{path1.name}: a cached random copy of other settings.*seed"):
        random_copy_activation_files(request, [1], cache, quiet=True, allow_extract=False)
    [(again, _, hit)] = random_copy_activation_files(request, [1], cache, quiet=True)
    assert not hit and np.array_equal(again.prompt_acts, first.prompt_acts)


def test_align_refuses_a_foreign_cache_file_and_run_recomputes_it(tiny_model_path, tmp_path, capsys):
    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    argv = ["--source", str(source), "--target", str(target), *FAST, *_out(tmp_path)]
    assert main(["run", *argv]) == 0, capsys.readouterr().err
    cache = tmp_path / "results" / "cache"
    [mine] = [p for p in cache.glob(f"{source.name}-*.safetensors") if "-random-" not in p.name]
    [theirs] = [p for p in cache.glob(f"{target.name}-*.safetensors") if "-random-" not in p.name]
    shutil.copyfile(theirs, mine)
    capsys.readouterr()
    assert main(["align", *argv, "--overwrite"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(mine) in line and "other settings" in line
    assert main(["run", *argv, "--overwrite"]) == 0
    assert "recomputing" in capsys.readouterr().err


# --- 3. names: two folders of one name, a very long name --------------------------------------------
def test_two_folders_of_one_name_get_distinct_names(tmp_path):
    from emoalign.models.registry import distinct_names, resolve_model

    for folder in ("a/model", "b/model", "x/same/m", "y/same/m"):
        (tmp_path / folder).mkdir(parents=True)
    a, b = distinct_names(resolve_model(str(tmp_path / "a" / "model")), resolve_model(str(tmp_path / "b" / "model")))
    assert (a.name, b.name) == ("a-model", "b-model")
    x, y = distinct_names(resolve_model(str(tmp_path / "x/same/m")), resolve_model(str(tmp_path / "y/same/m")))
    assert (x.name, y.name) == ("x-same-m", "y-same-m")
    same = distinct_names(resolve_model(str(tmp_path / "a" / "model")), resolve_model(str(tmp_path / "a" / "model") + "/"))
    assert [s.name for s in same] == ["model", "model"]  # one model compared with itself keeps its name
    gpt2, local = distinct_names(resolve_model("gpt2"), resolve_model(str(tmp_path / "a" / "model")))
    assert (gpt2.name, local.name) == ("gpt2", "model")  # names that differ are left alone


def test_a_study_of_two_folders_of_one_name_keeps_both_models_artifacts(tiny_model_path, tmp_path, capsys):
    import inspect

    from emoalign.study import runner

    if "distinct_names" not in inspect.getsource(runner.study_requests):
        pytest.skip("study.runner.study_requests does not call emoalign.models.registry.distinct_names yet")
    a = _copy_model(tiny_model_path, tmp_path / "a", "gpt2", "model")
    b = _copy_model(tiny_model_path, tmp_path / "b", "llama", "model")
    assert main(["run", "--source", str(a), "--target", str(b), *FAST, *_out(tmp_path)]) == 0, capsys.readouterr().err
    vectors = sorted(p.name for p in (tmp_path / "results" / "baseline" / "emotion_vectors").iterdir())
    assert vectors == ["a-model_vectors_token_based.safetensors", "b-model_vectors_token_based.safetensors"]
    assert (tmp_path / "results" / "baseline" / "alignment" / "a-model_vs_b-model_token_based_full.safetensors").is_file()


def test_safe_component_keeps_long_names_within_the_file_name_limit():
    from emoalign.io.paths import MAX_COMPONENT_BYTES, safe_component

    long, other = "m" * 230, "m" * 229 + "n"
    assert len(safe_component(long).encode()) <= MAX_COMPONENT_BYTES
    assert safe_component(long) == safe_component(long)  # stable
    assert safe_component(long) != safe_component(other)  # the hash tells them apart
    assert safe_component(long).startswith("m" * 100)
    japanese = "日本語" * 60
    assert len(safe_component(japanese).encode()) <= MAX_COMPONENT_BYTES and safe_component(japanese).startswith("日本語")
    assert safe_component("gpt2") == "gpt2"  # short names are unchanged


def test_a_230_character_model_folder_name_runs(tiny_model_path, tmp_path, capsys):
    folder = _copy_model(tiny_model_path, tmp_path, "gpt2", "m" * 230)
    assert main(["run", "--source", str(folder), "--target", str(tiny_model_path("llama")), *FAST, *_out(tmp_path)]) == 0, \
        capsys.readouterr().err
    written = _files(tmp_path / "results") | _files(tmp_path / "reports")
    assert any(p.name.startswith("m" * 100) for p in written)
    assert all(len(p.name.encode()) <= 255 for p in written)


# --- 4. config numbers and tokenizer files ----------------------------------------------------------
@pytest.mark.parametrize(
    ("damage", "layers", "expect"),
    [
        (lambda f: _edit_config(f, n_layer=10**9), ["all"], r"config\.json: n_layer is 1,000,000,000; expected a whole number"),
        (lambda f: _edit_config(f, n_embd="abc"), ["0", "1"], r"config\.json: n_embd is 'abc', not a whole number"),
        (lambda f: _edit_config(f, vocab_size=-5), ["0", "1"], r"config\.json: vocab_size is -5"),
        (lambda f: _edit_config(f, n_head=2.5), ["0", "1"], r"config\.json: n_head is 2\.5, not a whole number"),
        (lambda f: (f / "config.json").write_text("[1, 2]"), ["0", "1"], r"config\.json: not a JSON object"),
        (lambda f: (f / "tokenizer.json").write_text("{}"), ["0", "1"], r"tokenizer .*tokenizer\.json\): KeyError"),
        (lambda f: (f / "tokenizer.json").write_text("[]"), ["0", "1"], r"tokenizer .*tokenizer\.json\): TypeError"),
        (lambda f: (f / "tokenizer.json").write_text("null"), ["0", "1"], r"tokenizer .*tokenizer\.json\)"),
        (lambda f: (f / "tokenizer.json").write_text('{"model": {"type": "BPE"'), ["0", "1"], r"tokenizer .*tokenizer\.json\)"),
    ],
    ids=["layers-1e9", "hidden-abc", "vocab-negative", "heads-float", "config-list", "tokenizer-empty",
         "tokenizer-list", "tokenizer-null", "tokenizer-truncated"],
)
def test_bad_config_numbers_and_tokenizer_files_are_one_line(tiny_model_path, tmp_path, capsys, damage, layers, expect):
    folder = _copy_model(tiny_model_path, tmp_path, "gpt2")
    damage(folder)
    started = time.monotonic()
    argv = ["run", "--source", str(folder), "--target", str(tiny_model_path("llama")), *FAST, *_out(tmp_path)]
    argv[argv.index("--layers") + 1 : argv.index("--layers") + 3] = layers
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert re.search(expect, line), line
    assert str(folder) in line and time.monotonic() - started < 60
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.safetensors"))


# --- 5. a full disk ---------------------------------------------------------------------------------
def test_a_full_disk_during_a_safetensors_write_is_one_line_and_leaves_no_partial_file(tmp_path, monkeypatch):
    from emoalign.io import storage

    path = storage.save_arrays(tmp_path / "a.safetensors", {"x": np.ones(3, dtype=np.float32)}, {"kind": "t"})
    before = path.read_bytes()

    def full_disk(arrays, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")  # some bytes made it before the disk filled up
        raise OSError(errno.ENOSPC, "No space left on device", filename)

    monkeypatch.setattr(storage, "save_file", full_disk)
    with pytest.raises(EmoalignError, match=r"a\.safetensors: cannot write \(no space left on the device\)") as info:
        storage.save_arrays(path, {"x": np.zeros(3, dtype=np.float32)}, {"kind": "t"})
    assert ".tmp" not in str(info.value)  # the artifact is named, not the temporary
    with pytest.raises(EmoalignError, match=r"b\.safetensors: cannot write \(no space left on the device\)"):
        storage.save_arrays(tmp_path / "b.safetensors", {"x": np.zeros(3, dtype=np.float32)}, {"kind": "t"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"] and path.read_bytes() == before


def test_a_full_disk_reported_by_safetensors_itself_is_one_line(tmp_path, monkeypatch):
    """safetensors wraps the OS error in its own exception type (``SafetensorError``)."""
    from safetensors import SafetensorError

    from emoalign.io import storage

    def full_disk(arrays, filename, metadata=None):
        Path(filename).write_bytes(b"half")
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(storage, "save_file", full_disk)
    with pytest.raises(EmoalignError, match=r"c\.safetensors: cannot write \(no space left on the device\)"):
        storage.save_arrays(tmp_path / "c.safetensors", {"x": np.zeros(3, dtype=np.float32)}, {"kind": "t"})
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_during_a_study_is_one_line_without_temporaries(tiny_model_path, tmp_path, monkeypatch, capsys):
    from safetensors import SafetensorError

    from emoalign.io import storage

    real = storage.save_file
    calls = []

    def fills_up(arrays, filename, metadata=None):
        calls.append(filename)
        if len(calls) > 3:  # the first cache files are written, then the disk is full (as safetensors says it)
            Path(filename).write_bytes(b"partial")
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        real(arrays, filename, metadata=metadata)

    monkeypatch.setattr(storage, "save_file", fills_up)
    argv = ["run", "--source", str(tiny_model_path("gpt2")), "--target", str(tiny_model_path("llama")), *FAST, *_out(tmp_path)]
    assert main(argv) == 2
    assert "cannot write (no space left on the device)" in _one_error_line(capsys.readouterr().err)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


# --- 6. symbolic links inside the output folders -----------------------------------------------------
@pytest.mark.parametrize("folder", ["baseline/configs", "baseline/statistics", "baseline", "cache"])
def test_a_symlinked_folder_inside_the_results_is_refused_before_anything_is_written(
    tiny_model_path, tmp_path, capsys, folder
):
    outside = tmp_path / "outside"
    outside.mkdir()
    link = tmp_path / "results" / folder
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)
    argv = ["run", "--source", str(tiny_model_path("gpt2")), "--target", str(tiny_model_path("llama")), *FAST, *_out(tmp_path)]
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(link) in line and ("symbolic link" in line or "outside" in line)
    assert list(outside.iterdir()) == []
    assert not list((tmp_path / "results").rglob("*.safetensors"))


def test_a_symlinked_figures_folder_in_the_report_folder_is_refused(tmp_path):
    """Every artifact kind goes through the atomic writer, which refuses a link below an output root."""
    from emoalign.io.layout import StudyLayout
    from emoalign.io.storage import atomic_write, write_text_atomic

    outside, reports = tmp_path / "outside", tmp_path / "reports"
    outside.mkdir()
    reports.mkdir()
    StudyLayout(tmp_path / "results", "baseline", reports)  # both folders are output roots now
    (reports / "pair_report_figures").symlink_to(outside, target_is_directory=True)
    with pytest.raises(EmoalignError, match=r"pair_report_figures: a symbolic link inside the output folder"):
        atomic_write(reports / "pair_report_figures" / "overlap.png", lambda tmp: tmp.write_bytes(b"png"))
    inner = tmp_path / "results" / "baseline"
    inner.mkdir(parents=True)
    (inner / "configs").symlink_to(inner, target_is_directory=True)  # even a link that stays inside
    with pytest.raises(EmoalignError, match=r"configs: a symbolic link"):
        write_text_atomic(inner / "configs" / "pair_run.toml", "x")
    assert list(outside.iterdir()) == [] and not (inner / "pair_run.toml").exists()


def test_a_symlinked_output_root_itself_is_followed(tmp_path):
    """A results folder that is itself a link (another disk) is the user's choice."""
    from emoalign.io.layout import StudyLayout
    from emoalign.io.storage import write_text_atomic

    disk = tmp_path / "disk"
    disk.mkdir()
    (tmp_path / "results").symlink_to(disk, target_is_directory=True)
    layout = StudyLayout(tmp_path / "results", "baseline", tmp_path / "reports")
    write_text_atomic(layout.statistics("a_vs_b"), "x")
    assert (disk / "baseline" / "statistics" / "a_vs_b_alignment_summary.csv").read_text() == "x"


# --- 7. MLflow ----------------------------------------------------------------------------------------
def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_mlflow_to_a_closed_port_is_one_quick_line(tiny_model_path, tmp_path, capsys):
    pytest.importorskip("mlflow")
    uri = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    argv = ["run", "--source", str(tiny_model_path("gpt2")), "--target", str(tiny_model_path("llama")), *FAST,
            *_out(tmp_path), "--mlflow", uri]
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"--mlflow {uri}: cannot reach the tracking server" in line
    assert time.monotonic() - started < 30
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.safetensors"))


@pytest.mark.parametrize("below", [False, True], ids=["the-file", "below-the-file"])
def test_mlflow_onto_a_regular_file_is_one_line(tiny_model_path, tmp_path, capsys, below):
    pytest.importorskip("mlflow")
    store = tmp_path / "store"
    store.write_text("not a folder")
    argv = ["run", "--source", str(tiny_model_path("gpt2")), "--target", str(tiny_model_path("llama")), *FAST,
            *_out(tmp_path), "--mlflow", str(store / "runs" if below else store)]
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(store) in line and "is a file" in line
    assert store.read_text() == "not a folder"


def test_mlflow_http_settings_are_short_and_the_users_are_kept(monkeypatch):
    pytest.importorskip("mlflow")
    from emoalign.io import tracking

    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
    tracking._client("http://127.0.0.1:1")
    assert int(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"]) <= 15
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "5"


def test_search_runs_reads_back_what_a_run_logged(tiny_model_path, tmp_path, capsys, monkeypatch):
    pytest.importorskip("mlflow")
    from emoalign.io.tracking import search_runs

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    store = tmp_path / "mlruns"
    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    argv = ["run", "--source", str(source), "--target", str(target), *FAST, *_out(tmp_path), "--mlflow", str(store)]
    assert main(argv) == 0, capsys.readouterr().err
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # search_runs sets it itself
    runs = search_runs(str(store))
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["status"] == "FINISHED" and row["tags.mlflow.runName"] == f"{source.name}_vs_{target.name}"
    assert row["params.target"] == str(target) and "metrics.pair.n_cells" in runs.columns
    with pytest.raises(EmoalignError, match="no MLflow store here"):
        search_runs(str(tmp_path / "nothing"))


# --- 8. workers die with their parent; Ctrl-C is the parent's --------------------------------------
WORKER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from emoalign.execution.local import map_tasks

    def task(shared, i):
        if i == 0:
            time.sleep(120)  # one worker busy, the other idle, waiting for work
        return i

    if __name__ == "__main__":
        try:
            map_tasks(task, None, 3, workers=2, done=lambda: print("done", flush=True))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
    """
)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _start(argv: list[str], tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    with out.open("wb") as stdout, err.open("wb") as stderr:  # files, not pipes: an orphan holding a pipe hangs no one
        process = subprocess.Popen(argv, stdout=stdout, stderr=stderr, start_new_session=True, env=env)
    return process, out, err


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc (Linux)")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_workers_die_with_their_parent_and_ignore_ctrl_c(tmp_path, how):
    script = tmp_path / "workers.py"
    script.write_text(WORKER_SCRIPT)
    process, out, err = _start([sys.executable, str(script)], tmp_path)
    workers: list[int] = []
    try:
        assert _wait_for(lambda: out.read_text().count("done") == 2, 60), err.read_text()
        workers = _children(process.pid)
        assert len(workers) == 2
        if how == "SIGINT":
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
        else:
            os.kill(process.pid, getattr(signal, how))
        process.wait(timeout=30)
        assert _wait_for(lambda: not any(_alive(pid) for pid in workers), 5), f"orphan workers {workers}"
        if how == "SIGINT":
            assert process.returncode == 130
            assert err.read_text().strip() == "interrupted"  # no worker traceback
    finally:
        for pid in [process.pid, *workers]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc (Linux)")
def test_killing_a_study_with_workers_leaves_no_worker(tiny_model_path, tmp_path):
    argv = [sys.executable, "-m", "emoalign", "run", "--source", str(tiny_model_path("gpt2")), "--target",
            str(tiny_model_path("llama")), *FAST, "--permutations", "5000", "--workers", "2", *_out(tmp_path)]
    process, _, err = _start(argv, tmp_path)
    workers: list[int] = []
    try:
        assert _wait_for(lambda: len(_children(process.pid)) >= 2 or process.poll() is not None, 120), err.read_text()
        workers = _children(process.pid)
        assert process.poll() is None and workers, err.read_text()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        assert _wait_for(lambda: not any(_alive(pid) for pid in workers), 5), f"orphan workers {workers}"
    finally:
        for pid in [process.pid, *workers]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
