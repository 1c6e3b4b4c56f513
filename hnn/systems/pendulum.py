"""Single pendulums (1 degree of freedom, state [q, p], q an angle: ``periodic = (True,)``).

With moment of inertia a = m l² and torque scale b = m g l:

- :class:`Pendulum` (``"ideal_pendulum"``): H = p²/(2 m l²) + m g l (1 − cos q); small-angle period 2π√(l/g).
- :class:`PaperPendulum` (``"pendulum"``):  H = 3(1 − cos q) + p² (Greydanus et al. 2019), i.e. a = 1/2, b = 3.
- :class:`DampedPendulum` (``"damped_pendulum"``): Rayleigh dissipation D = γ p²/2,
  dx/dt = J∇H − [0, ∂D/∂p] = [p/a, −b sin q − γ p].

q is measured from the downward vertical; 1 − cos q is evaluated as 2 sin²(q/2) (no cancellation at small q).
Trajectories are float64 reference integrations (see :meth:`HamiltonianSystem.trajectory`); the exact
amplitude-dependent period is :meth:`Pendulum.period_of` (complete elliptic integral via the AGM).
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

__all__ = ["Pendulum", "PaperPendulum", "DampedPendulum", "elliptic_k"]

PAPER_PENDULUM_RADIUS = (1.3, 2.3)  # the paper's pendulum data: radius = U[0, 1) + 1.3


def elliptic_k(m: Tensor) -> Tensor:
    """Complete elliptic integral of the first kind K(m) = ∫₀^{π/2} dθ/√(1 − m sin²θ), for m < 1.

    Computed as π / (2 AGM(1, √(1 − m))); the AGM converges quadratically (40 iterations is ample in float64).
    """
    a = torch.ones_like(m)
    b = torch.sqrt(1.0 - m)
    for _ in range(40):
        a, b = 0.5 * (a + b), torch.sqrt(a * b)
    return math.pi / (2.0 * a)


class Pendulum(HamiltonianSystem):
    """Ideal pendulum: H = p²/(2 m l²) + m g l (1 − cos q), dx/dt = [p/(m l²), −m g l sin q].

    ``period`` is the small-angle period 2π√(l/g); :meth:`period_of` gives the exact period of a given state.
    ``sample_initial`` follows the HNN paper's recipe: (q, p) on a circle of radius r ~ U[1.3, 2.3]
    (``radius`` to change it), direction from a normalised uniform point of [−1, 1)²; q is not wrapped.
    """

    name = "ideal_pendulum"
    dim = 2
    separable = True
    periodic = (True,)

    def __init__(self, m: float = 1.0, l: float = 1.0, g: float = 9.81) -> None:  # noqa: E741 (physics name)
        super().__init__()
        m, l, g = check_positive("m", m), check_positive("l", l), check_positive("g", g)
        self.m, self.l, self.g = m, l, g
        self.params = {"m": m, "l": l, "g": g}
        self._set_coefficients(inertia=m * l * l, torque=m * g * l)

    def _set_coefficients(self, inertia: float, torque: float) -> None:
        self.inertia = inertia  # a = m l²
        self.torque = torque  # b = m g l
        self.omega0 = math.sqrt(torque / inertia)
        self.period = 2.0 * math.pi / self.omega0
        self.time_scale = self.period

    def hamiltonian(self, x: Tensor) -> Tensor:
        """H = p²/(2a) + b (1 − cos q) = p²/(2a) + 2b sin²(q/2)."""
        q, p = self.split(x)
        return (p.square() / (2.0 * self.inertia) + 2.0 * self.torque * torch.sin(0.5 * q).square()).squeeze(-1)

    def dH_dq(self, q: Tensor) -> Tensor:
        """∂H/∂q = b sin q."""
        return self.torque * torch.sin(self._check_half(q, "q"))

    def dH_dp(self, p: Tensor) -> Tensor:
        """∂H/∂p = p/a."""
        return self._check_half(p, "p") / self.inertia

    def vector_field(self, x: Tensor) -> Tensor:
        """[q̇, ṗ] = [p/a, −b sin q]."""
        q, p = self.split(x)
        return torch.cat([p / self.inertia, -self.torque * torch.sin(q)], dim=-1)

    def period_of(self, x: Tensor) -> Tensor:
        """Exact period ``[...]`` of the conservative motion through ``x``.

        Libration (H < 2b): T = 4 K(κ) / ω0 with κ = H/(2b) = sin²(θ_max/2).
        Rotation (H > 2b): time of one full turn, T = 2 K(1/κ) / (ω0 √κ).  Separatrix (H = 2b): inf.
        """
        energy_ratio = self.hamiltonian(x) / (2.0 * self.torque)
        libration = energy_ratio < 1.0
        safe_lib = torch.where(libration, energy_ratio, torch.zeros_like(energy_ratio))
        safe_rot = torch.where(libration, torch.full_like(energy_ratio, 2.0), energy_ratio)
        t_lib = 4.0 * elliptic_k(safe_lib) / self.omega0
        t_rot = 2.0 * elliptic_k(1.0 / safe_rot) / (self.omega0 * torch.sqrt(safe_rot))
        period = torch.where(libration, t_lib, t_rot)
        return torch.where(energy_ratio == 1.0, torch.full_like(period, math.inf), period)

    def sample_initial(self, n: int, generator: torch.Generator | None = None, *,
                       dtype: torch.dtype | None = None, device: torch.device | str | None = None,
                       radius: Sequence[float] = PAPER_PENDULUM_RADIUS) -> Tensor:
        """``[n, 2]`` states on circles of radius r ~ U[radius] in the (q, p) plane (paper recipe)."""
        n = self._check_count(n)
        dtype, out_device, sample_device = self._float_options(dtype, device, generator)
        x = sample_ring(n, check_range("radius", radius), generator, sample_device)
        return x.to(device=out_device, dtype=dtype)


class PaperPendulum(Pendulum):
    """Greydanus et al. (2019) pendulum: H = 3(1 − cos q) + p² (a = 1/2, b = 3; small-angle period 2π/√6).

    Takes no parameters.
    """

    name = "pendulum"

    def __init__(self) -> None:
        HamiltonianSystem.__init__(self)
        # Equivalent physical parameters (m = 1, l = 1/√2, g = 3√2); the coefficients are set exactly.
        self.m, self.l, self.g = 1.0, math.sqrt(0.5), 3.0 * math.sqrt(2.0)
        self.params = {}
        self._set_coefficients(inertia=0.5, torque=3.0)


class DampedPendulum(Pendulum):
    """Damped pendulum: H = p²/(2 m l²) + m g l (1 − cos q), D = γ p²/2, dx/dt = [p/a, −b sin q − γ p].

    ``hamiltonian`` is the conservative energy (dH/dt = −γ p²/a). ``period`` is the small-angle quasi-period
    2π/√(ω0² − γ²/4) when underdamped (None otherwise); ``time_scale`` is the undamped small-angle period.
    """

    name = "damped_pendulum"
    dissipative = True

    def __init__(self, m: float = 1.0, l: float = 1.0, g: float = 9.81,  # noqa: E741
                 gamma: float = 0.1) -> None:
        super().__init__(m=m, l=l, g=g)
        self.gamma = check_nonnegative("gamma", gamma)
        self.params = {"m": self.m, "l": self.l, "g": self.g, "gamma": self.gamma}
        beta = 0.5 * self.gamma
        disc = (self.omega0 - beta) * (self.omega0 + beta)
        self.period = 2.0 * math.pi / math.sqrt(disc) if disc > 0.0 else None

    def vector_field(self, x: Tensor) -> Tensor:
        """[q̇, ṗ] = [p/a, −b sin q − γ p]."""
        q, p = self.split(x)
        return torch.cat([p / self.inertia, -self.torque * torch.sin(q) - self.gamma * p], dim=-1)
