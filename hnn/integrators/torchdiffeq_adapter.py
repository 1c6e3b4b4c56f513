"""torchdiffeq's solvers through the same entry point, named ``torchdiffeq:<method>`` (and
``torchdiffeq_adjoint:<method>`` for the adjoint method, O(1) memory in the number of steps).

Options pass straight through: ``rtol``, ``atol`` (defaults 1e-7 / 1e-9 here, tighter than torchdiffeq's) and
``options`` (torchdiffeq's dict). With ``dt`` given, fixed-grid solvers get ``options={"step_size": dt}``.
None of these is symplectic.
"""
from __future__ import annotations

import importlib

import torch
from torch import Tensor

from hnn.integrators._method import MethodInfo
from hnn.integrators.fields import Dynamics

PREFIX = "torchdiffeq:"
ADJOINT_PREFIX = "torchdiffeq_adjoint:"

_ORDERS = {
    "dopri8": 8, "dopri5": 5, "bosh3": 3, "fehlberg2": 2, "adaptive_heun": 2, "euler": 1, "midpoint": 2,
    "heun2": 2, "heun3": 3, "rk4": 4, "explicit_adams": 4, "implicit_adams": 4, "fixed_adams": 4, "scipy_solver": 5,
}
_FIXED_GRID = {"euler", "midpoint", "heun2", "heun3", "rk4", "explicit_adams", "implicit_adams"}


def _solver_names() -> list[str]:
    try:
        return list(importlib.import_module("torchdiffeq._impl.odeint").SOLVERS)
    except (ImportError, AttributeError):
        return sorted(_ORDERS)


def _methods() -> dict[str, MethodInfo]:
    methods = {}
    for solver in _solver_names():
        for prefix, label in ((PREFIX, ""), (ADJOINT_PREFIX, ", adjoint gradients")):
            name = prefix + solver
            methods[name] = MethodInfo(
                name, "torchdiffeq", _ORDERS.get(solver, 0), False, implicit=solver == "implicit_adams",
                multistep="adams" in solver, description=f"torchdiffeq's {solver}{label}",
            )
    return methods


METHODS: dict[str, MethodInfo] = _methods()


class _ODEFunc(torch.nn.Module):
    """Wraps the dynamics as the nn.Module torchdiffeq (and its adjoint) expects: forward(t, x) = f(t, x)."""

    def __init__(self, dynamics: Dynamics):
        super().__init__()
        self.dynamics = dynamics
        # Registering a module's parameters lets the adjoint method find them.
        owner = dynamics.obj if isinstance(dynamics.obj, torch.nn.Module) else getattr(dynamics.obj, "__self__", None)
        self.owner = owner if isinstance(owner, torch.nn.Module) else None

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        return self.dynamics.field(t, x)


def solve(
    name: str,
    dynamics: Dynamics,
    x0: Tensor,
    t: Tensor,
    dt: float | None,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    options: dict | None = None,
) -> Tensor:
    """Integrate with torchdiffeq; returns [len(t), *x0.shape]."""
    import torchdiffeq

    adjoint = name.startswith(ADJOINT_PREFIX)
    solver = name.split(":", 1)[1]
    options = dict(options or {})
    if dt is not None:
        if solver not in _FIXED_GRID:
            raise ValueError(f"dt applies to torchdiffeq's fixed-grid solvers {sorted(_FIXED_GRID)}, not {solver!r}")
        options.setdefault("step_size", dt)
    func = _ODEFunc(dynamics)
    odeint = torchdiffeq.odeint_adjoint if adjoint else torchdiffeq.odeint
    return odeint(func, x0, t, rtol=rtol, atol=atol, method=solver, options=options or None)
