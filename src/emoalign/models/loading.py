"""Load a Hugging Face model and tokenizer with emoalign's dtype and device policy.

``DTYPES``, ``text_config`` and ``hf_quiet`` live in :mod:`emoalign.models.hf` (imported here too)."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from emoalign.core.errors import EmoalignError
from emoalign.models.blocks import find_blocks
from emoalign.models.gguf import ensure_dequantized
from emoalign.models.hf import (
    DTYPES,
    check_config_numbers,
    check_loading_info,
    config_number_error,
    hf_quiet,
    text_config,
)
from emoalign.models.random_copy import build_random_copy, config_depth, truncate_config
from emoalign.models.registry import ModelSpec

__all__ = [
    "BF16_THRESHOLD_PARAMS",
    "DTYPES",
    "check_config_file",
    "LoadedModel",
    "estimate_parameter_count",
    "hf_quiet",
    "hub_commit",
    "load_config",
    "load_model",
    "load_tokenizer",
    "local_fingerprint",
    "model_location",
    "prepare_tokenizer",
    "resolve_device",
    "resolve_dtype",
    "text_config",
]
# Models above this size load in bfloat16 by default; smaller ones in float32.
BF16_THRESHOLD_PARAMS = 1.0e9


@dataclass
class LoadedModel:
    """A model ready for extraction, with what is needed to record its provenance."""

    spec: ModelSpec
    model: torch.nn.Module
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    model_type: str
    n_layers: int
    d_model: int
    block_path: str
    untrained_seed: int | None = None

    def provenance(self) -> dict[str, Any]:
        """Model id, revision, dtype, device, architecture: what an artifact must record."""
        return {
            "name": self.spec.name,
            "id": self.spec.hub_id,
            "revision": getattr(self.model.config, "_commit_hash", None),
            "model_type": self.model_type,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": str(self.device),
            "n_layers": self.n_layers,
            "d_model": self.d_model,
            "block_path": self.block_path,
            "weights": "pretrained" if self.untrained_seed is None else f"random init (seed {self.untrained_seed})",
            **({"random_seed": self.untrained_seed} if self.untrained_seed is not None else {}),
            **({"gguf": self.spec.gguf.provenance()} if self.spec.gguf is not None else {}),
        }


def resolve_device(requested: str = "auto") -> torch.device:
    """``auto`` picks cuda > mps > cpu; an explicit device that is absent is an error."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = requested.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise EmoalignError(f"--device {requested}: CUDA is not available on this machine (try --device auto)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise EmoalignError(f"--device {requested}: Apple MPS is not available on this machine (try --device auto)")
    if kind not in ("cpu", "cuda", "mps"):
        raise EmoalignError(f"--device {requested}: unknown device (use auto, cpu, cuda, cuda:N or mps)")
    try:
        return torch.device(requested)
    except RuntimeError:
        raise EmoalignError(f"--device {requested}: cannot read it (use auto, cpu, cuda, cuda:N or mps)") from None


def estimate_parameter_count(config: Any) -> float:
    """Rough parameter count of the language model from its config (embeddings + blocks)."""
    cfg = text_config(config)
    d = getattr(cfg, "hidden_size", None) or getattr(cfg, "n_embd", 0)
    n_layers = getattr(cfg, "num_hidden_layers", None) or getattr(cfg, "n_layer", 0)
    ff = getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None) or 4 * d
    vocab = getattr(cfg, "vocab_size", 0)
    return float(vocab * d + n_layers * (4 * d * d + 3 * d * ff))


def resolve_dtype(requested: str | None, model_type: str, n_params: float) -> torch.dtype:
    """float32 under ~1B parameters, bfloat16 above; ``requested`` overrides; float16 never for Gemma."""
    if requested in (None, "auto"):
        return torch.bfloat16 if n_params >= BF16_THRESHOLD_PARAMS else torch.float32
    if requested not in DTYPES:
        raise EmoalignError(f"--dtype {requested}: unknown dtype (use auto, {', '.join(DTYPES)})")
    if requested == "float16" and model_type.startswith("gemma"):
        raise EmoalignError(
            f"--dtype float16 refused for {model_type}: Gemma activations exceed the float16 range "
            "(the original study lost Gemma layers 7-11 to NaN/Inf); use bfloat16 or float32"
        )
    return DTYPES[requested]


def _summary(exc: BaseException) -> str:
    """An exception's message on one line (several lines joined), its type where the message alone
    says little (``KeyError: 'added_tokens'``)."""
    text = " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
    if len(text) > 300:
        text = text[:297] + "..."
    if not text:
        return type(exc).__name__
    if not isinstance(exc, (OSError, ValueError)) or isinstance(exc, UnicodeDecodeError):
        return f"{type(exc).__name__}: {text}"
    return text


def _local_file(spec: ModelSpec, *names: str) -> str:
    """The first of ``names`` present in a local model folder (``<folder>/config.json``), else the
    folder; the GGUF file for a GGUF model."""
    if spec.gguf is not None:
        return spec.gguf.path
    folder = Path(spec.hub_id).expanduser()
    for name in names:
        if (folder / name).is_file():
            return str(folder / name)
    return str(folder)


def _offline_error(spec: ModelSpec, what: str, exc: Exception, *names: str) -> EmoalignError:
    """One line for a config, tokenizer or weights that cannot be loaded: the file at fault for a
    local model (``names``: the files to name, in order), the offline advice for a hub model that is
    neither cached nor reachable."""
    if spec.is_local or spec.gguf is not None:
        return EmoalignError(f"cannot load the {what} of model {spec.name!r} ({_local_file(spec, *names)}): {_summary(exc)}")
    if not isinstance(exc, (OSError, ValueError, KeyError)):
        return EmoalignError(f"cannot load the {what} of model {spec.name!r} ({spec.hub_id}): {_summary(exc)}")
    return EmoalignError(
        f"cannot load model {spec.name!r} ({spec.hub_id}): it is not in the local Hugging Face cache "
        f"and the hub could not be reached ({_summary(exc)}); give the path of a local model folder in its place, "
        "or run `emoalign demo` for the offline study"
    )


def check_config_file(spec: ModelSpec) -> None:
    """The key numbers of a local folder's ``config.json`` (and of its ``text_config``) are whole
    numbers within bounds, read from the JSON itself: before transformers reads it (whose errors
    name neither the file nor, for some families, the problem)."""
    if spec.gguf is not None or not spec.is_local:
        return
    path = Path(spec.hub_id).expanduser() / "config.json"
    if not path.is_file():
        return  # transformers says what is missing
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmoalignError(f"{path}: not a readable JSON file ({_summary(exc)}) (model {spec.name!r})") from None
    if not isinstance(raw, dict):
        raise EmoalignError(f"{path}: not a JSON object (model {spec.name!r})")
    for part, fields in (("", raw), ("text_config.", raw.get("text_config"))):
        if not isinstance(fields, dict):
            continue
        for key, value in fields.items():
            if (problem := config_number_error(key, value)) is not None:
                raise EmoalignError(f"{path}: {part}{problem} (model {spec.name!r})")


def local_fingerprint(path: str | Path) -> str:
    """Hash of a local model folder's config and weight-file sizes/mtimes (for cache keys)."""
    folder = Path(path).expanduser()
    digest = hashlib.sha256()
    for item in sorted(folder.iterdir()):
        if item.is_file():
            stat = item.stat()
            digest.update(f"{item.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:16]


def hub_commit(hub_id: str, revision: str | None) -> str:
    """The commit a hub revision (branch, tag or commit; default ``main``) points to, read from the
    local Hugging Face cache (no network): a cache key built on it changes when the branch moves.
    The revision as given where the model is not in the cache yet."""
    from huggingface_hub import try_to_load_from_cache

    name = revision or "main"
    try:
        path = try_to_load_from_cache(hub_id, "config.json", revision=name)
    except Exception:  # noqa: BLE001 - an id the hub client rejects: keyed by the name as given
        return name
    return Path(path).parent.name if isinstance(path, str) else name


def model_location(spec: ModelSpec, *, quiet: bool = False) -> str:
    """What ``from_pretrained`` reads: the hub id or folder, or for a GGUF file its dequantized copy
    in the model store (made on first use; see :mod:`emoalign.models.gguf`)."""
    if spec.gguf is None:
        return spec.hub_id
    return str(ensure_dequantized(spec.gguf, quiet=quiet))


def load_config(spec: ModelSpec, *, revision: str | None = None, trust_remote_code: bool = False) -> Any:
    """The model's config (cheap: no weights)."""
    from transformers import AutoConfig

    check_config_file(spec)
    try:
        config = AutoConfig.from_pretrained(model_location(spec), revision=revision, trust_remote_code=trust_remote_code)
    except EmoalignError:
        raise
    except Exception as exc:  # noqa: BLE001 - transformers and huggingface_hub raise many types for bad configs
        raise _offline_error(spec, "config", exc, "config.json") from None
    where = _local_file(spec, "config.json") if spec.is_local else f"config of {spec.hub_id}"
    check_config_numbers(config, f"{where} (model {spec.name!r})")
    return config


def load_tokenizer(spec: ModelSpec, *, revision: str | None = None, trust_remote_code: bool = False) -> Any:
    """A fast tokenizer (character offsets are required), right padding, EOS as pad if none."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            model_location(spec), revision=revision, trust_remote_code=trust_remote_code
        )
    except EmoalignError:
        raise
    except Exception as exc:  # noqa: BLE001 - tokenizers raises bare Exceptions (and KeyError, TypeError ...) for bad files
        raise _offline_error(spec, "tokenizer", exc, "tokenizer.json", "tokenizer_config.json", "tokenizer.model") from None
    return prepare_tokenizer(tokenizer, spec.name)


def prepare_tokenizer(tokenizer: Any, name: str) -> Any:
    """``tokenizer`` set up for extraction (in place): fast (character offsets), right padding,
    EOS as pad if it has none; anything else is an error naming the model."""
    if not getattr(tokenizer, "is_fast", False):
        raise EmoalignError(
            f"model {name!r}: its tokenizer is not a fast tokenizer, so it has no character "
            "offsets; emoalign needs them to locate emotion words"
        )
    tokenizer.padding_side = "right"  # GPT-2's learned positions break under left padding
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise EmoalignError(f"model {name!r}: the tokenizer has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _check_head_loaded(spec: ModelSpec, model: torch.nn.Module, info: Any) -> None:
    """A one-line error where the checkpoint holds no weights for the next-token head (saved as a
    base model, untied): transformers would initialise it at random."""
    head = model.get_output_embeddings()
    name = next((n for n, module in model.named_modules() if module is head), None)
    missing = sorted(k for k in info.get("missing_keys") or () if name is not None and k.startswith(f"{name}."))
    if missing:
        raise EmoalignError(
            f"{spec.name} has no next-token head in its weights ({name} missing): it was saved as a base model "
            f"({', '.join(getattr(model.config, 'architectures', None) or ['?'])}); the causal test needs the "
            "checkpoint of the *ForCausalLM model"
        )


def load_model(
    spec: ModelSpec,
    *,
    device: str = "auto",
    dtype: str | None = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    device_map: str | None = None,
    quiet: bool = False,
    untrained_seed: int | None = None,
    n_blocks: int | None = None,
    allow_pickle_weights: bool = False,
    lm_head: bool = False,
) -> LoadedModel:
    """Load ``spec`` without its LM head (``AutoModel``: extraction never needs the head and its
    128k-262k vocabulary), in eval mode, on the requested device.

    ``n_blocks``: only the first ``n_blocks`` blocks are built and read from the checkpoint
    (``None``: all); the activations of those blocks are the same, and a study of layers 0-11 of a
    32-block model neither reads nor upcasts the other 20. ``LoadedModel.n_layers`` stays the full
    depth.

    ``untrained_seed``: instead of the weights, build the same architecture from its config with
    random initial weights (seeded) — the untrained control, which reads the same tokens; built by
    :func:`emoalign.models.random_copy.build_random_copy`.

    ``lm_head``: with the next-token head (``AutoModelForCausalLM``), for the causal test, which
    reads the next-token distribution. The head reads the last block, so every block is loaded
    (``n_blocks`` below the depth and ``untrained_seed`` are refused); a checkpoint saved without
    its head (a base ``LlamaModel``) is an error, not a randomly initialised head. A head tied to
    the input embeddings (GPT-2, Gemma) needs no weights of its own.
    """
    from transformers import AutoModel, AutoModelForCausalLM

    if lm_head and untrained_seed is not None:
        raise EmoalignError(f"{spec.name}: the next-token head comes with the pretrained weights (no untrained_seed)")

    model_location(spec, quiet=quiet)  # a GGUF file: dequantized into the model store first (once)
    config = load_config(spec, revision=revision, trust_remote_code=trust_remote_code)
    if lm_head and n_blocks is not None and n_blocks < config_depth(config):
        raise EmoalignError(
            f"{spec.name}: the next-token head reads the last block; it cannot be loaded with {n_blocks} of "
            f"{config_depth(config)} blocks"
        )
    model_type = str(getattr(config, "model_type", "unknown"))
    torch_dtype = resolve_dtype(dtype, model_type, estimate_parameter_count(config))
    target_device = resolve_device(device)
    tokenizer = load_tokenizer(spec, revision=revision, trust_remote_code=trust_remote_code)
    kwargs: dict[str, Any] = {
        "revision": revision, "dtype": torch_dtype, "trust_remote_code": trust_remote_code,
        # every weight the config builds must come from the checkpoint: reported by check_loading_info
        "output_loading_info": True, "ignore_mismatched_sizes": True,
    }
    if not allow_pickle_weights:
        kwargs["use_safetensors"] = True  # never unpickle weights unless the user opted in
    if device_map is not None:
        try:
            import accelerate  # noqa: F401
        except ImportError:
            raise EmoalignError("--device-map needs the 'accelerate' package: pip install 'emoalign[multigpu]'") from None
        kwargs["device_map"] = device_map
    # AutoModel on a CausalLM checkpoint reports the unused LM head as "unexpected": expected here.
    with hf_quiet(progress=quiet, logs=True):
        if untrained_seed is not None:
            model = build_random_copy(
                config, untrained_seed, n_blocks, dtype=torch_dtype, trust_remote_code=trust_remote_code
            )
        else:
            if n_blocks is not None and n_blocks < config_depth(config):
                kwargs["config"] = copy.deepcopy(config)
                truncate_config(kwargs["config"], n_blocks)
            try:
                auto = AutoModelForCausalLM if lm_head else AutoModel
                model, info = auto.from_pretrained(model_location(spec, quiet=quiet), **kwargs)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise _offline_error(spec, "weights", exc, "model.safetensors", "model.safetensors.index.json") from None
            except Exception as exc:
                if type(exc).__name__ != "SafetensorError":
                    raise
                raise _offline_error(spec, "weights", exc, "model.safetensors", "model.safetensors.index.json") from None
            if lm_head:
                _check_head_loaded(spec, model, info)
            check_loading_info(
                spec.name, _local_file(spec) if spec.is_local else spec.hub_id, info, find_blocks(model)[0],
                config_depth(config), n_blocks if n_blocks is not None and n_blocks < config_depth(config) else None,
            )
    if device_map is None:
        model.to(target_device)
    else:
        target_device = model.get_input_embeddings().weight.device
    model.eval()
    block_path, _ = find_blocks(model)
    cfg = text_config(model.config)
    d_model = int(getattr(cfg, "hidden_size", None) or cfg.n_embd)
    return LoadedModel(
        spec=spec,
        model=model,
        tokenizer=tokenizer,
        device=target_device,
        dtype=torch_dtype,
        model_type=model_type,
        n_layers=config_depth(config),
        d_model=d_model,
        block_path=block_path,
        untrained_seed=untrained_seed,
    )
