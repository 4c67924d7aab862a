"""Benchmark: the statistics of `emoalign align`, serial (workers=1) against two worker processes (issue 13).

Synthetic activations built in memory (``ActivationSet``, as the tests build them): 12 layer pairs x 3
emotions x 70 prompts, d_s = 768 -> d_t = 4096, 300 neutral reference words per layer (60 reference
prompts x 5 words), shared latent factors read out by each model plus noise. Default statistics
(``AlignConfig()``: k = 8, ridge map on neutral words, 200 label permutations, 1000 bootstrap resamples,
50 pairing shuffles). Scenarios, each timed interleaved (workers=1 then 2, then 2 then 1, ...):

1. no baseline (baseline_seeds 0): the floor of issue 13 (<= 15 s on 2 cores);
2. the same study with 4 synthetic copy pairs (768 / 4096) in the baseline;
3. one source against two targets (``emoalign sweep``, workers=2): the second target with the source-side
   resample PCAs cached, against the same target cold.

Every result is compared with the serial one: ``np.array_equal`` on every array of the AlignmentResult,
``DataFrame.equals`` on the cell, layer and k-profile tables. Caches are cleared before every cold run.
``--before DIR`` also times a checkout from before this work (its ``src`` folder) in a subprocess, in
scenario 1.

Run: ``.venv/bin/python benchmarks/align_speed.py [--rounds 2] [--layers 12] [--copies 4] [--before DIR]``
(``--quick``: 2 layers, 1 round, nothing written; ``--no-write``: do not touch RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
from results_section import (
    write_section,  # benchmarks/ is the script's folder: on sys.path
)

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "align_speed.py"  # its marked section of RESULTS.md
EMOTIONS = ("anger", "joy", "sadness")
D_S, D_T, N_PROMPTS, N_REF, WORDS, LATENT = 768, 4096, 70, 60, 5, 96
FLOOR_S = 15.0


def synthetic_pair(
    n_layers: int, seed: int, names: tuple[str, str], copy_seeds: tuple[int, int] | None = None,
    target_seed: int | None = None,
):
    """(source, target) ActivationSets on the same prompts: latent factors z (emotion e loads 4x on its
    own 8 factors) read out by a random (96, d) matrix per model and layer, plus noise of sd 0.5.
    ``target_seed``: the target's read-out and noise from their own stream (same source, another target)."""
    from emoalign.extract.activations import ActivationSet

    rng = np.random.default_rng(seed)
    target_rng = rng if target_seed is None else np.random.default_rng(target_seed)
    labels = tuple(e for e in EMOTIONS for _ in range(N_PROMPTS)) + ("neutral",) * N_REF
    n, n_words = len(labels), N_REF * WORDS
    prompt = {d: np.empty((n_layers, n, d), np.float32) for d in (D_S, D_T)}
    words = {d: np.empty((n_layers, n_words, d), np.float32) for d in (D_S, D_T)}
    for layer in range(n_layers):
        z = rng.standard_normal((n, LATENT))
        for i in range(len(EMOTIONS)):
            z[i * N_PROMPTS : (i + 1) * N_PROMPTS, 8 * i : 8 * (i + 1)] *= 4.0
        zw = rng.standard_normal((n_words, LATENT))
        for d, r in ((D_S, rng), (D_T, target_rng)):
            A = r.standard_normal((LATENT, d)) / np.sqrt(LATENT)
            prompt[d][layer] = z @ A + 0.5 * r.standard_normal((n, d))
            words[d][layer] = zw @ A + 0.5 * r.standard_normal((n_words, d))
    dataset = {"name": "synthetic", "hash": "synthetic-70x3", "label_counts": {}}
    sets = []
    for i, (name, d) in enumerate(zip(names, (D_S, D_T))):
        model = {"name": name} if copy_seeds is None else {"name": name, "random_seed": copy_seeds[i]}
        sets.append(ActivationSet(
            model=model, dataset=dataset, layers=tuple(range(n_layers)), texts=tuple(f"prompt {j}" for j in range(n)),
            labels=labels, reference_label="neutral", position_policy="all", prompt_acts=prompt[d],
            word_acts=words[d], word_prompt=np.repeat(np.arange(n - N_REF, n), WORDS),
            word_position=np.tile(np.arange(WORDS), N_REF), fallback=np.zeros(n, bool),
            matched_tokens=tuple(() for _ in range(n)),
        ))
    return sets[0], sets[1]


def copies_for(n_layers: int, n_copies: int) -> list:
    return [synthetic_pair(n_layers, 1000 + c, (f"src-copy{c}", f"tgt-copy{c}"), (10_000 + 2 * c, 10_001 + 2 * c))
            for c in range(n_copies)]


def clear_caches() -> None:
    from emoalign.study.parallel import PAIR_CACHE, SOURCE_CACHE

    SOURCE_CACHE.clear()
    PAIR_CACHE.clear()


def timed(run: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = run()
    return time.perf_counter() - start, value


def tables(result) -> dict:
    """The comparable content of an AlignmentResult (provenance left out)."""
    return {"arrays": result.arrays, "cells": result.cells, "layers": result.layers, "k_profile": result.k_profile,
            "summary": result.summary, "config": result.config}


def differences(a: dict, b: dict) -> list[str]:
    """Names of the arrays / tables that are not identical (empty: bit for bit the same)."""
    out = [f"array {k}" for k in sorted(set(a["arrays"]) | set(b["arrays"]))
           if k not in a["arrays"] or k not in b["arrays"]
           or not np.array_equal(a["arrays"][k], b["arrays"][k], equal_nan=True)]
    for name in ("cells", "layers", "k_profile"):
        if not a[name].equals(b[name]):
            for col in a[name].columns:
                if col not in b[name] or not a[name][col].equals(b[name][col]):
                    gap = (np.abs(a[name][col] - b[name][col]).max() if col in b[name] and a[name][col].dtype.kind == "f"
                           else float("nan"))
                    out.append(f"{name}.{col} (max abs difference {gap:.1e})")
    out += [name for name in ("summary", "config") if a[name] != b[name]]
    return out


def study(n_layers: int, copies: list, workers: int | None, seed: int = 0):
    """align_study on the synthetic pair; ``workers=None``: a checkout without the keyword (--before)."""
    from emoalign.analysis.alignment import AlignConfig
    from emoalign.study.align import align_study

    source, target = synthetic_pair(n_layers, seed, ("source", "target"))
    config = AlignConfig(baseline_seeds=3 if copies else 0)
    kwargs = {} if workers is None else {"workers": workers}
    pairs = [(layer, layer) for layer in range(n_layers)]
    return lambda: align_study(source, target, pairs, config, baseline_copies=copies, **kwargs)


TABLES = ("cells", "layers", "k_profile")


def flatten(content: dict) -> dict[str, np.ndarray]:
    """``tables()`` content as plain arrays for an .npz (no pickle): arrays, table columns (text as
    unicode arrays), summary and config as JSON."""
    flat = {f"array/{name}": value for name, value in content["arrays"].items()}
    for table in TABLES:
        for column in content[table].columns:
            values = content[table][column].to_numpy()
            flat[f"{table}/{column}"] = values.astype(str) if values.dtype == object else values
    for name in ("summary", "config"):
        flat[f"json/{name}"] = np.array(json.dumps(content[name], sort_keys=True, default=str))
    return flat


def unflatten(flat: dict[str, np.ndarray]) -> dict:
    """The inverse of :func:`flatten` (text columns come back as unicode arrays)."""
    content: dict = {"arrays": {}, **{table: {} for table in TABLES}}
    for key, value in flat.items():
        kind, name = key.split("/", 1)
        if kind == "array":
            content["arrays"][name] = value
        elif kind == "json":
            content[name] = json.loads(str(value))
        else:
            content[kind][name] = value
    return {**content, **{table: pd.DataFrame(content[table]) for table in TABLES}}


def child_before(out: Path, n_layers: int, n_copies: int) -> None:
    """In a subprocess on the old checkout: time the serial study, save its tables as .npz."""
    run = study(n_layers, copies_for(n_layers, n_copies), None)
    seconds, result = timed(run)
    np.savez(out, seconds=np.array(seconds), **flatten(tables(result)))


def run_before(before: Path, n_layers: int, n_copies: int) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "before.npz"
        env = {**os.environ, "PYTHONPATH": str(before)}
        subprocess.run([sys.executable, __file__, "--child-before", str(out), "--layers", str(n_layers),
                        "--copies", str(n_copies)], check=True, env=env)
        with np.load(out, allow_pickle=False) as saved:
            flat = {key: saved[key] for key in saved.files}
        return float(flat.pop("seconds")), unflatten(flat)


def scenario(name: str, n_layers: int, copies: list, rounds: int, before: Path | None) -> dict:
    """Interleaved timings of workers=1 and workers=2 (and the old checkout); identity against workers=1."""
    variants = ["workers=1", "workers=2"] + (["before (serial)"] if before is not None else [])
    times: dict[str, list[float]] = {v: [] for v in variants}
    contents: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(rounds):
        for variant in variants if r % 2 == 0 else reversed(variants):
            clear_caches()
            if variant.startswith("before"):
                seconds, content = run_before(before, n_layers, len(copies))  # type: ignore[arg-type]
            else:
                seconds, result = timed(study(n_layers, copies, int(variant.split("=")[1])))
                content = tables(result)
            times[variant].append(seconds)
            contents[variant].append(content)
            print(f"  {name}: {variant} {seconds:.1f} s (round {r + 1}, load {os.getloadavg()[0]:.2f})", flush=True)
    reference = contents["workers=1"][0]
    # the old checkout's tables went through an .npz: compare them with the reference's passed the same way
    diffs = {v: sorted({d for c in contents[v]
                        for d in differences(unflatten(flatten(reference)) if v.startswith("before") else reference, c)})
             for v in variants[1:]}
    return {"name": name, "times": times, "diffs": diffs}


def sweep_scenario(n_layers: int) -> dict:
    """One source, two targets, workers=2: the second target cold and with the source side cached."""
    from emoalign.analysis.alignment import AlignConfig
    from emoalign.study.align import align_study
    from emoalign.study.parallel import SOURCE_CACHE

    source, target_a = synthetic_pair(n_layers, 0, ("source", "target-a"), target_seed=1)
    _, target_b = synthetic_pair(n_layers, 0, ("source", "target-b"), target_seed=2)  # the same source
    config = AlignConfig(baseline_seeds=0)
    pairs = [(layer, layer) for layer in range(n_layers)]

    def align(target):
        return lambda: align_study(source, target, pairs, config, workers=2)

    clear_caches()
    cold, cold_result = timed(align(target_b))
    clear_caches()
    first, _ = timed(align(target_a))
    held = SOURCE_CACHE.nbytes
    warm, warm_result = timed(align(target_b))
    print(f"  sweep: target-b cold {cold:.1f} s, target-a {first:.1f} s, target-b with the source cached {warm:.1f} s",
          flush=True)
    return {"cold": cold, "first": first, "warm": warm, "cache_mib": held / 2**20,
            "diffs": differences(tables(cold_result), tables(warm_result))}


def report(scenarios: list[dict], sweep: dict | None, n_layers: int, n_copies: int, rounds: int, command: str,
           wall_min: float, before_label: str | None) -> str:
    load = os.getloadavg()
    lines = [
        "## Speed of the alignment statistics (`benchmarks/align_speed.py`)",
        "",
        "```bash",
        command,
        "```",
        "",
        (f"Date {datetime.date.today().isoformat()}; {len(os.sched_getaffinity(0))} cores, shared with other jobs "
        f"(load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; timings are noisy, variants are "
        f"interleaved); total {wall_min:.1f} min."),
        "",
        (f"**Set-up.** Synthetic activations in memory: {n_layers} layer pairs x 3 emotions x {N_PROMPTS} prompts, "
        f"d_s = {D_S} -> d_t = {D_T}, {N_REF * WORDS} neutral reference words per layer; default statistics "
        "(k = 8, ridge map on neutral words, 200 label permutations, 1000 bootstrap resamples, 50 pairing shuffles). "
        "`workers=1` is the serial path (one process, one BLAS thread); `workers=2` runs the layer pairs (and the "
        "copies' layer pairs) in two processes, one BLAS thread each. Identical = `np.array_equal` on every array "
        "of the AlignmentResult and `DataFrame.equals` on the cell, layer and k-profile tables, against workers=1."),
        "",
        "| scenario | variant | wall times (s) | best (s) | speed-up vs workers=1 (best) | identical to workers=1 |",
        "|---|---|---|---|---|---|",
    ]
    for sc in scenarios:
        best1 = min(sc["times"]["workers=1"])
        for variant, values in sc["times"].items():
            best = min(values)
            diff = sc["diffs"].get(variant)
            same = "(reference)" if variant == "workers=1" else ("yes" if not diff else "no: " + ", ".join(diff))
            lines.append(f"| {sc['name']} | {variant} | {', '.join(f'{v:.1f}' for v in values)} | {best:.1f} | "
                         f"{best1 / best:.2f}x | {same} |")
    if before_label is not None:
        lines += [
            "",
            (f"`before (serial)`: {before_label}, run serially in a subprocess on the same data. It differs from "
            "workers=1 only where listed: the held-out R² of the ridge map is now computed from the Gram matrix "
            "shared with the final fit (same chosen alpha, same map bit for bit)."),
        ]
    if sweep is not None:
        same = "yes" if not sweep["diffs"] else "no: " + ", ".join(sweep["diffs"])
        lines += [
            "",
            (f"**Source side cached across targets** (one source, two targets, workers=2, no baseline): the second "
            f"target took {sweep['warm']:.1f} s with the source-side resample PCAs of the first in the cache, "
            f"{sweep['cold']:.1f} s cold ({(1 - sweep['warm'] / sweep['cold']) * 100:.0f} % saved; the first target "
            f"{sweep['first']:.1f} s); the cache held {sweep['cache_mib']:.0f} MiB for {n_layers} source layers. "
            f"Identical to the cold run: {same}."),
        ]
    floor = next(sc for sc in scenarios if sc["name"].startswith("no baseline"))
    best2 = min(floor["times"]["workers=2"])
    identical = not floor["diffs"].get("workers=2")
    verdict = "MET" if best2 <= FLOOR_S and identical and n_layers == 12 else "NOT MET"
    lines += [
        "",
        (f"**Floor** (issue 13: 12 layers x 3 emotions, 768 -> 4096, default statistics, <= {FLOOR_S:.0f} s on 2 cores, "
        f"numbers identical to the serial run): {verdict} (best workers=2 time {best2:.1f} s over {rounds} round(s); "
        f"identical: {'yes' if identical else 'no'})."),
    ]
    if n_copies:
        lines.append(f"The baseline scenario adds {n_copies} copy pairs x {n_layers} layer pairs (map and k-profile "
                     "only, no statistics) to the same study.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--copies", type=int, default=4, help="copy pairs of the baseline scenario (0: skip it)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--before", type=Path, help="src folder of a checkout from before this work, timed too")
    parser.add_argument("--before-label", default="a checkout from before this work",
                        help="what --before is, for the report")
    parser.add_argument("--no-sweep", action="store_true", help="skip the cached-source scenario")
    parser.add_argument("--quick", action="store_true", help="2 layers, 1 round, nothing written")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--child-before", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_before:
        child_before(args.child_before, args.layers, args.copies)
        return
    if 0 < args.copies < 3:
        parser.error("--copies: the baseline needs at least 3 copy pairs (or 0 to skip the scenario)")
    if args.quick:
        args.layers, args.rounds = 2, 1
    command = ".venv/bin/python benchmarks/align_speed.py " + shlex.join(sys.argv[1:])
    started = time.perf_counter()
    print(f"cores {len(os.sched_getaffinity(0))}, load {os.getloadavg()[0]:.2f}; {args.layers} layer pairs", flush=True)
    scenarios = [scenario("no baseline (baseline_seeds 0)", args.layers, [], args.rounds, args.before)]
    if args.copies:
        copies = copies_for(args.layers, args.copies)
        scenarios.append(scenario(f"{args.copies} copy pairs in the baseline", args.layers, copies, args.rounds, None))
        del copies
    sweep = None if args.no_sweep else sweep_scenario(args.layers)
    text = report(scenarios, sweep, args.layers, args.copies, args.rounds, command.strip(),
                  (time.perf_counter() - started) / 60, args.before_label if args.before else None)
    print(text)
    if not (args.quick or args.no_write):
        write_section(SECTION, text)
        print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
