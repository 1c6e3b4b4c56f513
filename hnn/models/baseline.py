"""The baseline of Greydanus et al. 2019: an MLP that predicts dx/dt directly."""
from __future__ import annotations

from torch import Tensor

from hnn.models.base import DynamicsModel, TrainOn
from hnn.nn import MLP

__all__ = ["BaselineMLP"]


class BaselineMLP(DynamicsModel):
    """dx/dt = f_θ(x) with f_θ an MLP ``dim -> dim`` (no physics prior).

    Network args: ``hidden_dim`` (width, paper: 200), ``depth`` (hidden layers, paper: 2), ``activation``
    (paper: tanh). The remaining args are documented on :class:`hnn.models.base.DynamicsModel`.
    """

    def __init__(
        self,
        dim: int,
        hidden_dim: int = 200,
        depth: int = 2,
        activation: str = "tanh",
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
        self.net = MLP(dim, dim, width=hidden_dim, depth=depth, activation=activation)

    def vector_field(self, x: Tensor) -> Tensor:
        """dx/dt = MLP(x)."""
        return self.net(self.check_state(x))
