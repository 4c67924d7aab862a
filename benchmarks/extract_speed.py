"""Benchmark: how fast `emoalign extract` is as a whole process, next to the usual ways a script extracts.

Issue 13 ("Performance"). Every style runs as a process of its own (wall time from start to exit,
peak RSS of that child from ``os.wait4``), with ONE torch thread (``OMP_NUM_THREADS=1`` and
``torch.set_num_threads(1)``: a fair comparison on a shared machine), on random-weight models built
here (transformers config classes, ``torch.manual_seed(0)``, safetensors) and the built-in
``baseline`` prompt profile (70 prompts per label x 4 labels; neutral is the reference):

- shapes: GPT-2 small (``GPT2Config``: 12 layers, width 768), layers 0-11; and a 32-layer
  SmolLM-360M-like Llama (hidden 960, 32 layers, 15 heads, 5 kv heads, intermediate 2560, tied
  embeddings), layers 0-11 and 0-31;
- styles:
  (a) ``hf-all-hidden``: the original phase-8 wrapper style: ``AutoModelForCausalLM`` with
      ``output_hidden_states=True`` (every layer and the LM head run), batches of 16 per label in
      file order, the neutral set run 4 times (once per emotion comparison + once), hidden states of
      the requested layers kept at the emotion-word positions (regex word match), ``torch.save``;
  (b) ``tl-original`` (GPT-2 only): the original GPT-2 path: TransformerLens ``HookedTransformer``
      (built from a ``HookedTransformerConfig`` + the converted HF weights, processed as
      ``from_pretrained`` does: fold LN, centre weights), one prompt at a time, ``run_with_cache``
      on all 24 resid points (``hook_resid_pre``/``hook_resid_post`` of 12 blocks), full forward
      including the unembed, the pooled vectors of all 24 points pickled;
  (c) ``emoalign``: ``emoalign extract --model <folder> --layers ... --profile baseline --dtype
      float32 --quiet --cache-dir <fresh dir>`` (the real console script; never a cache hit);
  (d) ``bare``: the minimum a script needs: ``AutoModel``, blocks after the deepest requested layer
      dropped, length-sorted batches of 16, forward hooks on the requested blocks, the same positions
      as emoalign gathered, ``np.savez``;
  (e) ``nnsight``: ``LanguageModel`` trace, ``.output.save()`` of the requested blocks,
      ``tracer.stop()`` after the deepest one, same batches and positions; ``tl-stop`` (GPT-2 only):
      TransformerLens ``run_with_cache(stop_at_layer=L+1)`` on the requested ``hook_resid_post``
      points, same batches and positions.
  A style whose package is missing is skipped with the reason printed.
- repeats: ``--rounds`` (default 3) interleaved rounds; each round runs every (style, shape,
  layers) job once, the order rotated from round to round; the table gives medians.
- tokens/s = the dataset's tokens (280 prompts, as the tokenizer splits them, no padding) / wall, so
  it is comparable across styles; ``fed`` is what each style actually fed its model (padding,
  repeats and BOS included).
- start-up: ``emoalign extract`` on 1 prompt per label at layer 0 (median of 3 processes) against
  ``python -c pass``; and ``python -X importtime`` of that run, top imports by cumulative time.

The tokenizer (the same for every style and both shapes): a byte-level BPE with GPT-2's layout
(50,257 ids, ``<|endoftext|>`` last), made from the first 50,256 tokens and their merges of
Qwen2.5's byte-level BPE (the ``qwen2.5-coder-1.5b`` preset's tokenizer, from the emoalign model store
or its GGUF); without that preset installed, the test suite's 640-token byte-level BPE
(``tests/tiny_models.py``), and the token counts are then larger than a real GPT-2's. Only token ids
matter for random weights.

Peers. nnsight installs into the project venv (``pip install -e '.[bench]'``). TransformerLens 2.x
needs transformers<5, so it lives in a venv outside the repository, passed as ``--peer-python``::

    python3 -m venv /work/benchenv
    /work/benchenv/bin/pip install torch==2.13.0 'transformer_lens<3' 'transformers<5' 'datasets<4' 'pyarrow<18'

Run (about 30-40 min on 2 idle cores; writes its section of benchmarks/RESULTS.md)::

    .venv/bin/python benchmarks/extract_speed.py --peer-python /work/benchenv/bin/python
    .venv/bin/python benchmarks/extract_speed.py --quick     # 1 round, GPT-2 shape only; prints only

Models, prompts and outputs go to ``--workdir`` (default ``$TMPDIR/emoalign-extract-speed``; the
models are rebuilt only when their recipe changes).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from results_section import (
    write_section,  # benchmarks/ is the script's folder: on sys.path
)

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "extract_speed.py"  # its marked section of RESULTS.md
BATCH = 16
GPT2_VOCAB = 50_257
EOT = "<|endoftext|>"
SHAPES = {"gpt2-small": "GPT-2 small (12 x 768)", "llama-32l": "Llama 32 x 960 (SmolLM-360M-like)"}
STYLE_NAMES = {
    "hf-all-hidden": "(a) HF output_hidden_states, per label, neutral x4",
    "tl-original": "(b) TransformerLens, 1 prompt at a time, 24 hooks, pickle",
    "emoalign": "(c) emoalign extract (CLI)",
    "bare": "(d) bare truncated forward",
    "nnsight": "(e) nnsight .save() + stop",
    "tl-stop": "(e) TransformerLens run_with_cache(stop_at_layer)",
}
PEER_STYLES = ("tl-original", "tl-stop")  # run under --peer-python
GPT2_ONLY = ("tl-original", "tl-stop")
THREAD_ENV = {
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    "TRANSFORMERS_VERBOSITY": "error", "PYTHONWARNINGS": "ignore",
}


# ------------------------------------------------------------------------------------------------
# Children: each style as a process of its own (stdlib at module level: a peer venv has no emoalign)
# ------------------------------------------------------------------------------------------------


def _torch_one_thread():
    """Import torch and pin it to one thread (the environment already says so)."""
    import torch

    torch.set_num_threads(1)
    return torch


def _word_regexes(spec: dict) -> dict[str, list[re.Pattern[str]]]:
    """Whole-word, case-insensitive regexes of the lexicon (emoalign's rule)."""
    return {
        label: [re.compile(rf"(?<!\w)(?:{p})(?!\w)", re.IGNORECASE) for p in patterns]
        for label, patterns in spec["lexicon"].items()
    }


def _overlapping(offsets, start: int, end: int) -> list[int]:
    return [i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start]


def _positions(text: str, label: str, offsets, spec: dict, regexes) -> tuple[list[int], list[int]]:
    """(pooled token positions, reference-word positions) of one prompt, as emoalign chooses them:
    emotion prompts pool every sub-token of their emotion words (else the last content token);
    reference prompts pool the last content token and keep each whitespace word's last sub-token."""
    offsets = [tuple(o) for o in offsets]
    content = max(i for i, (s, e) in enumerate(offsets) if e > s)
    if label == spec["reference"]:
        words = [_overlapping(offsets, *m.span()) for m in re.finditer(r"\S+", text)]
        return [content], [w[-1] for w in words if w]
    pooled = sorted({t for rx in regexes.get(label, ()) for m in rx.finditer(text) for t in _overlapping(offsets, *m.span())})
    return (pooled or [content]), []


def _length_batches(lengths: list[int]) -> list[list[int]]:
    """Prompt indices in length-sorted batches of BATCH (emoalign's bucketing)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[s : s + BATCH] for s in range(0, len(order), BATCH)]


def _hf_tokenizer(folder: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _pool_into(store, layer_rows, hidden_by_layer, batch, plans, word_rows, word_store) -> None:
    """Write pooled and word activations of one batch into the output arrays."""
    for row, hidden in zip(layer_rows, hidden_by_layer):
        h = hidden.float().numpy()
        for b, i in enumerate(batch):
            pooled, words = plans[i]
            store[row, i] = h[b, pooled].mean(axis=0)
            for w, t in enumerate(words):
                word_store[row, word_rows[i] + w] = h[b, t]


def _pooled_arrays(spec: dict, d: int, plans):
    import numpy as np

    n_words = [len(w) for _, w in plans]
    word_rows = [sum(n_words[:i]) for i in range(len(plans))]
    layers = spec["layers"]
    return (np.zeros((len(layers), len(plans), d), np.float32),
            np.zeros((len(layers), sum(n_words), d), np.float32), word_rows)


def child_hf_all_hidden(spec: dict) -> dict:
    """(a) AutoModelForCausalLM, output_hidden_states over all layers, per label, neutral 4 times."""
    torch = _torch_one_thread()
    from transformers import AutoModelForCausalLM

    tok = _hf_tokenizer(spec["folder"])
    model = AutoModelForCausalLM.from_pretrained(spec["folder"], dtype=torch.float32).eval()
    regexes = _word_regexes(spec)
    by_label: dict[str, list[str]] = {}
    for label, text in spec["prompts"]:
        by_label.setdefault(label, []).append(text)
    reference = spec["reference"]
    runs = [run for lab in by_label if lab != reference for run in (lab, reference)] + [reference]
    kept, fed = [], 0
    for label in runs:
        texts = by_label[label]
        for start in range(0, len(texts), BATCH):
            chunk = texts[start : start + BATCH]
            enc = tok(chunk, return_tensors="pt", padding=True, return_offsets_mapping=True)
            offsets = enc.pop("offset_mapping").tolist()
            fed += enc["input_ids"].numel()
            with torch.no_grad():
                out = model(**enc, output_hidden_states=True)
            for b, text in enumerate(chunk):
                pooled, words = _positions(text, label, offsets[b], spec, regexes)
                idx = pooled + words
                kept.append({layer: out.hidden_states[layer + 1][b, idx].clone() for layer in spec["layers"]})
    torch.save(kept, spec["out"] + ".pt")
    return {"fed_tokens": fed, "threads": torch.get_num_threads()}


def _tl_gpt2(spec: dict):
    """A HookedTransformer of the random GPT-2 (config + converted weights, processed as
    ``from_pretrained`` does by default) and its tokenizer, offline."""
    torch = _torch_one_thread()
    from transformer_lens import HookedTransformer, HookedTransformerConfig
    from transformer_lens.pretrained.weight_conversions import convert_gpt2_weights
    from transformers import AutoTokenizer, GPT2LMHeadModel, PreTrainedTokenizerFast

    # the folder's tokenizer_config names a transformers-5 class; TransformerLens 2 runs under 4.x and
    # reloads the tokenizer by its name_or_path, so give it a 4.x copy of the same tokenizer.json
    copy = Path(spec["out"] + "-tokenizer")
    PreTrainedTokenizerFast(tokenizer_file=str(Path(spec["folder"]) / "tokenizer.json"), bos_token=EOT,
                            eos_token=EOT, unk_token=EOT, pad_token=EOT, model_max_length=1024).save_pretrained(copy)
    tok = AutoTokenizer.from_pretrained(copy)
    hf = GPT2LMHeadModel.from_pretrained(spec["folder"], torch_dtype=torch.float32)
    c = hf.config
    cfg = HookedTransformerConfig(
        n_layers=c.n_layer, d_model=c.n_embd, n_heads=c.n_head, d_head=c.n_embd // c.n_head, d_mlp=4 * c.n_embd,
        d_vocab=c.vocab_size, n_ctx=c.n_positions, act_fn="gelu_new", normalization_type="LNPre", eps=c.layer_norm_epsilon,
        positional_embedding_type="standard", original_architecture="GPT2LMHeadModel", default_prepend_bos=True,
        device="cpu", dtype=torch.float32,
    )
    state = convert_gpt2_weights(hf, cfg)
    del hf
    model = HookedTransformer(cfg, tokenizer=tok, move_to_device=True)
    model.load_and_process_state_dict(state, fold_ln=True, center_writing_weights=True, center_unembed=True,
                                      fold_value_biases=True)
    model.eval()
    return torch, model, tok


def child_tl_original(spec: dict) -> dict:
    """(b) TransformerLens: one prompt at a time, all 24 resid hooks, full forward, pickle."""
    import pickle

    torch, model, tok = _tl_gpt2(spec)
    names = [f"blocks.{i}.hook_resid_{w}" for i in range(model.cfg.n_layers) for w in ("pre", "post")]
    wanted = set(names)
    regexes = _word_regexes(spec)
    saved, fed = [], 0
    for label, text in spec["prompts"]:
        tokens = model.to_tokens(text)  # BOS prepended, as TransformerLens does by default
        fed += tokens.numel()
        offsets = tok(text, return_offsets_mapping=True)["offset_mapping"]
        pooled, words = _positions(text, label, offsets, spec, regexes)
        with torch.no_grad():
            _logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in wanted)
        record = {"label": label, "text": text}
        for name in names:
            act = cache[name][0]
            record[name] = act[[p + 1 for p in pooled]].mean(0).numpy()
            if words:
                record[name + ":words"] = act[[p + 1 for p in words]].numpy()
        saved.append(record)
    with open(spec["out"] + ".pkl", "wb") as handle:
        pickle.dump(saved, handle)
    return {"fed_tokens": fed, "threads": torch.get_num_threads()}


def child_tl_stop(spec: dict) -> dict:
    """(e) TransformerLens run_with_cache(stop_at_layer=L+1) on the requested resid_post points, batched."""
    import numpy as np

    torch, model, tok = _tl_gpt2(spec)
    texts = [t for _, t in spec["prompts"]]
    enc = tok(texts, return_offsets_mapping=True)
    regexes = _word_regexes(spec)
    plans = [_positions(t, lab, o, spec, regexes) for (lab, t), o in zip(spec["prompts"], enc["offset_mapping"])]
    plans = [([p + 1 for p in pooled], [w + 1 for w in words]) for pooled, words in plans]  # BOS
    prompt_acts, word_acts, word_rows = _pooled_arrays(spec, model.cfg.d_model, plans)
    names = [f"blocks.{layer}.hook_resid_post" for layer in spec["layers"]]
    fed = 0
    for batch in _length_batches([len(ids) for ids in enc["input_ids"]]):
        width = max(len(enc["input_ids"][i]) for i in batch)
        rows = [[tok.bos_token_id] + enc["input_ids"][i] + [tok.pad_token_id] * (width - len(enc["input_ids"][i]))
                for i in batch]
        tokens = torch.tensor(rows)
        fed += tokens.numel()
        with torch.no_grad():
            _, cache = model.run_with_cache(tokens, stop_at_layer=max(spec["layers"]) + 1, names_filter=names)
        _pool_into(prompt_acts, range(len(names)), [cache[n] for n in names], batch, plans, word_rows, word_acts)
    np.savez(spec["out"] + ".npz", prompt_acts=prompt_acts, word_acts=word_acts)
    return {"fed_tokens": fed, "threads": torch.get_num_threads()}


def _sorted_batches(spec: dict, tok):
    """Encoding, positions and length-sorted padded batches of the dataset (shared by (d) and nnsight)."""
    texts = [t for _, t in spec["prompts"]]
    enc = tok(texts, return_offsets_mapping=True)
    regexes = _word_regexes(spec)
    plans = [_positions(t, lab, o, spec, regexes) for (lab, t), o in zip(spec["prompts"], enc["offset_mapping"])]
    batches = []
    for batch in _length_batches([len(ids) for ids in enc["input_ids"]]):
        batches.append((batch, tok([texts[i] for i in batch], return_tensors="pt", padding=True)))
    return plans, batches


def _block_list(model):
    for path in ("h", "layers", "transformer.h", "model.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    raise RuntimeError(f"no block list in {type(model).__name__}")


def child_bare(spec: dict) -> dict:
    """(d) AutoModel, blocks after the deepest requested one dropped, hooks, same batches and positions."""
    import numpy as np

    torch = _torch_one_thread()
    from transformers import AutoModel

    tok = _hf_tokenizer(spec["folder"])
    model = AutoModel.from_pretrained(spec["folder"], dtype=torch.float32).eval()
    blocks = _block_list(model)
    del blocks[max(spec["layers"]) + 1 :]
    plans, batches = _sorted_batches(spec, tok)
    prompt_acts, word_acts, word_rows = _pooled_arrays(spec, model.config.hidden_size, plans)
    captured: dict[int, object] = {}
    for layer in spec["layers"]:
        blocks[layer].register_forward_hook(
            lambda _m, _a, out, layer=layer: captured.__setitem__(layer, out[0] if isinstance(out, tuple) else out)
        )
    fed = 0
    for batch, enc in batches:
        fed += enc["input_ids"].numel()
        with torch.no_grad():
            model(**enc, use_cache=False)
        _pool_into(prompt_acts, range(len(spec["layers"])), [captured[layer] for layer in spec["layers"]],
                   batch, plans, word_rows, word_acts)
    np.savez(spec["out"] + ".npz", prompt_acts=prompt_acts, word_acts=word_acts)
    return {"fed_tokens": fed, "threads": torch.get_num_threads()}


def child_nnsight(spec: dict) -> dict:
    """(e) nnsight: trace, .output.save() of the requested blocks, stop after the deepest one."""
    import warnings

    import numpy as np

    torch = _torch_one_thread()
    warnings.simplefilter("ignore")
    import nnsight
    from nnsight import LanguageModel

    tok = _hf_tokenizer(spec["folder"])
    model = LanguageModel(spec["folder"], dtype=torch.float32, dispatch=True)
    blocks = _block_list(model)
    plans, batches = _sorted_batches(spec, tok)
    prompt_acts, word_acts, word_rows = _pooled_arrays(spec, model.config.hidden_size, plans)
    fed = 0
    for batch, enc in batches:
        fed += enc["input_ids"].numel()
        saved = []  # a list made inside the traced block does not come back out of it (nnsight 0.8)
        with torch.no_grad(), model.trace(enc["input_ids"], attention_mask=enc["attention_mask"], use_cache=False) as tracer:
            for layer in spec["layers"]:
                saved.append(blocks[layer].output.save())
            tracer.stop()
        hidden = [s[0] if isinstance(s, tuple) else s for s in saved]
        _pool_into(prompt_acts, range(len(hidden)), hidden, batch, plans, word_rows, word_acts)
    np.savez(spec["out"] + ".npz", prompt_acts=prompt_acts, word_acts=word_acts)
    return {"fed_tokens": fed, "threads": torch.get_num_threads(), "nnsight": nnsight.__version__}


CHILDREN = {
    "hf-all-hidden": child_hf_all_hidden,
    "tl-original": child_tl_original,
    "tl-stop": child_tl_stop,
    "bare": child_bare,
    "nnsight": child_nnsight,
}


def run_child(style: str, spec_path: str) -> None:
    """Entry of a child process: run one style, write its result JSON."""
    spec = json.loads(Path(spec_path).read_text())
    result = CHILDREN[style](spec)
    Path(spec["result"]).write_text(json.dumps(result))


# ------------------------------------------------------------------------------------------------
# Parent: models, tokenizer, jobs, measurement, report
# ------------------------------------------------------------------------------------------------


def gpt2_like_tokenizer(folder: Path) -> str:
    """Save the shared tokenizer into ``folder``; returns a one-line description of it."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    source = None
    try:
        from emoalign.models.gguf import is_dequantized, store_path
        from emoalign.models.registry import resolve_model

        gguf = resolve_model("qwen2.5-coder-1.5b").gguf
        if gguf is not None and is_dequantized(gguf):
            source = json.loads((store_path(gguf) / "tokenizer.json").read_text())
        elif gguf is not None and Path(gguf.path).exists():
            from transformers import AutoTokenizer

            qwen = AutoTokenizer.from_pretrained(str(Path(gguf.path).parent), gguf_file=Path(gguf.path).name)
            source = json.loads(qwen.backend_tokenizer.to_str())
    except Exception as exc:  # noqa: BLE001 - any failure: fall back to the test tokenizer
        print(f"qwen2.5 tokenizer unavailable ({type(exc).__name__}: {exc}); using the test suite's BPE")
    if source is not None:
        keep = GPT2_VOCAB - 1
        vocab = {t: i for t, i in source["model"]["vocab"].items() if i < keep}
        merges = []
        for merge in source["model"]["merges"]:
            a, b = merge.split(" ", 1) if isinstance(merge, str) else merge
            if a in vocab and b in vocab and a + b in vocab:
                merges.append([a, b])
        vocab[EOT] = keep
        source["model"]["vocab"], source["model"]["merges"] = vocab, merges
        source["added_tokens"] = [{"id": keep, "content": EOT, "single_word": False, "lstrip": False,
                                   "rstrip": False, "normalized": False, "special": True}]
        backend = Tokenizer.from_str(json.dumps(source))
        tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=EOT, eos_token=EOT, unk_token=EOT,
                                      model_max_length=1024)
        tok.save_pretrained(folder)
        return (f"byte-level BPE, {len(tok)} ids: the first {keep} of Qwen2.5's vocabulary + {EOT} "
                f"({len(merges)} merges)")
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import save_tokenizer

    save_tokenizer("bpe", folder)
    return "the test suite's byte-level BPE (tests/tiny_models.py, 640 ids; more tokens per prompt than GPT-2's)"


def build_models(workdir: Path, shapes: list[str]) -> tuple[dict[str, Path], str]:
    """Random-weight checkpoints (seed 0, safetensors) + the shared tokenizer; reused when the recipe matches."""
    import torch
    from transformers import (
        AutoTokenizer,
        GPT2Config,
        GPT2LMHeadModel,
        LlamaConfig,
        LlamaForCausalLM,
    )

    tok_dir = workdir / "tokenizer"
    stamp = tok_dir / "description.txt"
    if not stamp.exists():
        shutil.rmtree(tok_dir, ignore_errors=True)
        stamp.parent.mkdir(parents=True)
        stamp.write_text(gpt2_like_tokenizer(tok_dir))
    description = stamp.read_text()
    tok = AutoTokenizer.from_pretrained(tok_dir)
    vocab, eot = len(tok), tok.convert_tokens_to_ids(EOT)
    recipes = {
        "gpt2-small": (GPT2LMHeadModel, GPT2Config(vocab_size=vocab, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                                                   bos_token_id=eot, eos_token_id=eot)),
        "llama-32l": (LlamaForCausalLM, LlamaConfig(
            vocab_size=vocab, hidden_size=960, intermediate_size=2560, num_hidden_layers=32, num_attention_heads=15,
            num_key_value_heads=5, max_position_embeddings=2048, rope_theta=10_000.0, tie_word_embeddings=True,
            bos_token_id=eot, eos_token_id=eot, pad_token_id=eot)),
    }
    folders = {}
    for shape in shapes:
        cls, config = recipes[shape]
        folder = workdir / "models" / shape
        recipe = json.dumps({"config": config.to_dict(), "seed": 0, "tokenizer": description}, sort_keys=True, default=str)
        if not (folder / "recipe.json").exists() or (folder / "recipe.json").read_text() != recipe:
            shutil.rmtree(folder, ignore_errors=True)
            start = time.perf_counter()
            torch.manual_seed(0)
            model = cls(config).eval()
            model.save_pretrained(folder)
            tok.save_pretrained(folder)
            (folder / "recipe.json").write_text(recipe)
            print(f"built {shape}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f} M parameters "
                  f"in {time.perf_counter() - start:.0f} s")
            del model
        folders[shape] = folder
    return folders, description


def write_prompts(workdir: Path) -> tuple[Path, list, str, dict]:
    """The baseline profile and emoalign's lexicon as JSON for the children."""
    from emoalign.data.dataset import load_profile
    from emoalign.data.lexicon import DEFAULT_LEXICON

    dataset = load_profile("baseline")
    prompts = [[p.label, p.text] for p in dataset.prompts]
    lexicon = {label: list(patterns) for label, patterns in DEFAULT_LEXICON.items()}
    path = workdir / "prompts.json"
    path.write_text(json.dumps({"prompts": prompts, "reference": dataset.reference_label, "lexicon": lexicon}))
    return path, prompts, dataset.reference_label, lexicon


def dataset_tokens(folder: Path, prompts: list) -> int:
    """Tokens of the dataset's prompts as the shared tokenizer splits them (no padding, no BOS)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    return sum(len(ids) for ids in tok([t for _, t in prompts])["input_ids"])


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(THREAD_ENV)
    return env


# A tiny launcher between this process and the measured one: Linux carries a process's peak RSS
# across fork + exec, so a child forked straight from this (large) process would report at least
# this process's size. The launcher (python -S, a few MB) spawns the command, waits for it and
# writes "wall_seconds max_rss_kb exit_code"; the wall time excludes the launcher's own start.
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    out.write(f"{wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def timed_process(command: list[str], log: Path, timeout: float = 3600) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of one process, measured by :data:`LAUNCHER` (``os.wait4``)."""
    measure = log.with_suffix(".measure")
    measure.unlink(missing_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, str(measure), *command], stdout=out,
                                stderr=subprocess.STDOUT, env=child_env(), cwd=ROOT, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            return float(timeout), 0.0, 124
    if not measure.exists():
        return 0.0, 0.0, proc.returncode or 1
    wall, rss_kb, code = measure.read_text().split()
    return float(wall), int(rss_kb) / 1024, int(code)


def check_styles(styles: list[str], peer_python: str | None) -> dict[str, str]:
    """Why a style cannot run here (missing package or peer venv); absent: it can."""
    reasons = {}
    probes = {"nnsight": (sys.executable, "import nnsight"),
              "tl-original": (peer_python, "import transformer_lens"), "tl-stop": (peer_python, "import transformer_lens")}
    for style in styles:
        if style not in probes:
            continue
        python, code = probes[style]
        if python is None:
            reasons[style] = "needs --peer-python (a venv with transformer_lens<3; see the module docstring)"
            continue
        try:
            probe = subprocess.run([python, "-c", code], capture_output=True, text=True, env=child_env(), timeout=300,
                                   check=False)
        except OSError as exc:
            reasons[style] = f"{python}: {exc}"
            continue
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["?"])[-1]
            reasons[style] = f"{code!r} fails under {python}: {last}"
    return reasons


def peer_versions(python: str, modules: list[str]) -> str:
    code = (f"import importlib.metadata as m\nfor n in {modules!r}:\n    try: print(n, m.version(n))\n"
            "    except Exception: pass")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=child_env(), check=False)
    return ", ".join(out.stdout.split("\n")).strip(", ").replace("\n", ", ")


def run_job(job: dict, run_dir: Path, prompts_path: Path, peer_python: str | None) -> dict:
    """Run one (style, shape, layers) as a process; returns wall, peak RSS, fed tokens."""
    run_dir.mkdir(parents=True, exist_ok=True)
    layers = job["layers"]
    log = run_dir / "log.txt"
    if job["style"] == "emoalign":
        cli = Path(sys.executable).parent / "emoalign"
        command = [str(cli), "extract", "--model", str(job["folder"]), "--layers", f"{layers[0]}-{layers[-1]}",
                   "--profile", "baseline", "--dtype", "float32", "--quiet", "--cache-dir", str(run_dir / "cache")]
        wall, rss, code = timed_process(command, log)
        return {"wall": wall, "rss": rss, "code": code, "fed": None, "log": log}
    data = json.loads(prompts_path.read_text())
    spec = {**data, "folder": str(job["folder"]), "layers": layers, "out": str(run_dir / "out"),
            "result": str(run_dir / "result.json")}
    spec_path = run_dir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    python = peer_python if job["style"] in PEER_STYLES else sys.executable
    wall, rss, code = timed_process([python, str(Path(__file__).resolve()), "--child", job["style"], str(spec_path)], log)
    fed = json.loads((run_dir / "result.json").read_text())["fed_tokens"] if code == 0 else None
    return {"wall": wall, "rss": rss, "code": code, "fed": fed, "log": log}


def compare_bare(job_dirs: dict, reference: str) -> str:
    """Max |difference| between (d)'s pooled activations and emoalign's artifact (same work check)."""
    import numpy as np

    from emoalign.extract.activations import ActivationSet

    lines = []
    for (shape, layers), dirs in job_dirs.items():
        if "bare" not in dirs or "emoalign" not in dirs:
            continue
        files = list((dirs["emoalign"] / "cache").glob("*.safetensors"))
        npz = dirs["bare"] / "out.npz"
        if not files or not npz.exists():
            continue
        ours, bare = ActivationSet.load(files[0]), np.load(npz)
        diff = max(float(np.abs(ours.prompt_acts - bare["prompt_acts"]).max()),
                   float(np.abs(ours.word_acts - bare["word_acts"]).max()))
        lines.append(f"{shape} layers {layers}: max |emoalign - bare| = {diff:.2e}")
    return "; ".join(lines)


def startup(folder: Path, workdir: Path, repeats: int = 3) -> dict:
    """Fixed start-up of `emoalign extract`: a 1-prompt-per-label run at layer 0 vs `python -c pass`,
    and `-X importtime` of that run (top imports by cumulative time)."""
    cli = Path(sys.executable).parent / "emoalign"

    def tiny_run(i: int, extra: list[str]) -> list[str]:
        cache = workdir / "startup" / f"cache{i}-{time.time_ns()}"
        return [sys.executable, *extra, str(cli), "extract", "--model", str(folder), "--layers", "0",
                "--profile", "baseline", "--max-samples-per-emotion", "1", "--dtype", "float32", "--quiet",
                "--cache-dir", str(cache)]

    (workdir / "startup").mkdir(parents=True, exist_ok=True)
    log = workdir / "startup" / "log.txt"
    python_pass = statistics.median(timed_process([sys.executable, "-c", "pass"], log)[0] for _ in range(repeats))
    imports = {}
    for name, code in (("torch", "import torch"), ("transformers", "import transformers"),
                       ("emoalign.cli.commands", "import emoalign.cli.commands")):
        imports[name] = statistics.median(timed_process([sys.executable, "-c", code], log)[0] for _ in range(repeats))
    tiny = statistics.median(timed_process(tiny_run(i, []), log)[0] for i in range(repeats))
    trace = subprocess.run(tiny_run(99, ["-X", "importtime"]), capture_output=True, text=True, env=child_env(),
                           check=False)
    rows = []
    for line in trace.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match.group(2)) / 1e6, len(match.group(3)) // 2, match.group(4)))
    top_level = sorted([r for r in rows if r[1] == 0], reverse=True)[:12]
    total = sum(r[0] for r in rows if r[1] == 0)
    first = {}
    for seconds, _depth, name in rows:
        root = name.split(".")[0]
        if root in ("torch", "transformers", "scipy", "pandas", "numpy", "safetensors", "tqdm", "tokenizers",
                    "sklearn", "matplotlib", "huggingface_hub", "emoalign") and name == root:
            first[root] = max(first.get(root, 0.0), seconds)
    return {"python": python_pass, "imports": imports, "tiny": tiny, "import_total": total,
            "top": top_level, "packages": dict(sorted(first.items(), key=lambda kv: -kv[1]))}


def fmt_range(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("STYLE", "SPEC"), help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 round, GPT-2 shape only, prints only (smoke check)")
    parser.add_argument("--peer-python", help="python of a venv with transformer_lens<3 (styles tl-original, tl-stop)")
    parser.add_argument("--styles", nargs="+", default=list(STYLE_NAMES), choices=list(STYLE_NAMES))
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "emoalign-extract-speed")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up / import-time measurement")
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
        return

    command = "  ".join(["", ".venv/bin/python benchmarks/extract_speed.py", *sys.argv[1:]]).strip()
    rounds = 1 if args.quick else args.rounds
    shapes = ["gpt2-small"] if args.quick else ["gpt2-small", "llama-32l"]
    load_before = os.getloadavg()
    started = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    folders, tokenizer_note = build_models(args.workdir, shapes)
    prompts_path, prompts, _, _ = write_prompts(args.workdir)
    n_tokens = dataset_tokens(folders[shapes[0]], prompts)
    print(f"tokenizer: {tokenizer_note}; {len(prompts)} prompts, {n_tokens} tokens")

    skipped = check_styles(args.styles, args.peer_python)
    for style, reason in skipped.items():
        print(f"skipped {style}: {reason}")
    styles = [s for s in args.styles if s not in skipped]
    jobs = []
    for shape in shapes:
        layer_sets = [list(range(12))] if shape == "gpt2-small" else [list(range(12)), list(range(32))]
        for layers in layer_sets:
            for style in styles:
                if style in GPT2_ONLY and shape != "gpt2-small":
                    continue
                if style == "hf-all-hidden" and len(layers) > 12:
                    continue  # (a) runs every layer and the LM head whatever is kept: its 0-11 run is the same work
                jobs.append({"style": style, "shape": shape, "layers": layers, "folder": folders[shape]})
    runs_root = args.workdir / "runs"
    shutil.rmtree(runs_root, ignore_errors=True)
    measured: dict[tuple, list[dict]] = {}
    job_dirs: dict[tuple, dict] = {}
    for r in range(rounds):
        shift = (r * len(jobs)) // rounds
        for n, job in enumerate(jobs[shift:] + jobs[:shift]):
            layers = f"{job['layers'][0]}-{job['layers'][-1]}"
            key = (job["shape"], layers, job["style"])
            run_dir = runs_root / f"r{r}" / f"{job['shape']}-{layers}-{job['style']}"
            result = run_job(job, run_dir, prompts_path, args.peer_python)
            if r == 0:
                job_dirs.setdefault((job["shape"], layers), {})[job["style"]] = run_dir
            status = "" if result["code"] == 0 else f"  FAILED (exit {result['code']}; see {result['log']})"
            print(f"round {r + 1}/{rounds} job {n + 1}/{len(jobs)}: {job['style']:14s} {job['shape']:10s} "
                  f"layers {layers:5s} {result['wall']:7.1f} s  {result['rss']:7.0f} MB{status}", flush=True)
            if result["code"] == 0:
                measured.setdefault(key, []).append(result)
            if r > 0:  # keep round 1's outputs for the same-work check; later rounds' are large
                for item in run_dir.glob("out.*"):
                    item.unlink()
                shutil.rmtree(run_dir / "cache", ignore_errors=True)
    same_work = compare_bare(job_dirs, "")
    info = startup(folders["gpt2-small"], args.workdir) if not args.no_startup else None

    # --- table ---
    rows, med = [], {}
    for (shape, layers, style), results in measured.items():
        walls = [x["wall"] for x in results]
        med[(shape, layers, style)] = (statistics.median(walls), statistics.median(x["rss"] for x in results))
    header = "| style | shape | layers | wall s, median (min-max) | tokens/s | fed tokens | peak RSS MB | wall / emoalign |"
    rows = [header, "|---|---|---|---|---|---|---|---|"]
    for shape in shapes:
        for layers in sorted({k[1] for k in measured if k[0] == shape}, key=lambda s: int(s.split("-")[1])):
            ours = med.get((shape, layers, "emoalign"))
            for style, style_name in STYLE_NAMES.items():
                if (shape, layers, style) not in measured:
                    continue
                results = measured[(shape, layers, style)]
                wall, rss = med[(shape, layers, style)]
                fed = results[0]["fed"]
                ratio = f"{wall / ours[0]:.2f}x" if ours else "n/a"
                rows.append(f"| {style_name} | {SHAPES[shape]} | {layers} | {fmt_range([x['wall'] for x in results])} "
                            f"| {n_tokens / wall:.0f} | {fed if fed is not None else '-'} | {rss:.0f} | {ratio} |")

    def ratio(shape, layers, a, b):
        if (shape, layers, a) in med and (shape, layers, b) in med:
            return med[(shape, layers, a)][0] / med[(shape, layers, b)][0]
        return None

    floors = []

    def floor(text, value, ok, shown):
        if value is None:
            floors.append(f"- {text}: not measured (a style was skipped or failed)")
        else:
            floors.append(f"- {text}: {'MET' if ok(value) else 'NOT MET'} ({shown(value)})")

    floor("emoalign >= 3x faster than (a) on the 32-layer shape, layers 0-11", ratio("llama-32l", "0-11", "hf-all-hidden", "emoalign"),
          lambda v: v >= 3, lambda v: f"(a) / emoalign = {v:.2f}x")
    floor("emoalign >= 4x faster than (b) on GPT-2", ratio("gpt2-small", "0-11", "tl-original", "emoalign"),
          lambda v: v >= 4, lambda v: f"(b) / emoalign = {v:.2f}x")
    for shape, layers in sorted({(k[0], k[1]) for k in med}):
        for peer, limit in (("bare", 1.10), ("nnsight", 1.05)):
            floor(f"emoalign <= {limit}x {STYLE_NAMES[peer].split()[0]} {peer}, {SHAPES[shape]}, layers {layers}",
                  ratio(shape, layers, "emoalign", peer), lambda v, limit=limit: v <= limit,
                  lambda v, peer=peer: f"emoalign / {peer} = {v:.2f}x")
    rss_ours, rss_b = med.get(("gpt2-small", "0-11", "emoalign")), med.get(("gpt2-small", "0-11", "tl-original"))
    floor("emoalign peak memory <= 1/2 of (b) on GPT-2", None if not (rss_ours and rss_b) else rss_ours[1] / rss_b[1],
          lambda v: v <= 0.5, lambda v: f"{rss_ours[1]:.0f} MB vs {rss_b[1]:.0f} MB = {v:.2f}")

    import torch
    import transformers

    versions = f"torch {torch.__version__}, transformers {transformers.__version__}"
    if "nnsight" in styles:
        versions += ", " + peer_versions(sys.executable, ["nnsight"])
    if args.peer_python and any(s in styles for s in PEER_STYLES):
        versions += f"; peer venv ({args.peer_python}): " + peer_versions(
            args.peer_python, ["transformer_lens", "transformers", "torch"])
    load_after = os.getloadavg()
    minutes = (time.perf_counter() - started) / 60
    lines = [
        "## Extraction speed (`benchmarks/extract_speed.py`)", "",
        "```bash", command, "```", "",
        (f"Date {_dt.date.today().isoformat()}; {minutes:.1f} min in all; {os.cpu_count()} cores shared with other "
        f"workers, load average {load_before[0]:.1f} at the start and {load_after[0]:.1f} at the end. Every style ran with "
        "ONE torch thread (`OMP_NUM_THREADS=1`, `torch.set_num_threads(1)`), as a whole process: wall time from "
        f"start to exit, peak RSS of that process (`os.wait4`). {rounds} interleaved round(s), the job order rotated "
        "between rounds; medians (min-max). Random-weight models (seed 0, float32, safetensors); the `baseline` "
        f"profile, {len(prompts)} prompts, {n_tokens} tokens (tokens/s = these / wall, the same numerator for "
        "every style; *fed* = what the style fed its model: padding, repeats, BOS). Tokenizer: "
        f"{tokenizer_note}. Versions: {versions}."), "",
        *rows, "",
        ("(a) is measured at layers 0-11 only: it runs every layer and the LM head whatever layers it keeps, so "
         "at 0-31 it does the same work. (b) and TransformerLens' stop_at_layer run on GPT-2 only."), "",
        "### Floors (measured; nothing tuned)", "", *floors, "",
    ]
    if skipped:
        lines += ["Skipped: " + "; ".join(f"{s} ({why})" for s, why in skipped.items()), ""]
    if same_work:
        lines += [f"Same work: (d) and emoalign give the same activations ({same_work}).", ""]
    if info:
        frac = {k: info["tiny"] / v[0] for k, v in med.items() if k[2] == "emoalign"}
        lines += [
            "### Fixed start-up of `emoalign extract`", "",
            f"`emoalign extract` on 1 prompt per label at layer 0 of the GPT-2 shape: {info['tiny']:.2f} s (median of 3; "
            f"`python -c pass`: {info['python']:.2f} s; `import torch` {info['imports']['torch']:.2f} s, "
            f"`import transformers` {info['imports']['transformers']:.2f} s, `import emoalign.cli.commands` "
            f"{info['imports']['emoalign.cli.commands']:.2f} s, each a whole process). That is "
            + ", ".join(f"{v:.0%} of the {SHAPES[k[0]].split(' (')[0]} {k[1]} run" for k, v in sorted(frac.items()))
            + f". `-X importtime` of that run: {info['import_total']:.2f} s of imports in all; largest top-level imports "
            "(cumulative s): " + ", ".join(f"{name} {s:.2f}" for s, _, name in info["top"])
            + "; first import of each package (cumulative s): "
            + ", ".join(f"{name} {s:.2f}" for name, s in info["packages"].items()) + ".", "",
        ]
    if args.peer_python:
        lines += [("Peer set-up: nnsight in the project venv (`pip install -e '.[bench]'`); TransformerLens 2.x needs "
                  "transformers<5, so in a venv outside the repository: `python3 -m venv /work/benchenv && "
                  "/work/benchenv/bin/pip install torch==2.13.0 'transformer_lens<3' 'transformers<5' 'datasets<4' "
                  "'pyarrow<18'` (datasets/pyarrow pinned: the newest pyarrow needs NumPy 2, TransformerLens 2 pins NumPy 1)."), ""]
    text = "\n".join(lines)
    print()
    print(text)
    if not (args.quick or args.no_write):
        write_section(SECTION, text)
        print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
