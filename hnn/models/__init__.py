"""hnn.models: thin LightningModules (loss, optimizer, logging; nothing else).

- :class:`DynamicsModule` -- trains an injected vector field (``hnn.nn``: HamiltonianField, DissipativeField,
  BaselineField) on derivative pairs or trajectory windows.
- :class:`HamiltonianGAN` -- a GAN whose generator rolls a latent state out with an injected field (a learned
  Hamiltonian, or the twins: an MLP field, a GRU) through ``hnn.integrate``; sequence discriminator, R1.
- :class:`EnergyModel` -- an energy-based model p_θ(x) ∝ exp(−E_θ(x)) trained with HMC negatives.

Load any checkpoint with ``hnn.load(path)``.
"""
from hnn.models.dynamics import DynamicsModule
from hnn.models.energy import EnergyModel
from hnn.models.gan import HamiltonianGAN

__all__ = ["DynamicsModule", "EnergyModel", "HamiltonianGAN"]
