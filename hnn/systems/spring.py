"""Mass-spring oscillators (1 degree of freedom, state [q, p]).

- :class:`MassSpring` (``"mass_spring"``):  H = k q²/2 + p²/(2m), ω = √(k/m), period 2π√(m/k).
- :class:`PaperSpring` (``"spring"``):      H = q² + p² (Greydanus et al. 2019), i.e. k = 2, m = 1/2, period π.
- :class:`DampedMassSpring` (``"damped_mass_spring"``): the same H with Rayleigh dissipation D = γ p²/2,
  dx/dt = J∇H − [0, ∂D/∂p] = [p/m, −k q − γ p]  (so m q̈ + γ m q̇ + k q = 0, γ a rate in 1/time).

All three have exact trajectories (:func:`oscillator_flow`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from hnn.systems.base import (
    HamiltonianSystem,
    check_nonnegative,
    check_positive,
    check_range,
    sample_ring,
)

__all__ = ["MassSpring", "PaperSpring", "DampedMassSpring", "oscillator_flow"]

PAPER_SPRING_RADIUS = (0.1, 1.0)  # the paper's spring data: radius = U[0, 1) * 0.9 + 0.1


def _propagators(tau: Tensor, omega0: float, beta: float) -> tuple[Tensor, Tensor]:
    """E(τ) = e^{−βτ} C(τ) and F(τ) = e^{−βτ} S(τ) of  ü + 2β u̇ + ω0² u = 0.

    C solves C'' = −Ω² C, C(0) = 1, C'(0) = 0 and S = ∫C (S(0) = 0, S'(0) = 1), with Ω² = ω0² − β². Each regime uses
    a form that stays accurate near critical damping and does not overflow for large τ (overdamped: exponentials
    of the slow rate λ = −ω0²/(β + μ) ≤ 0 and expm1 instead of cosh/sinh).
    """
    # (ω0 − β)(ω0 + β) loses less precision than ω0² − β² near critical damping.
    disc = (omega0 - beta) * (omega0 + beta)
    decay = torch.exp(-beta * tau)
    if disc > 0.0:  # underdamped (or undamped when β = 0)
        omega = math.sqrt(disc)
        return decay * torch.cos(omega * tau), decay * torch.sin(omega * tau) / omega
    if disc == 0.0:  # critically damped
        return decay, decay * tau
    mu = math.sqrt(-disc)  # overdamped
    slow_rate = -omega0 * omega0 / (beta + mu)  # = μ − β without cancellation
    slow = torch.exp(slow_rate * tau)
    fast_over_slow = torch.exp(-2.0 * mu * tau)
    return slow * (1.0 + fast_over_slow) * 0.5, slow * (-torch.expm1(-2.0 * mu * tau)) / (2.0 * mu)


def oscillator_flow(x0: Tensor, tau: Tensor, k: float, m: float, gamma: float = 0.0) -> Tensor:
    """Exact flow of q̇ = p/m, ṗ = −k q − γ p over elapsed times ``tau`` ``[T]`` from ``x0`` ``[..., 2]``.

    With β = γ/2, ω0² = k/m and E, F from :func:`_propagators`:
    q(τ) = q0 E + (p0/m + β q0) F,   p(τ) = p0 E − (β p0 + k q0) F.  Returns ``[T, ..., 2]``.
    """
    omega0 = math.sqrt(k / m)
    beta = 0.5 * gamma
    e, f = _propagators(tau, omega0, beta)
    e = e.reshape(tau.shape + (1,) * (x0.ndim - 1))
    f = f.reshape_as(e)
    q0, p0 = x0[..., 0], x0[..., 1]
    q = q0 * e + (p0 / m + beta * q0) * f
    p = p0 * e - (beta * p0 + k * q0) * f
    return torch.stack([q, p], dim=-1)


class MassSpring(HamiltonianSystem):
    """Physical mass on a spring: H = k q²/2 + p²/(2m); exact flow, period 2π√(m/k).

    ``sample_initial`` follows the HNN paper's recipe: (q, p) on a circle of radius r ~ U[0.1, 1.0]
    (``radius`` to change it), direction from a normalised uniform point of the square [−1, 1)².
    """

    name = "mass_spring"
    dim = 2
    separable = True
    periodic = (False,)

    def __init__(self, k: float = 1.0, m: float = 1.0) -> None:
        super().__init__()
        self.k = check_positive("k", k)
        self.m = check_positive("m", m)
        self.params = {"k": self.k, "m": self.m}
        self.omega0 = math.sqrt(self.k / self.m)
        self.period = 2.0 * math.pi / self.omega0
        self.time_scale = self.period

    def hamiltonian(self, x: Tensor) -> Tensor:
        """H = k q²/2 + p²/(2m)."""
        q, p = self.split(x)
        return (0.5 * self.k * q.square() + p.square() / (2.0 * self.m)).squeeze(-1)

    def dH_dq(self, q: Tensor) -> Tensor:
        """∂H/∂q = k q."""
        return self.k * self._check_half(q, "q")

    def dH_dp(self, p: Tensor) -> Tensor:
        """∂H/∂p = p/m."""
        return self._check_half(p, "p") / self.m

    def vector_field(self, x: Tensor) -> Tensor:
        """[q̇, ṗ] = [p/m, −k q]."""
        q, p = self.split(x)
        return torch.cat([p / self.m, -self.k * q], dim=-1)

    def sample_initial(self, n: int, generator: torch.Generator | None = None, *,
                       dtype: torch.dtype | None = None, device: torch.device | str | None = None,
                       radius: Sequence[float] = PAPER_SPRING_RADIUS) -> Tensor:
        """``[n, 2]`` states on circles of radius r ~ U[radius] in the (q, p) plane (paper recipe)."""
        n = self._check_count(n)
        dtype, out_device, sample_device = self._float_options(dtype, device, generator)
        x = sample_ring(n, check_range("radius", radius), generator, sample_device)
        return x.to(device=out_device, dtype=dtype)

    @property
    def _gamma(self) -> float:
        return 0.0

    def trajectory(self, x0: Tensor, t: Tensor | Sequence[float]) -> Tensor:
        """Exact solution (:func:`oscillator_flow`) at times ``t``, ``x0`` being the state at ``t[0]``."""
        self.check_state(x0, "x0")
        t = self._check_t(t, x0).to(x0.dtype)
        return oscillator_flow(x0, t - t[0], self.k, self.m, self._gamma)


class PaperSpring(MassSpring):
    """Greydanus et al. (2019) spring: H = q² + p² (k = 2, m = 1/2); period π. Takes no parameters."""

    name = "spring"

    def __init__(self) -> None:
        super().__init__(k=2.0, m=0.5)
        self.params = {}


class DampedMassSpring(MassSpring):
    """Damped oscillator: H = k q²/2 + p²/(2m) with Rayleigh dissipation D = γ p²/2.

    dx/dt = [p/m, −k q − γ p]; ``hamiltonian`` is the conservative energy, which decays as dH/dt = −γ p²/m.
    Exact flow in all regimes (β = γ/2 < ω0 underdamped, = critical, > overdamped). ``period`` is the quasi-period
    2π/√(ω0² − β²) when underdamped (None otherwise); ``time_scale`` is the undamped period 2π/ω0.
    """

    name = "damped_mass_spring"
    dissipative = True

    def __init__(self, k: float = 1.0, m: float = 1.0, gamma: float = 0.1) -> None:
        super().__init__(k=k, m=m)
        self.gamma = check_nonnegative("gamma", gamma)
        self.params = {"k": self.k, "m": self.m, "gamma": self.gamma}
        beta = 0.5 * self.gamma
        disc = (self.omega0 - beta) * (self.omega0 + beta)
        self.period = 2.0 * math.pi / math.sqrt(disc) if disc > 0.0 else None
        self.time_scale = 2.0 * math.pi / self.omega0

    @property
    def _gamma(self) -> float:
        return self.gamma

    def vector_field(self, x: Tensor) -> Tensor:
        """[q̇, ṗ] = [p/m, −k q − γ p]  (J∇H minus ∂D/∂p in the p-equation)."""
        q, p = self.split(x)
        return torch.cat([p / self.m, -self.k * q - self.gamma * p], dim=-1)
