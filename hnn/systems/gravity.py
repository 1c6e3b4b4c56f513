"""Planar gravitational N-body systems: two-body (``"two_body"``, 8-d) and three-body (``"three_body"``, 12-d).

State x = [q, p] with q = (x1, y1, x2, y2, ...) the body positions and p = (px1, py1, px2, py2, ...) their momenta:

    H = Σ_i |p_i|² / (2 m_i) − Σ_{i<j} G m_i m_j / |q_i − q_j|          (separable)
    ∂H/∂p_i = p_i / m_i,     ∂H/∂q_i = Σ_{j≠i} G m_i m_j (q_i − q_j) / |q_i − q_j|³

Conserved: energy H, total momentum Σ p_i, angular momentum Σ (x_i p_yi − y_i p_xi). Trajectories are float64
reference integrations. ``sample_initial`` follows the HNN paper's ``random_config`` recipes (Greydanus et al.
2019, experiment-2body / experiment-3body), written for any masses and G (identical to the paper's for unit masses
and G = 1); see :meth:`TwoBody.sample_initial` and :meth:`ThreeBody.sample_initial`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from hnn.systems.base import HamiltonianSystem, check_nonnegative, check_positive

__all__ = ["NBody", "TwoBody", "ThreeBody"]


def _rot90(v: Tensor) -> Tensor:
    """Rotate planar vectors ``[..., 2]`` by +90°: (x, y) -> (−y, x)."""
    return torch.stack([-v[..., 1], v[..., 0]], dim=-1)


def _rotate(v: Tensor, angle: float) -> Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], dim=-1)


class NBody(HamiltonianSystem):
    """Planar N-body gravity with point masses ``masses`` and constant ``G`` (see module docstring)."""

    separable = True
    period = None

    def __init__(self, masses: Sequence[float], G: float = 1.0) -> None:  # noqa: N803 (physics name)
        super().__init__()
        if isinstance(masses, (str, bytes)) or not isinstance(masses, Sequence):
            raise TypeError(f"parameter 'masses' must be a sequence of numbers, got {masses!r}")
        self.masses = tuple(check_positive(f"masses[{i}]", m) for i, m in enumerate(masses))
        if len(self.masses) < 2:
            raise ValueError(f"parameter 'masses' needs at least 2 bodies, got {len(self.masses)}")
        self.G = check_positive("G", G)
        self.n_bodies = len(self.masses)
        self.total_mass = sum(self.masses)
        self.dim = 4 * self.n_bodies
        self.periodic = (False,) * (2 * self.n_bodies)
        self.params = {"masses": self.masses, "G": self.G}

    # ------------------------------------------------------------------ helpers
    def _mass_vector(self, like: Tensor) -> Tensor:
        """Masses repeated per coordinate, ``[2N]`` = (m1, m1, m2, m2, ...)."""
        return torch.tensor(self.masses, dtype=like.dtype, device=like.device).repeat_interleave(2)

    def _bodies(self, v: Tensor) -> Tensor:
        return v.reshape(v.shape[:-1] + (self.n_bodies, 2))

    # ------------------------------------------------------------------ Hamiltonian
    def hamiltonian(self, x: Tensor) -> Tensor:
        """H = Σ |p_i|²/(2 m_i) − Σ_{i<j} G m_i m_j / |q_i − q_j|."""
        q, p = self.split(x)
        kinetic = (p.square() / (2.0 * self._mass_vector(p))).sum(-1)
        pos = self._bodies(q)
        potential = torch.zeros_like(kinetic)
        for i in range(self.n_bodies):
            for j in range(i + 1, self.n_bodies):
                distance = (pos[..., i, :] - pos[..., j, :]).norm(dim=-1)
                potential = potential - self.G * self.masses[i] * self.masses[j] / distance
        return kinetic + potential

    def dH_dq(self, q: Tensor) -> Tensor:
        """∂H/∂q_i = Σ_{j≠i} G m_i m_j (q_i − q_j) / |q_i − q_j|³ (minus the gravitational force on body i)."""
        pos = self._bodies(self._check_half(q, "q"))
        grads = [torch.zeros_like(pos[..., 0, :]) for _ in range(self.n_bodies)]
        for i in range(self.n_bodies):
            for j in range(i + 1, self.n_bodies):
                diff = pos[..., i, :] - pos[..., j, :]
                inv_cube = diff.norm(dim=-1, keepdim=True).pow(-3)
                pair = self.G * self.masses[i] * self.masses[j] * diff * inv_cube
                grads[i] = grads[i] + pair
                grads[j] = grads[j] - pair
        return torch.cat(grads, dim=-1)

    def dH_dp(self, p: Tensor) -> Tensor:
        """∂H/∂p_i = p_i / m_i."""
        p = self._check_half(p, "p")
        return p / self._mass_vector(p)

    def vector_field(self, x: Tensor) -> Tensor:
        """[q̇, ṗ] = [p_i / m_i, −∂H/∂q_i]."""
        q, p = self.split(x)
        return torch.cat([self.dH_dp(p), -self.dH_dq(q)], dim=-1)

    # ------------------------------------------------------------------ conserved quantities
    def total_energy(self, x: Tensor) -> Tensor:
        """Total energy ``[...]`` (= :meth:`hamiltonian`)."""
        return self.hamiltonian(x)

    def total_momentum(self, x: Tensor) -> Tensor:
        """Σ_i p_i, ``[..., 2]``."""
        _, p = self.split(x)
        return self._bodies(p).sum(-2)

    def angular_momentum(self, x: Tensor) -> Tensor:
        """Σ_i (x_i p_yi − y_i p_xi) about the origin, ``[...]``."""
        q, p = self.split(x)
        pos, mom = self._bodies(q), self._bodies(p)
        return (pos[..., 0] * mom[..., 1] - pos[..., 1] * mom[..., 0]).sum(-1)

    def center_of_mass(self, x: Tensor) -> Tensor:
        """Σ m_i q_i / M, ``[..., 2]`` (moves uniformly: Σ p_i / M)."""
        q, _ = self.split(x)
        weights = torch.tensor(self.masses, dtype=x.dtype, device=x.device).unsqueeze(-1)
        return (self._bodies(q) * weights).sum(-2) / self.total_mass

    def _assemble(self, positions: Tensor, velocities: Tensor) -> Tensor:
        """Bodies ``[n, N, 2]`` positions and velocities -> states ``[n, 4N]`` with p_i = m_i v_i."""
        masses = torch.tensor(self.masses, dtype=velocities.dtype, device=velocities.device).unsqueeze(-1)
        n = positions.shape[0]
        width = 2 * self.n_bodies
        return torch.cat([positions.reshape(n, width), (velocities * masses).reshape(n, width)], dim=-1)


class TwoBody(NBody):
    """Two gravitating bodies in the plane (8-d state). Default: unit masses, G = 1 (the paper's setting).

    ``time_scale`` is the period of the circular orbit at separation 2 (the recipe's typical size);
    :meth:`orbital_period` gives the Kepler period of a given state.
    """

    name = "two_body"

    def __init__(self, masses: Sequence[float] = (1.0, 1.0), G: float = 1.0) -> None:  # noqa: N803
        super().__init__(masses, G)
        if self.n_bodies != 2:
            raise ValueError(f"parameter 'masses' must hold 2 masses for two_body, got {len(self.masses)}")
        self.time_scale = 2.0 * math.pi * math.sqrt(2.0**3 / (self.G * self.total_mass))

    def orbital_period(self, x: Tensor) -> Tensor:
        """Kepler period 2π √(a³ / (G M)) of the relative orbit, ``[...]``; inf for unbound states (E_rel ≥ 0).

        a = −G m1 m2 / (2 E_rel), with E_rel = μ |v1 − v2|²/2 − G m1 m2 / |q1 − q2| and μ = m1 m2 / M.
        """
        q, p = self.split(x)
        pos, mom = self._bodies(q), self._bodies(p)
        m1, m2 = self.masses
        separation = (pos[..., 0, :] - pos[..., 1, :]).norm(dim=-1)
        rel_velocity = mom[..., 0, :] / m1 - mom[..., 1, :] / m2
        reduced_mass = m1 * m2 / self.total_mass
        energy = 0.5 * reduced_mass * rel_velocity.square().sum(-1) - self.G * m1 * m2 / separation
        bound = energy < 0
        semi_major = -self.G * m1 * m2 / (2.0 * torch.where(bound, energy, -torch.ones_like(energy)))
        period = 2.0 * math.pi * torch.sqrt(semi_major.pow(3) / (self.G * self.total_mass))
        return torch.where(bound, period, torch.full_like(period, math.inf))

    def sample_initial(self, n: int, generator: torch.Generator | None = None, *,
                       dtype: torch.dtype | None = None, device: torch.device | str | None = None,
                       orbit_noise: float = 5e-2, min_radius: float = 0.5, max_radius: float = 1.5) -> Tensor:
        """``[n, 8]`` near-circular orbits, the paper's two-body ``random_config``:

        - ``pos`` has BOTH coordinates drawn from U[min_radius, max_radius] (as in the paper's code, so the distance
          r = |pos| of each body from the centre lies in [min_radius·√2 ... max_radius·√2] for unit masses);
          the separation vector is d = 2·pos, body 1 sits at (m2/M) d and body 2 at −(m1/M) d (centre of mass at 0;
          for equal masses ±pos, exactly the paper's layout);
        - velocities of the circular orbit, v_i = ω · rot90(q_i) with ω = √(G M / |d|³) (counter-clockwise; equal
          unit masses: |v| = 1 / (2√r), the paper's value), both scaled by one factor (1 + orbit_noise · N(0, 1))
          per system (the paper's 5 % perturbation that makes the orbits slightly elliptical);
        - p_i = m_i v_i (total momentum 0).
        """
        n = self._check_count(n)
        orbit_noise = check_nonnegative("orbit_noise", orbit_noise)
        min_radius, max_radius = check_positive("min_radius", min_radius), check_positive("max_radius", max_radius)
        if min_radius > max_radius:
            raise ValueError(f"min_radius must be <= max_radius, got {min_radius} > {max_radius}")
        dtype, out_device, dev = self._float_options(dtype, device, generator)
        f64 = torch.float64
        pos = torch.rand(n, 2, generator=generator, device=dev, dtype=f64) * (max_radius - min_radius) + min_radius
        noise = torch.randn(n, 1, generator=generator, device=dev, dtype=f64)
        m1, m2 = self.masses
        separation = 2.0 * pos
        positions = torch.stack([(m2 / self.total_mass) * separation, -(m1 / self.total_mass) * separation], dim=1)
        omega = torch.sqrt(self.G * self.total_mass / separation.norm(dim=-1, keepdim=True).pow(3))
        velocities = omega.unsqueeze(-1) * _rot90(positions) * (1.0 + orbit_noise * noise).unsqueeze(-1)
        return self._assemble(positions, velocities).to(device=out_device, dtype=dtype)


class ThreeBody(NBody):
    """Three gravitating bodies in the plane (12-d state). Default: unit masses, G = 1 (the paper's setting).

    ``time_scale`` is the period of the rotating equilateral (Lagrange) configuration at circumradius 1.
    """

    name = "three_body"

    def __init__(self, masses: Sequence[float] = (1.0, 1.0, 1.0), G: float = 1.0) -> None:  # noqa: N803
        super().__init__(masses, G)
        if self.n_bodies != 3:
            raise ValueError(f"parameter 'masses' must hold 3 masses for three_body, got {len(self.masses)}")
        side = math.sqrt(3.0)
        self.time_scale = 2.0 * math.pi * math.sqrt(side**3 / (self.G * self.total_mass))

    def sample_initial(self, n: int, generator: torch.Generator | None = None, *,
                       dtype: torch.dtype | None = None, device: torch.device | str | None = None,
                       orbit_noise: float = 2e-1, min_radius: float = 0.9, max_radius: float = 1.2) -> Tensor:
        """``[n, 12]`` perturbed circular orbits, the paper's three-body ``random_config``:

        - body 1 at a direction from a normalised uniform point of [−1, 1)² and radius r ~ U[min_radius, max_radius];
          bodies 2 and 3 at its rotations by 120° and 240° (equilateral triangle, side r√3), shifted so the centre
          of mass is at the origin (no shift for equal masses);
        - velocities of the rigidly rotating Lagrange solution, v_i = ω · rot90(q_i) with ω = √(G M / (r√3)³)
          (equal unit masses: |v| = r^{-1/2} · 3^{-1/4}, the paper's scale factor);
        - each velocity component multiplied by (1 + orbit_noise · U[−1, 1]) (the paper's ν = 0.2 "slightly chaotic"
          perturbation); p_i = m_i v_i.
        """
        n = self._check_count(n)
        orbit_noise = check_nonnegative("orbit_noise", orbit_noise)
        min_radius, max_radius = check_positive("min_radius", min_radius), check_positive("max_radius", max_radius)
        if min_radius > max_radius:
            raise ValueError(f"min_radius must be <= max_radius, got {min_radius} > {max_radius}")
        dtype, out_device, dev = self._float_options(dtype, device, generator)
        f64 = torch.float64
        direction = torch.rand(n, 2, generator=generator, device=dev, dtype=f64) * 2.0 - 1.0
        radius = torch.rand(n, 1, generator=generator, device=dev, dtype=f64) * (max_radius - min_radius) + min_radius
        noise = torch.rand(n, 3, 2, generator=generator, device=dev, dtype=f64) * 2.0 - 1.0
        first = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-300) * radius
        vertices = torch.stack([first, _rotate(first, 2.0 * math.pi / 3.0), _rotate(first, 4.0 * math.pi / 3.0)], 1)
        weights = torch.tensor(self.masses, dtype=f64, device=dev).reshape(1, 3, 1)
        positions = vertices - (vertices * weights).sum(1, keepdim=True) / self.total_mass
        side = math.sqrt(3.0) * radius
        omega = torch.sqrt(self.G * self.total_mass / side.pow(3)).unsqueeze(-1)
        velocities = omega * _rot90(positions) * (1.0 + orbit_noise * noise)
        return self._assemble(positions, velocities).to(device=out_device, dtype=dtype)
