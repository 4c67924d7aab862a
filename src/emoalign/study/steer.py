"""The causal transfer stage: carry the source's emotion vectors into the target through a
source→target map and steer the target with them, beside its own vectors, random directions and
maps fitted on shuffled pairs (:mod:`emoalign.analysis.steering` has the arithmetic and the
statistics; :mod:`emoalign.extract.steer` the forward passes).

Per matched layer pair (source layer, target layer)::

    split     the neutral prompts: ``n_prompts`` held out to steer on, the rest to fit on
    map       source→target on the fit prompts' word pairs (the study's map method, outlying pairs left
              out as in the study), R² on the held-out prompts' words
    vectors   mean emotion vector of each model (emotion prompts − fit neutral prompts); the source's
              carried through the map; random unit directions; the source's through shuffled maps
    norm      every vector at ``scale`` × the target's median residual norm at that layer
    steer     add at the target layer (every position but the first), read the next-token log mass of
              each emotion's first tokens on the held-out prompts

The nulls run at the test scale with all their draws and at the other scales with the first
:data:`DOSE_DRAWS` (the dose–response bands); the verdicts are at the test scale.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from emoalign.analysis.diagnostics import robust_fit_mask
from emoalign.analysis.steering import (
    LayerShifts,
    at_norm,
    carry,
    fit_transfer_map,
    heldout_r2,
    random_directions,
    shuffled_transfer_weights,
    steering_tables,
)
from emoalign.core.activations import ActivationSet
from emoalign.core.errors import EmoalignError
from emoalign.core.log import get_logger
from emoalign.core.steering import SteeringResult

log = get_logger(__name__)

__all__ = ["SteerSettings", "DOSE_DRAWS", "condition_rows", "split_reference_prompts", "steer_pair", "steer_study"]

#: null draws at the scales other than the test scale (the dose–response bands only)
DOSE_DRAWS = 3
#: the fewest neutral prompts left to fit the map on
MIN_FIT_PROMPTS = 8


@dataclass(frozen=True)
class SteerSettings:
    """How the causal test runs: the scales (fractions of the target's median residual norm), the
    test scale (the middle one unless given), prompts to steer on, null draws, continuations."""

    scales: tuple[float, ...] = (0.05, 0.1, 0.2)
    test_scale: float | None = None
    n_prompts: int = 16
    n_random: int = 20
    n_shuffles: int = 20
    generate: int = 0
    alpha: float = 0.05
    n_bootstrap: int = 1000
    seed: int = 0
    map_method: str = "ridge"

    def __post_init__(self) -> None:
        if len(self.scales) < 1 or any(not np.isfinite(s) or s <= 0 for s in self.scales):
            raise EmoalignError(f"--steer-scales: positive numbers needed, got {list(self.scales)}")
        if self.test_scale is not None and self.test_scale not in self.scales:
            raise EmoalignError(f"test scale {self.test_scale} is not one of --steer-scales {list(self.scales)}")
        for flag, value, low in (("--steer-prompts", self.n_prompts, 2), ("--steer-random", self.n_random, 19),
                                 ("--steer-shuffles", self.n_shuffles, 19), ("--generate", self.generate, 0)):
            if int(value) != value or value < low:
                raise EmoalignError(
                    f"{flag}: at least {low} needed, got {value}"
                    + (" (a p-value below 0.05 needs 19 draws of a null)" if low == 19 else "")
                )

    @property
    def test_index(self) -> int:
        scales = sorted(self.scales)
        return scales.index(self.test_scale) if self.test_scale is not None else (len(scales) - 1) // 2

    @property
    def sorted_scales(self) -> tuple[float, ...]:
        return tuple(sorted(self.scales))

    def null_draws(self, scale_index: int) -> tuple[int, int]:
        """(random directions, shuffled maps) run at the scale of ``scale_index``: every draw at the
        test scale, the first :data:`DOSE_DRAWS` at the others (the dose–response bands)."""
        if scale_index == self.test_index:
            return self.n_random, self.n_shuffles
        return min(DOSE_DRAWS, self.n_random), min(DOSE_DRAWS, self.n_shuffles)


def split_reference_prompts(acts: ActivationSet, n_prompts: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into the dataset) of the neutral prompts to steer on and of those to fit the map on."""
    reference = np.flatnonzero(acts.label_mask(acts.reference_label))
    if len(reference) - n_prompts < MIN_FIT_PROMPTS:
        raise EmoalignError(
            f"--steer-prompts {n_prompts}: the steering test holds out {n_prompts} of the "
            f"{len(reference)} {acts.reference_label!r} prompts and fits the map on the rest, which needs at least "
            f"{MIN_FIT_PROMPTS}; use fewer --steer-prompts or more prompts (--max-samples-per-emotion)"
        )
    chosen = np.random.default_rng(seed).permutation(reference)
    return np.sort(chosen[:n_prompts]), np.sort(chosen[n_prompts:])


def _word_rows(acts: ActivationSet, prompts: np.ndarray) -> np.ndarray:
    return np.isin(acts.word_prompt, prompts)


def mean_emotion_vectors(acts: ActivationSet, layer: int, fit_prompts: np.ndarray) -> np.ndarray:
    """(E, d): each emotion's mean prompt activation minus the fit prompts' neutral mean."""
    row = acts.prompt_acts[acts.layer_row(layer)].astype(np.float64)
    neutral = row[fit_prompts].mean(axis=0)
    return np.stack([row[acts.label_mask(label)].mean(axis=0) - neutral for label in acts.emotion_labels])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-300)


@dataclass(frozen=True)
class LayerVectors:
    """The unit directions one target layer is steered along, and the map's fit figures."""

    own: np.ndarray  # (E, d_t)
    transferred: np.ndarray  # (E, d_t)
    random: np.ndarray  # (N, d_t)
    shuffled: np.ndarray  # (N_s, E, d_t)
    map_r2: float | None
    map_r2_prompts: float
    n_fit_pairs: int


def layer_vectors(
    source: ActivationSet, target: ActivationSet, layer: int, target_layer: int, held_out: np.ndarray,
    fit: np.ndarray, settings: SteerSettings,
) -> LayerVectors:
    """The directions of every condition at one layer pair (unit length; the norm comes later)."""
    context = f"{source.model['name']} layer {layer} -> {target.model['name']} layer {target_layer}"
    fit_words, held_words = _word_rows(source, fit), _word_rows(source, held_out)
    source_words = source.word_acts[source.layer_row(layer)].astype(np.float64)
    target_words = target.word_acts[target.layer_row(target_layer)].astype(np.float64)
    # as in the study's maps: pairs whose norm is an outlier in either model (a sink) would decide the fit alone
    typical = robust_fit_mask(target_words, source_words)
    fit_words, held_words = fit_words & typical, held_words & typical
    linear_map = fit_transfer_map(source_words[fit_words], target_words[fit_words], settings.map_method,
                                  seed=settings.seed, context=context)
    source_vectors = mean_emotion_vectors(source, layer, fit)
    own = mean_emotion_vectors(target, target_layer, fit)
    transferred = carry(source_vectors, linear_map.weight)
    shuffled = np.stack([
        carry(source_vectors, weight)
        for weight in shuffled_transfer_weights(source_words[fit_words], target_words[fit_words], linear_map,
                                                settings.n_shuffles, seed=settings.seed + 1, context=context)
    ])
    def unit(vectors: np.ndarray) -> np.ndarray:
        return at_norm(vectors, 1.0, context=context)

    return LayerVectors(
        own=unit(own), transferred=unit(transferred),
        random=random_directions(settings.n_random, own.shape[1], seed=settings.seed + 1000 + target_layer),
        shuffled=np.stack([unit(vectors) for vectors in shuffled]),
        map_r2=linear_map.heldout_r2,
        map_r2_prompts=heldout_r2(linear_map, source_words[held_words], target_words[held_words])
        if held_words.sum() >= 2 else float("nan"),
        n_fit_pairs=int(fit_words.sum()),
    )


def condition_rows(settings: SteerSettings, n_emotions: int) -> int:
    """Vectors one layer pair is steered with (each a forward pass over the held-out prompts), the
    unsteered pass included: the cost unit of the stage."""
    rows = 1
    for s, _ in enumerate(settings.sorted_scales):
        draws_r, draws_s = settings.null_draws(s)
        rows += 2 * n_emotions + draws_r + draws_s * n_emotions
    return rows


def _conditions(vectors: LayerVectors, settings: SteerSettings) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    """Every unit direction of one layer, stacked with a zero row first (unsteered), and per scale
    where each condition's rows start: [(condition, scale index, first row)]."""
    rows, index = [np.zeros((1, vectors.own.shape[1]))], []
    for s, _ in enumerate(settings.sorted_scales):
        draws_r, draws_s = settings.null_draws(s)
        for condition, block in (("own", vectors.own), ("transferred", vectors.transferred),
                                 ("random", vectors.random[:draws_r]),
                                 ("shuffled", vectors.shuffled[:draws_s].reshape(-1, vectors.own.shape[1]))):
            index.append((condition, s, sum(len(r) for r in rows)))
            rows.append(block)
    return np.concatenate(rows), index


def layer_shifts(
    loaded, layer: int, target_layer: int, vectors: LayerVectors, prompts: list[list[int]],
    token_sets: Sequence[Sequence[int]], settings: SteerSettings,
) -> LayerShifts:
    """Steer one target layer with every condition at every scale; the shifts from the unsteered mass."""
    from emoalign.extract.steer import emotion_log_mass, residual_norm

    norm = residual_norm(loaded, target_layer, prompts)
    directions, index = _conditions(vectors, settings)
    scale_of_row = np.zeros(len(directions))
    bounds = [start for _, _, start in index] + [len(directions)]
    for (_, s, start), end in zip(index, bounds[1:]):
        scale_of_row[start:end] = settings.sorted_scales[s] * norm
    mass = emotion_log_mass(loaded, target_layer, prompts, directions * scale_of_row[:, None], token_sets)
    shifts = mass[1:] - mass[:1]  # (C - 1, P, E): every condition minus the unsteered mass
    n_emotions = vectors.own.shape[0]
    blocks: dict[str, list[np.ndarray]] = {"own": [], "transferred": [], "random": [], "shuffled": []}
    for (condition, _, start), end in zip(index, bounds[1:]):
        block = shifts[start - 1:end - 1]
        blocks[condition].append(block.reshape(-1, n_emotions, *block.shape[1:]) if condition == "shuffled" else block)
    return LayerShifts(
        layer=layer, target_layer=target_layer, own=np.stack(blocks["own"]), transferred=np.stack(blocks["transferred"]),
        random=blocks["random"], shuffled=blocks["shuffled"], map_r2=vectors.map_r2,
        map_r2_prompts=vectors.map_r2_prompts, residual_norm=float(norm), n_fit_pairs=vectors.n_fit_pairs,
        cosine_own_transferred=float(_cosines(vectors.own, vectors.transferred).mean()),
    )


def steer_pair(
    source: ActivationSet,
    target: ActivationSet,
    pairs: Sequence[tuple[int, int]],
    loaded,
    lexicon: Mapping[str, Sequence[str]],
    settings: SteerSettings,
    *,
    bos: str = "auto",
    quiet: bool = True,
) -> SteeringResult:
    """The causal test of one pair: ``target`` (the activations of ``loaded``, a decoder with its
    next-token head) steered at every matched layer pair by the source's vectors and the controls."""
    from tqdm.auto import tqdm

    from emoalign.analysis.alignment import check_paired
    from emoalign.core.layers import EMBEDDING_LAYER
    from emoalign.extract.start_token import resolve_start_token
    from emoalign.extract.steer import (
        emotion_first_tokens,
        emotion_words,
        encode_prompts,
        token_texts,
    )

    started = time.perf_counter()
    check_paired(source, target)
    pairs = [pair for pair in pairs if EMBEDDING_LAYER not in pair]
    if not pairs:
        raise EmoalignError("the steering test needs at least one layer pair above the embeddings")
    held_out, fit = split_reference_prompts(target, settings.n_prompts, settings.seed)
    emotions = target.emotion_labels
    texts_by_label = {label: [t for t, lab in zip(target.texts, target.labels) if lab == label] for label in emotions}
    token_sets = emotion_first_tokens(loaded.tokenizer, emotion_words(texts_by_label, lexicon))
    token_lists = [token_sets[label] for label in emotions]
    start = resolve_start_token(loaded.tokenizer, bos, target.model["name"])
    held_texts = [target.texts[i] for i in held_out]
    prompts = encode_prompts(loaded.tokenizer, held_texts, start)
    shifts, directions = [], {}
    for layer, target_layer in tqdm(pairs, desc=f"steer {target.model['name']}", unit="layer", disable=quiet):
        directions[layer, target_layer] = layer_vectors(source, target, layer, target_layer, held_out, fit, settings)
        shifts.append(layer_shifts(loaded, layer, target_layer, directions[layer, target_layer], prompts,
                                   token_lists, settings))
    tables = steering_tables(shifts, emotions, settings.sorted_scales, settings.test_index, alpha=settings.alpha,
                             n_bootstrap=settings.n_bootstrap, seed=settings.seed)
    config = {
        "scales": list(settings.sorted_scales), "test_scale": settings.sorted_scales[settings.test_index],
        "n_prompts": len(held_out), "n_fit_prompts": len(fit), "n_random": settings.n_random,
        "n_shuffles": settings.n_shuffles, "dose_draws": DOSE_DRAWS, "alpha": settings.alpha,
        "n_bootstrap": settings.n_bootstrap, "seed": settings.seed, "map_method": settings.map_method,
        "source_name": source.model["name"], "target_name": target.model["name"],
        "direction": f"{source.model['name']} -> {target.model['name']}",
        "positions": "every position but the first", "norm": "scale x the median residual norm at the layer",
        "start_token": start.describe(), "prompts": held_texts,
    }
    result = SteeringResult(
        pair_name=f"{source.model['name']}_to_{target.model['name']}", source=dict(source.model),
        target=dict(target.model), config=config, shifts=_shift_arrays(shifts),
        tokens={label: token_texts(loaded.tokenizer, ids) for label, ids in zip(emotions, token_lists)}, **tables,
    )
    if settings.generate:
        result.continuations = continuations(result, shifts, directions, loaded, prompts, held_texts, settings)
    result.seconds = time.perf_counter() - started
    return result


def _shift_arrays(shifts: Sequence[LayerShifts]) -> dict[str, np.ndarray]:
    """The per-prompt shifts by name (``L<source>_T<target>_<condition>[_s<scale index>]``)."""
    arrays = {}
    for pair in shifts:
        stem = f"L{pair.layer}_T{pair.target_layer}"
        arrays[f"{stem}_own"] = pair.own
        arrays[f"{stem}_transferred"] = pair.transferred
        for s, (random, shuffled) in enumerate(zip(pair.random, pair.shuffled)):
            arrays[f"{stem}_random_s{s}"] = random
            arrays[f"{stem}_shuffled_s{s}"] = shuffled
    return arrays


def continuations(
    result: SteeringResult, shifts: Sequence[LayerShifts], directions: Mapping[tuple[int, int], LayerVectors], loaded,
    prompts: list[list[int]], texts: Sequence[str], settings: SteerSettings,
) -> list[dict]:
    """Greedy continuations of the first ``settings.generate`` held-out prompts, unsteered and steered
    by each emotion's own and transferred vector at the test scale, at the layer pair where the own
    vectors move the target most."""
    from emoalign.extract.steer import greedy_continuations

    cells = result.cells
    best = cells.groupby(["layer", "target_layer"])["effect_own"].mean().idxmax()
    pair = next(p for p in shifts if (p.layer, p.target_layer) == tuple(best))
    vectors = directions[pair.layer, pair.target_layer]
    norm = pair.residual_norm * settings.sorted_scales[settings.test_index]
    emotions = list(result.emotions)
    rows = np.concatenate([np.zeros((1, vectors.own.shape[1])), vectors.own * norm, vectors.transferred * norm])
    labels = [("base", None)] + [("own", e) for e in emotions] + [("transferred", e) for e in emotions]
    n = min(settings.generate, len(prompts))
    texts_out = greedy_continuations(loaded, pair.target_layer, prompts[:n], rows)
    return [
        {"layer": pair.layer, "target_layer": pair.target_layer, "condition": condition, "emotion": emotion,
         "prompt": texts[p], "text": texts_out[c][p]}
        for c, (condition, emotion) in enumerate(labels) for p in range(n)
    ]


def wants_steering(config, study) -> bool:
    """Whether the runner steers after ``study``: the pair itself (not a control), once per config
    (its first k), unless ``--steer off``."""
    return (config.steer != "off" and study.control is None and study.target_request is not None
            and study.result.config.get("n_components") == config.n_components[0])


def no_head_reason(request) -> str | None:
    """Why the target of ``request`` cannot be steered (an encoder: no next-token head), or None."""
    from emoalign.extract.steer import has_next_token_head

    name = request.spec.name
    if request.loaded is not None:
        if request.loaded.model.get_output_embeddings() is None:
            return (f"{name} has no next-token head (a {type(request.loaded.model).__name__}); the causal test "
                    "reads the target's next-token distribution (pass a *ForCausalLM model)")
        return None
    from emoalign.models.loading import load_config

    config = load_config(request.spec, revision=request.revision, trust_remote_code=request.trust_remote_code)
    if has_next_token_head(config):
        return None
    from emoalign.extract.steer import ENCODER_TYPES

    kind = ", ".join(getattr(config, "architectures", None) or [str(getattr(config, "model_type", "?"))])
    what = f"is an encoder ({kind})" if str(getattr(config, "model_type", "")) in ENCODER_TYPES else f"is saved as {kind}"
    return f"{name} {what} with no next-token head; the causal test reads the target's next-token distribution"


def load_steering_model(request, *, quiet: bool):
    """The target with its next-token head (the model the user loaded, as it is)."""
    if request.loaded is not None:
        return request.loaded
    from emoalign.models.loading import load_model

    return load_model(
        request.spec, device=request.device, dtype=request.dtype, revision=request.revision,
        trust_remote_code=request.trust_remote_code, device_map=request.device_map, quiet=quiet,
        allow_pickle_weights=request.allow_pickle_weights, lm_head=True,
    )


def steer_study(
    config, source: ActivationSet, target: ActivationSet, pairs: Sequence[tuple[int, int]], request, *, quiet: bool
) -> SteeringResult | str:
    """The causal test of a study's pair (its activations, layer pairs, and the target's extraction
    request, which loads it and holds the lexicon), or the one-line reason it was skipped (logged):
    the target is an encoder, or — under ``--steer auto`` only — the data cannot carry the test (too
    few neutral prompts to hold out, no first token of an emotion in the target's vocabulary)."""
    try:
        reason = no_head_reason(request)
        if reason is None:
            loaded = load_steering_model(request, quiet=quiet)
            return steer_pair(source, target, pairs, loaded, request.lexicon, config.steer_settings(), bos=config.bos,
                              quiet=quiet)
    except EmoalignError as exc:
        if config.steer != "auto":  # asked for: its failure is the command's
            raise
        reason = str(exc)  # an add-on of `run`: the study stands without it
    log.warning(f"causal test skipped: {reason}")
    return reason
