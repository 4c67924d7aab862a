"""Names that become file names: made safe, and kept inside the folder they belong to.

Dataset, model, profile and label names come from users (a file called ``...jsonl`` is a dataset
named ``..``); every one of them passes :func:`safe_component` before it joins a path, and
:func:`inside` refuses any path that would still leave its root.
"""

from __future__ import annotations

import re
from pathlib import Path

from emoalign.core.errors import EmoalignError

_UNSAFE = re.compile(r"[^\w.+=-]")  # \w: letters and digits of any script (a Japanese name stays)


def safe_component(name: str) -> str:
    """``name`` as one file-name component: characters other than letters, digits and ``_.+=-``
    become ``_``, leading dots become ``_`` (no ``..``, no hidden files), never empty."""
    cleaned = _UNSAFE.sub("_", str(name))
    stripped = cleaned.lstrip(".")
    cleaned = "_" * (len(cleaned) - len(stripped)) + stripped
    return cleaned[:200] or "_"


def safe_relative(path: str) -> Path:
    """A relative path of several components (``baseline/k4``), each made safe."""
    return Path(*(safe_component(part) for part in str(path).split("/") if part)) if path else Path("_")


def inside(root: str | Path, path: str | Path) -> Path:
    """``path`` itself, after checking it lies under ``root`` once both are resolved."""
    root_resolved, path_resolved = Path(root).resolve(), Path(path).resolve()
    if path_resolved != root_resolved and root_resolved not in path_resolved.parents:
        raise EmoalignError(f"{path}: would be written outside {root}; refusing")
    return Path(path)
