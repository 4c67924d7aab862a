"""Synthetic models with known answers: planted twins of a source model."""

from emoalign.synthetic.twin import (
    TWIN_MAP_FILE,
    WIDENABLE_MODEL_TYPES,
    AffineTwin,
    AffineTwinBlock,
    AffineTwinConfig,
    TwinMap,
    build_affine_twin,
    load_twin_map,
    orthonormal_columns,
    twin_loaded_model,
    widen_rmsnorm_model,
)

__all__ = [
    "TWIN_MAP_FILE",
    "WIDENABLE_MODEL_TYPES",
    "AffineTwin",
    "AffineTwinBlock",
    "AffineTwinConfig",
    "TwinMap",
    "build_affine_twin",
    "load_twin_map",
    "orthonormal_columns",
    "twin_loaded_model",
    "widen_rmsnorm_model",
]
