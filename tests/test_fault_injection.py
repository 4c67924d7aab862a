"""Fault injection (issue 10, reliability): SIGKILL an `emoalign` run during extraction and during
analysis, then rerun; two concurrent runs into one results folder; no stale temporaries left.

Every run is ``emoalign.cli.parser.main(argv)`` -- what the ``emoalign`` console script calls -- in a process
of its own, with ``sys.argv`` set as the CLI would. To stay fast, the processes are forked from one
*launcher* process that has imported torch/transformers/emoalign once (a fresh interpreter costs
~5-8 s of imports per run). The launcher can also hold a child at a chosen point, so that the SIGKILL
lands deterministically where a test wants it:

- ``("write", n)``: at the n-th rename of an ``atomic_write`` temporary, the temporary is truncated
  to half its size (a write cut off midway) and the child stops before the rename;
- ``("call", "module:function", n)``: at the n-th call of that function (looked up through its
  module at call time), before it runs.

The child writes ``<markers>/paused`` (holding the destination or function) once it has stopped; the
test then sends SIGKILL and checks the child died of it (exit status -9) before anything else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from emoalign.io.storage import load_arrays

pytestmark = pytest.mark.skipif(not (hasattr(os, "fork") and Path("/proc/self/stat").exists()),
                                reason="needs fork() and /proc (Linux)")

TIMEOUT = 120.0  # seconds any one child may take (a hung child fails the test instead of hanging it)

# Small settings (2 layers, 8 prompts per label, k = 4): permutation counts of 20 let p reach alpha
# 0.05. No random-weight copies (--baseline-seeds 0, a warning): they would triple the extraction
# time of every run here.
SETTINGS = ["--profile", "baseline", "--max-samples-per-emotion", "8", "--n-components", "4", "--layers", "0", "1",
            "--permutations", "20", "--bootstrap", "50", "--pairing-permutations", "20", "--baseline-seeds", "0",
            "--device", "cpu", "--quiet", "--results-dir", "results", "--report-dir", "report"]

LAUNCHER = r'''
import importlib, json, os, re, signal, sys, time

# What a run imports, loaded once here (children only fork); a name missing in some version is skipped.
for name in ["emoalign.cli.parser", "emoalign.cli.commands", "emoalign.study.pipeline", "emoalign.analysis.alignment",
             "emoalign.extract.baseline", "emoalign.report.summary", "emoalign.report.plots",
             "emoalign.report.comparative", "emoalign.report.document", "emoalign.report.i18n",
             "matplotlib.pyplot", "matplotlib.backends.backend_agg", "pandas.io.formats.csvs",
             "PIL.PngImagePlugin", "PIL.BmpImagePlugin", "PIL.GifImagePlugin", "PIL.JpegImagePlugin",
             "PIL.PpmImagePlugin", "PIL.features", "importlib.resources.readers",
             "transformers.models.gpt2.modeling_gpt2", "transformers.models.llama.modeling_llama"]:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
import emoalign.cli.parser
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model, LlamaConfig, LlamaForCausalLM, LlamaModel

TEMPORARY = re.compile(r"^\..+\.pid\d+\.[^.]+\.tmp$")


def hold(markers, what):
    with open(os.path.join(markers, "paused.part"), "w") as handle:
        handle.write(str(what))
    os.rename(os.path.join(markers, "paused.part"), os.path.join(markers, "paused"))
    while True:
        time.sleep(60)


def install(hook, markers):
    if hook is None:
        return
    count = [0]
    run_pid = os.getpid()  # hold only the run itself, never a worker process it may fork
    if hook[0] == "write":
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if os.getpid() == run_pid and TEMPORARY.match(os.path.basename(os.fspath(src))):
                count[0] += 1
                if count[0] == hook[1]:
                    size = os.path.getsize(src)
                    with open(src, "r+b") as handle:
                        handle.truncate(size // 2)
                    hold(markers, os.path.abspath(os.fspath(dst)))
            return real_replace(src, dst, *args, **kwargs)

        os.replace = replace
    else:
        module_name, name = hook[1].split(":")
        module = sys.modules[module_name]
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            count[0] += os.getpid() == run_pid
            if count[0] == hook[2] and os.getpid() == run_pid:
                hold(markers, hook[1])
            return real(*args, **kwargs)

        setattr(module, name, wrapper)


def build(request):
    """Build a tiny random-weight model (tests/tiny_models.py) in a child of its own."""
    sys.path.insert(0, request["tests"])
    from tiny_models import DEFAULT_TOKENIZER, build_tiny_model

    fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    build_tiny_model(request["family"], request["folder"], tokenizer=DEFAULT_TOKENIZER[request["family"]], seed=0)


def child(request):
    if request["op"] == "build":
        try:
            build(request)
            code = 0
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.chdir(request["cwd"])
    install(request["hook"], request["markers"])
    sys.argv = ["emoalign", *request["argv"]]
    try:
        code = emoalign.cli.parser.main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def wait(pid, timeout):
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.02)


print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "wait":
        print(json.dumps({"rc": wait(request["pid"], request["timeout"])}), flush=True)
        continue
    pid = os.fork()
    if pid == 0:
        child(request)
    print(json.dumps({"pid": pid}), flush=True)
os._exit(0)  # stdin closed: no interpreter teardown (torch's takes seconds)
'''


class Launcher:
    """Starts `emoalign` CLI runs as children of one pre-imported process (see the module docstring)."""

    def __init__(self, workdir: Path):
        # One thread per run: the tiny models gain nothing from more, concurrent runs do not
        # oversubscribe the cores, and no OpenMP pool exists in the launcher when it forks.
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}
        self.process = subprocess.Popen([sys.executable, "-c", LAUNCHER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env, cwd=workdir)
        self.logs: dict[int, Path] = {}
        self.running: set[int] = set()  # started, not yet waited for
        assert self._reply() == {"ready": True}

    def _reply(self) -> dict:
        line = self.process.stdout.readline()
        assert line, "the launcher process died"
        return json.loads(line)

    def _send(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._reply()

    def start(self, argv: list[str], cwd: Path, hook: tuple | None = None) -> tuple[int, Path]:
        """Start ``emoalign *argv`` in ``cwd``; returns (pid, markers folder)."""
        markers = cwd / f"markers-{time.monotonic_ns()}"
        markers.mkdir(parents=True)
        log = markers / "log.txt"
        pid = self._send({"op": "start", "argv": argv, "cwd": str(cwd), "log": str(log), "hook": hook,
                          "markers": str(markers)})["pid"]
        self.logs[pid] = log
        self.running.add(pid)
        return pid, markers

    def build(self, families: list[str], root: Path) -> list[Path]:
        """Tiny random-weight models (``tiny_models.build_tiny_model``, as the ``tiny_model_path``
        fixture builds them) in ``root/<family>``, built in parallel children of the launcher (so
        this process never imports torch)."""
        pids = []
        for family in families:
            log = root / f"build-{family}.log"
            pids.append(self._send({"op": "build", "family": family, "folder": str(root / family),
                                    "tests": str(Path(__file__).parent), "log": str(log)})["pid"])
            self.logs[pids[-1]] = log
            self.running.add(pids[-1])
        for pid in pids:
            rc = self.wait(pid)
            assert rc == 0, self.log(pid)[-3000:]
        return [root / family for family in families]

    def wait(self, pid: int) -> int | None:
        """The child's exit status (-9: killed by SIGKILL; None: it ran past TIMEOUT)."""
        rc = self._send({"op": "wait", "pid": pid, "timeout": TIMEOUT})["rc"]
        self.running.discard(pid)
        return rc

    def kill(self, pid: int) -> int | None:
        """SIGKILL a child and return its exit status."""
        os.kill(pid, signal.SIGKILL)
        return self.wait(pid)

    def log(self, pid: int) -> str:
        return self.logs[pid].read_text(errors="replace")

    def run(self, argv: list[str], cwd: Path) -> int | None:
        pid, _ = self.start(argv, cwd)
        rc = self.wait(pid)
        assert rc == 0, f"emoalign {' '.join(argv)} exited {rc}:\n{self.log(pid)[-3000:]}"
        return rc

    def kill_when_held(self, argv: list[str], cwd: Path, hook: tuple) -> str:
        """Run until the hook holds the child, SIGKILL it; returns what the child was held at."""
        pid, markers = self.start(argv, cwd, hook)
        paused = markers / "paused"
        self.poll(pid, paused.exists, f"reaching {hook}")
        assert self.kill(pid) == -signal.SIGKILL
        return paused.read_text()

    def poll(self, pid: int, condition, what: str) -> None:
        """Wait until ``condition()`` holds while child ``pid`` runs; fails if the child ends first."""
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            assert time.monotonic() < deadline, f"timed out before {what}:\n{self.log(pid)[-3000:]}"
            assert not _exited(pid), f"the run ended before {what}:\n{self.log(pid)[-3000:]}"
            time.sleep(0.005)

    def close(self) -> None:
        for pid in list(self.running):  # children a failed test left (e.g. held by a hook)
            self.kill(pid)
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.process.kill()
            self.process.wait()


def _exited(pid: int) -> bool:
    """Whether ``pid`` (a child of the launcher, not of this process) has finished or become a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


# ----------------------------------------------------------------------------------------- helpers


def run_argv(source: Path, target: Path, command: str = "run") -> list[str]:
    return [command, "--source", str(source), "--target", str(target), *SETTINGS]


def final_files(root: Path) -> list[Path]:
    """Every non-hidden file under ``root`` (relative paths), sorted."""
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def temporaries(root: Path) -> list[Path]:
    return sorted(root.rglob(".*.tmp"))


def without_provenance(value):
    if isinstance(value, dict):
        return {key: without_provenance(item) for key, item in value.items() if key != "provenance"}
    if isinstance(value, list):
        return [without_provenance(item) for item in value]
    return value


# Every run here has the same command line (same argv, relative output folders), so only the date
# of a report may differ.
# a date line, or a provenance line with the time a model was extracted (ISO 8601)
PROVENANCE_LINE = re.compile(r"^\s*(?:[-*]\s*)?date\s*:|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", re.IGNORECASE)


def report_text(path: Path) -> list[str]:
    """A Markdown report without its date and time-stamp lines."""
    return [line for line in path.read_text().splitlines() if not PROVENANCE_LINE.search(line)]


def assert_every_safetensors_loads(root: Path) -> None:
    """No final path holds a half-written artifact: every .safetensors passes its sha256 check."""
    for path in root.rglob("*.safetensors"):
        if not path.name.startswith("."):
            load_arrays(path)  # raises EmoalignError on a truncated or damaged file


def assert_same_artifacts(folder: Path, reference: Path) -> None:
    """``folder``'s results and report equal ``reference``'s: the same files, arrays bit for bit,
    metadata without provenance, Markdown without its date line, everything else (CSV, figures)
    byte for byte."""
    for sub in ("results", "report"):
        got, want = folder / sub, reference / sub
        assert final_files(got) == final_files(want), sub
        for relative in final_files(want):
            a, b = got / relative, want / relative
            if relative.suffix == ".safetensors":
                arrays_a, meta_a = load_arrays(a)
                arrays_b, meta_b = load_arrays(b)
                assert sorted(arrays_a) == sorted(arrays_b), relative
                for name in arrays_b:
                    assert arrays_a[name].dtype == arrays_b[name].dtype, (relative, name)
                    assert np.array_equal(arrays_a[name], arrays_b[name],
                                          equal_nan=arrays_b[name].dtype.kind in "fc"), (relative, name)
                assert without_provenance(meta_a) == without_provenance(meta_b), relative
            elif relative.suffix == ".md":
                assert report_text(a) == report_text(b), relative
            else:  # CSV, figures, anything else: byte for byte
                assert a.read_bytes() == b.read_bytes(), relative


# ----------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def launcher(tmp_path_factory):
    process = Launcher(tmp_path_factory.mktemp("launcher"))
    yield process
    process.close()


@pytest.fixture(scope="module")
def models(launcher, tmp_path_factory):
    return launcher.build(["gpt2", "llama"], tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def reference(launcher, models, tmp_path_factory) -> Path:
    """The uninterrupted run every other run is compared with."""
    folder = tmp_path_factory.mktemp("reference")
    launcher.run(run_argv(*models), folder)
    assert (folder / "results" / "baseline" / "alignment").is_dir()
    assert temporaries(folder) == []
    return folder


@pytest.fixture(scope="module")
def killed_during_extraction(launcher, models, reference, tmp_path_factory) -> dict:
    """Two runs SIGKILLed while extracting, then a rerun. Kill 1 falls wherever the run is once the
    first activation file is cached; kill 2 holds the child halfway through writing a cache file."""
    folder = tmp_path_factory.mktemp("killed-extraction")
    cache = folder / "results" / "cache"
    argv = run_argv(*models)
    record: dict = {"folder": folder}

    pid, _ = launcher.start(argv, folder)
    launcher.poll(pid, lambda: any(cache.glob("*.safetensors")), "caching a first activation file")
    record["kill_1"] = launcher.kill(pid)
    record["cached_after_kill_1"] = sorted(p.name for p in cache.glob("*.safetensors"))
    assert_every_safetensors_loads(folder)

    record["held_at"] = Path(launcher.kill_when_held(argv, folder, ("write", 1)))
    record["alignment_before_rerun"] = list((folder / "results").rglob("*_full.safetensors"))
    assert_every_safetensors_loads(folder)
    record["temporaries_before_rerun"] = temporaries(folder / "results")

    launcher.run(argv, folder)
    return record


@pytest.fixture(scope="module")
def killed_during_analysis(launcher, models, reference, tmp_path_factory) -> dict:
    """The activation cache is complete (the reference run's), then: `emoalign align` is SIGKILLed
    while the statistics of its second layer pair run, `emoalign run` is SIGKILLed halfway through
    writing its third artifact, and `emoalign run` is run again."""
    folder = tmp_path_factory.mktemp("killed-analysis")
    shutil.copytree(reference / "results" / "cache", folder / "results" / "cache")
    record: dict = {"folder": folder}

    record["held_in"] = launcher.kill_when_held(run_argv(*models, "align"), folder,
                                                ("call", "emoalign.analysis.alignment:cell_statistics", 2))
    record["written_by_align"] = final_files(folder / "results" / "baseline") \
        if (folder / "results" / "baseline").exists() else []
    assert_every_safetensors_loads(folder)

    record["held_at"] = Path(launcher.kill_when_held(run_argv(*models), folder, ("write", 3)))
    assert_every_safetensors_loads(folder)
    record["temporaries_before_rerun"] = temporaries(folder / "results")

    launcher.run(run_argv(*models), folder)
    return record


# ----------------------------------------------------------------------------------------- tests


def test_sigkill_during_extraction_then_rerun_gives_identical_artifacts(killed_during_extraction, reference):
    record = killed_during_extraction
    folder = record["folder"]
    assert record["kill_1"] == -signal.SIGKILL  # killed, not finished
    assert 1 <= len(record["cached_after_kill_1"]) < len(list((reference / "results" / "cache").glob("*")))
    cache = folder / "results" / "cache"
    assert record["held_at"].parent == cache and record["held_at"].suffix == ".safetensors"
    assert record["alignment_before_rerun"] == []  # no analysis had started
    assert_every_safetensors_loads(folder)
    assert_same_artifacts(folder, reference)


def test_sigkill_during_analysis_then_rerun_gives_identical_artifacts(killed_during_analysis, reference):
    record = killed_during_analysis
    folder = record["folder"]
    assert record["held_in"] == "emoalign.analysis.alignment:cell_statistics"
    assert record["written_by_align"] == []  # killed mid-statistics: nothing written yet
    assert (folder / "results" / "baseline") in record["held_at"].parents  # a final artifact, not the cache
    assert_every_safetensors_loads(folder)
    assert_same_artifacts(folder, reference)


def test_two_concurrent_runs_into_one_folder_both_complete_with_verified_artifacts(launcher, models, reference,
                                                                                    tmp_path):
    argv = run_argv(*models)
    first, _ = launcher.start(argv, tmp_path)
    second, _ = launcher.start(argv, tmp_path)
    codes = [launcher.wait(first), launcher.wait(second)]
    assert codes == [0, 0], "\n---\n".join(launcher.log(pid)[-3000:] for pid in (first, second))
    assert_every_safetensors_loads(tmp_path)
    assert_same_artifacts(tmp_path, reference)
    assert temporaries(tmp_path / "results") == []


@pytest.mark.parametrize("scenario", ["killed_during_extraction", "killed_during_analysis"])
def test_rerun_after_a_kill_leaves_no_stale_temporary(scenario, request):
    """The killed runs left half-written hidden temporaries (``.<name>.pid<PID>.<random>.tmp``);
    the rerun must remove them (``emoalign.io.storage.remove_stale_temporaries`` at start-up)."""
    record = request.getfixturevalue(scenario)
    results = record["folder"] / "results"
    left = record["temporaries_before_rerun"]
    assert left, "the kill left no temporary, so this test proves nothing"
    assert all(re.fullmatch(r"\..+\.pid\d+\.[^.]+\.tmp", p.name) for p in left)
    remaining = [str(p.relative_to(results)) for p in temporaries(results)]
    assert remaining == [], f"left under {results} after the rerun: {remaining}"
