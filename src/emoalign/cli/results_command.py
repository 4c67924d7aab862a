"""`emoalign results [DIR]`: what a results folder holds, read from the artifacts' headers.

Every ``*.safetensors`` under DIR is classified by the kind its metadata records: an alignment
artifact is a study (its folder, pair, k, metric, the analysis settings that differ from the
defaults, the pair verdict, the date), an activation set is a cache entry (model, layers, prompt
set, token positions and start token, dtype, size on disk). Vectors and subspaces belong to their
study and are not listed. A file whose header cannot be read is listed as such, never fatal.
Only headers are read (no arrays, no checksum): ``emoalign.load`` verifies a file before use.
``--json`` prints the same listing as one JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from emoalign.core.errors import EmoalignError
from emoalign.core.settings import ANALYSIS_SETTINGS, AlignConfig
from emoalign.core.text import printable

__all__ = ["ResultsListing", "scan_results", "format_listing", "results_command", "default_settings"]

#: the prompt profile a study reads unless told otherwise
DEFAULT_PROFILE = "baseline"
#: settings shown in their own columns, not among the differing ones
OWN_COLUMNS = ("n_components", "metric")


@dataclass
class ResultsListing:
    """The studies and cache entries found under ``root`` (paths relative to it), and what could not
    be read."""

    root: str
    studies: list[dict[str, Any]] = field(default_factory=list)
    cache: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[dict[str, str]] = field(default_factory=list)


def default_settings() -> dict[str, Any]:
    """Every analysis setting's default (``AlignConfig()``), tuples as lists (as artifacts store them)."""
    defaults = asdict(AlignConfig())
    return {name: list(value) if isinstance(value, tuple) else value for name, value in defaults.items()}


def settings_not_default(config: Mapping[str, Any], dataset: Mapping[str, Any]) -> dict[str, Any]:
    """The analysis settings of an artifact that differ from the defaults (k and the metric aside,
    which are listed anyway), plus the control and the prompt set when not the built-in one."""
    defaults = default_settings()
    out: dict[str, Any] = {}
    for name in ANALYSIS_SETTINGS:
        if name in OWN_COLUMNS or name not in config:
            continue
        value = config[name]
        value = list(value) if isinstance(value, tuple) else value
        if value != defaults.get(name):
            out[name] = value
    if config.get("control"):
        out["control"] = config["control"]
    if dataset.get("name") not in (None, DEFAULT_PROFILE):
        out["prompts"] = dataset.get("name")
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:  # pragma: no cover - rglob stays under root
        return str(path)


def _study(path: Path, root: Path, meta: Mapping[str, Any]) -> dict[str, Any]:
    from emoalign.core.results import AlignmentResult
    from emoalign.report.checks import format_layers
    from emoalign.report.compare import pair_verdict

    config, source, target = meta.get("config", {}), meta.get("source", {}), meta.get("target", {})
    try:
        verdict = pair_verdict(AlignmentResult.from_artifact({}, dict(meta)))
    except (EmoalignError, KeyError, TypeError, ValueError) as exc:
        verdict = f"n/a ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    layers = meta.get("layers", {})
    source_layers = [int(v) for v in layers.get("layer", [])]
    folder = path.parent.parent if path.parent.name == "alignment" else path.parent
    return {
        "folder": _relative(folder, root) if folder != root else ".",
        "path": _relative(path, root),
        "pair": f"{source.get('name')} vs {target.get('name')}",
        "source": source.get("name"),
        "target": target.get("name"),
        "k": config.get("n_components"),
        "metric": config.get("metric"),
        "layer_match": config.get("layer_match"),
        "layers": format_layers(source_layers) if source_layers else "",
        "n_layer_pairs": len(source_layers),
        "settings": settings_not_default(config, meta.get("dataset", {})),
        "verdict": verdict,
        "date": meta.get("provenance", {}).get("date"),
        "command": meta.get("provenance", {}).get("command"),
    }


def _cache_entry(path: Path, root: Path, meta: Mapping[str, Any]) -> dict[str, Any]:
    model, dataset, extra = meta.get("model", {}), meta.get("dataset", {}), meta.get("extra", {})
    return {
        "path": _relative(path, root),
        "model": model.get("name"),
        "model_id": model.get("id"),
        "weights": model.get("weights"),
        "random_seed": model.get("random_seed"),
        "dtype": model.get("dtype"),
        "layers": [int(v) for v in meta.get("layers", [])],
        "dataset": dataset.get("name"),
        "dataset_hash": dataset.get("hash"),
        "n_prompts": len(meta.get("texts", [])) or sum((dataset.get("label_counts") or {}).values()) or None,
        "position_policy": meta.get("position_policy"),
        "bos": extra.get("bos"),
        "start_token": extra.get("start_token"),
        "bytes": path.stat().st_size,
        "date": (extra.get("provenance") or {}).get("date"),
    }


def scan_results(root: str | Path) -> ResultsListing:
    """Every study and activation-cache entry under ``root`` (one error line when it is not a folder)."""
    from emoalign.io.storage import read_metadata

    root = Path(root)
    if not root.is_dir():
        raise EmoalignError(f"results {root}: no such folder (give the --results-dir of a study; default results)")
    listing = ResultsListing(root=str(root))
    for path in sorted(root.rglob("*.safetensors")):
        if not path.is_file():
            continue
        try:
            meta = read_metadata(path)
            if not isinstance(meta, dict):
                raise ValueError("metadata is not a JSON object")
            kind = meta.get("kind")
            if kind == "alignment":
                listing.studies.append(_study(path, root, meta))
            elif kind == "activations":
                listing.cache.append(_cache_entry(path, root, meta))
        except Exception as exc:  # noqa: BLE001 - any damaged header is listed, not fatal
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            listing.unreadable.append({"path": _relative(path, root), "reason": reason[:200]})
    listing.studies.sort(key=lambda s: (s["folder"], s["pair"], s["k"] if isinstance(s["k"], int) else 0))
    return listing


def human_size(n_bytes: int) -> str:
    """``532 B``, ``41.3 KB``, ``1.2 GB`` (powers of 1000, as ``ls -h --si`` and file managers)."""
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover


def _layers_text(layers: Sequence[int]) -> str:
    from emoalign.report.checks import format_layers

    blocks = [v for v in layers if v >= 0]
    text = format_layers(blocks) if blocks else ""
    return ", ".join(part for part in ("emb" if -1 in layers else "", text) if part) or "none"


def _settings_text(settings: Mapping[str, Any]) -> str:
    def value(v: Any) -> str:
        return ",".join(map(str, v)) if isinstance(v, list) else str(v)

    return " ".join(f"{name}={value(v)}" for name, v in settings.items()) or "defaults"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Left-aligned columns, the last one unpadded; every cell :func:`printable` (user data)."""
    shown = [[printable(c) for c in row] for row in [header, *rows]]  # escaped before measured
    widths = [max(len(r[i]) for r in shown) for i in range(len(header))]
    out = []
    for row in shown:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths)] + [row[-1]]
        out.append(indent + "  ".join(cells).rstrip())
    return out


def _cache_groups(cache: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Cache entries with the random-weight copies of one model (same layers, prompts, positions)
    folded into one line each."""
    groups: dict[tuple, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for entry in cache:
        if entry.get("random_seed") is None:
            rows.append({**entry, "copies": 0})
            continue
        key = (entry["model"], entry["model_id"], tuple(entry["layers"]), entry["dataset_hash"],
               entry["position_policy"], entry["bos"], entry["dtype"])
        if key not in groups:
            groups[key] = {**entry, "copies": 0, "bytes": 0, "path": str(Path(entry["path"]).parent), "seeds": []}
            rows.append(groups[key])
        group = groups[key]
        group["copies"] += 1
        group["bytes"] += entry["bytes"]
        group["seeds"].append(entry["random_seed"])
        group["date"] = max(filter(None, [group.get("date"), entry.get("date")]), default=None)
    return rows


def format_listing(listing: ResultsListing) -> str:
    """The listing as text for a terminal: the studies, then the activation cache (random-weight
    copies of a model on one line), then any unreadable file."""
    root = listing.root
    total = sum(entry["bytes"] for entry in listing.cache)
    lines = [f"{root}: {len(listing.studies)} stud{'y' if len(listing.studies) == 1 else 'ies'}, "
             f"{len(listing.cache)} cached activation set(s) ({human_size(total)})"]
    if listing.studies:
        lines += ["", "studies (alignment artifacts)"]
        rows = [[s["folder"], s["pair"], str(s["k"]), str(s["metric"]), s["layers"] or "-",
                 _settings_text(s["settings"]), (s["date"] or "")[:10] or "-", s["verdict"]]
                for s in listing.studies]
        lines += _table(["folder", "pair", "k", "metric", "layers", "settings (not default)", "date", "pair verdict"],
                        rows)
    else:
        lines += ["", "no studies (alignment artifacts) here: `emoalign run` writes them"]
    if listing.cache:
        lines += ["", "activation cache"]
        rows = []
        for entry in _cache_groups(listing.cache):
            model = entry["model"] if not entry["copies"] else f"{entry['model']} ({entry['copies']} random-weight copies)"
            prompts = f"{entry['dataset']} ({entry['n_prompts']})" if entry.get("n_prompts") else str(entry["dataset"])
            bos = entry.get("bos") or "not recorded"
            rows.append([model, _layers_text(entry["layers"]), prompts, str(entry.get("position_policy") or "-"),
                         bos, str(entry.get("dtype") or "-"), human_size(entry["bytes"]),
                         entry["path"] if not entry["copies"] else f"{entry['path']}/"])
        lines += _table(["model", "layers", "prompts", "positions", "bos", "dtype", "size", "file"], rows)
    if listing.unreadable:
        lines += ["", "unreadable (damaged or not emoalign's)"]
        lines += [f"  {item['path']}: {item['reason']}" for item in listing.unreadable]
    return "\n".join(printable(line) for line in lines)  # names and paths are user data


def results_command(root: str | Path, *, as_json: bool = False) -> int:
    """Print the listing of ``root`` (text, or JSON with ``as_json``); 0."""
    listing = scan_results(root)
    if as_json:
        print(json.dumps(asdict(listing), indent=2, ensure_ascii=False, default=str))
    else:
        print(format_listing(listing))
    return 0
