"""`emoalign results [DIR]` on a tiny study (what a results folder holds: studies and cached
activations, text and JSON), and the CLI's output hygiene: no progress bars when stderr is not a
terminal, the table's warnings through the logger (filtered by the log level), one rounding of
"chance" in the terminal and the report, and interval columns that say which interval they are."""

from __future__ import annotations

import io
import json
import re
import sys
from contextlib import redirect_stderr, redirect_stdout

import pytest
from test_report_compare import make_result, md_tables, twin

from emoalign.cli import main
from emoalign.cli.results_command import default_settings, human_size, scan_results
from emoalign.core.log import set_level
from emoalign.core.results import load
from emoalign.execution import progress
from emoalign.execution.progress import resolve_quiet
from emoalign.report.comparative import build_report
from emoalign.report.compare import compare_results
from emoalign.report.document import to_markdown
from emoalign.report.i18n import EN, JA
from emoalign.report.summary import format_layer_table

FEW = 12
BAR = re.compile(r"\d+%\|")  # a tqdm bar: "100%|██████████| 3/3"


@pytest.fixture(scope="module")
def study(tiny_model_path, tmp_path_factory):
    """A tiny study run as from a shell with stderr sent to a file: no --quiet, stderr not a terminal."""
    out = tmp_path_factory.mktemp("results_command")
    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    argv = ["run", "--source", str(source), "--target", str(target), "--layers", "0", "1", "--n-components", "2",
            "--max-samples-per-emotion", str(FEW), "--permutations", "20", "--bootstrap", "30",
            "--pairing-permutations", "20", "--baseline-seeds", "3", "--map", "lstsq", "--device", "cpu",
            "--results-dir", str(out / "results"), "--report-dir", str(out / "report")]
    stderr, stdout = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(progress.PROGRESS_ENV, raising=False)
        with redirect_stderr(stderr), redirect_stdout(stdout):
            assert main(argv) == 0
    return {"out": out, "results": out / "results", "source": source, "target": target,
            "stderr": stderr.getvalue(), "stdout": stdout.getvalue()}


def alignment_path(study):
    return next((study["results"]).rglob("alignment/*.safetensors"))


# ------------------------------------------------------------------------------------------------
# emoalign results


def test_results_lists_the_study_and_the_cache(study, capsys):
    assert main(["results", str(study["results"])]) == 0
    printed = capsys.readouterr().out
    result = load(alignment_path(study))
    source, target = study["source"].name, study["target"].name
    folder = str(alignment_path(study).parent.parent.relative_to(study["results"]))
    assert printed.splitlines()[0].startswith(f"{study['results']}: 1 study, 8 cached activation set(s) (")
    row = next(line for line in printed.splitlines() if f"{source} vs {target}" in line)
    assert row.split()[0] == folder
    assert re.search(rf"{source} vs {target}\s+2\s+bounded\s+0-1\s+", row), row
    # the settings that differ from the defaults (k and metric have their own columns)
    assert "map_method=lstsq n_permutations=20 n_bootstrap=30 n_pairing_permutations=20 baseline_seeds=3" in row
    assert row.rstrip().endswith(result.verdict) and result.provenance["date"][:10] in row
    cache = printed[printed.index("activation cache"):].splitlines()
    assert re.search(r"^\s+model\s+layers\s+prompts\s+positions\s+bos\s+dtype\s+size\s+file$", cache[1])
    own = next(line for line in cache if line.strip().startswith(source + " ") and "random" not in line)
    assert re.search(rf"emb, 0-1\s+baseline \({4 * FEW}\)\s+all\s+auto\s+float32\s+\d+\.\d KB\s+cache/{source}-", own)
    copies = next(line for line in cache if line.strip().startswith(f"{source} (3 random-weight copies)"))
    assert copies.rstrip().endswith("cache/")


def test_results_json_has_every_field(study, capsys):
    assert main(["results", str(study["results"]), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    result = load(alignment_path(study))
    (entry,) = listing["studies"]
    assert entry["path"] == str(alignment_path(study).relative_to(study["results"]))
    assert entry["k"] == 2 and entry["metric"] == "bounded" and entry["layer_match"] == "index"
    assert entry["settings"] == {"map_method": "lstsq", "n_permutations": 20, "n_bootstrap": 30,
                                 "n_pairing_permutations": 20, "baseline_seeds": 3}
    assert entry["verdict"] == result.verdict and entry["date"] == result.provenance["date"]
    files = sorted(study["results"].rglob("cache/*.safetensors"))
    assert sorted(c["path"] for c in listing["cache"]) == [str(p.relative_to(study["results"])) for p in files]
    for cached in listing["cache"]:
        path = study["results"] / cached["path"]
        assert cached["bytes"] == path.stat().st_size
        assert cached["layers"] == [-1, 0, 1] and cached["n_prompts"] == 4 * FEW
        assert cached["position_policy"] == "all" and cached["bos"] == "auto" and cached["dataset"] == "baseline"
    seeds = [c["random_seed"] for c in listing["cache"] if c["random_seed"] is not None]
    assert len(seeds) == 6 and len(set(seeds)) == 6
    assert listing["unreadable"] == []


def test_results_reads_the_default_folder(study, capsys, monkeypatch):
    monkeypatch.chdir(study["out"])
    assert main(["results"]) == 0
    assert capsys.readouterr().out.startswith("results: 1 study, 8 cached activation set(s)")


def test_results_lists_unreadable_files_and_says_when_there_is_nothing(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "broken.safetensors").write_bytes(b"\x00\x01 not a header")
    assert main(["results", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{tmp_path}: 0 studies, 0 cached activation set(s) (0 B)")
    assert "no studies (alignment artifacts) here" in printed
    assert re.search(r"unreadable .*\n  sub/broken.safetensors: ", printed)
    assert scan_results(tmp_path).unreadable[0]["path"] == "sub/broken.safetensors"
    assert main(["results", str(tmp_path / "missing")]) == 2
    assert "results " in capsys.readouterr().err


def test_results_escapes_names_that_would_act_on_the_terminal(tmp_path, capsys):
    result = twin()
    result.target["name"] = "evil\x1b[2J\u202ename"
    (tmp_path / "study" / "alignment").mkdir(parents=True)
    result.save(tmp_path / "study" / "alignment" / "pair_token_based_full.safetensors")
    assert main(["results", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\u202e" not in printed
    row = next(line for line in printed.splitlines() if "evil" in line)
    assert "gpt2 vs evil\\x1b[2J\\u202ename" in row and row.rstrip().endswith("shared beyond vocabulary")
    assert main(["results", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["studies"][0]["target"] == "evil\x1b[2J\u202ename"  # data as is


def test_defaults_and_sizes():
    assert default_settings()["n_components"] == 8 and default_settings()["k_profile"] == [2, 4, 8, 16]
    assert [human_size(n) for n in (532, 41_300, 1_200_000_000)] == ["532 B", "41.3 KB", "1.2 GB"]


# ------------------------------------------------------------------------------------------------
# output hygiene


def test_no_progress_bars_when_stderr_is_not_a_terminal(study):
    assert not BAR.search(study["stderr"]), study["stderr"][:2000]
    assert "pair verdict:" in study["stdout"]


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(("quiet", "tty", "env", "hidden"), [
    (None, False, "", True), (False, False, "", True),  # the CLI without --quiet, into a file: no bars
    (None, True, "", False), (False, True, "", False),  # a terminal: bars
    (True, True, "", True),  # --quiet
    (False, False, "always", False), (None, True, "never", True), (True, False, "always", True),
])
def test_resolve_quiet(quiet, tty, env, hidden, monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Stream(tty))
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setenv(progress.PROGRESS_ENV, env)
    assert resolve_quiet(quiet) is hidden


def test_table_warnings_go_through_the_logger_and_obey_the_log_level(study, capsys):
    result = load(alignment_path(study))
    result.cells.loc[0, "ci_low"] = result.cells.loc[0, "overlap_after"] + 0.01
    warning = f"in 1 of {len(result.cells)} cells the bootstrap CI does not contain the observed overlap"
    assert f"warning: {warning}" in format_layer_table(result)  # inline (the default): in the text
    logged = format_layer_table(result, warnings="log")
    assert "bootstrap CI does not contain" not in logged
    assert f"emoalign: warning: {result.pair_name}: {warning}" in capsys.readouterr().err
    try:
        set_level("error")
        format_layer_table(result, warnings="log")
        assert "bootstrap CI" not in capsys.readouterr().err
    finally:
        set_level("info")
    with pytest.raises(ValueError, match="warnings='loud'"):
        format_layer_table(result, warnings="loud")


def _terminal_rows(printed: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in printed.splitlines() if re.match(r"^\s+\d+\s+\d+\s", line)}


def test_chance_is_rounded_as_in_the_report():
    result = make_result("half", [0.3, 0.4], k=5, d_s=400)  # chance 5/400 = 0.0125: .4f and .3f differ
    terminal = _terminal_rows(format_layer_table(result))
    header = format_layer_table(result).splitlines()[1].split()
    report = to_markdown(build_report(compare_results([result]), lang="en", pair=True)[1])
    rows = next(rows for rows in md_tables(report).values() if rows and EN["col_chance"] in rows[0])
    for row in rows:
        if row[EN["col_layer"]].isdigit():
            assert terminal[row[EN["col_layer"]]][header.index("chance")] == row[EN["col_chance"]] == "0.013"


def test_interval_columns_say_which_interval(study):
    result = twin()
    printed = format_layer_table(result)
    assert "pctl. 95% CI" in printed.splitlines()[1]
    assert "percentile bootstrap interval of the layer mean" in printed
    assert "an estimate can lie outside its interval" in printed
    for lang, catalog in (("en", EN), ("ja", JA)):
        report = to_markdown(build_report(compare_results([result]), lang=lang, pair=True)[1])
        assert f"| {catalog['col_ci']} |" in report
        assert catalog["table_legend"].split("{alpha}")[-1][-60:] in report
    assert EN["col_ci"].startswith("Percentile 95% CI") and JA["col_ci"].startswith("パーセンタイル95% CI")
    assert "An estimate can lie outside its interval" in EN["table_legend"] and "BCa" in EN["table_legend"]
    assert "推定値が区間の外に出ることがあります" in JA["table_legend"]
    # the floor row says it too (the same interval)
    assert "pctl. 95% CI [" in format_layer_table(load(alignment_path(study)))
