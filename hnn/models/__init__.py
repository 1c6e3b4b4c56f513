"""hnn.models: thin LightningModules (loss, optimizer, logging; nothing else).

- :class:`DynamicsModule` -- trains an injected vector field (``hnn.nn``: HamiltonianField, DissipativeField,
  BaselineField) on derivative pairs or trajectory windows.
- :class:`EnergyModel` -- an energy-based model p_θ(x) ∝ exp(−E_θ(x)) trained with HMC negatives.

Load any checkpoint with ``hnn.load(path)``.
"""
from hnn.models.dynamics import DynamicsModule
from hnn.models.energy import EnergyModel

__all__ = ["DynamicsModule", "EnergyModel"]
