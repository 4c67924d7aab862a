"""Benchmark: full overlap statistics for one model pair, vectorised vs the naive full-dimensional loop.

Synthetic activations at d_s=768 / d_t=4096, 12 layer pairs (index mode), 3 emotions x 70 prompts,
300 neutral fit pairs per layer. "Full statistics" per layer pair = emotion-label null (200
permutations) + paired bootstrap CI (1000 resamples) + pairing null (lstsq fast path, 50 shuffles)
+ joint relabelling null (200) + split-half reliability of both models (50 splits). The map fit itself
(lstsq) is timed separately.

The naive loop (fit_subspace + map + subspace_overlap in full dimension per permutation/resample)
is timed on a few permutations/resamples of one layer pair and extrapolated to the whole job.

Run: ``.venv/bin/python benchmarks/bench_statistics.py [--layers 12] [--quick]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from emoalign.analysis.maps import fit_lstsq_map
from emoalign.analysis.overlap import subspace_overlap
from emoalign.analysis.stats import (
    bootstrap_overlap_ci,
    joint_relabel_null,
    label_permutation_null,
    label_permutations,
    pairing_null,
    split_half_reliability,
)
from emoalign.analysis.stats.bootstrap import _bootstrap_indices
from emoalign.analysis.subspace import fit_subspace

D_S, D_T = 768, 4096
EMOTIONS = ("anger", "joy", "sadness")
N_PROMPTS, N_FIT, K = 70, 300, 8
N_PERM, N_BOOT, N_PAIR, N_SPLIT = 200, 1000, 50, 50
FLOOR_S = 60.0


def synthetic_layer(rng: np.random.Generator, latent: int = 96) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """One layer: shared latent factors seen by both models through random linear read-outs, plus noise.

    Each emotion adds variance along its own latent directions, so the subspaces are emotion-specific.
    """
    A_s = rng.standard_normal((latent, D_S)) / np.sqrt(latent)
    A_t = rng.standard_normal((latent, D_T)) / np.sqrt(latent)
    scales = np.ones(latent)
    src, tgt = {}, {}
    for i, emo in enumerate(EMOTIONS):
        s = scales.copy()
        s[i * 8 : (i + 1) * 8] = 4.0
        z = rng.standard_normal((N_PROMPTS, latent)) * s
        src[emo] = z @ A_s + 0.5 * rng.standard_normal((N_PROMPTS, D_S))
        tgt[emo] = z @ A_t + 0.5 * rng.standard_normal((N_PROMPTS, D_T))
    z = rng.standard_normal((N_FIT, latent))
    fit_s = z @ A_s + 0.5 * rng.standard_normal((N_FIT, D_S))
    fit_t = z @ A_t + 0.5 * rng.standard_normal((N_FIT, D_T))
    return src, tgt, fit_t, fit_s


def naive_seconds_per_unit(src: dict, tgt: dict, W: np.ndarray, n_units: int = 10) -> tuple[float, float]:
    """Seconds per (emotion, permutation) of the label null and per (emotion, resample) of the bootstrap."""
    names = list(src)
    pooled_t = np.vstack([tgt[e] for e in names])
    perms = label_permutations(pooled_t.shape[0], n_units, 0)
    t0 = time.perf_counter()
    for perm in perms:
        for i, e in enumerate(names):
            Qs = fit_subspace(src[e], K).basis
            Ut = fit_subspace(pooled_t[perm[i * N_PROMPTS : (i + 1) * N_PROMPTS]], K).basis
            subspace_overlap(Qs, Ut @ W)
    per_perm = (time.perf_counter() - t0) / (n_units * len(names))
    idx, _, _ = _bootstrap_indices(N_PROMPTS, n_units, K + 1, np.random.default_rng(0))
    t0 = time.perf_counter()
    for j in idx:
        for e in names:
            subspace_overlap(fit_subspace(src[e][j], K).basis, fit_subspace(tgt[e][j], K).basis @ W)
    per_boot = (time.perf_counter() - t0) / (n_units * len(names))
    return per_perm, per_boot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="time 2 layer pairs and extrapolate")
    args = parser.parse_args()
    n_layers = 2 if args.quick else args.layers

    print(
        f"cores available: {len(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.2f} "
        f"(other processes slow the timings); OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}"
    )
    print(
        f"d_s={D_S} d_t={D_T} layers={args.layers} emotions={len(EMOTIONS)} x {N_PROMPTS} prompts, k={K}, "
        f"{N_FIT} fit pairs; N_label={N_PERM} N_boot={N_BOOT} N_pairing={N_PAIR} splits={N_SPLIT}"
    )
    rng = np.random.default_rng(0)
    t_fit = t_stats = 0.0
    parts = {"label": 0.0, "joint": 0.0, "boot": 0.0, "pairing": 0.0, "reliability": 0.0}
    last = None
    for layer in range(n_layers):
        src, tgt, fit_t, fit_s = synthetic_layer(rng)
        t0 = time.perf_counter()
        W = fit_lstsq_map(fit_t, fit_s).weight
        t1 = time.perf_counter()
        t_fit += t1 - t0
        a = time.perf_counter()
        label_permutation_null(src, tgt, W, K, n_permutations=N_PERM, seed=0)
        j = time.perf_counter()
        joint_relabel_null(src, tgt, W, K, n_permutations=N_PERM, seed=0)
        b = time.perf_counter()
        bootstrap_overlap_ci(src, tgt, W, K, n_bootstrap=N_BOOT, seed=0)
        c = time.perf_counter()
        pairing_null(fit_t, fit_s, src, tgt, K, method="lstsq", n_permutations=N_PAIR, seed=0)
        d = time.perf_counter()
        split_half_reliability(src, tgt, W, K, n_splits=N_SPLIT, seed=0)
        e = time.perf_counter()
        parts["label"] += j - a
        parts["joint"] += b - j
        parts["boot"] += c - b
        parts["pairing"] += d - c
        parts["reliability"] += e - d
        t_stats += e - a
        last = (src, tgt, fit_t, fit_s, W)
    scale = args.layers / n_layers
    t_stats *= scale
    t_fit *= scale
    print(f"map fits (lstsq, not part of the statistics): {t_fit:.1f} s")
    print(
        "vectorised full statistics: "
        + ", ".join(f"{name} {v * scale:.1f} s" for name, v in parts.items())
        + f"; total {t_stats:.1f} s for {args.layers} layer pairs"
        + (" (extrapolated from 2)" if args.quick else "")
    )

    assert last is not None
    src, tgt, fit_t, fit_s, W = last
    per_perm, per_boot = naive_seconds_per_unit(src, tgt, W)
    naive_cell = per_perm * N_PERM + per_boot * N_BOOT  # one (layer pair, emotion) cell, nulls + bootstrap
    naive_total = naive_cell * len(EMOTIONS) * args.layers
    vec_same = (parts["label"] + parts["boot"]) * scale
    print(
        f"naive full-dimensional loop (label null + bootstrap only, extrapolated from 10 units/emotion): "
        f"{per_perm * 1e3:.1f} ms/permutation, {per_boot * 1e3:.1f} ms/resample -> {naive_total:.0f} s "
        f"for {args.layers} x {len(EMOTIONS)} cells"
    )
    print(f"speed-up on the same work (label null + bootstrap): {naive_total / vec_same:.0f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    verdict = "MET" if t_stats <= FLOOR_S else "NOT MET"
    print(f"60 s floor for the full statistics: {verdict} ({t_stats:.1f} s)")


if __name__ == "__main__":
    main()
