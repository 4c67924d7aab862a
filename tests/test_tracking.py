"""`--mlflow`: one MLflow run per model pair in a local file store, nested under the sweep's run
(skipped where MLflow is not installed: `pip install 'emoalign[tracking]'`)."""

from __future__ import annotations

import pytest

from emoalign.cli import main

mlflow = pytest.importorskip("mlflow")

FAST = ["--layers", "0", "1", "--n-components", "2", "--max-samples-per-emotion", "8", "--permutations", "20",
        "--bootstrap", "30", "--pairing-permutations", "20", "--baseline-seeds", "0", "--device", "cpu", "--quiet"]


def _runs(store):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store.resolve().as_uri())
    experiment = client.get_experiment_by_name("emoalign")
    return client, client.search_runs([experiment.experiment_id])


def test_a_sweep_logs_one_run_per_pair_nested_under_its_parent(tiny_model_path, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    source, targets = tiny_model_path("gpt2"), [tiny_model_path("llama"), tiny_model_path("qwen2")]
    store = tmp_path / "mlruns"
    argv = ["sweep", "--source", str(source), "--targets", *map(str, targets), *FAST,
            "--results-dir", str(tmp_path / "results"), "--report-dir", str(tmp_path / "report"),
            "--mlflow", str(store)]
    assert main(argv) == 0, capsys.readouterr().err
    client, runs = _runs(store)
    parent = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    pairs = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    assert len(parent) == 1 and len(pairs) == 2
    assert {run.data.tags["mlflow.parentRunId"] for run in pairs} == {parent[0].info.run_id}
    assert all(run.info.status == "FINISHED" for run in runs)
    assert {run.info.run_name for run in pairs} == {f"{source.name}_vs_{t.name}" for t in targets}
    for run, target in zip(sorted(pairs, key=lambda r: r.info.run_name), sorted(targets, key=lambda t: t.name)):
        params = run.data.params
        assert params["option.target"] == str(target) and params["config.n_components"] == "2"
        assert params["target"] == str(target) and params["config.n_permutations"] == "20"
        history = client.get_metric_history(run.info.run_id, "mean_overlap_after")
        assert sorted(m.step for m in history) == [0, 1]
        assert "pair.n_cells" in run.data.metrics and run.data.tags["verdict"]
        artifacts = {a.path for folder in ("report", "statistics", "configs", "alignment")
                     for a in client.list_artifacts(run.info.run_id, folder)}
        assert f"report/{source.name}_vs_{target.name}_report.md" in artifacts
        assert f"configs/{source.name}_vs_{target.name}_run.toml" in artifacts
        assert any(path.startswith("statistics/") for path in artifacts)
    top = {a.path for a in client.list_artifacts(parent[0].info.run_id)}
    assert "report" in top and any(path.endswith("_figures") for path in top)


def test_without_mlflow_installed_the_option_is_a_clear_error(tiny_model_path, tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_mlflow(name, *args, **kwargs):
        if name.startswith("mlflow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    argv = ["run", "--source", str(tiny_model_path("gpt2")), "--target", str(tiny_model_path("llama")), *FAST,
            "--results-dir", str(tmp_path / "results"), "--mlflow"]
    assert main(argv) == 2
    assert capsys.readouterr().err == "emoalign: error: --mlflow needs MLflow: pip install 'emoalign[tracking]'\n"
