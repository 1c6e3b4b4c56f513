"""Kinetic energies for HMC/NUTS on flattened states p of shape (chains, D).

- ``GaussianKinetic``: K(p) = ½ pᵀM⁻¹p, velocity ∇K = M⁻¹p, p ~ N(0, M).  M⁻¹ is the identity,
  a diagonal (D,) or a dense (D, D) matrix ("inverse mass" = the adapted posterior covariance).
- ``RelativisticKinetic``: K(p) = c·sqrt(pᵀM⁻¹p + c²), velocity ∇K = c·M⁻¹p / sqrt(pᵀM⁻¹p + c²)
  (its M^{1/2}-norm is bounded by c), p drawn exactly from exp(−K) by an exact rejection
  sampler for the radius r = sqrt(pᵀM⁻¹p), whose density ∝ r^{D−1} exp(−c·sqrt(r² + c²)) is
  log-concave.

Both expose ``energy(p)``, ``velocity(p)``, ``sample(chains, generator)`` and
``set_inverse_mass(inverse_mass)``; ``structure`` is "identity", "diag" or "dense".  The in-place
forms ``velocity_into(p, out)`` and ``hamiltonian_into(p, U, v_out, H_out)`` write into
preallocated views (NUTS keeps its leaf state packed in one tensor).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

MASS_STRUCTURES = ("identity", "diag", "dense")


def check_mass_matrix(mass: Tensor, dim: int) -> Tensor:
    """Validate a user-given mass matrix M ((D,) diagonal or (D, D) dense); return M⁻¹."""
    if not isinstance(mass, Tensor):
        raise TypeError(f"mass must be one of {list(MASS_STRUCTURES)} or a tensor, got {type(mass).__name__}")
    if mass.dim() == 1:
        if mass.shape[0] != dim:
            raise ValueError(f"diagonal mass has {mass.shape[0]} entries, the state has {dim}")
        if not bool(torch.isfinite(mass).all()) or not bool((mass > 0).all()):
            raise ValueError("mass matrix is not positive definite: diagonal entries must be finite and > 0")
        return 1.0 / mass
    if mass.dim() == 2:
        if tuple(mass.shape) != (dim, dim):
            raise ValueError(f"dense mass must have shape ({dim}, {dim}), got {tuple(mass.shape)}")
        if not torch.allclose(mass, mass.mT, rtol=1e-6, atol=1e-10 * float(mass.abs().max())):
            raise ValueError("mass matrix is not positive definite: it is not symmetric")
        _, info = torch.linalg.cholesky_ex(mass)
        if int(info) != 0 or not bool(torch.isfinite(mass).all()):
            raise ValueError("mass matrix is not positive definite (Cholesky factorisation failed)")
        return torch.linalg.inv(mass)
    raise ValueError(f"mass tensor must be 1-D (diagonal) or 2-D (dense), got {mass.dim()}-D")


class GaussianKinetic:
    """K(p) = ½ pᵀM⁻¹p with momenta p ~ N(0, M)."""

    def __init__(self, dim: int, structure: str, dtype: torch.dtype, device: torch.device) -> None:
        if structure not in MASS_STRUCTURES:
            raise ValueError(f"unknown mass structure {structure!r}; choose one of {list(MASS_STRUCTURES)}")
        self.dim = dim
        self.structure = structure
        self.dtype = dtype
        self.device = device
        self.inverse_mass: Tensor | None = None
        self._momentum_factor: Tensor | None = None  # A with A Aᵀ = M
        if structure != "identity":
            eye = torch.ones(dim, dtype=dtype, device=device)
            self.set_inverse_mass(eye if structure == "diag" else torch.diag(eye))

    def set_inverse_mass(self, inverse_mass: Tensor) -> None:
        """Set M⁻¹ ((D,) for "diag", (D, D) for "dense")."""
        inverse_mass = inverse_mass.to(self.dtype)
        if self.structure == "diag":
            self.inverse_mass = inverse_mass
            self._momentum_factor = inverse_mass.rsqrt()
        elif self.structure == "dense":
            self.inverse_mass = inverse_mass
            chol = torch.linalg.cholesky(inverse_mass)  # M⁻¹ = L Lᵀ  =>  M = L⁻ᵀ L⁻¹, A = L⁻ᵀ
            eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
            self._momentum_factor = torch.linalg.solve_triangular(chol.mT, eye, upper=True)

    def velocity(self, p: Tensor) -> Tensor:
        """∇K(p) = M⁻¹p."""
        if self.structure == "identity":
            return p
        if self.structure == "diag":
            return p * self.inverse_mass
        return p @ self.inverse_mass  # symmetric

    def energy(self, p: Tensor, velocity: Tensor | None = None) -> Tensor:
        """K(p) = ½ pᵀM⁻¹p (pass the velocity when already known to save work)."""
        if velocity is None:
            velocity = self.velocity(p)
        return 0.5 * (p * velocity).sum(-1)

    def velocity_into(self, p: Tensor, out: Tensor) -> Tensor:
        """Write ∇K(p) into ``out`` (same shape as p, not overlapping it) and return ``out``."""
        if self.structure == "identity":
            return out.copy_(p)
        if self.structure == "diag":
            return torch.mul(p, self.inverse_mass, out=out)
        return torch.matmul(p, self.inverse_mass, out=out)

    def hamiltonian_into(self, p: Tensor, potential: Tensor, velocity_out: Tensor, energy_out: Tensor) -> None:
        """Write v = ∇K(p) into ``velocity_out`` and H = U + K(p) into ``energy_out`` (U: ``potential``)."""
        self.velocity_into(p, velocity_out)
        torch.add(potential, torch.linalg.vecdot(p, velocity_out), alpha=0.5, out=energy_out)

    def whiten(self, z: Tensor) -> Tensor:
        """Map z ~ N(0, I) to p = A z ~ N(0, M)."""
        if self.structure == "identity":
            return z
        if self.structure == "diag":
            return z * self._momentum_factor
        return z @ self._momentum_factor.mT

    def sample(self, chains: int, generator: torch.Generator | None = None) -> Tensor:
        z = torch.randn(chains, self.dim, dtype=self.dtype, device=self.device, generator=generator)
        return self.whiten(z)


class RelativisticKinetic(GaussianKinetic):
    """K(p) = c·sqrt(pᵀM⁻¹p + c²): bounded speed |v|_M ≤ c, Gaussian in the limit c → ∞."""

    def __init__(
        self, dim: int, structure: str, dtype: torch.dtype, device: torch.device, speed_of_light: float = 1.0
    ) -> None:
        if not (isinstance(speed_of_light, (int, float)) and math.isfinite(speed_of_light) and speed_of_light > 0):
            raise ValueError(f"speed_of_light must be a finite number > 0, got {speed_of_light!r}")
        super().__init__(dim, structure, dtype, device)
        self.c = float(speed_of_light)
        self._envelope = _radial_envelope(dim, self.c)

    def _scaled(self, p: Tensor) -> tuple[Tensor, Tensor]:
        minv_p = super().velocity(p)
        root = ((p * minv_p).sum(-1, keepdim=True) + self.c**2).sqrt()
        return minv_p, root

    def velocity(self, p: Tensor) -> Tensor:
        """∇K(p) = c·M⁻¹p / sqrt(pᵀM⁻¹p + c²)."""
        minv_p, root = self._scaled(p)
        return (self.c * minv_p) / root

    def energy(self, p: Tensor, velocity: Tensor | None = None) -> Tensor:
        """K(p) = c·sqrt(pᵀM⁻¹p + c²)."""
        _, root = self._scaled(p)
        return self.c * root.squeeze(-1)

    def velocity_into(self, p: Tensor, out: Tensor) -> Tensor:
        return out.copy_(self.velocity(p))

    def hamiltonian_into(self, p: Tensor, potential: Tensor, velocity_out: Tensor, energy_out: Tensor) -> None:
        minv_p, root = self._scaled(p)
        torch.div(self.c * minv_p, root, out=velocity_out)
        torch.add(potential, root.squeeze(-1), alpha=self.c, out=energy_out)

    def sample(self, chains: int, generator: torch.Generator | None = None) -> Tensor:
        direction = torch.randn(chains, self.dim, dtype=self.dtype, device=self.device, generator=generator)
        direction = direction / direction.norm(dim=-1, keepdim=True)
        radius = sample_relativistic_radius(chains, self.dim, self.c, self.dtype, self.device, generator, self._envelope)
        return self.whiten(direction * radius.unsqueeze(-1))


def _log_radial_density(r: Tensor | float, dim: int, c: float):
    """h(r) = (D−1)·log r − c·sqrt(r² + c²), the log-density of r = |z| (up to a constant)."""
    if isinstance(r, Tensor):
        return (dim - 1) * torch.log(r) - c * torch.sqrt(r * r + c * c) if dim > 1 else -c * torch.sqrt(r * r + c * c)
    return ((dim - 1) * math.log(r) if dim > 1 else 0.0) - c * math.sqrt(r * r + c * c)


def _radial_envelope(dim: int, c: float) -> dict[str, float]:
    """Piecewise-exponential upper envelope of the log-concave h(r) from tangents at
    mode − σ, mode and mode + σ (σ from the curvature at the mode)."""
    k = dim - 1
    if k > 0:  # h'(r) = k/r − c r / sqrt(r² + c²) = 0  <=>  c² y² − k² y − k² c² = 0, y = r²
        y = (k * k + math.sqrt(k**4 + 4.0 * c**4 * k * k)) / (2.0 * c * c)
        mode = math.sqrt(y)
    else:
        mode = 0.0

    def slope(r: float) -> float:
        return (k / r if k > 0 else 0.0) - c * r / math.sqrt(r * r + c * c)

    curvature = (k / mode**2 if k > 0 else 0.0) + c**3 / (mode * mode + c * c) ** 1.5
    sigma = 1.0 / math.sqrt(curvature)
    h_mode = _log_radial_density(mode, dim, c) if mode > 0 else -c * c
    x3 = mode + sigma
    s3 = slope(x3)
    z2 = x3 + (h_mode - _log_radial_density(x3, dim, c)) / s3
    if k > 0:
        x1 = mode - sigma if mode - sigma > 0 else 0.5 * mode
        s1 = slope(x1)
        z1 = x1 + (h_mode - _log_radial_density(x1, dim, c)) / s1
        z1 = min(max(z1, 0.0), mode)
        mass_a = -math.expm1(-s1 * z1) / s1
    else:
        s1, z1, mass_a = 1.0, 0.0, 0.0
    mass_b = z2 - z1
    mass_c = 1.0 / (-s3)
    total = mass_a + mass_b + mass_c
    return dict(h_mode=h_mode, s1=s1, z1=z1, z2=z2, s3=s3, p_a=mass_a / total, p_b=mass_b / total)


def sample_relativistic_radius(
    n: int,
    dim: int,
    c: float,
    dtype: torch.dtype,
    device: torch.device,
    generator: torch.Generator | None = None,
    envelope: dict[str, float] | None = None,
) -> Tensor:
    """Exact draws of r with density ∝ r^{D−1} exp(−c·sqrt(r² + c²)) on r > 0 (rejection sampling)."""
    env = envelope or _radial_envelope(dim, c)
    out = torch.empty(n, dtype=torch.float64, device=device)
    todo = torch.arange(n, device=device)
    while todo.numel() > 0:
        m = todo.numel()
        u = torch.rand(3, m, dtype=torch.float64, device=device, generator=generator)
        seg = u[0]
        in_a = seg < env["p_a"]
        in_b = (~in_a) & (seg < env["p_a"] + env["p_b"])
        s1, z1, z2, s3 = env["s1"], env["z1"], env["z2"], env["s3"]
        # segment A: density ∝ exp(s1 (r − z1)) on [0, z1]; B: uniform on [z1, z2]; C: exp(s3 (r − z2)) on [z2, ∞)
        r_a = z1 + torch.log(math.exp(-s1 * z1) + u[1] * (-math.expm1(-s1 * z1))) / s1
        r_b = z1 + u[1] * (z2 - z1)
        r_c = z2 + torch.log1p(-u[1]) / s3
        r = torch.where(in_a, r_a, torch.where(in_b, r_b, r_c))
        log_env = torch.where(in_a, env["h_mode"] + s1 * (r - z1), torch.where(in_b, torch.full_like(r, env["h_mode"]), env["h_mode"] + s3 * (r - z2)))
        accept = (torch.log(u[2]) <= _log_radial_density(r, dim, c) - log_env) & (r > 0)
        out[todo[accept]] = r[accept]
        todo = todo[~accept]
    return out.to(dtype)
