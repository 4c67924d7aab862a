"""Atomic, pickle-free artifact I/O: safetensors (arrays + JSON metadata), JSON, text.

Every write goes to a temporary file in the destination folder and is renamed into place, so a
killed run never leaves a half-written artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from emoalign.errors import EmoalignError

METADATA_KEY = "emoalign"
_UMASK = os.umask(0)
os.umask(_UMASK)
DIGEST_KEY = "emoalign_sha256"


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and rename the result onto ``path`` (same folder, same filesystem)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; artifacts get the usual permissions
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a text file atomically (UTF-8)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write JSON atomically, pretty-printed, keys in insertion order."""
    return write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def arrays_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over names, dtypes, shapes and bytes of the arrays (in name order)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_arrays(path: str | Path, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> Path:
    """Save arrays + JSON metadata as one safetensors file, atomically, with an integrity digest."""
    contiguous = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
    header = {
        METADATA_KEY: json.dumps(metadata, ensure_ascii=False, default=_json_default),
        DIGEST_KEY: arrays_digest(contiguous),
    }
    return atomic_write(path, lambda tmp: save_file(contiguous, str(tmp), metadata=header))


def load_arrays(path: str | Path, *, verify: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a file written by :func:`save_arrays`; a damaged file raises EmoalignError naming it."""
    path = Path(path)
    if not path.is_file():
        raise EmoalignError(f"{path}: no such artifact file")
    try:
        with safe_open(str(path), framework="np") as handle:
            header = handle.metadata() or {}
            arrays = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = json.loads(header[METADATA_KEY])
    except Exception as exc:  # safetensors raises several error types for damaged headers
        raise EmoalignError(f"{path}: not a readable emoalign artifact ({exc})") from None
    if verify and header.get(DIGEST_KEY) != arrays_digest(arrays):
        raise EmoalignError(f"{path}: integrity check failed (content does not match its digest)")
    return arrays, metadata
