"""Bring your own activations (emoalign.analyze) and models (emoalign.run(model)), the package's
public surface, and the layering: analysis/ never imports extract/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emoalign
from emoalign.cli import main
from emoalign.core.activations import ActivationSet
from emoalign.core.errors import EmoalignError

SRC = Path(emoalign.__file__).parent
FEW = 12
FAST = dict(n_components=3, n_permutations=20, n_bootstrap=50, n_pairing_permutations=20, seed=3)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import statement in ``path`` (relative ones resolved)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module]) if module else ".".join(base)
            out.append((module, [alias.name for alias in node.names]))
    return out


def test_the_analysis_layer_does_not_import_extraction_or_models():
    for path in sorted((SRC / "analysis").rglob("*.py")):
        for module, _ in _imports(path):
            assert not module.startswith(("emoalign.extract", "emoalign.models", "emoalign.study.pipeline", "torch")), (
                f"{path.relative_to(SRC)} imports {module}"
            )
    code = "import sys, emoalign.analysis.alignment, emoalign.analysis.baseline, emoalign.study.arrays; " \
           "print(sorted(m for m in sys.modules if m.startswith(('emoalign.extract', 'emoalign.models'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_no_private_name_is_imported_from_another_public_module():
    """Shared helpers have a public home (analysis.validation, analysis.linalg, analysis.stats.common);
    no module imports another module's private names."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        for module, names in _imports(path):
            if not module.startswith("emoalign") or module.rsplit(".", 1)[-1].startswith("_"):
                continue
            offenders += [f"{path.relative_to(SRC)}: {module}.{n}" for n in names if n.startswith("_") and n != "__version__"]
    assert offenders == []


def test_cli_and_commands_do_not_import_each_other_at_module_level():
    assert not any(m == "emoalign.cli.commands" for m, _ in _imports(SRC / "cli" / "parser.py") if m)  # inside main()
    assert not any(m == "emoalign.cli.parser" for m, _ in _imports(SRC / "cli" / "commands.py"))


def test_public_api_of_the_package():
    names = dir(emoalign)
    for name in ("run", "sweep", "analyze", "from_arrays", "ModelActivations", "extract", "load", "AlignmentResult",
                 "ActivationSet", "__version__"):
        assert name in names
    import importlib

    importlib.import_module("emoalign.study.sweep")  # the sweep's module does not shadow the function
    assert callable(emoalign.sweep) and callable(emoalign.extract)
    assert emoalign.sweep is importlib.import_module("emoalign.study.api").sweep
    assert "targets" in str(__import__("inspect").signature(emoalign.sweep))
    assert emoalign.run is importlib.import_module("emoalign.study.api").run


def test_version_and_bare_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"emoalign {emoalign.__version__}"
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: emoalign") and "sweep" in out and "--log-level" in out


def _plain_arrays(acts: ActivationSet, name: str) -> emoalign.ModelActivations:
    """Plain numpy arrays out of an extraction, as a user holding their own would have them."""
    labels = np.asarray(acts.labels)
    is_ref = labels == acts.reference_label
    return emoalign.ModelActivations(
        emotion={layer: np.array(acts.prompt_acts[i][~is_ref]) for i, layer in enumerate(acts.layers)},
        labels=list(labels[~is_ref]),
        reference=np.array(acts.prompt_acts[:, is_ref]),
        paired=np.array(acts.word_acts),
        layers=list(acts.layers),
        name=name,
        n_layers=int(acts.model["n_layers"]),
        seed=acts.model.get("random_seed"),
    )


def _assert_same_result(a, b) -> None:
    pd.testing.assert_frame_equal(a.cell_table(), b.cell_table(), check_exact=True)
    pd.testing.assert_frame_equal(a.layer_table(), b.layer_table(), check_exact=True)
    pd.testing.assert_frame_equal(a.k_profile, b.k_profile, check_exact=True)
    assert a.arrays.keys() == b.arrays.keys()
    for key in a.arrays:
        np.testing.assert_array_equal(a.arrays[key], b.arrays[key], err_msg=key)
    assert a.summary == b.summary
    assert {k: v for k, v in a.config.items()} == {k: v for k, v in b.config.items()}


def test_arrays_alone_reproduce_run_exactly(tiny_model_path, tmp_path):
    """Must show: the whole analysis from arrays alone (no model, no hand-built ActivationSet),
    including the random-weight baseline, equals emoalign.run on the same activations."""
    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    cache = tmp_path / "cache"
    ran = emoalign.run(
        str(source), str(target), layers=[0, 1, 2], max_samples_per_emotion=FEW, baseline_seeds=3, device="cpu",
        write=False, cache_dir=cache, quiet=True, **FAST,
    )
    sets = [ActivationSet.load(path) for path in sorted(cache.glob("*.safetensors"))]
    real = {acts.model["id"]: acts for acts in sets if "random_seed" not in acts.model}
    copies = {(acts.model["model_type"], acts.model["random_seed"]): acts for acts in sets if "random_seed" in acts.model}
    src, tgt = real[str(source)], real[str(target)]
    baseline = [
        (_plain_arrays(copies[("gpt2", int(s))], source.name), _plain_arrays(copies[("llama", int(t))], target.name))
        for s, t in ran.arrays["baseline_seeds"]
    ]
    texts = [text for text, label in zip(src.texts, src.labels) if label != src.reference_label]
    texts += [text for text, label in zip(src.texts, src.labels) if label == src.reference_label]
    from_arrays = emoalign.analyze(
        _plain_arrays(src, source.name), _plain_arrays(tgt, target.name), baseline=baseline, texts=texts, **FAST,
    )
    _assert_same_result(ran, from_arrays)
    assert from_arrays.source["name"] == source.name and from_arrays.config["baseline_copies"] == 3


def test_arrays_from_any_tool_without_a_model():
    """Synthetic arrays (as a stacked array, a per-layer dict, or torch tensors): the result is a
    full AlignmentResult, and a rotated copy of the source aligns perfectly."""
    rng = np.random.default_rng(0)
    n_per, m, p, d, layers = 10, 10, 60, 16, (2, 5)
    labels = ["joy"] * n_per + ["anger"] * n_per + ["fear"] * n_per
    centres = {label: rng.normal(size=d) * 3 for label in set(labels)}
    emotion = np.stack([[centres[lab] + rng.normal(size=d) for lab in labels] for _ in layers])
    reference = rng.normal(size=(len(layers), m, d))
    paired = rng.normal(size=(len(layers), p, d))
    rotation = np.linalg.qr(rng.normal(size=(d, d)))[0]
    source = emoalign.ModelActivations(emotion, labels, reference, paired, layers=layers, name="a")
    target = emoalign.ModelActivations(
        {layer: emotion[i] @ rotation for i, layer in enumerate(layers)}, labels,
        {layer: reference[i] @ rotation for i, layer in enumerate(layers)},
        {layer: paired[i] @ rotation for i, layer in enumerate(layers)}, name="b",
    )
    result = emoalign.analyze(source, target, n_components=2, map_method="lstsq", n_permutations=0)
    assert list(result.layer_table()["layer"]) == list(layers)
    np.testing.assert_allclose(result.cell_table()["overlap_after"], 1.0, atol=1e-9)
    torch = pytest.importorskip("torch")
    as_tensors = emoalign.ModelActivations(torch.tensor(emotion), labels, torch.tensor(reference),
                                           torch.tensor(paired), layers=layers, name="a")
    again = emoalign.analyze(as_tensors, target, n_components=2, map_method="lstsq", n_permutations=0)
    pd.testing.assert_frame_equal(result.cell_table(), again.cell_table())


def test_arrays_bad_input_is_a_clear_error():
    rng = np.random.default_rng(1)
    a = emoalign.ModelActivations(rng.normal(size=(6, 4)), ["x"] * 3 + ["y"] * 3, rng.normal(size=(5, 4)), name="a")
    b = emoalign.ModelActivations(rng.normal(size=(6, 4)), ["x"] * 3 + ["z"] * 3, rng.normal(size=(5, 4)), name="b")
    with pytest.raises(EmoalignError, match="labels differ"):
        emoalign.analyze(a, b, n_components=1, n_permutations=0)
    c = emoalign.ModelActivations(rng.normal(size=(6, 4)), ["x"] * 3 + ["y"] * 3, rng.normal(size=(4, 4)), name="c")
    with pytest.raises(EmoalignError, match="pair row by row"):
        emoalign.analyze(a, c, n_components=1, n_permutations=0)
    with pytest.raises(EmoalignError, match="layer 3 was not extracted"):
        emoalign.analyze(a, emoalign.ModelActivations(a.emotion, a.labels, a.reference, name="d"), layer_pairs=[(0, 3)],
                         n_components=1, n_permutations=0)
    with pytest.raises(TypeError, match="ModelActivations"):
        emoalign.analyze(np.zeros((6, 4)), b)


def test_numpy_where_a_model_is_expected_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match=r"got numpy.ndarray.*emoalign.analyze"):
        emoalign.run(np.zeros((3, 4)), "gpt2", write=False, results_dir=tmp_path)
    with pytest.raises(TypeError, match="got numpy.ndarray"):
        emoalign.extract(np.zeros((3, 4)))


def test_a_loaded_model_runs_like_its_folder_and_write_false_writes_nothing(tiny_model_path, tmp_path, monkeypatch):
    """emoalign.run / emoalign.extract with transformers objects already loaded (the untrained
    baseline built from the object's config); write=False leaves no file anywhere."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    source, target = tiny_model_path("gpt2"), tiny_model_path("llama")
    monkeypatch.chdir(tmp_path)
    options = dict(layers=[0, 1], max_samples_per_emotion=FEW, baseline_seeds=3, device="cpu", write=False,
                   results_dir=tmp_path / "results", quiet=True, **FAST)
    by_folder = emoalign.run(str(source), str(target), **options)
    model = AutoModelForCausalLM.from_pretrained(source)  # with its LM head: the blocks are found all the same
    model.train()
    by_object = emoalign.run((model, AutoTokenizer.from_pretrained(source)), AutoModel.from_pretrained(target), **options)
    assert model.training  # its mode is given back
    _assert_same_result(by_folder, by_object)
    assert [p for p in tmp_path.rglob("*")] == []
    acts = emoalign.extract(model, AutoTokenizer.from_pretrained(source), layers=[1], profile="baseline", quiet=True)
    assert acts.layers == (1,) and acts.prompt_acts.shape[1] == len(acts.labels)
    assert [p for p in tmp_path.rglob("*")] == []
