"""`emoalign extract` end to end: cache behaviour and one-line errors that write nothing."""

import json
import re

import pytest

import emoalign.extract.cache as cache_module
from emoalign.cli import main
from emoalign.core.errors import EmoalignError
from emoalign.core.layers import parse_layers
from emoalign.core.results import load
from emoalign.extract.activations import ActivationSet


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_layers():
    assert parse_layers(["0", "1", "2"]) == [0, 1, 2]
    assert parse_layers(["0-3", "7"]) == [0, 1, 2, 3, 7]
    assert parse_layers(["0,2"]) == [0, 2]
    assert parse_layers(["all"]) is None
    with pytest.raises(EmoalignError, match="cannot read 'x'"):
        parse_layers(["x"])


def test_extract_then_cache_hit_without_loading_the_model(tiny_model_path, tmp_path, capsys, monkeypatch):
    model = str(tiny_model_path("gpt2"))
    args = ["extract", "--model", model, "--layers", "0", "2", "--max-samples-per-emotion", "5",
            "--results-dir", str(tmp_path), "--device", "cpu", "--quiet"]
    code, out, err = _run(capsys, *args)
    assert code == 0, err
    assert "written" in out and "gratitude" in out
    [cached] = (tmp_path / "cache").glob("*.safetensors")
    first = ActivationSet.load(cached)
    assert first.layers == (0, 2) and len(first.texts) == 20
    reloaded = load(cached)  # the generic loader recognises the artifact kind
    assert isinstance(reloaded, ActivationSet) and (reloaded.prompt_acts == first.prompt_acts).all()

    def no_loading(*_a, **_k):
        raise AssertionError("the model was loaded on a cache hit")

    monkeypatch.setattr(cache_module, "load_model", no_loading)
    code, out, err = _run(capsys, *args)
    assert code == 0, err
    assert "cache hit" in out


def test_corrupted_cache_is_detected_and_recomputed(tiny_model_path, tmp_path, capsys):
    model = str(tiny_model_path("gpt2"))
    args = ["extract", "--model", model, "--layers", "1", "--max-samples-per-emotion", "3",
            "--results-dir", str(tmp_path), "--device", "cpu", "--quiet"]
    assert _run(capsys, *args)[0] == 0
    [cached] = (tmp_path / "cache").glob("*.safetensors")
    good = ActivationSet.load(cached)
    raw = bytearray(cached.read_bytes())
    raw[-5] ^= 0xFF
    cached.write_bytes(bytes(raw))
    code, out, err = _run(capsys, *args)
    assert code == 0
    assert "integrity check failed" in err and "recomputing" in err
    assert "written" in out
    again = ActivationSet.load(cached)
    assert (again.prompt_acts == good.prompt_acts).all()


def _bad_jsonl(tmp_path, lines):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda m, d: ["--model", "llama3-8b"], "unknown model 'llama3-8b'"),
        (lambda m, d: ["--model", m, "--layers", "0", "9"], "layer 9 is beyond the depth"),
        (lambda m, d: ["--model", m, "--dataset", str(_bad_jsonl(d, ['{"text": "hi", "emotion": "neutral"', ]))],
         "data.jsonl"),
        (lambda m, d: ["--model", m, "--dataset", str(_bad_jsonl(d, ['{"emotion": "neutral"}']))], "text"),
        (lambda m, d: ["--model", m, "--dataset", str(_bad_jsonl(d, ['{"text": "hello there"}']))], "emotion"),
        (lambda m, d: ["--model", m, "--dataset", str(_bad_jsonl(d, [""]))], "data.jsonl"),
        (lambda m, d: ["--model", m, "--dataset",
                       str(_bad_jsonl(d, [json.dumps({"text": "I feel joy", "emotion": "joy"}),
                                          json.dumps({"text": "A plain fact", "emotion": "neutral"})]))],
         "no word patterns for label.* joy"),
        (lambda m, d: ["--model", m, "--dataset", str(d / "missing.jsonl")], "missing.jsonl"),
        (lambda m, d: ["--model", m, "--profile", "huge"], "huge"),
        (lambda m, d: ["--model", m, "--layers", "two"], "--layers"),
    ],
)
def test_bad_input_is_one_line_nonzero_exit_and_writes_nothing(make_args, message, tiny_model_path, tmp_path, capsys):
    results = tmp_path / "results"
    argv = ["extract", *make_args(str(tiny_model_path("gpt2")), tmp_path), "--results-dir", str(results),
            "--device", "cpu", "--quiet"]
    code, out, err = _run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emoalign: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert not results.exists()


def test_extract_does_not_import_the_analysis_stack():
    """`emoalign extract` start-up stays lean: the CLI modules import neither pandas nor scipy.stats
    nor the analysis package (about 1.6 s, benchmarks/extract_speed.py)."""
    import subprocess
    import sys

    code = ("import sys, emoalign.cli.parser, emoalign.cli.commands, emoalign.extract.cache, emoalign.extract.preflight; "
            "print(sorted(m for m in ('pandas', 'scipy.stats', 'emoalign.analysis', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
