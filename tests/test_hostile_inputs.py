"""Hostile inputs ("nothing wrong passes silently"): pipes and devices where a file belongs, huge
files, catastrophic regular expressions, lone surrogates, absurd nesting, absurd layer ranges and
settings, wrong types in the Python API, binary config files, markup and terminal escapes in names,
artifacts with missing columns. Each ends in one ``emoalign: error: ...`` line (or an EmoalignError /
TypeError naming the argument), never a traceback, a hang or a silently wrong result.

Study commands get models that do not exist: every check here must answer before any model loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from emoalign.cli import main
from emoalign.core.errors import EmoalignError

HANG = 60  # seconds: a call still running after this hangs


def cli(argv: list[str], capsys, *, unblock: tuple[Path, ...] = ()) -> tuple[int, str, list[str]]:
    """``main(argv)`` in a thread: (exit code, stdout, stderr lines). A call still running after HANG
    seconds fails the test (the named pipes in ``unblock`` are opened for writing so it can end)."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["rc"] = main([str(a) for a in argv])
        except BaseException as exc:  # noqa: BLE001 - a traceback is the failure reported below
            outcome["exc"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG)
    if thread.is_alive():
        for fifo in unblock:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(10)
        pytest.fail(f"emoalign {' '.join(map(str, argv))} hung for {HANG} s")
    captured = capsys.readouterr()
    if "exc" in outcome:
        raise AssertionError(f"traceback instead of one error line: {outcome['exc']!r}") from outcome["exc"]
    return outcome["rc"], captured.out, captured.err.strip().splitlines()


def one_error(argv: list[str], capsys, *fragments: str, unblock: tuple[Path, ...] = ()) -> str:
    """Run the CLI; assert exit code 2 and a last stderr line ``emoalign: error: ...`` holding every
    fragment (no traceback); return that line."""
    rc, _, err = cli(argv, capsys, unblock=unblock)
    assert rc == 2, (rc, err)
    assert err and err[-1].startswith("emoalign: error: "), err
    assert not any("Traceback" in line for line in err), err
    for fragment in fragments:
        assert fragment in err[-1], (fragment, err[-1])
    return err[-1]


def study(tmp_path: Path, *extra: object) -> list[str]:
    """``emoalign run`` with models that do not exist (the checks under test come first)."""
    return ["run", "--source", tmp_path / "no-such-source", "--target", tmp_path / "no-such-target",
            "--results-dir", tmp_path / "results", "--report-dir", tmp_path / "reports", "-k", "2", "--quiet",
            *extra]


PROMPTS = {
    "anger": ["I am furious about the delay.", "This makes me so angry.", "I am annoyed by the noise.",
              "Their rudeness left me livid."],
    "joy": ["I am so happy today.", "What a joyful morning.", "We were glad to see them.",
            "The news made me happy."],
    "neutral": ["The train leaves at noon.", "The table is made of oak.", "Rain is expected later.",
                "The report has four pages."],
}
LEXICON = {"anger": ["furious", "angr\\w*", "annoy\\w*", "livid"], "joy": ["happ\\w*", "joyful", "glad"]}


def write_jsonl(path: Path, records: list[dict] | None = None, raw: list[str] = ()) -> Path:
    records = records if records is not None else [
        {"text": text, "emotion": label} for label, texts in PROMPTS.items() for text in texts
    ]
    path.write_text("\n".join([*raw, *(json.dumps(r) for r in records)]) + "\n", encoding="utf-8")
    return path


def write_lexicon(path: Path, lexicon: dict | None = None) -> Path:
    path.write_text(json.dumps(lexicon if lexicon is not None else LEXICON), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------
# 1. pipes, folders and devices where a file belongs; sizes bounded


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_as_dataset_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "prompts.jsonl"
    os.mkfifo(fifo)
    line = one_error(study(tmp_path, "--dataset", fifo), capsys, str(fifo), "named pipe", unblock=(fifo,))
    assert "regular file" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_as_lexicon_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "lexicon.json"
    os.mkfifo(fifo)
    dataset = write_jsonl(tmp_path / "d.jsonl")
    one_error(study(tmp_path, "--dataset", dataset, "--lexicon", fifo), capsys, str(fifo), "named pipe",
              unblock=(fifo,))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_inside_a_dataset_folder_is_refused(tmp_path):
    from emoalign.data.dataset import load_dataset

    folder = tmp_path / "prompts"
    folder.mkdir()
    for label, texts in PROMPTS.items():
        (folder / f"{label}_prompts.json").write_text(json.dumps({"prompts": texts}), encoding="utf-8")
    (folder / "joy_prompts.json").unlink()
    os.mkfifo(folder / "joy_prompts.json")
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("exc", _raises(load_dataset, folder)), daemon=True)
    thread.start()
    thread.join(HANG)
    if thread.is_alive():
        os.close(os.open(folder / "joy_prompts.json", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a named pipe in a dataset folder hung")
    assert isinstance(outcome["exc"], EmoalignError), outcome
    assert "joy_prompts.json" in str(outcome["exc"]) and "named pipe" in str(outcome["exc"])


def _raises(fn, *args):
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001
        return exc
    return None


def test_a_folder_as_lexicon_is_refused(tmp_path, capsys):
    dataset = write_jsonl(tmp_path / "d.jsonl")
    (tmp_path / "lex").mkdir()
    one_error(study(tmp_path, "--dataset", dataset, "--lexicon", tmp_path / "lex"), capsys, "lex", "folder",
              "regular file")


def test_a_device_as_dataset_is_refused(tmp_path, capsys):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    one_error(study(tmp_path, "--dataset", "/dev/zero"), capsys, "/dev/zero", "device")


def test_a_huge_dataset_is_refused_before_it_is_read(tmp_path, capsys):
    from emoalign.data.dataset import MAX_DATASET_BYTES

    big = write_jsonl(tmp_path / "big.jsonl")
    with big.open("r+b") as handle:  # sparse: costs no disk
        handle.truncate(MAX_DATASET_BYTES + 1)
    one_error(study(tmp_path, "--dataset", big), capsys, "big.jsonl", "64 MiB")


def test_a_huge_lexicon_is_refused(tmp_path, capsys):
    from emoalign.data.lexicon import MAX_LEXICON_BYTES

    dataset = write_jsonl(tmp_path / "d.jsonl")
    lexicon = tmp_path / "lex.json"
    lexicon.write_text(json.dumps({**LEXICON, "padding": ["x" * MAX_LEXICON_BYTES]}), encoding="utf-8")
    one_error(study(tmp_path, "--dataset", dataset, "--lexicon", lexicon), capsys, "lex.json", "1 MiB")


# ----------------------------------------------------------------------------------------------
# 2. catastrophic user regexes run with a time limit


def test_a_catastrophic_lexicon_pattern_times_out_with_one_line(tmp_path):
    """(a|aa)+$ against a long run of a's backtracks for ever (in ``re`` and in ``regex``): the study
    stops with one line naming the lexicon file, the label and the pattern. Run in a child process,
    so that a hang fails the test instead of blocking the suite."""
    records = [{"text": t, "emotion": label} for label, texts in PROMPTS.items() for t in texts]
    records.insert(0, {"text": "a" * 80 + "!", "emotion": "anger"})
    dataset = write_jsonl(tmp_path / "d.jsonl", records)
    lexicon = write_lexicon(tmp_path / "evil.json", {**LEXICON, "anger": ["(a|aa)+$", "furious"]})
    argv = [str(a) for a in study(tmp_path, "--dataset", dataset, "--lexicon", lexicon)]
    code = f"import sys; from emoalign.cli import main; sys.exit(main({argv!r}))"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a catastrophic lexicon pattern hung for {HANG} s")
    err = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert err[-1].startswith("emoalign: error: ")
    for fragment in ("evil.json", "'anger'", "(a|aa)+$", "time"):
        assert fragment in err[-1], (fragment, err[-1])


def test_user_patterns_still_match_as_before(tmp_path):
    from emoalign.data.lexicon import find_emotion_word_spans, load_lexicon

    lexicon = load_lexicon(write_lexicon(tmp_path / "lex.json", {"joy": ["happ\\w*", "glad"], "x": ["fed\\s+up"]}))
    assert find_emotion_word_spans("So Happy and glad, unhappy.", lexicon["joy"]) == [(3, 8), (13, 17)]
    assert find_emotion_word_spans("I am fed  up.", lexicon["x"]) == [(5, 12)]


# ----------------------------------------------------------------------------------------------
# 3. lone surrogates


@pytest.mark.parametrize("field", ["text", "emotion"])
def test_a_lone_surrogate_in_a_dataset_is_one_line_naming_file_line_and_field(tmp_path, capsys, field):
    records = [{"text": t, "emotion": label} for label, texts in PROMPTS.items() for t in texts]
    dataset = tmp_path / "d.jsonl"
    lines = [json.dumps(r) for r in records]
    lines[2] = lines[2].replace("annoyed" if field == "text" else '"anger"', "ann\\udc80yed" if field == "text"
                                else '"ang\\udc80er"')
    dataset.write_text("\n".join(lines) + "\n", encoding="utf-8")
    lexicon = write_lexicon(tmp_path / "lex.json")
    one_error(study(tmp_path, "--dataset", dataset, "--lexicon", lexicon), capsys, "d.jsonl:3", f"'{field}'",
              "surrogate")


def test_a_lone_surrogate_in_a_dataset_folder_is_refused(tmp_path):
    from emoalign.data.dataset import load_dataset

    folder = tmp_path / "prompts"
    folder.mkdir()
    for label, texts in PROMPTS.items():
        (folder / f"{label}_prompts.json").write_text(json.dumps({"prompts": texts}), encoding="utf-8")
    (folder / "joy_prompts.json").write_text('{"prompts": ["ok fine", "bad \\ud800 text"]}', encoding="utf-8")
    with pytest.raises(EmoalignError, match=r"joy_prompts\.json: field 'prompts\[1\]'.*surrogate"):
        load_dataset(folder)


@pytest.mark.skipif(sys.platform != "linux", reason="file names of arbitrary bytes")
def test_a_dataset_file_name_that_is_not_utf8_is_refused(tmp_path):
    from emoalign.data.dataset import load_dataset

    folder = tmp_path / "prompts"
    folder.mkdir()
    for label, texts in PROMPTS.items():
        (folder / f"{label}_prompts.json").write_text(json.dumps({"prompts": texts}), encoding="utf-8")
    (folder / os.fsdecode(b"j\xffy_prompts.json")).write_text('{"prompts": ["so glad"]}', encoding="utf-8")
    with pytest.raises(EmoalignError, match=r"prompts\.json: the label of the file name holds a lone surrogate"):
        load_dataset(folder)


@pytest.mark.parametrize("where", ["label", "pattern"])
def test_a_lone_surrogate_in_a_lexicon_is_refused(tmp_path, where):
    from emoalign.data.lexicon import load_lexicon

    lexicon = tmp_path / "lex.json"
    body = '{"jo\\udc80y": ["glad"]}' if where == "label" else '{"joy": ["gl\\udc80ad"]}'
    lexicon.write_text(body, encoding="utf-8")
    with pytest.raises(EmoalignError, match=r"lex\.json: .*surrogate") as info:
        load_lexicon(lexicon)
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------------------------
# 4. deeply nested JSON and TOML


def test_deeply_nested_json_in_a_dataset_is_one_line(tmp_path, capsys):
    dataset = write_jsonl(tmp_path / "d.jsonl", raw=['{"text": "x", "emotion": "joy", "extra": '
                                                     + "[" * 100000 + "]" * 100000 + "}"])
    one_error(study(tmp_path, "--dataset", dataset), capsys, "d.jsonl:1", "nest")


def test_deeply_nested_json_in_a_lexicon_is_one_line(tmp_path, capsys):
    dataset = write_jsonl(tmp_path / "d.jsonl")
    lexicon = tmp_path / "lex.json"
    lexicon.write_text('{"joy": ' + "[" * 100000 + "]" * 100000 + "}", encoding="utf-8")
    one_error(study(tmp_path, "--dataset", dataset, "--lexicon", lexicon), capsys, "lex.json", "nest")


def test_deeply_nested_toml_config_is_one_line(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("seed = " + "[" * 100000 + "]" * 100000 + "\n", encoding="utf-8")
    one_error(["run", "--config", config], capsys, "run.toml", "nest")


# ----------------------------------------------------------------------------------------------
# 5. layer lists


def test_an_absurd_layer_range_is_refused_naming_the_option(tmp_path, capsys):
    one_error(study(tmp_path, "--layers", "0-1000000000000"), capsys, "--layers", "0-1000000000000")


def test_parse_layers_bounds_ranges_and_numbers():
    from emoalign.core.layers import MAX_LAYER, parse_layers

    with pytest.raises(EmoalignError, match="--layers"):
        parse_layers(["0-1000000000000"])
    with pytest.raises(EmoalignError, match="--layers"):
        parse_layers([str(MAX_LAYER + 1)])
    with pytest.raises(EmoalignError, match="--target-layers"):
        parse_layers(["5-99999999"], flag="--target-layers")
    assert parse_layers([f"0-{MAX_LAYER}"])[-1] == MAX_LAYER
    # a list paired position by position with another keeps its repeats (and its bound)
    assert parse_layers(["5", "5", "3-4"], flag="--target-layers", unique=False) == [5, 5, 3, 4]
    with pytest.raises(EmoalignError, match="--target-layers"):
        parse_layers([f"0-{MAX_LAYER}", "0"], flag="--target-layers", unique=False)


def test_duplicate_layers_are_counted_once_with_a_warning(capsys):
    from emoalign.core.layers import parse_layers

    assert parse_layers(["0", "0", "1"]) == [0, 1]
    assert parse_layers(["0-3", "2,5"]) == [0, 1, 2, 3, 5]
    err = capsys.readouterr().err
    assert "--layers" in err and "more than once" in err


# ----------------------------------------------------------------------------------------------
# 6. seeds and other integer settings out of range, before any analysis


@pytest.mark.parametrize("seed", ["-1", "18446744073709551616", str(2**63)])
def test_a_seed_out_of_range_is_refused_up_front(tmp_path, capsys, seed):
    one_error(study(tmp_path, "--seed", seed), capsys, "--seed", seed)


@pytest.mark.parametrize(("field", "value", "flag"), [
    ("seed", -1, "--seed"), ("seed", 2**63, "--seed"), ("n_permutations", 10**12, "--permutations"),
    ("n_bootstrap", 10**12, "--bootstrap"), ("n_pairing_permutations", 10**12, "--pairing-permutations"),
    ("baseline_seeds", 10**9, "--baseline-seeds"), ("n_components", 10**12, "--n-components"),
    ("heldout_fraction", 1.5, "heldout"), ("heldout_fraction", float("nan"), "heldout"),
    ("k_profile", (2, 10**12), "k profile"),
])
def test_align_config_refuses_out_of_range_settings(field, value, flag):
    from emoalign.core.settings import AlignConfig

    with pytest.raises(EmoalignError, match=flag):
        AlignConfig(**{field: value})


# ----------------------------------------------------------------------------------------------
# 7. wrong types in the Python API


@pytest.mark.parametrize(("field", "value"), [
    ("n_components", "2"), ("n_components", 2.0), ("n_components", True), ("seed", "0"), ("seed", None),
    ("n_permutations", 20.5), ("alpha", "0.05"), ("alpha", True), ("map_method", 3), ("layer_match", None),
    ("k_profile", "248"),
])
def test_align_config_checks_types(field, value):
    from emoalign.core.settings import AlignConfig

    with pytest.raises((EmoalignError, TypeError), match=field):
        AlignConfig(**{field: value})


def test_align_config_accepts_numpy_numbers():
    from emoalign.core.settings import AlignConfig

    config = AlignConfig(n_components=np.int64(4), seed=np.uint32(3), alpha=np.float32(0.05), heldout_fraction=0.25)
    assert type(config.n_components) is int and type(config.seed) is int and type(config.alpha) is float


def _arrays(name: str, rng):
    from emoalign import ModelActivations

    return ModelActivations(emotion=rng.normal(size=(1, 12, 6)), labels=["a"] * 6 + ["b"] * 6,
                            reference=rng.normal(size=(1, 8, 6)), name=name)


def test_analyze_with_a_string_k_names_the_argument():
    import emoalign

    rng = np.random.default_rng(0)
    with pytest.raises((EmoalignError, TypeError), match="n_components"):
        emoalign.analyze(_arrays("s", rng), _arrays("t", rng), n_components="2", n_permutations=0)


def test_token_plan_without_a_tokenizer_names_the_argument():
    import emoalign

    with pytest.raises((EmoalignError, TypeError), match="tokenizer"):
        emoalign.token_plan(None)


def test_token_plan_with_a_wrong_dataset_type_names_the_argument():
    import emoalign

    class Tok:  # callable like a tokenizer: the dataset is checked first
        def __call__(self, *a, **k):
            raise AssertionError("not reached")

    with pytest.raises((EmoalignError, TypeError), match="dataset"):
        emoalign.token_plan(Tok(), dataset=42)


# ----------------------------------------------------------------------------------------------
# 8. config files


def test_a_binary_config_file_is_one_line(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_bytes(b'seed = 1\nname = "\xff\xfe\x00binary"\n')
    one_error(["run", "--config", config], capsys, "run.toml", "UTF-8")


def test_a_huge_config_file_is_one_line(tmp_path, capsys):
    from emoalign.io.config_file import MAX_CONFIG_BYTES

    config = tmp_path / "run.toml"
    config.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1) + "seed = 1\n", encoding="utf-8")
    one_error(["run", "--config", config], capsys, "run.toml", "1 MiB")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_as_config_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "run.toml"
    os.mkfifo(fifo)
    one_error(["run", "--config", fifo], capsys, "run.toml", "named pipe", unblock=(fifo,))


def test_resolved_config_writes_astral_control_characters_readably(tmp_path):
    import tomllib

    from emoalign.io.config_file import dump_toml

    text = "a\U000e0001b\x1b\u2028c"
    assert tomllib.loads(dump_toml({"name": text}))["name"] == text


# ----------------------------------------------------------------------------------------------
# 9. the group-assignment test says what it did


def test_the_group_assignment_method_words_match_what_was_done():
    from emoalign.analysis.stats.label_null import assignment_test

    three = assignment_test(3)
    assert three.exact and three.n_assignments == 6 and three.smallest_p == pytest.approx(1 / 6)
    assert "exact" in three.describe()
    nine = assignment_test(9)
    assert not nine.exact and nine.n_assignments == 5001
    assert "exact" not in nine.describe() and "5,000" in nine.describe()
    assert nine.smallest_p == pytest.approx(1 / 5001)


def test_the_assignment_constants_are_the_ones_the_test_uses():
    import inspect

    from emoalign.analysis.inference import group_assignment_p
    from emoalign.analysis.stats.label_null import ASSIGNMENT_MAX_EXACT, ASSIGNMENT_SAMPLES

    defaults = {k: v.default for k, v in inspect.signature(group_assignment_p).parameters.items()}
    assert (defaults["max_exact"], defaults["n_sampled"]) == (ASSIGNMENT_MAX_EXACT, ASSIGNMENT_SAMPLES)


# ----------------------------------------------------------------------------------------------
# 10. user strings inert in the compare report and on the terminal

EVIL_TARGET = "<img src=x onerror=alert(1)>[click](javascript:alert(2))\x1b[2J"
EVIL_COMMAND = "emoalign run\n```\n# INJECTED heading\n<script>alert(3)</script>\n```"


def _evil_artifact(tmp_path: Path) -> Path:
    from test_report_compare import twin

    result = twin()
    result.target = {**result.target, "name": EVIL_TARGET, "id": "org/`x`\n# INJECTED id"}
    result.provenance = {**result.provenance, "command": EVIL_COMMAND}
    folder = tmp_path / "we\nird ```x``` `dir`"
    folder.mkdir()
    return result.save(folder / "evil.safetensors")


def test_compare_markdown_keeps_hostile_names_and_paths_inert(tmp_path, capsys):
    markdown_it = pytest.importorskip("markdown_it")
    path = _evil_artifact(tmp_path)
    report = tmp_path / "cmp.md"
    rc, out, err = cli(["compare", path, "--write-report", report, "--no-figures"], capsys)
    assert rc == 0, err
    text = report.read_text(encoding="utf-8")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)

    def walk(tokens):
        for token in tokens:
            yield token
            yield from walk(token.children or [])

    everything = list(walk(tokens))
    assert not [t for t in everything if t.type in ("html_inline", "html_block")]
    assert not [t for t in everything if t.type == "link_open"]
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert not [h for h in headings if "INJECTED" in h]
    assert "\x1b" not in text
    # the path is whole inside one inline code span, and the command inside one code block
    assert any(t.type == "code_inline" and "evil.safetensors" in t.content and "ird" in t.content
               for t in everything)
    fences = [t for t in tokens if t.type == "fence"]
    assert any("<script>" in t.content and "INJECTED" in t.content for t in fences)


def test_compare_terminal_table_escapes_control_characters(tmp_path, capsys):
    path = _evil_artifact(tmp_path)
    rc, out, err = cli(["compare", path, "--no-figures"], capsys)
    assert rc == 0, err
    assert "\x1b" not in out
    assert "\\x1b[2J" in out


def test_printable_escapes_what_acts_on_a_terminal():
    from emoalign.core.text import printable

    assert printable("plain ünïcode 日本語　テキスト 👩\u200d💻") == "plain ünïcode 日本語　テキスト 👩\u200d💻"
    assert printable("a\x1b[2Jb\nc\x00\u202e\x7f\U000e0001\ud800") == (
        "a\\x1b[2Jb\\nc\\x00\\u202e\\x7f\\U000e0001\\ud800"
    )


def test_code_helpers_make_any_string_inert():
    from emoalign.report.document import Code, code_span, to_markdown

    span = code_span("a ``` b\n# c `")
    assert "\n" not in span and span.startswith("````") and span.endswith("````")
    block = to_markdown([Code("x\n````\n# y")])
    assert block.startswith("`````") and block.rstrip().endswith("`````")


# ----------------------------------------------------------------------------------------------
# 11. artifacts with missing columns


@pytest.mark.parametrize(("table", "column"), [("cells", "overlap_after"), ("cells", "layer"),
                                                ("layers", "delta"), ("layers", "mean_overlap_after")])
def test_compare_names_the_file_and_the_missing_column(tmp_path, capsys, table, column):
    from test_report_compare import twin

    result = twin()
    setattr(result, table, getattr(result, table).drop(columns=[column]))
    path = result.save(tmp_path / "broken.safetensors")
    one_error(["compare", path, "--no-figures"], capsys, "broken.safetensors", column, table)


def test_compare_names_the_file_with_a_non_numeric_column(tmp_path, capsys):
    from test_report_compare import twin

    result = twin()
    result.layers["delta"] = ["oops"] * len(result.layers)
    path = result.save(tmp_path / "broken.safetensors")
    one_error(["compare", path, "--no-figures"], capsys, "broken.safetensors", "delta")
