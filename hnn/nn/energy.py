"""Scalar energy networks built from :class:`hnn.nn.MLP`.

- :class:`EnergyNet`: E_θ(x) = MLP(x) with a bias-free scalar head; ``x [..., d] -> [...]``.
- :class:`SeparableEnergyNet`: H_θ(q, p) = T_θ(p) + V_θ(q) with two bias-free heads, so ∂H/∂q = ∇V(q) depends
  on q only and ∂H/∂p = ∇T(p) on p only — the structure explicit symplectic (splitting) integrators need.
"""
from __future__ import annotations

from torch import Tensor, nn

from hnn.nn.mlp import MLP

__all__ = ["EnergyNet", "SeparableEnergyNet"]


class EnergyNet(nn.Module):
    """E_θ(x): an MLP with one bias-free output, squeezed to one scalar per batch element."""

    def __init__(self, dim: int, width: int = 200, depth: int = 2, activation: str = "tanh",
                 init: str = "orthogonal") -> None:
        super().__init__()
        self.dim = dim
        self.mlp = MLP(dim, 1, width=width, depth=depth, activation=activation, bias_out=False, init=init)

    def forward(self, x: Tensor) -> Tensor:
        """``x [..., dim] -> E [...]``."""
        return self.mlp(x).squeeze(-1)


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
