"""Tests for emoalign.data: built-in profiles, lexicon spans and user dataset loading."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from emoalign.core.errors import EmoalignError
from emoalign.data import (
    DEFAULT_LEXICON,
    PROFILES,
    Prompt,
    PromptDataset,
    find_emotion_word_spans,
    load_dataset,
    load_lexicon,
    load_profile,
)

LABELS = ("gratitude", "anger", "apology", "neutral")
EMOTIONS = LABELS[:3]


# --------------------------------------------------------------------------- built-in profiles


def test_profiles_sizes_and_labels() -> None:
    assert PROFILES == ("baseline", "extended")
    base, ext = load_profile("baseline"), load_profile("extended")
    assert base.labels == LABELS and ext.labels == LABELS
    assert base.emotion_labels == EMOTIONS
    assert base.reference_label == "neutral"
    assert base.label_counts() == {lab: 70 for lab in LABELS}
    assert ext.label_counts() == {lab: 100 for lab in LABELS}
    assert len(base.prompts) == 280 and len(ext.prompts) == 400
    assert base.name == "baseline" and ext.name == "extended"


def test_baseline_is_first_70_of_extended() -> None:
    base, ext = load_profile("baseline"), load_profile("extended")
    for lab in LABELS:
        assert base.texts(lab) == ext.texts(lab)[:70]
    assert ext.limit_per_label(70).prompts == base.prompts


def test_all_texts_distinct() -> None:
    texts = [p.text for p in load_profile("extended").prompts]
    assert len(set(texts)) == 400
    assert len({t.lower().strip(" .!?\"") for t in texts}) == 400


def test_builtin_json_declares_labels_and_reference() -> None:
    import emoalign.data

    path = Path(emoalign.data.__file__).parent / "builtin" / "prompts.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["reference_label"] == "neutral"
    assert tuple(doc["labels"]) == LABELS
    assert {k: len(v) for k, v in doc["prompts"].items()} == {lab: 100 for lab in LABELS}


def test_emotion_prompts_contain_own_label_word_only() -> None:
    ds = load_profile("extended")
    for lab in EMOTIONS:
        for text in ds.texts(lab):
            assert find_emotion_word_spans(text, DEFAULT_LEXICON[lab]), f"{lab}: no emotion word in {text!r}"
            for other in EMOTIONS:
                if other != lab:
                    assert not find_emotion_word_spans(text, DEFAULT_LEXICON[other]), (lab, other, text)


def test_neutral_prompts_have_no_emotion_word() -> None:
    for text in load_profile("extended").texts("neutral"):
        for lab in EMOTIONS:
            assert find_emotion_word_spans(text, DEFAULT_LEXICON[lab]) == [], (lab, text)
        assert 5 <= len(text.split()) <= 15, text


def test_emotion_word_positions_and_words_vary() -> None:
    ds = load_profile("baseline")
    for lab in EMOTIONS:
        start = end = middle = 0
        words_used: set[str] = set()
        for text in ds.texts(lab):
            spans = find_emotion_word_spans(text, DEFAULT_LEXICON[lab])
            words = [m.span() for m in re.finditer(r"[A-Za-z][A-Za-z'-]*", text)]
            at_start = any(s <= words[0][0] < e for s, e in spans)
            at_end = any(s < words[-1][1] <= e for s, e in spans)
            start += at_start
            end += at_end
            middle += not (at_start or at_end)
            words_used.update(text[s:e].lower() for s, e in spans)
        assert start >= 10 and end >= 5 and middle >= 10, (lab, start, middle, end)
        assert len(words_used) >= 6, (lab, words_used)


# --------------------------------------------------------------------------- lexicon spans


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        ("Thanks, that helped.", "gratitude", [(0, 6)]),  # start, before a comma
        ("I really appreciate it.", "gratitude", [(9, 19)]),  # middle
        ("I am so sorry.", "apology", [(8, 13)]),  # end, before a full stop
        ("SORRY about that", "apology", [(0, 5)]),  # capitalised
        ("He was furious!", "anger", [(7, 14)]),  # before "!"
        ('She said "thanks."', "gratitude", [(10, 16)]),  # inside quotes
        ("We are fed up with it.", "anger", [(7, 13)]),  # two-word phrase
        ("That was my fault.", "apology", [(9, 17)]),
        ("A thank-you note.", "gratitude", [(2, 7)]),  # hyphen splits words
        ("Thank you, thank you!", "gratitude", [(0, 5), (11, 16)]),
        ("Angry, angrier, ANGER.", "anger", [(0, 5), (7, 14), (16, 21)]),
    ],
)
def test_find_emotion_word_spans_exact(text: str, label: str, expected: list[tuple[int, int]]) -> None:
    assert find_emotion_word_spans(text, DEFAULT_LEXICON[label]) == expected


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("The table is made of oak.", "anger"),
        ("Madrid is a big city.", "anger"),
        ("The garage is open.", "anger"),
        ("The average is five.", "anger"),
        ("Ask sorrycat about it.", "apology"),
        ("The ungrateful cat.", "gratitude"),
        ("Forever and always.", "apology"),
        ("My faulty printer.", "apology"),
    ],
)
def test_find_emotion_word_spans_whole_words_only(text: str, label: str) -> None:
    assert find_emotion_word_spans(text, DEFAULT_LEXICON[label]) == []


def test_find_emotion_word_spans_merges_overlaps_and_sorts() -> None:
    # two patterns hitting the same word give one span; output sorted by start
    assert find_emotion_word_spans("so, thank you and thanks", [r"thanks", r"thank\w*", r"so"]) == [
        (0, 2),
        (4, 9),
        (18, 24),
    ]
    assert find_emotion_word_spans("", DEFAULT_LEXICON["anger"]) == []
    assert find_emotion_word_spans("no match here", []) == []


def test_find_emotion_word_spans_bad_pattern() -> None:
    with pytest.raises(EmoalignError, match=r"'thank\(' is not a valid regular expression"):
        find_emotion_word_spans("thanks", ["thank("])


def test_load_lexicon_ok_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "lex.json"
    good.write_text(json.dumps({"joy": ["happ\\w*", "glad"]}), encoding="utf-8")
    lex = load_lexicon(good)
    assert lex == {"joy": ("happ\\w*", "glad")}
    assert find_emotion_word_spans("So happy and glad.", lex["joy"]) == [(3, 8), (13, 17)]

    with pytest.raises(EmoalignError, match=r"nope\.json: lexicon file does not exist"):
        load_lexicon(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n "joy": [\n', encoding="utf-8")
    with pytest.raises(EmoalignError, match=r"bad\.json:\d+: malformed JSON"):
        load_lexicon(bad)
    bad.write_text('["glad"]', encoding="utf-8")
    with pytest.raises(EmoalignError, match=r"bad\.json: lexicon must be a non-empty JSON object"):
        load_lexicon(bad)
    bad.write_text('{"joy": "glad"}', encoding="utf-8")
    with pytest.raises(EmoalignError, match=r"bad\.json: label 'joy' must map to a non-empty list"):
        load_lexicon(bad)
    bad.write_text('{"joy": ["glad", 3]}', encoding="utf-8")
    with pytest.raises(EmoalignError, match=r"bad\.json: label 'joy' pattern \[1\] must be a non-empty string"):
        load_lexicon(bad)
    bad.write_text('{"joy": ["happ(y"]}', encoding="utf-8")
    with pytest.raises(EmoalignError, match=r"bad\.json: label 'joy' pattern 'happ\(y' is not a valid regular"):
        load_lexicon(bad)
    bad.write_text('{"joy": ["x*"]}', encoding="utf-8")
    with pytest.raises(EmoalignError, match=r"bad\.json: label 'joy' pattern 'x\*' matches the empty string"):
        load_lexicon(bad)


# --------------------------------------------------------------------------- dataset helpers


def _small() -> PromptDataset:
    return PromptDataset(
        "small",
        (
            Prompt("Thanks a lot.", "gratitude"),
            Prompt("The sky is blue today.", "neutral"),
            Prompt("I am furious.", "anger"),
            Prompt("Many thanks.", "gratitude"),
            Prompt("The road is long and straight.", "neutral"),
            Prompt("So angry!", "anger"),
            Prompt("I appreciate it.", "gratitude"),
        ),
    )


def test_labels_reference_last_and_texts() -> None:
    ds = _small()
    assert ds.labels == ("gratitude", "anger", "neutral")
    assert ds.emotion_labels == ("gratitude", "anger")
    assert ds.texts("anger") == ["I am furious.", "So angry!"]
    assert ds.label_counts() == {"gratitude": 3, "anger": 2, "neutral": 2}
    with pytest.raises(EmoalignError, match="unknown label 'joy'"):
        ds.texts("joy")


def test_limit_per_label_keeps_order() -> None:
    ds = _small()
    assert ds.limit_per_label(None) is ds
    lim = ds.limit_per_label(1)
    assert [p.text for p in lim.prompts] == ["Thanks a lot.", "The sky is blue today.", "I am furious."]
    assert lim.name == ds.name and lim.reference_label == ds.reference_label
    assert ds.limit_per_label(2).label_counts() == {"gratitude": 2, "anger": 2, "neutral": 2}
    assert ds.limit_per_label(99) == ds
    assert load_profile("extended").limit_per_label(5).label_counts() == {lab: 5 for lab in LABELS}
    with pytest.raises(EmoalignError, match="positive integer"):
        ds.limit_per_label(0)


def test_content_hash_stable_and_sensitive() -> None:
    ds = _small()
    h = ds.content_hash()
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    assert h == _small().content_hash()
    assert PromptDataset("other-name", ds.prompts).content_hash() == h  # name is not content
    changed = list(ds.prompts)
    changed[2] = Prompt("I am furious!", "anger")
    assert PromptDataset("small", tuple(changed)).content_hash() != h
    relabelled = list(ds.prompts)
    relabelled[6] = Prompt("I appreciate it.", "anger")
    assert PromptDataset("small", tuple(relabelled)).content_hash() != h
    swapped = (ds.prompts[1], ds.prompts[0], *ds.prompts[2:])
    assert PromptDataset("small", swapped).content_hash() != h  # order-sensitive
    assert load_profile("baseline").content_hash() != load_profile("extended").content_hash()


def test_content_hash_same_in_another_process() -> None:
    code = "from emoalign.data import load_profile; print(load_profile('baseline').content_hash())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == load_profile("baseline").content_hash()


def test_dataset_is_immutable_and_validated() -> None:
    ds = _small()
    with pytest.raises(AttributeError):
        ds.name = "x"  # type: ignore[misc]
    with pytest.raises(EmoalignError, match="reference label 'neutral' not found"):
        PromptDataset("d", (Prompt("Thanks.", "gratitude"), Prompt("So angry.", "anger")))
    with pytest.raises(EmoalignError, match="at least one emotion label"):
        PromptDataset("d", (Prompt("The sky is blue.", "neutral"),))
    with pytest.raises(EmoalignError, match="dataset is empty"):
        PromptDataset("d", ())
    with pytest.raises(EmoalignError, match="prompt text must be a non-empty string"):
        Prompt("  ", "neutral")


def test_unknown_profile() -> None:
    with pytest.raises(EmoalignError, match="unknown prompt profile 'huge'; known profiles: baseline, extended"):
        load_profile("huge")


# --------------------------------------------------------------------------- user formats


def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_jsonl(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "my_prompts.jsonl",
        [
            json.dumps({"text": "I am so happy!", "emotion": "joy"}),
            "",
            json.dumps({"text": "The door is brown.", "label": "neutral"}),
            "   ",
            json.dumps({"text": "Glad you came.", "emotion": "joy", "label": "joy"}),
            json.dumps({"text": "The bus is late.", "emotion": "neutral", "id": 7}),
        ],
    )
    ds = load_dataset(path)
    assert ds.name == "my_prompts"
    assert ds.labels == ("joy", "neutral")
    assert ds.texts("joy") == ["I am so happy!", "Glad you came."]
    assert ds.texts("neutral") == ["The door is brown.", "The bus is late."]
    assert load_dataset(path, labels=["joy", "neutral"]) == ds
    # another reference label
    calm = load_dataset(path, reference_label="joy")
    assert calm.labels == ("neutral", "joy") and calm.emotion_labels == ("neutral",)


def test_load_folder(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    for lab, texts in {
        "gratitude": ["Thanks a lot.", "I appreciate it."],
        "neutral": ["The sky is blue.", "The road is long."],
        "anger": ["I am furious."],
    }.items():
        (folder / f"{lab}_prompts.json").write_text(json.dumps({"prompts": texts, "meta": 1}), encoding="utf-8")
    (folder / "README.txt").write_text("ignored", encoding="utf-8")
    ds = load_dataset(folder)
    assert ds.name == "study"
    assert ds.labels == ("anger", "gratitude", "neutral")  # sorted files, reference last
    assert ds.texts("gratitude") == ["Thanks a lot.", "I appreciate it."]
    assert ds.label_counts() == {"anger": 1, "gratitude": 2, "neutral": 2}
    ordered = load_dataset(folder, labels=["gratitude", "anger", "neutral"])
    assert ordered.labels == ("gratitude", "anger", "neutral")


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (['{"text": "a", "emotion": "joy"', ], r"d\.jsonl:1: malformed JSON"),
        (['{"text": "The sky.", "emotion": "neutral"}', "", "[1, 2]"], r"d\.jsonl:3: record must be a JSON object"),
        (['{"emotion": "joy"}'], r"d\.jsonl:1: missing field 'text'"),
        (['{"text": "  ", "emotion": "joy"}'], r"d\.jsonl:1: field 'text' is empty"),
        (['{"text": 5, "emotion": "joy"}'], r"d\.jsonl:1: field 'text' must be a string, got int"),
        (['{"text": "Hi there."}'], r"d\.jsonl:1: missing label field 'emotion' \(or 'label'\)"),
        (['{"text": "Hi there.", "emotion": ""}'], r"d\.jsonl:1: field 'emotion' must be a non-empty string"),
        (['{"text": "Hi.", "emotion": "joy", "label": "anger"}'], r"d\.jsonl:1: fields 'emotion' .* disagree"),
        ([""], r"d\.jsonl: dataset is empty"),
        (['{"text": "Yay.", "emotion": "joy"}'], r"d\.jsonl: reference label 'neutral' not found; labels present: joy"),
        (['{"text": "The sky.", "emotion": "neutral"}'], r"d\.jsonl: needs at least one emotion label"),
    ],
)
def test_jsonl_errors(tmp_path: Path, lines: list[str], match: str) -> None:
    path = _write_jsonl(tmp_path / "d.jsonl", lines)
    with pytest.raises(EmoalignError, match=match):
        load_dataset(path)


def test_jsonl_unknown_label(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "d.jsonl",
        [json.dumps({"text": "The sky.", "emotion": "neutral"}), json.dumps({"text": "Yay!", "label": "joy"})],
    )
    with pytest.raises(EmoalignError, match=r"d\.jsonl:2: unknown label 'joy' in field 'label'; expected one of"):
        load_dataset(path, labels=["anger", "neutral"])
    with pytest.raises(EmoalignError, match=r"d\.jsonl: reference label 'neutral' is not among the given labels"):
        load_dataset(path, labels=["anger", "joy"])


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(EmoalignError, match=r"nothing\.jsonl: dataset path does not exist"):
        load_dataset(tmp_path / "nothing.jsonl")


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "f"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


NEUTRAL_FILE = json.dumps({"prompts": ["The sky is blue."]})


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({"notes.json": "{}"}, r"f: folder has no '<label>_prompts\.json' files"),
        ({"joy_prompts.json": '{\n "prompts": [\n', "neutral_prompts.json": NEUTRAL_FILE},
         r"joy_prompts\.json:\d+: malformed JSON"),
        ({"joy_prompts.json": '{"texts": []}', "neutral_prompts.json": NEUTRAL_FILE},
         r"joy_prompts\.json: expected an object with a 'prompts' list"),
        ({"joy_prompts.json": '["a"]', "neutral_prompts.json": NEUTRAL_FILE},
         r"joy_prompts\.json: expected an object with a 'prompts' list"),
        ({"joy_prompts.json": '{"prompts": "Yay"}', "neutral_prompts.json": NEUTRAL_FILE},
         r"joy_prompts\.json: expected an object with a 'prompts' list"),
        ({"joy_prompts.json": '{"prompts": []}', "neutral_prompts.json": NEUTRAL_FILE},
         r"joy_prompts\.json: field 'prompts' is empty"),
        ({"joy_prompts.json": '{"prompts": ["Yay!", 3]}', "neutral_prompts.json": NEUTRAL_FILE},
         r"joy_prompts\.json: field 'prompts\[1\]' must be a string, got int"),
        ({"joy_prompts.json": '{"prompts": ["Yay!", " "]}', "neutral_prompts.json": NEUTRAL_FILE},
         r"joy_prompts\.json: field 'prompts\[1\]' is empty"),
        ({"_prompts.json": NEUTRAL_FILE}, r"_prompts\.json: file name gives an empty label"),
        ({"joy_prompts.json": '{"prompts": ["Yay!"]}'}, r"f: reference label 'neutral' not found; labels present: joy"),
        ({"neutral_prompts.json": NEUTRAL_FILE}, r"f: needs at least one emotion label"),
    ],
)
def test_folder_errors(tmp_path: Path, files: dict[str, str], match: str) -> None:
    with pytest.raises(EmoalignError, match=match):
        load_dataset(_folder(tmp_path, files))


def test_folder_unknown_label(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"joy_prompts.json": '{"prompts": ["Yay!"]}', "neutral_prompts.json": NEUTRAL_FILE})
    with pytest.raises(EmoalignError, match=r"joy_prompts\.json: unknown label 'joy' in the file name"):
        load_dataset(folder, labels=["anger", "neutral"])


def test_error_messages_are_one_line(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "d.jsonl", ['{"text": "a",\n "emotion": "joy"}'])
    with pytest.raises(EmoalignError) as info:
        load_dataset(path)
    assert "\n" not in str(info.value)
