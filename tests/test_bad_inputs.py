"""Bad inputs, as a table: what the user typed or gave -> the one line emoalign answers -> exit code.

Read it as documentation of the error surface. Every case runs the real CLI in-process and checks:
- the exit code (2: bad input or environment; argparse usage errors are 2 as well);
- stderr ends in exactly one ``emoalign ...: error: ...`` line matching the expected fragment;
- no traceback anywhere;
- nothing was written under the results or report folder (errors come before the first artifact).

Placeholders in the arguments: ``{gpt2}`` / ``{llama}`` are tiny random-weight model folders,
``{tmp}`` the case's own folder; every study command also gets ``OUT`` (results and report folders
inside ``{tmp}``, ``--quiet``, ``--device cpu``). A case's ``setup`` writes the files it refers to.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from emoalign.cli import main
from emoalign.data.dataset import load_profile

OUT = ("--results-dir", "{tmp}/results", "--report-dir", "{tmp}/reports", "--quiet", "--device", "cpu")
PAIR = ("--source", "{gpt2}", "--target", "{llama}")
SMALL = ("--layers", "0", "1", "--max-samples-per-emotion", "20", "--permutations", "20", "--bootstrap", "100",
         "--pairing-permutations", "20", "--baseline-seeds", "3")


@dataclass(frozen=True)
class Case:
    """One bad input: ``argv`` (placeholders filled per case) -> ``expect`` (regex) on stderr, ``code``."""

    name: str
    argv: tuple[str, ...]
    expect: str
    code: int = 2
    setup: Callable[[Path, dict[str, Path]], None] | None = None
    writes: bool = False  # True: the case may write (it checks an overwrite or a warning)
    tags: tuple[str, ...] = field(default_factory=tuple)


# --- setup helpers: each writes what one case needs under the case folder -------------------------
def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _profile_records(n: int = 20) -> list[dict]:
    data = load_profile("baseline").limit_per_label(n)
    return [{"text": p.text, "label": p.label} for p in data.prompts]


def write(name: str, text: str) -> Callable[[Path, dict[str, Path]], None]:
    def setup(tmp: Path, models: dict[str, Path]) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text, encoding="utf-8")
    return setup


def dataset_with(change: Callable[[list[dict]], list[dict]], name: str = "d.jsonl"):
    def setup(tmp: Path, models: dict[str, Path]) -> None:
        (tmp / name).write_text(_jsonl(change(_profile_records())), encoding="utf-8")
    return setup


def damaged_model(damage: Callable[[Path], None], family: str = "gpt2"):
    """Copy a tiny model folder to ``{tmp}/m`` and damage the copy."""
    def setup(tmp: Path, models: dict[str, Path]) -> None:
        shutil.copytree(models[family], tmp / "m")
        damage(tmp / "m")
    return setup


def _truncate_weights(folder: Path) -> None:
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _pickle_weights_only(folder: Path) -> None:
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")


def _config_field(key: str, value) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        config[key] = value
        (folder / "config.json").write_text(json.dumps(config))
    return damage


def _alignment_artifact(tmp: Path, models: dict[str, Path], *extra: str) -> Path:
    """A real alignment artifact of the tiny pair (written outside results/ so the case's own
    results folder stays empty)."""
    argv = ["run", *_fill(PAIR, tmp, models), *SMALL, "--baseline-seeds", "0", *extra,
            "--results-dir", str(tmp / "made"), "--report-dir", str(tmp / "made_reports"), "--quiet", "--device", "cpu"]
    assert main(argv) == 0
    [path] = (tmp / "made").rglob("alignment/*.safetensors")
    return path


def alignment_then(change: Callable[[Path], None] | None = None, *extra: str):
    def setup(tmp: Path, models: dict[str, Path]) -> None:
        path = _alignment_artifact(tmp, models, *extra)
        shutil.copy(path, tmp / "a.safetensors")
        if change is not None:
            change(tmp / "a.safetensors")
    return setup


def _replace_bytes(old: bytes, new: bytes) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        raw = path.read_bytes()
        assert old in raw, old
        path.write_bytes(raw.replace(old, new, 1))
    return change


def _with_header_field(key: str, value: str) -> Callable[[Path], None]:
    """Rewrite one field of the safetensors header's metadata (a file another version might write)."""
    def change(path: Path) -> None:
        raw = path.read_bytes()
        size = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + size])
        header["__metadata__"][key] = value
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        text += b" " * (-len(text) % 8)
        path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + size :])
    return change


def two_alignments_of_other_prompts(tmp: Path, models: dict[str, Path]) -> None:
    shutil.copy(_alignment_artifact(tmp, models), tmp / "p20.safetensors")
    shutil.rmtree(tmp / "made")
    shutil.copy(_alignment_artifact(tmp, models, "--max-samples-per-emotion", "15"), tmp / "p15.safetensors")


def earlier_k8_run(tmp: Path, models: dict[str, Path]) -> None:
    """A finished default-settings (k=8, ridge) run in {tmp}/results, to be re-analysed differently."""
    argv = ["run", *_fill(PAIR, tmp, models), *SMALL, "--baseline-seeds", "0", *_fill(OUT, tmp, models)]
    assert main(argv) == 0


def many_words(n: int, label: str = "neutral"):
    return dataset_with(lambda records: [{"text": " ".join(["word"] * n), "label": label}, *records])


# --- the table ---------------------------------------------------------------------------------------
CASES: list[Case] = [
    # data: the prompt file
    Case("dataset file missing", ("run", *PAIR, "--dataset", "{tmp}/nope.jsonl"), r"nope\.jsonl.*(not exist|no such)"),
    Case("dataset malformed JSON line", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"d\.jsonl:2: malformed JSON",
         setup=write("d.jsonl", '{"text": "I am so grateful", "label": "gratitude"}\n{"text": oops}\n')),
    Case("dataset record not an object", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"d\.jsonl:1: record must be a JSON object",
         setup=write("d.jsonl", '["text", "label"]\n')),
    Case("dataset text not a string", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"d\.jsonl:1: field 'text' must be a string",
         setup=write("d.jsonl", '{"text": 5, "label": "anger"}\n')),
    Case("dataset text missing", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"d\.jsonl:1: missing field 'text'",
         setup=write("d.jsonl", '{"label": "anger"}\n')),
    Case("dataset text empty", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"d\.jsonl:1: field 'text' is empty",
         setup=write("d.jsonl", '{"text": "  ", "label": "anger"}\n')),
    Case("dataset label missing", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"d\.jsonl:1: missing label field",
         setup=write("d.jsonl", '{"text": "I am angry"}\n')),
    Case("dataset label fields disagree", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"d\.jsonl:1: fields 'emotion' .* disagree",
         setup=write("d.jsonl", '{"text": "I am angry", "emotion": "anger", "label": "joy"}\n')),
    Case("dataset empty file", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"empty",
         setup=write("d.jsonl", "\n")),
    Case("dataset without reference label", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"reference label 'neutral' not found",
         setup=dataset_with(lambda rs: [r for r in rs if r["label"] != "neutral"])),
    Case("dataset with only the reference label", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"),
         r"needs at least one emotion label", setup=dataset_with(lambda rs: [r for r in rs if r["label"] == "neutral"])),
    Case("one emotion label under default statistics", ("run", *PAIR, *SMALL, "--dataset", "{tmp}/d.jsonl"),
         r"d\.jsonl|one emotion label.*(at least two|--permutations 0)",
         setup=dataset_with(lambda rs: [r for r in rs if r["label"] in ("neutral", "anger")])),
    Case("duplicated prompts", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"duplicate",
         setup=dataset_with(lambda rs: rs + rs[:3])),
    Case("duplicate differing only in spacing and case", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"duplicate",
         setup=dataset_with(lambda rs: rs + [{"text": "  " + rs[0]["text"].upper() + " ", "label": rs[0]["label"]}])),
    Case("prompt of 5000 words", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"characters|tokens",
         setup=many_words(5000)),
    Case("one 50 MB prompt is refused before any model loads", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"),
         r"d\.jsonl.*characters", setup=many_words(10_000_000)),
    Case("prompt longer than the model's positions", ("run", *PAIR, *SMALL, "--dataset", "{tmp}/d.jsonl"),
         r"tokens.*position", setup=many_words(300)),
    Case("dataset folder with a stray file name", ("run", *PAIR, "--dataset", "{tmp}/folder"), r"label",
         setup=write("folder/_prompts.json", '{"prompts": ["x"]}')),
    Case("dataset is a binary file", ("run", *PAIR, "--dataset", "{tmp}/d.jsonl"), r"d\.jsonl",
         setup=write("d.jsonl", "\udcff".encode("utf-8", "surrogateescape").decode("latin-1") * 3)),
    Case("unknown profile", ("run", *PAIR, "--profile", "nope"), r"unknown prompt profile 'nope'"),
    Case("reference label absent from dataset", ("run", *PAIR, "--reference-label", "calm"),
         r"reference label 'calm' not found"),
    Case("--max-samples-per-emotion 0", ("run", *PAIR, "--max-samples-per-emotion", "0"), r"--max-samples-per-emotion 0: must be at least 1"),
    Case("--max-samples-per-emotion negative", ("run", *PAIR, "--max-samples-per-emotion", "-3"), r"must be at least 1"),
    # data: the lexicon
    Case("lexicon file missing", ("run", *PAIR, "--lexicon", "{tmp}/lex.json"), r"lex\.json: lexicon file does not exist"),
    Case("lexicon malformed JSON", ("run", *PAIR, "--lexicon", "{tmp}/lex.json"), r"lex\.json:1: malformed JSON",
         setup=write("lex.json", "{")),
    Case("lexicon pattern not a regex", ("run", *PAIR, "--lexicon", "{tmp}/lex.json"), r"not a valid regular expression",
         setup=write("lex.json", json.dumps({"gratitude": ["(thank"], "anger": ["angry"], "apology": ["sorry"]}))),
    Case("lexicon label maps to a string", ("run", *PAIR, "--lexicon", "{tmp}/lex.json"), r"must map to a non-empty list",
         setup=write("lex.json", json.dumps({"gratitude": "thanks"}))),
    Case("lexicon lacks a dataset label", ("run", *PAIR, "--lexicon", "{tmp}/lex.json"), r"no word patterns for label",
         setup=write("lex.json", json.dumps({"gratitude": ["thank"]}))),
    # models
    Case("model folder missing", ("extract", "--model", "{tmp}/no/such/folder"), r"folder"),
    Case("unknown preset name", ("extract", "--model", "gpt7"), r"unknown model 'gpt7'"),
    Case("model folder without config", ("extract", "--model", "{tmp}/m"), r"m.*config",
         setup=damaged_model(lambda f: (f / "config.json").unlink())),
    Case("model config not JSON", ("extract", "--model", "{tmp}/m"), r"config\.json",
         setup=damaged_model(lambda f: (f / "config.json").write_text("{nope"))),
    Case("truncated weight file", ("extract", "--model", "{tmp}/m", "--layers", "0"), r"model\.safetensors|weights",
         setup=damaged_model(_truncate_weights)),
    Case("pickle weights refused by default", ("extract", "--model", "{tmp}/m", "--layers", "0"),
         r"pytorch_model\.bin.*pickle.*--allow-pickle-weights", setup=damaged_model(_pickle_weights_only)),
    Case("config vocabulary smaller than the tokenizer", ("extract", "--model", "{tmp}/m", "--layers", "0"),
         r"vocab", setup=damaged_model(_config_field("vocab_size", 40))),
    Case("missing target weights found before the source runs", ("run", "--source", "{gpt2}", "--target", "{tmp}/m", *SMALL),
         r"m.*weights", setup=damaged_model(lambda f: (f / "model.safetensors").unlink(), family="llama")),
    Case("hub id while offline", ("run", "--source", "{gpt2}", "--target", "someorg/somemodel"),
         r"someorg/somemodel.*(offline|hub)"),
    Case("hub id offline message suggests no flag of another command", ("run", "--source", "{gpt2}", "--target",
         "someorg/somemodel"), r"^(?!.*--model).*local model folder"),
    Case("--device cpu:abc", ("extract", "--model", "{gpt2}", "--device", "cpu:abc"), r"--device cpu:abc"),
    Case("--device tpu", ("extract", "--model", "{gpt2}", "--device", "tpu"), r"--device tpu"),
    Case("--device cuda without a GPU", ("extract", "--model", "{gpt2}", "--device", "cuda"), r"--device cuda.*(no|not)"),
    Case("--dtype float8", ("extract", "--model", "{gpt2}", "--dtype", "float8"), r"--dtype float8"),
    Case("--batch-size 0", ("extract", "--model", "{gpt2}", "--batch-size", "0"), r"--batch-size 0"),
    Case("--layers 99 names the model at fault", ("run", *PAIR, "--layers", "99"), r"layer 99.*(tiny|gpt2|source)"),
    Case("--layers 99 of extract", ("extract", "--model", "{gpt2}", "--layers", "99"), r"layer 99"),
    Case("--layers abc", ("run", *PAIR, "--layers", "abc"), r"--layers: cannot read 'abc'"),
    Case("--layers 5-2", ("run", *PAIR, "--layers", "5-2"), r"--layers: cannot read '5-2'"),
    Case("--target-layers count differs from --layers", ("run", *PAIR, "--layers", "0", "1", "--target-layers", "0"),
         r"--target-layers"),
    Case("--layer-match depth message does not suggest the flag given", ("run", *PAIR, "--layers", "99", "--layer-match", "depth"),
         r"^(?!.*--layer-match depth).*layer 99"),
    # analysis settings
    Case("-k 0", ("run", *PAIR, "-k", "0"), r"--n-components 0: must be at least 1"),
    Case("-k 25 on 20 prompts per label", ("run", *PAIR, "-k", "25", "--max-samples-per-emotion", "20"),
         r"--n-components 25 exceeds the 20 prompts.*raise --max-samples-per-emotion"),
    Case("-k 25 on a 20-prompt dataset does not suggest more samples", ("run", *PAIR, "-k", "25", "--dataset", "{tmp}/d.jsonl"),
         r"^(?!.*--max-samples-per-emotion).*--n-components 25", setup=dataset_with(lambda rs: rs)),
    Case("--alpha 2", ("run", *PAIR, "--alpha", "2"), r"--alpha 2.0: must be between 0 and 1"),
    Case("--alpha -1", ("run", *PAIR, "--alpha", "-1"), r"--alpha -1.0: must be between 0 and 1"),
    Case("--alpha 0", ("run", *PAIR, "--alpha", "0"), r"--alpha 0.0: must be between 0 and 1"),
    Case("--permutations -1", ("run", *PAIR, "--permutations", "-1"), r"--permutations -1: must be 0"),
    Case("--permutations too few to reach alpha", ("run", *PAIR, "--permutations", "5"), r"cannot go below --alpha"),
    Case("--bootstrap 1", ("run", *PAIR, "--bootstrap", "1"), r"--bootstrap 1"),
    Case("--baseline-seeds 2", ("run", *PAIR, "--baseline-seeds", "2"), r"--baseline-seeds 2: use 0 .off. or at least 3"),
    Case("--baseline-seeds -1", ("run", *PAIR, "--baseline-seeds", "-1"), r"--baseline-seeds -1"),
    Case("--map unknown", ("run", *PAIR, "--map", "svd"), r"argument --map: invalid choice: 'svd'"),
    Case("--workers -1", ("run", *PAIR, "--workers", "-1"), r"--workers -1"),
    Case("align with nothing cached", ("align", *PAIR, *SMALL), r"no cached activations"),
    # output folders
    Case("results folder is a file", ("run", *PAIR, *SMALL), r"results.*(file is in the way|not a folder)",
         setup=write("results", "a file")),
    Case("report folder is a file", ("run", *PAIR, *SMALL), r"reports.*(file is in the way|not a folder)",
         setup=write("reports", "a file")),
    Case("cache folder is a file", ("run", *PAIR, *SMALL, "--cache-dir", "{tmp}/cache"), r"cache.*(file is in the way|not a folder)",
         setup=write("cache", "a file")),
    Case("re-analysis with other settings does not overwrite", ("align", *PAIR, *SMALL, "--baseline-seeds", "0", "-k", "4",
         "--map", "procrustes"), r"alignment.*holds.*(n_components|map).*--overwrite", setup=earlier_k8_run, writes=True),
    # artifacts
    Case("summarize a missing file", ("summarize", "--alignment-path", "{tmp}/none.safetensors"), r"none\.safetensors: no such artifact file"),
    Case("summarize a text file", ("summarize", "--alignment-path", "{tmp}/a.safetensors"), r"a\.safetensors: not a readable emoalign artifact",
         setup=write("a.safetensors", "hello")),
    Case("summarize metadata edited (0.x -> 9.x)", ("summarize", "--alignment-path", "{tmp}/a.safetensors"),
         r"a\.safetensors: integrity check failed", setup=alignment_then(_replace_bytes(b'"n_components\\": 8', b'"n_components\\": 9'))),
    Case("summarize a truncated artifact", ("summarize", "--alignment-path", "{tmp}/a.safetensors"), r"a\.safetensors: not a readable",
         setup=alignment_then(lambda p: p.write_bytes(p.read_bytes()[:-100]))),
    Case("summarize an artifact of format version 99", ("summarize", "--alignment-path", "{tmp}/a.safetensors"),
         r"a\.safetensors: written by another emoalign artifact format \(version 99",
         setup=alignment_then(_with_header_field("emoalign_format", "99"))),
    # other settings (k, map) are compared side by side since the re-analysis work; other prompts are not
    Case("compare analyses of other prompts", ("compare", "{tmp}/p20.safetensors", "{tmp}/p15.safetensors",
         "--write-report", "{tmp}/reports/c.md"), r"p15\.safetensors: other prompts than .*p20\.safetensors",
         setup=two_alignments_of_other_prompts),
    Case("compare a folder without alignments", ("compare", "{tmp}"), r"no alignment artifacts"),
    Case("sweep with a repeated target", ("sweep", "--source", "{gpt2}", "--targets", "{llama}", "{llama}"), r"--targets: .* given more than once"),
    Case("sweep report given as HTML", ("sweep", "--source", "{gpt2}", "--targets", "{llama}", "--write-report", "{tmp}/r.html"),
         r"--write-report takes the Markdown path"),
    Case("demo with one baseline seed", ("demo", "--baseline-seeds", "1", "--results-dir", "{tmp}/results",
         "--report-dir", "{tmp}/reports", "--quiet"), r"--baseline-seeds 1"),
]

STUDY_COMMANDS = ("run", "align", "extract", "sweep")


def _fill(argv, tmp: Path, models: dict[str, Path]) -> list[str]:
    values = {"tmp": str(tmp), **{name: str(path) for name, path in models.items()}}
    return [arg.format(**values) for arg in argv]


@pytest.fixture(scope="module")
def models(tiny_model_path) -> dict[str, Path]:
    return {"gpt2": tiny_model_path("gpt2"), "llama": tiny_model_path("llama")}


def test_the_table_is_large_enough():
    assert len(CASES) >= 60
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, models, tmp_path, capsys):
    if case.setup is not None:
        case.setup(tmp_path, models)
    capsys.readouterr()
    argv = _fill(case.argv, tmp_path, models)
    if argv[0] in STUDY_COMMANDS:  # the common options first: a case's own options win
        argv[1:1] = _fill(OUT if argv[0] != "extract" else OUT[:2] + OUT[4:], tmp_path, models)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == case.code, f"exit {code}, stderr: {err[-2000:]}"
    lines = [line for line in err.splitlines() if line.strip()]
    error_lines = [line for line in lines if re.match(r"emoalign( \w+)?: error: ", line)]
    assert len(error_lines) == 1 and lines[-1] == error_lines[0], err
    message = re.sub(r"^emoalign( \w+)?: error: ", "", error_lines[0])
    assert re.search(case.expect, message), f"{message!r} does not match {case.expect!r}"
    if not case.writes:
        for folder in ("results", "reports"):
            written = [p for p in (tmp_path / folder).rglob("*") if p.is_file()] if (tmp_path / folder).is_dir() else []
            assert written == [], f"written despite the error: {written}"


def test_no_emotion_word_found_warns(models, tmp_path, capsys):
    """A label whose words match in no prompt is reported before the model runs (a warning: the
    last-token fallback is a documented policy, not an error)."""
    lexicon = tmp_path / "lex.json"
    lexicon.write_text(json.dumps({"gratitude": ["zzzz"], "anger": ["angry"], "apology": ["sorry"]}))
    argv = ["extract", "--model", str(models["gpt2"]), "--layers", "0", "--max-samples-per-emotion", "5",
            "--lexicon", str(lexicon), "--results-dir", str(tmp_path / "results"), "--quiet"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert re.search(r"warning: no word of 'gratitude' .*found in any of its 5 prompts", err), err
