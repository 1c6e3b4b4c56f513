"""Hamiltonian neural networks: H_θ(x) learned, dynamics dx/dt = J∇H_θ(x) (Greydanus et al. 2019), and the
dissipative variant dx/dt = J∇H_θ(x) − ∇D_θ(x) (Sosanya & Greydanus 2022)."""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from hnn.integrators.fields import hamiltonian_gradient, hamiltonian_vector_field
from hnn.models.base import DynamicsModel, TrainOn
from hnn.nn import EnergyNet, RayleighDissipation, SeparableEnergyNet

__all__ = ["HNN", "DissipativeHNN"]


class HNN(DynamicsModel):
    """Hamiltonian neural network: a scalar H_θ(x), field dx/dt = J∇H_θ(x) = [∂H/∂p, −∂H/∂q].

    With ``separable=True``, H_θ(q, p) = T_θ(p) + V_θ(q); then ``dH_dq(q) = ∇V(q)`` and ``dH_dp(p) = ∇T(p)``
    are exposed and the explicit symplectic integrators (leapfrog, forest_ruth, yoshida6) apply to the model.

    Network args: ``hidden_dim`` (width, paper: 200), ``depth`` (hidden layers, paper: 2), ``activation``
    (paper: tanh). The remaining args are documented on :class:`hnn.models.base.DynamicsModel`.
    """

    def __init__(
        self,
        dim: int,
        hidden_dim: int = 200,
        depth: int = 2,
        activation: str = "tanh",
        separable: bool = False,
        train_on: TrainOn = "derivatives",
        integrator: str = "rk4",
        integrator_dt: float | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        monitor_rollouts: int = 8,
        monitor_horizon: float | None = None,
        steps_per_batch: int = 1,
    ) -> None:
        super().__init__(dim, train_on, integrator, integrator_dt, lr, weight_decay, monitor_rollouts,
                         monitor_horizon, steps_per_batch)
        self.save_hyperparameters()
        if not isinstance(separable, bool):
            raise TypeError(f"separable must be a bool, got {type(separable).__name__}")
        if dim % 2 != 0:
            raise ValueError(f"a Hamiltonian state is [q, p] and needs an even dim, got dim={dim}")
        self.separable_net = separable
        # what hnn.integrate sees: a dissipative field is not a separable Hamiltonian flow
        self.separable = separable and not self.dissipative
        net_cls = SeparableEnergyNet if separable else EnergyNet
        self.net = net_cls(dim, width=hidden_dim, depth=depth, activation=activation)

    def hamiltonian(self, x: Tensor) -> Tensor:
        """H_θ(x): ``[..., dim] -> [...]``."""
        return self.net(self.check_state(x))

    def dH_dq(self, q: Tensor) -> Tensor:
        """∂H/∂q = ∇V_θ(q) (separable models only)."""
        self._require_separable("dH_dq")
        return hamiltonian_gradient(self.net.potential, q)

    def dH_dp(self, p: Tensor) -> Tensor:
        """∂H/∂p = ∇T_θ(p) (separable models only)."""
        self._require_separable("dH_dp")
        return hamiltonian_gradient(self.net.kinetic, p)

    def _require_separable(self, what: str) -> None:
        if not self.separable_net:
            raise ValueError(f"{what} needs a separable HNN (H = T(p) + V(q)); build it with separable=True")

    def conservative_field(self, x: Tensor) -> Tensor:
        """J∇H_θ(x) = [∂H/∂p, −∂H/∂q]."""
        self.check_state(x)
        if self.separable_net:
            n = self.dim // 2
            return torch.cat([self.dH_dp(x[..., n:]), -self.dH_dq(x[..., :n])], dim=-1)
        return hamiltonian_vector_field(self.net, x)

    def vector_field(self, x: Tensor) -> Tensor:
        """dx/dt = J∇H_θ(x)."""
        return self.conservative_field(x)


class DissipativeHNN(HNN):
    """Dissipative HNN: dx/dt = J∇H_θ(x) − ∇D_θ(x), a learned energy H_θ plus a learned dissipation D_θ.

    ``dissipation="rayleigh"`` (default): D = ½ pᵀ R p with a learned positive semi-definite R = L Lᵀ (a Rayleigh
    dissipation function), so −∇D = [0, −R p] is friction on the momenta: it only removes energy and has
    dim²/4 parameters. ``dissipation="mlp"``: D_θ(x) is a free scalar MLP as in Sosanya & Greydanus 2022; with
    a free D the field J∇H − ∇D can represent any 2-d vector field (Helmholtz decomposition), so it is as
    unconstrained as the baseline and can fit noise as "dissipation".

    ``hamiltonian(x)`` is the conservative energy H_θ only; ``dissipation(x)`` is D_θ. Integrate it with
    field-based methods (rk4, dopri5, ...): it is not a Hamiltonian flow, so symplectic integrators do not apply.
    """

    dissipative = True

    def __init__(
        self,
        dim: int,
        hidden_dim: int = 200,
        depth: int = 2,
        activation: str = "tanh",
        separable: bool = False,
        dissipation: Literal["rayleigh", "mlp"] = "rayleigh",
        train_on: TrainOn = "derivatives",
        integrator: str = "rk4",
        integrator_dt: float | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        monitor_rollouts: int = 8,
        monitor_horizon: float | None = None,
        steps_per_batch: int = 1,
    ) -> None:
        super().__init__(dim, hidden_dim, depth, activation, separable, train_on, integrator, integrator_dt, lr,
                         weight_decay, monitor_rollouts, monitor_horizon, steps_per_batch)
        self.save_hyperparameters()
        if dissipation == "rayleigh":
            self.dissipation_net: torch.nn.Module = RayleighDissipation(dim)
        elif dissipation == "mlp":
            self.dissipation_net = EnergyNet(dim, width=hidden_dim, depth=depth, activation=activation)
        else:
            raise ValueError(f"unknown dissipation {dissipation!r}; choose one of ['rayleigh', 'mlp']")

    def dissipation(self, x: Tensor) -> Tensor:
        """D_θ(x): ``[..., dim] -> [...]``."""
        return self.dissipation_net(self.check_state(x))

    def dissipation_gradient(self, x: Tensor) -> Tensor:
        """∇D_θ(x) (closed form for the Rayleigh form, autograd for the MLP)."""
        if isinstance(self.dissipation_net, RayleighDissipation):
            return self.dissipation_net.gradient(x)
        return hamiltonian_gradient(self.dissipation_net, x)

    def vector_field(self, x: Tensor) -> Tensor:
        """dx/dt = J∇H_θ(x) − ∇D_θ(x)."""
        return self.conservative_field(x) - self.dissipation_gradient(x)
