"""Benchmark (issue 12): the tiny-model sweep under the local and the Ray executor, side by side in one
run, and a paper estimate of a full study on a cluster built from measured per-task costs.

Part 1, this machine. Tiny random-weight models (tests/tiny_models.py, 4 blocks, width 64): source gpt2
against 4 targets (llama, qwen2, gpt_neox, gemma2), the baseline profile (70 prompts per label), all 4
layers, default statistics (k = 8, 200 permutations, 1000 bootstrap resamples, 50 pairing shuffles) and
20 baseline seeds. Each round runs ``emoalign sweep`` as a whole process into a fresh results folder
(cold cache: every model and copy is extracted), ``--workers 2``, once with ``--executor local`` and
once with ``--executor ray`` (a local Ray instance of 2 CPUs, started and stopped by the command), in
alternating order. The arrays of every artifact are compared by sha256 between the two.

Part 2, per-task costs at the size of the paper's study, measured here in one process with one thread:
one layer pair's analysis and statistics (768 -> 4096, 70 prompts per emotion, 3 emotions, defaults),
one (copy, layer pair) baseline task at the same size, and Ray's overhead per task (no-op tasks) and
per start. The cluster estimate for GPT-2 against three 8-12B targets (12 layers, 20 baseline seeds,
200 permutations) combines them with the extraction units, whose GPU cost is NOT measured here (no GPU
lent): it is modelled from the parameter count and an assumed throughput, stated in the table.

Run: ``.venv/bin/python benchmarks/scale.py [--rounds 1] [--no-write]`` (``--quick``: 2 targets, 4 seeds,
1 round, no write).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from align_speed import copies_for, synthetic_pair  # noqa: E402
from results_section import write_section  # noqa: E402

SECTION = "scale.py"
TARGETS = ("llama", "qwen2", "gpt_neox", "gemma2")
OVERHEAD_FLOOR = 1.15
# The paper's study: GPT-2 small against Llama-3.1-8B, Gemma-3-12B, Qwen3-8B (the seed report's targets)
STUDY_TARGETS = {"llama3_8b": 8.0e9, "gemma3_12b": 12.2e9, "qwen3_8b": 8.2e9}
STUDY_LAYERS, STUDY_SEEDS, CPUS_PER_GPU = 12, 20, 8
# Not measured (no GPU lent): an extraction unit = reading the weights + one pass over the prompts
ASSUMED_LOAD_GB_S, ASSUMED_TOKENS_S_PER_B, ASSUMED_COPY_BUILD_S_PER_B = 2.0, 3.0e5, 0.5


def sweep_argv(mode: str, models: dict[str, Path], out: Path, seeds: int) -> list[str]:
    targets = [str(models[t]) for t in models if t != "gpt2"]
    return [
        sys.executable, "-m", "emoalign.cli.parser", "sweep", "--source", str(models["gpt2"]), "--targets", *targets,
        "--baseline-seeds", str(seeds), "--device", "cpu", "--workers", "2", "--executor", mode, "--quiet",
        "--no-figures", "--results-dir", str(out / "results"), "--report-dir", str(out / "report"),
    ]


def run_sweep(mode: str, models: dict[str, Path], out: Path, seeds: int) -> float:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    done = subprocess.run(sweep_argv(mode, models, out, seeds), capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{mode} sweep failed:\n{done.stderr[-3000:]}")
    return seconds


def array_digests(root: Path) -> dict[str, str]:
    from safetensors.numpy import load_file

    return {
        f"{path.relative_to(root)}:{key}": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
        for path in sorted(root.rglob("*.safetensors")) for key, a in load_file(path).items()
    }


def machine_part(targets: tuple[str, ...], seeds: int, rounds: int, work: Path) -> dict:
    from tiny_models import build_tiny_model

    models = {family: build_tiny_model(family, work / "models" / family) for family in ("gpt2", *targets)}
    times: dict[str, list[float]] = {"local": [], "ray": []}
    digests: dict[str, dict[str, str]] = {}
    for r in range(rounds):
        for mode in ("local", "ray") if r % 2 == 0 else ("ray", "local"):
            out = work / f"{mode}-{r}"
            times[mode].append(run_sweep(mode, models, out, seeds))
            digests[mode] = array_digests(out / "results")
            print(f"round {r + 1}: {mode:<5} {times[mode][-1]:7.1f} s", flush=True)
    return {"times": times, "identical": digests["local"] == digests["ray"], "n_arrays": len(digests["local"]),
            "n_targets": len(targets), "seeds": seeds}


def _noop(shared: object, i: int) -> int:
    return i


def task_costs() -> dict[str, float]:
    """Seconds per task at the paper's sizes (one thread), and Ray's start and per-task overhead."""
    from threadpoolctl import threadpool_limits

    from emoalign.analysis.alignment import (
        AlignConfig,
        align_layer_pair,
        copy_cross_overlaps,
    )
    from emoalign.execution import make_executor
    from emoalign.study.parallel import PAIR_CACHE, SOURCE_CACHE

    source, target = synthetic_pair(1, 0, ("source", "target"))
    (copy_source, copy_target), = copies_for(1, 1)
    config = AlignConfig(baseline_seeds=STUDY_SEEDS)
    with threadpool_limits(limits=1, user_api="blas"):
        SOURCE_CACHE.clear(), PAIR_CACHE.clear()
        start = time.perf_counter()
        aligned = align_layer_pair(source, target, 0, 0, config)
        pair_s = time.perf_counter() - start
        start = time.perf_counter()
        copy_cross_overlaps(copy_source, copy_target, 0, 0, config, aligned.profile_ks)
        copy_s = time.perf_counter() - start
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    executor = make_executor("ray", workers=2)
    start = time.perf_counter()
    executor.map(_noop, None, 2)  # starts the instance and two workers
    start_s = time.perf_counter() - start
    start = time.perf_counter()
    executor.map(_noop, None, 400)
    per_task_s = (time.perf_counter() - start) / 400 * 2  # two workers run them side by side
    executor.close()
    return {"pair_s": pair_s, "copy_s": copy_s, "ray_start_s": start_s, "ray_task_s": per_task_s}


def extraction_unit_s(params: float, tokens: int, copy: bool) -> float:
    """Modelled GPU seconds of one extraction unit (see the assumptions in the module docstring)."""
    billions = params / 1e9
    build = billions * ASSUMED_COPY_BUILD_S_PER_B if copy else 2 * billions / ASSUMED_LOAD_GB_S  # bf16 bytes
    return build + tokens / (ASSUMED_TOKENS_S_PER_B / billions)


def makespan(costs: list[float], slots: int) -> float:
    """Longest-first list scheduling of ``costs`` on ``slots`` identical slots."""
    loads = [0.0] * max(1, slots)
    for cost in sorted(costs, reverse=True):
        loads[loads.index(min(loads))] += cost
    return max(loads)


def cluster_estimate(costs: dict[str, float], gpus: int, tokens: int = 6000) -> dict[str, float]:
    """Wall seconds of the paper's study on ``gpus`` GPUs with CPUS_PER_GPU CPUs each."""
    units = [extraction_unit_s(0.124e9, tokens, False)] + [extraction_unit_s(0.124e9, tokens, True)] * STUDY_SEEDS
    for params in STUDY_TARGETS.values():
        units += [extraction_unit_s(params, tokens, False)] + [extraction_unit_s(params, tokens, True)] * STUDY_SEEDS
    n_pairs = len(STUDY_TARGETS) * STUDY_LAYERS
    stats = [costs["pair_s"] + costs["ray_task_s"]] * n_pairs
    stats += [costs["copy_s"] + costs["ray_task_s"]] * (n_pairs * STUDY_SEEDS)
    extract_s = makespan([u + costs["ray_task_s"] for u in units], gpus)
    analyse_s = makespan(stats, gpus * CPUS_PER_GPU)
    return {"gpus": gpus, "extract_s": extract_s, "analyse_s": analyse_s,
            "total_s": costs["ray_start_s"] + extract_s + analyse_s, "gpu_s": sum(units), "cpu_s": sum(stats)}


def report(machine: dict, costs: dict[str, float], estimates: list[dict], command: str) -> str:
    local, ray = machine["times"]["local"], machine["times"]["ray"]
    ratio = float(np.median(ray) / np.median(local))
    verdict = "MET" if ratio <= OVERHEAD_FLOOR else "NOT MET"
    lines = [
        "## Sweeps on a Ray cluster (`benchmarks/scale.py`)", "", "```bash", command, "```", "",
        f"Tiny sweep: gpt2 against {machine['n_targets']} targets, {machine['seeds']} baseline seeds, 4 layers, 70 "
        "prompts per label, default statistics, `--workers 2`, cold cache, whole processes, alternating order "
        "(this 2-core machine).", "",
        "| executor | wall s per round | median |", "|---|---|---|",
        f"| local | {', '.join(f'{t:.1f}' for t in local)} | {np.median(local):.1f} |",
        f"| ray (local instance, 2 CPUs) | {', '.join(f'{t:.1f}' for t in ray)} | {np.median(ray):.1f} |", "",
        f"- ray / local = **{ratio:.2f}x** (floor <= {OVERHEAD_FLOOR}x: {verdict}); speed-up local / ray = "
        f"{1 / ratio:.2f}x.",
        f"- Identical artifacts: {'yes' if machine['identical'] else 'NO'} (sha256 of all {machine['n_arrays']} "
        "arrays of every safetensors file, cache included).", "",
        "Per-task costs, measured here (one thread; 768 -> 4096, 70 prompts x 3 emotions, k = 8, defaults):", "",
        "| task | s |", "|---|---|",
        f"| one layer pair: map, overlaps and statistics | {costs['pair_s']:.2f} |",
        f"| one (copy, layer pair) of the baseline | {costs['copy_s']:.3f} |",
        f"| Ray: start of a local instance and 2 workers | {costs['ray_start_s']:.1f} |",
        f"| Ray: overhead per task (no-op tasks, 2 workers) | {costs['ray_task_s'] * 1000:.1f} ms |", "",
        f"Estimate for the paper's study: GPT-2 against {', '.join(STUDY_TARGETS)} ({STUDY_LAYERS} layers, "
        f"{STUDY_SEEDS} baseline seeds, 200 permutations): {1 + len(STUDY_TARGETS)} extraction units and "
        f"{(1 + len(STUDY_TARGETS)) * STUDY_SEEDS} copy units (GPU), {len(STUDY_TARGETS) * STUDY_LAYERS} layer-pair "
        f"tasks and {len(STUDY_TARGETS) * STUDY_LAYERS * STUDY_SEEDS} copy tasks (CPU, {CPUS_PER_GPU} CPUs per GPU), "
        "longest-first scheduling. The CPU tasks use the measured costs above; the GPU units are **modelled, not "
        f"measured** (no GPU lent): weights read at {ASSUMED_LOAD_GB_S:g} GB/s in bfloat16, a copy built at "
        f"{ASSUMED_COPY_BUILD_S_PER_B:g} s per billion parameters, {ASSUMED_TOKENS_S_PER_B:.0e} tokens/s per billion "
        "parameters forward, 6,000 tokens per pass.", "",
        "| GPUs | extraction min | analysis min | total min | GPU-hours | CPU-hours |", "|---|---|---|---|---|---|",
    ]
    for e in estimates:
        lines.append(f"| {e['gpus']} | {e['extract_s'] / 60:.1f} | {e['analyse_s'] / 60:.1f} | {e['total_s'] / 60:.1f} "
                     f"| {e['gpu_s'] / 3600:.2f} | {e['cpu_s'] / 3600:.2f} |")
    longer = {"extraction" if e["extract_s"] >= e["analyse_s"] else "analysis" for e in estimates}
    lines += ["", f"The longer stage at every N shown: {' / '.join(sorted(longer))}. Extraction units scale with "
              "GPUs (the copies are most of them); the statistics scale with CPUs, so more CPUs per GPU shorten the "
              "analysis column in proportion."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    targets = TARGETS[:2] if args.quick else TARGETS
    seeds = 4 if args.quick else args.seeds
    with tempfile.TemporaryDirectory(prefix="emoalign-scale-") as work:
        machine = machine_part(targets, seeds, 1 if args.quick else args.rounds, Path(work))
    costs = task_costs()
    estimates = [cluster_estimate(costs, gpus) for gpus in (1, 4, 8, 16)]
    command = "python " + " ".join(shlex.quote(a) for a in ["benchmarks/scale.py", *sys.argv[1:]])
    body = report(machine, costs, estimates, command)
    print(body)
    print(json.dumps({"machine": machine["times"], "costs": costs}, indent=1))
    if not (args.quick or args.no_write):
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
