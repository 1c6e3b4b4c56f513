"""Parallel tempering (replica exchange) with HMC moves, for multimodal targets.

Replica k targets π_k(x) ∝ exp(−β_k U(x)), β_k = 1/T_k, T_0 = 1 < T_1 < ... .  Every iteration
each replica makes an HMC move (step size adapted per temperature during warmup, pooled over
chains), then neighbouring replicas (k, k+1) — even pairs and odd pairs on alternate iterations —
swap states with probability min(1, exp((β_k − β_{k+1})(U(x_k) − U(x_{k+1})))).
The draws returned are those of the T = 1 replica.  They record no total energy (``energy`` is
None, so no E-BFMI): a swap moves a state to another Hamiltonian.
"""
from __future__ import annotations

import math
import time
from typing import Sequence

import torch
from torch import Tensor

from hnn.sampling.adaptation import DualAveraging
from hnn.sampling.base import ChainState, EnergyFn, LogProbFn, Recorder, _check_int
from hnn.sampling.checks import UnboundedWatch
from hnn.sampling.hmc import HMC
from hnn.sampling.progress import make_progress_bar
from hnn.sampling.result import SamplingResult


class ParallelTempering(HMC):
    """ParallelTempering(energy, temperatures=None, num_replicas=8, max_temperature=20, step_size, num_steps, ...)
    or ParallelTempering(log_prob=..., ...).

    ``temperatures`` (increasing, starting at 1) defaults to a geometric ladder of ``num_replicas``
    temperatures from 1 to ``max_temperature``.  Remaining keywords are those of ``HMC``.
    """

    name = "ParallelTempering"

    def __init__(
        self,
        energy: EnergyFn | None = None,
        temperatures: Sequence[float] | Tensor | None = None,
        *,
        log_prob: LogProbFn | None = None,
        num_replicas: int = 8,
        max_temperature: float = 20.0,
        step_size: float = 0.1,
        num_steps: int = 10,
        **kwargs,
    ) -> None:
        if "mass" in kwargs and isinstance(kwargs["mass"], str) and kwargs["mass"] != "identity":
            raise ValueError("ParallelTempering adapts no mass matrix: use mass='identity' or a fixed mass tensor")
        super().__init__(energy, step_size=step_size, num_steps=num_steps, log_prob=log_prob, **kwargs)
        if temperatures is None:
            _check_int("num_replicas", num_replicas, 2)
            if not (isinstance(max_temperature, (int, float)) and math.isfinite(max_temperature) and max_temperature > 1):
                raise ValueError(f"max_temperature must be a finite number > 1, got {max_temperature!r}")
            temps = torch.logspace(0.0, math.log10(max_temperature), num_replicas, dtype=torch.float64)
        else:
            temps = torch.as_tensor(temperatures, dtype=torch.float64).flatten()
            if temps.numel() < 2:
                raise ValueError("temperatures needs at least two values (the first must be 1)")
            if not bool(torch.isfinite(temps).all()) or abs(float(temps[0]) - 1.0) > 1e-12 or not bool((temps[1:] > temps[:-1]).all()):
                raise ValueError(f"temperatures must be finite, strictly increasing and start at 1; got {temps.tolist()}")
        self.temperatures = temps

    def _run(self, initial: Tensor, num_samples: int, num_warmup: int, generator, progress: bool,
             save_warmup: bool = False) -> SamplingResult:
        bar = make_progress_bar(progress, self.name, num_warmup, num_samples)
        try:
            return self._exchange(initial, num_samples, num_warmup, generator, bar, save_warmup)
        finally:
            if bar is not None:
                bar.close()

    def _exchange(self, initial: Tensor, num_samples: int, num_warmup: int, generator, bar,
                  save_warmup: bool) -> SamplingResult:
        if not isinstance(initial, Tensor) or initial.dim() < 1:
            raise ValueError("initial must be a tensor of shape (chains, *state_shape)")
        chains = initial.shape[0]
        replicas = self.temperatures.numel()
        dtype, device = initial.dtype, initial.device
        beta = (1.0 / self.temperatures).to(dtype=dtype, device=device)
        row_beta = beta.repeat_interleave(chains).unsqueeze(-1)  # rows ordered (replica, chain)
        start = initial.repeat(replicas, *([1] * (initial.dim() - 1)))
        potential, state = self._prepare(start, potential_scale=row_beta)
        rows, dim = state.q.shape
        kinetic = self._make_kinetic(dim, dtype, device)
        raw_u = potential.last_raw_value.clone()
        raw_f = state.force / row_beta
        step = torch.full((replicas,), float(self.step_size), dtype=dtype, device=device)
        averager = DualAveraging(step, self.target_accept) if (self.adapt_step_size and num_warmup > 0) else None
        draws = Recorder(chains, num_samples, dim, dtype, device)
        record = Recorder(chains, num_warmup, dim, dtype, device) if save_warmup else None
        watch = UnboundedWatch(self.energy, self.target, state.q, raw_u, tuple(initial.shape[1:]),
                               lambda row: f"chain {row % chains} at temperature {float(self.temperatures[row // chains]):.3g}")
        swap_tries = torch.zeros(replicas - 1, dtype=dtype, device=device)
        swap_accepts = torch.zeros(replicas - 1, dtype=dtype, device=device)
        warmup_divergences = 0
        warmup_calls = 0
        t0 = time.perf_counter()
        t_warm = t0
        total = num_warmup + num_samples
        for it in range(total):
            if it == num_warmup:
                if averager is not None:
                    step = averager.final_step_size
                warmup_calls = potential.calls
                t_warm = time.perf_counter()
            used_step = step
            row_step = step.repeat_interleave(chains)
            state, stats = self._transition(state, row_step, potential, kinetic, generator, warmup=it < num_warmup)
            raw_u = torch.where(stats["accepted"], potential.last_raw_value, raw_u)
            raw_f = state.force / row_beta
            problem = watch.check(state.q, raw_u, it + 1) if it < num_warmup else None
            if problem is not None:
                raise ValueError(problem)
            if it < num_warmup:
                warmup_divergences += int(stats["divergent"].sum())
                if averager is not None:
                    step = averager.update(stats["accept_prob"].reshape(replicas, chains).mean(1))
            # ---- replica exchange between neighbours (k, k+1), alternating even/odd pairs
            lo = list(range(it % 2, replicas - 1, 2))
            if lo:
                hi = [k + 1 for k in lo]
                u = raw_u.reshape(replicas, chains)
                q = state.q.reshape(replicas, chains, dim)
                f = raw_f.reshape(replicas, chains, dim)
                log_ratio = (beta[lo] - beta[hi]).unsqueeze(-1) * (u[lo] - u[hi])
                log_v = torch.rand(len(lo), chains, dtype=dtype, device=device, generator=generator).log()
                swap = log_v < log_ratio
                sw = swap.unsqueeze(-1)
                q_new, f_new, u_new = q.clone(), f.clone(), u.clone()
                q_new[lo] = torch.where(sw, q[hi], q[lo])
                q_new[hi] = torch.where(sw, q[lo], q[hi])
                f_new[lo] = torch.where(sw, f[hi], f[lo])
                f_new[hi] = torch.where(sw, f[lo], f[hi])
                u_new[lo] = torch.where(swap, u[hi], u[lo])
                u_new[hi] = torch.where(swap, u[lo], u[hi])
                raw_u = u_new.reshape(rows)
                raw_f = f_new.reshape(rows, dim)
                state = ChainState(q_new.reshape(rows, dim), raw_u * row_beta[:, 0], raw_f * row_beta)
                if it >= num_warmup:
                    swap_tries[lo] += chains
                    swap_accepts[lo] += swap.to(dtype).sum(1)
            recorder = draws if it >= num_warmup else record
            if recorder is not None:  # the T = 1 replica, after the exchange
                first = {key: value[:chains] for key, value in stats.items()}
                recorder.store(it - num_warmup if it >= num_warmup else it,
                               ChainState(state.q[:chains], raw_u[:chains], state.force[:chains]), first,
                               used_step[0] if it < num_warmup else None)
            if bar is not None:
                if it == num_warmup:
                    bar.start_sampling()
                bar.update(step, warmup_divergences if it < num_warmup
                           else (lambda: draws.divergent[:, : it - num_warmup + 1].sum()))
        if num_warmup == 0:
            t_warm = t0
        elif averager is not None and num_samples == 0:
            step = averager.final_step_size
        t_end = time.perf_counter()
        draws.fill_step_sizes(step[:1])
        warmup = None
        if record is not None:
            warmup = record.as_warmup(initial.shape[1:])
            warmup.energy = None
        return SamplingResult(
            samples=draws.samples.reshape(chains, num_samples, *initial.shape[1:]),
            potential_energy=draws.potential,
            accept_prob=draws.accept,
            divergent=draws.divergent,
            num_steps=draws.steps,
            step_size=step.detach().clone(),
            inverse_mass=None if kinetic.inverse_mass is None else kinetic.inverse_mass.clone(),
            num_grad_evals=potential.calls * rows,
            num_warmup_grad_evals=warmup_calls * rows,
            warmup_divergences=warmup_divergences,
            num_warmup=num_warmup,
            warmup_seconds=t_warm - t0,
            sampling_seconds=t_end - t_warm,
            sampler=self.name,
            step_sizes=draws.step_sizes,
            warmup=warmup,
            extras={
                "temperatures": self.temperatures.clone(),
                "swap_accept_rate": swap_accepts / swap_tries.clamp(min=1),
            },
        )
