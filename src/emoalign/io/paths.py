"""Names that become file names: made safe, and kept inside the folder they belong to.

Dataset, model, profile and label names come from users (a file called ``...jsonl`` is a dataset
named ``..``); every one of them passes :func:`safe_component` before it joins a path, and
:func:`inside` refuses any path that would still leave its root.

Output roots (``--results-dir``, ``--report-dir``) are remembered as they pass :func:`inside` (or
:func:`register_output_root`); every write (:func:`emoalign.io.storage.atomic_write`) then refuses a
symbolic link between such a root and the file (:func:`refuse_symlinks`), so no artifact kind can be
redirected outside, or onto another artifact, by a link planted inside the output folder. A link *at*
or *above* a root (a results folder on another disk) is the user's choice and is followed.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

from emoalign.core.errors import EmoalignError

__all__ = [
    "MAX_COMPONENT_BYTES", "fit_component", "inside", "output_roots", "refuse_symlinked_folders", "refuse_symlinks",
    "register_output_root",
    "safe_component", "safe_relative",
]

_UNSAFE = re.compile(r"[^\w.+=-]")  # \w: letters and digits of any script (a Japanese name stays)
#: Longest file-name component made from a user's name, in UTF-8 bytes. File systems allow 255 bytes
#: per name; an artifact adds its suffix (``_vectors_token_based.safetensors``: 32) and the atomic
#: writer's temporary adds ``.<name>.h<host>.pid<pid>.<random>.tmp`` (about 36) around it.
MAX_COMPONENT_BYTES = 128
_HASH_CHARS = 8


def fit_component(name: str, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """``name`` itself when it takes at most ``max_bytes`` UTF-8 bytes; else its longest prefix that
    fits with ``-`` and 8 hex digits of the sha256 of the whole name: stable, and two long names
    that share their first ``max_bytes`` bytes still differ."""
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    budget = max_bytes - _HASH_CHARS - 1
    prefix = name.encode("utf-8")[:budget].decode("utf-8", errors="ignore")  # never half a character
    return f"{prefix}-{digest}"


def safe_component(name: str) -> str:
    """``name`` as one file-name component: characters other than letters, digits and ``_.+=-``
    become ``_``, leading dots become ``_`` (no ``..``, no hidden files), never empty, and at most
    :data:`MAX_COMPONENT_BYTES` bytes (a longer one is cut and ends in a short hash of the whole
    name: :func:`fit_component`)."""
    cleaned = _UNSAFE.sub("_", str(name))
    stripped = cleaned.lstrip(".")
    cleaned = "_" * (len(cleaned) - len(stripped)) + stripped
    return fit_component(cleaned) or "_"


def safe_relative(path: str) -> Path:
    """A relative path of several components (``baseline/k4``), each made safe."""
    return Path(*(safe_component(part) for part in str(path).split("/") if part)) if path else Path("_")


# --- output roots and symbolic links --------------------------------------------------------------
_ROOTS: set[Path] = set()
_ROOTS_LOCK = threading.Lock()


def register_output_root(root: str | Path) -> Path:
    """Remember ``root`` as an output folder: no write below it may pass through a symbolic link
    (see :func:`refuse_symlinks`). Both its absolute and its resolved form are remembered. Returns
    ``root``."""
    absolute = Path(os.path.abspath(Path(root).expanduser()))
    with _ROOTS_LOCK:
        _ROOTS.add(absolute)
        _ROOTS.add(absolute.resolve())
    return Path(root)


def output_roots() -> tuple[Path, ...]:
    """The output folders remembered in this process (absolute and resolved forms)."""
    with _ROOTS_LOCK:
        return tuple(sorted(_ROOTS))


def _symlink_below(root: Path, path: Path) -> Path | None:
    """The first existing symbolic link among the folders strictly between ``root`` and ``path``'s
    parent (both absolute, compared as written), or None."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return None
    current = root
    for part in relative.parts[:-1]:
        current = current / part
        if current.is_symlink():
            return current
        if not current.exists():
            return None  # the rest is created as plain folders
    return None


def refuse_symlinks(path: str | Path, root: str | Path | None = None) -> None:
    """Refuse (one line naming the link) a write of ``path`` through a symbolically linked folder
    below ``root``, or below any remembered output root (:func:`register_output_root`)."""
    target = Path(os.path.abspath(Path(path).expanduser()))
    roots = output_roots() if root is None else (Path(os.path.abspath(root)), Path(os.path.abspath(root)).resolve())
    for candidate in roots:
        link = _symlink_below(candidate, target)
        if link is not None:
            raise EmoalignError(
                f"{link}: a symbolic link inside the output folder {candidate}; refusing to write {path} through it "
                "(replace the link by a plain folder, or point the output option at the link's target)"
            )


def refuse_symlinked_folders(folder: str | Path) -> None:
    """Before a study writes into ``folder``: no folder below it, nor between it and a remembered
    output root, is a symbolic link (one line naming the first link found), so a link planted in an
    output folder fails the study before its first artifact rather than halfway."""
    folder = Path(folder)
    refuse_symlinks(folder / "_")
    if not folder.is_dir():
        return
    for current, dirs, _files in os.walk(folder, followlinks=False):
        for name in sorted(dirs):
            if os.path.islink(os.path.join(current, name)):
                link = Path(current) / name
                raise EmoalignError(
                    f"{link}: a symbolic link inside the output folder {folder}; refusing to write through it "
                    "(replace the link by a plain folder, or point the output option at the link's target)"
                )


def inside(root: str | Path, path: str | Path) -> Path:
    """``path`` itself, after checking it lies under ``root`` once both are resolved and that no
    folder between them is a symbolic link; ``root`` is remembered as an output root."""
    root_resolved, path_resolved = Path(root).resolve(), Path(path).resolve()
    if path_resolved != root_resolved and root_resolved not in path_resolved.parents:
        raise EmoalignError(f"{path}: would be written outside {root}; refusing")
    register_output_root(root)
    refuse_symlinks(path, root)
    return Path(path)
