import pytest
import torch

from emoalign.core.errors import EmoalignError
from emoalign.models.loading import load_model, resolve_device, resolve_dtype
from emoalign.models.registry import PRESETS, resolve_model


def test_presets_of_the_original_study():
    assert PRESETS["llama3_8b"].hub_id == "meta-llama/Llama-3.1-8B"
    assert PRESETS["gemma3_12b"].hub_id == "google/gemma-3-12b-it"
    assert PRESETS["qwen3_8b"].hub_id == "Qwen/Qwen3-8B-Base"
    assert {"gpt2", "pythia-160m", "gpt-neo-125m", "gemma2_9b", "qwen2_5_7b", "qwen2_5_14b"} <= set(PRESETS)


def test_hub_id_and_folder_are_accepted(tmp_path):
    assert resolve_model("Qwen/Qwen3-8B").name == "Qwen3-8B"
    assert resolve_model(str(tmp_path)).is_local


def test_unknown_model_is_one_clear_line():
    with pytest.raises(EmoalignError, match="unknown model 'llama3-8b'.*emoalign models"):
        resolve_model("llama3-8b")


def test_dtype_policy():
    assert resolve_dtype(None, "gpt2", 1.24e8) == torch.float32
    assert resolve_dtype(None, "llama", 8e9) == torch.bfloat16
    assert resolve_dtype("float16", "llama", 8e9) == torch.float16
    with pytest.raises(EmoalignError, match="float16 refused for gemma3.*NaN/Inf"):
        resolve_dtype("float16", "gemma3", 1.2e10)
    with pytest.raises(EmoalignError, match="unknown dtype"):
        resolve_dtype("int8", "gpt2", 1e8)


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.backends.mps.is_available():
        with pytest.raises(EmoalignError, match="--device mps: Apple MPS is not available"):
            resolve_device("mps")
    with pytest.raises(EmoalignError, match="unknown device"):
        resolve_device("tpu")


def test_preset_offline_fails_with_one_line_pointing_to_demo(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmoalignError) as info:
        load_model(PRESETS["llama3_8b"], device="cpu")
    message = str(info.value)
    assert "\n" not in message
    assert "llama3_8b" in message and "emoalign demo" in message and "local model folder" in message
