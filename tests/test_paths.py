"""Hostile names never lead a write outside --results-dir / --report-dir (or the cache), and are
inert in the Markdown reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emoalign.cli import main
from emoalign.core.errors import EmoalignError
from emoalign.data.dataset import Prompt, PromptDataset, load_profile
from emoalign.io.layout import StudyLayout
from emoalign.io.paths import inside, safe_component
from emoalign.study.api import run


@pytest.mark.parametrize(
    ("name", "safe"),
    [("..", "__"), (".", "_"), ("../../../x", "___.._.._x"), ("a/b", "a_b"), ("", "_"), (".hidden", "_hidden"),
     ("Qwen2.5-1.5B", "Qwen2.5-1.5B"), ("gpt2_vs_llama", "gpt2_vs_llama"), ("日本語", "日本語"), ("a\tb", "a_b"), ("a\\b:c", "a_b_c")],
)
def test_safe_component(name, safe):
    assert safe_component(name) == safe
    assert "/" not in safe_component(name) and not safe_component(name).startswith(".")


def test_inside_refuses_escape(tmp_path):
    assert inside(tmp_path, tmp_path / "a" / "b") == tmp_path / "a" / "b"
    with pytest.raises(EmoalignError, match="outside"):
        inside(tmp_path / "results", tmp_path / "results" / ".." / "x")


def test_layout_of_hostile_names_stays_inside(tmp_path):
    layout = StudyLayout(tmp_path / "r", "../../../x", tmp_path / "rep")
    for path in (layout.vectors(".."), layout.subspaces("../m"), layout.alignment("../../p"), layout.statistics(".."),
                 layout.report("../../p")):
        root = tmp_path / ("rep" if path.suffix == ".md" else "r")
        assert root.resolve() in path.resolve().parents, path


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def test_cli_run_with_hostile_names_writes_only_inside(tiny_model_path, tmp_path, capsys):
    """A dataset file named ``...jsonl`` (dataset ``..``), model folders named ``..gpt2`` and
    ``$(x) y``, labels with slashes: every file written lands under the results or report folder."""
    box = tmp_path / "box"
    box.mkdir()
    shutil.copytree(tiny_model_path("gpt2"), tmp_path / "..gpt2")
    shutil.copytree(tiny_model_path("llama"), tmp_path / "$(x) y")
    labels = {"gratitude": "../../grat", "anger": "..", "apology": "a/b|*<i>"}
    records = [
        {"text": p.text, "label": labels.get(p.label, p.label)}
        for p in load_profile("baseline").limit_per_label(12).prompts
    ]
    dataset = tmp_path / "...jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in records))
    lexicon = tmp_path / "lex.json"
    lexicon.write_text(json.dumps({"../../grat": ["thank\\w*", "grateful"], "..": ["angry", "furious"],
                                   "a/b|*<i>": ["sorry", "apolog\\w*"]}))
    before = _files(tmp_path)
    argv = ["run", "--source", str(tmp_path / "..gpt2"), "--target", str(tmp_path / "$(x) y"), "--dataset", str(dataset),
            "--lexicon", str(lexicon), "--layers", "0", "1", "-k", "4", "--permutations", "20", "--bootstrap", "50",
            "--pairing-permutations", "20", "--baseline-seeds", "3", "--results-dir", str(box / "results"),
            "--report-dir", str(box / "reports"), "--quiet", "--device", "cpu"]
    assert main(argv) == 0, capsys.readouterr().err
    new = _files(tmp_path) - before
    assert new, "nothing written"
    outside = [p for p in new if box.resolve() not in p.resolve().parents]
    assert outside == []
    names = {p.name for p in new}
    assert "__gpt2_vs___x__y_token_based_full.safetensors" in names
    assert any(p.parts[-3:-1] == ("__", "alignment") for p in new)  # the dataset '..' became the folder '__'
    reports = sorted(p for p in new if p.suffix == ".md")  # the per-pair report in English and Japanese
    assert [p.name.endswith(".ja.md") for p in reports] == [True, False]
    for report in reports:
        text = report.read_text()
        assert "a/b\\|\\*\\<i\\>" in text and "a/b|*<i>" not in text  # user data is inert in Markdown


def test_python_api_dataset_named_to_escape(tiny_model_path, tmp_path):
    box = tmp_path / "deep" / "box"
    box.mkdir(parents=True)
    prompts = load_profile("baseline").limit_per_label(12).prompts
    dataset = PromptDataset("../../../x", tuple(Prompt(p.text, p.label) for p in prompts))
    before = _files(tmp_path)
    run(str(tiny_model_path("gpt2")), str(tiny_model_path("llama")), dataset=dataset, layers=[0], n_components=4,
        n_permutations=20, n_bootstrap=50, n_pairing_permutations=20, baseline_seeds=3, device="cpu",
        results_dir=box / "results", report_dir=box / "reports")
    new = _files(tmp_path) - before
    assert new and all(box.resolve() in p.resolve().parents for p in new)
