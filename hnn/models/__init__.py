"""hnn.models: LightningModules for learned dynamics (and the energy-based model).

- :class:`BaselineMLP` -- predicts dx/dt directly (the paper's baseline).
- :class:`HNN` -- learns a scalar H_θ(x); dx/dt = J∇H_θ (optionally separable H = T(p) + V(q)).
- :class:`DissipativeHNN` -- dx/dt = J∇H_θ − ∇D_θ with a learned dissipation D_θ.
- ``EnergyModel`` -- the energy-based model of :mod:`hnn.models.energy` (imported lazily).

All of them: ``vector_field(x)``, ``rollout(x0, t, method=...)`` (through ``hnn.integrate``); HNNs also
``hamiltonian(x)``. Load any checkpoint with ``hnn.load(path)``.
"""
from __future__ import annotations

import importlib
from typing import Any

from hnn.models.base import DynamicsModel
from hnn.models.baseline import BaselineMLP
from hnn.models.hamiltonian import HNN, DissipativeHNN

__all__ = ["DynamicsModel", "BaselineMLP", "HNN", "DissipativeHNN", "EnergyModel"]

_LAZY = {"EnergyModel": "hnn.models.energy"}


def __getattr__(name: str) -> Any:
    # EnergyModel lives in its own module (written separately); import it only when asked for, so this package
    # imports fine whether or not that module is present.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hnn.models' has no attribute {name!r}")
