"""Alignment artifacts carry their schema version; readers use it instead of guessing from columns."""

from __future__ import annotations

import numpy as np
import pytest

import emoalign
from emoalign.core.errors import EmoalignError
from emoalign.core.results import ALIGNMENT_FORMAT_VERSION, AlignmentResult, load
from emoalign.io.storage import load_arrays, save_arrays
from emoalign.report.compare import schema_of


def _models(seed: int = 0) -> tuple[emoalign.ModelActivations, emoalign.ModelActivations]:
    rng = np.random.default_rng(seed)
    labels = ["anger"] * 12 + ["gratitude"] * 12
    return tuple(
        emoalign.ModelActivations(emotion=rng.normal(size=(2, 24, 6)), labels=labels,
                                  reference=rng.normal(size=(2, 12, 6)), paired=rng.normal(size=(2, 40, 6)), name=name)
        for name in ("s", "t")
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[AlignmentResult, object]:
    result = emoalign.analyze(*_models(), n_components=2, n_permutations=20, n_bootstrap=20,
                              n_pairing_permutations=20, quiet=True)
    return result, result.save(tmp_path_factory.mktemp("format") / "a.safetensors")


def test_the_version_is_written_and_read_back(saved):
    result, path = saved
    assert result.format_version == ALIGNMENT_FORMAT_VERSION
    again = load(path)
    assert again.format_version == ALIGNMENT_FORMAT_VERSION and schema_of(again) == "current"
    without_statistics = emoalign.analyze(*_models(1), n_components=2, n_permutations=0, quiet=True)
    assert schema_of(without_statistics) == "untested"


def test_a_newer_format_is_one_error_naming_the_file(saved, tmp_path):
    _, path = saved
    arrays, metadata = load_arrays(path)
    newer = save_arrays(tmp_path / "newer.safetensors", arrays, {**metadata, "format_version": 99})
    with pytest.raises(EmoalignError, match=r"newer\.safetensors: alignment format 99, written by a newer emoalign"):
        load(newer)


def test_an_unversioned_artifact_is_read_as_format_0_with_its_schema_from_the_columns(saved, tmp_path):
    _, path = saved
    arrays, metadata = load_arrays(path)
    old = dict(metadata)
    del old["format_version"]
    old["cells"] = {k: v for k, v in old["cells"].items()
                    if k not in ("correspondence", "emotion_not_any_group", "p_group", "group_null_p95")}
    old["cells"]["p_label"] = [0.5] * len(old["cells"]["layer"])
    again = load(save_arrays(tmp_path / "old.safetensors", arrays, old))
    assert again.format_version == 0 and schema_of(again) == "old"


def test_compare_takes_other_sources_and_settings_but_not_other_prompts(tmp_path):
    from emoalign.core.results import check_comparable

    source, target = _models(2)
    other_source = emoalign.ModelActivations(**{**source.__dict__, "name": "s2"})
    first = emoalign.analyze(source, target, n_components=2, n_permutations=0, quiet=True)
    second = emoalign.analyze(other_source, target, n_components=3, n_permutations=0, quiet=True)
    notes = check_comparable([first, second], ["a.safetensors", "b.safetensors"])
    assert notes == ["b.safetensors: source 's' -> 's2'; n_components 2 -> 3 (relative to a.safetensors)"]
    rng = np.random.default_rng(3)
    fewer = [emoalign.ModelActivations(emotion=rng.normal(size=(2, 20, 6)), labels=["anger"] * 10 + ["gratitude"] * 10,
                                       reference=rng.normal(size=(2, 12, 6)), paired=rng.normal(size=(2, 40, 6)),
                                       name=name) for name in ("s", "t")]
    third = emoalign.analyze(*fewer, n_components=2, n_permutations=0, quiet=True)
    with pytest.raises(EmoalignError, match=r"c\.safetensors: other prompts than a\.safetensors"):
        check_comparable([first, third], ["a.safetensors", "c.safetensors"])
    with pytest.raises(EmoalignError, match="given twice"):
        check_comparable([first, first], [tmp_path / "a", tmp_path / "a"])
