"""Same numbers before and after a change: sha256 of every array and CSV a fixed tiny study writes.

    python benchmarks/same_numbers.py                # run the fixed tiny study, print its table
    python benchmarks/same_numbers.py --hash DIR     # the table of a results folder (e.g. the demo's)
    python benchmarks/same_numbers.py --json OUT     # also write the table as JSON (to diff two runs)

The study: two tiny random-weight models (GPT-2 and Llama families, built locally as in the tests),
`emoalign run` on two layers with the untrained control, then `emoalign align -k 4 8` (a k-sweep) from
the cache. It runs through the
command line, the interface that stays fixed across refactors, with the `emoalign` found on
PYTHONPATH, so the same script measures any checkout. Arrays are hashed tensor by tensor (the
JSON metadata holds times and versions, which differ by design); CSVs file by file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def array_digests(path: Path) -> dict[str, str]:
    """``{tensor name: sha256 of dtype, shape and bytes}`` of a safetensors file."""
    from safetensors.numpy import load_file

    digests = {}
    for name, array in sorted(load_file(str(path)).items()):
        digest = hashlib.sha256(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
        digests[name] = digest.hexdigest()
    return digests


def table(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every array file (all its tensors together) and CSV under ``root``
    (the activation cache is left out: it is an input, not a result)."""
    out = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if "cache/" in relative or not path.is_file():
            continue
        if path.suffix == ".safetensors":
            out[relative] = hashlib.sha256(json.dumps(array_digests(path), sort_keys=True).encode()).hexdigest()
        elif path.suffix == ".csv":
            out[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def run_tiny_study(work: Path) -> Path:
    """The fixed tiny study under ``work``; returns its results folder."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from tiny_models import build_tiny_model

    source = build_tiny_model("gpt2", work / "tiny-gpt2", seed=0)
    target = build_tiny_model("llama", work / "tiny-llama", seed=1)
    results = work / "results"
    common = ["--source", str(source), "--target", str(target), "--layers", "0", "1",
              "--max-samples-per-emotion", "12", "--permutations", "40", "--bootstrap", "50",
              "--pairing-permutations", "20", "--baseline-seeds", "3", "--results-dir", str(results),
              "--report-dir", str(work / "report"), "--quiet", "--log-level", "error"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for command in (["run", *common, "--control", "untrained"], ["align", *common, "-k", "4", "8"]):
        subprocess.run([sys.executable, "-m", "emoalign", *command], check=True, env=env)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hash", type=Path, metavar="DIR", help="hash this results folder instead of running")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the table as JSON")
    args = parser.parse_args()
    # one fixed folder: model ids are paths, and they are part of what is written
    work = Path(tempfile.gettempdir()) / "emoalign-same-numbers"
    shutil.rmtree(work, ignore_errors=True)
    try:
        digests = table(args.hash or run_tiny_study(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for relative, digest in digests.items():
        print(f"{digest[:16]}  {relative}")
    if args.json:
        args.json.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
