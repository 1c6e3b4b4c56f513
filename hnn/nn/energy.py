"""Scalar energy networks built from :class:`hnn.nn.MLP`.

- :class:`EnergyNet`: E_θ(x) = MLP(x) with a bias-free scalar head; ``x [..., d] -> [...]``.
- :class:`SeparableEnergyNet`: H_θ(q, p) = T_θ(p) + V_θ(q) with two bias-free heads, so ∂H/∂q = ∇V(q) depends
  on q only and ∂H/∂p = ∇T(p) on p only — the structure explicit symplectic (splitting) integrators need.
- :class:`RayleighDissipation`: D(q, p) = ½ pᵀ L Lᵀ p, a learned positive semi-definite friction.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from hnn.nn.config import Configurable
from hnn.nn.mlp import MLP

__all__ = ["EnergyNet", "SeparableEnergyNet", "RayleighDissipation"]


class EnergyNet(Configurable, nn.Module):
    """E_θ(x): an MLP with one bias-free output, squeezed to one scalar per batch element."""

    def __init__(self, dim: int, width: int = 200, depth: int = 2, activation: str = "tanh",
                 init: str = "orthogonal") -> None:
        super().__init__()
        self.dim, self.width, self.depth, self.activation, self.init = dim, width, depth, activation, init
        self.mlp = MLP(dim, 1, width=width, depth=depth, activation=activation, bias_out=False, init=init)

    def forward(self, x: Tensor) -> Tensor:
        """``x [..., dim] -> E [...]``."""
        return self.mlp(x).squeeze(-1)

    def input_gradient(self, x: Tensor) -> Tensor | None:
        """∇E(x) without autograd (see :meth:`hnn.nn.MLP.input_gradient`), or None if not available."""
        return self.mlp.input_gradient(x)


class SeparableEnergyNet(nn.Module):
    """H_θ(x) = T_θ(p) + V_θ(q) for x = [q, p] with q, p of size ``dim // 2``."""

    def __init__(self, dim: int, width: int = 200, depth: int = 2, activation: str = "tanh",
                 init: str = "orthogonal") -> None:
        super().__init__()
        if dim % 2 != 0:
            raise ValueError(f"a separable H(q, p) needs an even state dimension [q, p], got dim={dim}")
        self.dim = dim
        self.kinetic = EnergyNet(dim // 2, width, depth, activation, init)
        self.potential = EnergyNet(dim // 2, width, depth, activation, init)

    def forward(self, x: Tensor) -> Tensor:
        """``x [..., dim] -> T(p) + V(q) [...]``."""
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected states with last dimension {self.dim}, got shape {tuple(x.shape)}")
        n = self.dim // 2
        return self.kinetic(x[..., n:]) + self.potential(x[..., :n])


class RayleighDissipation(nn.Module):
    """Rayleigh dissipation D(q, p) = ½ pᵀ R p with R = L Lᵀ (positive semi-definite, learned, constant).

    Its gradient is closed-form: ∂D/∂q = 0 and ∂D/∂p = R p, so the damping force −∇D acts on the momenta only
    and, for H with ∂H/∂p = p/m, drains energy at the rate pᵀRp/m ≥ 0 — friction, never pumping.
    """

    def __init__(self, dim: int, init_scale: float = 0.1) -> None:
        super().__init__()
        if dim % 2 != 0:
            raise ValueError(f"a Rayleigh dissipation D(q, p) needs an even state dimension [q, p], got dim={dim}")
        self.dim = dim
        n = dim // 2
        # L starts at init_scale·I: L = 0 would be a dead start (∂D/∂L = p pᵀ L vanishes there)
        self.factor = nn.Parameter(init_scale * torch.eye(n))

    @property
    def matrix(self) -> Tensor:
        """R = L Lᵀ."""
        return self.factor @ self.factor.T

    def forward(self, x: Tensor) -> Tensor:
        """``x [..., dim] -> ½ pᵀ R p [...]``."""
        p = x[..., self.dim // 2:]
        return 0.5 * ((p @ self.factor) ** 2).sum(-1)

    def gradient(self, x: Tensor) -> Tensor:
        """∇D(x) = [0, R p], same shape as ``x``."""
        p = x[..., self.dim // 2:]
        return torch.cat([torch.zeros_like(p), p @ self.matrix], dim=-1)
