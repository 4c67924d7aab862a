"""Benchmark (GPU): extraction throughput on an 8B-Llama-shaped random-weight model, in one process.

Issue 13 ("Performance"), prepared for a GPU machine lent for a few minutes (no internet; PyTorch and
transformers present; emoalign importable through ``PYTHONPATH=src`` or ``pip install -e . --no-deps``).
One command, under 5 minutes on one H100/H200-class GPU:

- model: ``LlamaConfig`` hidden 4096, 32 layers, 32 heads, 8 kv heads, intermediate 14336, vocab
  128256 (Llama-3-8B's shape), random weights (``torch.manual_seed(0)``), bfloat16, built directly on
  the GPU (``with torch.device("cuda")``: no CPU copy, no checkpoint on disk);
- prompts: the built-in ``baseline`` profile (280 prompts; neutral is the reference), tokenized by the
  byte-level BPE of ``benchmarks/extract_speed.py`` (Qwen2.5's first 50,256 tokens when the preset is
  installed, else the test suite's 640-token BPE: more tokens per prompt; only ids matter);
- styles, in this process, at layers 0-11 and 0-31, each timed with ``torch.cuda.synchronize()``
  around it after one warm-up pass of every style:
  (a) the phase-8 wrapper style: the causal LM with ``output_hidden_states=True`` (every layer and the
      LM head), batches of 16 per label in file order, the neutral set 4 times, the requested layers
      kept at the emotion-word positions;
  (c) emoalign: :func:`emoalign.extract.activations.extract_activations` on a
      :class:`~emoalign.models.loading.LoadedModel` wrapping the base model (what ``load_model`` gives);
  (d) the bare truncated forward: the base model with only the first L+1 blocks, length-sorted batches
      of 16, forward hooks on the requested blocks, the same positions gathered;
- reported: seconds (median of ``--repeats``, order rotated), tokens/s (the dataset's tokens, no
  padding, over the seconds), peak GPU memory allocated, and (a) / emoalign, emoalign / (d).
  JSON to ``$OUT/gpu_scale.json`` when ``OUT`` is set (or ``--json PATH``).

Run on the GPU machine::

    PYTHONPATH=src python benchmarks/gpu_scale.py

and here, the same code on CPU with a tiny 32-layer config (seconds)::

    .venv/bin/python benchmarks/gpu_scale.py --dry-run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))  # emoalign without installing it
sys.path.insert(0, str(HERE))  # extract_speed: the tokenizer and the position rule

import torch
from extract_speed import (
    BATCH,
    _length_batches,
    _positions,
    _word_regexes,
    gpt2_like_tokenizer,
)

LLAMA_8B = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
            "intermediate_size": 14336, "vocab_size": 128_256, "max_position_embeddings": 8192, "rope_theta": 500_000.0}
TINY = {"hidden_size": 64, "num_hidden_layers": 32, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 128, "vocab_size": 1024, "max_position_embeddings": 512, "rope_theta": 10_000.0}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model(shape: dict, vocab_needed: int, device: torch.device, dtype: torch.dtype):
    """The random-weight causal LM, created on ``device`` directly (seeded)."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(**{**shape, "vocab_size": max(shape["vocab_size"], vocab_needed)}, tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()


def prepare(tokenizer, dataset, lexicon: dict) -> dict:
    """Prompts, positions (extract_speed's rule = emoalign's) and the length-sorted padded batches."""
    prompts = [[p.label, p.text] for p in dataset.prompts]
    spec = {"prompts": prompts, "reference": dataset.reference_label, "lexicon": lexicon}
    regexes = _word_regexes(spec)
    enc = tokenizer([t for _, t in prompts], return_offsets_mapping=True)
    plans = [_positions(t, lab, o, spec, regexes) for (lab, t), o in zip(prompts, enc["offset_mapping"])]
    batches = [(batch, tokenizer([prompts[i][1] for i in batch], return_tensors="pt", padding=True))
               for batch in _length_batches([len(ids) for ids in enc["input_ids"]])]
    return {"spec": spec, "regexes": regexes, "plans": plans, "batches": batches,
            "n_tokens": sum(len(ids) for ids in enc["input_ids"])}


def style_a(causal, tokenizer, prep: dict, layers: list[int], device) -> int:
    """(a) output_hidden_states over all layers + LM head, per label, neutral 4 times; returns rows kept."""
    spec, by_label = prep["spec"], {}
    for label, text in spec["prompts"]:
        by_label.setdefault(label, []).append(text)
    reference = spec["reference"]
    kept = []
    for label in [run for lab in by_label if lab != reference for run in (lab, reference)] + [reference]:
        texts = by_label[label]
        for start in range(0, len(texts), BATCH):
            chunk = texts[start : start + BATCH]
            enc = tokenizer(chunk, return_tensors="pt", padding=True, return_offsets_mapping=True)
            offsets = enc.pop("offset_mapping").tolist()
            with torch.no_grad():
                out = causal(**{k: v.to(device) for k, v in enc.items()}, output_hidden_states=True)
            for b, text in enumerate(chunk):
                pooled, words = _positions(text, label, offsets[b], spec, prep["regexes"])
                idx = pooled + words
                kept.append({layer: out.hidden_states[layer + 1][b, idx].float().cpu() for layer in layers})
    return len(kept)


def style_c(loaded, dataset, layers: list[int], lexicon: dict) -> int:
    """(c) emoalign's extract_activations on a LoadedModel."""
    from emoalign.extract.activations import extract_activations

    acts = extract_activations(loaded, dataset, layers, lexicon=lexicon, quiet=True)
    return int(acts.prompt_acts.shape[1])


def style_d(base, prep: dict, layers: list[int], device) -> int:
    """(d) only the first L+1 blocks run; hooks on the requested blocks; the same positions gathered
    (pooled emotion-word tokens, and every reference word's last token)."""
    import numpy as np

    blocks = base.layers
    base.layers = blocks[: max(layers) + 1]
    captured: dict[int, torch.Tensor] = {}
    handles = [blocks[layer].register_forward_hook(
        lambda _m, _a, out, layer=layer: captured.__setitem__(layer, out[0] if isinstance(out, tuple) else out))
        for layer in layers]
    plans = prep["plans"]
    d = base.config.hidden_size
    prompt_acts = np.zeros((len(layers), len(plans), d), np.float32)
    word_acts = np.zeros((len(layers), sum(len(w) for _, w in plans), d), np.float32)
    word_rows = np.cumsum([0] + [len(w) for _, w in plans])
    try:
        for batch, enc in prep["batches"]:
            with torch.no_grad():
                base(**{k: v.to(device) for k, v in enc.items()}, use_cache=False)
            for row, layer in enumerate(layers):
                hidden = captured[layer].float().cpu().numpy()
                for b, i in enumerate(batch):
                    pooled, words = plans[i]
                    prompt_acts[row, i] = hidden[b, pooled].mean(axis=0)
                    word_acts[row, word_rows[i] : word_rows[i] + len(words)] = hidden[b, words]
    finally:
        base.layers = blocks
        for handle in handles:
            handle.remove()
    return prompt_acts.shape[1]


def timed(function, device) -> tuple[float, float]:
    """(seconds, peak GB allocated during the call)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    start = time.perf_counter()
    function()
    sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0  # CPU: not measured
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny 32-layer config on CPU (tests this script)")
    parser.add_argument("--repeats", type=int, help="timed repeats of every style (default 3; 1 with --dry-run)")
    parser.add_argument("--json", type=Path, help="write the results here (default $OUT/gpu_scale.json if OUT is set)")
    args = parser.parse_args()
    started = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.repeats is None:
        args.repeats = 1 if args.dry_run else 3
    if args.dry_run:  # float32: CPU bfloat16 matmuls are slow and would only test the clock
        device, dtype, shape = torch.device("cpu"), torch.float32, TINY
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device here; use --dry-run to test the script on CPU")
        device, dtype, shape = torch.device("cuda"), torch.bfloat16, LLAMA_8B
    from transformers import AutoTokenizer

    from emoalign.data.dataset import load_profile
    from emoalign.data.lexicon import DEFAULT_LEXICON
    from emoalign.models.blocks import find_blocks
    from emoalign.models.loading import LoadedModel
    from emoalign.models.registry import ModelSpec

    with tempfile.TemporaryDirectory() as folder:
        tokenizer_note = gpt2_like_tokenizer(Path(folder))
        tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "right"
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    dataset = load_profile("baseline")
    lexicon = dict(DEFAULT_LEXICON)
    prep = prepare(tokenizer, dataset, {k: list(v) for k, v in lexicon.items()})

    t0 = time.perf_counter()
    causal = build_model(shape, len(tokenizer), device, dtype)
    sync(device)
    build_s = time.perf_counter() - t0
    base = causal.model
    block_path, blocks = find_blocks(base)
    loaded = LoadedModel(spec=ModelSpec(name="llama-8b-shaped-random", hub_id="llama-8b-shaped-random"), model=base,
                         tokenizer=tokenizer, device=device, dtype=dtype, model_type="llama", n_layers=len(blocks),
                         d_model=base.config.hidden_size, block_path=block_path, untrained_seed=0)
    n_params = sum(p.numel() for p in causal.parameters())
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    print(f"{gpu}; torch {torch.__version__}; model {n_params / 1e9:.2f} B parameters ({dtype}), built in "
          f"{build_s:.1f} s; {len(dataset.prompts)} prompts, {prep['n_tokens']} tokens; tokenizer: {tokenizer_note}")

    layer_sets = [list(range(12)), list(range(32))]
    styles = {
        "a": lambda layers: style_a(causal, tokenizer, prep, layers, device),
        "c": lambda layers: style_c(loaded, dataset, layers, lexicon),
        "d": lambda layers: style_d(base, prep, layers, device),
    }
    for name, run in styles.items():  # warm-up: CUDA kernels, cuBLAS handles, allocator
        timed(lambda run=run: run([0, 1]), device)
        print(f"warm-up {name} done", flush=True)
    seconds: dict[tuple[str, str], list[float]] = {}
    peaks: dict[tuple[str, str], float] = {}
    jobs = [(style, layers) for layers in layer_sets for style in styles if not (style == "a" and len(layers) > 12)]
    for r in range(args.repeats):
        shift = (r * len(jobs)) // args.repeats
        for style, layers in jobs[shift:] + jobs[:shift]:
            key = (style, f"{layers[0]}-{layers[-1]}")
            s, peak = timed(lambda style=style, layers=layers: styles[style](layers), device)
            seconds.setdefault(key, []).append(s)
            peaks[key] = max(peaks.get(key, 0.0), peak)
            print(f"repeat {r + 1}: {style} layers {key[1]}: {s:.3f} s, peak {peak:.1f} GB", flush=True)

    names = {"a": "(a) HF output_hidden_states, neutral x4", "c": "(c) emoalign extract_activations",
             "d": "(d) bare truncated forward"}
    rows = []
    print(f"\n{'style':42s} {'layers':>6s} {'median s':>9s} {'tokens/s':>9s} {'peak GB':>8s} {'/ emoalign':>10s}")
    for (style, layers), values in sorted(seconds.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        med = statistics.median(values)
        ours = statistics.median(seconds[("c", layers)]) if ("c", layers) in seconds else float("nan")
        row = {"style": names[style], "layers": layers, "seconds": values, "median_s": med,
               "tokens_per_s": prep["n_tokens"] / med, "peak_gb": peaks[(style, layers)], "ratio_to_emoalign": med / ours}
        rows.append(row)
        print(f"{row['style']:42s} {layers:>6s} {med:9.3f} {row['tokens_per_s']:9.0f} {row['peak_gb']:8.1f} "
              f"{row['ratio_to_emoalign']:9.2f}x")
    # (a) runs every layer and the LM head whatever it keeps: its 0-11 time stands for 0-31 too
    result = {"device": gpu, "torch": torch.__version__, "dtype": str(dtype), "dry_run": args.dry_run,
              "shape": shape, "n_params": n_params, "build_s": build_s, "n_prompts": len(dataset.prompts),
              "n_tokens": prep["n_tokens"], "tokenizer": tokenizer_note, "repeats": args.repeats, "rows": rows,
              "total_s": time.perf_counter() - started}
    out = args.json or (Path(os.environ["OUT"]) / "gpu_scale.json" if os.environ.get("OUT") else None)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
        print(f"written: {out}")
    print(f"total {result['total_s']:.0f} s")


if __name__ == "__main__":
    main()
