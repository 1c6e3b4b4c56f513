"""``Configurable``: networks that can say how to rebuild themselves, as plain types.

A configurable module stores each constructor argument as an attribute of the same name; :meth:`config` returns
``{"class_path": "hnn.nn.<Class>", "init_args": {...}}``. Checkpoints record it, :func:`hnn.nn.build_field` rebuilds
from it, and a LightningCLI config injects the same record.
"""
from __future__ import annotations

import inspect
from typing import Any

__all__ = ["Configurable"]


class Configurable:
    """Mixin for ``nn.Module``s whose constructor arguments are stored as attributes of the same name."""

    def config(self) -> dict[str, Any]:
        """``{"class_path": "hnn.nn.<Class>", "init_args": {...}}`` with the constructor's arguments."""
        init_args = {}
        for name in inspect.signature(type(self).__init__).parameters:
            if name == "self":
                continue
            if not hasattr(self, name):
                raise AttributeError(f"{type(self).__name__} must store its constructor argument {name!r} as an "
                                     "attribute of the same name (config() reads it back)")
            init_args[name] = getattr(self, name)
        module = "hnn.nn" if type(self).__module__.startswith("hnn.nn.") else type(self).__module__
        return {"class_path": f"{module}.{type(self).__qualname__}", "init_args": init_args}
