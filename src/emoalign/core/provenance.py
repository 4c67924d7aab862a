"""Provenance of an artifact: when, with which package versions, from which command."""

from __future__ import annotations

import datetime as dt
import platform
from importlib import metadata as importlib_metadata
from typing import Any


def package_versions() -> dict[str, str]:
    """Versions of emoalign and the libraries that shape its numbers."""
    versions = {"python": platform.python_version()}
    for name in ("emoalign", "numpy", "scipy", "torch", "transformers", "tokenizers", "pandas"):
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(command: str | None = None) -> dict[str, Any]:
    """Date, package versions and the command line that produced an artifact."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "command": command,
    }
