"""Align two models' emotion subspaces layer by layer: vectors -> subspaces -> map ->
overlaps before/after, as tables of plain numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from emoalign.analysis.cache import StatsCaches, cached_subspace
from emoalign.analysis.cka import linear_cka_debiased
from emoalign.analysis.diagnostics import outlying_rows, robust_fit_mask, row_norm_ratio
from emoalign.analysis.inference import LayerNulls, cell_statistics, group_assignment_p
from emoalign.analysis.linalg import FLOAT32_RTOL, centred_rank, count_distinct_rows
from emoalign.analysis.maps import LinearMap, fit_map
from emoalign.analysis.overlap import (
    legacy_before,
    legacy_overlap,
    principal_angles,
    subspace_overlap,
)
from emoalign.analysis.subspace import EmotionSubspace, fit_subspace
from emoalign.analysis.vectors import emotion_vectors
from emoalign.core.activations import ActivationSet
from emoalign.core.errors import EmoalignError
from emoalign.core.layers import EMBEDDING_LAYER
from emoalign.core.log import get_logger
from emoalign.core.settings import FIT_DATA, METRICS, REFERENCES, AlignConfig  # noqa: F401 - AlignConfig's old home

FitData = Literal["neutral-words", "neutral-last"]

log = get_logger(__name__)


def check_components(
    n_components: int, label_counts: dict[str, int], reference_label: str, *, more_available: bool = False
) -> None:
    """k must leave room in every emotion's centred PCA (rank <= n - 1); checked before any model runs.
    ``more_available``: the dataset holds more prompts than --max-samples-per-emotion kept."""
    for label, count in label_counts.items():
        if label != reference_label and n_components > count - 1:
            advice = "lower k or raise --max-samples-per-emotion" if more_available else "lower k or add prompts"
            raise EmoalignError(
                f"--n-components {n_components} exceeds the {count} prompts of {label!r} "
                f"(at most {count - 1} components); {advice}"
            )


def check_paired(source: ActivationSet, target: ActivationSet) -> None:
    """Both activation sets must come from the same prompts (pairs are matched by index)."""
    if source.dataset["hash"] != target.dataset["hash"] or source.texts != target.texts:
        raise EmoalignError(
            f"{source.model['name']} and {target.model['name']} were extracted on different prompt sets "
            f"({source.dataset['name']} vs {target.dataset['name']}); extract both on the same dataset"
        )
    if source.reference_label != target.reference_label:
        raise EmoalignError("source and target use different reference labels")


def emotion_vector_sets(acts: ActivationSet, layer: int, reference: str) -> dict[str, np.ndarray]:
    """Per emotion label, the (n_label, d) emotion vectors at ``layer`` (float64)."""
    reference_acts = acts.acts(acts.reference_label, layer).astype(np.float64)
    return {
        label: emotion_vectors(
            acts.acts(label, layer).astype(np.float64),
            reference_acts,
            reference,  # type: ignore[arg-type]
            context=f"{acts.model['name']} layer {layer} {label}",
        )
        for label in acts.emotion_labels
    }


def fit_pairs(
    source: ActivationSet, target: ActivationSet, source_layer: int, target_layer: int, fit_data: str
) -> tuple[np.ndarray, np.ndarray]:
    """Paired reference activations ``(X_target, X_source)`` to fit a map on — never emotion prompts.

    ``neutral-words``: every word of every reference prompt (its last sub-token), paired across
    tokenizers by (prompt, word index). ``neutral-last``: the last token of each reference prompt.
    """
    if fit_data == "neutral-words":
        if not (
            np.array_equal(source.word_prompt, target.word_prompt)
            and np.array_equal(source.word_position, target.word_position)
        ):
            raise EmoalignError("reference words do not pair across the two models (different word splits)")
        return (
            target.word_acts[target.layer_row(target_layer)].astype(np.float64),
            source.word_acts[source.layer_row(source_layer)].astype(np.float64),
        )
    reference = source.reference_label
    return (
        target.acts(reference, target_layer).astype(np.float64),
        source.acts(reference, source_layer).astype(np.float64),
    )


def drop_outlying_pairs(
    X_t: np.ndarray, X_s: np.ndarray, config: AlignConfig
) -> tuple[np.ndarray, np.ndarray, int]:
    """The fit pairs without those whose activation norm is an outlier in either model
    (:func:`~emoalign.analysis.diagnostics.robust_fit_mask`), and how many were dropped. The legacy
    metric keeps every pair, as the original study did."""
    if config.metric == "legacy":
        return X_t, X_s, 0
    keep = robust_fit_mask(X_t, X_s)
    return X_t[keep], X_s[keep], int(np.count_nonzero(~keep))


def truncate_coordinates(basis: np.ndarray, dim: int) -> np.ndarray:
    """The basis restricted to its first ``dim`` coordinates (zero-padded if shorter): the
    identity on shared coordinates, the only "before" possible without a map."""
    out = np.zeros((basis.shape[0], dim))
    width = min(dim, basis.shape[1])
    out[:, :width] = basis[:, :width]
    return out


@dataclass(frozen=True)
class LayerPairAlignment:
    """Everything computed for one (source layer, target layer) pair."""

    source_layer: int
    target_layer: int
    source_subspaces: dict[str, EmotionSubspace]
    target_subspaces: dict[str, EmotionSubspace]
    linear_map: LinearMap
    mapped_bases: dict[str, np.ndarray]
    cross_overlap: np.ndarray  # (E, E): source emotion e vs mapped target emotion f
    angles_degrees: np.ndarray  # (E, k): principal angles between source e and mapped target e
    cka: float
    n_fit_pairs: int
    cells: list[dict]
    layer_statistics: dict[str, float]
    nulls: LayerNulls | None  # (N, E) each; permutations shared across layer pairs
    profile: np.ndarray  # (K, E, E): cross overlaps at every k of profile_ks
    profile_ks: tuple[int, ...]
    diagnostics: dict[str, float] = field(default_factory=dict)  # readout checks (analysis.diagnostics)


def cross_overlap_profile(
    src_vectors: dict[str, np.ndarray], tgt_vectors: dict[str, np.ndarray], weight: np.ndarray, ks: Sequence[int]
) -> np.ndarray:
    """(K, E, E) cross overlaps (source e vs mapped target f) for every k in ``ks`` — one PCA at the
    largest k, truncated (the top-k principal directions do not depend on how many are asked for)."""
    k_max = max(ks)
    return _profile_of_bases(
        [fit_subspace(v, k_max).basis for v in src_vectors.values()],
        [fit_subspace(v, k_max).basis for v in tgt_vectors.values()],
        weight,
        ks,
    )


def _profile_of_bases(
    src_bases: Sequence[np.ndarray], tgt_bases: Sequence[np.ndarray], weight: np.ndarray, ks: Sequence[int]
) -> np.ndarray:
    """:func:`cross_overlap_profile` from the top-``max(ks)`` bases of each emotion."""
    tgt = [basis @ weight for basis in tgt_bases]
    return np.array([[[subspace_overlap(s[:k], t[:k]) for t in tgt] for s in src_bases] for k in ks])


def _truncated(subspace: EmotionSubspace, k: int) -> EmotionSubspace:
    """The top-k part of a subspace (equal to fitting k components: one SVD serves every k)."""
    return EmotionSubspace(subspace.basis[:k], subspace.explained_variance_ratio[:k], subspace.mean, subspace.n_samples)


def check_numerical_rank(vectors: dict[str, np.ndarray], k: int, *, model: str, layer: int) -> int:
    """The smallest numerical rank of the centred emotion vectors of one model at one layer
    (:func:`~emoalign.analysis.linalg.centred_rank`: float32 round-off is not a dimension), after
    checking that ``k`` fits it: a one-line EmoalignError naming model, layer, emotion and rank if not."""
    ranks = {label: centred_rank(v) for label, v in vectors.items()}
    label = min(ranks, key=ranks.__getitem__)
    if k > ranks[label]:
        raise EmoalignError(
            f"k={k} exceeds the numerical rank {ranks[label]} of the {vectors[label].shape[0]} centred emotion vectors "
            f"of {label!r} at layer {layer} of {model} (directions below {FLOAT32_RTOL:g} of the largest are float32 "
            f"round-off); lower k (--n-components) or use more distinct prompts"
        )
    return ranks[label]


def warn_duplicate_vectors(acts: ActivationSet, layers: Sequence[int], reference: str) -> None:
    """One warning line per emotion whose prompts give duplicate emotion vectors at any of ``layers``
    (:func:`~emoalign.analysis.linalg.count_distinct_rows`), with the counts. Not at the embedding
    layer, where prompts with the same emotion word give the same vector by design."""
    found: dict[str, dict[int, tuple[int, int]]] = {}
    for layer in sorted(set(layers)):
        if layer == EMBEDDING_LAYER:
            continue
        for label, v in emotion_vector_sets(acts, layer, reference).items():
            distinct = count_distinct_rows(v)
            if distinct < v.shape[0]:
                found.setdefault(label, {})[layer] = (v.shape[0], distinct)
    for label, by_layer in found.items():
        n = max(total for total, _ in by_layer.values())
        low, high = min(d for _, d in by_layer.values()), max(d for _, d in by_layer.values())
        where = list(by_layer)
        if len(where) == 1:
            at = f"layer {where[0]}"
        elif len(where) <= 6:
            at = f"layers {', '.join(map(str, where))}"
        else:
            at = f"{len(where)} layers ({where[0]}-{where[-1]})"
        distinct = str(low) if low == high else f"{low}-{high}"
        log.warning(
            f"{label} at {at} of {acts.model['name']}: {n} prompts give only {distinct} distinct emotion vectors "
            "(identical left context before the emotion word in a causal model?)"
        )


def copy_cross_overlaps(
    source: ActivationSet,
    target: ActivationSet,
    source_layer: int,
    target_layer: int,
    config: AlignConfig,
    ks: Sequence[int],
) -> np.ndarray:
    """(K, E, E) cross overlaps of one layer pair through the same vectors, subspaces and map as
    :func:`align_layer_pair`, without statistics (for the random-weight copies of the baseline)."""
    src_vectors = emotion_vector_sets(source, source_layer, config.reference)
    tgt_vectors = emotion_vector_sets(target, target_layer, config.reference)
    X_t, X_s, _ = drop_outlying_pairs(*fit_pairs(source, target, source_layer, target_layer, config.fit_data), config)
    linear_map = fit_map(
        config.map_method, X_t, X_s, heldout_fraction=0.0, seed=config.seed,  # type: ignore[arg-type]
        context=f"map {target.model['name']} layer {target_layer} -> {source.model['name']} layer {source_layer}",
    )
    return cross_overlap_profile(src_vectors, tgt_vectors, linear_map.weight, ks)


def align_layer_pair(
    source: ActivationSet,
    target: ActivationSet,
    source_layer: int,
    target_layer: int,
    config: AlignConfig,
    *,
    caches: StatsCaches | None = None,
) -> LayerPairAlignment:
    """Subspaces of both models, the map fitted on reference data, overlaps before/after per emotion.

    ``caches``: spans, subspaces and resample PCAs shared with the statistics (the source side may
    be kept across targets by the caller, see :mod:`emoalign.study.parallel`); None: a fresh pair
    for this layer pair. They change the speed, never the numbers."""
    caches = StatsCaches() if caches is None else caches
    k = config.n_components
    emotions = source.emotion_labels
    src_vectors = emotion_vector_sets(source, source_layer, config.reference)
    tgt_vectors = emotion_vector_sets(target, target_layer, config.reference)
    rank = min(
        check_numerical_rank(vectors, k, model=acts.model["name"], layer=layer)
        for acts, layer, vectors in ((source, source_layer, src_vectors), (target, target_layer, tgt_vectors))
    )
    profile_ks = config.profile_ks(rank)  # only the ks the data span (round-off is no dimension)
    k_fit = max(k, *profile_ks)  # one PCA per emotion serves k and the profile (k_fit = k if k does not fit)
    # through the caches the pairing null reads: one SVD per emotion and model serves both
    src_top = {
        e: cached_subspace(v, k_fit, caches.source, context=f"{source.model['name']} layer {source_layer} {e!r}")
        for e, v in src_vectors.items()
    }
    tgt_top = {
        e: cached_subspace(v, k_fit, caches.pair, context=f"{target.model['name']} layer {target_layer} {e!r}")
        for e, v in tgt_vectors.items()
    }
    src_sub = {e: _truncated(s, k) for e, s in src_top.items()}
    tgt_sub = {e: _truncated(s, k) for e, s in tgt_top.items()}
    X_t_all, X_s_all = fit_pairs(source, target, source_layer, target_layer, config.fit_data)
    X_t, X_s, n_dropped = drop_outlying_pairs(X_t_all, X_s_all, config)
    linear_map = fit_map(
        config.map_method,  # type: ignore[arg-type]
        X_t,
        X_s,
        heldout_fraction=config.heldout_fraction,
        seed=config.seed,
        context=f"map {target.model['name']} layer {target_layer} -> {source.model['name']} layer {source_layer}",
    )
    d_s = X_s.shape[1]
    mapped = {e: linear_map.map_directions(tgt_sub[e].basis) for e in emotions}
    cross = np.array([[subspace_overlap(src_sub[e].basis, mapped[f]) for f in emotions] for e in emotions])
    angles = np.degrees(np.stack([principal_angles(src_sub[e].basis, mapped[e]) for e in emotions]))
    profile = _profile_of_bases(
        [s.basis for s in src_top.values()], [s.basis for s in tgt_top.values()], linear_map.weight, profile_ks
    )
    try:
        cka = linear_cka_debiased(X_t, X_s)
    except EmoalignError:
        cka = float("nan")
    cells = []
    for i, e in enumerate(emotions):
        others = [cross[i, j] for j in range(len(emotions)) if j != i]
        before = subspace_overlap(src_sub[e].basis, truncate_coordinates(tgt_sub[e].basis, d_s))
        cells.append(
            {
                "layer": source_layer,
                "target_layer": target_layer,
                "emotion": e,
                "overlap_before": before,
                "overlap_after": float(cross[i, i]),
                "chance": k / d_s,
                "specificity": float(cross[i, i] - np.mean(others)) if others else float("nan"),
                "legacy_before": legacy_before(src_sub[e].basis, tgt_sub[e].basis),
                "legacy_after": legacy_overlap(src_sub[e].basis, mapped[e]),
                "explained_variance_source": float(src_sub[e].explained_variance_ratio.sum()),
                "explained_variance_target": float(tgt_sub[e].explained_variance_ratio.sum()),
                "n_prompts": int(src_sub[e].n_samples),
                **readout_diagnostics(src_top[e], src_vectors[e], "source"),
                **readout_diagnostics(tgt_top[e], tgt_vectors[e], "target"),
            }
        )
    diagnostics = {
        "source_pc1_max": max(float(s.explained_variance_ratio[0]) for s in src_top.values()),
        "target_pc1_max": max(float(s.explained_variance_ratio[0]) for s in tgt_top.values()),
        "source_fit_norm_ratio": row_norm_ratio(X_s_all),
        "target_fit_norm_ratio": row_norm_ratio(X_t_all),
        "n_fit_pairs_dropped": n_dropped,
    }
    layer_statistics: dict[str, float] = {}
    nulls = None
    if config.with_statistics:
        per_emotion, layer_statistics, nulls = cell_statistics(
            src_vectors, tgt_vectors, X_t, X_s, linear_map, k,
            n_permutations=config.n_permutations, n_bootstrap=config.n_bootstrap,
            n_pairing_permutations=config.n_pairing_permutations, seed=config.seed,
            context=f"layer {source_layer} vs {target_layer}", caches=caches,
        )
        for cell in cells:
            cell.update(per_emotion[cell["emotion"]])
    return LayerPairAlignment(
        source_layer, target_layer, src_sub, tgt_sub, linear_map, mapped, cross, angles, cka, X_t.shape[0], cells,
        layer_statistics, nulls, profile, profile_ks, diagnostics,
    )


def readout_diagnostics(subspace: EmotionSubspace, vectors: np.ndarray, role: str) -> dict[str, object]:
    """One model's readout checks for one cell: the first component's share of the variance, the
    max/median norm ratio of the emotion vectors and the outlying prompts (indices within the label,
    space-separated)."""
    return {
        f"{role}_pc1": float(subspace.explained_variance_ratio[0]),
        f"{role}_norm_ratio": row_norm_ratio(vectors),
        f"{role}_outlying_prompts": " ".join(str(i) for i in outlying_rows(vectors)),
    }


def lexical_floor_config(source: ActivationSet, target: ActivationSet, config: AlignConfig) -> AlignConfig | None:
    """The settings of the lexical floor (the embedding-layer pair), or None where there is none:
    either model lacks the embedding layer, or the metric is legacy (the original had no floor).

    The input embeddings of an emotion word do not depend on its context: models without position
    embeddings give one vector per distinct emotion word, so the floor's subspaces may span fewer
    than k dimensions. The floor then runs at that smaller k (recorded as its ``n_components``)."""
    if config.metric == "legacy" or EMBEDDING_LAYER not in source.layers or EMBEDDING_LAYER not in target.layers:
        return None
    rank = min(
        centred_rank(vectors)
        for acts in (source, target)
        for vectors in emotion_vector_sets(acts, EMBEDDING_LAYER, config.reference).values()
    )
    k = min(config.n_components, rank)
    return replace(config, n_components=k, k_profile=(k,)) if k >= 1 else None


def layer_row(pair: LayerPairAlignment, config: AlignConfig) -> dict:
    """The per-layer summary row: the original's four columns first, then ours."""
    cells = pd.DataFrame(pair.cells)
    before_col, after_col = (
        ("legacy_before", "legacy_after") if config.metric == "legacy" else ("overlap_before", "overlap_after")
    )
    before, after = float(cells[before_col].mean()), float(cells[after_col].mean())
    return {
        "layer": pair.source_layer,
        "mean_overlap_before": before,
        "mean_overlap_after": after,
        "delta": after - before,
        "target_layer": pair.target_layer,
        "metric": config.metric,
        "chance": float(cells["chance"].iloc[0]),
        "mean_specificity": float(cells["specificity"].mean()),
        "map": config.map_method,
        "fit_data": config.fit_data,
        "n_fit_pairs": pair.n_fit_pairs,
        **pair.diagnostics,
        "map_heldout_r2": pair.linear_map.heldout_r2,
        "cka": pair.cka,
        "p_group_assignment": group_assignment_p(pair.cross_overlap),
        **pair.layer_statistics,
    }


def common_profile(aligned: list[LayerPairAlignment]) -> list[LayerPairAlignment]:
    """The layer pairs with their verdict-vs-k profiles cut to the ks every pair has (the numerical
    rank, and so the ks that fit, can differ between layers)."""
    if not aligned:
        return aligned
    ks = tuple(sorted(set(aligned[0].profile_ks).intersection(*(p.profile_ks for p in aligned[1:]))))
    return [
        p if p.profile_ks == ks else replace(p, profile=p.profile[[p.profile_ks.index(k) for k in ks]], profile_ks=ks)
        for p in aligned
    ]
