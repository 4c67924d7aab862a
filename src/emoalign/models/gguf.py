"""GGUF files as models: inspect once, dequantize once into the model store, then load the copy.

transformers reads a GGUF (``from_pretrained(folder, gguf_file=name)``) by dequantizing every tensor
in Python -- 2-4 minutes for a 1.5B model on 2 CPU cores -- and refuses to ``save_pretrained`` the result.
So the first use writes a plain Hugging Face folder (``config.json``, ``model.safetensors``, tokenizer
files, ``emoalign_gguf.json``) under ``models_dir()``, keyed by the GGUF's sha256; every later run
loads that folder and never opens the GGUF reader.
"""

from __future__ import annotations

import importlib.util
import json
import mmap
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emoalign.core.errors import EmoalignError
from emoalign.core.log import get_logger
from emoalign.models.store import (
    atomic_directory,
    cached_facts,
    cached_sha256,
    human_size,
    models_dir,
    remember_facts,
)

log = get_logger(__name__)

#: dtype of the dequantized copy; emoalign's dtype policy still applies when it is loaded.
STORE_DTYPE = "bfloat16"
PROVENANCE_FILE = "emoalign_gguf.json"

# GGUF metadata value types (gguf.GGUFValueType): fixed-size scalars, 8 = string, 9 = array.
_SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9

# llama.cpp's names for some architectures differ from transformers' (see load_gguf_checkpoint).
_ARCH_ALIASES = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss",
                 "minimax-m2": "minimax_m2", "t5encoder": "t5"}
_FULL_PRECISION = {"F32", "F16", "BF16"}


@dataclass(frozen=True)
class GGUFSource:
    """One GGUF file: where it is, its sha256 and what its metadata says."""

    path: str
    sha256: str
    size: int
    architecture: str
    quantization: str  # "Q4_K_M", "F32", ... from ``general.file_type``
    model_name: str | None = None  # ``general.name``

    @property
    def file_name(self) -> str:
        return Path(self.path).name

    def note(self) -> str:
        """What the dequantized weights are, in one sentence."""
        if self.quantization in _FULL_PRECISION:
            return f"weights read from a {self.quantization} GGUF"
        return (
            f"weights dequantized from {self.quantization}: they approximate the released "
            "(bf16) weights, they are not equal to them"
        )

    def provenance(self) -> dict[str, Any]:
        """File name, sha256, size, quantization type, architecture, note: what artifacts record."""
        return {
            "file": self.file_name,
            "sha256": self.sha256,
            "size_bytes": self.size,
            "quantization": self.quantization,
            "architecture": self.architecture,
            "general_name": self.model_name,
            "note": self.note(),
        }


def read_gguf_metadata(path: str | Path) -> dict[str, Any]:
    """The scalar metadata of a GGUF file (``general.architecture``, ``general.file_type``, ...).

    Arrays (the vocabulary, merges, scores) are skipped, not parsed, so this takes well under a
    second even for a 262k-token vocabulary (``gguf.GGUFReader`` takes ~17 s on Gemma 3's).
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if buf[:4] != b"GGUF":
                raise EmoalignError(f"{path}: not a GGUF file (it does not start with the GGUF magic)")
            version = struct.unpack_from("<I", buf, 4)[0]
            if version not in (2, 3):
                raise EmoalignError(f"{path}: unsupported GGUF version {version} (expected 2 or 3, little-endian)")
            _n_tensors, n_kv = struct.unpack_from("<QQ", buf, 8)
            metadata: dict[str, Any] = {}
            pos = 24
            for _ in range(n_kv):
                key, pos = _read_string(buf, pos)
                (value_type,) = struct.unpack_from("<I", buf, pos)
                value, pos = _read_value(buf, pos + 4, value_type)
                if value is not _SKIPPED:
                    metadata[key] = value
            return metadata
    except (struct.error, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise EmoalignError(f"{path}: cannot read the GGUF header ({exc}); is the file complete?") from None


_SKIPPED = object()


def _read_string(buf: mmap.mmap, pos: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<Q", buf, pos)
    start = pos + 8
    if start + length > len(buf):
        raise ValueError("string runs past the end of the file")
    return bytes(buf[start:start + length]).decode("utf-8"), start + length


def _read_value(buf: mmap.mmap, pos: int, value_type: int) -> tuple[Any, int]:
    if value_type in _SCALAR_FORMATS:
        fmt = _SCALAR_FORMATS[value_type]
        return struct.unpack_from(fmt, buf, pos)[0], pos + struct.calcsize(fmt)
    if value_type == _STRING:
        return _read_string(buf, pos)
    if value_type == _ARRAY:
        item_type, count = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        if item_type in _SCALAR_FORMATS:
            pos += count * struct.calcsize(_SCALAR_FORMATS[item_type])
        elif item_type == _STRING:
            unpack = struct.Struct("<Q").unpack_from
            for _ in range(count):
                pos += 8 + unpack(buf, pos)[0]
        else:
            for _ in range(count):
                _, pos = _read_value(buf, pos, item_type)
        if pos > len(buf):
            raise ValueError("array runs past the end of the file")
        return _SKIPPED, pos
    raise ValueError(f"unknown GGUF metadata value type {value_type}")


def quantization_name(file_type: int | None) -> str:
    """``general.file_type`` as llama.cpp names it without its prefix: 15 -> ``'Q4_K_M'``, 0 -> ``'F32'``."""
    if file_type is None:
        return "unknown"
    try:
        from gguf import LlamaFileType

        name = LlamaFileType(int(file_type)).name
    except (ImportError, ValueError):
        return f"file_type {file_type}"
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


def transformers_gguf_architectures() -> frozenset[str]:
    """GGUF ``general.architecture`` values the installed transformers can load."""
    names: set[str] = set()
    try:
        from transformers.modeling_gguf_pytorch_utils import (
            GGUF_SUPPORTED_ARCHITECTURES,
        )

        names.update(GGUF_SUPPORTED_ARCHITECTURES)
    except ImportError:
        pass
    try:
        from transformers.integrations.gguf.gguf_conversion_mapping import GGUF_ARCHS

        names.update(GGUF_ARCHS)
    except ImportError:
        pass
    return frozenset(names - {"general", "tokenizer"})


def check_architecture(architecture: str, path: str | Path) -> None:
    """One clear line when transformers cannot load this GGUF architecture."""
    supported = transformers_gguf_architectures()
    if not supported or architecture in supported or _ARCH_ALIASES.get(architecture) in supported:
        return
    import transformers

    raise EmoalignError(
        f"{path}: GGUF architecture {architecture!r} cannot be read by transformers {transformers.__version__} "
        f"(it reads: {', '.join(sorted(supported))})"
    )


def find_gguf(path: str | Path) -> Path | None:
    """The GGUF file ``path`` names: a ``.gguf`` file, or the one ``.gguf`` in a folder without a
    ``config.json``; ``None`` for anything else (a Hugging Face folder, a hub id)."""
    path = Path(path).expanduser()
    if path.is_file():
        return path if path.suffix.lower() == ".gguf" else None
    if not path.is_dir() or (path / "config.json").is_file():
        return None
    found = sorted(item for item in path.iterdir() if item.is_file() and item.suffix.lower() == ".gguf")
    if len(found) > 1:
        raise EmoalignError(
            f"{path}: holds {len(found)} GGUF files ({', '.join(item.name for item in found)}); "
            "pass one of them as the model"
        )
    return found[0] if found else None


def inspect_gguf(path: str | Path) -> GGUFSource:
    """sha256 and metadata of a GGUF file; both are cached per (path, size, mtime), so a file is
    hashed and read once. Raises a one-line error for an architecture transformers cannot read."""
    path = Path(path).expanduser().resolve()
    facts = cached_facts(path) or {}
    if not {"sha256", "architecture", "quantization"} <= facts.keys():
        metadata = read_gguf_metadata(path)
        architecture = metadata.get("general.architecture")
        if not isinstance(architecture, str):
            raise EmoalignError(f"{path}: the GGUF metadata has no general.architecture")
        facts = {
            "sha256": cached_sha256(path),
            "architecture": architecture,
            "quantization": quantization_name(metadata.get("general.file_type")),
            "general_name": metadata.get("general.name"),
        }
        remember_facts(path, **facts)
    source = GGUFSource(
        path=str(path),
        sha256=facts["sha256"],
        size=path.stat().st_size,
        architecture=facts["architecture"],
        quantization=facts["quantization"],
        model_name=facts.get("general_name"),
    )
    if not is_dequantized(source):  # a stored copy proves it readable (and the check costs ~1 s of imports)
        check_architecture(source.architecture, path)
    return source


def store_path(source: GGUFSource | str, dtype: str = STORE_DTYPE) -> Path:
    """Folder of the dequantized copy of ``source`` (a GGUF or its sha256), keyed by the sha256
    and the stored dtype."""
    sha256 = source if isinstance(source, str) else source.sha256
    return models_dir() / f"{sha256}-{dtype}"


def is_dequantized(source: GGUFSource, dtype: str = STORE_DTYPE) -> bool:
    """Whether the store already holds a complete copy (the folder only appears once complete)."""
    return (store_path(source, dtype) / PROVENANCE_FILE).is_file()


def dequantize_gguf(source: GGUFSource, out_dir: Path, *, dtype: str = STORE_DTYPE, quiet: bool = False) -> None:
    """Read ``source`` with transformers (the slow step) and write a plain Hugging Face folder to
    ``out_dir``: config without ``quantization_config``, ``model.safetensors`` (tied tensors once)
    and the tokenizer converted from the GGUF metadata."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from emoalign.models.blocks import find_blocks
    from emoalign.models.hf import (  # torch: only when dequantizing
        DTYPES,
        check_loading_info,
        hf_quiet,
        text_config,
    )

    folder, name = str(Path(source.path).parent), source.file_name
    with hf_quiet(progress=quiet, logs=True):
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model, info = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=DTYPES[dtype], output_loading_info=True
        )
    # a tensor the GGUF lacks would be stored with its random initial values: refuse instead
    check_loading_info(
        source.model_name or name, source.path, info, find_blocks(model)[0],
        int(text_config(model.config).num_hidden_layers), depth_field="the GGUF metadata (block_count)",
    )
    config = model.config
    for attribute in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, attribute):
            delattr(config, attribute)
    config.architectures = [type(model).__name__]
    config.dtype = DTYPES[dtype]
    config.save_pretrained(out_dir)
    tensors: dict[str, torch.Tensor] = {}
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    for key, tensor in model.state_dict().items():  # tied weights (lm_head = embeddings) stored once
        identity = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if identity in seen:
            continue
        seen.add(identity)
        tensors[key] = tensor.detach().to(DTYPES[dtype]).contiguous()
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save_pretrained(out_dir)


def ensure_dequantized(source: GGUFSource, *, dtype: str = STORE_DTYPE, quiet: bool = False) -> Path:
    """The store folder of ``source``, dequantizing it first if this is its first use."""
    final = store_path(source, dtype)
    if is_dequantized(source, dtype):
        return final
    missing = [name for name in ("gguf", "accelerate") if importlib.util.find_spec(name) is None]
    if missing:
        raise EmoalignError(
            f"reading {source.file_name} needs the package(s) {', '.join(missing)}: "
            f"pip install {' '.join(missing)}  (or pip install 'emoalign[offline-models]')"
        )
    if not quiet:
        log.info(
            f"first use of {source.file_name} ({source.quantization}, {human_size(source.size)}): "
            f"dequantizing it once into {final} (a few minutes for a 1B model on a CPU; later runs load the copy)"
        )
    started = time.perf_counter()
    with atomic_directory(final) as tmp:
        try:
            dequantize_gguf(source, tmp, dtype=dtype, quiet=quiet)
        except (OSError, ValueError, KeyError, RuntimeError, NotImplementedError, ImportError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EmoalignError(f"cannot dequantize {source.path}: {first_line}") from None
        record = {
            **source.provenance(),
            "source_path": source.path,
            "stored_dtype": dtype,
            "dequantize_seconds": round(time.perf_counter() - started, 1),
            "versions": _versions(),
        }
        (tmp / PROVENANCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if not quiet:
        log.info(f"dequantized in {time.perf_counter() - started:.0f} s")
    return final


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for package in ("transformers", "gguf", "torch"):
        try:
            out[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return out

