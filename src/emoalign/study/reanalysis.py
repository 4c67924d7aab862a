"""Re-analysis from what a study already holds: find the config a study recorded beside its
artifacts (``emoalign align STUDY -k 4``), and the alignment artifacts of a study folder
(``emoalign compare STUDY``)."""

from __future__ import annotations

from pathlib import Path

from emoalign.core.errors import EmoalignError

__all__ = ["study_config_file", "study_artifacts"]

ALIGNMENT_SUFFIX = "_token_based_full.safetensors"


def _configs_of(root: Path, pair: str | None = None) -> list[Path]:
    """The recorded configs under ``root/configs`` (of ``pair`` when given), newest first."""
    folder = root / "configs"
    if not folder.is_dir():
        return []
    found = [path for path in folder.glob("*.toml") if pair is None or path.stem in (f"{pair}_run", f"{pair}_align")]
    return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)


def study_config_file(study: str | Path) -> Path:
    """The config file that reproduces ``study``: the file itself (a ``.toml``), the config recorded
    beside an alignment artifact, or the one config of a study folder (the newest of a pair's
    ``run`` and ``align`` configs). One error line naming what is missing or ambiguous."""
    path = Path(study)
    if not path.exists():
        raise EmoalignError(f"align {study}: no such file or folder (give a study's folder, its alignment artifact "
                            "or its config file)")
    if path.is_file() and path.suffix == ".toml":
        return path
    if path.is_file() and path.name.endswith(ALIGNMENT_SUFFIX):
        pair = path.name[: -len(ALIGNMENT_SUFFIX)]
        configs = _configs_of(path.parent.parent, pair)
        if not configs:
            raise EmoalignError(
                f"align {study}: no recorded config of {pair} in {path.parent.parent / 'configs'}; pass the study's "
                "options (or --config FILE) instead"
            )
        return configs[0]
    if path.is_dir():
        configs = _configs_of(path)
        pairs = sorted({config.stem.rsplit("_", 1)[0] for config in configs})
        if len(pairs) == 1:
            return configs[0]
        if len(pairs) > 1:
            choices = "; ".join(f"emoalign align {path / 'alignment' / (p + ALIGNMENT_SUFFIX)}" for p in pairs[:4])
            raise EmoalignError(f"align {study}: the folder holds {len(pairs)} studies; name one: {choices}")
        subfolders = sorted(p.parent.name for p in path.glob("*/configs"))
        hint = f" (its sub-studies: {', '.join(subfolders[:6])})" if subfolders else ""
        raise EmoalignError(f"align {study}: no recorded config in {path / 'configs'}{hint}")
    raise EmoalignError(f"align {study}: not a study folder, an alignment artifact or a .toml config")


def study_artifacts(path: str | Path) -> list[Path]:
    """The alignment artifacts of ``path``: the file itself, or every one under a study folder
    (``alignment/`` and its k-sweep's ``k<k>/alignment/``), sorted."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    found = sorted(path.glob(f"alignment/*{ALIGNMENT_SUFFIX}")) + sorted(path.glob(f"*/alignment/*{ALIGNMENT_SUFFIX}"))
    if not found:
        raise EmoalignError(f"{path}: no alignment artifacts (alignment/*{ALIGNMENT_SUFFIX}) in this folder")
    return found
