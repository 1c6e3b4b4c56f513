"""hnn.sampling: HMC-family samplers, diagnostics and canonical-ensemble sampling.

- ``HMC``, ``NUTS``: batched chains on one tensor (chains first), adaptive warmup, Gaussian or
  relativistic kinetic energy; the target as ``energy=U`` (density ∝ exp(−U)) or ``log_prob=log π``;
  ``sampler.sample(initial, num_samples, num_warmup, generator)`` (``num_warmup`` defaults to
  ``default_num_warmup(chains)``: 1000 for one chain, shorter for many).  At the end of a run the
  Stan/ArviZ checks (divergences, R̂, ESS, tree depth, E-BFMI) warn once each as ``SamplingWarning``;
  ``result.to_arviz()`` exports the run to ArviZ.
- ``ParallelTempering``: replica exchange over a temperature ladder for multimodal targets.
- ``ess``, ``rhat``, ``mcse_mean``, ``summary_statistics``, ``ebfmi``: rank-normalised diagnostics
  (Vehtari et al. 2021) and the energy fraction of missing information (Betancourt 2016).
- ``sample_canonical``: states drawn from exp(−H/T) of a Hamiltonian.
"""
from hnn.sampling.base import default_num_warmup
from hnn.sampling.canonical import sample_canonical
from hnn.sampling.checks import SamplingWarning
from hnn.sampling.diagnostics import ebfmi, ess, ess_tail, mcse_mean, rhat, summary_statistics
from hnn.sampling.hmc import HMC
from hnn.sampling.nuts import NUTS
from hnn.sampling.result import SamplingResult, WarmupDraws
from hnn.sampling.tempering import ParallelTempering

__all__ = [
    "HMC", "NUTS", "ParallelTempering", "SamplingResult", "SamplingWarning", "WarmupDraws", "default_num_warmup",
    "ebfmi", "ess", "ess_tail", "mcse_mean", "rhat", "sample_canonical", "summary_statistics",
]
