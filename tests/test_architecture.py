"""The package's layering, read off the source (AST), not off what happens to be imported at run time:

(a) no import cycle anywhere in src/emoalign, counting every import: module level, inside functions
    and under ``if TYPE_CHECKING:`` (a cycle hidden in a function is still a cycle: the two modules
    cannot be understood, tested or split apart alone);
(b) analysis/ is pure numpy/scipy/pandas: no torch, transformers or tqdm, and none of the layers above
    it (execution, study, extract, models, io, report, cli);
(c) ``emoalign.analyze`` on plain arrays loads neither torch nor transformers;
(d) no module imports another module's underscore-private name.

Graph rules for (a): ``import a.b.c`` is an edge to ``a.b.c``; ``from a.b import c`` is an edge to the
submodule ``a.b.c`` when there is one, else to ``a.b`` (the module, or package ``__init__``, that
defines ``c``); a package ``__init__`` importing its submodules gives edges like any module;
``importlib.import_module("literal")`` counts as an import. The implicit import of a module's parent
packages is not an edge (every submodule of a package whose ``__init__`` imports it would otherwise
be a "cycle" by construction). Imports by computed name (``emoalign.__getattr__`` looks its modules
up in a table) are not visible and not counted.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"
SRC = ROOT / "emoalign"

ANALYSIS_FORBIDDEN = (
    "torch",
    "transformers",
    "tqdm",
    "emoalign.execution",
    "emoalign.study",
    "emoalign.extract",
    "emoalign.models",
    "emoalign.io",
    "emoalign.report",
    "emoalign.cli",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules(src: Path = SRC) -> dict[str, Path]:
    return {module_name(path): path for path in sorted(src.rglob("*.py"))}


def import_statements(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import statement anywhere in ``path`` (functions,
    ``TYPE_CHECKING`` blocks and try/except included; relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, module]) if module else ".".join(base)
            out.append((module, [alias.name for alias in node.names], node.lineno))
        elif (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            out.append((node.args[0].value, [], node.lineno))  # an import by a literal name
    return out


def import_graph(modules: dict[str, Path]) -> dict[str, dict[str, int]]:
    """module -> {imported module of the package: line of the first such import} (see the module docstring)."""
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, path in modules.items():
        for module, names, line in import_statements(path):
            targets = [f"{module}.{n}" if f"{module}.{n}" in modules else module for n in names] or [module]
            for target in targets:
                if target in modules and target != name:
                    graph[name].setdefault(target, line)
    return graph


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One shortest cycle (``[a, b, ..., a]``) per strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan, iteratively (no recursion limit to hit)
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.add(w)
                    if w == node:
                        break
                if len(component) > 1:
                    components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    cycles = []
    for component in components:
        best: list[str] | None = None
        for start in sorted(component):
            previous: dict[str, str | None] = {start: None}
            queue, last = deque([start]), None
            while queue and last is None:
                v = queue.popleft()
                for w in sorted(graph[v]):
                    if w == start:
                        last = v
                        break
                    if w in component and w not in previous:
                        previous[w] = v
                        queue.append(w)
            if last is not None:
                path = [last]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])  # type: ignore[arg-type]
                path = [*reversed(path), start]
                if best is None or len(path) < len(best):
                    best = path
        cycles.append(best)  # type: ignore[arg-type]
    return cycles


def describe_cycle(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return " -> ".join(
        f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])
    ) + f" -> {cycle[-1]}"


def cycle_report(src: Path = SRC) -> list[str]:
    graph = import_graph(all_modules(src))
    return [describe_cycle(cycle, graph) for cycle in find_cycles(graph)]


def analysis_offenders(src: Path = SRC) -> list[str]:
    offenders = []
    for path in sorted((src / "analysis").rglob("*.py")):
        for module, names, line in import_statements(path):
            imported = [module] + [f"{module}.{n}" for n in names]
            for forbidden in ANALYSIS_FORBIDDEN:
                if any(m == forbidden or m.startswith(forbidden + ".") for m in imported):
                    offenders.append(f"{path.relative_to(src.parent)}:{line} imports {forbidden}")
    return offenders


def analysis_global_caches(src: Path = SRC) -> list[str]:
    """Module-level cache objects in analysis/ (``X = SomethingCache(...)``, ``@lru_cache``/``@cache``
    functions): caches belong to the caller (analysis.cache.StatsCaches, owned by study.parallel)."""
    offenders = []
    for path in sorted((src / "analysis").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if isinstance(value, ast.Call) and "cache" in ast.unparse(value.func).lower():
                offenders.append(f"{path.relative_to(src.parent)}:{node.lineno} {ast.unparse(node)[:80]}")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in node.decorator_list:
                    if "cache" in ast.unparse(decorator).lower():
                        offenders.append(f"{path.relative_to(src.parent)}:{node.lineno} @{ast.unparse(decorator)}")
    return offenders


def private_imports(src: Path = SRC) -> list[str]:
    """Every import of another module's underscore-private name, or of a private module
    (dunder names such as ``__version__`` are public)."""
    modules = all_modules(src)

    def private(name: str) -> bool:
        return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))

    offenders = []
    for name, path in modules.items():
        for module, names, line in import_statements(path):
            if not module.startswith("emoalign"):
                continue
            where = f"{path.relative_to(src.parent)}:{line}"
            if any(private(part) for part in module.split(".")):
                offenders.append(f"{where} imports the private module {module}")
            offenders += [f"{where} imports {module}.{n}" for n in names if private(n) and module != name]
    return offenders


# ----------------------------------------------------------------------------------------------


def test_no_import_cycles():
    cycles = cycle_report()
    assert cycles == [], "import cycles (every import counted, functions and TYPE_CHECKING too):\n" + "\n".join(cycles)


def test_analysis_is_pure_numerics():
    offenders = analysis_offenders()
    assert offenders == [], "\n".join(offenders)


def test_analysis_holds_no_process_global_cache():
    offenders = analysis_global_caches()
    assert offenders == [], "\n".join(offenders)


def test_no_private_names_cross_modules():
    offenders = private_imports()
    assert offenders == [], "\n".join(offenders)


ANALYZE_ON_ARRAYS = textwrap.dedent(
    """
    import sys
    import numpy as np
    import emoalign

    rng = np.random.default_rng(0)
    labels = [e for e in ("anger", "joy", "sadness") for _ in range(8)]
    latent = rng.standard_normal((2, len(labels) + 6, 5))
    words = rng.standard_normal((2, 20, 5))

    def model(name, d, seed):
        A = np.random.default_rng(seed).standard_normal((5, d))
        acts = latent @ A
        return emoalign.ModelActivations(
            emotion={layer: acts[layer, : len(labels)] for layer in range(2)},
            labels=labels,
            reference=acts[:, len(labels) :],
            paired=words @ A,
            layers=[0, 1],
            name=name,
            n_layers=2,
        )

    result = emoalign.analyze(model("src", 12, 1), model("tgt", 16, 2), n_components=2, n_permutations=0)
    assert len(result.layer_table()) == 2
    loaded = sorted(m for m in ("torch", "transformers") if m in sys.modules)
    print("LOADED", loaded)
    """
)


def test_analyze_on_arrays_loads_neither_torch_nor_transformers():
    run = subprocess.run([sys.executable, "-c", ANALYZE_ON_ARRAYS], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "LOADED []" in run.stdout, run.stdout[-2000:]


# ----------------------------------------------------------------------------------------------
# the checks above can fail: each one on a small package built to break it


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = tmp_path / "emoalign" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path / "emoalign"


def test_the_checks_catch_what_they_are_for(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    src = _package(
        tmp_path,
        {
            "__init__.py": "",
            "models/__init__.py": "from emoalign.models import loading\n",
            "models/loading.py": "def f():\n    from emoalign.models.gguf import g\n",
            "models/gguf.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import loading\n",
            "analysis/__init__.py": "",
            "analysis/pure.py": "import numpy as np\nfrom emoalign.analysis.stats._common import _span\n",
            "analysis/stats/__init__.py": "",
            "analysis/stats/_common.py": "from functools import lru_cache\nSOURCE_CACHE = ResampleCache(1)\n"
            "@lru_cache\ndef _span():\n    pass\n",
            "analysis/alignment.py": "def run():\n    from tqdm.auto import tqdm\n    from emoalign import study\n",
            "study/__init__.py": "",
        },
    )
    cycles = cycle_report(src)
    assert cycles == [
        "emoalign.models.gguf (line 3) -> emoalign.models.loading (line 2) -> emoalign.models.gguf"
    ]
    offenders = analysis_offenders(src)
    assert any("alignment.py:2 imports tqdm" in o for o in offenders)
    assert any("alignment.py:3 imports emoalign.study" in o for o in offenders)
    assert not any("pure.py" in o for o in offenders)
    caches = analysis_global_caches(src)
    assert any("_common.py:2 SOURCE_CACHE = ResampleCache(1)" in o for o in caches)
    assert any("_common.py:4 @lru_cache" in o for o in caches)
    private = private_imports(src)
    assert any("pure.py:2 imports the private module emoalign.analysis.stats._common" in o for o in private)
    assert any("pure.py:2 imports emoalign.analysis.stats._common._span" in o for o in private)
