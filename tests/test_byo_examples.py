"""The worked nnsight example of docs/bring_your_own_activations.md, run as written on tiny local
models (skipped where nnsight does not import: it is in the `bench` extra)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parent.parent / "docs" / "bring_your_own_activations.md"


def _section_code(heading: str) -> str:
    text = DOC.read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_nnsight_example_runs_as_written(tiny_model_path, tmp_path):
    pytest.importorskip("nnsight")
    example = tmp_path / "nnsight_example.py"  # nnsight reads the source of the traced code back
    example.write_text(_section_code("nnsight"))
    namespace = {"SOURCE": str(tiny_model_path("gpt2")), "TARGET": str(tiny_model_path("llama")), "__name__": "example"}
    exec(compile(example.read_text(), str(example), "exec"), namespace)  # noqa: S102 - our own docs
    result = namespace["result"]
    assert list(result.layer_table()["layer"]) == [0, 1]
    assert result.source["name"] == "gpt2" and result.target["name"] == "llama"


def test_token_plan_pooling_equals_emoalign_extraction(tiny_model_path):
    """The plan + one-prompt-at-a-time hidden states give emoalign's own activations (float32 tol)."""
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    import emoalign
    from emoalign.data.dataset import load_profile

    folder = tiny_model_path("gpt2")
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    plan = emoalign.token_plan(tokenizer, max_samples_per_emotion=6)
    hidden = {0: [], 2: []}
    with torch.no_grad():
        for ids in plan.input_ids:
            states = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
            for layer in hidden:
                hidden[layer].append(states[layer + 1])
    mine = plan.model_activations(hidden, "tiny")
    dataset = load_profile("baseline").limit_per_label(6)
    theirs = emoalign.study.arrays.ModelActivations.from_activation_set(
        emoalign.extract(model, tokenizer, dataset=dataset, layers=[0, 2], quiet=True)
    )
    for field in ("emotion", "reference", "paired"):
        a, b = getattr(mine, field), getattr(theirs, field)
        np.testing.assert_allclose(np.stack([a[0], a[2]]), b, atol=1e-4, err_msg=field)
    assert list(mine.labels) == list(theirs.labels)
