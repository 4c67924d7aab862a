"""A package that is also a function: ``emoalign.extract(model, ...)``.

``emoalign.extract`` is both a package (``from emoalign.extract.cache import ...``) and the API
function the README calls. Importing a submodule always sets it as an attribute of its package, so a plain
function of that name in ``emoalign/__init__.py`` would be replaced by the module as soon as
anything imports it. Instead the module itself becomes callable: calling it calls the function.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import Any


class CallableModule(types.ModuleType):
    """A module whose call is its ``__call_target__`` function (same signature and docstring)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, "__call_target__")(*args, **kwargs)


def make_callable(module_name: str, function_name: str) -> None:
    """Make the imported module ``module_name`` callable as its function ``function_name``."""
    module = sys.modules[module_name]
    function = getattr(module, function_name)
    module.__class__ = CallableModule
    module.__call_target__ = function  # type: ignore[attr-defined]
    module.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
