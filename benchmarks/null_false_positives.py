"""How often does the instrument call unrelated models "emotion-specific"?

Pairs of INDEPENDENTLY initialised tiny random-weight models (several seeds, two target families)
go through the full default pipeline (70 prompts per label, k=8, 200 label permutations, 1000
bootstraps), each next to its untrained control. Prints the fraction of cells declared
emotion-specific (BH q < 0.05 and specificity > 0) per pair; DESIGN §4 expects about alpha or less.

    python benchmarks/null_false_positives.py [--seeds 3] [--families llama qwen2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from tiny_models import build_tiny_model  # noqa: E402

import emoalign  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--families", nargs="+", default=["llama", "qwen2"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="emoalign-null-"))
    rows = []
    for seed in range(args.seeds):
        source = build_tiny_model("gpt2", work / f"gpt2-s{seed}", seed=100 + seed)
        for family in args.families:
            target = build_tiny_model(family, work / f"{family}-s{seed}", seed=200 + seed, hidden_size=96)
            for control in (False, True):
                start = time.perf_counter()
                result = emoalign.run(str(source), str(target), device="cpu", results_dir=work / "results",
                                      write=False, seed=seed, untrained_target=control)
                cells = result.cell_table()
                rows.append((seed, family, control, (cells["verdict"] == "emotion-specific").mean(),
                             cells["overlap_after"].mean(), cells["null_p95"].mean(), (cells["p_label"] < 0.05).mean(),
                             result.summary["p_identity"], time.perf_counter() - start))
    print(f"{'seed':>4} {'target':<8} {'control':<9} {'specific':>8} {'after':>6} {'null95':>6} {'p<.05':>6} "
          f"{'p_ident':>7} {'s':>5}")
    for seed, family, control, specific, after, null95, raw, p_identity, seconds in rows:
        print(f"{seed:>4} {family:<8} {'untrained' if control else 'trained':<9} {specific:>8.1%} {after:>6.3f} "
              f"{null95:>6.3f} {raw:>6.1%} {p_identity:>7.3f} {seconds:>5.1f}")
    for control in (False, True):
        share = [r[3] for r in rows if r[2] == control]
        raw = [r[6] for r in rows if r[2] == control]
        print(f"{'untrained controls' if control else 'independent models'}: {sum(share) / len(share):.1%} of cells "
              f"emotion-specific, {sum(raw) / len(raw):.1%} with raw p < 0.05 (12 cells x {len(share)} pairs)")


if __name__ == "__main__":
    main()
