"""What the causal test costs: seconds per layer pair and per condition row, read from steering
artifacts that `emoalign steer`, `emoalign run` or the demo wrote (each records its own time).

A condition row is one vector added at one layer pair and one forward pass of the target over the
held-out prompts (the unsteered pass included); its count comes from the run's own settings
(:func:`emoalign.study.steer.condition_rows`). The forward passes are the target's, so the cost
scales with the target's size, the prompts and the rows, not with the source.

    .venv/bin/python benchmarks/steering_cost.py results/demo/steering/*.safetensors
    .venv/bin/python benchmarks/steering_cost.py --write results/demo/steering/*.safetensors   # into RESULTS.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import pandas as pd  # noqa: E402
import validity  # noqa: E402
from steering_validity import markdown  # noqa: E402

from emoalign.core.steering import SteeringResult  # noqa: E402
from emoalign.study.steer import SteerSettings, condition_rows  # noqa: E402

SECTION_START = "<!-- steering-cost:start -->"
SECTION_END = "<!-- steering-cost:end -->"


def cost_row(path: Path) -> dict:
    """The cost figures of one steering artifact."""
    result = SteeringResult.load(path)
    cfg = result.config
    settings = SteerSettings(scales=tuple(cfg["scales"]), test_scale=cfg["test_scale"], n_prompts=cfg["n_prompts"],
                             n_random=cfg["n_random"], n_shuffles=cfg["n_shuffles"])
    rows = condition_rows(settings, n_emotions=len(result.emotions))
    n_pairs = len(result.layers)
    per_pair = result.seconds / n_pairs
    return {
        "direction": cfg["direction"], "target d": result.target.get("d_model"),
        "target blocks": result.target.get("n_layers"), "layer pairs": n_pairs, "prompts": cfg["n_prompts"],
        "rows per layer pair": rows, "s total": round(result.seconds, 1), "s per layer pair": round(per_pair, 1),
        "ms per row": round(per_pair / rows * 1000, 1),
        "ms per row and prompt": round(per_pair / rows / cfg["n_prompts"] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", nargs="+", type=Path, help="steering artifacts (*_steering.safetensors)")
    parser.add_argument("--note", default="", help="a sentence on the machine and its load, printed under the table")
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/RESULTS.md")
    args = parser.parse_args()
    table = pd.DataFrame([cost_row(path) for path in args.artifacts])
    text = "\n".join([
        "## Causal test: cost per layer pair and condition (real models)",
        "",
        "`.venv/bin/python benchmarks/steering_cost.py <artifacts>`: the time each steering run recorded (model "
        "load excluded; the map fits, the residual norms, every forward pass and the statistics included), "
        "divided by its layer pairs and its condition rows (vectors × scales + the unsteered pass, each a forward "
        "pass over the held-out prompts).",
        "",
        markdown(table),
        "",
        args.note,
    ])
    print(text)
    if args.write:
        validity.SECTION_START, validity.SECTION_END = SECTION_START, SECTION_END
        validity.write_section(ROOT / "benchmarks" / "RESULTS.md", text)


if __name__ == "__main__":
    main()
