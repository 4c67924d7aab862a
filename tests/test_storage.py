import json

import numpy as np
import pytest

from emoalign.errors import EmoalignError
from emoalign.storage import load_arrays, save_arrays, write_json_atomic


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
