"""When the Python API shows progress bars (``tqdm.auto``: widgets in Jupyter, text in a terminal)."""

from __future__ import annotations

import sys


def interactive() -> bool:
    """True in a Jupyter/IPython kernel or when stderr is a terminal: someone is watching."""
    shell = sys.modules.get("IPython")
    if shell is not None:
        get_ipython = getattr(shell, "get_ipython", None)
        if get_ipython is not None and get_ipython() is not None:
            return True
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def resolve_quiet(quiet: bool | None) -> bool:
    """``quiet`` as given, or for ``None`` (the API's default) quiet unless :func:`interactive`:
    bars in notebooks and terminals, none in scripts whose output goes to a log or a test runner."""
    return (not interactive()) if quiet is None else bool(quiet)
