"""emoalign: do two language models hold the same emotion subspaces in different coordinates?

Python API::

    import emoalign
    result = emoalign.run("gpt2", "llama3_8b", layers=range(12), n_components=8)
    result.layer_table()          # pandas DataFrame, one row per layer pair
    result.save("results/")       # alignment artifact (safetensors + JSON metadata)
    emoalign.load(path)           # reload any artifact
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load", "run"]


def __getattr__(name: str) -> Any:
    # Lazy: `import emoalign` stays light (no torch) until the API is used.
    if name == "run":
        from emoalign.pipeline import run

        return run
    if name == "load":
        from emoalign.results import load

        return load
    raise AttributeError(f"module 'emoalign' has no attribute {name!r}")
