"""hnn: learned Hamiltonian dynamics on PyTorch Lightning.

Public API (everything else lives in the subpackages):

- ``hnn.integrate``      -- the one way to roll out any dynamics (see ``hnn.integrators``)
- ``hnn.load``           -- load any hnn checkpoint safely (weights only), right class, eval mode
- ``hnn.load_pretrained``-- load a named pretrained model from the registry
- subpackages: ``systems``, ``integrators``, ``nn``, ``models``, ``data``, ``sampling``, ``envs``, ``control``, ``optim``,
  ``training``, ``evaluation``, ``experiments``; modules ``paths``, ``io``, ``validate``

Lightning-dependent parts are imported lazily so ``import hnn`` and ``hnn.integrate`` stay light.
"""
from __future__ import annotations

import importlib
from typing import Any

from hnn.integrators import integrate

__all__ = [
    "integrate",
    "load",
    "load_pretrained",
    "systems",
    "integrators",
    "nn",
    "models",
    "data",
    "sampling",
    "envs",
    "control",
    "optim",
    "training",
    "evaluation",
    "experiments",
    "paths",
    "io",
    "validate",
]

_SUBPACKAGES = {"systems", "integrators", "nn", "models", "data", "sampling", "envs", "control", "optim", "training",
                "evaluation", "experiments", "paths", "io", "validate"}
_LAZY_FUNCTIONS = {"load": "hnn.training.checkpoint", "load_pretrained": "hnn.training.pretrained"}


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"hnn.{name}")
    if name in _LAZY_FUNCTIONS:
        return getattr(importlib.import_module(_LAZY_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'hnn' has no attribute {name!r}")
