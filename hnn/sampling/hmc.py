"""Hamiltonian Monte Carlo with a fixed number of leapfrog steps per trajectory.

Each iteration: p ~ exp(−K); L leapfrog steps of size ε_c (per-chain jitter ε_c = ε·U(1−j, 1+j)
against resonances, optionally a shared random L); Metropolis–Hastings acceptance per chain with
probability min(1, exp(H(x, p) − H(x', p'))).  A non-finite proposal is rejected and a
transition with H(x', p') − H(x, p) > max_energy_error (or non-finite) is counted as divergent.
The total energy recorded for the draw is H at the state kept: H(x', p') if accepted, else H(x, p)
(as Stan's ``energy__``).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from hnn.sampling.base import ChainState, EnergyFn, LogProbFn, MCMCSampler, Potential, _check_int


class HMC(MCMCSampler):
    """HMC(energy, step_size=0.1, num_steps=10, ...) or HMC(log_prob=..., ...): see the module docstring
    and ``MCMCSampler`` for the target and the options shared with NUTS.

    ``trajectory_length`` (if given) sets L = max(1, round(length / ε)) every iteration, so the
    integration time stays fixed while the step size adapts.  ``step_size_jitter`` j ∈ [0, 1)
    draws each chain's ε from U((1−j)ε, (1+j)ε); ``num_steps_jitter`` j draws one L per iteration
    (shared by all chains, so batches stay in lock step) uniformly from [⌈(1−j)L⌉, L].
    """

    name = "HMC"

    def __init__(
        self,
        energy: EnergyFn | None = None,
        step_size: float = 0.1,
        num_steps: int = 10,
        *,
        log_prob: LogProbFn | None = None,
        trajectory_length: float | None = None,
        step_size_jitter: float = 0.1,
        num_steps_jitter: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(energy, log_prob=log_prob, step_size=step_size, **kwargs)
        _check_int("num_steps", num_steps, 1)
        if trajectory_length is not None and not (isinstance(trajectory_length, (int, float)) and math.isfinite(trajectory_length) and trajectory_length > 0):
            raise ValueError(f"trajectory_length must be a finite number > 0 or None, got {trajectory_length!r}")
        for name, value in (("step_size_jitter", step_size_jitter), ("num_steps_jitter", num_steps_jitter)):
            if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
                raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
        self.num_steps = num_steps
        self.trajectory_length = trajectory_length
        self.step_size_jitter = float(step_size_jitter)
        self.num_steps_jitter = float(num_steps_jitter)

    def _num_steps(self, step_size: Tensor, generator) -> int:
        if self.trajectory_length is not None:
            steps = max(1, int(round(self.trajectory_length / float(step_size.max()))))
        else:
            steps = self.num_steps
        if self.num_steps_jitter > 0:
            low = max(1, math.ceil((1.0 - self.num_steps_jitter) * steps))
            steps = int(torch.randint(low, steps + 1, (), generator=generator))
        return steps

    def _transition(self, state: ChainState, step_size: Tensor, potential: Potential, kinetic, generator, warmup: bool):
        chains = state.q.shape[0]
        dtype, device = state.q.dtype, state.q.device
        h = step_size.reshape(-1, 1) if step_size.dim() else step_size
        if self.step_size_jitter > 0:
            u = torch.rand(chains, 1, dtype=dtype, device=device, generator=generator)
            h = h * (1.0 + self.step_size_jitter * (2.0 * u - 1.0))
        num_steps = self._num_steps(step_size, generator)
        p = kinetic.sample(chains, generator)
        h0 = state.potential + kinetic.energy(p)
        q, force = state.q, state.force
        for _ in range(num_steps):
            q, p, force, _ = self._leapfrog(q, p, force, h, potential, kinetic)
        u1 = potential.last_value
        h1 = u1 + kinetic.energy(p)
        delta = h0 - h1  # log acceptance ratio; NaN/−inf for non-finite proposals
        divergent = ~(delta >= -self.max_energy_error)
        accept_prob = torch.nan_to_num(delta, nan=-math.inf).clamp(max=0.0).exp()
        log_u = torch.rand(chains, dtype=dtype, device=device, generator=generator).log()
        accept = log_u < delta  # False for NaN
        a = accept.unsqueeze(-1)
        new_state = ChainState(
            torch.where(a, q, state.q), torch.where(accept, u1, state.potential), torch.where(a, force, state.force)
        )
        stats = {
            "accept_prob": accept_prob,
            "divergent": divergent,
            "accepted": accept,
            "num_steps": torch.full((chains,), num_steps, dtype=torch.long, device=device),
            "energy": torch.where(accept, h1, h0),
        }
        if self.step_size_jitter > 0:
            stats["step_size"] = h.reshape(-1)
        return new_state, stats
