"""Warmup adaptation: dual-averaging step size and windowed mass-matrix estimation (Stan's scheme).

Dual averaging (Hoffman & Gelman 2014, Nesterov 2009), for iteration t ≥ 1 and statistic a_t:
    H̄_t = (1 − 1/(t + t0)) H̄_{t−1} + (δ − a_t)/(t + t0)
    log ε_t = μ − sqrt(t)/γ · H̄_t,   log ε̄_t = t^{−κ} log ε_t + (1 − t^{−κ}) log ε̄_{t−1}
with μ = log(10 ε_0), γ = 0.05, t0 = 10, κ = 0.75.  It is vectorised over a tensor of step sizes
(one per temperature for parallel tempering); the statistic is pooled (averaged) across chains.

Mass windows (Stan): an initial fast buffer (75), slow windows doubling from 25, a terminal fast
buffer (50); the last slow window is stretched to the terminal buffer.  With C chains pooled the
samplers shrink these by √C (to at least 15 / 5 / 25, see ``MCMCSampler._buffers``), and start
from a gradient-based metric guess (``base.initial_inverse_mass``) instead of the identity.  Windows are scaled down
proportionally (15% / 75% / 10%) when the warmup is too short.  Each window's covariance is pooled
across chains (Welford / Chan parallel update) and regularised towards 1e-3·I:
    Σ̂ = n/(n+5)·S + 1e-3·5/(n+5)·I.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


class DualAveraging:
    """Vectorised dual averaging of log step sizes toward a target acceptance statistic.

    A single step size (a 0-d tensor, the samplers' pooled case) is averaged in Python floats (float64), with
    no tensor operations but the returned step; a tensor of step sizes (one per temperature) is averaged
    elementwise in its dtype."""

    def __init__(
        self,
        initial_step_size: Tensor,
        target_accept: float,
        gamma: float = 0.05,
        t0: float = 10.0,
        kappa: float = 0.75,
    ) -> None:
        self.target = target_accept
        self.gamma, self.t0, self.kappa = gamma, t0, kappa
        self.restart(initial_step_size)

    def restart(self, step_size: Tensor) -> None:
        self.scalar = step_size.dim() == 0
        self.dtype, self.device = step_size.dtype, step_size.device
        if self.scalar:
            value = float(step_size)
            self.mu, self.h_bar, self.log_step, self.log_step_avg = math.log(10.0 * value), 0.0, math.log(value), 0.0
        else:
            self.mu = torch.log(10.0 * step_size)
            self.h_bar = torch.zeros_like(step_size)
            self.log_step = torch.log(step_size)
            self.log_step_avg = torch.zeros_like(step_size)
        self.t = 0

    def update(self, accept_stat: Tensor) -> Tensor:
        """Feed a statistic (same shape as the step size); return the next step size to use."""
        self.t += 1
        t = self.t
        w = 1.0 / (t + self.t0)
        eta = t ** (-self.kappa)
        if self.scalar:
            stat = float(accept_stat)
            stat = 0.0 if math.isnan(stat) else stat
            self.h_bar = (1.0 - w) * self.h_bar + w * (self.target - stat)
            self.log_step = self.mu - math.sqrt(t) / self.gamma * self.h_bar
            self.log_step_avg = eta * self.log_step + (1.0 - eta) * self.log_step_avg
            return self._tensor(self.log_step)
        accept_stat = torch.nan_to_num(accept_stat, nan=0.0)
        self.h_bar = (1.0 - w) * self.h_bar + w * (self.target - accept_stat)
        self.log_step = self.mu - math.sqrt(t) / self.gamma * self.h_bar
        self.log_step_avg = eta * self.log_step + (1.0 - eta) * self.log_step_avg
        return self.log_step.exp()

    def _tensor(self, log_step: float) -> Tensor:
        return torch.tensor(math.exp(log_step), dtype=self.dtype, device=self.device)

    @property
    def final_step_size(self) -> Tensor:
        log_step = self.log_step_avg if self.t > 0 else self.log_step
        return self._tensor(log_step) if self.scalar else log_step.exp()


class PooledCovariance:
    """Running mean and (co)variance of a stream of sample batches (rows = samples)."""

    def __init__(self, dim: int, dense: bool, dtype: torch.dtype, device: torch.device) -> None:
        self.dense = dense
        self.dim = dim
        self.dtype, self.device = dtype, device
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.mean = torch.zeros(self.dim, dtype=torch.float64, device=self.device)
        shape = (self.dim, self.dim) if self.dense else (self.dim,)
        self.m2 = torch.zeros(shape, dtype=torch.float64, device=self.device)

    def update(self, batch: Tensor) -> None:
        batch = batch.detach().to(torch.float64)
        m = batch.shape[0]
        if m == 1:  # Welford's one-sample update, the same sums as below with batch_m2 = 0
            x = batch[0]
            delta = x - self.mean
            self.n += 1
            self.mean = self.mean + delta / self.n
            self.m2 = self.m2 + (torch.outer(delta, x - self.mean) if self.dense else delta * (x - self.mean))
            return
        batch_mean = batch.mean(0)
        centred = batch - batch_mean
        batch_m2 = centred.mT @ centred if self.dense else (centred * centred).sum(0)
        delta = batch_mean - self.mean
        total = self.n + m
        if self.dense:
            self.m2 = self.m2 + batch_m2 + torch.outer(delta, delta) * (self.n * m / total)
        else:
            self.m2 = self.m2 + batch_m2 + delta * delta * (self.n * m / total)
        self.mean = self.mean + delta * (m / total)
        self.n = total

    def regularized(self) -> Tensor:
        """Σ̂ = n/(n+5)·S + 1e-3·5/(n+5)·I (Stan's shrinkage)."""
        n = self.n
        cov = self.m2 / max(n - 1, 1)
        shrink = 1e-3 * 5.0 / (n + 5.0)
        if self.dense:
            cov = (n / (n + 5.0)) * cov + shrink * torch.eye(self.dim, dtype=torch.float64, device=self.device)
        else:
            cov = (n / (n + 5.0)) * cov + shrink
        return cov.to(self.dtype)


@dataclass(frozen=True)
class WarmupSchedule:
    """Stan's windowed adaptation schedule; ``window_ends`` are iteration indices (0-based,
    inclusive) at which a slow window closes and the mass matrix is updated."""

    num_warmup: int
    init_buffer: int
    term_buffer: int
    window_ends: tuple[int, ...]

    @classmethod
    def build(cls, num_warmup: int, adapt_mass: bool, init_buffer: int = 75, term_buffer: int = 50, base_window: int = 25) -> "WarmupSchedule":
        if not adapt_mass or num_warmup < 20:
            return cls(num_warmup, num_warmup, 0, ())
        if init_buffer + base_window + term_buffer > num_warmup:
            init_buffer = int(0.15 * num_warmup)
            term_buffer = int(0.1 * num_warmup)
            base_window = num_warmup - (init_buffer + term_buffer)
        ends = []
        start, size = init_buffer, base_window
        last = num_warmup - term_buffer
        while start + size < last:
            next_size = 2 * size
            if start + size + next_size > last:  # stretch the final window to the terminal buffer
                size = last - start
            ends.append(start + size - 1)
            start += size
            size = next_size
        if start < last:
            ends.append(last - 1)
        return cls(num_warmup, init_buffer, term_buffer, tuple(ends))

    def in_slow_window(self, iteration: int) -> bool:
        return bool(self.window_ends) and self.init_buffer <= iteration <= self.window_ends[-1]
