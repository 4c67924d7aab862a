"""Each benchmark owns one marked section of benchmarks/RESULTS.md and rewrites only that one."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(name: str, body: str, results: Path = RESULTS) -> None:
    """Replace the section between ``<!-- name: start -->`` and ``<!-- name: end -->`` with ``body``
    (appended at the end when absent); every other section stays as it is."""
    start, end = f"<!-- {name}: start -->", f"<!-- {name}: end -->"
    current = results.read_text() if results.exists() else "# Benchmark results\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in current and end in current:
        head, rest = current.split(start, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        new = current.rstrip("\n") + "\n\n" + block + "\n"
    results.write_text(new)
