"""hnn.sampling: HMC-family samplers, diagnostics and canonical-ensemble sampling.

- ``HMC``, ``NUTS``: batched chains on one tensor (chains first), adaptive warmup, Gaussian or
  relativistic kinetic energy; ``sampler.sample(initial, num_samples, num_warmup, generator)``
  (``num_warmup`` defaults to ``default_num_warmup(chains)``: 1000 for one chain, shorter for many).
- ``ParallelTempering``: replica exchange over a temperature ladder for multimodal targets.
- ``ess``, ``rhat``, ``mcse_mean``: rank-normalised diagnostics (Vehtari et al. 2021).
- ``sample_canonical``: states drawn from exp(−H/T) of a Hamiltonian.
"""
from hnn.sampling.base import default_num_warmup
from hnn.sampling.canonical import sample_canonical
from hnn.sampling.diagnostics import ess, ess_tail, mcse_mean, rhat
from hnn.sampling.hmc import HMC
from hnn.sampling.nuts import NUTS
from hnn.sampling.result import SamplingResult
from hnn.sampling.tempering import ParallelTempering

__all__ = ["HMC", "NUTS", "ParallelTempering", "SamplingResult", "default_num_warmup", "ess", "ess_tail", "mcse_mean", "rhat", "sample_canonical"]
