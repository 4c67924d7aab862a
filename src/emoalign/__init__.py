"""emoalign: do two language models hold the same emotion subspaces in different coordinates?

Python API::

    import emoalign
    result = emoalign.run("gpt2", "llama3_8b", layers=range(12), n_components=8)
    config = emoalign.StudyConfig(source="gpt2", target="qwen3_8b", layers=range(12))
    emoalign.run(config=config, workers=0)     # a config plus overrides (any StudyConfig/Runtime field)
    emoalign.run(config="results/baseline/configs/gpt2_vs_llama3_8b_run.toml")   # a written config
    result.layer_table()          # pandas DataFrame, one row per layer pair (columns="short": the few to read)
    result                        # in a notebook: the verdict table; repr(): a few lines
    result.verdict, result.headline
    result.plot()                 # matplotlib Figure: overlap per layer, the copies' bound, the lexical floor
    result.report("pair.md", lang="ja")   # the per-pair Markdown report
    result.save("results/")       # alignment artifact (safetensors + JSON metadata)
    emoalign.load(path)           # reload any artifact
    emoalign.run(model, "llama3_8b")                     # a transformers model you already loaded
    emoalign.analyze(emoalign.ModelActivations(...), ...)  # activations you already hold
    emoalign.sweep("gpt2", ["llama3_8b", "qwen3_8b"])     # one source, several targets + comparison
    emoalign.steer("qwen2.5-coder-1.5b", "gemma3-270m")  # the causal test: the source's vectors steer the target
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it (imported on first use: `import emoalign` stays light).
_API: dict[str, str] = {
    "run": "emoalign.study.api",
    "sweep": "emoalign.study.api",
    "steer": "emoalign.study.api",
    "SteeringResult": "emoalign.core.steering",
    "StudyConfig": "emoalign.study.config",
    "Runtime": "emoalign.study.config",
    "analyze": "emoalign.study.arrays",
    "from_arrays": "emoalign.study.arrays",
    "ModelActivations": "emoalign.study.arrays",
    "token_plan": "emoalign.study.arrays",
    "extract": "emoalign.extract",
    "load": "emoalign.core.results",
    "AlignmentResult": "emoalign.core.results",
    "ActivationSet": "emoalign.core.activations",
    "EmoalignError": "emoalign.core.errors",
    # an AlignmentResult in a notebook (its .verdict, .headline, .plot(), .report(), _repr_html_ call
    # these through this table: core may not import emoalign.report, see core/results.py)
    "result_verdict": "emoalign.report.display",
    "result_headline": "emoalign.report.display",
    "result_html": "emoalign.report.display",
    "plot_result": "emoalign.report.display",
    "write_result_report": "emoalign.report.display",
}

#: a package that shares its name with its function: the module is returned, and calling it calls it
_CALLABLE_MODULES = ("extract",)

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'emoalign' has no attribute {name!r}")
    if name in _CALLABLE_MODULES:  # the module itself, callable as the function (see callable_module)
        return importlib.import_module(module)
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
