"""Executors (issue 12): the local one and Ray give the same numbers; a failed unit is retried, then
named, and never loses the others; a killed Ray worker mid-sweep costs a retry, not the sweep."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from emoalign.cli import main
from emoalign.core.errors import EmoalignError
from emoalign.execution import Outcome, TaskResources, describe_failures, make_executor
from emoalign.execution.local import LocalExecutor, run_with_retries

SWEEP = ["--max-samples-per-emotion", "8", "-k", "2", "--layers", "0", "1", "--baseline-seeds", "3",
         "--permutations", "20", "--bootstrap", "50", "--pairing-permutations", "20", "--device", "cpu", "--quiet"]


def _square(shared: int, i: int) -> int:
    return shared * i * i


def _flaky(shared: tuple[Path, int], i: int) -> int:
    """Fails the first ``fails`` tries of task 1 (tries counted in a file), then succeeds."""
    folder, fails = shared
    if i == 1:
        marker = folder / "tries"
        tries = int(marker.read_text()) + 1 if marker.exists() else 1
        marker.write_text(str(tries))
        if tries <= fails:
            raise RuntimeError(f"lost try {tries}")
    if i == 2:
        raise EmoalignError("bad input in unit 2")
    return i


def _fails_late_then_early(shared: None, i: int) -> int:
    """Task 1 fails after a delay, task 3 at once: the error raised must be task 1's (task order)."""
    if i == 1:
        time.sleep(0.5)
        raise RuntimeError("task 1 failed")
    if i == 3:
        raise RuntimeError("task 3 failed")
    return i


def test_local_units_are_retried_then_named_and_never_lose_the_others(tmp_path):
    executor = LocalExecutor(retries=2)
    outcomes = executor.run_named(_flaky, (tmp_path, 2), ["zero", "one", "two", "three"])
    assert [o.value for o in outcomes] == [0, 1, None, 3]
    assert outcomes[1].ok and outcomes[1].tries == 3  # failed twice, third try succeeded
    assert outcomes[2].error == "bad input in unit 2" and outcomes[2].tries == 1  # bad input: never retried
    (tmp_path / "tries").unlink()
    outcomes = LocalExecutor(retries=1).run_named(_flaky, (tmp_path, 5), ["zero", "one", "two", "three"])
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert describe_failures(outcomes) == (
        "one (RuntimeError: lost try 2, 2 tries); two (bad input in unit 2, 1 try)"
    )


def test_run_with_retries_lets_an_interrupt_through():
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_with_retries(interrupted, "x", retries=3)


def test_make_executor_refuses_bad_settings():
    with pytest.raises(EmoalignError, match="--executor 'dask'"):
        make_executor("dask")
    with pytest.raises(EmoalignError, match="--ray-address: only with --executor ray"):
        make_executor("local", address="auto")
    with pytest.raises(EmoalignError, match="--task-retries -1"):
        make_executor("local", retries=-1)
    assert make_executor("local", workers=2).map(_square, 3, 4) == [0, 3, 12, 27]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--executor", "local", "--ray-address", "auto"], r"--ray-address: only with --executor ray"),
        (["--task-retries", "-1"], r"--task-retries -1"),
        (["--gpus-per-task", "-1"], r"--gpus-per-task -1\.0: must be 0 or more"),
    ],
)
def test_bad_execution_options_are_one_line(tiny_model_path, tmp_path, capsys, argv, message):
    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    capsys.readouterr()
    code = main(["run", "--source", str(source), "--target", str(target), *SWEEP, *argv,
                 "--results-dir", str(tmp_path / "r"), "--report-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("emoalign: error:")
    assert re.search(message, err[0])
    assert not (tmp_path / "r" / "baseline").exists()


def test_missing_ray_is_one_line_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(EmoalignError, match=r"Ray is not installed \(pip install 'emoalign\[ray\]'\)"):
        make_executor("ray").map(_square, 1, 2)


def test_extraction_units_ask_for_gpus_only_on_cuda(tiny_model_path):
    from emoalign.data.dataset import load_profile
    from emoalign.data.lexicon import DEFAULT_LEXICON
    from emoalign.extract.cache import ExtractionRequest
    from emoalign.models.registry import resolve_model
    from emoalign.study.workplan import unit_name, unit_resources

    request = ExtractionRequest(resolve_model(str(tiny_model_path("llama"))), load_profile("baseline"), (0, 1, 3),
                                DEFAULT_LEXICON, device="cpu")
    assert unit_resources(request) == TaskResources(cpus=1, gpus=0)
    cuda = request.__class__(**{**request.__dict__, "device": "cuda"})
    assert unit_resources(cuda) == TaskResources(cpus=1, gpus=0.25)  # a tiny model shares a GPU
    assert unit_resources(cuda, gpus_per_task=4, threads=2) == TaskResources(cpus=2, gpus=4)
    assert unit_name(request) == f"extract {request.spec.name} layers 0,1,3"


def test_a_local_sweep_never_imports_ray(tiny_model_path, tmp_path):
    code = (
        "import sys; from emoalign.cli import main; "
        f"rc = main(['sweep', '--source', {str(tiny_model_path('gpt2'))!r}, '--targets', "
        f"{str(tiny_model_path('llama'))!r}, *{SWEEP!r}, '--no-figures', '--results-dir', {str(tmp_path / 'r')!r}, "
        f"'--report-dir', {str(tmp_path / 'd')!r}]); "
        "assert rc == 0; assert 'ray' not in sys.modules, 'ray imported'; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def _array_digests(root: Path) -> dict[str, str]:
    """sha256 of every array of every safetensors file under ``root``, by relative path and key."""
    out = {}
    for path in sorted(root.rglob("*.safetensors")):
        for key, array in load_file(path).items():
            out[f"{path.relative_to(root)}:{key}"] = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
    return out


def _kill_once(prefix: str, killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first process whose title starts with ``prefix`` (a Ray worker running that task)."""
    while not stop.is_set() and not killed:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            except OSError:
                continue
            if title.startswith(prefix):
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.05)


def test_ray_sweep_equals_the_local_sweep_even_when_a_worker_is_killed(tiny_model_path, tmp_path):
    ray = pytest.importorskip("ray")
    source, targets = tiny_model_path("gpt2"), [tiny_model_path("llama"), tiny_model_path("gemma2")]
    common = ["sweep", "--source", str(source), "--targets", *map(str, targets), *SWEEP, "--no-figures",
              "--workers", "2"]
    local_dirs = ["--results-dir", str(tmp_path / "local"), "--report-dir", str(tmp_path / "local-report")]
    assert main([*common, *local_dirs]) == 0

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # configure_logging=False: Ray's handler would keep this test's captured stderr and write into it,
    # closed, when a later test in this process logs
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _node_ip_address="127.0.0.1")
    try:
        # the executor itself: results in task order, a retried task, bad input never retried
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
        executor = make_executor("ray")
        assert executor.map(_square, 3, 5) == [0, 3, 12, 27, 48]
        for each in (executor, LocalExecutor(2)):  # the first failure in task order, not in time
            with pytest.raises(RuntimeError, match="task 1 failed"):
                each.map(_fails_late_then_early, None, 4)
        (tmp_path / "flaky").mkdir()
        outcomes = executor.run_named(_flaky, (tmp_path / "flaky", 1), ["zero", "one", "two"])
        assert [(o.value, o.error) for o in outcomes] == [(0, None), (1, None), (None, "bad input in unit 2")]
        assert int((tmp_path / "flaky" / "tries").read_text()) == 2  # task 1 failed once, then Ray retried it

        killed: list[int] = []
        stop = threading.Event()
        killer = threading.Thread(target=_kill_once, args=(f"ray::analyse {source.name}_vs_", killed, stop))
        killer.start()
        try:
            code = main([*common, "--executor", "ray", "--results-dir", str(tmp_path / "ray"),
                         "--report-dir", str(tmp_path / "ray-report")])
        finally:
            stop.set()
            killer.join()
    finally:
        ray.shutdown()
    assert code == 0 and killed, "a pair's worker was killed and the sweep still finished"
    local, distributed = _array_digests(tmp_path / "local"), _array_digests(tmp_path / "ray")
    assert len(local) > 50 and distributed == local
    report = (tmp_path / "ray-report" / f"{source.name}_comparative_report.md").read_text()
    assert all(f"{source.name}_vs_{t.name}" in report for t in targets)
    summary = Path("baseline", "statistics", f"{source.name}_comparative_summary.csv")
    local_csv = (tmp_path / "local" / summary).read_text().replace(str(tmp_path / "local"), str(tmp_path / "ray"))
    assert (tmp_path / "ray" / summary).read_text() == local_csv  # the same numbers; only the folder differs


def test_a_failed_pair_is_named_and_the_others_are_written(tiny_model_path, tmp_path, capsys, monkeypatch):
    """Under a distributed executor (here the fan-out run by the local one): one target whose
    extraction fails at run time is named with its error; the other pair is written, the
    comparative report is not."""
    import emoalign.study.runner as runner
    import emoalign.study.workplan as workplan
    from emoalign.execution.local import LocalExecutor

    class FanOut(LocalExecutor):
        distributed = True

    monkeypatch.setattr(runner, "make_runtime_executor", lambda runtime: FanOut(retries=1))
    real = workplan.get_activations
    source, good, bad = tiny_model_path("gpt2"), tiny_model_path("llama"), tiny_model_path("gemma2")
    capsys.readouterr()

    def failing(request, *args, **kwargs):
        if request.spec.name == bad.name and request.untrained_seed is None:
            raise RuntimeError("CUDA error: device-side assert")
        return real(request, *args, **kwargs)

    monkeypatch.setattr(workplan, "get_activations", failing)
    code = main(["sweep", "--source", str(source), "--targets", str(good), str(bad), *SWEEP, "--no-figures",
                 "--results-dir", str(tmp_path / "r"), "--report-dir", str(tmp_path / "d")])
    # the study's own warnings go to stderr too (through logging); the failure is one error line
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("emoalign: warning:")]
    assert code == 2 and len(err) == 1, err
    assert f"extract {bad.name} layers 0-1 (RuntimeError: CUDA error: device-side assert, 2 tries)" in err[0]
    assert f"analyse {source.name}_vs_{bad.name} (needs extract {bad.name} layers 0-1, which failed)" in err[0]
    alignment = tmp_path / "r" / "baseline" / "alignment"
    assert (alignment / f"{source.name}_vs_{good.name}_token_based_full.safetensors").is_file()
    assert not (tmp_path / "d" / f"{source.name}_comparative_report.md").exists()


def test_outcome_ok():
    assert Outcome("a", 1).ok and not Outcome("b", error="x").ok
