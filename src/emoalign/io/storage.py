"""Atomic, pickle-free artifact I/O: safetensors (arrays + JSON metadata), JSON, text.

Every write goes to a temporary file in the destination folder and is renamed into place, so a
killed run never leaves a half-written artifact; the temporary's name carries the writer's pid, so
the next run removes what a killed one left (:func:`remove_stale_temporaries`) without touching a
concurrent run's. Every artifact carries a sha256 over its metadata *and* its arrays, and the
header must be exactly what :func:`save_arrays` writes: a one-byte change anywhere is detected.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from emoalign.core.errors import EmoalignError
from emoalign.io.paths import refuse_symlinks

METADATA_KEY = "emoalign"
_UMASK = os.umask(0)
os.umask(_UMASK)
DIGEST_KEY = "emoalign_sha256"
FORMAT_KEY = "emoalign_format"
# Version of the artifact layout (header keys, digest scope). 2: the digest covers metadata too.
FORMAT_VERSION = 2
# .<name>.h<host tag>.pid<pid>.<random>.tmp: on a shared folder (a cluster's cache) only the writer's
# own machine can tell whether its pid is alive
_TEMPORARY = re.compile(r"^\..+?(?:\.h([0-9a-f]{8}))?\.pid(\d+)\.[^.]+\.tmp$")
_HOST_TAG = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


_REASONS = {
    errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied", errno.EPERM: "permission denied",
    errno.ENOTDIR: "a file is in the way of a folder", errno.EEXIST: "a file is in the way of a folder",
    errno.EDQUOT: "disk quota exceeded", errno.EFBIG: "file too large", errno.EIO: "input/output error",
    errno.ENAMETOOLONG: "file name too long",
}
_OS_ERROR_CODE = re.compile(r"os error (\d+)")


def _write_error(path: Path, exc: BaseException) -> EmoalignError:
    """One line for a failed write: the path and the reason (full disk, read-only, a file in the way)."""
    code = getattr(exc, "errno", None)
    if code is None and (match := _OS_ERROR_CODE.search(str(exc))):  # safetensors: "... (os error 28)"
        code = int(match.group(1))
    strerror = getattr(exc, "strerror", None) or (os.strerror(code) if code else None)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    reason = _REASONS.get(code or 0, strerror or first_line)
    where = getattr(exc, "filename", None)
    if not where or _TEMPORARY.match(Path(where).name):  # the temporary is gone: name the artifact
        where = path
    return EmoalignError(f"{where}: cannot write ({reason})")


def _is_io_error(exc: BaseException) -> bool:
    """An OSError, or a writer library's wrapper of one (safetensors' SafetensorError)."""
    return isinstance(exc, OSError) or (
        type(exc).__name__ == "SafetensorError" and ("I/O error" in str(exc) or "os error" in str(exc))
    )


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and rename the result onto ``path`` (same folder, same filesystem).

    A failed write (full disk, read-only or missing folder, a file in the way, a name too long) is
    one :class:`EmoalignError` naming the file, and leaves neither a temporary nor a half-written
    file (a previous ``path`` stays as it was). A symbolically linked folder below an output root
    is refused (:func:`emoalign.io.paths.refuse_symlinks`)."""
    path = Path(path)
    refuse_symlinks(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise EmoalignError(f"{path}: cannot write (a folder is in the way)")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.h{_HOST_TAG}.pid{os.getpid()}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; artifacts get the usual permissions
        os.replace(tmp, path)
        tmp = None
    except EmoalignError:
        raise
    except Exception as exc:
        if _is_io_error(exc):
            raise _write_error(path, exc) from None
        raise
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return path


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporaries under ``folder`` that a killed run on this machine left (their writer's
    pid is gone); a live writer's temporaries, another machine's, and every other file are left alone.
    Returns what was removed."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for candidate in folder.rglob(".*.tmp"):
        match = _TEMPORARY.match(candidate.name)
        if (match and candidate.is_file() and match.group(1) in (None, _HOST_TAG)
                and not _pid_alive(int(match.group(2)))):
            try:
                candidate.unlink()
                removed.append(candidate)
            except OSError:  # gone already, or not ours to delete: either way nothing to clean
                pass
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


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


def arrays_digest(arrays: Mapping[str, np.ndarray], metadata_json: str = "") -> str:
    """sha256 over the metadata's JSON text, then names, dtypes, shapes and bytes of the arrays (in
    name order)."""
    digest = hashlib.sha256()
    digest.update(f"{len(metadata_json.encode())}|".encode() + metadata_json.encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_arrays(path: str | Path, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> Path:
    """Save arrays + JSON metadata as one safetensors file, atomically, with an integrity digest."""
    contiguous = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
    metadata_json = json.dumps(metadata, ensure_ascii=False, default=_json_default)
    header = {
        METADATA_KEY: metadata_json,
        FORMAT_KEY: str(FORMAT_VERSION),
        DIGEST_KEY: arrays_digest(contiguous, metadata_json),
    }
    return atomic_write(path, lambda tmp: save_file(contiguous, str(tmp), metadata=header))


def read_header(path: str | Path) -> dict[str, str]:
    """The safetensors header of ``path`` (names, shapes, our metadata strings); raises on a damaged
    one. The header must be the compact JSON safetensors writes, padded with spaces only, so no
    byte of it can change without failing here or in the digest."""
    path = Path(path)
    with path.open("rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        if not 0 < size <= min(path.stat().st_size - 8, 100_000_000):
            raise ValueError(f"header length {size} does not fit the file")
        raw = handle.read(size)
    compact = raw.rstrip(b" ")
    header = json.loads(compact)
    if json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode() != compact:
        raise ValueError("header is not in the form safetensors writes")
    return header


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of an artifact without reading its arrays (no integrity check: use it to
    decide, never to report numbers)."""
    return json.loads(read_header(path)["__metadata__"][METADATA_KEY])


def load_arrays(path: str | Path, *, verify: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a file written by :func:`save_arrays`; a damaged file, or one of another format version,
    raises EmoalignError naming it."""
    path = Path(path)
    if not path.is_file():
        raise EmoalignError(f"{path}: no such artifact file")
    try:
        header = read_header(path).get("__metadata__", {})
        with safe_open(str(path), framework="np") as handle:
            arrays = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - not a dict
        metadata_json = header[METADATA_KEY]
        metadata = json.loads(metadata_json)
    except Exception as exc:  # noqa: BLE001 - safetensors and json raise many types for damaged headers
        raise EmoalignError(f"{path}: not a readable emoalign artifact ({str(exc).splitlines()[0]})") from None
    if header.get(FORMAT_KEY) != str(FORMAT_VERSION):
        raise EmoalignError(
            f"{path}: written by another emoalign artifact format (version {header.get(FORMAT_KEY, '1')}, "
            f"this emoalign reads {FORMAT_VERSION}); recompute it with this version"
        )
    if verify and header.get(DIGEST_KEY) != arrays_digest(arrays, metadata_json):
        raise EmoalignError(f"{path}: integrity check failed (content does not match its digest)")
    if not isinstance(metadata, dict):
        raise EmoalignError(f"{path}: metadata is not a JSON object")
    return arrays, metadata


T = TypeVar("T")


def load_artifact(
    path: str | Path, kind: str | tuple[str, ...], build: Callable[[dict[str, np.ndarray], dict[str, Any]], T]
) -> T:
    """Load an artifact of ``kind`` and rebuild it with ``build(arrays, metadata)``; a wrong kind or
    a missing or malformed field is one line naming the file (never a KeyError)."""
    arrays, metadata = load_arrays(path)
    kinds = (kind,) if isinstance(kind, str) else kind
    if metadata.get("kind") not in kinds:
        raise EmoalignError(f"{path}: not {' or '.join(kinds)} artifact (kind {metadata.get('kind')!r})")
    try:
        return build(arrays, metadata)
    except KeyError as exc:
        raise EmoalignError(f"{path}: field {exc.args[0]!r} is missing (written by another emoalign version?)") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise EmoalignError(f"{path}: malformed {metadata.get('kind')} artifact ({exc})") from None
