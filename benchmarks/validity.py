"""Does the verdict mean shared emotion structure? Known-answer validity of emoalign's three steps.

The verdict (``emoalign.analysis.verdict``) has three steps: (a) correspondence (pairing null),
(b) beyond vocabulary (overlap AND specificity above random-weight copies of both models: one-sided
95 % t prediction bound over N copies, BH across cells; pair level: the same test on the mean over
cells), (c) emotion vs any prompt group (joint-relabelling null). Headline = (a)+(b).

This benchmark measures, on inputs whose answer is known:

1. **Unrelated random-weight pairs** (the true null of step b): independently seeded tiny models,
   ``gpt2`` (byte-level BPE) source vs ``llama``/``qwen2`` targets with the SAME tokenizer kind, and
   vs ``gemma2`` (SentencePiece) / ``bert`` (WordPiece) targets with DIFFERENT tokenizers. Each pair
   is judged against 20 random-weight copy pairs of its own architectures and tokenizers (the copy
   seeds of ``emoalign.study.pipeline.baseline_seed_pairs(20, seed=0)``, 10000+, as ``emoalign run`` uses;
   every pair with the same architectures therefore meets the same copies, as it would under
   ``emoalign run``).
2. **Noisy twins**: target activations = R·source + sigma·rms·noise (R a fixed random orthonormal
   widening 64 -> 96, rms = root-mean-square of the source activations at that layer, i.i.d.
   Gaussian noise), built at the ActivationSet level from a random-weight gpt2's activations, for
   every layer and for the reference-word activations too; sigma = 0 (exact twin), 0.5, 1, 1.5.
   Its copies: (random gpt2 copy, the SAME construction applied to an independent random gpt2 copy).
3. At 20 and 70 prompts per label and k = 4, 8, 16, all 4 layers (12 cells per pair).
4. Per configuration: the share of cells and of pairs passing each step and the headline; the
   uniformity of the cell-level p_baseline under the true null (unrelated pairs; KS test).
5. Interval coverage at the statistics level: population overlap known from population covariances,
   BCa and percentile bootstrap intervals (1000 resamples) at 20 and 70 prompts, three signal settings;
   coverage of (i) the population overlap and (ii) the expected finite-sample overlap at that n.

Statistics settings of the pipeline runs: 200 label/joint permutations, 50 pairing shuffles, 20
copy pairs (the defaults); the pipeline's own bootstrap is cut to 2 resamples because no verdict
step reads it and it is over half the runtime -- the intervals are measured in part 5 instead, at
the default 1000 resamples.

    .venv/bin/python benchmarks/validity.py            # full run (~15-20 min on 2 cores), writes RESULTS.md
    .venv/bin/python benchmarks/validity.py --quick    # small subset (~2 min), prints only

Tiny models and activations are built once under ``--work-dir`` (default ``results/validity``) and
reused by later runs (the activation cache).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402
from tiny_models import build_tiny_model  # noqa: E402

from emoalign.analysis.alignment import AlignConfig  # noqa: E402
from emoalign.analysis.baseline import diagonal_and_specificity  # noqa: E402
from emoalign.analysis.overlap import subspace_overlap  # noqa: E402
from emoalign.analysis.stats import bootstrap_overlap_ci, prediction_test  # noqa: E402
from emoalign.analysis.verdict import BEYOND_VOCABULARY  # noqa: E402
from emoalign.data.dataset import PromptDataset, load_profile  # noqa: E402
from emoalign.data.lexicon import DEFAULT_LEXICON  # noqa: E402
from emoalign.extract.activations import ActivationSet  # noqa: E402
from emoalign.extract.cache import ExtractionRequest, get_activations  # noqa: E402
from emoalign.models.registry import resolve_model  # noqa: E402
from emoalign.study.align import build_alignment_result  # noqa: E402
from emoalign.study.parallel import align_activation_sets, baseline_cross_overlaps  # noqa: E402
from emoalign.study.pipeline import baseline_seed_pairs  # noqa: E402

LAYERS = (0, 1, 2, 3)
SOURCE_WIDTH, TARGET_WIDTH = 64, 96
T0 = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f} s] {message}", flush=True)


# ----------------------------------------------------------------------------------------------
# plan


@dataclass(frozen=True)
class Plan:
    prompts: tuple[int, ...]
    ks: tuple[int, ...]
    shared: tuple[tuple[str, str], ...]  # (target family, tokenizer kind) per shared-tokenizer pair
    different: tuple[tuple[str, str], ...]
    sigmas: tuple[float, ...]
    n_copies: int
    n_permutations: int
    n_pairing: int
    n_bootstrap_pipeline: int
    coverage_reps: int
    coverage_bootstrap: int


FULL = Plan(
    prompts=(20, 70), ks=(4, 8, 16),
    shared=(("llama", "bpe"),) * 4 + (("qwen2", "bpe"),) * 4,
    different=(("gemma2", "sentencepiece"),) * 2 + (("bert", "wordpiece"),) * 2,
    sigmas=(0.0, 0.5, 1.0, 1.5), n_copies=20, n_permutations=200, n_pairing=50, n_bootstrap_pipeline=2,
    coverage_reps=250, coverage_bootstrap=1000,
)
QUICK = Plan(
    prompts=(20,), ks=(4, 8),
    shared=(("llama", "bpe"), ("qwen2", "bpe")), different=(("gemma2", "sentencepiece"),),
    sigmas=(0.0, 1.0), n_copies=6, n_permutations=200, n_pairing=50, n_bootstrap_pipeline=2,
    coverage_reps=40, coverage_bootstrap=1000,
)


# ----------------------------------------------------------------------------------------------
# activation sets: extraction through the cache, subsets, constructed twins


def request(folder: Path, dataset: PromptDataset, seed: int | None = None) -> ExtractionRequest:
    return ExtractionRequest(
        spec=resolve_model(str(folder)), dataset=dataset, layers=LAYERS, lexicon=dict(DEFAULT_LEXICON),
        device="cpu", untrained_seed=seed,
    )


EXTRACTED = {"hit": 0, "miss": 0}


def extract(folder: Path, dataset: PromptDataset, cache: Path, seed: int | None = None) -> ActivationSet:
    acts, _, hit = get_activations(request(folder, dataset, seed), cache, quiet=True)
    EXTRACTED["hit" if hit else "miss"] += 1
    return acts


def first_per_label(acts: ActivationSet, limited: PromptDataset) -> ActivationSet:
    """The activation set restricted to ``limited`` (the first n prompts of every label, as
    ``PromptDataset.limit_per_label``): equal to extracting on ``limited`` (activations of a prompt do
    not depend on the other prompts; checked once in :func:`check_subset`)."""
    taken: dict[str, int] = {}
    keep = []
    n = max(limited.label_counts().values())
    for i, label in enumerate(acts.labels):
        if taken.get(label, 0) < n:
            taken[label] = taken.get(label, 0) + 1
            keep.append(i)
    keep_arr = np.array(keep)
    texts = tuple(acts.texts[i] for i in keep)
    if texts != tuple(p.text for p in limited.prompts):
        raise RuntimeError("subset does not match the limited dataset")
    new_index = {old: new for new, old in enumerate(keep)}
    words = np.isin(acts.word_prompt, keep_arr)
    return replace(
        acts,
        dataset={"name": limited.name, "hash": limited.content_hash(), "label_counts": limited.label_counts()},
        texts=texts,
        labels=tuple(acts.labels[i] for i in keep),
        prompt_acts=acts.prompt_acts[:, keep_arr],
        word_acts=acts.word_acts[:, words],
        word_prompt=np.array([new_index[int(p)] for p in acts.word_prompt[words]], dtype=np.int64),
        word_position=acts.word_position[words],
        fallback=acts.fallback[keep_arr],
        matched_tokens=tuple(acts.matched_tokens[i] for i in keep),
    )


def widening(seed: int = 2024) -> np.ndarray:
    """(64, 96) matrix with orthonormal rows: a fixed random isometric embedding of the source space."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((TARGET_WIDTH, SOURCE_WIDTH)))
    return q.T


def noisy_twin(source: ActivationSet, R: np.ndarray, sigma: float, seed: int, name: str) -> ActivationSet:
    """target = source @ R + sigma * rms * N(0, 1), per layer (prompt and reference-word activations)."""
    rng = np.random.default_rng(seed)
    prompt_acts = np.empty((len(source.layers), source.prompt_acts.shape[1], R.shape[1]), dtype=np.float32)
    word_acts = np.empty((len(source.layers), source.word_acts.shape[1], R.shape[1]), dtype=np.float32)
    for row in range(len(source.layers)):
        P = source.prompt_acts[row].astype(np.float64)
        W = source.word_acts[row].astype(np.float64)
        rms = np.sqrt(np.mean(np.concatenate([P.ravel(), W.ravel()]) ** 2))
        prompt_acts[row] = P @ R + sigma * rms * rng.standard_normal((P.shape[0], R.shape[1]))
        word_acts[row] = W @ R + sigma * rms * rng.standard_normal((W.shape[0], R.shape[1]))
    model = {**source.model, "name": name, "d_model": int(R.shape[1]),
             "weights": f"constructed: R @ ({source.model.get('weights')}) + {sigma} * rms * noise (seed {seed})"}
    return replace(source, model=model, prompt_acts=prompt_acts, word_acts=word_acts)


def check_subset(folder: Path, full: ActivationSet, limited: PromptDataset, cache: Path) -> float:
    direct = extract(folder, limited, cache)
    sub = first_per_label(full, limited)
    assert direct.texts == sub.texts and np.array_equal(direct.word_prompt, sub.word_prompt)
    return float(max(np.abs(direct.prompt_acts - sub.prompt_acts).max(), np.abs(direct.word_acts - sub.word_acts).max()))


# ----------------------------------------------------------------------------------------------
# pipeline runs


@dataclass
class PairCase:
    name: str
    group: str  # "unrelated, shared tokenizer" / "unrelated, different tokenizers" / "twin sigma=..."
    source: ActivationSet
    target: ActivationSet
    copies_key: str


def cell_rows(result, case: PairCase, n: int, k: int, baseline) -> tuple[list[dict], dict]:
    cells = result.cell_table()
    cross = result.arrays["cross_overlap"]
    copies = baseline.cross[:, :, baseline.ks.index(k)]
    obs_o, obs_s = diagonal_and_specificity(cross)
    cop_o, cop_s = diagonal_and_specificity(copies)
    n_copies = copies.shape[0]
    p_overlap = prediction_test(obs_o.ravel(), cop_o.reshape(n_copies, -1)).p_values
    p_spec = prediction_test(obs_s.ravel(), cop_s.reshape(n_copies, -1)).p_values
    rows = []
    for i, cell in cells.iterrows():
        rows.append({
            "group": case.group, "pair": case.name, "prompts": n, "k": k,
            "layer": int(cell["layer"]), "emotion": cell["emotion"],
            "overlap_after": float(cell["overlap_after"]), "specificity": float(cell["specificity"]),
            "baseline_overlap_mean": float(cell["baseline_overlap_mean"]),
            "p_pairing": float(cell["p_pairing"]), "p_baseline": float(cell["p_baseline"]),
            "p_baseline_overlap": float(p_overlap[i]), "p_baseline_specificity": float(p_spec[i]),
            "p_emotion": float(cell["p_emotion"]),
            "a": bool(cell["correspondence"]), "b": bool(cell["beyond_vocabulary"]),
            "c": bool(cell["emotion_not_any_group"]), "headline": cell["verdict"] == BEYOND_VOCABULARY,
        })
    s = result.summary
    pair = {
        "group": case.group, "pair": case.name, "prompts": n, "k": k,
        "mean_overlap": float(cells["overlap_after"].mean()), "mean_specificity": float(cells["specificity"].mean()),
        "copies_mean_overlap": float(s["baseline_overlap_mean"]), "copies_bound": float(s["baseline_overlap_bound"]),
        "copies_spec_bound": float(s["baseline_specificity_bound"]),
        "p_pairing": float(s["p_pairing"]), "p_baseline": float(s["p_baseline"]),
        "a": bool(s["correspondence"]), "b": bool(s["beyond_vocabulary"]),
        "headline": s["verdict"] == BEYOND_VOCABULARY,
    }
    return rows, pair


def run_pipeline(plan: Plan, work: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    models, cache = work / "models", work / "cache"
    info: dict = {}
    max_n = max(plan.prompts)
    full_ds = load_profile("baseline").limit_per_label(max_n)
    # -- models (built once, reused by later runs)
    log("building tiny random-weight models (skipped when present)")

    def build(family: str, kind: str, seed: int, width: int) -> Path:
        folder = models / f"{family}-{kind}-s{seed}-w{width}"
        if not (folder / "config.json").exists():
            build_tiny_model(family, folder, tokenizer=kind, seed=seed, hidden_size=width)
        return folder

    unrelated = []
    for i, (family, kind) in enumerate(plan.shared + plan.different):
        group = "unrelated, shared tokenizer" if i < len(plan.shared) else "unrelated, different tokenizers"
        unrelated.append((group, build("gpt2", "bpe", i, SOURCE_WIDTH), build(family, kind, 100 + i, TARGET_WIDTH),
                          f"gpt2-s{i} vs {family}({kind})-s{100 + i}", f"gpt2|{family}|{kind}"))
    twin_source_folder = build("gpt2", "bpe", 50, SOURCE_WIDTH)
    info["models"] = len(unrelated) * 2 + 1
    # -- activations of the observed models and of the copies (through the cache)
    log(f"extracting {info['models']} observed models at {max_n} prompts per label")
    t_extract = time.perf_counter()
    observed = {folder: extract(folder, full_ds, cache) for _, s, t, _, _ in unrelated for folder in (s, t)}
    observed[twin_source_folder] = extract(twin_source_folder, full_ds, cache)
    seeds = baseline_seed_pairs(plan.n_copies, 0)
    representative = {}  # architecture key -> (source folder, target folder)
    for _, s, t, _, key in unrelated:
        representative.setdefault(key, (s, t))
    copy_acts: dict[tuple[str, int], ActivationSet] = {}
    gpt2_folder = unrelated[0][1]
    jobs = [("gpt2", gpt2_folder, s) for s, _ in seeds] + [("gpt2", gpt2_folder, t) for _, t in seeds]
    targets_seen = set()
    for key, (_, t) in representative.items():
        arch = key.split("|", 1)[1]
        if arch not in targets_seen:
            targets_seen.add(arch)
            jobs += [(arch, t, ts) for _, ts in seeds]
    log(f"extracting {len(jobs)} random-weight copies ({plan.n_copies} copy pairs per architecture pair)")
    for j, (arch, folder, seed) in enumerate(jobs):
        copy_acts[(arch, seed)] = extract(folder, full_ds, cache, seed)
        if (j + 1) % 20 == 0:
            log(f"  copies extracted: {j + 1}/{len(jobs)}")
    info["copies_extracted"] = len(jobs)
    info["cached"] = EXTRACTED["miss"] == 0
    info["extract_s"] = time.perf_counter() - t_extract + (t_extract - T0)
    # -- subset check: the first n prompts of a 70-prompt extraction equal a direct n-prompt extraction
    if min(plan.prompts) < max_n:
        limited = load_profile("baseline").limit_per_label(min(plan.prompts))
        info["subset_max_abs_diff"] = check_subset(twin_source_folder, observed[twin_source_folder], limited, cache)
        log(f"subset check: max |direct - subset| = {info['subset_max_abs_diff']:.2e}")
    R = widening()
    pairs = [(layer, layer) for layer in LAYERS]
    cell_records, pair_records = [], []
    for n in plan.prompts:
        ds = load_profile("baseline").limit_per_label(n)
        sub = {key: first_per_label(acts, ds) for key, acts in observed.items()}
        sub_copies = {key: first_per_label(acts, ds) for key, acts in copy_acts.items()}
        cases = [PairCase(name, group, sub[s], sub[t], key) for group, s, t, name, key in unrelated]
        copy_sets: dict[str, list[tuple[ActivationSet, ActivationSet]]] = {}
        for key in representative:
            arch = key.split("|", 1)[1]
            copy_sets[key] = [(sub_copies[("gpt2", s)], sub_copies[(arch, t)]) for s, t in seeds]
        for j, sigma in enumerate(plan.sigmas):
            key = f"twin sigma={sigma:g}"
            twin = noisy_twin(sub[twin_source_folder], R, sigma, seed=1000 * n + j, name=f"gpt2-s50-twin-sigma{sigma:g}")
            cases.append(PairCase(f"gpt2-s50 vs R*gpt2-s50 + {sigma:g}*rms*noise", key, sub[twin_source_folder], twin, key))
            copy_sets[key] = [
                (sub_copies[("gpt2", s)],
                 noisy_twin(sub_copies[("gpt2", t)], R, sigma, seed=10**6 + 1000 * n + 100 * j + c, name="gpt2-copy-twin"))
                for c, (s, t) in enumerate(seeds)
            ]
        baselines: dict[tuple[str, tuple[int, ...]], object] = {}
        for k in plan.ks:
            if k > n - 1:
                log(f"skip k={k} at {n} prompts per label (k must be <= prompts - 1)")
                continue
            config = AlignConfig(
                n_components=k, n_permutations=plan.n_permutations, n_bootstrap=plan.n_bootstrap_pipeline,
                n_pairing_permutations=plan.n_pairing, baseline_seeds=plan.n_copies, seed=0,
            )
            t_k = time.perf_counter()
            for case in cases:
                aligned = align_activation_sets(case.source, case.target, pairs, config)
                ks = aligned[0].profile_ks
                if (case.copies_key, ks) not in baselines:
                    # the copies' cross overlaps at every k of the profile: computed once, reused across k
                    baselines[(case.copies_key, ks)] = baseline_cross_overlaps(copy_sets[case.copies_key], pairs, config, ks)
                baseline = baselines[(case.copies_key, ks)]
                result = build_alignment_result(case.source, case.target, aligned, config, baseline=baseline)
                rows, pair = cell_rows(result, case, n, k, baseline)
                cell_records += rows
                pair_records.append(pair)
            log(f"{n} prompts/label, k={k}: {len(cases)} pairs aligned in {time.perf_counter() - t_k:.0f} s")
    return pd.DataFrame(cell_records), pd.DataFrame(pair_records), info


# ----------------------------------------------------------------------------------------------
# interval coverage (statistics level)


@dataclass(frozen=True)
class Population:
    name: str
    eigenvalues: tuple[float, ...]  # source variances of the k signal axes (others 1)
    degrees: tuple[float, ...]  # rotation of signal axis i into axis i + k, in the target
    sigma: float = 0.5
    d: int = 16
    k: int = 2

    def build(self, seed: int = 123):
        """(cholesky of source covariance, A, map M, population overlap) -- source ~ N(0, Sigma),
        target = source @ A + sigma * noise with A = Q @ M^-1, map W = M; population overlap from
        the top-k eigenvectors of Sigma and of Sigma_t = A' Sigma A + sigma^2 I (mapped by M)."""
        d, k = self.d, self.k
        Sig = np.eye(d)
        for i, value in enumerate(self.eigenvalues):
            Sig[i, i] = value
        Q = np.eye(d)
        for i, deg in enumerate(self.degrees):
            t = np.deg2rad(deg)
            Rot = np.eye(d)
            j = i + k
            Rot[[i, i, j, j], [i, j, i, j]] = [np.cos(t), np.sin(t), -np.sin(t), np.cos(t)]
            Q = Q @ Rot
        M = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0] * np.linspace(1, 2, d)
        A = Q @ np.linalg.inv(M)
        Sig_t = A.T @ Sig @ A + self.sigma**2 * np.eye(d)

        def top(C):
            return np.linalg.eigh(C)[1][:, ::-1][:, :k].T

        return np.linalg.cholesky(Sig), A, M, subspace_overlap(top(Sig), top(Sig_t) @ M)


POPULATIONS = (
    Population("strong gap, overlap ~0.5", (30.0, 20.0), (40.0, 50.0)),
    Population("weak gap, overlap ~0.5", (4.0, 3.0), (40.0, 50.0)),
    Population("strong gap, overlap ~0.9", (30.0, 20.0), (15.0, 20.0)),
)


def coverage(plan: Plan) -> pd.DataFrame:
    rows = []
    for pop in POPULATIONS:
        L, A, M, population = pop.build()
        for n in (20, 70):
            t = time.perf_counter()
            rng = np.random.default_rng(7 + n)
            obs, bca, pct = [], [], []
            for rep in range(plan.coverage_reps):
                x = rng.standard_normal((n, pop.d)) @ L.T
                y = x @ A + pop.sigma * rng.standard_normal((n, pop.d))
                res = bootstrap_overlap_ci({"e": x}, {"e": y}, M, pop.k, n_bootstrap=plan.coverage_bootstrap,
                                           seed=rep, method="bca")
                obs.append(res.observed[0])
                bca.append((res.ci_low[0], res.ci_high[0]))
                pct.append(tuple(np.nanquantile(res.bootstrap[:, 0], [0.025, 0.975])))
            obs_a, bca_a, pct_a = np.array(obs), np.array(bca), np.array(pct)
            expected = float(obs_a.mean())
            for method, ci in (("BCa", bca_a), ("percentile", pct_a)):
                rows.append({
                    "population": pop.name, "prompts": n, "method": method, "reps": plan.coverage_reps,
                    "population_overlap": population, "expected_overlap_n": expected,
                    "sd_overlap_n": float(obs_a.std(ddof=1)),
                    "cover_population": float(np.mean((ci[:, 0] <= population) & (population <= ci[:, 1]))),
                    "above_population": float(np.mean(ci[:, 0] > population)),
                    "below_population": float(np.mean(ci[:, 1] < population)),
                    "cover_expected": float(np.mean((ci[:, 0] <= expected) & (expected <= ci[:, 1]))),
                    "mean_width": float(np.mean(ci[:, 1] - ci[:, 0])),
                })
            log(f"coverage: {pop.name}, n={n}: population {population:.3f}, E[overlap_n] {expected:.3f} "
                f"({plan.coverage_reps} reps, {time.perf_counter() - t:.0f} s)")
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# report


def share(values) -> str:
    values = np.asarray(values, dtype=bool)
    return f"{values.sum()}/{values.size} ({100 * values.mean():.1f} %)" if values.size else "-"


GROUP_ORDER = ["unrelated, shared tokenizer", "unrelated, different tokenizers"]


def verdict_table(cells: pd.DataFrame, pairs: pd.DataFrame) -> str:
    groups = GROUP_ORDER + sorted(g for g in cells["group"].unique() if g not in GROUP_ORDER)
    lines = [
        "| pairs | prompts/label | k | mean overlap (copies) | cells (a) correspondence | cells (b) beyond vocabulary "
        "| cells (c) emotion vs any group | cells headline (a)+(b) | pairs (a) | pairs (b) | pairs headline |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for group in groups:
        for (n, k), c in cells[cells["group"] == group].groupby(["prompts", "k"], sort=True):
            p = pairs[(pairs["group"] == group) & (pairs["prompts"] == n) & (pairs["k"] == k)]
            lines.append(
                f"| {group} ({p.shape[0]}) | {n} | {k} | {c['overlap_after'].mean():.3f} ({c['baseline_overlap_mean'].mean():.3f}) "
                f"| {share(c['a'])} | {share(c['b'])} | {share(c['c'])} | {share(c['headline'])} "
                f"| {share(p['a'])} | {share(p['b'])} | {share(p['headline'])} |"
            )
    return "\n".join(lines)


def uniformity_table(cells: pd.DataFrame, pairs: pd.DataFrame) -> str:
    null = cells[cells["group"].str.startswith("unrelated")]
    null_pairs = pairs[pairs["group"].str.startswith("unrelated")]
    lines = [
        "| prompts/label | k | cells | KS p: p_baseline | share p_baseline < .05 | KS p: overlap part | KS p: specificity part "
        "| share spec. part < .05 | pairs: KS p of pair p_baseline | pairs p_baseline < .05 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (n, k), c in null.groupby(["prompts", "k"], sort=True):
        p = null_pairs[(null_pairs["prompts"] == n) & (null_pairs["k"] == k)]
        ks = lambda v: stats.kstest(np.asarray(v, dtype=float), "uniform").pvalue  # noqa: E731
        lines.append(
            f"| {n} | {k} | {len(c)} | {ks(c['p_baseline']):.3g} | {share(c['p_baseline'] < 0.05)} "
            f"| {ks(c['p_baseline_overlap']):.3g} | {ks(c['p_baseline_specificity']):.3g} "
            f"| {share(c['p_baseline_specificity'] < 0.05)} | {ks(p['p_baseline']):.3g} | {share(p['p_baseline'] < 0.05)} |"
        )
    return "\n".join(lines)


def coverage_table(cov: pd.DataFrame) -> str:
    lines = [
        "| population | prompts | population overlap | E[overlap_n] (sd) | interval | covers population "
        "| entirely above / below it | covers E[overlap_n] | mean width |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in cov.iterrows():
        lines.append(
            f"| {r['population']} | {r['prompts']} | {r['population_overlap']:.3f} | {r['expected_overlap_n']:.3f} "
            f"({r['sd_overlap_n']:.3f}) | {r['method']} | {100 * r['cover_population']:.1f} % "
            f"| {100 * r['above_population']:.1f} % / {100 * r['below_population']:.1f} % "
            f"| {100 * r['cover_expected']:.1f} % | {r['mean_width']:.3f} |"
        )
    return "\n".join(lines)


def floors(cells: pd.DataFrame, pairs: pd.DataFrame, cov: pd.DataFrame) -> list[str]:
    out = []
    null = cells[cells["group"].str.startswith("unrelated")]
    null_pairs = pairs[pairs["group"].str.startswith("unrelated")]
    worst = null.groupby(["prompts", "k"])["b"].mean()
    ok = bool((worst <= 0.05).all())
    out.append(f"- Unrelated pairs, cells beyond vocabulary <= 5 % at every k and prompt count: "
               f"{'MET' if ok else 'NOT MET'} (worst {100 * worst.max():.1f} % at {int(worst.idxmax()[0])} prompts, "
               f"k={int(worst.idxmax()[1])}).")
    n_pairs_b = null_pairs.groupby(["prompts", "k"])["b"].sum()
    ok = bool((n_pairs_b == 0).all())
    out.append(f"- Unrelated pairs, 0 pairs beyond vocabulary at every k and prompt count: {'MET' if ok else 'NOT MET'} "
               f"({int(n_pairs_b.sum())} of {len(null_pairs)} pair tests; per configuration: "
               + ", ".join(f"{int(n)} prompts k={int(k)}: {int(v)}" for (n, k), v in n_pairs_b.items()) + ").")
    exact = cells[cells["group"] == "twin sigma=0"]
    if len(exact):
        rate = exact.groupby(["prompts", "k"])["headline"].mean()
        out.append(f"- Exact twin, 100 % of cells (headline (a)+(b)): {'MET' if (rate == 1).all() else 'NOT MET'} "
                   f"(lowest {100 * rate.min():.1f} %).")
    one = cells[(cells["group"] == "twin sigma=1") & (cells["prompts"] == 70)]
    if len(one):
        rate = one.groupby("k")["headline"].mean()
        out.append(f"- Noisy twin sigma=1, >= 90 % of cells at 70 prompts per label (headline): "
                   f"{'MET' if (rate >= 0.9).all() else 'NOT MET'} ("
                   + ", ".join(f"k={k}: {100 * v:.1f} %" for k, v in rate.items()) + ").")
    bca = cov[cov["method"] == "BCa"]
    pop_ok = bca["cover_population"].between(0.90, 0.98)
    exp_ok = bca["cover_expected"].between(0.90, 0.98)
    out.append(f"- BCa coverage of the population overlap within 90-98 %: {int(pop_ok.sum())} of {len(bca)} settings "
               f"(range {100 * bca['cover_population'].min():.1f}-{100 * bca['cover_population'].max():.1f} %); "
               f"of E[overlap_n]: {int(exp_ok.sum())} of {len(bca)} "
               f"(range {100 * bca['cover_expected'].min():.1f}-{100 * bca['cover_expected'].max():.1f} %).")
    return out


SECTION_START = "<!-- validity.py: start -->"
SECTION_END = "<!-- validity.py: end -->"


def write_section(path: Path, text: str) -> None:
    block = f"{SECTION_START}\n{text.rstrip()}\n{SECTION_END}\n"
    if path.exists():
        old = path.read_text()
        if SECTION_START in old and SECTION_END in old:
            head, rest = old.split(SECTION_START, 1)
            tail = rest.split(SECTION_END, 1)[1].lstrip("\n")
            new = head + block + ("\n" + tail if tail else "")
        else:
            new = old.rstrip() + "\n\n" + block
    else:
        new = "# Benchmark results\n\n" + block
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new)
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subset (~2 min)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "results" / "validity")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md also after --quick")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    # At 20 prompts and k=16 the pipeline's 2 bootstrap resamples are skipped (fewer than k + 1 distinct
    # prompts) and split halves are too small for k: NaN CI/reliability columns, which no verdict reads.
    warnings.filterwarnings("ignore", message="(Mean of empty slice|All-NaN slice encountered)", category=RuntimeWarning)
    plan = QUICK if args.quick else FULL
    command = ".venv/bin/python benchmarks/validity.py" + (" --quick" if args.quick else "")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    cells, pairs, info = run_pipeline(plan, args.work_dir)
    t_pipeline = time.perf_counter() - T0
    log("interval coverage simulation")
    cov = coverage(plan)
    total = time.perf_counter() - T0
    suffix = "-quick" if args.quick else ""
    for name, frame in (("cells", cells), ("pairs", pairs), ("coverage", cov)):
        frame.to_csv(args.work_dir / f"{name}{suffix}.csv", index=False)
    skipped = [f"k={k} at {n}" for n in plan.prompts for k in plan.ks if k > n - 1]
    text = "\n".join([
        "## Validity of the verdict (`benchmarks/validity.py`)",
        "",
        "```bash",
        command,
        "```",
        "",
        f"Date {time.strftime('%Y-%m-%d')}; total runtime {total / 60:.1f} min on this machine "
        f"(pipeline part {t_pipeline / 60:.1f} min; 2 cores, shared). Model building and extraction (activation cache) took "
        f"{info['extract_s'] / 60:.1f} min of it ({'all from the cache' if info['cached'] else 'extracted'}). "
        f"Raw tables: `{args.work_dir}/{{cells,pairs,coverage}}{suffix}.csv`.",
        "",
        "**Set-up.** Tiny random-weight models (4 blocks; source gpt2 width 64, targets width 96), built-in "
        "`baseline` prompts, all 4 layers (index match) x 3 emotions = 12 cells per pair; ridge map on neutral words. "
        f"Unrelated pairs: {len(plan.shared)} with a shared byte-level BPE tokenizer (gpt2 vs llama/qwen2), "
        f"{len(plan.different)} with different tokenizers (gpt2 BPE vs gemma2 SentencePiece / bert WordPiece); every "
        "model seeded independently (seeds < 200), each pair judged against "
        f"{plan.n_copies} random-weight copy pairs of its architectures (seeds 10000+, `baseline_seed_pairs`; pairs with "
        "the same architectures meet the same copies, as under `emoalign run`). Noisy twins: target = R.source + "
        "sigma.rms.noise at the ActivationSet level (R a fixed random 64->96 isometry), copies = (random gpt2 copy, "
        "same construction on an independent random gpt2 copy). Statistics: "
        f"{plan.n_permutations} label/joint permutations, {plan.n_pairing} pairing shuffles, {plan.n_copies} copy pairs, "
        "alpha 0.05, BH across the 12 cells of a pair (the defaults). **Not default:** the pipeline's own bootstrap "
        f"was cut to {plan.n_bootstrap_pipeline} resamples (no verdict step reads it; it is over half the runtime); "
        f"intervals are measured separately below with {plan.coverage_bootstrap} resamples. The copies are extracted "
        "once (activation cache) and their cross overlaps computed once per architecture pair and prompt count at every "
        "k of the profile (what `align_study` computes for each k, reused). "
        + (f"20-prompt sets are the first 20 prompts per label of the 70-prompt extraction (max |difference| to a direct "
         f"20-prompt extraction: {info['subset_max_abs_diff']:.1e})." if "subset_max_abs_diff" in info else "")
        + (f" Skipped: {', '.join(skipped)} (k must be <= prompts - 1)." if skipped else
           " Every k fits at both prompt counts (k <= prompts - 1)."),
        "",
        "### Floors",
        "",
        *floors(cells, pairs, cov),
        "",
        "### Verdict rates per configuration",
        "",
        "Cells: 12 per pair (BH within the pair). Pairs: the pair-level tests (pairing null and copies' bound on the "
        "mean over cells). (b) alone is the test the floors are about; headline = (a)+(b). The mean overlap column "
        "gives the pair's mean after-map overlap and, in brackets, the copies' mean.",
        "",
        verdict_table(cells, pairs),
        "",
        "### p_baseline under the true null (unrelated pairs, cell level)",
        "",
        "p_baseline = max(p of overlap, p of specificity) (intersection-union test), so it is conservative by "
        "construction: under the null it is stochastically larger than uniform, and a KS test against U(0,1) can "
        "reject for that reason alone. Its two parts are shown separately. The KS test assumes independent p-values; "
        "the 12 cells of a pair, and pairs that meet the same copies, are not independent, so read KS p as descriptive.",
        "",
        uniformity_table(cells, pairs),
        "",
        "### Interval coverage (statistics level, known population overlap)",
        "",
        "Source ~ N(0, Sigma) in d = 16, target = source.A + 0.5 noise, map known, k = 2; population overlap from the "
        "population covariances' top-k eigenvectors; E[overlap_n] = mean sample overlap over the replicates "
        f"({plan.coverage_reps} replicates per row, {plan.coverage_bootstrap} bootstrap resamples each, nominal 95 %; "
        f"Monte Carlo s.e. of a 95 % coverage = {100 * np.sqrt(0.95 * 0.05 / plan.coverage_reps):.1f} points).",
        "",
        coverage_table(cov),
    ])
    print("\n" + text)
    if (not args.quick or args.write) and not args.no_write:
        write_section(args.results, text)
        log(f"wrote {args.results}")
    log(f"total {total / 60:.1f} min")


if __name__ == "__main__":
    main()
