"""When progress bars are drawn (``tqdm.auto``: widgets in Jupyter, text in a terminal).

Bars are for someone watching: a notebook, or a terminal on stderr. A log file, a pipe or a test
runner gets none, whether the caller passed ``quiet=None`` (the API's default) or ``quiet=False``
(the CLI without ``--quiet``: "not asked to be quiet", which is not "draw bars into my log"; the
demo's log once held 54 KB of them). ``EMOALIGN_PROGRESS`` overrides the guess: ``always`` (bars
even into a file), ``never`` (no bars anywhere), ``auto`` or unset (the rule above).
"""

from __future__ import annotations

import os
import sys

PROGRESS_ENV = "EMOALIGN_PROGRESS"
PROGRESS_MODES: tuple[str, ...] = ("auto", "always", "never")


def interactive() -> bool:
    """True in a Jupyter/IPython kernel or when stderr is a terminal: someone is watching."""
    shell = sys.modules.get("IPython")
    if shell is not None:
        get_ipython = getattr(shell, "get_ipython", None)
        if get_ipython is not None and get_ipython() is not None:
            return True
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed or detached stream: nobody is watching it
        return False


def progress_mode() -> str:
    """``EMOALIGN_PROGRESS`` (``auto``, ``always`` or ``never``); an unknown value reads ``auto``."""
    value = os.environ.get(PROGRESS_ENV, "").strip().lower()
    return value if value in PROGRESS_MODES else "auto"


def resolve_quiet(quiet: bool | None) -> bool:
    """Whether to hide progress bars. ``quiet=True`` always hides them; ``None`` and ``False`` draw
    them only where someone watches (:func:`interactive`), unless ``EMOALIGN_PROGRESS`` says
    ``always`` or ``never``."""
    if quiet:
        return True
    mode = progress_mode()
    if mode != "auto":
        return mode == "never"
    return not interactive()
