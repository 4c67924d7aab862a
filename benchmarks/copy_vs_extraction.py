"""Benchmark: one random-copy seed of the demo's larger model next to one extraction of it.

Issue 13, point 2: "One random-copy seed of the demo's larger model costs <= 1.2x one extraction of
it." The demo's decoder pair is gemma3-270m -> qwen2.5-coder-1.5b (``emoalign.study.demo.REAL_PAIRS``),
source layers 0, 2, 4, 6 matched by relative depth, so the larger model is read at the target layers
``match_layers(..., "depth")`` gives (0, 3, 6, 10 of 28), over the demo's prompts (the ``baseline``
profile, ``DEMO_SAMPLES`` per label), float32 on CPU, as the demo runs it. In one process:

- (i) one extraction: :func:`emoalign.models.loading.load_model` of the preset (the GGUF's
  dequantized copy in the model store; dequantized first if it is not there yet, which is not timed)
  + :func:`emoalign.extract.activations.extract_activations` at those layers;
- (ii) one random-copy seed: :func:`emoalign.extract.baseline.random_copy_activations` for one seed
  with an empty cache directory (config + tokenizer, tokenizing, building the copy's blocks and
  embedding rows, the forward pass, writing the cache file): what the demo's baseline pays per seed.

Both wall and CPU seconds are given; with ``--threads 1`` (the default) CPU seconds are what other
jobs on a shared machine do not inflate, so the floor is judged on them (wall as well, for reference).
``--repeats`` alternates (i) and (ii) (default 1: loading the model takes minutes on 2 cores).

Run: ``.venv/bin/python benchmarks/copy_vs_extraction.py [--repeats 1] [--threads 1] [--no-write]``
(writes its section of benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
from results_section import (
    write_section,  # benchmarks/ is the script's folder: on sys.path
)

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "copy_vs_extraction"  # its marked section of RESULTS.md
PRESET = "qwen2.5-coder-1.5b"


def _seconds(function):
    """(wall seconds, CPU seconds of this process, value)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = function()
    return time.perf_counter() - start, time.process_time() - cpu, value


def demo_setting():
    """The demo's request for the larger model of its decoder pair, its layers and its dataset."""
    from emoalign.analysis.layer_match import match_layers
    from emoalign.data.dataset import load_profile
    from emoalign.data.lexicon import DEFAULT_LEXICON
    from emoalign.extract.cache import ExtractionRequest
    from emoalign.models.registry import resolve_model
    from emoalign.study.demo import DEMO_SAMPLES, REAL_PAIRS

    pair = REAL_PAIRS["decoder"]
    source, target = resolve_model(pair.source), resolve_model(pair.target)
    pairs = match_layers(list(pair.source_layers), int(source.n_layers), int(target.n_layers), "depth")
    layers = tuple(t for _, t in pairs)
    dataset = load_profile("baseline").limit_per_label(DEMO_SAMPLES)
    request = ExtractionRequest(spec=target, dataset=dataset, layers=layers, lexicon=dict(DEFAULT_LEXICON),
                                dtype="float32", device="cpu")
    return pair, request


def one_extraction(request):
    """(i) load_model + extract_activations; returns (load wall, load CPU, forward wall, forward CPU)."""
    from emoalign.extract.activations import extract_activations
    from emoalign.models.loading import load_model

    load_s, load_cpu, loaded = _seconds(lambda: load_model(request.spec, device="cpu", dtype="float32", quiet=True))
    fwd_s, fwd_cpu, _ = _seconds(lambda: extract_activations(
        loaded, request.dataset, request.layers, lexicon=request.lexicon, quiet=True))
    loaded.model = None  # free the weights before the copy is built
    gc.collect()
    return load_s, load_cpu, fwd_s, fwd_cpu


def one_copy(request, seed: int):
    """(ii) random_copy_activations for one seed, nothing cached; returns (wall, CPU)."""
    from emoalign.extract.baseline import random_copy_activations

    with tempfile.TemporaryDirectory() as cache:
        wall, cpu, _ = _seconds(lambda: random_copy_activations(
            replace(request, spec=replace(request.spec, name=f"{PRESET}-random")), [seed], cache, quiet=True))
    gc.collect()
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="alternations of (i) and (ii) (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--seed", type=int, default=10_000, help="seed of the copy (its cost does not depend on it)")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(args.threads)
    load_before, started = os.getloadavg(), time.perf_counter()

    pair, request = demo_setting()
    from emoalign.models.loading import model_location

    model_location(request.spec)  # dequantize the GGUF into the model store once (not timed)
    n_prompts = len(request.dataset.prompts)
    print(f"{PRESET} at layers {list(request.layers)} (demo: {pair.source} layers {list(pair.source_layers)}, depth "
          f"match), {n_prompts} prompts, float32, CPU, {torch.get_num_threads()} torch thread(s)", flush=True)
    extractions, copies = [], []
    for r in range(args.repeats):
        extractions.append(one_extraction(request))
        load_s, load_cpu, fwd_s, fwd_cpu = extractions[-1]
        print(f"repeat {r + 1}: (i) extraction: load {load_s:.1f} s ({load_cpu:.1f} CPU) + forward {fwd_s:.1f} s "
              f"({fwd_cpu:.1f} CPU)", flush=True)
        copies.append(one_copy(request, args.seed))
        print(f"repeat {r + 1}: (ii) one random-copy seed: {copies[-1][0]:.1f} s ({copies[-1][1]:.1f} CPU)", flush=True)

    ext_wall = statistics.median(e[0] + e[2] for e in extractions)
    ext_cpu = statistics.median(e[1] + e[3] for e in extractions)
    copy_wall = statistics.median(c[0] for c in copies)
    copy_cpu = statistics.median(c[1] for c in copies)
    ratio_cpu, ratio_wall = copy_cpu / ext_cpu, copy_wall / ext_wall
    verdict = "MET" if ratio_cpu <= 1.2 else "NOT MET"
    command = " ".join([".venv/bin/python benchmarks/copy_vs_extraction.py", *sys.argv[1:]])
    load_after = os.getloadavg()
    lines = [
        "## One random-copy seed vs one extraction of the demo's larger model (`benchmarks/copy_vs_extraction.py`)", "",
        "```bash", command, "```", "",
        (f"Date {_dt.date.today().isoformat()}; {(time.perf_counter() - started) / 60:.1f} min in all; "
         f"{os.cpu_count()} cores shared with other workers (load average {load_before[0]:.1f} at the start, "
         f"{load_after[0]:.1f} at the end), {args.threads} torch thread(s), {args.repeats} repeat(s) "
         f"(medians). {PRESET} (dequantized GGUF, float32, CPU) at layers {', '.join(map(str, request.layers))} "
         f"(the demo's depth match of {pair.source} layers {', '.join(map(str, pair.source_layers))}), "
         f"{n_prompts} prompts (the demo's). CPU seconds are the floor's measure: with one thread, other jobs "
         "do not inflate them."), "",
        "| what | wall s | CPU s |", "|---|---|---|",
        (f"| (i) one extraction: `load_model` | {statistics.median(e[0] for e in extractions):.1f} | "
         f"{statistics.median(e[1] for e in extractions):.1f} |"),
        (f"| (i) one extraction: `extract_activations` | {statistics.median(e[2] for e in extractions):.1f} | "
         f"{statistics.median(e[3] for e in extractions):.1f} |"),
        f"| (i) one extraction, in all | {ext_wall:.1f} | {ext_cpu:.1f} |",
        f"| (ii) one random-copy seed (`random_copy_activations`, empty cache) | {copy_wall:.1f} | {copy_cpu:.1f} |",
        f"| ratio (ii) / (i) | {ratio_wall:.2f} | {ratio_cpu:.2f} |", "",
        (f"Floor: one random-copy seed <= 1.2x one extraction: **{verdict}** ({ratio_cpu:.2f}x in CPU seconds, "
         f"{ratio_wall:.2f}x wall)."),
    ]
    text = "\n".join(lines)
    print()
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
        print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
