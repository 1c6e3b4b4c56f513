"""Planar double pendulum in canonical coordinates (``"double_pendulum"``).

State x = [θ1, θ2, p1, p2]: angles of the two rods from the downward vertical (both periodic) and their conjugate
momenta. Point masses m1, m2 on massless rods of lengths l1, l2, gravity g. With Δ = θ1 − θ2 and
D(Δ) = m1 + m2 sin²Δ:

    T = [m2 l2² p1² + (m1 + m2) l1² p2² − 2 m2 l1 l2 p1 p2 cos Δ] / (2 m2 l1² l2² D)
    V = (m1 + m2) g l1 (1 − cos θ1) + m2 g l2 (1 − cos θ2)          (zero when hanging at rest)
    H = T + V                                                          (non-separable: T depends on q)

Hamilton's equations (closed form, checked against autograd of H in the tests):

    θ̇1 = (l2 p1 − l1 p2 cos Δ) / (l1² l2 D)
    θ̇2 = ((m1 + m2) l1 p2 − m2 l2 p1 cos Δ) / (m2 l1 l2² D)
    ṗ1 = −(m1 + m2) g l1 sin θ1 − C1 + C2,   ṗ2 = −m2 g l2 sin θ2 + C1 − C2
    C1 = p1 p2 sin Δ / (l1 l2 D),            C2 = N sin(2Δ) / (2 l1² l2² D²)

with N the numerator of T. Trajectories are float64 reference integrations.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from hnn.systems.base import HamiltonianSystem, check_nonnegative, check_positive

__all__ = ["DoublePendulum"]


class DoublePendulum(HamiltonianSystem):
    """Double pendulum H(θ1, θ2, p1, p2) (see the module docstring for the equations).

    ``period`` is None (the motion is not periodic in general); ``time_scale`` is the slowest small-oscillation
    normal-mode period and ``normal_mode_periods`` holds both (slow, fast).
    """

    name = "double_pendulum"
    dim = 4
    separable = False
    periodic = (True, True)

    def __init__(self, m1: float = 1.0, m2: float = 1.0, l1: float = 1.0, l2: float = 1.0,
                 g: float = 9.81) -> None:
        super().__init__()
        self.m1, self.m2 = check_positive("m1", m1), check_positive("m2", m2)
        self.l1, self.l2 = check_positive("l1", l1), check_positive("l2", l2)
        self.g = check_positive("g", g)
        self.params = {"m1": self.m1, "m2": self.m2, "l1": self.l1, "l2": self.l2, "g": self.g}
        self.period = None
        # Small oscillations: M0 θ̈ = −K θ with M0 = [[(m1+m2) l1², m2 l1 l2], [m2 l1 l2, m2 l2²]],
        # K = diag((m1+m2) g l1, m2 g l2); ω² solves det(K − ω² M0) = 0.
        mt = self.m1 + self.m2
        m11, m12, m22 = mt * self.l1**2, self.m2 * self.l1 * self.l2, self.m2 * self.l2**2
        k11, k22 = mt * self.g * self.l1, self.m2 * self.g * self.l2
        qa, qb, qc = m11 * m22 - m12**2, k11 * m22 + k22 * m11, k11 * k22
        root = math.sqrt(qb * qb - 4.0 * qa * qc)
        w2_fast = (qb + root) / (2.0 * qa)
        w2_slow = qc / (qa * w2_fast)  # product of the roots = qc/qa (avoids cancellation)
        self.normal_mode_periods = (2.0 * math.pi / math.sqrt(w2_slow), 2.0 * math.pi / math.sqrt(w2_fast))
        self.time_scale = self.normal_mode_periods[0]

    def _kinetic_parts(self, q: Tensor, p: Tensor):
        theta1, theta2 = q[..., 0], q[..., 1]
        p1, p2 = p[..., 0], p[..., 1]
        delta = theta1 - theta2
        cos_d, sin_d = torch.cos(delta), torch.sin(delta)
        denom = self.m1 + self.m2 * sin_d.square()
        numer = (self.m2 * self.l2**2 * p1.square() + (self.m1 + self.m2) * self.l1**2 * p2.square()
                 - 2.0 * self.m2 * self.l1 * self.l2 * p1 * p2 * cos_d)
        return theta1, theta2, p1, p2, delta, cos_d, sin_d, denom, numer

    def hamiltonian(self, x: Tensor) -> Tensor:
        """H = T(θ1 − θ2, p) + (m1 + m2) g l1 (1 − cos θ1) + m2 g l2 (1 − cos θ2)."""
        q, p = self.split(x)
        theta1, theta2, _, _, _, _, _, denom, numer = self._kinetic_parts(q, p)
        kinetic = numer / (2.0 * self.m2 * self.l1**2 * self.l2**2 * denom)
        potential = (2.0 * (self.m1 + self.m2) * self.g * self.l1 * torch.sin(0.5 * theta1).square()
                     + 2.0 * self.m2 * self.g * self.l2 * torch.sin(0.5 * theta2).square())
        return kinetic + potential

    def vector_field(self, x: Tensor) -> Tensor:
        """Hamilton's equations [θ̇1, θ̇2, ṗ1, ṗ2] in closed form (module docstring)."""
        q, p = self.split(x)
        theta1, theta2, p1, p2, delta, cos_d, sin_d, denom, numer = self._kinetic_parts(q, p)
        m1, m2, l1, l2, g = self.m1, self.m2, self.l1, self.l2, self.g
        dtheta1 = (l2 * p1 - l1 * p2 * cos_d) / (l1**2 * l2 * denom)
        dtheta2 = ((m1 + m2) * l1 * p2 - m2 * l2 * p1 * cos_d) / (m2 * l1 * l2**2 * denom)
        c1 = p1 * p2 * sin_d / (l1 * l2 * denom)
        c2 = numer * torch.sin(2.0 * delta) / (2.0 * l1**2 * l2**2 * denom.square())
        dp1 = -(m1 + m2) * g * l1 * torch.sin(theta1) - c1 + c2
        dp2 = -m2 * g * l2 * torch.sin(theta2) + c1 - c2
        return torch.stack([dtheta1, dtheta2, dp1, dp2], dim=-1)

    def mass_matrix(self, q: Tensor) -> Tensor:
        """M(θ) ``[..., 2, 2]`` with p = M(θ) θ̇: [[(m1+m2) l1², m2 l1 l2 cos Δ], [m2 l1 l2 cos Δ, m2 l2²]]."""
        self._check_half(q, "q")
        cos_d = torch.cos(q[..., 0] - q[..., 1])
        m11 = torch.full_like(cos_d, (self.m1 + self.m2) * self.l1**2)
        m22 = torch.full_like(cos_d, self.m2 * self.l2**2)
        m12 = self.m2 * self.l1 * self.l2 * cos_d
        return torch.stack([torch.stack([m11, m12], -1), torch.stack([m12, m22], -1)], -2)

    def sample_initial(self, n: int, generator: torch.Generator | None = None, *,
                       dtype: torch.dtype | None = None, device: torch.device | str | None = None,
                       max_angle: float = 0.5 * math.pi, max_angular_velocity: float = 1.0) -> Tensor:
        """``[n, 4]`` states: θ_i ~ U[−max_angle, max_angle], θ̇_i ~ U[−max_angular_velocity, ...], p = M(θ) θ̇."""
        n = self._check_count(n)
        max_angle = check_nonnegative("max_angle", max_angle)
        max_angular_velocity = check_nonnegative("max_angular_velocity", max_angular_velocity)
        dtype, out_device, sample_device = self._float_options(dtype, device, generator)
        u = torch.rand(n, 4, generator=generator, device=sample_device, dtype=torch.float64) * 2.0 - 1.0
        theta = u[:, :2] * max_angle
        theta_dot = u[:, 2:] * max_angular_velocity
        p = (self.mass_matrix(theta) @ theta_dot.unsqueeze(-1)).squeeze(-1)
        return torch.cat([theta, p], dim=-1).to(device=out_device, dtype=dtype)
