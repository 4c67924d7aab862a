"""`emoalign sweep` on tiny local models: the source is extracted once, and the numbers equal
three separate `emoalign run`s plus `emoalign compare`."""

from __future__ import annotations

import shlex
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import emoalign.extract.cache as cache_module
from emoalign.cli import main
from emoalign.core.results import load
from emoalign.study.sweep import pair_run_command

COMMON = ["--max-samples-per-emotion", "10", "--n-components", "3", "--layers", "0", "1", "--baseline-seeds", "4",
          "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def swept(tiny_model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    source = tiny_model_path("gpt2")
    targets = [tiny_model_path(f) for f in ("llama", "qwen2", "gpt_neox")]
    argv = ["sweep", "--source", str(source), "--targets", *map(str, targets), *COMMON,
            "--results-dir", str(out / "results"), "--report-dir", str(out / "report")]
    loads: Counter = Counter()
    real_load = cache_module.load_model

    def counting(spec, *args, **kwargs):
        loads[spec.name] += 1
        return real_load(spec, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cache_module, "load_model", counting)
        mp.setattr(sys, "argv", ["emoalign", *argv])  # what the pairs' provenance commands are derived from
        assert main(argv) == 0
    return out, source, targets, loads


def test_sweep_extracts_the_source_once_and_writes_every_pair(swept):
    out, source, targets, loads = swept
    assert loads == Counter({source.name: 1, **{t.name: 1 for t in targets}})
    root = out / "results" / "baseline"
    for target in targets:
        pair = f"{source.name}_vs_{target.name}"
        assert (root / "alignment" / f"{pair}_token_based_full.safetensors").is_file()
        assert (root / "statistics" / f"{pair}_alignment_summary.csv").is_file()
        assert (out / "report" / f"{pair}_report.md").is_file()
    report = out / "report" / f"{source.name}_comparative_report.md"
    assert report.is_file() and "## Sanity checks of the scientific pattern" in report.read_text()
    csv = pd.read_csv(root / "statistics" / f"{source.name}_comparative_summary.csv")
    assert csv["target"].tolist() == [t.name for t in targets]


def test_sweep_equals_separate_runs_plus_compare(swept, tmp_path):
    out, source, targets, _ = swept
    sweep_root = out / "results" / "baseline"
    separate = tmp_path / "results"
    paths = []
    for target in targets:
        pair = f"{source.name}_vs_{target.name}"
        recorded = load(sweep_root / "alignment" / f"{pair}_token_based_full.safetensors").provenance["command"]
        argv = shlex.split(recorded)[1:]  # the `emoalign run ...` line recorded for this pair
        assert argv[0] == "run" and argv[-2:] == ["--target", str(target)] and "--targets" not in argv
        argv[argv.index("--results-dir") + 1] = str(separate)  # fresh cache: every model extracted again
        argv[argv.index("--report-dir") + 1] = str(tmp_path / "report")
        assert main(argv) == 0
        paths.append(separate / "baseline" / "alignment" / f"{pair}_token_based_full.safetensors")
        swept_layers = load(sweep_root / "alignment" / paths[-1].name).layers
        pd.testing.assert_frame_equal(load(paths[-1]).layers, swept_layers, check_exact=False, rtol=1e-9)
    assert main(["compare", *map(str, paths), "--output-csv", str(tmp_path / "c.csv"), "--no-figures"]) == 0
    compared = pd.read_csv(tmp_path / "c.csv")
    swept_csv = pd.read_csv(sweep_root / "statistics" / f"{source.name}_comparative_summary.csv")
    numeric = ["max_delta", "max_delta_layer", "mean_delta", "mean_before", "mean_after", "mean_specificity"]
    np.testing.assert_allclose(compared[numeric].to_numpy(float), swept_csv[numeric].to_numpy(float), rtol=1e-9)
    assert compared["target"].tolist() == swept_csv["target"].tolist()


def test_pair_run_command_drops_the_sweep_options():
    argv = ["sweep", "--targets", "a", "b", "--source", "gpt2", "--write-report", "r.md", "--html", "--lang=ja",
            "--layers", "0", "1", "--output-csv", "c.csv"]
    assert pair_run_command(argv, "b") == "emoalign run --source gpt2 --layers 0 1 --target b"
    assert pair_run_command(["run", "--target", "x"], "x") is None


def test_sweep_rejects_repeated_targets_before_any_model_runs(tiny_model_path, tmp_path, capsys):
    target = str(tiny_model_path("llama"))
    code = main(["sweep", "--source", str(tiny_model_path("gpt2")), "--targets", target, target, *COMMON,
                 "--results-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "given more than once" in err[0]
    assert not (tmp_path / "r").exists()


def test_python_api_sweep_reuses_the_cache(swept, monkeypatch, tmp_path):
    from emoalign.study.api import sweep

    out, source, targets, _ = swept

    def no_loading(*_a, **_k):
        raise AssertionError("a model was loaded although every activation set is cached")

    monkeypatch.setattr(cache_module, "load_model", no_loading)
    done = sweep(str(source), [str(t) for t in targets], layers=[0, 1], n_components=3, max_samples_per_emotion=10,
                 baseline_seeds=4, device="cpu", results_dir=tmp_path / "results", cache_dir=out / "results" / "cache",
                 report_dir=tmp_path / "report", figures=False)
    assert done.report.markdown == tmp_path / "report" / f"{source.name}_comparative_report.md"
    assert (tmp_path / "results" / "baseline" / "statistics" / f"{source.name}_comparative_summary.csv").is_file()
    for result, target in zip(done.results, targets):
        pair = f"{source.name}_vs_{target.name}"
        swept_layers = load(out / "results" / "baseline" / "alignment" / f"{pair}_token_based_full.safetensors").layers
        pd.testing.assert_frame_equal(result.layers, swept_layers, check_exact=False, rtol=1e-9)


def test_sweep_with_a_k_sweep_and_the_untrained_control(tiny_model_path, tmp_path):
    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    argv = ["sweep", "--source", str(source), "--targets", str(target), "-k", "2", "3", "--control", "untrained",
            "--permutations", "20", "--bootstrap", "50", "--pairing-permutations", "0",
            *[a for a in COMMON if a not in ("--n-components", "3")],
            "--results-dir", str(tmp_path / "results"), "--report-dir", str(tmp_path / "report"),
            "--write-report", str(tmp_path / "cmp.md"), "--html"]
    assert main(argv) == 0
    csv = pd.read_csv(tmp_path / "results" / "baseline" / "statistics" / f"{source.name}_comparative_summary.csv")
    assert csv["n_components"].tolist() == [2, 2, 3, 3]
    assert csv["control"].tolist() == [False, True, False, True]
    assert csv["target"].tolist() == [target.name, f"{target.name}-untrained"] * 2
    for k in (2, 3):
        assert (tmp_path / "results" / "baseline" / f"k{k}" / "alignment"
                / f"{source.name}_vs_{target.name}-untrained_token_based_full.safetensors").is_file()
    text = (tmp_path / "cmp.md").read_text()
    assert "### 2. Trained vs untrained control" in text and "k_sweep_" in text
    assert "data:image/png;base64," in (tmp_path / "cmp.html").read_text()
