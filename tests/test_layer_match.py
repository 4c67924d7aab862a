import pytest

from emoalign.analysis.layer_match import depth_matched_layer, match_layers
from emoalign.core.errors import EmoalignError


def test_index_pairs_equal_numbers():
    assert match_layers([0, 5, 11], 12, 32, "index") == [(0, 0), (5, 5), (11, 11)]


def test_depth_pairs_equal_relative_depth():
    assert depth_matched_layer(11, 12, 32) == 31
    assert depth_matched_layer(0, 12, 32) == 0
    assert match_layers([0, 6, 11], 12, 48, "depth") == [(0, 0), (6, 26), (11, 47)]


def test_grid_is_every_pair():
    assert match_layers([0, 1], 4, 8, "grid", [2, 3, 3]) == [(0, 2), (0, 3), (1, 2), (1, 3)]


def test_explicit_target_layers_pair_positionally():
    assert match_layers([0, 1], 12, 32, "index", [10, 20]) == [(0, 10), (1, 20)]
    with pytest.raises(EmoalignError, match="gives 1 layers for 2 source layers"):
        match_layers([0, 1], 12, 32, "index", [3])


def test_target_layer_beyond_depth_names_it():
    with pytest.raises(EmoalignError, match="target layer 11 is beyond the depth of llama .*0-5.*--layer-match depth"):
        match_layers([0, 11], 12, 6, "index", names=("gpt2", "llama"))
    with pytest.raises(EmoalignError, match=r"target layer 9 .*0-5\); check --target-layers$"):
        match_layers([0, 1], 12, 6, "index", [2, 9])


def test_source_layer_beyond_depth_names_the_source():
    with pytest.raises(EmoalignError, match=r"--layers: layer 99 is beyond the depth of gpt2 \(12 blocks"):
        match_layers([0, 99], 12, 32, "depth", names=("gpt2", "llama"))
