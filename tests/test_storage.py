import json

import numpy as np
import pytest

from emoalign.core.errors import EmoalignError
from emoalign.io.storage import load_arrays, save_arrays, write_json_atomic


def test_round_trip_is_bit_identical(tmp_path):
    arrays = {"a": np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32), "b": np.arange(5)}
    path = save_arrays(tmp_path / "x.safetensors", arrays, {"kind": "test", "texts": ["é", "b"]})
    loaded, meta = load_arrays(path)
    assert meta == {"kind": "test", "texts": ["é", "b"]}
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype
        np.testing.assert_array_equal(loaded[name], array)
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_corrupted_payload_is_detected(tmp_path):
    path = save_arrays(tmp_path / "x.safetensors", {"a": np.ones(64, dtype=np.float32)}, {})
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF  # flip bits in the data section
    path.write_bytes(bytes(raw))
    with pytest.raises(EmoalignError, match="integrity check failed"):
        load_arrays(path)


def test_truncated_file_names_the_file(tmp_path):
    path = save_arrays(tmp_path / "x.safetensors", {"a": np.ones(64, dtype=np.float32)}, {})
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(EmoalignError, match="x.safetensors"):
        load_arrays(path)


def test_failed_write_keeps_previous_file(tmp_path):
    path = write_json_atomic(tmp_path / "r.json", {"v": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"v": object()})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_artifacts_get_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0)
    os.umask(umask)
    path = write_json_atomic(tmp_path / "p.json", {})
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def _small_artifact(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "layers": np.array([0, 1, 2])}
    return save_arrays(tmp_path / "x.safetensors", arrays, {"kind": "test", "overlap": 0.239, "layers": [0, 1, 2]})


def test_every_single_byte_change_is_detected(tmp_path):
    """Flip each byte of a small artifact in turn (header, metadata, padding, arrays): every
    variant must fail to load -- none may load with different content."""
    path = _small_artifact(tmp_path)
    original = path.read_bytes()
    undetected = []
    for position in range(len(original)):
        for replacement in {original[position] ^ 0x01, ord(" ") if original[position] != ord(" ") else ord("\t")}:
            damaged = bytearray(original)
            damaged[position] = replacement
            path.write_bytes(bytes(damaged))
            try:
                load_arrays(path)
            except EmoalignError:
                continue
            undetected.append((position, chr(original[position]), chr(replacement)))
    assert undetected == []


def test_metadata_edit_is_detected_and_names_the_file(tmp_path):
    path = _small_artifact(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"0.239", b"9.239"))
    with pytest.raises(EmoalignError, match=r"x\.safetensors: integrity check failed"):
        load_arrays(path)


def test_another_format_version_is_refused(tmp_path):
    path = _small_artifact(tmp_path)
    raw = path.read_bytes()
    assert raw.count(b'"emoalign_format":"2"') == 1
    path.write_bytes(raw.replace(b'"emoalign_format":"2"', b'"emoalign_format":"9"'))
    with pytest.raises(EmoalignError, match="another emoalign artifact format .version 9"):
        load_arrays(path)


def test_missing_field_is_one_line_naming_file_and_field(tmp_path):
    from emoalign.io.storage import load_artifact

    path = save_arrays(tmp_path / "y.safetensors", {"a": np.ones(2)}, {"kind": "thing"})
    with pytest.raises(EmoalignError, match=r"y\.safetensors: field 'texts' is missing"):
        load_artifact(path, "thing", lambda arrays, meta: meta["texts"])
    with pytest.raises(EmoalignError, match=r"y\.safetensors: not other artifact \(kind 'thing'\)"):
        load_artifact(path, "other", lambda arrays, meta: meta)


def test_stale_temporaries_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    from emoalign.io.storage import remove_stale_temporaries

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    (tmp_path / "sub").mkdir()
    stale = tmp_path / "sub" / f".x.safetensors.pid{dead_pid}.abc123.tmp"
    live = tmp_path / f".y.json.pid{os.getpid()}.def456.tmp"
    unrelated = tmp_path / ".notes.tmp"
    for file in (stale, live, unrelated):
        file.write_text("partial")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and unrelated.exists()


def test_file_in_the_way_of_the_results_folder_is_one_line(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    with pytest.raises(EmoalignError, match=r"results.*: cannot write \(a file is in the way of a folder\)"):
        write_json_atomic(tmp_path / "results" / "baseline" / "r.json", {})


@pytest.mark.parametrize(
    ("code", "reason"),
    [("ENOSPC", "no space left on the device"), ("EROFS", "read-only file system"), ("EACCES", "permission denied")],
)
def test_full_or_read_only_disk_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch, code, reason):
    """The OS refusal is simulated where the write happens (this suite runs as root, which ignores
    permissions, and no full disk is at hand); the mapping to one line is the code under test."""
    import errno

    path = write_json_atomic(tmp_path / "r.json", {"v": 1})

    def refuse(tmp):
        raise OSError(getattr(errno, code), "simulated", str(tmp))

    from emoalign.io import storage

    with pytest.raises(EmoalignError, match=f"cannot write \\({reason}\\)"):
        storage.atomic_write(path, refuse)
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
